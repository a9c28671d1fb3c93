//! What became of the notifications, per target: [`NotifyStats`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The notification counters of one runtime, per target: what
/// `health_notifications_total{target, index, result}` shows on `/metrics`. [`of`](super::stats) hands
/// them out.
///
/// ```
/// use health_runtime::HealthRuntime;
/// use health_runtime::notify::{NotifySettings, Target};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let runtime = HealthRuntime::builder()
///     .notify(NotifySettings::new().target(Target::json("http://127.0.0.1:9/hook/SECRET")))
///     .build()?;
/// let stats = health_runtime::notify::stats(&runtime);
/// let target = &stats.targets()[0];
/// assert_eq!(target.target, "http://127.0.0.1:9");
/// assert_eq!(target.index, 0);
/// assert_eq!(stats.index(0).as_ref(), Some(target));
/// assert_eq!((target.delivered, target.failed, target.retried, target.dropped), (0, 0, 0, 0));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct NotifyStats {
    targets: Vec<Arc<Counters>>,
}

/// One target's counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetStats {
    /// The target, as `scheme://host:port`. Several targets can share it (two paths on one
    /// host): [`index`](Self::index) tells them apart.
    pub target: String,
    /// Its position in the list of targets, from 0: unique and stable while the settings are.
    pub index: usize,
    /// Notifications the target accepted (a 2xx answer).
    pub delivered: u64,
    /// Notifications given up: refused (a 4xx other than 408 and 429, a redirect), out of
    /// retries, or still pending when the drain delay ran out.
    pub failed: u64,
    /// Attempts that failed and were tried again.
    pub retried: u64,
    /// Notifications never queued: the target's queue was full, or there was no tokio runtime
    /// to send them from.
    pub dropped: u64,
}

/// The results a notification is counted under, in the order of [`TargetStats`]' fields.
#[cfg(feature = "prometheus")]
pub(crate) const RESULTS: [&str; 4] = ["delivered", "failed", "retried", "dropped"];

/// One target's live counters.
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) target: String,
    pub(crate) index: usize,
    pub(crate) delivered: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dropped: AtomicU64,
}

impl Counters {
    pub(crate) fn new(target: String, index: usize) -> Self {
        Counters {
            target,
            index,
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    fn read(&self) -> TargetStats {
        TargetStats {
            target: self.target.clone(),
            index: self.index,
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

impl NotifyStats {
    pub(crate) fn new(targets: Vec<Arc<Counters>>) -> Self {
        NotifyStats { targets }
    }

    /// Every target's counters now, in the order the targets were configured.
    pub fn targets(&self) -> Vec<TargetStats> {
        self.targets
            .iter()
            .map(|counters| counters.read())
            .collect()
    }

    /// The counters of the target at `index` in the list of targets (from 0).
    pub fn index(&self, index: usize) -> Option<TargetStats> {
        self.targets.get(index).map(|counters| counters.read())
    }

    /// The counters of the target shown as `target` (`scheme://host:port`). When several
    /// targets share that address (two paths on one host), the first of them in the list: use
    /// [`index`](Self::index) for the others.
    pub fn target(&self, target: &str) -> Option<TargetStats> {
        self.targets
            .iter()
            .find(|counters| counters.target == target)
            .map(|counters| counters.read())
    }
}

#[cfg(feature = "prometheus")]
impl TargetStats {
    /// The counts in the order of [`RESULTS`].
    pub(crate) fn counts(&self) -> [u64; 4] {
        [self.delivered, self.failed, self.retried, self.dropped]
    }
}
