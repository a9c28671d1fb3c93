//! Runs checks: the registry, the cache, single-flight, the background monitor, the published
//! state, and the events; one run itself (timeouts, panics, the blocking pool, flap damping) is
//! in [`run`].

pub(crate) mod event;
mod run;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::Instrument as _;

use self::event::{EventQueue, Events, HealthEvent};
pub(crate) use self::run::panic_message;
use self::run::{RunResult, execute, next_state};
// For the tracing filters of the surfaces; not every feature set has one.
#[allow(unused_imports)]
pub(crate) use self::run::in_check_run;
use crate::check::{CheckSpec, Runner};
use crate::state::snapshot::{CheckSnapshot, CheckState, HealthSnapshot};
use crate::{Check, CheckInfo, RegistryError, Status};

/// Defaults for checks that do not set their own, and the cache lifetime.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) cache_ttl: Duration,
    pub(crate) default_interval: Duration,
    pub(crate) default_timeout: Duration,
    pub(crate) drain_delay: Duration,
}

type SharedRun = Shared<BoxFuture<'static, Arc<CheckSnapshot>>>;

/// One registered check and what running it needs.
pub(super) struct Entry {
    pub(super) info: Arc<CheckInfo>,
    pub(super) runner: Runner,
    latest: Mutex<Arc<CheckSnapshot>>,
    inflight: Mutex<Option<SharedRun>>,
    /// Set while a run's task is alive. A run that times out is abandoned, but a blocking check (or
    /// an async one that never yields) keeps its thread until it returns; while it does, later
    /// runs report the timeout at once instead of piling up more stuck threads.
    pub(super) busy: Arc<AtomicBool>,
    monitor: Mutex<Option<AbortHandle>>,
    /// Its events not sent yet: queued where they happen, sent in that order.
    events: Mutex<EventQueue>,
}

impl Entry {
    fn latest(&self) -> Arc<CheckSnapshot> {
        lock(&self.latest).clone()
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.info.name)
            .finish_non_exhaustive()
    }
}

