use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::engine::{Engine, Settings};
use crate::snapshot::{CheckSnapshot, HealthSnapshot};
use crate::{Check, CheckInfo, HealthReport, RegistryError, UnknownCheck};
use crate::{ConfigError, HealthConfig};

/// The health runtime: every registered check, the engine that runs them, and their published
/// state. Cloning it is cheap; every clone is the same runtime.
///
/// ```
/// use health_runtime::{HealthRuntime, Status, health_check};
///
/// #[health_check(name = "scratch_dir", timeout = "1s")]
/// fn scratch_dir() -> std::io::Result<()> {
///     std::fs::metadata(std::env::temp_dir()).map(drop)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let runtime = HealthRuntime::builder().version(env!("CARGO_PKG_VERSION")).build()?;
/// runtime.start();
/// let report = runtime.report().await;
/// assert_eq!(report.metrics["scratch_dir"].status, Status::Healthy);
/// println!("{}", serde_json::to_string_pretty(&report)?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HealthRuntime {
    engine: Arc<Engine>,
    pub(crate) meta: Arc<Meta>,
}

pub(crate) struct Meta {
    version: String,
    pub(crate) config: HealthConfig,
    started: Instant,
    /// Run durations for Prometheus, shared with the engine.
    #[cfg(feature = "prometheus")]
    pub(crate) run_metrics: Arc<crate::metrics::RunMetrics>,
    /// Open gRPC `Watch` streams.
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub(crate) watch_streams: Arc<std::sync::atomic::AtomicUsize>,
}

impl fmt::Debug for HealthRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthRuntime")
            .field("version", &self.meta.version)
            .field("engine", &self.engine)
            .finish()
    }
}

impl HealthRuntime {
    /// A builder with the default settings: 1 s cache, 30 s interval, 5 s timeout.
    pub fn builder() -> HealthRuntimeBuilder {
        HealthRuntimeBuilder::default()
    }

    /// Adds a check at runtime. Its name must be new.
    pub fn register(&self, check: Check) -> Result<(), RegistryError> {
        self.engine.register(check)
    }

    /// Removes a check; returns whether there was one of that name.
    pub fn deregister(&self, name: &str) -> bool {
        self.engine.deregister(name)
    }

    /// Starts the background monitor on the current Tokio runtime: every check runs now, and
    /// again `interval` after its previous run finished (a run caused by a caller counts), so
    /// runs of one check never overlap. Checks registered later join it. Calling it again does
    /// nothing.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn start(&self) {
        self.engine.start_monitor();
    }

    /// The state of one check, running it first unless its result is younger than the cache
    /// TTL. Concurrent callers share one run. `name` is a check's name, not a group or a
    /// `service` value.
    pub async fn check(&self, name: &str) -> Result<Arc<CheckSnapshot>, UnknownCheck> {
        self.engine
            .check(name)
            .await
            .ok_or_else(|| UnknownCheck::new(name))
    }

    /// Runs one check now, however fresh its last result, and returns its state; a run already
    /// in flight is joined rather than doubled. For when something is known to have changed,
    /// such as a dependency that was just repaired.
    pub async fn recheck(&self, name: &str) -> Result<Arc<CheckSnapshot>, UnknownCheck> {
        self.engine
            .recheck(name)
            .await
            .ok_or_else(|| UnknownCheck::new(name))
    }

    /// The state of one check as last published, without running it.
    pub fn cached(&self, name: &str) -> Option<Arc<CheckSnapshot>> {
        self.engine.cached(name)
    }

    /// Runs, concurrently, every check that `select` picks and whose result is older than the
    /// cache TTL; each run is bounded by its own timeout.
    pub async fn refresh(&self, select: impl Fn(&CheckInfo) -> bool) {
        self.engine.refresh(select).await;
    }

    /// The published state after running, if needed, the checks behind a health service name:
    /// nothing runs while draining or when every one of them is younger than the cache TTL (the
    /// path of every probe while results are fresh).
    #[cfg_attr(not(any(feature = "grpc", feature = "http")), allow(dead_code))]
    pub(crate) async fn probed(&self, name: &str) -> Arc<HealthSnapshot> {
        let snapshot = self.snapshot();
        let select = crate::probe::selector(name);
        let ttl = self.engine.settings.cache_ttl;
        let fresh = snapshot
            .checks()
            .filter(|check| select(check.info()))
            .all(|check| check.state().is_fresh(ttl));
        if fresh || snapshot.is_draining() {
            return snapshot;
        }
        drop(snapshot);
        self.refresh(select).await;
        self.snapshot()
    }

    /// The detailed report, after running every check whose result is older than the cache TTL.
    ///
    /// All due checks run concurrently, so the report takes about as long as the slowest of
    /// them, and never longer than the largest timeout.
    pub async fn report(&self) -> HealthReport {
        self.refresh(|_| true).await;
        self.cached_report()
    }

    /// The report from the published state, without running anything.
    pub fn cached_report(&self) -> HealthReport {
        HealthReport::from_snapshot(
            &self.engine.snapshot(),
            self.meta.started.elapsed(),
            &self.meta.version,
        )
    }

    /// Starts draining: every health service name answers not serving, the published state stays
    /// frozen, and gRPC `Watch` streams end once the drain delay has passed. Returns the instant
    /// the drain delay ends. Calling it again keeps the first deadline.
    pub fn shutdown(&self) -> Instant {
        self.engine.shutdown()
    }

    /// Like [`shutdown`](Self::shutdown), draining for at most `limit`: for when whoever launched
    /// the process asked it to stop and waits a bounded time for it (a go-plugin host).
    #[cfg_attr(not(feature = "go-plugin"), allow(dead_code))]
    pub(crate) fn shutdown_within(&self, limit: Duration) -> Instant {
        self.engine.shutdown_within(limit)
    }

    /// Undoes [`shutdown`](Self::shutdown): the names serve again with their current status.
    pub fn resume(&self) {
        self.engine.resume();
    }

    /// Waits for `trigger`, then shuts down and waits out the drain delay. Hand the result to a
    /// server's graceful shutdown so that it stops only after watchers were told.
    pub async fn drain_on(&self, trigger: impl std::future::Future<Output = ()>) {
        trigger.await;
        tokio::time::sleep_until(self.shutdown()).await;
    }

    /// The published state now.
    pub fn snapshot(&self) -> Arc<HealthSnapshot> {
        self.engine.snapshot()
    }

    /// Follows the published state: the receiver wakes whenever a status changes or a check is
    /// added or removed. Values, messages and timestamps are updated without waking it.
    ///
    /// Clone the snapshot out of the receiver (`receiver.borrow_and_update().clone()`) rather
    /// than holding the borrow: while it is held, no run can publish its result.
    pub fn subscribe(&self) -> watch::Receiver<Arc<HealthSnapshot>> {
        self.engine.subscribe()
    }

    /// The configuration the runtime was built with (the builder's setters not folded in).
    pub fn config(&self) -> &HealthConfig {
        &self.meta.config
    }

    /// The service version shown in reports.
    pub fn version(&self) -> &str {
        &self.meta.version
    }

    /// How long ago the runtime was built.
    pub fn uptime(&self) -> Duration {
        self.meta.started.elapsed()
    }
}

