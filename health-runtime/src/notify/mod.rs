//! Webhooks on check transitions: a POST to each target when a check enters a problem status
//! (`warning`, `critical`), when it recovers (`restored`), and when it flaps (`flapping`), with
//! the real tri-state, from the engine's [events](crate::HealthEvent).
//!
//! Turned on by `PLUGIN_HEALTH_NOTIFY_URL` (a comma list of http(s) URLs) or in code with
//! [`HealthRuntimeBuilder::notify`](crate::HealthRuntimeBuilder::notify):
//!
//! ```
//! use std::time::Duration;
//! use health_runtime::{HealthRuntime, Status};
//! use health_runtime::notify::{NotifySettings, Secret, Target};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = HealthRuntime::builder()
//!     .notify(
//!         NotifySettings::new()
//!             .target(Target::json("https://alerts.example.com/hooks/health"))
//!             .on([Status::Critical])
//!             .secret(Secret::signing("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
//!     )
//!     .build()?;
//! # drop(runtime);
//! # Ok(())
//! # }
//! ```
//!
//! # When a check is notified
//!
//! - **Entering a problem**: a check that reaches a status of [`NotifySettings::on`] (`warning`
//!   and `critical` by default) is notified once (`"type": "transition"`), and not again while the
//!   status stays. `unknown` → `healthy` at startup notifies nothing; `unknown` → `critical` does.
//! - **Recovery**: a check whose last notification was a problem and that reaches a status not
//!   in `on` (`healthy`; or `warning` when only `critical` is notified) is notified once
//!   (`"type": "restored"`, `status` the status now), unless restored notices are off.
//! - **Least interval**: two notifications of one check are at least
//!   [`min_interval`](NotifySettings::min_interval) apart (30 s). Changes in between are folded:
//!   when the interval ends, the latest state is sent, only if it differs from what was last sent.
//! - **Flapping**: a check with [`flap_threshold`](NotifySettings::flap_threshold) transitions (5)
//!   inside [`flap_window`](NotifySettings::flap_window) (5 min) gets one summary
//!   (`"type": "flapping"`: how many transitions, through which statuses, the status now) and
//!   nothing more until it has been stable for a window; then its state, once, if it differs from
//!   the last sent, or a `restored` notice if a problem notified before is over (even when the
//!   summary already gave the status now). Only flapping that concerns the receivers counts:
//!   a status of `on` among the transitions in the window, or a problem notified and not yet
//!   restored; a check flapping between `healthy` and `warning` with only `critical` notified
//!   sends nothing.
//!   Ten flaps inside the window make at most two POSTs while the window lasts (the first
//!   change and the summary), when the flaps come faster than the least interval: the
//!   summary goes out when the interval after the first notification ends, and changes until
//!   then are folded. Flaps further apart than the interval can send a notification each until
//!   the threshold is reached (at most `flap_threshold` POSTs, the summary among them). After
//!   the window of stability, one more POST can follow (the state or `restored`).
//! - Which checks: those named in [`checks`](NotifySettings::checks), by name or probe group
//!   (`liveness`, `readiness`, `startup`); every check by default.
//!
//! # Delivery
//!
//! Each target has its own bounded queue ([`queue`](NotifySettings::queue), 256) and its own
//! worker task, so a target that hangs holds back no other, and notifications reach a target in
//! the order they were decided. The engine's observer only puts a notification on the queues
//! (`try_send`): it never blocks, never waits, and a check's run takes no longer for it. A full
//! queue drops the new notification (counted as `dropped`, logged at most every 10 s). Workers
//! start with the first notification, on the tokio runtime of the task that caused it (without
//! one, the notification is dropped and that is logged once), start again if their runtime went
//! away (what the gone worker still held is counted as `failed`, and logged), and stop once the
//! [`HealthRuntime`] is dropped and what was queued has had the drain delay to go out. The task
//! that sends what the least interval holds back starts again the same way, at the next run of
//! any check.
//!
//! Requests go out with reqwest (rustls, the web PKI roots, the proxies of the usual
//! `HTTPS_PROXY`/`NO_PROXY` variables). Each has a deadline
//! ([`timeout`](NotifySettings::timeout), 10 s). Connection errors,
//! timeouts, `408`, `429` and `5xx` are tried again, up to [`retries`](NotifySettings::retries)
//! (5) times, after an exponential backoff with jitter from 1 s up to 60 s, or after the seconds
//! of a `Retry-After` answer (at most 60 s). Redirects are not followed, and they and other `4xx`
//! answers are given up at once; the log line of a refusal carries the start of the answer's
//! body (up to 512 bytes: Slack says what it did not accept, such as `invalid_blocks`). At
//! [`HealthRuntime::shutdown`], what the least interval or a flap's quiet holds back is sent at
//! once (a pending `restored` is not lost), and pending notifications have until the drain delay
//! ends; what is left then is given up (`failed`). Shutdown never waits for them.
//!
//! Every notification has an id (a random UUID v4), sent as `webhook-id` and kept across
//! retries, so that a receiver can drop a duplicate: a notification is delivered once, unless a
//! timeout hid a success and the retry delivers it again under the same id.
//!
//! # Secrets
//!
//! With a secret ([`Secret::Signing`], `PLUGIN_HEALTH_NOTIFY_SECRET`), each body is signed as
//! the Standard Webhooks specification says (<https://www.standardwebhooks.com/>):
//! `webhook-id`, `webhook-timestamp` (Unix seconds, of each attempt) and `webhook-signature:
//! v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the base64 after `whsec_`, or
//! with the secret's bytes when it has no such prefix. Prefer a `whsec_` secret: the reference
//! Standard Webhooks libraries always base64-decode the secret, so one used as raw bytes here
//! does not verify there (building a runtime with such a secret logs a warning). With
//! [`Secret::Header`] (`PLUGIN_HEALTH_NOTIFY_SECRET_HEADER`, which needs
//! `PLUGIN_HEALTH_NOTIFY_SECRET`), the secret is the value of that header instead; the header
//! cannot be one every request sets (`Content-Type`, `Content-Length`, `Host`, `webhook-*`),
//! and sending it to an `http://` target logs a warning (clear text). A
//! secret is never logged and never in `Debug` output; nor is anything of a target's URL but
//! `scheme://host:port` (a Slack webhook's path is its secret).
//!
//! # Payloads
//!
//! The generic JSON payload ([`Format::Json`]), `Content-Type: application/json`:
//!
//! ```json
//! {
//!   "id": "1f0c3a52-9c1e-4d7b-8a4f-5e2d7c9b0a61",
//!   "type": "transition",
//!   "check": "kv_store",
//!   "status": "warning",
//!   "previous_status": "healthy",
//!   "message": "93.1 % of the disk used",
//!   "value": 93.1,
//!   "threshold": 90.0,
//!   "groups": ["readiness"],
//!   "at": "2026-12-01T19:00:00.123Z",
//!   "duration_ms": 1.2,
//!   "overall_status": "warning",
//!   "service": { "name": "plugin_server", "version": "0.1.0" }
//! }
//! ```
//!
//! - `type`: `transition`, `restored` or `flapping`; `status` is the check's status now and
//!   `previous_status` the one before its latest change.
//! - `message`, `value`, `threshold`: those of the run that caused it (the message cut to
//!   [`MAX_MESSAGE`](crate::history::MAX_MESSAGE) bytes); left out with
//!   [`details(false)`](NotifySettings::details) (`PLUGIN_HEALTH_NOTIFY_DETAILS=false`).
//! - `at`: when that run finished; `duration_ms`: how long it took; `overall_status`: the
//!   runtime's overall status then.
//! - A `flapping` notification also has
//!   `"flapping": { "transitions": 10, "window_s": 300, "statuses": ["healthy", "critical"] }`.
//!
//! A Slack target ([`Format::Slack`]) gets an incoming-webhook message: `text` (the headline,
//! e.g. `kv_store is warning (was healthy)`) and `blocks`: a `section` with the headline, one
//! with the message, value and threshold, and a `context` with the service, the overall status
//! and the time.
//!
//! # Counters
//!
//! [`stats`] gives each target's counts (delivered, failed, retried, dropped); `/metrics` shows
//! them as `health_notifications_total{target="scheme://host:port", index="0", result="..."}`:
//! `index` is the target's position in the list (from 0), which tells apart two targets on one
//! host.

