//! `plugin.health.v1.HealthReport/GetHealthReport` over loopback.

use std::time::Duration;

use health_runtime::pb::report::v1::health_report_client::HealthReportClient;
use health_runtime::pb::report::v1::{GetHealthReportRequest, HealthStatus};
use health_runtime::{Check, CheckOutcome, Group};
use tests::{GrpcServer, builder, details_config};

#[tokio::test]
async fn the_report_carries_every_check_with_its_details() {
    let runtime = builder()
        .config(details_config())
        .version("2.3.4")
        .with_check(
            Check::new("disk", || async {
                CheckOutcome::by_threshold(85.0, 90.0).with_message("85 % used")
            })
            .service("storage")
            .groups([Group::Readiness, Group::Liveness]),
        )
        .with_check(
            Check::new("slow", || async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err::<(), _>("connection refused")
            })
            .failure_threshold(1),
        )
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;
    let mut client = HealthReportClient::new(server.channel().await);
    let report = client
        .get_health_report(GetHealthReportRequest {})
        .await
        .unwrap()
        .into_inner();

    assert_eq!(report.overall_status(), HealthStatus::Critical);
    assert_eq!(report.version, "2.3.4");
    let uptime = report.uptime_seconds;
    assert!(
        (0.0..=runtime.uptime().as_secs_f64()).contains(&uptime),
        "the uptime so far: {uptime}"
    );
    assert!(report.timestamp.is_some());

    let disk = &report.metrics["disk"];
    assert_eq!(disk.name, "disk");
    assert_eq!(disk.status(), HealthStatus::Warning);
    assert_eq!((disk.value, disk.threshold), (Some(85.0), Some(90.0)));
    assert_eq!(disk.message, "85 % used");
    assert_eq!(disk.groups, ["liveness", "readiness"]);
    assert_eq!(disk.service, "storage");
    assert_eq!(disk.consecutive_failures, 1);
    assert!(disk.last_updated.is_some() && disk.last_success.is_none());

    let slow = &report.metrics["slow"];
    assert_eq!(slow.status(), HealthStatus::Critical);
    assert_eq!(slow.message, "connection refused");
    assert_eq!(slow.value, None);
    let duration = slow.duration.unwrap();
    let duration = Duration::new(duration.seconds as u64, duration.nanos as u32);
    assert!(duration >= Duration::from_millis(20), "{duration:?}");
}
