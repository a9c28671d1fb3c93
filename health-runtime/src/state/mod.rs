//! The published state: every check's latest result in one [`HealthSnapshot`], what each health
//! service name resolves to, and the detailed [`HealthReport`](report::HealthReport) built from it.

pub mod report;
pub(crate) mod resolve;
pub mod snapshot;
pub(crate) mod timefmt;
