//! The client side: health-aware load balancing for tonic channels, after
//! [gRFC A17](https://github.com/grpc/proposal/blob/master/A17-client-side-health-checking.md),
//! and a [`Supervisor`] for plugin hosts that follows one server's health.
//!
//! [`HealthAwareChannel`] spreads calls round robin over the endpoints whose
//! `grpc.health.v1.Health/Watch` says `SERVING`. Each endpoint has one connection, and its
//! `Watch` runs on it, with its TLS: what the watch sees is what the calls get. An endpoint
//! leaves the rotation as soon as its `Watch` delivers anything but `SERVING`, and comes back on
//! `SERVING`; a server without the health service (`UNIMPLEMENTED`) is taken as serving, logged
//! once and never asked again; a `Watch` that ends after answering is opened again at once
//! (the endpoint out of rotation, connecting, until it answers), and one that fails or gets no
//! answer within [`first_answer_timeout`](Builder::first_answer_timeout) (20 s) is retried with
//! exponential backoff and jitter, the backoff reset by any message. A call made while no
//! endpoint is in rotation waits for one that is still connecting, within its deadline
//! (`grpc-timeout`), and fails with `UNAVAILABLE` when none is.
//!
//! Where it differs from grpc-go's A17: `UNIMPLEMENTED` turns checking off for the endpoint
//! until it is added again (grpc-go asks again on each new connection); after a `GOAWAY` the
//! `Watch` may run on to the old connection's end while new calls use a new one; and a retry
//! shows as [`EndpointHealth::Retrying`] rather than going back through connecting. Set HTTP/2
//! keepalive on the endpoints (`Endpoint::http2_keep_alive_interval`), as A17 assumes, to
//! notice a peer that stops answering on an open connection.
//!
//! ```no_run
//! use health_runtime::client::HealthAwareChannel;
//! use tonic::transport::Endpoint;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let channel = HealthAwareChannel::builder()
//!     .health_check_service("kv.v1.KV")
//!     .build([
//!         Endpoint::from_static("http://10.0.0.1:50051"),
//!         Endpoint::from_static("http://10.0.0.2:50051"),
//!     ]);
//! // Any generated client takes it, as it takes a `Channel`.
//! let mut health = health_runtime::pb::health::v1::health_client::HealthClient::new(channel.clone());
//! # let _ = &mut health;
//! for (endpoint, state) in channel.endpoints() {
//!     println!("{endpoint}: {state}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The same from the standard service config:
//!
//! ```
//! use health_runtime::client::{HealthAwareChannel, ServiceConfig};
//!
//! let config: ServiceConfig = r#"{"loadBalancingPolicy": "round_robin",
//!     "healthCheckConfig": {"serviceName": "kv.v1.KV"}}"#.parse()?;
//! assert_eq!(config.health_check_service(), Some("kv.v1.KV"));
//! let builder = HealthAwareChannel::builder().service_config(&config);
//! # let _ = builder;
//! # Ok::<(), health_runtime::client::ServiceConfigError>(())
//! ```

mod backoff;
mod balance;
mod config;
mod endpoint;
#[cfg(feature = "prometheus")]
mod metrics;
mod supervisor;

pub use backoff::Backoff;
pub use balance::{Builder, EndpointChange, HealthAwareChannel};
pub use config::{ServiceConfig, ServiceConfigError};
pub use endpoint::EndpointHealth;
#[cfg(feature = "prometheus")]
pub use metrics::EndpointCollector;
pub use supervisor::{Observed, Supervisor, SupervisorSettings};
