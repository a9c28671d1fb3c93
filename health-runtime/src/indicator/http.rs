//! [`HttpEndpoint`]: an HTTP(S) dependency that is up when `GET` answers an expected status;
//! the client policy shared with [`deps::http_get`](super::deps::http_get).

use std::ops::{Bound, RangeBounds};
use std::sync::OnceLock;

use tokio::time::Instant;

use super::error::{chain, millis};
use super::redact;
use super::{CONNECT_TIMEOUT, DependencyError, HealthIndicator, REQUEST_TIMEOUT};
use crate::{Check, CheckError, CheckOutcome, IntoCheckOutcome as _};

/// The `User-Agent` of the built-in clients.
const USER_AGENT: &str = concat!("health-runtime/", env!("CARGO_PKG_VERSION"));

/// The statuses a check expects unless told otherwise: `200..=299`.
const HEALTHY_STATUSES: (Bound<u16>, Bound<u16>) = (Bound::Included(200), Bound::Included(299));

/// A client of the built-in policy: rustls with the web PKI roots, [`CONNECT_TIMEOUT`],
/// [`REQUEST_TIMEOUT`], no idle connections kept. `Err` says why it could not be built.
fn build_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(0)
        .user_agent(USER_AGENT)
        .build()
        .map_err(|error| format!("cannot build the HTTP client: {}", chain(&error)))
}

/// The process-wide client of [`deps::http_get`](super::deps::http_get), built on first use.
pub(super) fn shared_client() -> Result<&'static reqwest::Client, &'static str> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(build_client)
        .as_ref()
        .map_err(String::as_str)
}

/// An HTTP(S) dependency: each check sends `GET` to the URL and expects a status in a range
/// (`200..=299` unless [`expect_status`](Self::expect_status) says otherwise). Redirects are
/// followed (up to 10). The check's value is the time to the response headers, in
/// milliseconds.
///
/// [`new`](Self::new) builds the endpoint's client once, with the policy described in the
/// [module documentation](crate::indicator#http-client-policy): `http://` and `https://`
/// (rustls with the web PKI roots), a connect timeout of [`CONNECT_TIMEOUT`] and a request
/// timeout of [`REQUEST_TIMEOUT`], and no idle connection kept, so every check opens a new
/// connection. For other roots, client certificates, headers or a proxy, pass a client of your
/// own with [`with_client`](Self::with_client).
///
/// Messages, errors and `Debug` show the URL without user info and query values
/// (`http://***@host/healthz?api_key=***`).
///
/// ```
/// use health_runtime::indicator::HttpEndpoint;
///
/// let upstream = HttpEndpoint::new("https://payments.internal/healthz").expect_status(200..=204);
/// let check = upstream.into_check("payments_api");
/// # drop(check);
/// ```
#[derive(Clone)]
pub struct HttpEndpoint {
    /// The client, or why it could not be built (each check then fails with the reason).
    client: Result<reqwest::Client, String>,
    /// Whether the client is one of the built-in policy, whose timeouts are known.
    built_in: bool,
    url: String,
    expected: (Bound<u16>, Bound<u16>),
}

impl std::fmt::Debug for HttpEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpEndpoint")
            .field("client", &self.client)
            .field("built_in", &self.built_in)
            .field("url", &redact::url(&self.url))
            .field("expected", &self.expected)
            .finish()
    }
}

impl HttpEndpoint {
    /// An endpoint checked with a client of the built-in policy, built now.
    pub fn new(url: impl Into<String>) -> Self {
        HttpEndpoint {
            client: build_client(),
            built_in: true,
            url: url.into(),
            expected: HEALTHY_STATUSES,
        }
    }

    /// An endpoint checked with `client` (timeouts, TLS, headers, pooling as it is configured).
    pub fn with_client(client: reqwest::Client, url: impl Into<String>) -> Self {
        HttpEndpoint {
            client: Ok(client),
            built_in: false,
            url: url.into(),
            expected: HEALTHY_STATUSES,
        }
    }

    /// The statuses that count as healthy, e.g. `200..=204`, `200..300` or `..500`.
    #[must_use]
    pub fn expect_status(mut self, expected: impl RangeBounds<u16>) -> Self {
        self.expected = (
            expected.start_bound().cloned(),
            expected.end_bound().cloned(),
        );
        self
    }

