//! The status and group words come from `health-rules`, the one source both crates share.

pub use health_rules::{Group, ParseNameError, Status};
