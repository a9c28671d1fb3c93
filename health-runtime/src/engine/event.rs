//! What the engine publishes besides the snapshot: an event for every check added or removed,
//! every finished run and every status transition, and the start and end of a drain.
//!
//! Two ways to follow them, as tracing offers layers and tokio offers `on_task_spawn`:
//!
//! - a [`HealthObserver`] registered on the builder
//!   ([`observe`](crate::HealthRuntimeBuilder::observe)) sees every event, synchronously, from
//!   the first run on: for counters and histograms that must not miss one;
//! - [`HealthRuntime::events`](crate::HealthRuntime::events) hands out a broadcast receiver at
//!   any time: for async consumers that may start late and may lag (a lagging receiver is told
//!   how many events it missed).
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use health_runtime::{Check, HealthEvent, HealthRuntime, Status};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runs = Arc::new(AtomicU64::new(0));
//! let counted = runs.clone();
//! let runtime = HealthRuntime::builder()
//!     .with_check(Check::new("flaky", || async { Err::<(), _>("down") }))
//!     .observe(move |event: &HealthEvent| {
//!         if let HealthEvent::Ran { .. } = event {
//!             counted.fetch_add(1, Ordering::Relaxed);
//!         }
//!     })
//!     .build()?;
//! let mut events = runtime.events();
//! runtime.check("flaky").await?;
//! assert_eq!(runs.load(Ordering::Relaxed), 1);
//! // The broadcast sees the run, then the transition it caused.
//! assert!(matches!(events.recv().await?, HealthEvent::Ran { .. }));
//! match events.recv().await? {
//!     HealthEvent::Transition { from, to, .. } => {
//!         assert_eq!((from, to), (Status::Unknown, Status::Critical));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::{CheckInfo, CheckSnapshot, Status};

/// Something that happened to the checks of a runtime.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum HealthEvent {
    /// A check was added. Its events come in order: `Registered`, its runs, `Deregistered`.
    Registered {
        /// Its settings.
        check: Arc<CheckInfo>,
    },
    /// A check was removed.
    Deregistered {
        /// Its settings, the same `Arc` as its `Registered` event's (a check registered again
        /// under the same name is another `Arc`).
        check: Arc<CheckInfo>,
    },
    /// A run finished, whoever caused it (the monitor, a probe, a report). Not sent for a run
    /// of a check that was removed, or replaced by one of the same name, while it ran.
    Ran {
        /// The check with the state the run produced.
        check: Arc<CheckSnapshot>,
        /// How long the run took.
        duration: Duration,
        /// Whether the run failed: anything but a healthy result, a timeout shown as healthy
        /// (`on_timeout = "healthy"`) included. Counted even while `failure_threshold` still
        /// holds the failure back from the shown status.
        failed: bool,
    },
    /// A run changed the status a check shows (after `failure_threshold` damping). Follows the
    /// [`Ran`](Self::Ran) event of that run.
    Transition {
        /// The check with its new state.
        check: Arc<CheckSnapshot>,
        /// The status before.
        from: Status,
        /// The status now.
        to: Status,
        /// How long the run that caused it took.
        duration: Duration,
    },
    /// Shutdown began: every name answers not serving until `until`, then streams end. Sent
    /// again when a later call shortens the drain. Runs, and their transitions, go on while
    /// draining, though the published state stays frozen until [`Resumed`](Self::Resumed).
    Draining {
        /// When the drain delay ends.
        until: Instant,
    },
    /// The drain was undone: names serve with their current status again.
    Resumed,
}

impl HealthEvent {
    /// The name of the check the event is about, if it is about one.
    pub fn check_name(&self) -> Option<&str> {
        match self {
            HealthEvent::Registered { check } => Some(check.name()),
            HealthEvent::Deregistered { check } => Some(check.name()),
            HealthEvent::Ran { check, .. } | HealthEvent::Transition { check, .. } => {
                Some(check.info().name())
            }
            HealthEvent::Draining { .. } | HealthEvent::Resumed => None,
        }
    }
}

