//! Both example servers, run as real processes, tell the systems operators already watch: with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set they export over OTLP/gRPC to a receiver on loopback, and
//! with `PLUGIN_HEALTH_NOTIFY_URL` set they post to a webhook sink on loopback, when one of
//! their checks turns critical for real (`plugin_server`'s data directory removed, `kv_sqlite`'s
//! upstream not listening).

#![cfg(unix)]

#[path = "../src/otel_receiver.rs"]
mod otel_receiver;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use health_runtime::pb::report::v1::GetHealthReportRequest;
use health_runtime::pb::report::v1::health_report_client::HealthReportClient;

use otel_receiver::{Receiver, attributes};
use tests::notify::Sink;
use tests::process::{Reaped, build_example, free_port, wait_for_port};

/// Starts `example` with OTLP export to `receiver` and notifications to `sink`, and what
/// `configure` adds.
fn start(
    example: &str,
    receiver: &Receiver,
    sink: &Sink,
    configure: impl FnOnce(&mut Command),
) -> (Reaped, SocketAddr) {
    let exe = build_example(example);
    let addr = free_port();
    let mut command = Command::new(exe);
    command
        .env("PLUGIN_HEALTH_GRPC_ADDR", addr.to_string())
        .env_remove("BASIC_PLUGIN")
        .env("PLUGIN_HEALTH_HTTP_ADDR", "")
        .env("PLUGIN_HEALTH_FILE_PATH", "")
        .env("PLUGIN_HEALTH_CHECK_INTERVAL", "1s")
        .env("PLUGIN_RESOURCE_METRICS", "false")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "500")
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .env("OTEL_BLRP_SCHEDULE_DELAY", "200")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_SDK_DISABLED")
        .env("PLUGIN_HEALTH_NOTIFY_URL", sink.url("/hooks/health"))
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    configure(&mut command);
    let child = command
        .spawn()
        .unwrap_or_else(|error| panic!("starting {example}: {error}"));
    let mut server = Reaped(child);
    if let Err(why) = wait_for_port(&mut server.0, addr, Duration::from_secs(60)) {
        panic!("{example}: {why}");
    }
    (server, addr)
}

/// Asks for the detailed report every 200 ms, which runs every check older than the cache TTL,
/// so that a check with a long interval sees its broken dependency soon.
fn keep_reporting(addr: SocketAddr) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        let mut client = HealthReportClient::new(channel);
        loop {
            let _ = client.get_health_report(GetHealthReportRequest {}).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

/// Waits for `check`'s transition into critical on both: a log record, metrics and run spans at
/// the receiver, a notification at the sink.
async fn critical_everywhere(example: &str, check: &str, receiver: &Receiver, sink: &Sink) {
    let received = receiver
        .wait_for(&format!("{check}'s transition into critical"), |received| {
            received.log_records().iter().any(|record| {
                let attributes = attributes(&record.attributes);
                attributes.get("health.check.name").map(String::as_str) == Some(check)
                    && attributes.get("health.check.to").map(String::as_str) == Some("critical")
            }) && received
                .last_points("health.check.runs")
                .iter()
                .any(|point| {
                    point
                        .attributes
                        .get("health.check.name")
                        .map(String::as_str)
                        == Some(check)
                })
                && received
                    .spans()
                    .iter()
                    .any(|span| span.name == "health_check")
        })
        .await;
    assert_eq!(
        received
            .metric_resource()
            .get("service.name")
            .map(String::as_str),
        Some(example),
        "the program's name is the default service name"
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let notification = loop {
        let found = sink.accepted().into_iter().find(|request| {
            let body = request.json();
            body["check"] == check && body["status"] == "critical"
        });
        if let Some(found) = found {
            break found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no notification of {check} turning critical; received {:?}",
            sink.received()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(notification.path, "/hooks/health");
    let body = notification.json();
    assert_eq!(body["type"], "transition");
    assert_eq!(body["service"]["name"], example);
    assert!(notification.header("webhook-id").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_server_exports_and_notifies() {
    let receiver = Receiver::grpc().await;
    let sink = Sink::start().await;
    let dir = scratch("plugin_server").join("kv");
    let (_server, addr) = start("plugin_server", &receiver, &sink, |command| {
        command.env("KV_DATA_DIR", &dir);
    });
    // Healthy first: its store's directory is there.
    receiver
        .wait_for("kv_store healthy", |received| {
            received
                .last_value(
                    "health.check.status",
                    &[
                        ("health.check.name", "kv_store"),
                        ("health.check.state", "healthy"),
                    ],
                )
                .is_some_and(|value| value == 1.0)
        })
        .await;
    remove(&dir);
    let reporting = keep_reporting(addr);
    critical_everywhere("plugin_server", "kv_store", &receiver, &sink).await;
    reporting.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_sqlite_exports_and_notifies() {
    let receiver = Receiver::grpc().await;
    let sink = Sink::start().await;
    let data = scratch("kv_sqlite");
    // Nothing listens there: the upstream check is critical from its first run.
    let upstream = free_port();
    let (_server, _) = start("kv_sqlite", &receiver, &sink, |command| {
        command
            .env("KV_DATA_DIR", &data)
            .env("KV_UPSTREAM_URL", format!("http://{upstream}/healthz"));
    });
    critical_everywhere("kv_sqlite", "kv_upstream", &receiver, &sink).await;
}

/// A fresh directory of the test's own under the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("examples_export")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn remove(dir: &Path) {
    std::fs::remove_dir_all(dir)
        .unwrap_or_else(|error| panic!("removing {}: {error}", dir.display()));
}