mod deliver;
mod payload;
mod policy;
mod settings;
mod sign;
mod stats;

pub use settings::{Format, NotifyError, NotifySettings, Secret, Target};
pub use stats::{NotifyStats, TargetStats};

pub(crate) use settings::{check_secret, parse_url, resolve};
#[cfg(feature = "prometheus")]
pub(crate) use stats::RESULTS;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use self::deliver::Delivery;
use self::payload::{Details, Notification, Service};
use self::policy::{CheckPolicy, Kind, Rules};
use self::stats::Counters;
use crate::runtime::builder::Attach;
use crate::{
    CheckInfo, CheckSnapshot, Group, HealthConfig, HealthEvent, HealthObserver, HealthRuntime,
    Status,
};

/// The notification counters of `runtime`, per target (none when notifications are off).
pub fn stats(runtime: &HealthRuntime) -> Arc<NotifyStats> {
    runtime.extension::<NotifyStats>()
}

/// Gives every runtime built with notification targets its notifier.
pub(crate) fn attach(attach: &mut Attach, config: &HealthConfig) {
    let settings = &config.notify;
    if !settings.is_enabled() {
        return;
    }
    let targets = match resolve(settings) {
        Ok(targets) => targets,
        Err(error) => {
            // The configuration and the builder refuse these before they get here.
            tracing::error!(%error, "notifications are off");
            return;
        }
    };
    warn_about_secrets(settings, &targets);
    let deliveries: Vec<Arc<Delivery>> = targets
        .into_iter()
        .enumerate()
        .map(|(index, target)| {
            Arc::new(Delivery {
                counters: Arc::new(Counters::new(target.address.clone(), index)),
                target,
                timeout: settings.timeout,
                retries: settings.retries,
                backoff: settings.backoff,
                max_backoff: settings.max_backoff,
            })
        })
        .collect();
    let stats = NotifyStats::new(deliveries.iter().map(|d| d.counters.clone()).collect());
    let binding = Arc::new(Binding {
        version: OnceLock::new(),
        drain_delay: attach.drain_delay,
        listed: settings.checks.clone(),
    });
    let notifier = Arc::new_cyclic(|me| Notifier::new(me.clone(), settings, deliveries, &binding));
    attach.extensions.insert(Arc::new(stats));
    attach.extensions.insert(binding);
    attach.observers.push(notifier);
    attach.on_built.push(Box::new(built));
}

