//! Ready-made dependency checks: TCP connect, HTTP(S) GET (feature `http-check`) and the gRPC
//! health of an upstream (feature `grpc`).
//!
//! Each comes twice: an `async fn` to call from a `#[health_check]` function in one line, and a
//! constructor of a [`Check`] to register at runtime. The functions return the round trip in
//! milliseconds, which shows as the metric's value; failures are [`DependencyError`]s with a
//! message naming the target.
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

#[cfg(feature = "grpc")]
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::Check;

/// How long the functions of this module wait for a connection (10 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the functions of this module wait for a whole call (30 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a dependency check failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DependencyError {
    /// The host name did not resolve.
    #[error("cannot resolve `{target}`: {source}")]
    Resolve {
        /// The address asked for.
        target: String,
        /// Why.
        source: std::io::Error,
    },
    /// No connection could be made.
    #[error("cannot connect to `{target}`: {source}")]
    Connect {
        /// The address asked for.
        target: String,
        /// Why.
        source: std::io::Error,
    },
    /// The dependency did not answer in time.
    #[error("`{target}` did not answer within {}", humantime::format_duration(*.after))]
    Timeout {
        /// The address asked for.
        target: String,
        /// How long it was given.
        after: Duration,
    },
    /// The HTTP request failed (connection, TLS, protocol).
    #[error("GET {url} failed: {message}")]
    Http {
        /// The URL.
        url: String,
        /// Why, with every cause.
        message: String,
    },
    /// The HTTP status is outside the expected range.
    #[error("GET {url} answered {status}; expected {expected}")]
    UnexpectedStatus {
        /// The URL.
        url: String,
        /// The status received.
        status: u16,
        /// The expected range, e.g. `200..=299`.
        expected: String,
    },
    /// The target is not a valid URI.
    #[error("`{target}` is not a valid target: {message}")]
    InvalidTarget {
        /// The target given.
        target: String,
        /// Why.
        message: String,
    },
    /// The upstream answered its health check with a status other than `SERVING`.
    #[error("`{target}` reports service `{service}` as {status}")]
    NotServing {
        /// The upstream.
        target: String,
        /// The health service name asked for.
        service: String,
        /// The status it gave, e.g. `NOT_SERVING`.
        status: String,
    },
    /// The gRPC call failed.
    #[error("gRPC health check of service `{service}` at `{target}` failed: {code}: {message}")]
    Grpc {
        /// The upstream.
        target: String,
        /// The health service name asked for.
        service: String,
        /// The gRPC status code, e.g. `Unavailable`.
        code: String,
        /// The status message with its causes.
        message: String,
    },
}

fn millis(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

#[cfg(any(feature = "http-check", feature = "grpc"))]
/// The error and its causes, `: `-separated (reqwest and tonic hide the useful part in them).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Connects to `addr` (`host:port`), trying each address it resolves to, and closes the
/// connection. Returns how long it took, in milliseconds.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let addr = listener.local_addr().unwrap().to_string();
/// let millis = health_runtime::indicator::deps::tcp_connect(&addr).await.unwrap();
/// assert!(millis >= 0.0);
/// # }
/// ```
pub async fn tcp_connect(addr: &str) -> Result<f64, DependencyError> {
    let started = Instant::now();
    let attempt = async {
        let addrs =
            tokio::net::lookup_host(addr)
                .await
                .map_err(|source| DependencyError::Resolve {
                    target: addr.to_owned(),
                    source,
                })?;
        let mut last = None;
        for resolved in addrs {
            match tokio::net::TcpStream::connect(resolved).await {
                Ok(stream) => {
                    drop(stream);
                    return Ok(millis(started));
                }
                Err(error) => last = Some(error),
            }
        }
        Err(DependencyError::Connect {
            target: addr.to_owned(),
            source: last.unwrap_or_else(|| std::io::Error::other("it resolved to no address")),
        })
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(DependencyError::Timeout {
                target: addr.to_owned(),
                after: CONNECT_TIMEOUT,
            })
        })
}

/// A check named `name` that connects to `addr` with [`tcp_connect`]. Its value is the
/// connect time in milliseconds.
#[track_caller]
pub fn tcp_check(name: impl Into<String>, addr: impl Into<String>) -> Check {
    let addr: std::sync::Arc<str> = addr.into().into();
    Check::new(name, move || {
        let addr = addr.clone();
        async move { tcp_connect(&addr).await }
    })
}

#[cfg(feature = "http-check")]
/// The range of HTTP statuses a check accepts, as text (`200..=299`).
fn describe_range(range: &impl std::ops::RangeBounds<u16>) -> String {
    use std::ops::Bound;
    let start = match range.start_bound() {
        Bound::Included(start) => start.to_string(),
        Bound::Excluded(start) => format!("{}", start.saturating_add(1)),
        Bound::Unbounded => String::new(),
    };
    let end = match range.end_bound() {
        Bound::Included(end) => format!("..={end}"),
        Bound::Excluded(end) => format!("..{end}"),
        Bound::Unbounded => "..".to_owned(),
    };
    format!("{start}{end}")
}

