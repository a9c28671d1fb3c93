//! One endpoint's health, as gRFC A17 defines it, and the task that follows it: a `Watch` on
//! the endpoint's own connection, retried with backoff.

use std::fmt;
use std::sync::Weak;
use std::time::Duration;

use tonic::transport::Channel;

use super::backoff::Backoff;
use super::balance::{MemberId, Shared};
use crate::pb::health::v1::HealthCheckRequest;
use crate::pb::health::v1::health_check_response::ServingStatus;
use crate::pb::health::v1::health_client::HealthClient;

/// The health of one endpoint of a [`HealthAwareChannel`](super::HealthAwareChannel).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointHealth {
    /// No answer from its `Watch` yet: out of the rotation.
    Connecting,
    /// `SERVING`: in the rotation.
    Serving,
    /// The `Watch` answered something else (`NOT_SERVING`, `SERVICE_UNKNOWN`, `UNKNOWN`): out of
    /// the rotation, the connection kept.
    NotServing(ServingStatus),
    /// The server has no health service (`UNIMPLEMENTED`): health checking is off for it, and
    /// it is in the rotation.
    Unimplemented,
    /// The `Watch` failed or ended: out of the rotation until a retry answers `SERVING`.
    Retrying {
        /// Why, as the call ended.
        reason: String,
        /// Which retry is next (1 for the first after an answer).
        attempt: u32,
        /// How long until it.
        retry_in: Duration,
    },
    /// Health checking is off for the whole channel (no `healthCheckConfig`, or turned off on
    /// the client): in the rotation.
    NotChecked,
}

impl EndpointHealth {
    /// Whether calls go to the endpoint.
    pub fn in_rotation(&self) -> bool {
        matches!(
            self,
            EndpointHealth::Serving | EndpointHealth::Unimplemented | EndpointHealth::NotChecked
        )
    }

    /// A short name of the state, for logs and metrics labels.
    pub fn name(&self) -> &'static str {
        match self {
            EndpointHealth::Connecting => "connecting",
            EndpointHealth::Serving => "serving",
            EndpointHealth::NotServing(_) => "not_serving",
            EndpointHealth::Unimplemented => "unimplemented",
            EndpointHealth::Retrying { .. } => "retrying",
            EndpointHealth::NotChecked => "not_checked",
        }
    }
}

impl fmt::Display for EndpointHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointHealth::NotServing(status) => write!(f, "{}", status.as_str_name()),
            EndpointHealth::Retrying {
                reason,
                attempt,
                retry_in,
            } => write!(
                f,
                "retrying ({reason}; attempt {attempt} in {retry_in:.1?})"
            ),
            other => f.write_str(other.name()),
        }
    }
}

/// Follows endpoint `id`'s health on `channel` for as long as the channel's shared state lives
/// and the endpoint is in it, telling the shared state each change.
pub(super) async fn follow(
    shared: Weak<Shared>,
    id: MemberId,
    channel: Channel,
    service: String,
    backoff: Backoff,
    first_answer: Duration,
) {
    let set = |health: EndpointHealth| match shared.upgrade() {
        Some(shared) => shared.set_health(&id, health),
        None => false,
    };
    let unimplemented = || {
        tracing::warn!(
            endpoint = %id.0,
            "the endpoint has no grpc.health.v1.Health service (UNIMPLEMENTED): \
             health checking is off for it, and it stays in rotation"
        );
        set(EndpointHealth::Unimplemented);
    };
    // Attempts in a row that got no answer: the backoff's count.
    let mut attempt = 0u32;
    loop {
        let mut client = HealthClient::new(channel.clone());
        let request = HealthCheckRequest {
            service: service.clone(),
        };
        let mut answered = false;
        // The first answer must come within `first_answer`: a server that accepts the
        // connection and never answers is retried, not waited on.
        let opened = tokio::time::timeout(first_answer, async {
            let mut stream = client.watch(request).await?.into_inner();
            let first = stream.message().await?;
            Ok::<_, tonic::Status>((stream, first))
        })
        .await;
        let reason = match opened {
            Err(_) => format!("no answer within {first_answer:?}"),
            Ok(Err(status)) if status.code() == tonic::Code::Unimplemented => {
                return unimplemented();
            }
            Ok(Err(status)) => describe(&status),
            Ok(Ok((_, None))) => "the Watch stream ended".to_owned(),
            Ok(Ok((mut stream, Some(first)))) => {
                let mut message = first;
                loop {
                    answered = true;
                    attempt = 0;
                    let health = match message.status() {
                        ServingStatus::Serving => EndpointHealth::Serving,
                        other => EndpointHealth::NotServing(other),
                    };
                    if !set(health) {
                        return;
                    }
                    match stream.message().await {
                        Ok(Some(next)) => message = next,
                        Ok(None) => break "the Watch stream ended".to_owned(),
                        Err(status) => break describe(&status),
                    }
                }
            }
        };
        if answered {
            // A17: a stream that had answered is retried at once, the endpoint out of rotation
            // (connecting) until the new stream answers.
            tracing::debug!(endpoint = %id.0, %reason, "the Watch ended; watching again");
            if !set(EndpointHealth::Connecting) {
                return;
            }
            continue;
        }
        attempt = attempt.saturating_add(1);
        let retry_in = backoff.wait(attempt);
        let health = EndpointHealth::Retrying {
            reason,
            attempt,
            retry_in,
        };
        if !set(health) {
            return;
        }
        tokio::time::sleep(retry_in).await;
    }
}

fn describe(status: &tonic::Status) -> String {
    if status.message().is_empty() {
        format!("{:?}", status.code())
    } else {
        format!("{:?}: {}", status.code(), status.message())
    }
}
