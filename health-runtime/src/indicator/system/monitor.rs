//! The background sampling: one task per [`SystemIndicators`](super::SystemIndicators) reading its
//! source every interval on the blocking pool, and [`ResourceMonitor`], a handle on the samples.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::watch;

use super::reading::{ResourceReading, ResourceSample};
use super::source::ResourceSource;

/// The state shared by the sampler task and the three checks.
pub(super) struct Sampler {
    latest: watch::Sender<Option<Arc<ResourceSample>>>,
    source: Mutex<Option<Box<dyn ResourceSource>>>,
    interval: Mutex<Duration>,
    started: AtomicBool,
}

impl Sampler {
    pub(super) fn new() -> Self {
        Sampler {
            latest: watch::Sender::new(None),
            source: Mutex::new(None),
            interval: Mutex::new(Duration::from_secs(5)),
            started: AtomicBool::new(false),
        }
    }

    /// The latest sample, if one was taken.
    pub(super) fn latest(&self) -> Option<Arc<ResourceSample>> {
        self.latest.borrow().clone()
    }

    /// Reads from `source` from now on (until the task has started).
    pub(super) fn set_source(&self, source: Box<dyn ResourceSource>) {
        *self.source.lock().unwrap_or_else(PoisonError::into_inner) = Some(source);
    }

    /// Reads from `source()` unless a source was set or the task has started.
    pub(super) fn default_source(&self, source: impl FnOnce() -> Box<dyn ResourceSource>) {
        let mut current = self.source.lock().unwrap_or_else(PoisonError::into_inner);
        if current.is_none() && !self.started.load(Ordering::Acquire) {
            *current = Some(source());
        }
    }

    pub(super) fn interval(&self) -> Duration {
        *self.interval.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn set_interval(&self, interval: Duration) {
        *self.interval.lock().unwrap_or_else(PoisonError::into_inner) = interval;
    }

    /// Starts the sampler task on the current Tokio runtime, once.
    pub(super) fn ensure_started(self: &Arc<Self>) {
        if self.started.load(Ordering::Acquire) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(source) = self
            .source
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        handle.spawn(sample_loop(Arc::downgrade(self), source));
    }
}

/// Samples every interval, on the blocking pool, until the checks are gone.
async fn sample_loop(sampler: Weak<Sampler>, mut source: Box<dyn ResourceSource>) {
    loop {
        let sampled = tokio::task::spawn_blocking(move || {
            let reading = std::panic::catch_unwind(AssertUnwindSafe(|| source.sample()));
            (source, reading)
        })
        .await;
        let Ok((returned, reading)) = sampled else {
            // The blocking pool is shutting down with the runtime.
            return;
        };
        source = returned;
        let reading = reading.unwrap_or_else(|panic| {
            let message = crate::engine::panic_message(panic.as_ref());
            tracing::warn!(message, "the resource source panicked");
            ResourceReading::failed(format!("the resource source panicked: {message}"))
        });
        let Some(shared) = sampler.upgrade() else {
            return;
        };
        let pending = reading.is_pending();
        shared
            .latest
            .send_replace(Some(Arc::new(ResourceSample::now(reading))));
        let mut delay = shared.interval();
        if pending {
            // CPU usage needs a second sample; take it soon rather than an interval later.
            delay = delay.min(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL + Duration::from_millis(50));
        }
        drop(shared);
        tokio::time::sleep(delay).await;
    }
}

/// A handle on the samples of a [`SystemIndicators`](super::SystemIndicators).
#[derive(Clone)]
pub struct ResourceMonitor {
    sampler: Arc<Sampler>,
}

impl fmt::Debug for ResourceMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceMonitor")
            .field("latest", &self.latest())
            .finish()
    }
}

impl ResourceMonitor {
    pub(super) fn new(sampler: Arc<Sampler>) -> Self {
        ResourceMonitor { sampler }
    }

    /// The latest sample, if one was taken.
    pub fn latest(&self) -> Option<Arc<ResourceSample>> {
        self.sampler.latest()
    }

    /// Waits until a sample with no pending reading has been taken (the sampler must be
    /// running: see [`HealthRuntime::start`](crate::HealthRuntime::start)).
    pub async fn settled(&self) -> Arc<ResourceSample> {
        let mut receiver = self.sampler.latest.subscribe();
        loop {
            let latest = receiver.borrow_and_update().clone();
            if let Some(sample) = latest.filter(|sample| !sample.reading.is_pending()) {
                return sample;
            }
            if receiver.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
