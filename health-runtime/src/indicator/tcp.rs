//! [`TcpEndpoint`]: a dependency that is up when it accepts a TCP connection.

use std::sync::Arc;

use tokio::time::Instant;

use super::error::millis;
use super::{CONNECT_TIMEOUT, DependencyError, HealthIndicator};
use crate::{Check, CheckError, CheckOutcome, IntoCheckOutcome as _};

/// A TCP dependency (a database, a cache, a broker): each check connects to `host:port`,
/// trying each address it resolves to, and closes the connection at once. The check's value is
/// the connect time in milliseconds; a connection not made within [`CONNECT_TIMEOUT`] fails.
///
/// ```
/// use health_runtime::HealthIndicator;
/// use health_runtime::indicator::TcpEndpoint;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let cache = TcpEndpoint::new(listener.local_addr()?.to_string());
/// let outcome = cache.check().await?;
/// assert!(outcome.value().is_some_and(|millis| millis < 10_000.0));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpEndpoint {
    addr: Arc<str>,
}

impl TcpEndpoint {
    /// The dependency listening at `addr` (`host:port`, e.g. `db.internal:5432`).
    pub fn new(addr: impl Into<String>) -> Self {
        TcpEndpoint {
            addr: addr.into().into(),
        }
    }

    /// The address connected to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Connects once; returns how long it took, in milliseconds.
    pub async fn measure(&self) -> Result<f64, DependencyError> {
        connect(&self.addr).await
    }

    /// A check named `name` connecting each run; its value is the connect time in
    /// milliseconds.
    #[track_caller]
    pub fn into_check(self, name: impl Into<String>) -> Check {
        super::check_of(name, self)
    }
}

impl HealthIndicator for TcpEndpoint {
    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        self.measure().await.into_check_outcome()
    }
}

/// Connects to `addr`, trying each address it resolves to, within [`CONNECT_TIMEOUT`], and
/// closes the connection. Returns how long it took, in milliseconds.
pub(super) async fn connect(addr: &str) -> Result<f64, DependencyError> {
    let started = Instant::now();
    let shown = super::redact::url(addr);
    let attempt = async {
        let addrs =
            tokio::net::lookup_host(addr)
                .await
                .map_err(|source| DependencyError::Resolve {
                    target: shown.clone(),
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
            target: shown.clone(),
            source: last.unwrap_or_else(|| std::io::Error::other("it resolved to no address")),
        })
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(DependencyError::Timeout {
                target: shown.clone(),
                after: CONNECT_TIMEOUT,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connected_then_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = TcpEndpoint::new(listener.local_addr().unwrap().to_string());
        let millis = endpoint.measure().await.unwrap();
        assert!(millis.is_finite() && millis < 10_000.0, "{millis}");
        drop(listener);
        let message = endpoint.check().await.unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("cannot connect to `{}`: ", endpoint.addr())),
            "{message}"
        );
    }
}