    /// The URL checked.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `GET` once; returns the time to the response headers, in milliseconds.
    pub async fn measure(&self) -> Result<f64, DependencyError> {
        let client = self.client.as_ref().map_err(|why| DependencyError::Http {
            url: redact::url(&self.url),
            message: why.clone(),
        })?;
        get(client, self.built_in, &self.url, &self.expected).await
    }

    /// A check named `name` sending `GET` each run; its value is the time to the response
    /// headers in milliseconds.
    #[track_caller]
    pub fn into_check(self, name: impl Into<String>) -> Check {
        super::check_of(name, self)
    }
}

impl HealthIndicator for HttpEndpoint {
    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        self.measure().await.into_check_outcome()
    }
}

/// Sends `GET url` with `client` and expects a status within `expected`. A timeout of a
/// `built_in` client is reported with the built-in timeouts; one of another client with
/// reqwest's message.
pub(super) async fn get(
    client: &reqwest::Client,
    built_in: bool,
    url: &str,
    expected: &impl RangeBounds<u16>,
) -> Result<f64, DependencyError> {
    let started = Instant::now();
    let shown = redact::url(url);
    let http_error = |error: reqwest::Error| {
        if built_in && error.is_timeout() {
            DependencyError::Timeout {
                target: shown.clone(),
                after: if error.is_connect() {
                    CONNECT_TIMEOUT
                } else {
                    REQUEST_TIMEOUT
                },
            }
        } else {
            // Without the URL: reqwest shows it whole, secrets and all.
            DependencyError::Http {
                url: shown.clone(),
                message: chain(&error.without_url()),
            }
        }
    };
    let response = client.get(url).send().await.map_err(http_error)?;
    let status = response.status().as_u16();
    if !expected.contains(&status) {
        return Err(DependencyError::UnexpectedStatus {
            url: shown,
            status,
            expected: describe_range(expected),
        });
    }
    Ok(millis(started))
}

/// The range of HTTP statuses a check accepts, as text (`200..=299`).
fn describe_range(range: &impl RangeBounds<u16>) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_read_as_written() {
        assert_eq!(describe_range(&(200..=299)), "200..=299");
        assert_eq!(describe_range(&(200..300)), "200..300");
        assert_eq!(describe_range(&(..500)), "..500");
        assert_eq!(describe_range(&(200..)), "200..");
    }

    /// A server answering every request on a connection with `status`, closing nothing;
    /// returns its address and how many connections it accepted.
    fn server(status: u16) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{BufRead as _, BufReader, Write as _};
        use std::sync::atomic::{AtomicUsize, Ordering};

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            let answer = format!(
                                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nkeep-alive: timeout=60\r\n\r\n"
                            );
                            if stream.write_all(answer.as_bytes()).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    #[tokio::test]
    async fn every_check_opens_a_new_connection() {
        let (addr, accepted) = server(204);
        let endpoint = HttpEndpoint::new(format!("http://{addr}/healthz"));
        for _ in 0..3 {
            let outcome = endpoint.check().await.unwrap();
            assert!(outcome.value().is_some_and(|millis| millis < 30_000.0));
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_unexpected_status_is_named() {
        let (addr, _) = server(503);
        let url = format!("http://{addr}/healthz");
        let error = HttpEndpoint::new(&url)
            .expect_status(200..300)
            .measure()
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("GET {url} answered 503; expected 200..300")
        );
    }

    #[test]
    fn the_shared_client_serves_one_runtime_after_another() {
        let (addr, accepted) = server(200);
        let url = format!("http://{addr}/");
        for _ in 0..2 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let millis = runtime
                .block_on(crate::indicator::deps::http_get(&url, 200..=299))
                .unwrap();
            assert!(millis.is_finite() && millis < 30_000.0, "{millis}");
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn the_status_range_is_kept_as_given() {
        let endpoint = HttpEndpoint::new("http://127.0.0.1:1/").expect_status(..500);
        assert_eq!(describe_range(&endpoint.expected), "..500");
        assert!(endpoint.client.is_ok(), "{:?}", endpoint.client);
    }
}
