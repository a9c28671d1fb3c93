//! Request statistics: a tower layer recording every request's latency and outcome into a
//! sliding window, and the `request_success_rate`, `avg_response_time` and `p99_response_time`
//! checks that read it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Buf as _;
use http::{Request, Response};
use tokio::time::Instant;

mod classify;

use classify::GrpcOutcomes;
pub use classify::RequestOutcome;
use crate::{Check, CheckOutcome, Group, HealthConfig, Status};

/// Sub-buckets per power of two in the latency histogram: 32, so a bucket is at most 1/32
/// (3.1 %) of its values wide and a percentile read at its midpoint is within ±1.6 %.
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Latencies are recorded in microseconds up to 2^36 µs (about 19 hours); longer ones land in
/// the last bucket.
const MAX_EXPONENT: u32 = 35;
const HISTOGRAM_LEN: usize = ((MAX_EXPONENT - SUB_BITS + 2) as usize) * SUB as usize;
/// A bucket's second while one thread clears it for reuse.
const CLEARING: u64 = u64::MAX;

fn histogram_index(micros: u64) -> usize {
    let micros = micros.min((1 << (MAX_EXPONENT + 1)) - 1);
    if micros < SUB {
        return micros as usize;
    }
    let exponent = 63 - micros.leading_zeros();
    let shift = exponent - SUB_BITS;
    (((exponent - SUB_BITS + 1) as usize) << SUB_BITS) + ((micros >> shift) & (SUB - 1)) as usize
}

/// The midpoint of a histogram bucket, in microseconds.
fn histogram_value(index: usize) -> f64 {
    let index = index as u64;
    if index < SUB {
        return index as f64;
    }
    let shift = (index >> SUB_BITS) - 1;
    let low = ((index & (SUB - 1)) | SUB) << shift;
    let width = 1u64 << shift;
    #[allow(clippy::cast_precision_loss)]
    let midpoint = low as f64 + (width as f64 - 1.0) / 2.0;
    midpoint
}

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

struct Window {
    started: Instant,
    buckets: Box<[Bucket]>,
}

/// Latency and outcome of recent requests, over a sliding window of one-second buckets (the
/// last 60 s by default).
///
/// Record into it with its [`layer`](Self::layer) on a tonic or axum server, or by hand with
/// [`record`](Self::record); read it with [`summary`](Self::summary), or register its metrics
/// with [`HealthRuntimeBuilder::request_stats`](crate::HealthRuntimeBuilder::request_stats).
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
    grpc: Arc<GrpcOutcomes>,
    server_timeout: Option<Duration>,
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
            window: Arc::new(Window {
                started: Instant::now(),
                buckets: (0..seconds).map(|_| Bucket::new()).collect(),
            }),
            grpc: Arc::default(),
            server_timeout: None,
        }
    }

    /// The server's own request timeout (tonic's `Server::timeout`, a tower timeout outside this
    /// layer), which drops a request's future when it passes: such a drop is then a server
    /// failure, not a client that went away. Set it before making layers.
    pub fn server_timeout(mut self, timeout: Duration) -> Self {
        self.server_timeout = Some(timeout);
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
        Duration::from_secs(self.window.buckets.len() as u64)
    }

    /// The layer recording every request of a tower service (a tonic `Server::builder().layer`,
    /// an axum `Router::layer`) into these statistics.
    pub fn layer(&self) -> RequestStatsLayer {
        RequestStatsLayer {
            stats: self.clone(),
        }
    }

    /// `service`, recording each of its requests here: the same as `self.layer().layer(service)`,
    /// without importing `tower::Layer`. A tonic server wrapped so keeps its gRPC name:
    /// `Routes::new(stats.wrap(MyServer::new(handler)))`.
    pub fn wrap<S>(&self, service: S) -> RequestStatsService<S> {
        RequestStatsService {
            inner: service,
            stats: self.clone(),
        }
    }

    /// The three metrics, to register with custom thresholds or groups.
    pub fn metrics(&self) -> RequestMetrics {
        RequestMetrics::new(self)
    }

    /// Records one request that took `latency` and ended with `outcome` (`true` for a success,
    /// `false` for a server failure, or a [`RequestOutcome`]).
    pub fn record(&self, latency: Duration, outcome: impl Into<RequestOutcome>) {
        self.count(Some(latency), outcome.into());
    }

    /// Counts one request, with its latency when it got an answer.
    fn count(&self, latency: Option<Duration>, outcome: RequestOutcome) {
        let window = &*self.window;
        let second = window.started.elapsed().as_secs();
        let bucket = &window.buckets[(second % window.buckets.len() as u64) as usize];
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
    pub fn summary(&self) -> RequestSummary {
        let window = &*self.window;
        let now = window.started.elapsed().as_secs();
        let len = window.buckets.len() as u64;
        let mut summary = RequestSummary {
            window: self.window(),
            requests: 0,
            failures: 0,
            client_errors: 0,
            timed: 0,
            total_micros: 0,
            histogram: vec![0; HISTOGRAM_LEN],
        };
        for bucket in &*window.buckets {
            let tag = bucket.second.load(Ordering::Acquire);
            if tag == 0 || tag == CLEARING || tag - 1 > now || tag - 1 + len <= now {
                continue;
            }
            let requests = bucket.requests.load(Ordering::Relaxed);
            if requests == 0 {
                continue;
            }
            summary.requests += requests;
            summary.failures += bucket.failures.load(Ordering::Relaxed);
            summary.client_errors += bucket.client_errors.load(Ordering::Relaxed);
            summary.timed += bucket.timed.load(Ordering::Relaxed);
            summary.total_micros += bucket.total_micros.load(Ordering::Relaxed);
            for (sum, count) in summary.histogram.iter_mut().zip(&*bucket.histogram) {
                *sum += count.load(Ordering::Relaxed);
            }
        }
        summary
    }
}