/// Warns, once per runtime built, about secrets that work but may not do what is meant: a
/// signing secret without the `whsec_` prefix (used as raw bytes here, base64-decoded by the
/// reference Standard Webhooks libraries), a header secret sent over `http://`.
fn warn_about_secrets(settings: &NotifySettings, targets: &[settings::Resolved]) {
    let secrets = || {
        settings
            .targets
            .iter()
            .zip(targets)
            .filter_map(|(target, resolved)| {
                target
                    .secret
                    .as_ref()
                    .or(settings.secret.as_ref())
                    .map(|secret| (secret, resolved))
            })
    };
    if let Some((_, resolved)) = secrets().find(
        |(secret, _)| matches!(secret, Secret::Signing(secret) if !secret.starts_with("whsec_")),
    ) {
        tracing::warn!(
            webhook = %resolved.address,
            "a notification signing secret has no `whsec_` prefix: it is used as raw bytes, \
             while the reference Standard Webhooks libraries base64-decode every secret, so \
             their verification fails; prefer a `whsec_` secret (base64 after the prefix)"
        );
    }
    if let Some((_, resolved)) = secrets().find(|(secret, resolved)| {
        matches!(secret, Secret::Header { .. }) && resolved.url.scheme() == "http"
    }) {
        tracing::warn!(
            webhook = %resolved.address,
            "a notification secret header goes to an http:// target: the secret travels in \
             clear text; prefer https://"
        );
    }
}

