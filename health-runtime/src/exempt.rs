//! Health calls exempt from the application's own layers: [`is_health_path`] says whether a
//! request is one, and [`Exempt`] wraps an application layer (authentication, rate limiting,
//! request statistics of your own) so that health calls go around it.
//!
//! Probes must answer while the application refuses its clients: a kubelet or a go-plugin host
//! carries no application credentials, and a rate limit that is exhausted by clients must not
//! turn the process "not serving" and get it restarted.
//!
//! The decision is by path, so apply the exemption where requests still carry their full path:
//! on the server, or on the outermost router. Inside an axum `Router::nest("/api", ...)` the
//! prefix is already stripped, and an application route `/api/ready` would look like a probe.
//!
//! ```no_run
//! # #[derive(Clone)]
//! # struct Auth;
//! # impl<S> tower_layer::Layer<S> for Auth {
//! #     type Service = S;
//! #     fn layer(&self, inner: S) -> S { inner }
//! # }
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let health = health_runtime::HealthRuntime::builder().build()?;
//! tonic::transport::Server::builder()
//!     // `Auth` sees every application call; `Check`, `Watch`, `List` and the report pass by it.
//!     .layer(health_runtime::exempt::exempt(Auth))
//!     .add_routes(health_runtime::grpc::routes(&health))
//!     .serve("127.0.0.1:50051".parse()?)
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! [`RequestStats`](crate::indicator::RequestStats)' layer leaves health calls out by itself
//! ([`RequestStats::count_health_calls`](crate::indicator::RequestStats::count_health_calls)
//! counts them).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tower_layer::Layer;
use tower_service::Service;

/// The gRPC path prefixes of the health services: the standard health service and every
/// service of the detailed report (`plugin.health.v1.HealthReport`, ...).
const GRPC_PREFIXES: [&str; 2] = ["/grpc.health.v1.Health/", "/plugin.health.v1."];

/// The HTTP probe paths the [`http`](crate#cargo-features) surface serves.
const HTTP_PATHS: [&str; 8] = [
    "/health",
    "/health/report",
    "/ready",
    "/readyz",
    "/live",
    "/livez",
    "/startup",
    "/startupz",
];

/// Whether a request for `path` (the URI's path, e.g. `request.uri().path()`) is a health call:
///
/// - gRPC: every method of `grpc.health.v1.Health` (`Check`, `Watch`, `List`) and of the
///   `plugin.health.v1` services (the detailed report);
/// - HTTP: the probe paths `/health`, `/health/report`, `/ready`, `/readyz`, `/live`, `/livez`,
///   `/startup` and `/startupz`, exactly (no trailing slash, no sub-path).
///
/// `/metrics` is not: a scrape is no probe, it shows every check's name and value, and a
/// scraper can carry credentials. The report's own detail policy
/// ([`DetailSettings::level`](crate::config::DetailSettings::level), `PLUGIN_HEALTH_SHOW_DETAILS`) still applies
/// to exempt calls.
///
/// ```
/// use health_runtime::exempt::is_health_path;
///
/// assert!(is_health_path("/grpc.health.v1.Health/Check"));
/// assert!(is_health_path("/plugin.health.v1.HealthReport/GetHealthReport"));
/// assert!(is_health_path("/readyz"));
/// assert!(!is_health_path("/kv.v1.KV/Get"));
/// assert!(!is_health_path("/grpc.health.v1.HealthEvil/Check"));
/// assert!(!is_health_path("/metrics"));
/// ```
pub fn is_health_path(path: &str) -> bool {
    GRPC_PREFIXES.iter().any(|prefix| path.starts_with(prefix)) || HTTP_PATHS.contains(&path)
}

/// `layer`, for every request but health calls ([`is_health_path`]), which go straight to the
/// service inside it. The same as [`Exempt::new`].
pub fn exempt<L>(layer: L) -> Exempt<L> {
    Exempt::new(layer)
}

/// A tower [`Layer`] that applies `L` to every request but health calls ([`is_health_path`]):
/// those are handed to the inner service directly, as if `L` were not there. It works wherever
/// a layer goes: tonic's `Server::builder().layer(...)`, axum's `Router::layer`, a
/// `tower::ServiceBuilder`.
///
/// The layered service and the inner one must answer with the same response and error types,
/// as authentication, rate-limiting and concurrency-limiting layers do (a layer that changes the
/// response body needs the bodies unified first).
///
/// Each request waits for the readiness of the one service it goes to, never of the other: an
/// exhausted rate limit holds back application calls only. The service made is therefore
/// always ready, and each call takes a clone of the service it goes to (as axum's routes do);
/// both must be `Clone`, as tonic and axum services are.
#[derive(Debug, Clone)]
pub struct Exempt<L> {
    layer: L,
}

impl<L> Exempt<L> {
    /// `layer`, applied to every request but health calls.
    pub fn new(layer: L) -> Self {
        Exempt { layer }
    }

    /// The layer applied to the other requests.
    pub fn layer(&self) -> &L {
        &self.layer
    }
}

