//! Request statistics: a tower layer recording every request's latency and outcome into a
//! sliding window, and the `request_success_rate`, `avg_response_time` and `p99_response_time`
//! checks that read it.
//!
//! - `stats`: [`RequestStats`], what the layer records into and the checks read;
//! - `window` and `histogram`: the one-second buckets and their latency histogram, and
//!   [`RequestSummary`];
//! - `classify`: whose doing a request's end was ([`RequestOutcome`]);
//! - `layer`: [`RequestStatsLayer`] and [`RequestStatsService`];
//! - `recorder`: the record of one request, shared by its future and its bodies;
//! - `future`: [`ResponseFuture`];
//! - `body`: [`StatsRequestBody`] and [`StatsBody`];
//! - `metrics`: [`RequestIndicators`], the three checks and their grading.

mod body;
mod classify;
mod future;
mod histogram;
mod indicators;
mod layer;
mod recorder;
mod stats;
mod window;

pub use body::{StatsBody, StatsRequestBody};
pub use classify::RequestOutcome;
pub use future::ResponseFuture;
pub use indicators::{REQUEST_CHECK_NAMES, RequestIndicators};
pub use layer::{RequestStatsLayer, RequestStatsService};
pub use stats::RequestStats;
pub use window::RequestSummary;