/// Tells the notifier of `runtime` what it learns once the runtime is built: its version, and
/// which checks there are (a name in the selection that matches none is worth a warning).
fn built(runtime: &HealthRuntime) {
    let binding = runtime.extension::<Binding>();
    let _ = binding.version.set(runtime.version().to_owned());
    let snapshot = runtime.snapshot();
    for name in &binding.listed {
        if name.parse::<Group>().is_err() && snapshot.check(name).is_none() {
            tracing::warn!(
                check = %name,
                "notifications select a check that is not registered (yet): PLUGIN_HEALTH_NOTIFY_CHECKS"
            );
        }
    }
}

/// What the notifier learns after the runtime is built.
#[derive(Debug, Default)]
pub(crate) struct Binding {
    version: OnceLock<String>,
    /// The runtime's drain delay (the builder's, if it set one).
    drain_delay: Duration,
    listed: Vec<String>,
}

impl Binding {
    /// How long what is queued may still take once the runtime is gone: the drain delay.
    fn grace(&self) -> Duration {
        self.drain_delay
    }
}

/// The observer: follows every check's status, decides what to notify, and queues it for each
/// target.
struct Notifier {
    me: Weak<Notifier>,
    rules: Rules,
    /// Names and groups selected; both empty: every check.
    names: Vec<String>,
    groups: Vec<Group>,
    details: bool,
    service_name: String,
    binding: Arc<Binding>,
    service: OnceLock<Arc<Service>>,
    queue: usize,
    state: Mutex<State>,
    /// The drain deadline, for the workers; dropped with the notifier, which tells them the
    /// runtime is gone.
    drain: watch::Sender<Option<Instant>>,
    /// Wakes the scheduler when a check has a new due time.
    wake: Arc<tokio::sync::Notify>,
    no_runtime_logged: AtomicBool,
}

struct State {
    checks: HashMap<Arc<str>, Entry>,
    targets: Vec<Slot>,
    scheduler: Option<AbortHandle>,
}

/// One check as the notifier knows it.
struct Entry {
    info: Arc<CheckInfo>,
    status: Status,
    latest: Option<Latest>,
    /// `None` for a check that is not notified.
    policy: Option<CheckPolicy>,
}

/// A check's latest transition.
struct Latest {
    check: Arc<CheckSnapshot>,
    from: Status,
    duration: Duration,
}

/// One target: its delivery settings and its worker, if one runs.
struct Slot {
    delivery: Arc<Delivery>,
    worker: Option<Worker>,
    drops: DropLog,
}

struct Worker {
    queue: mpsc::Sender<Arc<Notification>>,
    task: AbortHandle,
    /// Notifications put on the queue and not counted yet (delivered or failed) by the worker:
    /// what is lost if its task goes away.
    pending: Arc<AtomicU64>,
}

impl Worker {
    fn is_running(&self) -> bool {
        !self.task.is_finished() && !self.queue.is_closed()
    }
}

impl Slot {
    /// Logs the drops not logged yet, if any.
    fn log_drops(&mut self, queue: usize) {
        let log = &mut self.drops;
        if log.unlogged > 0 {
            tracing::warn!(
                webhook = %self.delivery.target.address,
                dropped = log.unlogged,
                queue,
                "notification queue full: notifications dropped"
            );
            log.unlogged = 0;
            log.logged = Some(std::time::Instant::now());
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        // The last drops, which the rate limit held back.
        let queue = self.queue;
        for slot in &mut self.lock().targets {
            slot.log_drops(queue);
        }
    }
}

/// Drops since the last log line about them, and when that was.
#[derive(Default)]
struct DropLog {
    unlogged: u64,
    logged: Option<std::time::Instant>,
}

/// The least time between two log lines about a full queue.
const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);