/// Builds a [`HealthRuntime`].
///
/// Settings come from a [`HealthConfig`] (the defaults, or the environment with
/// [`from_env`](Self::from_env)); the builder's own setters win over it, whatever their order.
#[must_use]
pub struct HealthRuntimeBuilder {
    config: HealthConfig,
    overrides: Overrides,
    version: String,
    registered: bool,
    checks: Vec<Check>,
    sources: Vec<PendingSource>,
}

/// A [`CheckSource`] waiting for the final configuration.
type PendingSource = Box<dyn FnOnce(&HealthConfig) -> Vec<Check> + Send>;

/// Checks that are made once the configuration is final: the built-in indicators (whose
/// thresholds and switches come from `PLUGIN_RESOURCE_*` and `PLUGIN_HEALTH_REQUEST_METRICS`),
/// or a set of your own. Add one with [`HealthRuntimeBuilder::with_checks`].
///
/// ```
/// use health_runtime::{Check, CheckSource, HealthConfig, HealthRuntime};
///
/// /// One TCP check per upstream, unless the configuration turns request checks off.
/// struct Upstreams(Vec<&'static str>);
///
/// impl CheckSource for Upstreams {
///     fn checks(self, config: &HealthConfig) -> Vec<Check> {
///         if !config.requests.enabled {
///             return Vec::new();
///         }
///         self.0
///             .into_iter()
///             .map(|addr| health_runtime::indicator::deps::tcp_check(format!("upstream.{}", addr.len()), addr))
///             .collect()
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let runtime = HealthRuntime::builder().with_checks(Upstreams(vec!["127.0.0.1:1"])).build()?;
/// assert!(runtime.cached("upstream.11").is_some());
/// # Ok(())
/// # }
/// ```
pub trait CheckSource: Send + 'static {
    /// The checks, made with the final configuration.
    fn checks(self, config: &HealthConfig) -> Vec<Check>;
}

impl CheckSource for Check {
    fn checks(self, _: &HealthConfig) -> Vec<Check> {
        vec![self]
    }
}

impl CheckSource for Vec<Check> {
    fn checks(self, _: &HealthConfig) -> Vec<Check> {
        self
    }
}

impl fmt::Debug for HealthRuntimeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthRuntimeBuilder")
            .field("config", &self.config)
            .field("overrides", &self.overrides)
            .field("version", &self.version)
            .field("declared_checks", &self.registered)
            .field("checks", &self.checks)
            .field("sources", &self.sources.len())
            .finish()
    }
}

#[derive(Debug, Default)]
struct Overrides {
    cache_ttl: Option<Duration>,
    default_interval: Option<Duration>,
    default_timeout: Option<Duration>,
    drain_delay: Option<Duration>,
}

impl Default for HealthRuntimeBuilder {
    fn default() -> Self {
        HealthRuntimeBuilder {
            config: HealthConfig::default(),
            overrides: Overrides::default(),
            version: "unknown".to_owned(),
            registered: true,
            checks: Vec::new(),
            sources: Vec::new(),
        }
    }
}

