//! The check model: what a check is ([`Check`]), its settings once registered ([`CheckInfo`]),
//! where it was defined ([`Location`]), and what one run returns
//! ([`CheckOutcome`], [`CheckError`]).

mod indicator;
mod outcome;

pub use health_rules::{Group, ParseNameError, Status};
pub use indicator::HealthIndicator;
pub use outcome::{CheckError, CheckOutcome, CheckValue, IntoCheckOutcome, OkValue};

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use health_rules::CheckSettings;

/// Where a check was defined: the `#[health_check]` function, or the call that built a [`Check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Location {
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    pub(crate) column: u32,
    pub(crate) item: Option<&'static str>,
}

impl Location {
    /// The source file.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The line in the source file.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The column in the source file.
    pub fn column(&self) -> u32 {
        self.column
    }

    /// The path of the function, for checks declared with `#[health_check]`.
    pub fn item(&self) -> Option<&'static str> {
        self.item
    }

    #[track_caller]
    fn caller() -> Self {
        let caller = std::panic::Location::caller();
        Location {
            file: caller.file(),
            line: caller.line(),
            column: caller.column(),
            item: None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)?;
        if let Some(item) = self.item {
            write!(f, " (`{item}`)")?;
        }
        Ok(())
    }
}

/// The settings of a registered check, as the report and the probe surfaces see them.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckInfo {
    pub(crate) name: Arc<str>,
    pub(crate) timeout: Duration,
    pub(crate) on_timeout: Status,
    pub(crate) on_error: Status,
    pub(crate) interval: Duration,
    pub(crate) groups: Vec<Group>,
    pub(crate) service: Option<Arc<str>>,
    pub(crate) failure_threshold: u32,
    pub(crate) informational: bool,
    pub(crate) location: Location,
}

impl CheckInfo {
    /// The check's name, which is also a gRPC health service name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The deadline of one run.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The status reported when a run passes its deadline.
    pub fn on_timeout(&self) -> Status {
        self.on_timeout
    }

    /// The status reported when a run fails or panics.
    pub fn on_error(&self) -> Status {
        self.on_error
    }

    /// How often the background monitor re-runs the check.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The probe groups the check gates.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The gRPC service the check also counts toward, if any.
    pub fn service(&self) -> Option<&str> {
        self.service.as_deref()
    }

    /// How many consecutive failed runs it takes before the failure shows.
    pub fn failure_threshold(&self) -> u32 {
        self.failure_threshold
    }

    /// Whether the check only informs: it shows everywhere with its grade, but counts toward no
    /// serving status except its own name, its probe groups and its `service`, never toward
    /// `""`, `plugin`, `/health` or the health file's overall verdict. The built-in system and
    /// request indicators are; declared checks are not.
    pub fn is_informational(&self) -> bool {
        self.informational
    }

    /// Where the check was defined.
    pub fn location(&self) -> Location {
        self.location
    }

    /// Whether the check counts toward the gRPC health service `name` (its own name or its
    /// `service`).
    pub fn answers_to(&self, name: &str) -> bool {
        &*self.name == name || self.service.as_deref() == Some(name)
    }
}

pub(crate) type CheckFuture = BoxFuture<'static, Result<CheckOutcome, CheckError>>;

/// How to run a check: on the async runtime, or on the blocking pool.
#[derive(Clone)]
pub(crate) enum Runner {
    Async(Arc<dyn Fn() -> CheckFuture + Send + Sync>),
    Blocking(Arc<dyn Fn() -> Result<CheckOutcome, CheckError> + Send + Sync>),
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Runner::Async(_) => "Runner::Async",
            Runner::Blocking(_) => "Runner::Blocking",
        })
    }
}

/// The settings of a check before defaults from the configuration are filled in.
#[derive(Debug, Clone)]
pub(crate) struct CheckSpec {
    pub(crate) settings: CheckSettings<String, Vec<Group>>,
    pub(crate) informational: bool,
    pub(crate) location: Location,
}

