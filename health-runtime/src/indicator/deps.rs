//! Dependency checks in one line: TCP connect, HTTP(S) GET (feature `http-check`) and the gRPC
//! health of an upstream (feature `grpc`), over [`TcpEndpoint`](super::TcpEndpoint),
//! [`HttpEndpoint`] and [`GrpcEndpoint`].
//!
//! Each comes twice: an `async fn` to call from a `#[health_check]` function, and a constructor
//! of a [`Check`] to register at runtime. The functions return the round trip in milliseconds,
//! which shows as the metric's value; failures are [`DependencyError`]s with a message naming
//! the target. A check made here behaves as the indicator type's own
//! ([`TcpEndpoint::into_check`](super::TcpEndpoint::into_check), ...).
//!
//! ```standalone_crate
//! use health_runtime::health_check;
//! use health_runtime::indicator::deps;
//!
//! #[health_check(name = "database", timeout = "2s")]
//! async fn database() -> Result<f64, deps::DependencyError> {
//!     deps::tcp_connect("127.0.0.1:5432").await
//! }
//! ```
//!
//! ```
//! use std::time::Duration;
//! use health_runtime::HealthRuntime;
//! use health_runtime::indicator::deps;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = HealthRuntime::builder().build()?;
//! runtime.register(deps::tcp_check("cache", "127.0.0.1:6379").timeout(Duration::from_secs(1)))?;
//! # Ok(())
//! # }
//! ```
//!
//! # Timeouts
//!
//! A check's own `timeout` cuts the call short (the check then shows its `on_timeout` status).
//! Called on their own, the functions give up after [`CONNECT_TIMEOUT`] for connecting and
//! [`REQUEST_TIMEOUT`] for the whole call.
//!
//! # Clients
//!
//! [`http_get`] sends its requests with one process-wide client, built on the first call, of
//! the same policy as [`HttpEndpoint::new`]: every request opens a
//! new connection, `https://` works with the web PKI roots (see the
//! [module documentation](super#http-client-policy)). [`http_check`] builds one client for its
//! check.
//!
//! [`Check`]: crate::Check
#![cfg_attr(
    feature = "http-check",
    doc = "[`HttpEndpoint`]: super::HttpEndpoint
[`HttpEndpoint::new`]: super::HttpEndpoint::new"
)]
#![cfg_attr(
    not(feature = "http-check"),
    doc = "[`HttpEndpoint`]: super#cargo-features
[`HttpEndpoint::new`]: super#cargo-features
[`http_get`]: super#cargo-features
[`http_check`]: super#cargo-features"
)]
#![cfg_attr(feature = "grpc", doc = "[`GrpcEndpoint`]: super::GrpcEndpoint")]
#![cfg_attr(not(feature = "grpc"), doc = "[`GrpcEndpoint`]: super#cargo-features")]

pub use super::DependencyError;
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub use super::GrpcTarget;
pub use super::{CONNECT_TIMEOUT, REQUEST_TIMEOUT};

use crate::Check;

/// Connects to `addr` (`host:port`), trying each address it resolves to, and closes the
/// connection. Returns how long it took, in milliseconds.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use health_runtime::indicator::deps;
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let addr = listener.local_addr().unwrap().to_string();
/// let millis = deps::tcp_connect(&addr).await.unwrap();
/// assert!(millis.is_finite() && millis < deps::CONNECT_TIMEOUT.as_secs_f64() * 1000.0);
/// # }
/// ```
pub async fn tcp_connect(addr: &str) -> Result<f64, DependencyError> {
    super::tcp::connect(addr).await
}

/// A check named `name` that connects to `addr` with [`tcp_connect`]
/// ([`TcpEndpoint`](super::TcpEndpoint)). Its value is the connect time in milliseconds.
#[track_caller]
pub fn tcp_check(name: impl Into<String>, addr: impl Into<String>) -> Check {
    super::TcpEndpoint::new(addr).into_check(name)
}

/// Sends `GET url` (HTTP or HTTPS, with the web PKI roots) and expects a status within
/// `expected`, e.g. `200..=299`. Redirects are followed (up to 10). Returns the time to the
/// response headers, in milliseconds.
///
/// Every call opens a new connection, with one process-wide client built on the first call:
/// a health check should see whether a connection can be made, and no pooled connection is
/// tied to one Tokio runtime.
///
/// ```no_run,standalone_crate
/// use health_runtime::health_check;
/// use health_runtime::indicator::deps;
///
/// #[health_check(name = "payments_api", timeout = "3s", on_error = "warning")]
/// async fn payments_api() -> Result<f64, deps::DependencyError> {
///     deps::http_get("https://payments.internal/healthz", 200..=299).await
/// }
/// ```
#[cfg(feature = "http-check")]
#[cfg_attr(docsrs, doc(cfg(feature = "http-check")))]
pub async fn http_get(
    url: &str,
    expected: impl std::ops::RangeBounds<u16>,
) -> Result<f64, DependencyError> {
    let client = super::http::shared_client().map_err(|why| DependencyError::Http {
        url: super::redact::url(url),
        message: why.to_owned(),
    })?;
    super::http::get(client, true, url, &expected).await
}

/// A check named `name` that sends `GET url` like [`http_get`], expecting a status in
/// `expected` ([`HttpEndpoint`](super::HttpEndpoint), with a client of its own).
#[cfg(feature = "http-check")]
#[cfg_attr(docsrs, doc(cfg(feature = "http-check")))]
#[track_caller]
pub fn http_check<R>(name: impl Into<String>, url: impl Into<String>, expected: R) -> Check
where
    R: std::ops::RangeBounds<u16> + Clone + Send + Sync + 'static,
{
    super::HttpEndpoint::new(url)
        .expect_status(expected)
        .into_check(name)
}

/// Asks `target`'s `grpc.health.v1.Health/Check` for `service` (`""` for the server as a
/// whole) and expects `SERVING`. Returns the round trip in milliseconds.
///
/// ```no_run,standalone_crate
/// use health_runtime::health_check;
/// use health_runtime::indicator::deps;
///
/// #[health_check(name = "inventory", timeout = "2s")]
/// async fn inventory() -> Result<f64, deps::DependencyError> {
///     deps::grpc_health("http://inventory:50051", "inventory.v1.Inventory").await
/// }
/// ```
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub async fn grpc_health(
    target: impl Into<GrpcTarget>,
    service: &str,
) -> Result<f64, DependencyError> {
    super::grpc::health(target.into(), service).await
}

/// A check named `name` that runs [`grpc_health`] on `target` for `service`
/// ([`GrpcEndpoint`](super::GrpcEndpoint)).
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
#[track_caller]
pub fn grpc_check(
    name: impl Into<String>,
    target: impl Into<GrpcTarget>,
    service: impl Into<String>,
) -> Check {
    super::GrpcEndpoint::new(target, service).into_check(name)
}
