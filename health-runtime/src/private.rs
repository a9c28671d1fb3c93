//! Not public API. Used by code that `#[health_check]` generates.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use inventory;

use crate::check::{CheckFuture, Location, Runner};
use crate::{Check, CheckError, CheckOutcome, Group, IntoCheckOutcome, Status};

/// The settings of one check, as `#[health_check]` and `#[derive(HealthAware)]` write them: one
/// constant expression from one expansion in both macros, with the defaults already applied.
/// `timeout` and `interval` are `None` for the runtime's defaults.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub name: &'static str,
    pub timeout: Option<Duration>,
    pub on_timeout: Status,
    pub on_error: Status,
    pub interval: Option<Duration>,
    pub groups: &'static [Group],
    pub service: Option<&'static str>,
    pub failure_threshold: u32,
}

/// Where a check was declared: the position of the function, field or method name.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    pub file: &'static str,
    pub line: u32,
    pub column: u32,
    pub item: &'static str,
}

/// A check registered at link time by `#[health_check]`; every field is a constant.
#[derive(Debug)]
pub struct StaticCheck {
    pub settings: Settings,
    pub site: Site,
    pub run: StaticRunner,
}

/// How a `#[health_check]` function runs.
#[derive(Debug, Clone, Copy)]
pub enum StaticRunner {
    /// An `async fn`, run on the async runtime.
    Async(fn() -> BoxedCheck),
    /// A plain `fn`, run on the blocking pool.
    Blocking(fn() -> Result<CheckOutcome, CheckError>),
}

/// The future of one run of an async check.
pub type BoxedCheck = CheckFuture;

inventory::collect!(StaticCheck);

impl Settings {
    /// The check these settings describe, run by `runner`.
    fn into_check(self, runner: Runner, site: Site) -> Check {
        let location = Location {
            file: site.file,
            line: site.line,
            column: site.column,
            item: Some(site.item),
        };
        let mut check = Check::with_runner(self.name.to_owned(), runner, location);
        let spec = &mut check.spec;
        spec.timeout = self.timeout;
        spec.on_timeout = self.on_timeout;
        spec.on_error = self.on_error;
        spec.interval = self.interval;
        spec.groups = self.groups.to_vec();
        spec.service = self.service.map(str::to_owned);
        spec.failure_threshold = self.failure_threshold;
        check
    }
}

impl StaticCheck {
    pub(crate) fn to_check(&self) -> Check {
        let runner = match self.run {
            StaticRunner::Async(run) => Runner::Async(Arc::new(run)),
            StaticRunner::Blocking(run) => Runner::Blocking(Arc::new(run)),
        };
        self.settings.into_check(runner, self.site)
    }
}

/// Every check registered at link time.
pub(crate) fn registered() -> impl Iterator<Item = &'static StaticCheck> {
    inventory::iter::<StaticCheck>.into_iter()
}

/// Boxes the future of an `async fn` check. The `Send` bound is where a non-`Send` check fails.
pub fn boxed_check<F>(future: F) -> BoxedCheck
where
    F: Future + Send + 'static,
    F::Output: IntoCheckOutcome,
{
    Box::pin(async move { future.await.into_check_outcome() })
}

/// One check of a `#[derive(HealthAware)]` handler: `run` gets the instance for as long as it is
/// alive.
pub fn aware_check<H, F, Fut>(handler: &Arc<H>, settings: Settings, site: Site, run: F) -> Check
where
    H: Send + Sync + 'static,
    F: Fn(Arc<H>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<CheckOutcome, CheckError>> + Send + 'static,
{
    settings.into_check(crate::runtime::aware::aware_runner(handler, run), site)
}

/// Runs an indicator field; the bound is where a field type that is not one is reported.
pub fn run_indicator<I: crate::HealthIndicator>(
    indicator: &I,
) -> impl Future<Output = Result<CheckOutcome, CheckError>> + Send + '_ {
    indicator.check()
}

/// The future of a method named by `#[health(method = "...")]`.
pub fn method_output<F>(future: F) -> F
where
    F: Future + Send,
    F::Output: IntoCheckOutcome,
{
    future
}
