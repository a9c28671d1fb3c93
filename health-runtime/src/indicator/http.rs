use std::ops::RangeInclusive;
use std::time::Instant;

use super::HealthIndicator;
use crate::{CheckError, CheckOutcome};

/// An HTTP dependency: each check sends `GET` to the URL and expects a status in a range
/// (`200..=299` unless [`expect_status`](Self::expect_status) says otherwise). The check's value
/// is the response time in milliseconds.
///
/// The client is built without TLS: plain `http://` URLs only, which suits sidecars, local
/// agents and in-cluster services. For `https://`, pass a TLS-enabled `reqwest::Client` of your
/// own with [`with_client`](Self::with_client).
///
/// ```
/// use health_runtime::indicator::HttpEndpoint;
///
/// let upstream = HttpEndpoint::new("http://127.0.0.1:9000/healthz").expect_status(200..=204);
/// # let _ = upstream;
/// ```
#[derive(Debug, Clone)]
pub struct HttpEndpoint {
    client: reqwest::Client,
    url: String,
    expected: RangeInclusive<u16>,
}

impl HttpEndpoint {
    /// An endpoint checked with a default client.
    pub fn new(url: impl Into<String>) -> Self {
        Self::with_client(reqwest::Client::new(), url)
    }

    /// An endpoint checked with `client` (timeouts, TLS, headers as it is configured).
    pub fn with_client(client: reqwest::Client, url: impl Into<String>) -> Self {
        HttpEndpoint {
            client,
            url: url.into(),
            expected: 200..=299,
        }
    }

    /// The statuses that count as healthy.
    #[must_use]
    pub fn expect_status(mut self, expected: RangeInclusive<u16>) -> Self {
        self.expected = expected;
        self
    }

    /// The URL checked.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl HealthIndicator for HttpEndpoint {
    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        let started = Instant::now();
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|error| CheckError::new(format!("GET {}: {error}", self.url)))?;
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        let status = response.status().as_u16();
        if self.expected.contains(&status) {
            Ok(CheckOutcome::healthy().with_value(millis))
        } else {
            Err(CheckError::new(format!(
                "GET {} answered {status}; expected {}..={}",
                self.url,
                self.expected.start(),
                self.expected.end()
            )))
        }
    }
}
