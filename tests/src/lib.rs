//! Shared helpers for the integration tests; each behaviour lives in its own `[[test]]` file.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use health_runtime::{HealthConfig, HealthRuntime, HealthRuntimeBuilder};

pub mod browser;
pub mod cli;
pub mod logs;
pub mod notify;
pub mod plugin;

/// Counts executions of a check.
#[derive(Debug, Clone, Default)]
pub struct Runs(Arc<AtomicUsize>);

impl Runs {
    /// Records one execution.
    pub fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// How many executions were recorded.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A builder without the `#[health_check]` functions of the test binary, with a long interval so
/// that only the test decides when checks run, and with no HTTP server or health file unless a
/// test asks for them.
pub fn builder() -> HealthRuntimeBuilder {
    HealthRuntime::builder()
        .config(quiet_config())
        .without_declared_checks()
        .default_interval(Duration::from_secs(3600))
}

/// The default configuration without the HTTP server and the health file.
pub fn quiet_config() -> HealthConfig {
    let mut config = HealthConfig::default();
    config.surfaces.http_addr = None;
    config.surfaces.health_file = None;
    config
}

/// [`quiet_config`] with details shown to everyone (`PLUGIN_HEALTH_SHOW_DETAILS=always`), for
/// tests about what the report and the metrics say rather than about who may read them.
pub fn details_config() -> HealthConfig {
    let mut config = quiet_config();
    config.details.level = health_runtime::config::DetailLevel::Always;
    config
}

/// Serves `runtime`'s HTTP surface on a loopback port until the test ends; its address.
pub async fn serve_http(runtime: &HealthRuntime) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let runtime = runtime.clone();
    tokio::spawn(async move {
        health_runtime::http::serve(&runtime, listener, std::future::pending()).await
    });
    addr
}

/// A health runtime served over gRPC on a loopback port, for as long as the test needs it.
#[derive(Debug)]
pub struct GrpcServer {
    /// The address it listens on.
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), health_runtime::server::ServeError>>,
}

impl GrpcServer {
    /// Serves `runtime`'s health services (which also starts its monitor).
    pub async fn start(runtime: &HealthRuntime) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = runtime.clone();
        let task = tokio::spawn(async move {
            let trigger = async {
                let _ = stopped.await;
            };
            health_runtime::server::serve_with_shutdown(
                &runtime,
                listener,
                tonic::service::Routes::default(),
                trigger,
            )
            .await
        });
        GrpcServer {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// A new connection to the server.
    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// A health client on a new connection.
    pub async fn health(&self) -> HealthClient {
        HealthClient::new(self.channel().await)
    }

    /// Triggers shutdown (drain, then stop) and waits until the server has stopped.
    pub async fn stop(mut self) -> Result<(), health_runtime::server::ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap()
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The generated `grpc.health.v1.Health` client.
pub type HealthClient =
    health_runtime::pb::health::v1::health_client::HealthClient<tonic::transport::Channel>;

pub use health_runtime::pb::health::v1::health_check_response::ServingStatus;

/// A `Check` request for `service`.
pub fn request(service: &str) -> health_runtime::pb::health::v1::HealthCheckRequest {
    health_runtime::pb::health::v1::HealthCheckRequest {
        service: service.to_owned(),
    }
}

/// The serving status of `Check(service)`, or the gRPC error code.
pub async fn check_status(
    client: &mut HealthClient,
    service: &str,
) -> Result<ServingStatus, tonic::Code> {
    client
        .check(request(service))
        .await
        .map(|response| response.into_inner().status())
        .map_err(|status| status.code())
}

/// The next status on a `Watch` stream, within `wait`; `None` when the stream ended or nothing
/// came.
pub async fn next_status(
    stream: &mut tonic::Streaming<health_runtime::pb::health::v1::HealthCheckResponse>,
    wait: Duration,
) -> Option<ServingStatus> {
    match tokio::time::timeout(wait, stream.message()).await {
        Ok(Ok(Some(response))) => Some(response.status()),
        _ => None,
    }
}
pub mod backend;
pub mod history;
pub mod process;