/// The requests recorded in a [`RequestStats`] window at one moment.
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

/// A tower [`Layer`](tower_layer::Layer) recording each request's latency and outcome into a
/// [`RequestStats`]. From [`RequestStats::layer`].
///
/// It works on any `http` service, so on tonic and axum servers alike. Put it on your own
/// services only: the health services' probes and `Watch` streams are not the traffic it should
/// measure.
///
/// ```no_run
/// use health_runtime::HealthRuntime;
/// use health_runtime::indicator::RequestStats;
/// use tower_layer::Layer as _;
///
/// # async fn run<S>(my_service: S) -> Result<(), Box<dyn std::error::Error>>
/// # where
/// #     S: tower_service::Service<http::Request<health_runtime::indicator::StatsRequestBody<tonic::body::Body>>, Response = http::Response<tonic::body::Body>, Error = std::convert::Infallible>
/// #         + tonic::server::NamedService + Clone + Send + Sync + 'static,
/// #     S::Future: Send + 'static,
/// # {
/// let stats = RequestStats::new();
/// let health = HealthRuntime::builder().with_checks(stats.clone()).build()?;
/// tonic::transport::Server::builder()
///     .add_routes(health.grpc_routes())
///     .add_service(stats.layer().layer(my_service))
///     .serve("127.0.0.1:50051".parse()?)
///     .await?;
/// # Ok(())
/// # }
/// ```
///
/// The statistics measure the server, not its clients. Each request ends as a
/// [`RequestOutcome`]:
/// - gRPC (`content-type: application/grpc...`): by its `grpc-status`, from the headers of a
///   trailers-only response or else from the trailers. `UNKNOWN`, `INTERNAL`, `UNAVAILABLE`,
///   `DATA_LOSS` and a `DEADLINE_EXCEEDED` the server set are server failures; the other codes
///   (`NOT_FOUND`, `INVALID_ARGUMENT`, a deadline the client's own `grpc-timeout` set, tonic's
///   answer to a request it could not decode, ...) are the client's doing ([`RequestStats::grpc_code_outcome`] changes the split).
///   A response that ends without a `grpc-status`, or with an HTTP status other than 200 and
///   not 4xx, is a server failure.
/// - plain HTTP: 5xx is a server failure, 4xx the client's doing.
/// - the service returned an error, the response body failed, or the handler panicked: a
///   server failure.
/// - abandoned before its response ended without a panic, or answered after its request body
///   failed (the client went away, cancelled or reset its stream): the client's doing.
///
/// The latency runs from the moment the request was fully received (its body ended) until the
/// response body ends: a client that sends its request slowly does not count as slow serving,
/// and a streaming response counts for its whole length.
#[derive(Debug, Clone)]
pub struct RequestStatsLayer {
    stats: RequestStats,
}