/// Sees every [`HealthEvent`] of a runtime, synchronously, on the task that caused it.
///
/// Register one with [`HealthRuntimeBuilder::observe`](crate::HealthRuntimeBuilder::observe).
/// `on_event` runs inside the engine (a run's task, `register`, `shutdown`), with no lock of the
/// engine held: keep it short and never block; hand slow work (network, files) to a task through
/// a channel. A panic in it is caught and logged. A closure `Fn(&HealthEvent)` is an observer.
///
/// The events of one check come in the order they happen; events of different checks, and
/// `Draining`/`Resumed`, may interleave in any order. An observer that acts on the runtime from
/// `on_event` (calls `shutdown`, say) may cause events that the observers after it see before
/// the one it was handed. An observer that holds a [`HealthRuntime`](crate::HealthRuntime)
/// keeps the runtime alive (the runtime holds its observers): to act on the runtime, prefer a
/// task following [`HealthRuntime::events`](crate::HealthRuntime::events), stopped with the
/// application.
pub trait HealthObserver: Send + Sync + 'static {
    /// Called once per event, in the order they happen for one check.
    fn on_event(&self, event: &HealthEvent);
}

impl<F: Fn(&HealthEvent) + Send + Sync + 'static> HealthObserver for F {
    fn on_event(&self, event: &HealthEvent) {
        self(event);
    }
}

/// How many events a broadcast receiver may fall behind before it is told it lagged.
const BROADCAST_CAPACITY: usize = 1024;

/// Where the engine sends its events: the observers, then the broadcast.
pub(crate) struct Events {
    observers: Vec<Arc<dyn HealthObserver>>,
    broadcast: broadcast::Sender<HealthEvent>,
}

impl Events {
    pub(crate) fn new(observers: Vec<Arc<dyn HealthObserver>>) -> Self {
        Events {
            observers,
            broadcast: broadcast::Sender::new(BROADCAST_CAPACITY),
        }
    }

    /// Whether anyone listens; events are built only then.
    pub(crate) fn listened(&self) -> bool {
        !self.observers.is_empty() || self.broadcast.receiver_count() > 0
    }

    /// Sends `event`, built only when someone listens.
    pub(crate) fn emit(&self, event: impl FnOnce() -> HealthEvent) {
        if !self.listened() {
            return;
        }
        self.send(event());
    }

    /// Sends the events queued for one check, in their order, unless another caller is
    /// already sending them (it then sends these too). An observer that causes another event of
    /// the same check from `on_event` queues it behind the one being sent, instead of
    /// overtaking it or waiting for itself.
    pub(crate) fn flush(&self, queue: &Mutex<EventQueue>) {
        {
            let mut queue = lock(queue);
            if queue.sending || queue.pending.is_empty() {
                return;
            }
            queue.sending = true;
        }
        loop {
            let next = {
                let mut queue = lock(queue);
                let next = queue.pending.pop_front();
                if next.is_none() {
                    queue.sending = false;
                }
                next
            };
            match next {
                Some(event) => self.send(event),
                None => return,
            }
        }
    }

    fn send(&self, event: HealthEvent) {
        for observer in &self.observers {
            // A panicking observer must not take the run, `register` or `shutdown` with it, nor
            // keep the event from the observers after it.
            let seen = std::panic::catch_unwind(AssertUnwindSafe(|| observer.on_event(&event)));
            if let Err(payload) = seen {
                let message = crate::engine::panic_message(&*payload);
                tracing::error!(event = ?event, %message, "a health observer panicked");
            }
        }
        // No receiver is not an error: nobody follows the broadcast right now.
        let _ = self.broadcast.send(event);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<HealthEvent> {
        self.broadcast.subscribe()
    }
}

/// The events of one check not sent yet, queued in the order they happened.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    pending: VecDeque<HealthEvent>,
    /// Whether a caller is sending them now.
    sending: bool,
}

impl EventQueue {
    /// Queues `event`; [`Events::flush`] sends it.
    pub(crate) fn push(&mut self, event: HealthEvent) {
        self.pending.push_back(event);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("observers", &self.observers.len())
            .field("receivers", &self.broadcast.receiver_count())
            .finish()
    }
}
