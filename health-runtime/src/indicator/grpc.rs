//! [`GrpcEndpoint`]: an upstream gRPC server that is up when its standard health service
//! answers `SERVING`, reached by URI or over a channel of your own ([`GrpcTarget`]).

use std::fmt;
use std::sync::Arc;

use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use super::error::{chain, millis};
use super::redact;
use super::{CONNECT_TIMEOUT, DependencyError, HealthIndicator, REQUEST_TIMEOUT};
use crate::pb::health::v1::HealthCheckRequest;
use crate::pb::health::v1::health_check_response::ServingStatus;
use crate::pb::health::v1::health_client::HealthClient;
use crate::{Check, CheckError, CheckOutcome, IntoCheckOutcome as _};

/// The upstream of a gRPC health check: a URI to connect to, or a channel of your own (with
/// TLS, a load-balanced set of endpoints, ...).
///
/// Shown (`Display`, `Debug`, check messages) without user info and query values.
#[derive(Clone)]
pub enum GrpcTarget {
    /// A URI such as `http://127.0.0.1:50051`; each check connects anew (within
    /// [`CONNECT_TIMEOUT`]).
    Uri(String),
    /// An existing channel, shared by every check.
    Channel(Channel),
}

impl fmt::Debug for GrpcTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrpcTarget::Uri(uri) => f.debug_tuple("Uri").field(&redact::url(uri)).finish(),
            GrpcTarget::Channel(_) => f.write_str("Channel"),
        }
    }
}

impl fmt::Display for GrpcTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrpcTarget::Uri(uri) => f.write_str(&redact::url(uri)),
            GrpcTarget::Channel(_) => f.write_str("channel"),
        }
    }
}

impl From<&str> for GrpcTarget {
    fn from(uri: &str) -> Self {
        GrpcTarget::Uri(uri.to_owned())
    }
}

impl From<String> for GrpcTarget {
    fn from(uri: String) -> Self {
        GrpcTarget::Uri(uri)
    }
}

impl From<Channel> for GrpcTarget {
    fn from(channel: Channel) -> Self {
        GrpcTarget::Channel(channel)
    }
}

/// An upstream gRPC server's health: each check calls `grpc.health.v1.Health/Check` for one
/// service name and is healthy when the answer is `SERVING`. The check's value is the round
/// trip in milliseconds (with a URI, the connection included); the call is given
/// [`REQUEST_TIMEOUT`].
///
/// With a URI, each check connects anew, so it sees whether a connection can be made; with a
/// [`Channel`] of your own (TLS, load balancing), the channel's connections are used.
///
/// ```no_run
/// use health_runtime::indicator::GrpcEndpoint;
///
/// let inventory = GrpcEndpoint::new("http://inventory:50051", "inventory.v1.Inventory");
///
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let kv = GrpcEndpoint::new(channel, "kv.v1.KV");
/// # let _ = (inventory, kv);
/// ```
#[derive(Debug, Clone)]
pub struct GrpcEndpoint {
    target: GrpcTarget,
    service: Arc<str>,
}

impl GrpcEndpoint {
    /// Checks `service` (`""` for the server's overall status) on `target`: a URI or a
    /// [`Channel`].
    pub fn new(target: impl Into<GrpcTarget>, service: impl Into<String>) -> Self {
        GrpcEndpoint {
            target: target.into(),
            service: service.into().into(),
        }
    }

    /// The upstream.
    pub fn target(&self) -> &GrpcTarget {
        &self.target
    }

    /// The health service name asked for.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Asks once; returns the round trip in milliseconds.
    pub async fn measure(&self) -> Result<f64, DependencyError> {
        health(self.target.clone(), &self.service).await
    }

    /// A check named `name` asking each run; its value is the round trip in milliseconds.
    #[track_caller]
    pub fn into_check(self, name: impl Into<String>) -> Check {
        super::check_of(name, self)
    }
}

impl HealthIndicator for GrpcEndpoint {
    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        self.measure().await.into_check_outcome()
    }
}

/// Asks `target`'s health service for `service` and expects `SERVING`. Returns the round trip
/// in milliseconds.
pub(super) async fn health(target: GrpcTarget, service: &str) -> Result<f64, DependencyError> {
    let started = Instant::now();
    let name = target.to_string();
    let channel = match target {
        GrpcTarget::Channel(channel) => channel,
        GrpcTarget::Uri(uri) => connect(uri, service).await?,
    };
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    let response = tokio::time::timeout(REQUEST_TIMEOUT, HealthClient::new(channel).check(request))
        .await
        .map_err(|_| DependencyError::Timeout {
            target: name.clone(),
            after: REQUEST_TIMEOUT,
        })?
        .map_err(|status| DependencyError::Grpc {
            target: name.clone(),
            service: service.to_owned(),
            code: format!("{:?}", status.code()),
            message: match std::error::Error::source(&status) {
                Some(source) => format!("{}: {}", status.message(), chain(source)),
                None => status.message().to_owned(),
            },
        })?;
    let status = response.into_inner().status();
    if status != ServingStatus::Serving {
        return Err(DependencyError::NotServing {
            target: name,
            service: service.to_owned(),
            status: status.as_str_name().to_owned(),
        });
    }
    Ok(millis(started))
}

/// A new connection to `uri`, within [`CONNECT_TIMEOUT`].
async fn connect(uri: String, service: &str) -> Result<Channel, DependencyError> {
    let shown = redact::url(&uri);
    let endpoint = Endpoint::from_shared(uri)
        .map_err(|error| DependencyError::InvalidTarget {
            target: shown.clone(),
            message: chain(&error),
        })?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT);
    endpoint
        .connect()
        .await
        .map_err(|error| DependencyError::Grpc {
            target: shown,
            service: service.to_owned(),
            code: "Unavailable".to_owned(),
            message: chain(&error),
        })
}