/// A check defined at runtime from a closure, for checks that need state known only at runtime.
///
/// Checks that need no state are simpler to declare with `#[health_check]`. The settings and
/// defaults are those of the attribute; they are validated when the check is registered.
///
/// ```
/// use std::time::Duration;
/// use health_runtime::{Check, Group, HealthRuntime, Status};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let runtime = HealthRuntime::builder().build()?;
/// let addr = "127.0.0.1:1";
/// runtime.register(
///     Check::new("upstream", move || async move {
///         tokio::net::TcpStream::connect(addr).await.map(drop)
///     })
///     .timeout(Duration::from_millis(500))
///     .on_error(Status::Warning)
///     .groups([Group::Readiness]),
/// )?;
/// let upstream = runtime.check("upstream").await?;
/// assert_eq!(upstream.state().status(), Status::Warning);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a check does nothing until it is registered"]
pub struct Check {
    pub(crate) spec: CheckSpec,
    pub(crate) runner: Runner,
}

impl Check {
    /// A check that runs `check` on the async runtime.
    #[track_caller]
    pub fn new<F, Fut>(name: impl Into<String>, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoCheckOutcome,
    {
        let runner = Runner::Async(Arc::new(move || -> CheckFuture {
            let run = check();
            Box::pin(async move { run.await.into_check_outcome() })
        }));
        Self::with_runner(name.into(), runner, Location::caller())
    }

    /// A check that runs the synchronous `check` on the blocking thread pool, so that it cannot
    /// stall the other checks.
    #[track_caller]
    pub fn blocking<F, T>(name: impl Into<String>, check: F) -> Self
    where
        F: Fn() -> T + Send + Sync + 'static,
        T: IntoCheckOutcome,
    {
        let runner = Runner::Blocking(Arc::new(move || check().into_check_outcome()));
        Self::with_runner(name.into(), runner, Location::caller())
    }

    pub(crate) fn with_runner(name: String, runner: Runner, location: Location) -> Self {
        Check {
            spec: CheckSpec {
                settings: CheckSettings::new(name),
                informational: false,
                location,
            },
            runner,
        }
    }

    /// The deadline of one run (default: the configured default timeout, 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.spec.settings.timeout = Some(timeout);
        self
    }

    /// The status reported when a run passes its deadline (default: `Critical`).
    pub fn on_timeout(mut self, status: Status) -> Self {
        self.spec.settings.on_timeout = status;
        self
    }

    /// The status reported when a run fails or panics: `Warning` or `Critical` (the default).
    pub fn on_error(mut self, status: Status) -> Self {
        self.spec.settings.on_error = status;
        self
    }

    /// How often the background monitor re-runs the check (default: the configured interval).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.spec.settings.interval = Some(interval);
        self
    }

    /// The probe groups the check gates (default: readiness only).
    pub fn groups(mut self, groups: impl IntoIterator<Item = Group>) -> Self {
        self.spec.settings.groups = groups.into_iter().collect();
        self
    }

    /// A gRPC service name the check also counts toward.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.spec.settings.service = Some(service.into());
        self
    }

    /// How many consecutive failed runs it takes before the failure shows (default: 1).
    pub fn failure_threshold(mut self, threshold: u32) -> Self {
        self.spec.settings.failure_threshold = threshold;
        self
    }

    /// Whether the check only informs (default: `false`): it still shows everywhere with its
    /// grade and still gates its own name, its [`groups`](Self::groups) and its
    /// [`service`](Self::service), but never turns `""`, `plugin`, `/health` or the health
    /// file's overall verdict to not serving. For signals a restart or a removal from rotation
    /// cannot fix; see [`CheckInfo::is_informational`].
    pub fn informational(mut self, informational: bool) -> Self {
        self.spec.informational = informational;
        self
    }

    /// The check's name.
    pub fn name(&self) -> &str {
        &self.spec.settings.name
    }
}
