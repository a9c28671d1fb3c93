//! Handlers whose checks need their own state: [`HealthAware`], usually derived, registered with
//! [`HealthRuntime::register_aware`] and removed with [`AwareHandle::deregister`].

use std::future::Future;
use std::sync::{Arc, Weak};

use crate::check::{CheckFuture, Runner};
use crate::{Check, CheckError, CheckOutcome, HealthReport, HealthRuntime, RegistryError, Status};

/// A handler that carries its own health checks, built against one shared instance.
///
/// Derive it with `#[derive(HealthAware)]`: `#[health(...)]` on a field whose type implements
/// [`HealthIndicator`](crate::HealthIndicator), or on the struct naming an `async fn(&self)`
/// method. The arguments are those of `#[health_check]`, validated at compile time.
///
/// ```
/// use std::sync::Arc;
/// use health_runtime::{CheckError, CheckOutcome, HealthAware, HealthIndicator, HealthRuntime, Status};
///
/// struct Pool;
/// impl HealthIndicator for Pool {
///     async fn check(&self) -> Result<CheckOutcome, CheckError> {
///         Ok(CheckOutcome::healthy())
///     }
/// }
///
/// #[derive(HealthAware)]
/// #[health(check = "cache", method = "check_cache", timeout = "1s", on_error = "warning")]
/// struct Handler {
///     #[health(check = "database", timeout = "2s", on_timeout = "warning", groups = ["readiness", "startup"])]
///     pool: Pool,
///     #[health(skip)]
///     hits: std::sync::atomic::AtomicU64,
/// }
///
/// impl Handler {
///     async fn check_cache(&self) -> Result<u64, std::io::Error> {
///         Ok(self.hits.load(std::sync::atomic::Ordering::Relaxed))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let runtime = HealthRuntime::builder().build()?;
/// let handler = Arc::new(Handler { pool: Pool, hits: 7.into() });
/// let checks = runtime.register_aware(&handler)?; // one call registers both checks
/// assert_eq!(checks.names(), ["cache", "database"]);
/// assert_eq!(runtime.check("database").await?.state().status(), Status::Healthy);
/// assert_eq!(runtime.check("cache").await?.state().value(), Some(7.0));
///
/// let report = checks.report().await; // only this handler's checks
/// assert_eq!(report.metrics.len(), 2);
///
/// checks.deregister(); // one call removes them: Watch streams on them get SERVICE_UNKNOWN
/// assert!(runtime.cached("database").is_none());
/// # Ok(())
/// # }
/// ```
///
/// The checks hold a [`Weak`] reference to the instance: registering a handler does not keep it
/// alive. Once the last `Arc` is dropped its checks fail with "the handler was dropped" (reported
/// with their `on_error` status) until they are deregistered; deregister before dropping.
pub trait HealthAware: Send + Sync + 'static {
    /// The handler's checks, each running against this instance.
    fn health_checks(self: &Arc<Self>) -> Vec<Check>;

    /// Registers the handler's checks with `runtime`; the same as
    /// [`HealthRuntime::register_aware`].
    fn register_health(
        self: &Arc<Self>,
        runtime: &HealthRuntime,
    ) -> Result<AwareHandle, RegistryError>
    where
        Self: Sized,
    {
        runtime.register_aware(self)
    }
}

/// The checks of one registered [`HealthAware`] handler.
///
/// Dropping the handle leaves the checks registered; [`deregister`](Self::deregister) removes
/// them.
#[derive(Debug, Clone)]
#[must_use = "the handle is how the handler's checks are removed again"]
pub struct AwareHandle {
    runtime: HealthRuntime,
    names: Arc<[String]>,
}

impl HealthRuntime {
    /// Registers every check of `handler`, all or none: if one cannot be registered (its name
    /// is already taken, say), those registered before it are removed again and the error is
    /// returned.
    pub fn register_aware<H: HealthAware>(
        &self,
        handler: &Arc<H>,
    ) -> Result<AwareHandle, RegistryError> {
        let checks = handler.health_checks();
        let mut names: Vec<String> = Vec::with_capacity(checks.len());
        for check in checks {
            let name = check.name().to_string();
            if let Err(error) = self.register(check) {
                for registered in &names {
                    self.deregister(registered);
                }
                return Err(error);
            }
            names.push(name);
        }
        Ok(AwareHandle {
            runtime: self.clone(),
            names: names.into(),
        })
    }
}

impl AwareHandle {
    /// The names of the handler's checks, in declaration order (struct-level methods first).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Removes every check of the handler; returns how many were still registered. Their names
    /// disappear from every surface, and gRPC `Watch` streams on them receive `SERVICE_UNKNOWN`.
    pub fn deregister(&self) -> usize {
        self.names
            .iter()
            .filter(|name| self.runtime.deregister(name))
            .count()
    }

    /// The detailed report of the handler's own checks, after running those older than the cache
    /// TTL; its overall status is the worst of them.
    pub async fn report(&self) -> HealthReport {
        report_of(&self.runtime, &self.names).await
    }

    /// The runtime the checks are registered with.
    pub fn runtime(&self) -> &HealthRuntime {
        &self.runtime
    }

    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub(crate) fn names_shared(&self) -> Arc<[String]> {
        self.names.clone()
    }
}

/// The report restricted to `names`.
pub(crate) async fn report_of(runtime: &HealthRuntime, names: &[String]) -> HealthReport {
    let wanted = |name: &str| names.iter().any(|wanted| wanted == name);
    runtime.refresh(|info| wanted(info.name())).await;
    let mut report = runtime.cached_report();
    report.metrics.retain(|name, _| wanted(name));
    report.overall_status = report
        .metrics
        .values()
        .filter(|metric| !metric.informational)
        .fold(Status::Healthy, |worst, metric| worst.worst(metric.status));
    report
}

/// Runs `run` against the handler for as long as it is alive.
pub(crate) fn aware_runner<H, F, Fut>(handler: &Arc<H>, run: F) -> Runner
where
    H: Send + Sync + 'static,
    F: Fn(Arc<H>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<CheckOutcome, CheckError>> + Send + 'static,
{
    let handler: Weak<H> = Arc::downgrade(handler);
    let run = Arc::new(run);
    Runner::Async(Arc::new(move || -> CheckFuture {
        let handler = handler.upgrade();
        let run = run.clone();
        Box::pin(async move {
            match handler {
                Some(handler) => run(handler).await,
                None => Err(CheckError::new("the handler was dropped")),
            }
        })
    }))
}
