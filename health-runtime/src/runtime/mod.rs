//! The runtime: [`HealthRuntime`], the engine's API, built by [`HealthRuntimeBuilder`] from a
//! [`HealthConfig`] and the checks; handlers with their own checks
//! ([`HealthAware`], [`AwareHandle`]).

pub(crate) mod aware;
pub(crate) mod builder;
pub mod config;
#[cfg_attr(not(any(feature = "http", feature = "grpc")), allow(dead_code))]
pub(crate) mod details;
mod error;
mod extensions;

pub use aware::{AwareHandle, HealthAware};
pub use error::{RegistryError, UnknownCheck};

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

pub use self::builder::{BuildError, CheckSource, HealthRuntimeBuilder};
pub(crate) use self::extensions::Extensions;
use crate::HealthConfig;
use crate::engine::Engine;
use crate::state::snapshot::{CheckSnapshot, HealthSnapshot};
use crate::{Check, CheckInfo, HealthEvent, HealthReport};

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

/// A [`HealthRuntime`] held without keeping it alive: for what the runtime itself keeps (a
/// callback registered elsewhere) and must not outlive it.
#[derive(Clone)]
pub(crate) struct WeakRuntime {
    engine: Weak<Engine>,
    meta: Weak<Meta>,
}

impl WeakRuntime {
    /// The runtime, unless every [`HealthRuntime`] clone of it is gone.
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn upgrade(&self) -> Option<HealthRuntime> {
        Some(HealthRuntime {
            engine: self.engine.upgrade()?,
            meta: self.meta.upgrade()?,
        })
    }
}

impl fmt::Debug for WeakRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakRuntime")
            .field("alive", &(self.engine.strong_count() > 0))
            .finish()
    }
}

pub(crate) struct Meta {
    version: String,
    pub(crate) config: HealthConfig,
    started: Instant,
    /// State the surfaces keep per runtime, such as their counters.
    extensions: Extensions,
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
    fn new(
        engine: Arc<Engine>,
        version: String,
        config: HealthConfig,
        extensions: Extensions,
    ) -> Self {
        let meta = Meta {
            version,
            config,
            started: Instant::now(),
            extensions,
        };
        HealthRuntime {
            engine,
            meta: Arc::new(meta),
        }
    }

    /// A handle that does not keep the runtime alive.
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn downgrade(&self) -> WeakRuntime {
        WeakRuntime {
            engine: Arc::downgrade(&self.engine),
            meta: Arc::downgrade(&self.meta),
        }
    }

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
    pub(crate) async fn resolved(&self, name: &str) -> Arc<HealthSnapshot> {
        let snapshot = self.snapshot();
        let select = crate::state::resolve::selector(name);
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

    /// Follows every [`HealthEvent`]: checks added and removed, runs, transitions, drains, from
    /// now on. A receiver that falls more than 1,024 events behind is told how many it missed.
    /// To see every event from the first run, register a
    /// [`HealthObserver`](crate::HealthObserver) on the builder instead.
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<HealthEvent> {
        self.engine.events()
    }

    /// The per-runtime state of type `T` that a surface keeps (a counter, a histogram), made
    /// with `T::default()` on first use.
    #[cfg_attr(not(any(feature = "grpc", feature = "prometheus")), allow(dead_code))]
    pub(crate) fn extension<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        self.meta.extensions.get_or_default()
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
