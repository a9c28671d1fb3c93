//! The sliding window: one bucket of atomic counters per second, written without a lock, and
//! [`RequestSummary`], what the window holds at one moment.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::classify::RequestOutcome;
use super::histogram::{HISTOGRAM_LEN, histogram_index, histogram_value};

/// A bucket's second while one thread clears it for reuse.
const CLEARING: u64 = u64::MAX;

/// One second of the window.
struct Bucket {
    /// The second (since the stats were created) plus one; 0 for never used, [`CLEARING`] while
    /// being cleared.
    second: AtomicU64,
    requests: AtomicU64,
    failures: AtomicU64,
    client_errors: AtomicU64,
    /// Requests that got an answer, whose latency is in `total_micros` and `histogram`.
    timed: AtomicU64,
    total_micros: AtomicU64,
    histogram: Box<[AtomicU64]>,
}

impl Bucket {
    fn new() -> Self {
        Bucket {
            second: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            client_errors: AtomicU64::new(0),
            timed: AtomicU64::new(0),
            total_micros: AtomicU64::new(0),
            histogram: (0..HISTOGRAM_LEN).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Makes the bucket hold `tag`'s second, clearing it if it held an older one. `false` when
    /// a newer second already holds it (a record that took a whole window to arrive).
    fn claim(&self, tag: u64) -> bool {
        loop {
            let current = self.second.load(Ordering::Acquire);
            if current == tag {
                return true;
            }
            if current == CLEARING {
                // Another request clears it: a few hundred stores, once per second and bucket.
                std::hint::spin_loop();
                continue;
            }
            if current > tag {
                return false;
            }
            if self
                .second
                .compare_exchange(current, CLEARING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.requests.store(0, Ordering::Relaxed);
                self.failures.store(0, Ordering::Relaxed);
                self.client_errors.store(0, Ordering::Relaxed);
                self.timed.store(0, Ordering::Relaxed);
                self.total_micros.store(0, Ordering::Relaxed);
                for count in &*self.histogram {
                    count.store(0, Ordering::Relaxed);
                }
                self.second.store(tag, Ordering::Release);
                return true;
            }
        }
    }
}

/// The buckets of the last seconds, one per second, reused in turn.
pub(super) struct Window {
    started: Instant,
    buckets: Box<[Bucket]>,
}

impl Window {
    /// A window of `seconds` seconds (at least one).
    pub(super) fn new(seconds: usize) -> Self {
        Window {
            started: Instant::now(),
            buckets: (0..seconds.max(1)).map(|_| Bucket::new()).collect(),
        }
    }

    /// The length of the window.
    pub(super) fn len(&self) -> Duration {
        Duration::from_secs(self.buckets.len() as u64)
    }

    /// Counts one request, with its latency when it got an answer.
    pub(super) fn count(&self, latency: Option<Duration>, outcome: RequestOutcome) {
        let second = self.started.elapsed().as_secs();
        let bucket = &self.buckets[(second % self.buckets.len() as u64) as usize];
        if !bucket.claim(second + 1) {
            return;
        }
        bucket.requests.fetch_add(1, Ordering::Relaxed);
        match outcome {
            RequestOutcome::Success => {}
            RequestOutcome::ClientError => {
                bucket.client_errors.fetch_add(1, Ordering::Relaxed);
            }
            RequestOutcome::ServerError => {
                bucket.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(latency) = latency {
            let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            bucket.timed.fetch_add(1, Ordering::Relaxed);
            bucket.total_micros.fetch_add(micros, Ordering::Relaxed);
            bucket.histogram[histogram_index(micros)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The requests of the window now.
    pub(super) fn summary(&self) -> RequestSummary {
        let now = self.started.elapsed().as_secs();
        let len = self.buckets.len() as u64;
        let mut summary = RequestSummary {
            window: self.len(),
            requests: 0,
            failures: 0,
            client_errors: 0,
            timed: 0,
            total_micros: 0,
            histogram: vec![0; HISTOGRAM_LEN],
        };
        for bucket in &*self.buckets {
            let tag = bucket.second.load(Ordering::Acquire);
            if tag == 0 || tag == CLEARING || tag - 1 > now || tag - 1 + len <= now {
                continue;
            }
            summary.add(bucket);
        }
        summary
    }
}

/// The requests recorded in a [`RequestStats`](super::RequestStats) window at one moment.
#[derive(Clone, PartialEq)]
pub struct RequestSummary {
    window: Duration,
    requests: u64,
    failures: u64,
    client_errors: u64,
    timed: u64,
    total_micros: u64,
    histogram: Vec<u64>,
}

impl fmt::Debug for RequestSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSummary")
            .field("window", &self.window)
            .field("requests", &self.requests)
            .field("failures", &self.failures)
            .field("client_errors", &self.client_errors)
            .field("average", &self.average())
            .field("p99", &self.percentile(0.99))
            .finish()
    }
}

impl RequestSummary {
    /// Adds the requests of `bucket`.
    fn add(&mut self, bucket: &Bucket) {
        let requests = bucket.requests.load(Ordering::Relaxed);
        if requests == 0 {
            return;
        }
        self.requests += requests;
        self.failures += bucket.failures.load(Ordering::Relaxed);
        self.client_errors += bucket.client_errors.load(Ordering::Relaxed);
        self.timed += bucket.timed.load(Ordering::Relaxed);
        self.total_micros += bucket.total_micros.load(Ordering::Relaxed);
        for (sum, count) in self.histogram.iter_mut().zip(&*bucket.histogram) {
            *sum += count.load(Ordering::Relaxed);
        }
    }
}

#[allow(clippy::cast_precision_loss)]
impl RequestSummary {
    /// The length of the window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// How many requests finished in the window.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// How many of them the server failed ([`RequestOutcome::ServerError`]).
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// How many of them ended by the client's doing ([`RequestOutcome::ClientError`]); they
    /// do not count as failures.
    pub fn client_errors(&self) -> u64 {
        self.client_errors
    }

    /// The percentage of requests the server did not fail (client outcomes count as served);
    /// `None` without requests.
    pub fn success_rate(&self) -> Option<f64> {
        (self.requests > 0)
            .then(|| (self.requests - self.failures) as f64 * 100.0 / self.requests as f64)
    }

    /// How many of them got an answer, and so a latency: all but those the client abandoned.
    pub fn answered(&self) -> u64 {
        self.timed
    }

    /// The mean latency of the answered requests (exact, not from the histogram); `None`
    /// without any.
    pub fn average(&self) -> Option<Duration> {
        (self.timed > 0).then(|| Duration::from_micros(self.total_micros / self.timed))
    }

    /// The latency below which a fraction `quantile` (0–1) of the requests finished, within
    /// ±1.6 %; `None` without requests.
    pub fn percentile(&self, quantile: f64) -> Option<Duration> {
        if self.timed == 0 {
            return None;
        }
        let total: u64 = self.histogram.iter().sum();
        let rank = ((quantile.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in self.histogram.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(Duration::from_secs_f64(histogram_value(index) / 1e6));
            }
        }
        None
    }
}
