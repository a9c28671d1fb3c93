//! `#[derive(HealthAware)]` handlers at runtime: one call registers, one removes (Watch streams
//! get SERVICE_UNKNOWN), registration is all or none, a dropped handler is reported, and the
//! handler's own report holds only its checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use health_runtime::runtime::RegistryError;
use health_runtime::{Check, CheckError, CheckOutcome, HealthAware, HealthIndicator, Status};
use tests::{GrpcServer, ServingStatus, builder, next_status, request};

struct Flag(AtomicBool);

impl HealthIndicator for Flag {
    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        if self.0.load(Ordering::SeqCst) {
            Ok(CheckOutcome::healthy())
        } else {
            Err(CheckError::new("down"))
        }
    }
}

#[derive(HealthAware)]
#[health(check = "handler_method", method = "ping", on_error = "warning")]
struct Handler {
    #[health(check = "handler_field", timeout = "1s")]
    flag: Flag,
}

impl Handler {
    async fn ping(&self) -> bool {
        self.flag.0.load(Ordering::SeqCst)
    }
}

fn handler(up: bool) -> Arc<Handler> {
    Arc::new(Handler {
        flag: Flag(AtomicBool::new(up)),
    })
}

#[tokio::test]
async fn one_call_registers_and_one_removes_with_service_unknown_on_watch() {
    let runtime = builder().build().unwrap();
    let handler = handler(true);
    let checks = runtime.register_aware(&handler).unwrap();
    assert_eq!(checks.names(), ["handler_method", "handler_field"]);
    let server = GrpcServer::start(&runtime).await;
    let mut client = server.health().await;
    let mut watch = client
        .watch(request("handler_field"))
        .await
        .unwrap()
        .into_inner();
    let wait = Duration::from_secs(5);
    let mut status = next_status(&mut watch, wait).await;
    if status == Some(ServingStatus::Unknown) {
        status = next_status(&mut watch, wait).await;
    }
    assert_eq!(status, Some(ServingStatus::Serving));

    assert_eq!(checks.deregister(), 2);
    assert_eq!(
        next_status(&mut watch, wait).await,
        Some(ServingStatus::ServiceUnknown)
    );
    assert!(runtime.cached("handler_method").is_none());
    assert_eq!(checks.deregister(), 0);
}

#[tokio::test]
async fn registration_is_all_or_none() {
    let runtime = builder().build().unwrap();
    runtime
        .register(Check::new("handler_field", || async { true }))
        .unwrap();
    let error = runtime.register_aware(&handler(true)).unwrap_err();
    assert!(
        matches!(error, RegistryError::DuplicateName { ref name, .. } if name == "handler_field")
    );
    assert!(runtime.cached("handler_method").is_none());
}

#[tokio::test]
async fn statuses_follow_the_instance_and_a_dropped_handler_fails() {
    let runtime = builder().build().unwrap();
    let handler = handler(false);
    let _checks = handler.register_health(&runtime).unwrap();
    let field = runtime.recheck("handler_field").await.unwrap();
    assert_eq!(field.state().status(), Status::Critical);
    let method = runtime.recheck("handler_method").await.unwrap();
    assert_eq!(method.state().status(), Status::Warning);
    handler.flag.0.store(true, Ordering::SeqCst);
    let field = runtime.recheck("handler_field").await.unwrap();
    assert_eq!(field.state().status(), Status::Healthy);

    drop(handler);
    let field = runtime.recheck("handler_field").await.unwrap();
    assert_eq!(field.state().status(), Status::Critical);
    assert_eq!(field.state().message(), Some("the handler was dropped"));
}

#[tokio::test]
async fn the_handler_report_holds_only_its_checks() {
    let runtime = builder().build().unwrap();
    runtime
        .register(Check::new("other", || async { false }))
        .unwrap();
    let handler = handler(true);
    let checks = runtime.register_aware(&handler).unwrap();
    let report = checks.report().await;
    let names: Vec<&str> = report.metrics.keys().map(String::as_str).collect();
    assert_eq!(names, ["handler_field", "handler_method"]);
    assert_eq!(report.overall_status, Status::Healthy);
    assert_eq!(runtime.report().await.overall_status, Status::Critical);

    use health_runtime::pb::report::v1::GetHealthReportRequest;
    use health_runtime::pb::report::v1::health_report_client::HealthReportClient;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(
                health_runtime::pb::report::v1::health_report_server::HealthReportServer::new(
                    health_runtime::grpc::HealthReportService::for_handler(&checks),
                ),
            )
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let mut client = HealthReportClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let response = client
        .get_health_report(GetHealthReportRequest::default())
        .await
        .unwrap()
        .into_inner();
    server.abort();
    let mut names: Vec<String> = response.metrics.into_keys().collect();
    names.sort();
    assert_eq!(names, ["handler_field", "handler_method"]);
}
