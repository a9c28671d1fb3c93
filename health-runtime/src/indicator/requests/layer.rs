//! The tower layer and the service it makes: each request is handed on with a
//! [`StatsRequestBody`] and answered through a [`ResponseFuture`] that records it.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};

use super::body::{StatsBody, StatsRequestBody};
use super::classify;
use super::future::ResponseFuture;
use super::recorder::{Received, Recorder, is_grpc};
use super::stats::RequestStats;

/// A tower [`Layer`](tower_layer::Layer) recording each request's latency and outcome into a
/// [`RequestStats`]. From [`RequestStats::layer`].
///
/// It works on any `http` service, so on tonic and axum servers alike. Health calls
/// ([`exempt::is_health_path`](crate::exempt::is_health_path): the health services' probes,
/// `Watch` streams and reports, the HTTP probe paths) pass through uncounted, so it can sit on a
/// whole server (`Server::builder().layer(stats.layer())`); they are not the traffic it should
/// measure. [`RequestStats::count_health_calls`](super::RequestStats::count_health_calls)
/// counts them too.
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
///     .add_routes(health_runtime::grpc::routes(&health))
///     .add_service(stats.layer().layer(my_service))
///     .serve("127.0.0.1:50051".parse()?)
///     .await?;
/// # Ok(())
/// # }
/// ```
///
/// The statistics measure the server, not its clients. Each request ends as a
/// [`RequestOutcome`](super::RequestOutcome):
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

impl RequestStatsLayer {
    pub(super) fn new(stats: RequestStats) -> Self {
        RequestStatsLayer { stats }
    }
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

impl<S> RequestStatsService<S> {
    pub(super) fn new(inner: S, stats: RequestStats) -> Self {
        RequestStatsService { inner, stats }
    }
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
        let received = Arc::new(Received::new());
        if !self.stats.count_health && crate::exempt::is_health_path(request.uri().path()) {
            let request = request.map(|inner| StatsRequestBody::new(inner, received, false));
            return ResponseFuture::unrecorded(self.inner.call(request));
        }
        if request.body().is_end_stream() {
            received.mark();
        }
        let deadline = classify::grpc_timeout(request.headers());
        let grpc = is_grpc(request.headers());
        let request = request.map(|inner| StatsRequestBody::new(inner, received.clone(), grpc));
        let recorder = Recorder::new(self.stats.clone(), received, deadline);
        ResponseFuture::new(self.inner.call(request), recorder)
    }
}