impl<S> tower_layer::Layer<S> for RequestStatsLayer {
    type Service = RequestStatsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestStatsService {
            inner,
            stats: self.stats.clone(),
        }
    }
}

/// The service made by [`RequestStatsLayer`].
#[derive(Debug, Clone)]
pub struct RequestStatsService<S> {
    inner: S,
    stats: RequestStats,
}

/// A layered tonic service keeps its gRPC name, so it can go into `tonic::service::Routes` as
/// it is: `Routes::new(stats.layer().layer(MyServer::new(handler)))`.
#[cfg(feature = "grpc")]
impl<S: tonic::server::NamedService> tonic::server::NamedService for RequestStatsService<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for RequestStatsService<S>
where
    S: tower_service::Service<Request<StatsRequestBody<ReqBody>>, Response = Response<ResBody>>,
    ReqBody: http_body::Body,
    ResBody: http_body::Body,
{
    type Response = Response<StatsBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let received = Arc::new(Received {
            started: Instant::now(),
            at: AtomicU64::new(0),
            broken: std::sync::atomic::AtomicBool::new(false),
        });
        if request.body().is_end_stream() {
            received.mark();
        }
        let deadline = classify::grpc_timeout(request.headers());
        let framing = is_grpc(request.headers()).then(Framing::default);
        let request = request.map(|inner| StatsRequestBody {
            inner,
            received: received.clone(),
            framing,
        });
        ResponseFuture {
            inner: self.inner.call(request),
            recorder: Some(Recorder {
                stats: self.stats.clone(),
                received,
                deadline,
                done: false,
            }),
        }
    }
}

/// When the request was fully received: latency counts from then, so a client that sends its
/// request slowly does not make the server look slow.
struct Received {
    started: Instant,
    /// Nanoseconds from `started` to the request's end, plus one; 0 until then.
    at: AtomicU64,
    /// Whether the request body failed: the client reset its stream or the connection broke.
    /// Whatever the server answers then (tonic answers `INTERNAL`), the client caused it.
    broken: std::sync::atomic::AtomicBool,
}

impl Received {
    fn mark(&self) {
        let nanos = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        let _ = self
            .at
            .compare_exchange(0, nanos + 1, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The time since the request was fully received (since it began, if it never was).
    fn latency(&self) -> Duration {
        let elapsed = self.started.elapsed();
        match self.at.load(Ordering::Acquire) {
            0 => elapsed,
            at => elapsed.saturating_sub(Duration::from_nanos(at - 1)),
        }
    }
}

/// Records one request once. Dropped before it was finished, it is a server failure while
/// panicking (the handler panicked) and the client's doing otherwise (it went away).
struct Recorder {
    stats: RequestStats,
    received: Arc<Received>,
    deadline: Option<Duration>,
    done: bool,
}

impl Recorder {
    fn finish(&mut self, verdict: Verdict) {
        if self.done {
            return;
        }
        self.done = true;
        let outcome = match verdict {
            _ if self.received.broken.load(Ordering::Acquire) => RequestOutcome::ClientError,
            Verdict::Outcome(outcome) => outcome,
            // tonic's own answer to a request it could not decode: the client's.
            Verdict::Grpc {
                request_error: true,
                ..
            } => RequestOutcome::ClientError,
            Verdict::Grpc { code, .. } => {
                let since_start = self.received.started.elapsed();
                self.stats.grpc.of(code, since_start, self.deadline)
            }
            // A gRPC response that ended without a status.
            Verdict::FromTrailers => RequestOutcome::ServerError,
        };
        self.stats.count(Some(self.received.latency()), outcome);
    }

    /// The request was dropped before its answer ended: a client that went away (no latency:
    /// it got no answer), unless the server's own timeout passed.
    fn abandon(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let elapsed = self.received.started.elapsed();
        let timed_out = self
            .stats
            .server_timeout
            .is_some_and(|timeout| elapsed >= timeout.mul_f64(0.99))
            && self.deadline.is_none_or(|deadline| deadline > elapsed);
        if timed_out {
            self.stats
                .count(Some(self.received.latency()), RequestOutcome::ServerError);
        } else {
            self.stats.count(None, RequestOutcome::ClientError);
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.abandon();
    }
}

/// Finishes the request as a server failure if dropped while armed: set around every poll of
/// the service and its body, it fires only when that poll panicked.
struct Unwinding<'a>(Option<&'a mut Option<Recorder>>);

impl<'a> Unwinding<'a> {
    fn disarm(mut self) -> &'a mut Option<Recorder> {
        self.0.take().expect("armed once")
    }
}

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        if let Some(Some(recorder)) = self.0.as_mut().map(|recorder| recorder.as_mut()) {
            recorder.finish(Verdict::Outcome(RequestOutcome::ServerError));
        }
    }
}

