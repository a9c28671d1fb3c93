//! Not public API. Used by code that `#[health_check]` generates.

use std::future::Future;
use std::sync::Arc;

pub use inventory;

use crate::check::{CheckFuture, Location, Runner};
use crate::{Check, CheckError, CheckOutcome, Group, IntoCheckOutcome};

/// The settings of one check, as `#[health_check]` and `#[derive(HealthAware)]` write them: one
/// constant expression from one expansion in both macros, with the defaults already applied.
/// `timeout` and `interval` are `None` for the runtime's defaults.
pub type Settings = health_rules::CheckSettings<&'static str, &'static [Group]>;

/// Where a check was declared: the position of the function, field or method name.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    /// `file!()` at the name.
    pub file: &'static str,
    /// `line!()` at the name.
    pub line: u32,
    /// `column!()` at the name.
    pub column: u32,
    /// The module path and the item: `crate::checks::database`, `crate::Handler.pool`.
    pub item: &'static str,
}

/// A check registered at link time by `#[health_check]`; every field is a constant.
#[derive(Debug)]
pub struct StaticCheck {
    /// Its settings.
    pub settings: Settings,
    /// Where it was declared.
    pub site: Site,
    /// How it runs.
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

/// The check `settings` describe, run by `runner`.
fn into_check(settings: &Settings, runner: Runner, site: Site) -> Check {
    let location = Location {
        file: site.file,
        line: site.line,
        column: site.column,
        item: Some(site.item),
    };
    let mut check = Check::with_runner(settings.name.to_owned(), runner, location);
    check.spec.settings = settings.to_owned();
    check
}

impl StaticCheck {
    pub(crate) fn to_check(&self) -> Check {
        let runner = match self.run {
            StaticRunner::Async(run) => Runner::Async(Arc::new(run)),
            StaticRunner::Blocking(run) => Runner::Blocking(Arc::new(run)),
        };
        into_check(&self.settings, runner, self.site)
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
    into_check(
        &settings,
        crate::runtime::aware::aware_runner(handler, run),
        site,
    )
}

/// Runs an indicator field. The derive names the field's type, `run_indicator::<Type>`, spanned
/// at that type: the bound is then the one place a type that is not an indicator is reported.
pub fn run_indicator<I: crate::HealthIndicator>(
    indicator: &I,
) -> impl Future<Output = Result<CheckOutcome, CheckError>> + Send + '_ {
    indicator.check()
}

/// A method named by `#[health(method = "...")]`, called: it must be an `async fn(&self)`, so
/// that the call is a future. `Method` is a unit struct the derive names after the method, so
/// that the message can name it.
///
/// The derive awaits [`CheckMethod::Future`] rather than the call itself: when the call is not a
/// future, that type does not exist and rustc reports this trait's message alone, not also
/// "is not a future" for the `.await`.
#[diagnostic::on_unimplemented(
    message = "check method `{Method}` is not an `async fn`: it returns `{Self}`, which is not a future",
    label = "this method returns `{Self}`, not a future",
    note = "a method named by `#[health(method = \"...\")]` is awaited: declare it `async fn {Method}(&self) -> T`, with `T` a type a `#[health_check]` function may return"
)]
pub trait CheckMethod<Method> {
    /// The method's future.
    type Future: Future;

    /// The call as a future.
    fn into_check_future(self) -> Self::Future;
}

impl<F: Future, Method> CheckMethod<Method> for F {
    type Future = F;

    fn into_check_future(self) -> F {
        self
    }
}

/// The future of a method named by `#[health(method = "...")]`, once it is known to be one: the
/// bound is where a future that is not `Send` is reported. Its output is checked by
/// `IntoCheckOutcome::into_check_outcome` alone, so that an unsupported one is reported once.
pub fn method_output<F>(future: F) -> F
where
    F: Future + Send,
{
    future
}
