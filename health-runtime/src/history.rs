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

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::runtime::builder::Attach;
use crate::{HealthConfig, HealthEvent, HealthObserver, HealthRuntime, Status};

/// The longest message kept with a transition, in bytes (cut at a character boundary).
pub const MAX_MESSAGE: usize = 256;

pub use crate::config::HistorySettings;

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
    attach.observers.push(history);
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
            } => {
                let message = check.state().message().map(|message| {
                    let mut end = message.len().min(MAX_MESSAGE);
                    while !message.is_char_boundary(end) {
                        end -= 1;
                    }
                    message[..end].to_owned()
                });
                self.record(
                    check.info().name(),
                    Transition {
                        at: SystemTime::now(),
                        instant: Instant::now(),
                        from: *from,
                        to: *to,
                        message,
                        value: check.state().value(),
                        duration: *duration,
                    },
                );
            }
            HealthEvent::Deregistered { check } => self.forget(check.name()),
            _ => {}
        }
    }
}