/// How a response is judged once its body ends.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    Outcome(RequestOutcome),
    /// A gRPC status; `request_error` when it is tonic's answer to a request it could not
    /// decode.
    Grpc {
        code: i32,
        request_error: bool,
    },
    /// A gRPC response whose `grpc-status` comes in the trailers.
    FromTrailers,
}

impl Verdict {
    /// The verdict of a gRPC status in headers or trailers; `None` without one.
    fn of_grpc(headers: &http::HeaderMap) -> Option<Verdict> {
        let code = classify::grpc_status(headers)?;
        Some(Verdict::Grpc {
            code,
            request_error: classify::is_request_error(code, headers),
        })
    }
}

/// gRPC over HTTP/2 (`application/grpc`, `application/grpc+proto`, ...), not gRPC-Web, whose
/// status travels in the body: that one is judged as plain HTTP.
fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.as_bytes().strip_prefix(b"application/grpc"))
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'+' || rest[0] == b';')
}

fn verdict<B>(response: &Response<B>) -> Verdict {
    if !is_grpc(response.headers()) {
        return Verdict::Outcome(classify::http_outcome(response.status()));
    }
    if response.status() != http::StatusCode::OK {
        return Verdict::Outcome(match classify::http_outcome(response.status()) {
            RequestOutcome::ClientError => RequestOutcome::ClientError,
            _ => RequestOutcome::ServerError,
        });
    }
    match Verdict::of_grpc(response.headers()) {
        Some(verdict) => verdict,
        None => Verdict::FromTrailers,
    }
}

pin_project_lite::pin_project! {
    /// A request body that notes when the request has been fully received, and whether it
    /// broke or ended in the middle of a gRPC message. From [`RequestStatsService`], which hands
    /// it to the service it wraps.
    pub struct StatsRequestBody<B> {
        #[pin]
        inner: B,
        received: Arc<Received>,
        framing: Option<Framing>,
    }
}

/// Where a gRPC request body is in its length-prefixed messages (gRPC over HTTP/2: a flag byte
/// and a 4-byte big-endian length before each message).
#[derive(Debug, Default)]
struct Framing {
    /// Bytes of the current 5-byte prefix seen so far.
    prefix: usize,
    length: [u8; 4],
    /// Bytes of the current message still to come.
    remaining: u64,
    /// A message's flag byte was neither 0 nor 1.
    bad_flag: bool,
}

impl Framing {
    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.remaining > 0 {
                let taken = data
                    .len()
                    .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                self.remaining -= taken as u64;
                data = &data[taken..];
                continue;
            }
            if self.prefix == 0 {
                // The compressed flag: 0 or 1, nothing else.
                self.bad_flag |= data[0] > 1;
            } else {
                self.length[self.prefix - 1] = data[0];
            }
            self.prefix += 1;
            data = &data[1..];
            if self.prefix == 5 {
                self.prefix = 0;
                self.remaining = u64::from(u32::from_be_bytes(self.length));
            }
        }
    }

    /// Whether the body ended between well-formed messages, not in one.
    fn complete(&self) -> bool {
        self.prefix == 0 && self.remaining == 0 && !self.bad_flag
    }
}

impl<B> fmt::Debug for StatsRequestBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatsRequestBody").finish_non_exhaustive()
    }
}