impl HealthRuntimeBuilder {
    /// A builder configured from the `PLUGIN_HEALTH_*` and `PLUGIN_RESOURCE_*` environment
    /// variables; fails on a malformed value, naming the variable and the value.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self::default().config(HealthConfig::from_env()?))
    }

    /// Uses `config` for every setting not set on the builder itself.
    pub fn config(mut self, config: HealthConfig) -> Self {
        self.config = config;
        self
    }

    /// The version shown in reports, usually `env!("CARGO_PKG_VERSION")` (default `unknown`).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// How long a result is served from cache before a caller's request runs the check again
    /// (default 1 s). Zero runs a check for every request not already sharing a run.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.overrides.cache_ttl = Some(ttl);
        self
    }

    /// The background re-run period of checks that set no `interval` (default 30 s).
    pub fn default_interval(mut self, interval: Duration) -> Self {
        self.overrides.default_interval = Some(interval);
        self
    }

    /// The deadline of checks that set no `timeout` (default 5 s).
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.overrides.default_timeout = Some(timeout);
        self
    }

    /// How long after [`HealthRuntime::shutdown`] watchers keep their streams, seeing every name
    /// not serving, before the streams end (default 5 s). Load balancers use this time to move
    /// traffic away.
    pub fn drain_delay(mut self, delay: Duration) -> Self {
        self.overrides.drain_delay = Some(delay);
        self
    }

    /// Leaves out the checks declared with `#[health_check]`; only checks added with
    /// [`with_check`](Self::with_check) or [`HealthRuntime::register`] run. Useful in tests.
    pub fn without_declared_checks(mut self) -> Self {
        self.registered = false;
        self
    }

    /// Adds a check defined at runtime.
    pub fn with_check(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }

    /// Adds the checks of `source`, made once the configuration is final: the built-in
    /// indicators ([`SystemMetrics`](crate::indicator::SystemMetrics),
    /// [`RequestMetrics`](crate::indicator::RequestMetrics)) or a [`CheckSource`] of your own.
    pub fn with_checks(mut self, source: impl CheckSource) -> Self {
        self.sources
            .push(Box::new(move |config: &HealthConfig| source.checks(config)));
        self
    }

    /// Collects every `#[health_check]` in the binary and the checks added here, and validates
    /// them. Every problem is reported, not only the first.
    pub fn build(self) -> Result<HealthRuntime, BuildError> {
        let (config, overrides) = (&self.config, &self.overrides);
        let settings = Settings {
            cache_ttl: overrides.cache_ttl.unwrap_or(config.checks.cache_ttl),
            default_interval: overrides.default_interval.unwrap_or(config.checks.interval),
            default_timeout: overrides.default_timeout.unwrap_or(config.checks.timeout),
            drain_delay: overrides.drain_delay.unwrap_or(config.checks.drain_delay),
        };
        let defaults = settings;
        let mut problems = Vec::new();
        for (what, value) in [
            ("default interval", defaults.default_interval),
            ("default timeout", defaults.default_timeout),
        ] {
            if value.is_zero() {
                problems.push(BuildProblem::Setting(format!(
                    "the {what} must be greater than zero"
                )));
            }
        }
        if !problems.is_empty() {
            // Every check would inherit the bad default: report it alone.
            return Err(BuildError { problems });
        }
        let engine = Arc::new(Engine::new(settings));
        let declared = self
            .registered
            .then(crate::__private::registered)
            .into_iter()
            .flatten()
            .map(crate::__private::StaticCheck::to_check);
        let config = &self.config;
        let sourced = self.sources.into_iter().flat_map(|source| source(config));
        for check in declared.chain(self.checks).chain(sourced) {
            if let Err(error) = engine.register(check) {
                problems.push(BuildProblem::Check(error));
            }
        }
        if !problems.is_empty() {
            return Err(BuildError { problems });
        }
        let meta = Arc::new(Meta {
            #[cfg(feature = "prometheus")]
            run_metrics: engine.run_metrics.clone(),
            version: self.version,
            config: self.config,
            started: Instant::now(),
            watch_streams: Arc::default(),
        });
        Ok(HealthRuntime { engine, meta })
    }
}

/// Why [`HealthRuntimeBuilder::build`] failed: every problem found, one per line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", display_problems(.problems))]
pub struct BuildError {
    problems: Vec<BuildProblem>,
}

impl BuildError {
    /// The problems with the checks, such as duplicate names.
    pub fn check_errors(&self) -> impl Iterator<Item = &RegistryError> {
        self.problems.iter().filter_map(|problem| match problem {
            BuildProblem::Check(error) => Some(error),
            BuildProblem::Setting(_) => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum BuildProblem {
    Check(RegistryError),
    Setting(String),
}

fn display_problems(problems: &[BuildProblem]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|problem| match problem {
            BuildProblem::Check(error) => error.to_string(),
            BuildProblem::Setting(problem) => problem.clone(),
        })
        .collect();
    lines.join("\n")
}
