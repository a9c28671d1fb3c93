//! The published state: every check's latest result in one [`HealthSnapshot`], what each health
//! service name resolves to, and the detailed [`HealthReport`] built from it; both also in
//! `application/health+json`.

#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) mod health_json;
pub(crate) mod report;
pub(crate) mod resolve;
pub(crate) mod snapshot;

pub use report::{HealthMetric, HealthReport};
pub use snapshot::{CheckSnapshot, CheckState, HealthSnapshot};
pub(crate) mod timefmt;