impl<B: http_body::Body> http_body::Body for StatsRequestBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let polled = ready!(this.inner.as_mut().poll_frame(cx));
        let ended = match &polled {
            None => true,
            Some(Ok(frame)) => {
                if let (Some(framing), Some(data)) = (this.framing.as_mut(), frame.data_ref()) {
                    // Hyper's chunks are contiguous; a body in pieces is not followed further.
                    if data.chunk().len() == data.remaining() {
                        framing.feed(data.chunk());
                    } else {
                        *this.framing = None;
                    }
                }
                this.inner.is_end_stream()
            }
            Some(Err(_)) => {
                this.received.broken.store(true, Ordering::Release);
                false
            }
        };
        if ended {
            this.received.mark();
            // A request cut off inside a message is the client's doing, whatever the server
            // answers (tonic answers `INTERNAL`).
            if this
                .framing
                .as_ref()
                .is_some_and(|framing| !framing.complete())
            {
                this.received.broken.store(true, Ordering::Release);
            }
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RequestStatsService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        recorder: Option<Recorder>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<StatsBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let unwinding = Unwinding(Some(this.recorder));
        let result = this.inner.poll(cx);
        let recorder = unwinding.disarm();
        let result = ready!(result);
        let mut recorder = recorder.take();
        Poll::Ready(match result {
            Ok(response) => {
                let verdict = verdict(&response);
                if let Some(recorder) = recorder
                    .as_mut()
                    .filter(|_| response.body().is_end_stream())
                {
                    recorder.finish(verdict);
                }
                Ok(response.map(|inner| StatsBody {
                    inner,
                    recorder,
                    verdict,
                }))
            }
            Err(error) => {
                if let Some(recorder) = &mut recorder {
                    recorder.finish(Verdict::Outcome(RequestOutcome::ServerError));
                }
                Err(error)
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that records its request when it ends.
    pub struct StatsBody<B> {
        #[pin]
        inner: B,
        recorder: Option<Recorder>,
        verdict: Verdict,
    }
}

impl<B> fmt::Debug for StatsBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatsBody")
            .field("verdict", &self.verdict)
            .finish_non_exhaustive()
    }
}

impl<B: http_body::Body> http_body::Body for StatsBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let unwinding = Unwinding(Some(this.recorder));
        let polled = this.inner.as_mut().poll_frame(cx);
        let recorder = unwinding.disarm();
        let polled = ready!(polled);
        let Some(recorder) = recorder.as_mut() else {
            return Poll::Ready(polled);
        };
        match &polled {
            Some(Ok(frame)) => {
                if let (Some(trailers), Verdict::FromTrailers) =
                    (frame.trailers_ref(), *this.verdict)
                {
                    *this.verdict = Verdict::of_grpc(trailers)
                        .unwrap_or(Verdict::Outcome(RequestOutcome::ServerError));
                }
                if this.inner.is_end_stream() {
                    recorder.finish(*this.verdict);
                }
            }
            Some(Err(_)) => recorder.finish(Verdict::Outcome(RequestOutcome::ServerError)),
            None => recorder.finish(*this.verdict),
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The fewest answered requests `p99_response_time` is graded on.
const P99_MIN_REQUESTS: u64 = 100;

/// The names of the three request checks.
pub const REQUEST_METRIC_NAMES: [&str; 3] = [
    "request_success_rate",
    "avg_response_time",
    "p99_response_time",
];

/// The checks reading a [`RequestStats`]: `request_success_rate` (percent), `avg_response_time`
/// and `p99_response_time` (milliseconds), over its window.
///
/// | metric | warning | critical | threshold shown |
/// |---|---|---|---|
/// | `request_success_rate` | below 98 % | below 95 % | 95 |
/// | `avg_response_time` | above 2000 ms | above 5000 ms | 5000 |
/// | `p99_response_time` | above 2000 ms | above 5000 ms | 5000 |
///
/// With fewer than [`min_requests`](Self::min_requests) requests in the window (default 20;
/// `p99_response_time` needs at least 100 answered ones)
/// the metrics are healthy and say so: one failed request of two is not an outage. The checks
/// run every 5 s by default ([`interval`](Self::interval)); they only read the window. Clients
/// shape these figures, so by default they only inform: they show with their grades everywhere,
/// but no probe group, `""`, `plugin`, `/health` or health file turns not serving because of
/// them, unless [`groups`](Self::groups), [`service`](Self::service) or
/// [`informational(false)`](Self::informational) opts them in. `PLUGIN_HEALTH_REQUEST_METRICS=false`
/// leaves them out (the layer still records).
///
/// ```
/// use std::time::Duration;
/// use health_runtime::HealthRuntime;
/// use health_runtime::indicator::RequestStats;
///
/// let stats = RequestStats::new();
/// let runtime = HealthRuntime::builder()
///     .with_checks(
///         stats
///             .metrics()
///             .success_rate_levels(99.0, 97.0)
///             .response_time_levels(Duration::from_millis(500), Duration::from_secs(1)),
///     )
///     .build()?;
/// # Ok::<(), health_runtime::BuildError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RequestMetrics {
    stats: RequestStats,
    success_warning: f64,
    success_critical: f64,
    time_warning: Duration,
    time_critical: Duration,
    p99_warning: Duration,
    p99_critical: Duration,
    min_requests: u64,
    interval: Duration,
    gating: super::Gating,
}

impl From<&RequestStats> for RequestMetrics {
    fn from(stats: &RequestStats) -> Self {
        RequestMetrics::new(stats)
    }
}

impl From<RequestStats> for RequestMetrics {
    fn from(stats: RequestStats) -> Self {
        RequestMetrics::new(&stats)
    }
}

impl RequestMetrics {
    /// The metrics of `stats` with the default levels.
    pub fn new(stats: &RequestStats) -> Self {
        RequestMetrics {
            stats: stats.clone(),
            success_warning: 98.0,
            success_critical: 95.0,
            time_warning: Duration::from_millis(2000),
            time_critical: Duration::from_millis(5000),
            p99_warning: Duration::from_millis(2000),
            p99_critical: Duration::from_millis(5000),
            min_requests: 20,
            interval: Duration::from_secs(5),
            gating: super::Gating::default(),
        }
    }

    /// `request_success_rate` is a warning below `warning` percent and critical below
    /// `critical` (default 98 and 95).
    pub fn success_rate_levels(mut self, warning: f64, critical: f64) -> Self {
        self.success_warning = warning;
        self.success_critical = critical;
        self
    }

    /// `avg_response_time` and `p99_response_time` are warnings above `warning` and critical
    /// above `critical` (default 2 s and 5 s).
    pub fn response_time_levels(mut self, warning: Duration, critical: Duration) -> Self {
        self.time_warning = warning;
        self.time_critical = critical;
        self.p99_warning = warning;
        self.p99_critical = critical;
        self
    }

    /// Levels for `p99_response_time` alone (default: those of the average).
    pub fn p99_levels(mut self, warning: Duration, critical: Duration) -> Self {
        self.p99_warning = warning;
        self.p99_critical = critical;
        self
    }

    /// How many requests the window needs before the metrics are graded (default 20), so that a
    /// handful of calls cannot swing them.
    pub fn min_requests(mut self, requests: u64) -> Self {
        self.min_requests = requests;
        self
    }

    /// How often the checks re-read the window for the published state (default 5 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The probe groups the three checks gate (default: none).
    pub fn groups(mut self, groups: impl IntoIterator<Item = Group>) -> Self {
        self.gating.groups = groups.into_iter().collect();
        self
    }

    /// A gRPC health service name the three checks count toward (default: none).
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.gating.service = Some(service.into());
        self
    }

    /// Whether the three checks only inform (default: `true`): they never turn `""`, `plugin`,
    /// `/health` or the health file's verdict to not serving. `false` makes them count toward
    /// the overall status like declared checks. See [`Check::informational`].
    pub fn informational(mut self, informational: bool) -> Self {
        self.gating.informational = informational;
        self
    }

    /// The three checks; none when `config.requests.enabled` is off.
    /// [`HealthRuntimeBuilder::request_stats`](crate::HealthRuntimeBuilder::request_stats)
    /// calls it; call it yourself to register them on a running runtime.
    pub fn checks(self, config: &HealthConfig) -> Vec<Check> {
        if !config.requests.enabled {
            return Vec::new();
        }
        let metrics = Arc::new(self);
        [Metric::SuccessRate, Metric::Average, Metric::P99]
            .into_iter()
            .map(|metric| {
                let settings = metrics.clone();
                let check = Check::new(REQUEST_METRIC_NAMES[metric as usize], move || {
                    std::future::ready(settings.grade(metric))
                })
                .interval(metrics.interval);
                metrics.gating.apply(check)
            })
            .collect()
    }

    fn grade(&self, metric: Metric) -> CheckOutcome {
        let summary = self.stats.summary();
        let window = humantime::format_duration(summary.window());
        let requests = summary.requests();
        let (threshold, status, value, message) = match metric {
            Metric::SuccessRate => {
                let threshold = self.success_critical;
                let rate = summary.success_rate().unwrap_or(100.0);
                let status = if rate < self.success_critical {
                    Status::Critical
                } else if rate < self.success_warning {
                    Status::Warning
                } else {
                    Status::Healthy
                };
                let message = format!(
                    "{rate:.1} % of {requests} requests in the last {window} served without a server failure, {} of them ended by the client (warning below {} %, critical below {} %)",
                    summary.client_errors(),
                    self.success_warning,
                    self.success_critical
                );
                (threshold, status, rate, message)
            }
            Metric::Average | Metric::P99 => {
                let (label, latency, warning, critical) = if matches!(metric, Metric::Average) {
                    (
                        "average",
                        summary.average(),
                        self.time_warning,
                        self.time_critical,
                    )
                } else {
                    (
                        "99th percentile",
                        summary.percentile(0.99),
                        self.p99_warning,
                        self.p99_critical,
                    )
                };
                let millis = latency.unwrap_or_default().as_secs_f64() * 1000.0;
                let status = if latency > Some(critical) {
                    Status::Critical
                } else if latency > Some(warning) {
                    Status::Warning
                } else {
                    Status::Healthy
                };
                let message = format!(
                    "{label} response time {millis:.1} ms over {requests} requests in the last {window} (warning above {} ms, critical above {} ms)",
                    warning.as_millis(),
                    critical.as_millis()
                );
                (critical.as_secs_f64() * 1000.0, status, millis, message)
            }
        };
        let outcome = CheckOutcome::new(status)
            .with_value(value)
            .with_threshold(threshold);
        // A 99th percentile of fewer than 100 latencies is the slowest one: one call would
        // decide it.
        let (counted, needed) = match metric {
            Metric::SuccessRate => (requests, self.min_requests),
            Metric::Average => (summary.answered(), self.min_requests),
            Metric::P99 => (summary.answered(), self.min_requests.max(P99_MIN_REQUESTS)),
        };
        if counted < needed {
            return CheckOutcome::healthy()
                .with_value(value)
                .with_threshold(threshold)
                .with_message(format!(
                    "{counted} requests in the last {window}; not graded below {needed}"
                ));
        }
        outcome.with_message(message)
    }
}

