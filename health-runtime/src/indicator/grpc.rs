use tonic::transport::Channel;

use super::HealthIndicator;
use crate::pb::health::v1::HealthCheckRequest;
use crate::pb::health::v1::health_check_response::ServingStatus;
use crate::pb::health::v1::health_client::HealthClient;
use crate::{CheckError, CheckOutcome};

/// An upstream gRPC server's health: each check calls `grpc.health.v1.Health/Check` for one
/// service name on a tonic [`Channel`] and is healthy when the answer is `SERVING`.
///
/// ```no_run
/// use health_runtime::indicator::GrpcHealthIndicator;
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let upstream = GrpcHealthIndicator::new(channel, "kv.v1.KV");
/// # let _ = upstream; Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct GrpcHealthIndicator {
    client: HealthClient<Channel>,
    service: String,
}

impl GrpcHealthIndicator {
    /// Checks `service` (`""` for the server's overall status) on the server behind `channel`.
    pub fn new(channel: Channel, service: impl Into<String>) -> Self {
        GrpcHealthIndicator {
            client: HealthClient::new(channel),
            service: service.into(),
        }
    }
}

impl HealthIndicator for GrpcHealthIndicator {
    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        let request = HealthCheckRequest {
            service: self.service.clone(),
        };
        let response = self.client.clone().check(request).await.map_err(|status| {
            CheckError::new(format!(
                "upstream health of `{}`: {}: {}",
                self.service,
                status.code(),
                status.message()
            ))
        })?;
        match response.into_inner().status() {
            ServingStatus::Serving => Ok(CheckOutcome::healthy()),
            other => Err(CheckError::new(format!(
                "upstream `{}` is {}",
                self.service,
                other.as_str_name()
            ))),
        }
    }
}
