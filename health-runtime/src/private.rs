//! Not public API. Used by code that `#[health_check]` generates.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use inventory;

use crate::check::{CheckFuture, Location, Runner};
use crate::{Check, CheckError, CheckOutcome, Group, IntoCheckOutcome, Status};

/// A check registered at link time by `#[health_check]`; every field is a constant.
#[derive(Debug)]
pub struct StaticCheck {
    pub name: &'static str,
    pub timeout: Option<Duration>,
    pub on_timeout: Status,
    pub on_error: Status,
    pub interval: Option<Duration>,
    pub groups: &'static [Group],
    pub service: Option<&'static str>,
    pub failure_threshold: u32,
    pub run: StaticRunner,
    pub file: &'static str,
    pub line: u32,
    pub column: u32,
    pub item: &'static str,
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

impl StaticCheck {
    pub(crate) fn to_check(&self) -> Check {
        let runner = match self.run {
            StaticRunner::Async(run) => Runner::Async(Arc::new(run)),
            StaticRunner::Blocking(run) => Runner::Blocking(Arc::new(run)),
        };
        let location = Location {
            file: self.file,
            line: self.line,
            column: self.column,
            item: Some(self.item),
        };
        let mut check = Check::with_runner(self.name.to_owned(), runner, location)
            .on_timeout(self.on_timeout)
            .on_error(self.on_error)
            .groups(self.groups.iter().copied())
            .failure_threshold(self.failure_threshold);
        check.spec.timeout = self.timeout;
        check.spec.interval = self.interval;
        check.spec.service = self.service.map(str::to_owned);
        check
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

/// Converts the return value of a plain `fn` check.
pub fn check_outcome<T: IntoCheckOutcome>(value: T) -> Result<CheckOutcome, CheckError> {
    value.into_check_outcome()
}

/// One check of a `#[derive(HealthAware)]` handler.
pub fn aware_check<H, F, Fut>(
    handler: &Arc<H>,
    name: &'static str,
    file: &'static str,
    line: u32,
    column: u32,
    item: &'static str,
    run: F,
) -> Check
where
    H: Send + Sync + 'static,
    F: Fn(Arc<H>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<CheckOutcome, CheckError>> + Send + 'static,
{
    let location = Location {
        file,
        line,
        column,
        item: Some(item),
    };
    crate::aware::aware_check(handler, name, location, run)
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