#[derive(Debug, Clone, Copy)]
enum Metric {
    SuccessRate,
    Average,
    P99,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_follows_length_prefixed_messages() {
        let mut framing = Framing::default();
        assert!(framing.complete());
        // Two messages of 3 and 0 bytes, fed in awkward pieces.
        let bytes = [0, 0, 0, 0, 3, b'a', b'b', b'c', 0, 0, 0, 0, 0];
        for piece in [&bytes[..2], &bytes[2..6], &bytes[6..9]] {
            framing.feed(piece);
            assert!(!framing.complete());
        }
        framing.feed(&bytes[9..]);
        assert!(framing.complete());
        framing.feed(&[0, 0, 0, 1, 0]);
        assert!(!framing.complete(), "a 256-byte message has only begun");
        let mut flagged = Framing::default();
        flagged.feed(&[7, 0, 0, 0, 0]);
        assert!(!flagged.complete(), "7 is no compressed flag");
    }

    #[test]
    fn histogram_buckets_are_contiguous_and_precise() {
        let mut previous = 0;
        for micros in 0..200_000u64 {
            let index = histogram_index(micros);
            assert!(index == previous || index == previous + 1, "{micros}");
            previous = index;
            let value = histogram_value(index);
            assert!(
                (value - micros as f64).abs() <= (micros as f64 / 32.0).max(0.0) + 0.5,
                "{micros}: {value}"
            );
        }
        assert_eq!(histogram_index(u64::MAX), HISTOGRAM_LEN - 1);
    }

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