impl Notifier {
    fn new(
        me: Weak<Notifier>,
        settings: &NotifySettings,
        deliveries: Vec<Arc<Delivery>>,
        binding: &Arc<Binding>,
    ) -> Self {
        let (groups, names) = settings
            .checks
            .iter()
            .partition::<Vec<&String>, _>(|name| name.parse::<Group>().is_ok());
        Notifier {
            me,
            rules: Rules {
                on_warning: settings.on.contains(&Status::Warning),
                on_critical: settings.on.contains(&Status::Critical),
                restored: settings.restored,
                min_interval: settings.min_interval,
                flap_window: settings.flap_window,
                flap_threshold: settings.flap_threshold,
            },
            names: names.into_iter().cloned().collect(),
            groups: groups.iter().filter_map(|g| g.parse().ok()).collect(),
            details: settings.details,
            service_name: settings.service.clone().unwrap_or_else(program_name),
            binding: binding.clone(),
            service: OnceLock::new(),
            queue: settings.queue,
            state: Mutex::new(State {
                checks: HashMap::new(),
                targets: deliveries
                    .into_iter()
                    .map(|delivery| Slot {
                        delivery,
                        worker: None,
                        drops: DropLog::default(),
                    })
                    .collect(),
                scheduler: None,
            }),
            drain: watch::Sender::new(None),
            wake: Arc::new(tokio::sync::Notify::new()),
            no_runtime_logged: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn selects(&self, info: &CheckInfo) -> bool {
        (self.names.is_empty() && self.groups.is_empty())
            || self.names.iter().any(|name| name == info.name())
            || info
                .groups()
                .iter()
                .any(|group| self.groups.contains(group))
    }

    fn service(&self) -> Arc<Service> {
        if let Some(service) = self.service.get() {
            return service.clone();
        }
        let Some(version) = self.binding.version.get() else {
            return Arc::new(Service {
                name: self.service_name.clone(),
                version: "unknown".to_owned(),
            });
        };
        self.service
            .get_or_init(|| {
                Arc::new(Service {
                    name: self.service_name.clone(),
                    version: version.clone(),
                })
            })
            .clone()
    }

    /// A transition of `name`: decides, and queues what it decided.
    fn transition(&self, snapshot: &Arc<CheckSnapshot>, from: Status, to: Status, took: Duration) {
        let mut state = self.lock();
        let state = &mut *state;
        let name = snapshot.info().name();
        let Some(entry) = state
            .checks
            .get_mut(name)
            .filter(|entry| Arc::ptr_eq(&entry.info, &snapshot.info))
        else {
            return;
        };
        entry.status = to;
        entry.latest = Some(Latest {
            check: snapshot.clone(),
            from,
            duration: took,
        });
        let Some(policy) = entry.policy.as_mut() else {
            return;
        };
        let kind = policy.on_transition(&self.rules, from, to, Instant::now());
        let due = policy.due().is_some();
        if let Some(kind) = kind {
            self.send(state, name, kind);
        }
        if due {
            self.schedule(state);
        }
    }

    /// Builds the notification of check `name` and queues it for every target.
    fn send(&self, state: &mut State, name: &str, kind: Kind) {
        let overall = state
            .checks
            .values()
            .filter(|entry| !entry.info.is_informational())
            .fold(Status::Healthy, |overall, entry| {
                overall.worst(entry.status)
            });
        let Some(entry) = state.checks.get(name) else {
            return;
        };
        let Some(latest) = &entry.latest else {
            return;
        };
        let run = latest.check.state();
        let notification = Arc::new(Notification {
            id: uuid_v4(),
            kind,
            check: entry.info.name.clone(),
            status: entry.status,
            previous_status: latest.from,
            details: self.details.then(|| Details {
                message: run.message().map(|message| cut(message).to_owned()),
                value: run.value(),
                threshold: run.threshold(),
            }),
            groups: entry.info.groups().to_vec(),
            at: run.last_run().unwrap_or_else(SystemTime::now),
            duration: latest.duration,
            overall_status: overall,
            service: self.service(),
        });
        for slot in &mut state.targets {
            self.enqueue(slot, &notification);
        }
    }

    fn enqueue(&self, slot: &mut Slot, notification: &Arc<Notification>) {
        let mut notification = notification.clone();
        for first in [true, false] {
            if !slot.worker.as_ref().is_some_and(Worker::is_running) && !self.start(slot) {
                Counters::add(&slot.delivery.counters.dropped, 1);
                return;
            }
            let Some(worker) = &slot.worker else {
                return;
            };
            // Counted before the worker can take it, so that the worker's count never runs
            // ahead.
            worker.pending.fetch_add(1, Ordering::Relaxed);
            match worker.queue.try_send(notification) {
                Ok(()) => return,
                Err(TrySendError::Full(_)) => {
                    worker.pending.fetch_sub(1, Ordering::Relaxed);
                    self.dropped(slot);
                    return;
                }
                Err(TrySendError::Closed(back)) => {
                    worker.pending.fetch_sub(1, Ordering::Relaxed);
                    notification = back;
                    if first {
                        // The worker went away between the look and the send: once more on
                        // a new one.
                        tracing::warn!(
                            webhook = %slot.delivery.target.address,
                            "notification worker gone while queueing: starting it again"
                        );
                    } else {
                        Counters::add(&slot.delivery.counters.dropped, 1);
                        tracing::warn!(
                            webhook = %slot.delivery.target.address,
                            "notification worker gone again at once: notification dropped"
                        );
                    }
                }
            }
        }
    }

    /// Starts the worker of `slot`, counting what a worker gone before it left undelivered;
    /// `false` without a tokio runtime.
    fn start(&self, slot: &mut Slot) -> bool {
        if let Some(gone) = slot.worker.take() {
            // Its task no longer takes from the queue: what it held, and the notification it
            // was sending, are lost.
            let lost = gone.pending.swap(0, Ordering::Relaxed);
            if lost > 0 {
                Counters::add(&slot.delivery.counters.failed, lost);
                tracing::warn!(
                    webhook = %slot.delivery.target.address,
                    notifications = lost,
                    "notification worker gone (its tokio runtime ended) with notifications \
                     unsent: counted as failed; starting it again"
                );
            }
        }
        let Some(handle) = self.runtime_handle() else {
            return false;
        };
        let (queue, receiver) = mpsc::channel(self.queue);
        let pending = Arc::new(AtomicU64::new(0));
        let task = handle.spawn(deliver::run(
            slot.delivery.clone(),
            receiver,
            pending.clone(),
            self.drain.subscribe(),
            self.binding.grace(),
        ));
        slot.worker = Some(Worker {
            queue,
            task: task.abort_handle(),
            pending,
        });
        true
    }

    /// Counts a notification a full queue refused, and logs drops at most every
    /// [`DROP_LOG_INTERVAL`].
    fn dropped(&self, slot: &mut Slot) {
        Counters::add(&slot.delivery.counters.dropped, 1);
        slot.drops.unlogged += 1;
        if slot
            .drops
            .logged
            .is_none_or(|at| at.elapsed() >= DROP_LOG_INTERVAL)
        {
            slot.log_drops(self.queue);
        }
    }

    /// The tokio runtime to start tasks on; `None` (logged once) outside of one.
    fn runtime_handle(&self) -> Option<tokio::runtime::Handle> {
        let handle = tokio::runtime::Handle::try_current().ok();
        if handle.is_none() && !self.no_runtime_logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "a check changed outside of a tokio runtime: its notification is dropped \
                 (logged once)"
            );
        }
        handle
    }

