//! Per-check history: a bounded ring of each check's status transitions (when, from → to, the
//! message and value of the run that caused it, how long that run took) and uptime ratios over
//! any window from it, kept in memory from the engine's [events](crate::HealthEvent).
//!
//! Memory stays flat however many transitions pass: each check keeps at most
//! [`HistorySettings::per_check`] transitions and the runtime at most
//! [`HistorySettings::total`], the oldest going first, and a message is kept to its first
//! [`MAX_MESSAGE`] bytes. A removed check's history goes with it, unless
//! [`HistorySettings::keep_removed`] keeps it for a check registered again under its name.
//!
//! ```
//! use std::time::Duration;
//! use health_runtime::{Check, HealthRuntime, Status};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = HealthRuntime::builder()
//!     .without_declared_checks()
//!     .with_check(Check::new("db", || async { true }))
//!     .build()?;
//! runtime.check("db").await?;
//! let history = health_runtime::history::of(&runtime);
//! let transitions = history.transitions("db");
//! assert_eq!(transitions.len(), 1);
//! assert_eq!((transitions[0].from, transitions[0].to), (Status::Unknown, Status::Healthy));
//! assert_eq!(history.uptime("db", Duration::from_secs(3600)), Some(1.0));
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::time::Instant;

use crate::runtime::builder::Attach;
use crate::{CheckSnapshot, HealthConfig, HealthEvent, HealthObserver, HealthRuntime, Status};

/// The longest message kept with a transition, in bytes (cut at a character boundary).
pub const MAX_MESSAGE: usize = 256;

pub use crate::config::HistorySettings;

/// The windows the surfaces show uptime over: the last hour and the last day.
pub const UPTIME_WINDOWS: &[(&str, Duration)] = &[
    ("1h", Duration::from_secs(3600)),
    ("24h", Duration::from_secs(24 * 3600)),
];

/// One status transition of a check.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Transition {
    /// When it happened, on the wall clock.
    pub at: SystemTime,
    /// When it happened, on the monotonic clock the uptime is computed on.
    pub instant: Instant,
    /// The status before.
    pub from: Status,
    /// The status after.
    pub to: Status,
    /// The message of the run that caused it, at most [`MAX_MESSAGE`] bytes.
    pub message: Option<String>,
    /// The value of that run.
    pub value: Option<f64>,
    /// How long that run took.
    pub duration: Duration,
}

impl Transition {
    /// The transition `from` → `to` that a run taking `duration` caused, leaving `check`'s
    /// state, now.
    pub(crate) fn of_run(
        check: &CheckSnapshot,
        from: Status,
        to: Status,
        duration: Duration,
    ) -> Self {
        let message = check.state().message().map(|message| {
            let mut end = message.len().min(MAX_MESSAGE);
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message[..end].to_owned()
        });
        Transition {
            // The run's own time, so that every surface shows the same instant.
            at: check.state().last_run().unwrap_or_else(SystemTime::now),
            instant: Instant::now(),
            from,
            to,
            message,
            value: check.state().value(),
            duration,
        }
    }
}

/// The history of every check of one runtime: [`of`] hands it out.
#[derive(Debug, Default)]
pub struct History {
    settings: HistorySettings,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    checks: HashMap<String, Ring>,
    total: usize,
}

/// One check's transitions, oldest first, and the status it had before the oldest kept one
/// (from when), so that a window reaching before the ring still has a start.
#[derive(Debug, Default)]
struct Ring {
    transitions: VecDeque<Transition>,
    before: Option<(Instant, Status)>,
}

/// The history of `runtime`'s checks.
pub fn of(runtime: &HealthRuntime) -> Arc<History> {
    runtime.extension::<History>()
}

/// Keeps `config`'s history for every runtime built.
pub(crate) fn attach(attach: &mut Attach, config: &HealthConfig) {
    let history = Arc::new(History {
        settings: config.history.clone(),
        inner: Mutex::default(),
    });
    attach.extensions.insert(history.clone());
    // A cap of 0 keeps nothing: the engine's events are not even followed.
    if config.history.per_check > 0 && config.history.total > 0 {
        attach.observers.push(history);
    }
}