impl<L, S> Layer<S> for Exempt<L>
where
    L: Layer<S>,
    S: Clone,
{
    type Service = ExemptService<L::Service, S>;

    fn layer(&self, inner: S) -> Self::Service {
        ExemptService {
            layered: self.layer.layer(inner.clone()),
            inner,
        }
    }
}

/// The service made by [`Exempt`]: health calls to `S`, every other request to `A` (the
/// application's layer around `S`).
#[derive(Debug, Clone)]
pub struct ExemptService<A, S> {
    layered: A,
    inner: S,
}

/// A layered tonic service keeps its gRPC name, so it can go into `tonic::service::Routes`.
#[cfg(feature = "grpc")]
impl<A, S: tonic::server::NamedService> tonic::server::NamedService for ExemptService<A, S> {
    const NAME: &'static str = S::NAME;
}

impl<A, S, B> Service<http::Request<B>> for ExemptService<A, S>
where
    A: Service<http::Request<B>> + Clone,
    S: Service<http::Request<B>, Response = A::Response, Error = A::Error> + Clone,
{
    type Response = A::Response;
    type Error = A::Error;
    type Future = ExemptFuture<A, S, http::Request<B>>;

    /// Always ready: each call waits for the readiness of the service it goes to.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The clone left behind serves the next call; the one taken may have been made ready
        // by nobody yet, so the future polls it first (tower's `Oneshot`).
        if is_health_path(request.uri().path()) {
            let clone = self.inner.clone();
            ExemptFuture::direct(std::mem::replace(&mut self.inner, clone), request)
        } else {
            let clone = self.layered.clone();
            ExemptFuture::layered(std::mem::replace(&mut self.layered, clone), request)
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ExemptService`]: waits for the chosen service to be ready,
    /// then for its answer.
    pub struct ExemptFuture<A, S, R>
    where
        A: Service<R>,
        S: Service<R>,
    {
        #[pin]
        state: State<A, S, R>,
    }
}

impl<A: Service<R>, S: Service<R>, R> ExemptFuture<A, S, R> {
    /// An application call to `service`, the layered one.
    fn layered(service: A, request: R) -> Self {
        ExemptFuture {
            state: State::Layered {
                service,
                request: Some(request),
            },
        }
    }

    /// A health call to `service`, the inner one.
    fn direct(service: S, request: R) -> Self {
        ExemptFuture {
            state: State::Direct {
                service,
                request: Some(request),
            },
        }
    }
}

pin_project_lite::pin_project! {
    #[project = StateProjection]
    enum State<A, S, R>
    where
        A: Service<R>,
        S: Service<R>,
    {
        // An application call, waiting for the layered service to be ready.
        Layered { service: A, request: Option<R> },
        // A health call, waiting for the inner service to be ready.
        Direct { service: S, request: Option<R> },
        // The layered service's answer.
        LayeredCall { #[pin] future: A::Future },
        // The inner service's answer.
        DirectCall { #[pin] future: S::Future },
    }
}

impl<A, S, R> std::fmt::Debug for ExemptFuture<A, S, R>
where
    A: Service<R>,
    S: Service<R>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Layered { .. } => "Layered",
            State::Direct { .. } => "Direct",
            State::LayeredCall { .. } => "LayeredCall",
            State::DirectCall { .. } => "DirectCall",
        };
        f.debug_tuple("ExemptFuture").field(&state).finish()
    }
}

impl<A, S, R> Future for ExemptFuture<A, S, R>
where
    A: Service<R>,
    S: Service<R, Response = A::Response, Error = A::Error>,
{
    type Output = Result<A::Response, A::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProjection::Layered { service, request } => {
                    ready!(service.poll_ready(cx))?;
                    let Some(request) = request.take() else {
                        unreachable!("the request is taken once, then the state moves on")
                    };
                    let future = service.call(request);
                    state.set(State::LayeredCall { future });
                }
                StateProjection::Direct { service, request } => {
                    ready!(service.poll_ready(cx))?;
                    let Some(request) = request.take() else {
                        unreachable!("the request is taken once, then the state moves on")
                    };
                    let future = service.call(request);
                    state.set(State::DirectCall { future });
                }
                StateProjection::LayeredCall { future } => return future.poll(cx),
                StateProjection::DirectCall { future } => return future.poll(cx),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_health_path;

    #[test]
    fn health_paths_and_near_misses() {
        for path in [
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
            "/grpc.health.v1.Health/List",
            "/plugin.health.v1.HealthReport/GetHealthReport",
            "/health",
            "/health/report",
            "/livez",
            "/startup",
        ] {
            assert!(is_health_path(path), "{path}");
        }
        for path in [
            "/kv.v1.KV/Get",
            "/grpc.health.v1.HealthX/Check",
            "/grpc.health.v2.Health/Check",
            "grpc.health.v1.Health/Check",
            "/plugin.GRPCController/Shutdown",
            "/metrics",
            "/health/",
            "/healthz",
            "/ready/extra",
            "",
            "/",
        ] {
            assert!(!is_health_path(path), "{path}");
        }
    }
}
