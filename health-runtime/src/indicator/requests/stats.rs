//! [`RequestStats`]: the statistics a layer records into and the request checks read.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::classify::{GrpcOutcomes, RequestOutcome};
use super::indicators::RequestIndicators;
use super::layer::{RequestStatsLayer, RequestStatsService};
use super::window::{RequestSummary, Window};

/// Latency and outcome of recent requests, over a sliding window of one-second buckets (the
/// last 60 s by default).
///
/// Record into it with its [`layer`](Self::layer) on a tonic or axum server, or by hand with
/// [`record`](Self::record); read it with [`summary`](Self::summary), or register its metrics
/// with [`HealthRuntimeBuilder::with_checks`](crate::HealthRuntimeBuilder::with_checks).
/// Cloning is cheap; clones share the window.
///
/// Recording takes no lock: each second has its own bucket of atomic counters (requests, server
/// failures, client outcomes, total time and a log-linear latency histogram with 3 % wide
/// buckets), reused when
/// the window has moved past it.
///
/// ```
/// use std::time::Duration;
/// use health_runtime::indicator::RequestStats;
///
/// let stats = RequestStats::new();
/// for _ in 0..97 {
///     stats.record(Duration::from_millis(20), true);
/// }
/// for _ in 0..3 {
///     stats.record(Duration::from_millis(20), false);
/// }
/// let summary = stats.summary();
/// assert_eq!(summary.success_rate(), Some(97.0));
/// let p99 = summary.percentile(0.99).unwrap().as_secs_f64() * 1000.0;
/// assert!((p99 - 20.0).abs() < 20.0 * 0.02);
/// ```
#[derive(Clone)]
pub struct RequestStats {
    window: Arc<Window>,
    pub(super) grpc: Arc<GrpcOutcomes>,
    pub(super) server_timeout: Option<Duration>,
    /// Whether the layer counts health calls too.
    pub(super) count_health: bool,
}

impl fmt::Debug for RequestStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestStats")
            .field("window", &self.window())
            .finish_non_exhaustive()
    }
}

impl Default for RequestStats {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestStats {
    /// Statistics over the last 60 seconds.
    pub fn new() -> Self {
        Self::with_window(Duration::from_secs(60))
    }

    /// Statistics over the last `window`, rounded up to whole seconds (1 s to 1 h).
    pub fn with_window(window: Duration) -> Self {
        let seconds = window.as_secs_f64().ceil().clamp(1.0, 3600.0) as usize;
        RequestStats {
            window: Arc::new(Window::new(seconds)),
            grpc: Arc::default(),
            server_timeout: None,
            count_health: false,
        }
    }

    /// The server's own request timeout (tonic's `Server::timeout`, a tower timeout outside this
    /// layer), which drops a request's future when it passes: such a drop is then a server
    /// failure, not a client that went away. Set it before making layers.
    pub fn server_timeout(mut self, timeout: Duration) -> Self {
        self.server_timeout = Some(timeout);
        self
    }

    /// Whether the layer counts health calls
    /// ([`exempt::is_health_path`](crate::exempt::is_health_path): `grpc.health.v1.Health`, the
    /// `plugin.health.v1` report, the HTTP probe paths) as well; by default it leaves them out,
    /// since probes and `Watch` streams are not the application's traffic. Set it before making
    /// layers: a layer keeps the setting it was made with.
    ///
    /// ```
    /// use health_runtime::indicator::RequestStats;
    ///
    /// let everything = RequestStats::new().count_health_calls(true);
    /// # drop(everything);
    /// ```
    pub fn count_health_calls(mut self, count: bool) -> Self {
        self.count_health = count;
        self
    }

    /// Counts responses with the gRPC status `code` (0–16, e.g. `tonic::Code::NotFound as i32`)
    /// as `outcome` from now on, in place of the default split: server failures are `UNKNOWN`,
    /// `DEADLINE_EXCEEDED` (unless the client's own `grpc-timeout` had passed), `INTERNAL`,
    /// `UNAVAILABLE` and `DATA_LOSS`; every other non-OK code is the client's doing. Set it
    /// before making layers: a layer keeps the split it was made with.
    ///
    /// ```
    /// use health_runtime::indicator::{RequestOutcome, RequestStats};
    ///
    /// // A cache whose misses mean the backing store lost data.
    /// let stats = RequestStats::new().grpc_code_outcome(5, RequestOutcome::ServerError);
    /// ```
    pub fn grpc_code_outcome(mut self, code: i32, outcome: RequestOutcome) -> Self {
        Arc::make_mut(&mut self.grpc).set(code, outcome);
        self
    }

    /// The length of the window.
    pub fn window(&self) -> Duration {
        self.window.len()
    }

    /// The layer recording every request of a tower service (a tonic `Server::builder().layer`,
    /// an axum `Router::layer`) into these statistics.
    pub fn layer(&self) -> RequestStatsLayer {
        RequestStatsLayer::new(self.clone())
    }

    /// `service`, recording each of its requests here: the same as `self.layer().layer(service)`,
    /// without importing `tower::Layer`. A tonic server wrapped so keeps its gRPC name:
    /// `Routes::new(stats.wrap(MyServer::new(handler)))`.
    pub fn wrap<S>(&self, service: S) -> RequestStatsService<S> {
        RequestStatsService::new(service, self.clone())
    }

    /// The three metrics, to register with custom thresholds or groups.
    pub fn indicators(&self) -> RequestIndicators {
        RequestIndicators::new(self)
    }

    /// Records one request that took `latency` and ended with `outcome` (`true` for a success,
    /// `false` for a server failure, or a [`RequestOutcome`]).
    pub fn record(&self, latency: Duration, outcome: impl Into<RequestOutcome>) {
        self.count(Some(latency), outcome.into());
    }

    /// Counts one request, with its latency when it got an answer.
    pub(super) fn count(&self, latency: Option<Duration>, outcome: RequestOutcome) {
        self.window.count(latency, outcome);
    }

    /// The requests of the window now.
    pub fn summary(&self) -> RequestSummary {
        self.window.summary()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_window_slides() {
        let stats = RequestStats::with_window(Duration::from_secs(10));
        stats.record(Duration::from_millis(5), false);
        tokio::time::advance(Duration::from_secs(5)).await;
        stats.record(Duration::from_millis(5), true);
        assert_eq!(stats.summary().requests(), 2);
        tokio::time::advance(Duration::from_secs(5)).await;
        // The first second has left the window.
        let summary = stats.summary();
        assert_eq!((summary.requests(), summary.failures()), (1, 0));
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(stats.summary().requests(), 0);
        // Buckets are reused once the window has moved past them.
        stats.record(Duration::from_millis(7), false);
        assert_eq!(stats.summary().failures(), 1);
    }
}
