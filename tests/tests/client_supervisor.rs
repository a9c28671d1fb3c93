//! The plugin host's supervisor over loopback: `Watch` pushes each change, a killed server is
//! unreachable until it is back, and a server whose `Watch` is `UNIMPLEMENTED` is polled with
//! `Check`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use health_runtime::Status;
use health_runtime::client::{Backoff, Observed, Supervisor, SupervisorSettings};
use health_runtime::pb::health::v1::health_check_response::ServingStatus;
use health_runtime::pb::health::v1::health_server::{Health, HealthServer};
use health_runtime::pb::health::v1::{
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
};
use tests::backend::Backend;
use tests::history::Dial;
use tests::{builder, quiet_config};
use tokio::sync::mpsc;

fn settings() -> SupervisorSettings {
    let mut settings = SupervisorSettings::default();
    settings.backoff = Backoff::starting_at(Duration::from_millis(40));
    settings.poll_interval = Duration::from_millis(50);
    settings
}

async fn next(seen: &mut mpsc::UnboundedReceiver<Observed>) -> Observed {
    tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .expect("a change within 10 s")
        .expect("the supervisor runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_pushes_every_change_and_a_killed_server_is_unreachable_until_it_is_back() {
    let dial = Dial::new();
    let mut config = quiet_config();
    config.checks.drain_delay = Duration::ZERO;
    let runtime = builder()
        .config(config)
        .cache_ttl(Duration::ZERO)
        .with_check(dial.check("db"))
        .build()
        .unwrap();
    let mut backend = Backend::start("plugin", Some(runtime.clone())).await;
    let channel = tonic::transport::Endpoint::from_shared(backend.uri())
        .unwrap()
        .connect_lazy();
    let (tx, mut seen) = mpsc::unbounded_channel();
    let supervisor = Supervisor::spawn_with(channel, "plugin", settings(), move |observed| {
        let _ = tx.send(observed.clone());
    });
    // The check has not run: UNKNOWN first, then its result.
    let mut first = next(&mut seen).await;
    if first == Observed::NotServing(ServingStatus::Unknown) {
        first = next(&mut seen).await;
    }
    assert_eq!(first, Observed::Serving);
    assert!(!supervisor.is_polling());

    dial.set(Status::Critical, "disk full", 0.0);
    runtime.check("db").await.unwrap();
    assert_eq!(
        next(&mut seen).await,
        Observed::NotServing(ServingStatus::NotServing)
    );
    assert_eq!(
        supervisor.current(),
        Some(Observed::NotServing(ServingStatus::NotServing))
    );
    // Warning is still SERVING to grpc.health.v1: no change to report.
    dial.set(Status::Healthy, "ok", 1.0);
    runtime.check("db").await.unwrap();
    assert_eq!(next(&mut seen).await, Observed::Serving);

    backend.kill();
    match next(&mut seen).await {
        Observed::Unreachable(reason) => assert!(!reason.is_empty()),
        other => panic!("expected unreachable, got {other:?}"),
    }
    // Retries fail the same way: no new callback for each.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(seen.try_recv().is_err());
    backend.restart().await;
    assert_eq!(next(&mut seen).await, Observed::Serving);
}

/// A health service with `Check` only, as older servers have.
struct CheckOnly(Arc<AtomicBool>);

#[tonic::async_trait]
impl Health for CheckOnly {
    async fn check(
        &self,
        _request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<HealthCheckResponse>, tonic::Status> {
        let status = if self.0.load(Ordering::SeqCst) {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        Ok(tonic::Response::new(HealthCheckResponse {
            status: status.into(),
        }))
    }

    async fn list(
        &self,
        _request: tonic::Request<HealthListRequest>,
    ) -> Result<tonic::Response<HealthListResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("no List"))
    }

    type WatchStream = futures::stream::Empty<Result<HealthCheckResponse, tonic::Status>>;

    async fn watch(
        &self,
        _request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("no Watch"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_watch_is_polled_with_check() {
    let up = Arc::new(AtomicBool::new(true));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = HealthServer::new(CheckOnly(up.clone()));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    let (tx, mut seen) = mpsc::unbounded_channel();
    let supervisor = Supervisor::spawn_with(channel, "", settings(), move |observed| {
        let _ = tx.send(observed.clone());
    });
    assert_eq!(next(&mut seen).await, Observed::Serving);
    assert!(supervisor.is_polling());
    up.store(false, Ordering::SeqCst);
    assert_eq!(
        next(&mut seen).await,
        Observed::NotServing(ServingStatus::NotServing)
    );
    up.store(true, Ordering::SeqCst);
    assert_eq!(next(&mut seen).await, Observed::Serving);
}