impl History {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The transitions kept of check `name`, oldest first.
    pub fn transitions(&self, name: &str) -> Vec<Transition> {
        self.lock()
            .checks
            .get(name)
            .map(|ring| ring.transitions.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The names of the checks with a history.
    pub fn checks(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock().checks.keys().cloned().collect();
        names.sort();
        names
    }

    /// How many transitions are kept, over every check.
    pub fn len(&self) -> usize {
        self.lock().total
    }

    /// Whether no transition is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The share of the last `window` that check `name` spent serving (`healthy` or `warning`)
    /// rather than `critical`, from 0 to 1; time `unknown` counts for neither. `None` when the
    /// check has no known status in the window (or no history).
    pub fn uptime(&self, name: &str, window: Duration) -> Option<f64> {
        let now = Instant::now();
        let start = now.checked_sub(window);
        let inner = self.lock();
        let ring = inner.checks.get(name)?;
        let mut segments: Vec<(Instant, Status)> = Vec::with_capacity(ring.transitions.len() + 1);
        segments.extend(ring.before);
        segments.extend(ring.transitions.iter().map(|t| (t.instant, t.to)));
        let (mut up, mut down) = (Duration::ZERO, Duration::ZERO);
        for (index, (from, status)) in segments.iter().enumerate() {
            let until = segments.get(index + 1).map_or(now, |(next, _)| *next);
            let from = start.map_or(*from, |start| (*from).max(start));
            if until <= from {
                continue;
            }
            match status {
                Status::Healthy | Status::Warning => up += until - from,
                Status::Critical => down += until - from,
                Status::Unknown => {}
            }
        }
        let known = up + down;
        (!known.is_zero()).then(|| up.as_secs_f64() / known.as_secs_f64())
    }

    fn record(&self, name: &str, transition: Transition) {
        let settings = &self.settings;
        let mut inner = self.lock();
        let inner = &mut *inner;
        let ring = inner.checks.entry(name.to_owned()).or_default();
        ring.transitions.push_back(transition);
        inner.total += 1;
        if ring.transitions.len() > settings.per_check.max(1) {
            ring.drop_oldest();
            inner.total -= 1;
        }
        while inner.total > settings.total.max(1) {
            // The longest ring gives up its oldest transition.
            let Some(longest) = inner
                .checks
                .values_mut()
                .max_by_key(|ring| ring.transitions.len())
            else {
                break;
            };
            if longest.drop_oldest() {
                inner.total -= 1;
            } else {
                break;
            }
        }
    }

    fn forget(&self, name: &str) {
        if self.settings.keep_removed {
            return;
        }
        let mut inner = self.lock();
        if let Some(ring) = inner.checks.remove(name) {
            inner.total -= ring.transitions.len();
        }
    }
}

/// The history of checks as the surfaces show it (`GET /health/history`, gRPC
/// `GetHealthHistory`, the status page): each check's uptime over [`UPTIME_WINDOWS`] and its
/// transitions, with or without details.
///
/// Serialises to JSON as:
///
/// ```json
/// {
///   "timestamp": "2026-11-25T16:03:26.123Z",
///   "details": true,
///   "checks": {
///     "db": {
///       "uptime": { "1h": 0.9972, "24h": 0.9998 },
///       "transitions": [
///         { "at": "2026-11-25T15:40:02.001Z", "from": "healthy", "to": "critical",
///           "duration_ms": 5001.2, "message": "timed out after 5s", "value": null }
///       ]
///     }
///   }
/// }
/// ```
///
/// Without details a transition has no `message` and no `value`: statuses and times only.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HistoryReport {
    /// When it was taken.
    #[serde(with = "crate::state::timefmt")]
    pub timestamp: SystemTime,
    /// Whether messages and values are shown.
    pub details: bool,
    /// Each check's history, by name.
    pub checks: BTreeMap<String, CheckHistory>,
}

/// One check's entry in a [`HistoryReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CheckHistory {
    /// The share of each of [`UPTIME_WINDOWS`] spent serving (see [`History::uptime`]), by the
    /// window's name; `None` where the check had no known status.
    pub uptime: BTreeMap<&'static str, Option<f64>>,
    /// Its transitions, oldest first.
    pub transitions: Vec<TransitionEntry>,
}

/// One transition as the surfaces show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TransitionEntry {
    /// When it happened.
    #[serde(with = "crate::state::timefmt")]
    pub at: SystemTime,
    /// The status before.
    pub from: Status,
    /// The status after.
    pub to: Status,
    /// How long the run that caused it took, in milliseconds.
    pub duration_ms: f64,
    /// The run's message and value, when details are shown.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub details: Option<TransitionDetails>,
}

/// What a transition shows with details.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TransitionDetails {
    /// The message of the run that caused it, at most [`MAX_MESSAGE`] bytes.
    pub message: Option<String>,
    /// The value of that run.
    pub value: Option<f64>,
}

impl TransitionEntry {
    /// `transition` as shown, with its message and value only when `details`.
    pub fn new(transition: &Transition, details: bool) -> Self {
        TransitionEntry {
            at: transition.at,
            from: transition.from,
            to: transition.to,
            duration_ms: transition.duration.as_secs_f64() * 1000.0,
            details: details.then(|| TransitionDetails {
                message: transition.message.clone(),
                value: transition.value,
            }),
        }
    }
}

impl History {
    /// The history of the checks named, as shown with or without `details`. A name without a
    /// history gets an empty entry.
    pub fn report<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
        details: bool,
    ) -> HistoryReport {
        let checks = names
            .into_iter()
            .map(|name| (name.to_owned(), self.of_check(name, details)))
            .collect();
        HistoryReport {
            timestamp: SystemTime::now(),
            details,
            checks,
        }
    }

    /// Check `name`'s uptime over each of [`UPTIME_WINDOWS`], by the window's name.
    pub fn uptimes(&self, name: &str) -> BTreeMap<&'static str, Option<f64>> {
        UPTIME_WINDOWS
            .iter()
            .map(|(window, span)| (*window, self.uptime(name, *span)))
            .collect()
    }

    fn of_check(&self, name: &str, details: bool) -> CheckHistory {
        CheckHistory {
            uptime: self.uptimes(name),
            transitions: self
                .lock()
                .checks
                .get(name)
                .map(|ring| {
                    ring.transitions
                        .iter()
                        .map(|transition| TransitionEntry::new(transition, details))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

impl Ring {
    fn drop_oldest(&mut self) -> bool {
        match self.transitions.pop_front() {
            Some(oldest) => {
                self.before = Some((oldest.instant, oldest.to));
                true
            }
            None => false,
        }
    }
}

impl HealthObserver for History {
    fn on_event(&self, event: &HealthEvent) {
        match event {
            HealthEvent::Transition {
                check,
                from,
                to,
                duration,
            } => self.record(
                check.info().name(),
                Transition::of_run(check, *from, *to, *duration),
            ),
            HealthEvent::Deregistered { check } => self.forget(check.name()),
            _ => {}
        }
    }
}
