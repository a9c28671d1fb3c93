//! [`HealthIndicator`]: a dependency that can tell whether it is healthy, for the fields of a
//! `#[derive(HealthAware)]` handler; and ready-made indicators for common dependencies.

use std::future::Future;
use std::sync::Arc;

use crate::{CheckError, CheckOutcome};

pub mod deps;
#[cfg(feature = "grpc")]
mod grpc;
#[cfg(feature = "http-check")]
mod http;
mod requests;
#[cfg(feature = "sqlite")]
mod sqlite;
mod system;

#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub use grpc::GrpcHealthIndicator;
#[cfg(feature = "http-check")]
#[cfg_attr(docsrs, doc(cfg(feature = "http-check")))]
pub use http::HttpEndpoint;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{SqliteDatabase, SqliteError};

/// A dependency that can check itself: a database, an HTTP endpoint, an upstream service.
///
/// A field of a `#[derive(HealthAware)]` handler marked `#[health(check = "...")]` must have a
/// type that implements it; each run of the check awaits [`check`](Self::check) under the check's
/// timeout. Return `Ok(CheckOutcome::healthy())` (optionally with a value such as a latency), or an
/// error, which is reported with the check's `on_error` status.
///
/// ```
/// use health_runtime::{CheckError, CheckOutcome, HealthIndicator};
///
/// struct Queue { depth: std::sync::atomic::AtomicU64 }
///
/// impl HealthIndicator for Queue {
///     async fn check(&self) -> Result<CheckOutcome, CheckError> {
///         let depth = self.depth.load(std::sync::atomic::Ordering::Relaxed);
///         Ok(CheckOutcome::by_threshold(depth as f64, 1000.0))
///     }
/// }
/// ```
///
/// Ready-made, behind Cargo features: `SqliteDatabase` (`sqlite`), `HttpEndpoint`
/// (`http-client`), `GrpcHealthIndicator` (`grpc`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a health indicator",
    label = "`{Self}` does not implement `HealthIndicator`",
    note = "a field marked `#[health(...)]` is checked through its type's `HealthIndicator` impl: \
            implement `health_runtime::HealthIndicator` for it, name a method instead with \
            `#[health(check = \"...\", method = \"...\")]` on the struct, or mark the field \
            `#[health(skip)]`"
)]
pub trait HealthIndicator: Send + Sync + 'static {
    /// Checks the dependency once.
    fn check(&self) -> impl Future<Output = Result<CheckOutcome, CheckError>> + Send;
}

impl<T: HealthIndicator + ?Sized> HealthIndicator for Arc<T> {
    fn check(&self) -> impl Future<Output = Result<CheckOutcome, CheckError>> + Send {
        (**self).check()
    }
}

impl<T: HealthIndicator + ?Sized> HealthIndicator for Box<T> {
    fn check(&self) -> impl Future<Output = Result<CheckOutcome, CheckError>> + Send {
        (**self).check()
    }
}

pub use requests::{
    REQUEST_METRIC_NAMES, RequestMetrics, RequestOutcome, RequestStats, RequestStatsLayer,
    RequestStatsService, RequestSummary, ResponseFuture, StatsBody, StatsRequestBody,
};
pub use system::{
    DiskSpace, ReadingError, ResourceMonitor, ResourceReading, ResourceSample, ResourceSource,
    SYSTEM_METRIC_NAMES, SysinfoSource, SystemMetrics,
};

use crate::{Check, HealthConfig};

/// What an indicator's checks gate: by default nothing but their own names (informational).
#[derive(Debug, Clone)]
pub(crate) struct Gating {
    pub(crate) groups: Vec<crate::Group>,
    pub(crate) service: Option<String>,
    pub(crate) informational: bool,
}

impl Default for Gating {
    fn default() -> Self {
        Gating {
            groups: Vec::new(),
            service: None,
            informational: true,
        }
    }
}

impl Gating {
    /// `check` with these settings.
    pub(crate) fn apply(&self, check: Check) -> Check {
        let check = check
            .groups(self.groups.clone())
            .informational(self.informational);
        match &self.service {
            Some(service) => check.service(service.clone()),
            None => check,
        }
    }
}

impl crate::CheckSource for SystemMetrics {
    fn checks(self, config: &HealthConfig) -> Vec<Check> {
        SystemMetrics::checks(self, config)
    }
}

impl crate::CheckSource for RequestMetrics {
    fn checks(self, config: &HealthConfig) -> Vec<Check> {
        RequestMetrics::checks(self, config)
    }
}

impl crate::CheckSource for RequestStats {
    fn checks(self, config: &HealthConfig) -> Vec<Check> {
        RequestMetrics::from(&self).checks(config)
    }
}