    /// Makes sure the scheduler runs, and wakes it to look at the due times again.
    fn schedule(&self, state: &mut State) {
        let running = state
            .scheduler
            .as_ref()
            .is_some_and(|task| !task.is_finished());
        if !running {
            let Some(handle) = self.runtime_handle() else {
                return;
            };
            let task = handle.spawn(scheduler(
                self.me.clone(),
                self.wake.clone(),
                self.drain.subscribe(),
            ));
            state.scheduler = Some(task.abort_handle());
        }
        self.wake.notify_one();
    }

    /// Starts the scheduler again if its task is gone (its tokio runtime ended) while a check
    /// has a due time: a transition is not needed for it to run. Cheap while it runs.
    fn keep_scheduling(&self) {
        let mut state = self.lock();
        let gone = state
            .scheduler
            .as_ref()
            .is_none_or(AbortHandle::is_finished);
        if gone
            && state
                .checks
                .values()
                .any(|entry| entry.policy.as_ref().and_then(CheckPolicy::due).is_some())
        {
            self.schedule(&mut state);
        }
    }

    /// Shutting down: sends at once what the interval (or a flap's quiet) holds back, so that a
    /// pending `restored` still goes out within the drain delay, and logs the drops not logged
    /// yet.
    fn flush(&self) {
        let mut state = self.lock();
        let state = &mut *state;
        let now = Instant::now();
        let held: Vec<Arc<str>> = state
            .checks
            .iter()
            .filter(|(_, entry)| entry.policy.as_ref().and_then(CheckPolicy::due).is_some())
            .map(|(name, _)| name.clone())
            .collect();
        for name in held {
            let kind = state
                .checks
                .get_mut(&name)
                .and_then(|entry| entry.policy.as_mut())
                .and_then(|policy| policy.flush(&self.rules, now));
            if let Some(kind) = kind {
                self.send(state, &name, kind);
            }
        }
        for slot in &mut state.targets {
            slot.log_drops(self.queue);
        }
    }