/// Sends `GET url` (HTTP or HTTPS, with the web PKI roots) and expects a status within
/// `expected`, e.g. `200..=299`. Redirects are followed (up to 10). Returns the time to the
/// response headers, in milliseconds.
///
/// Each call uses a new client and connection: a health check should see whether a new
/// connection can be made, and a pooled one would tie the client to one Tokio runtime.
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
    let started = Instant::now();
    let http_error = |error: reqwest::Error| {
        if error.is_timeout() {
            DependencyError::Timeout {
                target: url.to_owned(),
                after: if error.is_connect() {
                    CONNECT_TIMEOUT
                } else {
                    REQUEST_TIMEOUT
                },
            }
        } else {
            DependencyError::Http {
                url: url.to_owned(),
                message: chain(&error.without_url()),
            }
        }
    };
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(0)
        .user_agent(concat!("health-runtime/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(http_error)?;
    let response = client.get(url).send().await.map_err(http_error)?;
    let status = response.status().as_u16();
    if !expected.contains(&status) {
        return Err(DependencyError::UnexpectedStatus {
            url: url.to_owned(),
            status,
            expected: describe_range(&expected),
        });
    }
    Ok(millis(started))
}

/// A check named `name` that runs [`http_get`] on `url`, expecting a status in `expected`.
#[cfg(feature = "http-check")]
#[cfg_attr(docsrs, doc(cfg(feature = "http-check")))]
#[track_caller]
pub fn http_check<R>(name: impl Into<String>, url: impl Into<String>, expected: R) -> Check
where
    R: std::ops::RangeBounds<u16> + Clone + Send + Sync + 'static,
{
    let url: std::sync::Arc<str> = url.into().into();
    Check::new(name, move || {
        let (url, expected) = (url.clone(), expected.clone());
        async move { http_get(&url, expected).await }
    })
}

/// The upstream of a gRPC health check: a URI to connect to, or a channel of your own (with
/// TLS, a load-balanced set of endpoints, ...).
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
#[derive(Clone)]
pub enum GrpcTarget {
    /// A URI such as `http://127.0.0.1:50051`; each check connects anew.
    Uri(String),
    /// An existing channel.
    Channel(tonic::transport::Channel),
}

#[cfg(feature = "grpc")]
impl fmt::Debug for GrpcTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrpcTarget::Uri(uri) => f.debug_tuple("Uri").field(uri).finish(),
            GrpcTarget::Channel(_) => f.write_str("Channel"),
        }
    }
}

#[cfg(feature = "grpc")]
impl fmt::Display for GrpcTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrpcTarget::Uri(uri) => f.write_str(uri),
            GrpcTarget::Channel(_) => f.write_str("channel"),
        }
    }
}

#[cfg(feature = "grpc")]
impl From<&str> for GrpcTarget {
    fn from(uri: &str) -> Self {
        GrpcTarget::Uri(uri.to_owned())
    }
}

#[cfg(feature = "grpc")]
impl From<String> for GrpcTarget {
    fn from(uri: String) -> Self {
        GrpcTarget::Uri(uri)
    }
}

#[cfg(feature = "grpc")]
impl From<tonic::transport::Channel> for GrpcTarget {
    fn from(channel: tonic::transport::Channel) -> Self {
        GrpcTarget::Channel(channel)
    }
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
    use crate::grpc::proto::health::v1::HealthCheckRequest;
    use crate::grpc::proto::health::v1::health_client::HealthClient;

    let target = target.into();
    let started = Instant::now();
    let name = target.to_string();
    let grpc_error = |status: tonic::Status| DependencyError::Grpc {
        target: name.clone(),
        service: service.to_owned(),
        code: format!("{:?}", status.code()),
        message: match std::error::Error::source(&status) {
            Some(source) => format!("{}: {}", status.message(), chain(source)),
            None => status.message().to_owned(),
        },
    };
    let channel = match target {
        GrpcTarget::Channel(channel) => channel,
        GrpcTarget::Uri(uri) => {
            let endpoint = tonic::transport::Endpoint::from_shared(uri.clone())
                .map_err(|error| DependencyError::InvalidTarget {
                    target: uri.clone(),
                    message: chain(&error),
                })?
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(REQUEST_TIMEOUT);
            endpoint
                .connect()
                .await
                .map_err(|error| DependencyError::Grpc {
                    target: uri.clone(),
                    service: service.to_owned(),
                    code: "Unavailable".to_owned(),
                    message: chain(&error),
                })?
        }
    };
    let response = tokio::time::timeout(
        REQUEST_TIMEOUT,
        HealthClient::new(channel).check(HealthCheckRequest {
            service: service.to_owned(),
        }),
    )
    .await
    .map_err(|_| DependencyError::Timeout {
        target: name.clone(),
        after: REQUEST_TIMEOUT,
    })?
    .map_err(grpc_error)?;
    let status = response.into_inner().status();
    if status != crate::grpc::proto::health::v1::health_check_response::ServingStatus::Serving {
        return Err(DependencyError::NotServing {
            target: name,
            service: service.to_owned(),
            status: status.as_str_name().to_owned(),
        });
    }
    Ok(millis(started))
}

/// A check named `name` that runs [`grpc_health`] on `target` for `service`.
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
#[track_caller]
pub fn grpc_check(
    name: impl Into<String>,
    target: impl Into<GrpcTarget>,
    service: impl Into<String>,
) -> Check {
    let target = target.into();
    let service: std::sync::Arc<str> = service.into().into();
    Check::new(name, move || {
        let (target, service) = (target.clone(), service.clone());
        async move { grpc_health(target, &service).await }
    })
}

#[cfg(all(test, feature = "http-check"))]
mod tests {
    use super::*;

    #[test]
    fn ranges_read_as_written() {
        assert_eq!(describe_range(&(200..=299)), "200..=299");
        assert_eq!(describe_range(&(200..300)), "200..300");
        assert_eq!(describe_range(&(..500)), "..500");
        assert_eq!(describe_range(&(200..)), "200..");
    }
}
