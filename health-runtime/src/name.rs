//! The rules for check and service names come from `health-rules`, the one source both crates
//! share.

pub(crate) use health_rules::name::{PLUGIN, check as check_name};