    /// Sends what is due at `now`; the next due time.
    fn fire(&self, now: Instant) -> Option<Instant> {
        let mut state = self.lock();
        let state = &mut *state;
        let due: Vec<Arc<str>> = state
            .checks
            .iter()
            .filter(|(_, entry)| {
                entry
                    .policy
                    .as_ref()
                    .and_then(CheckPolicy::due)
                    .is_some_and(|due| due <= now)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in due {
            let kind = state
                .checks
                .get_mut(&name)
                .and_then(|entry| entry.policy.as_mut())
                .and_then(|policy| policy.on_due(&self.rules, now));
            if let Some(kind) = kind {
                self.send(state, &name, kind);
            }
        }
        state
            .checks
            .values()
            .filter_map(|entry| entry.policy.as_ref().and_then(CheckPolicy::due))
            .min()
    }
}

/// Sends what the checks' due times hold back (the end of an interval, of a flap window). It
/// holds the notifier only while sending: it ends once the notifier is gone.
async fn scheduler(
    notifier: Weak<Notifier>,
    wake: Arc<tokio::sync::Notify>,
    mut gone: watch::Receiver<Option<Instant>>,
) {
    loop {
        let next = match notifier.upgrade() {
            Some(notifier) => notifier.fire(Instant::now()),
            None => return,
        };
        let until_due = async {
            match next {
                Some(next) => tokio::time::sleep_until(next).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = until_due => {}
            () = wake.notified() => {}
            changed = gone.changed() => if changed.is_err() {
                return;
            },
        }
    }
}

impl HealthObserver for Notifier {
    fn on_event(&self, event: &HealthEvent) {
        match event {
            HealthEvent::Registered { check } => {
                let entry = Entry {
                    info: check.clone(),
                    status: Status::Unknown,
                    latest: None,
                    policy: self.selects(check).then(CheckPolicy::default),
                };
                self.lock().checks.insert(check.name.clone(), entry);
            }
            HealthEvent::Deregistered { check } => {
                let mut state = self.lock();
                if state
                    .checks
                    .get(check.name())
                    .is_some_and(|entry| Arc::ptr_eq(&entry.info, check))
                {
                    state.checks.remove(check.name());
                }
            }
            HealthEvent::Transition {
                check,
                from,
                to,
                duration,
            } => self.transition(check, *from, *to, *duration),
            HealthEvent::Ran { .. } => self.keep_scheduling(),
            HealthEvent::Draining { until } => {
                self.flush();
                self.drain.send_replace(Some(*until));
            }
            HealthEvent::Resumed => {
                self.drain.send_replace(None);
            }
        }
    }
}

/// A random UUID, version 4 (RFC 9562 §5.4).
fn uuid_v4() -> String {
    let mut bits = fastrand::u128(..);
    bits = (bits & !(0xf << 76)) | (0x4 << 76);
    bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `message` cut to [`MAX_MESSAGE`](crate::history::MAX_MESSAGE) bytes at a character boundary.
fn cut(message: &str) -> &str {
    let mut end = message.len().min(crate::history::MAX_MESSAGE);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// The name of the running program, for payloads that name no service.
fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| {
            path.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("rules", &self.rules)
            .field("targets", &self.lock().targets.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_4_uuids() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4", "{id}");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(id, uuid_v4());
    }
}
