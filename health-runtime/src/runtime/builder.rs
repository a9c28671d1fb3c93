//! [`HealthRuntimeBuilder`]: the configuration, the checks, the observers; and what the
//! surfaces compiled in attach to every runtime it builds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{Extensions, HealthRuntime};
use crate::config::NotifySettings;
use crate::engine::event::Events;
use crate::engine::{Engine, Settings};
use crate::{Check, ConfigError, HealthConfig, HealthObserver, RegistryError};

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
    observers: Vec<Arc<dyn HealthObserver>>,
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
            .field("observers", &self.observers.len())
            .finish()
    }
}

#[derive(Debug, Default)]
struct Overrides {
    cache_ttl: Option<Duration>,
    default_interval: Option<Duration>,
    default_timeout: Option<Duration>,
    drain_delay: Option<Duration>,
    notify: Option<NotifySettings>,
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
            observers: Vec::new(),
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

    /// Sends webhooks on check transitions with `settings`, instead of what the configuration
    /// (`PLUGIN_HEALTH_NOTIFY_*`) says; settings without a target turn notifications off. Their
    /// URLs and secrets are checked by [`build`](Self::build), which fails on a target unless
    /// health-runtime is built with its `notify` feature (the `notify` module).
    pub fn notify(mut self, settings: NotifySettings) -> Self {
        self.overrides.notify = Some(settings);
        self
    }

    /// Leaves out the checks declared with `#[health_check]`: only the checks added here
    /// ([`with_check`](Self::with_check), [`with_checks`](Self::with_checks)), those the
    /// configuration asks for (the `health_file` check when it names a file) and those added
    /// later with [`HealthRuntime::register`] run. Useful in tests.
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
    /// indicators ([`SystemIndicators`](crate::indicator::SystemIndicators),
    /// [`RequestIndicators`](crate::indicator::RequestIndicators)) or a [`CheckSource`] of your own.
    pub fn with_checks(mut self, source: impl CheckSource) -> Self {
        self.sources
            .push(Box::new(move |config: &HealthConfig| source.checks(config)));
        self
    }

    /// Adds an observer that sees every [`HealthEvent`](crate::HealthEvent) of the runtime from
    /// its first run: checks added and removed, runs, transitions, drains. It runs inside the
    /// engine; see [`HealthObserver`] for what it may do.
    pub fn observe(mut self, observer: impl HealthObserver) -> Self {
        self.observers.push(Arc::new(observer));
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
        // The builder's notification settings, or the configuration's (whose fields code may
        // have set).
        let notify = overrides.notify.as_ref().unwrap_or(&config.notify);
        if notify.is_enabled()
            && let Err(problem) = crate::check_notify(notify)
        {
            problems.push(BuildProblem::Setting(problem));
        }
        if !problems.is_empty() {
            // Every check would inherit the bad default: report it alone.
            return Err(BuildError { problems });
        }
        let mut attach = Attach {
            drain_delay: settings.drain_delay,
            ..Attach::default()
        };
        // The surfaces see the builder's notification settings; `HealthRuntime::config` keeps
        // the configuration as given.
        let with_notify = overrides.notify.as_ref().map(|notify| HealthConfig {
            notify: notify.clone(),
            ..self.config.clone()
        });
        crate::attach_surfaces(&mut attach, with_notify.as_ref().unwrap_or(&self.config));
        let observers = attach.observers.into_iter().chain(self.observers).collect();
        let engine = Arc::new(Engine::new(settings, Events::new(observers)));
        let declared = self
            .registered
            .then(crate::__private::registered)
            .into_iter()
            .flatten()
            .map(crate::__private::StaticCheck::to_check);
        let config = &self.config;
        let sourced = self.sources.into_iter().flat_map(|source| source(config));
        let attached = attach.checks.into_iter();
        let mut registered = Vec::new();
        for check in declared.chain(self.checks).chain(sourced).chain(attached) {
            let name = check.name().to_owned();
            match engine.register(check) {
                Ok(()) => registered.push(name),
                Err(error) => problems.push(BuildProblem::Check(error)),
            }
        }
        if !problems.is_empty() {
            // Observers saw them registered: they see them go with the runtime that never was.
            for name in registered {
                engine.deregister(&name);
            }
            return Err(BuildError { problems });
        }
        let runtime = HealthRuntime::new(engine, self.version, self.config, attach.extensions);
        for hook in attach.on_built {
            hook(&runtime);
        }
        Ok(runtime)
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

/// What the surfaces compiled into the crate attach to every runtime as it is built: checks of
/// their own (the health file's), observers that must see every run (Prometheus' run
/// histogram), per-runtime state, and hooks called with the runtime once it is built (to
/// register callbacks that read it, holding it weakly). Filled by `crate::attach_surfaces`, the
/// one place that names the surfaces; the core only carries what it is given.
#[derive(Default)]
pub(crate) struct Attach {
    pub(crate) checks: Vec<Check>,
    pub(crate) observers: Vec<Arc<dyn HealthObserver>>,
    pub(crate) extensions: Extensions,
    pub(crate) on_built: Vec<OnBuilt>,
    /// The drain delay the runtime is built with (the builder's, if it set one).
    #[cfg_attr(not(feature = "notify"), allow(dead_code))]
    pub(crate) drain_delay: Duration,
}

/// A hook of [`Attach`], called once with the runtime just built.
pub(crate) type OnBuilt = Box<dyn FnOnce(&HealthRuntime) + Send>;
