//! Health checks for tonic plugin servers.

mod check;
mod name;
mod outcome;
#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
mod status;

pub use check::{Check, CheckInfo, Location};
pub use health_macros::health_check;
pub use outcome::{CheckError, CheckOutcome, IntoCheckOutcome, MetricValue, OkValue};
pub use status::{Group, ParseNameError, Status};