/// The engine behind a [`HealthRuntime`](crate::HealthRuntime).
pub(crate) struct Engine {
    pub(crate) settings: Settings,
    entries: RwLock<HashMap<Arc<str>, Arc<Entry>>>,
    published: watch::Sender<Arc<HealthSnapshot>>,
    /// The runtime the monitor runs on, once it has been started.
    monitor: Mutex<Option<tokio::runtime::Handle>>,
    /// Every run, transition, registration and drain, for observers and subscribers.
    events: Events,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("settings", &self.settings)
            .field("checks", &read(&self.entries).len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub(crate) fn new(settings: Settings, events: Events) -> Self {
        Engine {
            settings,
            entries: RwLock::default(),
            published: watch::Sender::new(Arc::default()),
            monitor: Mutex::default(),
            events,
        }
    }

    pub(crate) fn events(&self) -> tokio::sync::broadcast::Receiver<HealthEvent> {
        self.events.subscribe()
    }

    pub(crate) fn snapshot(&self) -> Arc<HealthSnapshot> {
        self.published.borrow().clone()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<HealthSnapshot>> {
        self.published.subscribe()
    }

    /// Validates `check`, fills in the defaults and adds it.
    pub(crate) fn register(self: &Arc<Self>, check: Check) -> Result<(), RegistryError> {
        let info = Arc::new(self.resolve(check.spec)?);
        let latest = Arc::new(CheckSnapshot {
            info: info.clone(),
            state: CheckState::default(),
        });
        let entry = Arc::new(Entry {
            info: info.clone(),
            runner: check.runner,
            latest: Mutex::new(latest.clone()),
            inflight: Mutex::default(),
            busy: Arc::default(),
            monitor: Mutex::default(),
            events: Mutex::default(),
        });
        {
            let mut entries = write(&self.entries);
            if let Some(existing) = entries.get(&info.name) {
                return Err(RegistryError::DuplicateName {
                    name: info.name.to_string(),
                    first: existing.info.location,
                    second: info.location,
                });
            }
            entries.insert(info.name.clone(), entry.clone());
            self.published.send_modify(|published| {
                let published = HealthSnapshot::edit(published);
                published.checks.insert(info.name.clone(), latest);
            });
            // Queued before anyone can run the check, so `Registered` comes before its `Ran`.
            if self.events.listened() {
                lock(&entry.events).push(HealthEvent::Registered {
                    check: info.clone(),
                });
            }
        }
        tracing::debug!(check = %info.name, location = %info.location, "health check registered");
        self.events.flush(&entry.events);
        // `deregister` takes the monitor lock too, so the entry cannot be removed between this
        // look and the monitor's start (lock order: monitor, entries, entry.monitor).
        let monitor = lock(&self.monitor);
        if let Some(handle) = monitor.as_ref()
            && self.is_current(&info)
        {
            self.spawn_monitor(handle, &entry);
        }
        drop(monitor);
        Ok(())
    }

    /// Whether `info` is the registered check of its name: not removed, nor replaced by another
    /// check of the same name.
    fn is_current(&self, info: &Arc<CheckInfo>) -> bool {
        read(&self.entries)
            .get(&info.name)
            .is_some_and(|entry| Arc::ptr_eq(&entry.info, info))
    }

    /// Removes a check; `false` if there was none of that name.
    pub(crate) fn deregister(&self, name: &str) -> bool {
        let monitor = lock(&self.monitor);
        let mut entries = write(&self.entries);
        let Some(entry) = entries.remove(name) else {
            return false;
        };
        if let Some(monitor) = lock(&entry.monitor).take() {
            monitor.abort();
        }
        self.published.send_modify(|published| {
            let published = HealthSnapshot::edit(published);
            published.checks.remove(name);
        });
        if self.events.listened() {
            lock(&entry.events).push(HealthEvent::Deregistered {
                check: entry.info.clone(),
            });
        }
        drop(entries);
        drop(monitor);
        tracing::debug!(check = %name, "health check removed");
        self.events.flush(&entry.events);
        true
    }

    fn resolve(&self, spec: CheckSpec) -> Result<CheckInfo, RegistryError> {
        let CheckSpec {
            settings: check,
            informational,
            location,
        } = spec;
        let invalid = |problem: String| RegistryError::InvalidSetting {
            name: check.name.clone(),
            location,
            problem,
        };
        let bad_name = |what, name: &str| {
            health_rules::name::check(name)
                .err()
                .map(|problem| RegistryError::InvalidName {
                    what,
                    name: name.escape_debug().to_string(),
                    location,
                    problem: problem.to_string(),
                })
        };
        if let Some(error) = bad_name("name", &check.name) {
            return Err(error);
        }
        if let Some(error) = check
            .service
            .as_deref()
            .and_then(|s| bad_name("service", s))
        {
            return Err(error);
        }
        let timeout = check.timeout.unwrap_or(self.settings.default_timeout);
        let interval = check.interval.unwrap_or(self.settings.default_interval);
        if timeout.is_zero() {
            return Err(invalid("`timeout` must be greater than zero".into()));
        }
        if interval.is_zero() {
            return Err(invalid("`interval` must be greater than zero".into()));
        }
        if !Status::ON_ERROR.contains(&check.on_error) {
            return Err(invalid(format!(
                "`on_error` is `{}`; it must be `warning` or `critical`",
                check.on_error
            )));
        }
        if !Status::ON_TIMEOUT.contains(&check.on_timeout) {
            return Err(invalid(
                "`on_timeout` is `unknown`; it must be `healthy`, `warning` or `critical`".into(),
            ));
        }
        if check.failure_threshold == 0 {
            return Err(invalid("`failure_threshold` must be at least 1".into()));
        }
        let mut groups = check.groups;
        groups.sort_unstable();
        groups.dedup();
        Ok(CheckInfo {
            name: check.name.as_str().into(),
            timeout,
            on_timeout: check.on_timeout,
            on_error: check.on_error,
            interval,
            groups,
            service: check.service.map(Into::into),
            failure_threshold: check.failure_threshold,
            informational,
            location,
        })
    }

    /// The latest state of one check, without running it.
    pub(crate) fn cached(&self, name: &str) -> Option<Arc<CheckSnapshot>> {
        self.published.borrow().checks.get(name).cloned()
    }

    fn entry(&self, name: &str) -> Option<Arc<Entry>> {
        read(&self.entries).get(name).cloned()
    }

    fn entries(&self) -> Vec<Arc<Entry>> {
        read(&self.entries).values().cloned().collect()
    }

    /// Runs the check `name` unless its result is younger than the cache TTL.
    pub(crate) async fn check(self: &Arc<Self>, name: &str) -> Option<Arc<CheckSnapshot>> {
        let entry = self.entry(name)?;
        Some(self.run(&entry, self.settings.cache_ttl).await)
    }

    /// Runs the check `name` now, whatever the age of its result; joins a run in flight.
    pub(crate) async fn recheck(self: &Arc<Self>, name: &str) -> Option<Arc<CheckSnapshot>> {
        let entry = self.entry(name)?;
        Some(self.run(&entry, Duration::ZERO).await)
    }

    /// Runs, concurrently, every check whose result is older than the cache TTL and that
    /// `select` picks.
    pub(crate) async fn refresh(self: &Arc<Self>, select: impl Fn(&CheckInfo) -> bool) {
        let ttl = self.settings.cache_ttl;
        let due: Vec<_> = self
            .entries()
            .into_iter()
            .filter(|entry| select(&entry.info))
            .collect();
        futures::future::join_all(due.iter().map(|entry| self.run(entry, ttl))).await;
    }

    /// Returns the check's state, running it first unless its result is younger than `max_age`.
    /// Concurrent callers share one run.
    async fn run(self: &Arc<Self>, entry: &Arc<Entry>, max_age: Duration) -> Arc<CheckSnapshot> {
        let run = {
            let mut inflight = lock(&entry.inflight);
            match &*inflight {
                Some(run) => run.clone(),
                None => {
                    let latest = entry.latest();
                    if latest.state.is_fresh(max_age) {
                        return latest;
                    }
                    let run = self.spawn_run(entry.clone());
                    *inflight = Some(run.clone());
                    run
                }
            }
        };
        run.await
    }

    /// Starts one run on its own task, so that it completes even if every caller goes away.
    fn spawn_run(self: &Arc<Self>, entry: Arc<Entry>) -> SharedRun {
        let engine = self.clone();
        // Field names after the OpenTelemetry conventions of `otel::` (the `health.check.*`
        // attributes); `otel.status_code` is tracing-opentelemetry's field for the span status.
        let span = tracing::info_span!(
            "health_check",
            health.check.name = %entry.info.name,
            health.check.result = tracing::field::Empty,
            health.check.status = tracing::field::Empty,
            health.check.outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let task = tokio::spawn(
            {
                let entry = entry.clone();
                async move {
                    let started = Instant::now();
                    let result = execute(&entry).await;
                    let duration = started.elapsed();
                    let outcome = outcome(&result);
                    let (previous, snapshot) = engine.record(&entry, result, duration);
                    let failed = snapshot.state.failures > previous.state.failures;
                    let span = tracing::Span::current();
                    span.record("health.check.outcome", outcome);
                    span.record("health.check.status", snapshot.state.status.as_str());
                    span.record("health.check.result", run_result(failed));
                    if failed {
                        span.record("otel.status_code", "ERROR");
                    }
                    // Queued while the run is still the one in flight, so that the next run's
                    // events queue behind these.
                    engine.announce(&entry, &previous, &snapshot, duration);
                    *lock(&entry.inflight) = None;
                    engine.events.flush(&entry.events);
                    snapshot
                }
            }
            .instrument(span),
        );
        async move {
            match task.await {
                Ok(snapshot) => snapshot,
                // Only when the async runtime shuts down under the run.
                Err(_) => {
                    *lock(&entry.inflight) = None;
                    entry.latest()
                }
            }
        }
        .boxed()
        .shared()
    }

    /// Folds one run into the check's state and publishes it; returns the state before and after.
    fn record(
        &self,
        entry: &Entry,
        result: RunResult,
        duration: Duration,
    ) -> (Arc<CheckSnapshot>, Arc<CheckSnapshot>) {
        let info = &entry.info;
        let (previous, snapshot) = {
            let mut latest = lock(&entry.latest);
            let state = next_state(&latest.state, info, result, duration);
            let snapshot = Arc::new(CheckSnapshot {
                info: info.clone(),
                state,
            });
            (std::mem::replace(&mut *latest, snapshot.clone()), snapshot)
        };
        let (from, to) = (previous.state.status, snapshot.state.status);
        let message = snapshot.state.message().unwrap_or_default();
        tracing::debug!(status = %snapshot.state.last_run_status, ?duration, message, "health check ran");
        if from != to {
            if to.is_serving() {
                tracing::info!(%from, %to, message, "health check status changed");
            } else {
                tracing::warn!(%from, %to, message, "health check status changed");
            }
        }
        self.published.send_if_modified(|published| {
            if published.is_draining() {
                // Frozen until `resume()`, which publishes what was recorded meanwhile.
                return false;
            }
            match published.checks.get(&info.name) {
                // Removed, or replaced by a new check of the same name, while it ran.
                Some(current) if Arc::ptr_eq(&current.info, info) => {}
                _ => return false,
            }
            let published = HealthSnapshot::edit(published);
            published.checks.insert(info.name.clone(), snapshot.clone());
            published.latch_startup();
            from != to
        });
        (previous, snapshot)
    }

    /// Queues the events of one recorded run: `Ran`, and `Transition` when the shown status
    /// changed. A check removed, or replaced by a new one of the same name, while it ran gets
    /// none: its run happened, but it no longer belongs to anyone who follows the events.
    fn announce(
        &self,
        entry: &Entry,
        previous: &CheckSnapshot,
        snapshot: &Arc<CheckSnapshot>,
        duration: Duration,
    ) {
        if !self.events.listened() {
            return;
        }
        // Under the entries lock, so that `deregister` (which queues `Deregistered` under it)
        // comes either before this check or after these events.
        let entries = read(&self.entries);
        let current = entries
            .get(&entry.info.name)
            .is_some_and(|registered| Arc::ptr_eq(&registered.info, &entry.info));
        if !current {
            return;
        }
        let (from, to) = (previous.state.status, snapshot.state.status);
        let mut queue = lock(&entry.events);
        queue.push(HealthEvent::Ran {
            check: snapshot.clone(),
            duration,
            failed: snapshot.state.failures > previous.state.failures,
        });
        if from != to {
            queue.push(HealthEvent::Transition {
                check: snapshot.clone(),
                from,
                to,
                duration,
            });
        }
    }

    /// Turns every name not serving and freezes the published state; the drain delay starts now.
    /// Returns when the drain delay ends; calling it again keeps the first deadline.
    pub(crate) fn shutdown(&self) -> Instant {
        self.shutdown_within(self.settings.drain_delay)
    }

    /// Like `shutdown()`, with a drain delay of at most `limit`; a drain already under way ends
    /// by the earlier of its deadline and this one.
    pub(crate) fn shutdown_within(&self, limit: Duration) -> Instant {
        let delay = self.settings.drain_delay.min(limit);
        let mut deadline = after(Instant::now(), delay);
        let changed = self.published.send_if_modified(|published| {
            if let Some(existing) = published.drain_until
                && existing <= deadline
            {
                deadline = existing;
                return false;
            }
            HealthSnapshot::edit(published).drain_until = Some(deadline);
            true
        });
        if changed {
            tracing::info!(drain_delay = ?delay, "health: shutting down, every service not serving");
            self.events
                .emit(|| HealthEvent::Draining { until: deadline });
        }
        deadline
    }

    /// Undoes `shutdown()`: publishes every check's latest state again.
    pub(crate) fn resume(&self) {
        let entries = read(&self.entries);
        let resumed = self.published.send_if_modified(|published| {
            if !published.is_draining() {
                return false;
            }
            let published = HealthSnapshot::edit(published);
            published.drain_until = None;
            for (name, entry) in entries.iter() {
                published.checks.insert(name.clone(), entry.latest());
            }
            published.latch_startup();
            true
        });
        drop(entries);
        if resumed {
            tracing::info!("health: resumed serving");
            self.events.emit(|| HealthEvent::Resumed);
        }
    }

    /// Starts the background monitor on the current Tokio runtime; starting it again does nothing.
    pub(crate) fn start_monitor(self: &Arc<Self>) {
        let handle = tokio::runtime::Handle::current();
        let mut monitor = lock(&self.monitor);
        if monitor.is_some() {
            return;
        }
        for entry in self.entries() {
            self.spawn_monitor(&handle, &entry);
        }
        *monitor = Some(handle);
    }

    fn spawn_monitor(self: &Arc<Self>, handle: &tokio::runtime::Handle, entry: &Arc<Entry>) {
        let engine: Weak<Engine> = Arc::downgrade(self);
        let entry_for_task = entry.clone();
        let task = handle.spawn(async move {
            let entry = entry_for_task;
            let interval = entry.info.interval;
            loop {
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                let snapshot = engine.run(&entry, interval).await;
                drop(engine);
                let finished = snapshot.state.finished_at.unwrap_or_else(Instant::now);
                tokio::time::sleep_until(after(finished, interval)).await;
            }
        });
        if let Some(previous) = lock(&entry.monitor).replace(task.abort_handle()) {
            previous.abort();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let entries = self
            .entries
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for entry in entries.values() {
            if let Some(monitor) = lock(&entry.monitor).take() {
                monitor.abort();
            }
        }
    }
}

/// How a run ended, as the run span's `health.check.outcome` says: a run refused because an
/// earlier one has not returned counts as a timeout (it is shown with `on_timeout`).
fn outcome(result: &RunResult) -> &'static str {
    match result {
        RunResult::Completed(Ok(_)) => "ok",
        RunResult::Completed(Err(_)) => "error",
        RunResult::Panicked(_) => "panic",
        RunResult::TimedOut | RunResult::StillRunning => "timeout",
    }
}

/// A run's result as the span and the metrics name it: whether [`HealthEvent::Ran`] says it
/// failed.
fn run_result(failed: bool) -> &'static str {
    if failed { "failure" } else { "success" }
}

/// `start + delay`, or a point decades away when that overflows.
fn after(start: Instant, delay: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(60 * 60 * 24 * 365 * 30);
    start
        .checked_add(delay)
        .unwrap_or_else(|| start + FAR.min(delay))
}

/// Locks a mutex; a panic while it was held cannot leave our data half-updated, so poisoning is
/// ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
