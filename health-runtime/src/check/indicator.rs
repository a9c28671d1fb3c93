//! [`HealthIndicator`]: a dependency that can check itself, the type of a
//! `#[derive(HealthAware)]` handler's check fields.

use std::future::Future;
use std::sync::Arc;

use super::{CheckError, CheckOutcome};

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
/// Ready-made in [`indicator`](crate::indicator): `TcpEndpoint`, `DiskSpace`, and behind Cargo
/// features `HttpEndpoint` (`http-check`), `GrpcEndpoint` (`grpc`) and `SqliteDatabase`
/// (`sqlite`).
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
