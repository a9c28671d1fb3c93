//! OpenTelemetry export end to end: a check flips healthy -> critical, and an OTLP receiver on
//! 127.0.0.1 gets, over gRPC and over http/protobuf, the statuses before and after, the run
//! counts and durations, one transition log record per transition with its attributes, and one
//! `health_check` span per run; a removed check's gauge series go, and so do a dropped
//! runtime's.
//!
//! The OTel providers are process-wide (`opentelemetry::global`): the cases run one at a time,
//! each installing its own providers before building its own runtime.

#[path = "../src/otel_receiver.rs"]
mod otel_receiver;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use health_runtime::otel::{Otlp, Protocol, Telemetry};
use health_runtime::{Check, HealthEvent, Status};
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use otel_receiver::{Received, Receiver, attributes, double};
use tracing_subscriber::prelude::*;

/// One case at a time: they share the global providers.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The events a case saw, through an observer on the builder.
#[derive(Debug, Default)]
struct Seen {
    /// `failed` of each run, in order.
    runs: Vec<bool>,
    /// (from, to, the run's duration) of each transition.
    transitions: Vec<(Status, Status, Duration)>,
}

async fn flush(telemetry: &Arc<Telemetry>) {
    let telemetry = telemetry.clone();
    // Blocking, and the exporters need this runtime: off its thread.
    tokio::task::spawn_blocking(move || telemetry.force_flush())
        .await
        .unwrap()
        .unwrap();
}

async fn flip_is_exported(protocol: Protocol) {
    let _serial = SERIAL.lock().await;
    let receiver = match protocol {
        Protocol::Grpc => Receiver::grpc().await,
        _ => Receiver::http().await,
    };
    let telemetry = Arc::new(
        Otlp::new(receiver.endpoint())
            .with_protocol(protocol)
            .with_metric_interval(Duration::from_millis(200))
            .with_service_name("otel-test")
            .with_service_version("9.8.7")
            .install()
            .unwrap(),
    );
    // The test runtime is current-thread: every task, each run's span among them, is polled on
    // this thread, where this subscriber is the default.
    let _subscriber = tracing_subscriber::registry()
        .with(telemetry.tracing_layer())
        .set_default();

    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sink = seen.clone();
    let runtime = tests::builder()
        .with_check(Check::new("flip", move || {
            let up = flag.load(Ordering::SeqCst);
            async move {
                if up {
                    Ok(())
                } else {
                    Err("connection refused")
                }
            }
        }))
        .observe(move |event: &HealthEvent| match event {
            HealthEvent::Ran { failed, .. } => sink.lock().unwrap().runs.push(*failed),
            HealthEvent::Transition {
                from, to, duration, ..
            } => sink
                .lock()
                .unwrap()
                .transitions
                .push((*from, *to, *duration)),
            _ => {}
        })
        .build()
        .unwrap();

    // Before: healthy.
    runtime.recheck("flip").await.unwrap();
    flush(&telemetry).await;
    let before = receiver
        .wait_for("the healthy state", |received| {
            received.last_value("health.status", &[("health.service", "")]) == Some(1.0)
                && received.last_value(
                    "health.check.status",
                    &[
                        ("health.check.name", "flip"),
                        ("health.check.state", "healthy"),
                    ],
                ) == Some(1.0)
        })
        .await;
    assert_eq!(
        before.last_value("health.status", &[("health.service", "readiness")]),
        Some(1.0)
    );

    // The flip, and two more failed runs.
    up.store(false, Ordering::SeqCst);
    for _ in 0..3 {
        let snapshot = runtime.recheck("flip").await.unwrap();
        assert_eq!(snapshot.state().status(), Status::Critical);
    }
    let (runs, transitions) = {
        let seen = seen.lock().unwrap();
        (seen.runs.clone(), seen.transitions.clone())
    };
    assert_eq!(runs, [false, true, true, true]);
    assert_eq!(transitions.len(), 2, "{transitions:?}");
    let failures = runs.iter().filter(|failed| **failed).count() as f64;
    let successes = runs.len() as f64 - failures;

    flush(&telemetry).await;
    let after = receiver
        .wait_for(
            "the critical state, every run, record and span",
            |received| {
                received.last_value("health.status", &[("health.service", "")]) == Some(0.0)
                    && received.last_value(
                        "health.check.runs",
                        &[
                            ("health.check.name", "flip"),
                            ("health.check.result", "failure"),
                        ],
                    ) == Some(failures)
                    && received.log_records().len() >= transitions.len()
                    && received.spans().len() >= runs.len()
            },
        )
        .await;
    assert_metrics(&after, successes, failures);
    assert_records(&after, &transitions);
    assert_spans(&after, &runs);

    // A removed check's gauge series go at the next collection.
    assert!(runtime.deregister("flip"));
    flush(&telemetry).await;
    let exports = after.metrics.len();
    receiver
        .wait_for("an export without the removed check", |received| {
            received.metrics.len() > exports
                && received
                    .last_points("health.check.status")
                    .iter()
                    .all(|point| point.attributes["health.check.name"] != "flip")
                && received
                    .last_value("health.status", &[("health.service", "flip")])
                    .is_none()
        })
        .await;

    // A dropped runtime's callbacks report nothing: it was not kept alive by them.
    let exports = receiver.received().metrics.len();
    assert!(
        !receiver.received().last_points("health.status").is_empty(),
        "the overall and the groups show while the runtime lives"
    );
    drop(runtime);
    flush(&telemetry).await;
    receiver
        .wait_for(
            "an export without the dropped runtime's gauges",
            |received| {
                received.metrics.len() > exports
                    && received.last_points("health.status").is_empty()
                    && received.last_points("health.check.uptime").is_empty()
            },
        )
        .await;

    drop(_subscriber);
    let telemetry = Arc::into_inner(telemetry).unwrap();
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap()
        .unwrap();
}

fn assert_metrics(after: &Received, successes: f64, failures: f64) {
    let resource = after.metric_resource();
    assert_eq!(resource["service.name"], "otel-test");
    assert_eq!(resource["service.version"], "9.8.7");
    let scopes: Vec<&str> = after.all_metrics().map(|(scope, _)| scope).collect();
    assert!(
        scopes.iter().all(|scope| *scope == "health-runtime"),
        "{scopes:?}"
    );

    // Every name the gRPC health service answers to, not serving now.
    for service in ["", "plugin", "flip", "readiness"] {
        assert_eq!(
            after.last_value("health.status", &[("health.service", service)]),
            Some(0.0),
            "health.status of {service:?}"
        );
    }
    // Liveness has no check: it serves.
    assert_eq!(
        after.last_value("health.status", &[("health.service", "liveness")]),
        Some(1.0)
    );
    // The tri-state: 1 for critical, 0 for the others.
    for (state, value) in [
        ("healthy", 0.0),
        ("warning", 0.0),
        ("critical", 1.0),
        ("unknown", 0.0),
    ] {
        assert_eq!(
            after.last_value(
                "health.check.status",
                &[("health.check.name", "flip"), ("health.check.state", state)]
            ),
            Some(value),
            "health.check.status {state}"
        );
    }
    assert_eq!(
        after.last_value(
            "health.check.runs",
            &[
                ("health.check.name", "flip"),
                ("health.check.result", "success")
            ]
        ),
        Some(successes)
    );
    assert_eq!(
        after.last_value(
            "health.check.runs",
            &[
                ("health.check.name", "flip"),
                ("health.check.result", "failure")
            ]
        ),
        Some(failures)
    );
    let histogram = after.last_histogram("health.check.duration");
    let count: u64 = histogram
        .iter()
        .filter(|point| point.attributes["health.check.name"] == "flip")
        .map(|point| point.count)
        .sum();
    assert_eq!(count as f64, successes + failures, "{histogram:?}");
    // The history knows the check's state from its first run: uptime over both windows.
    for window in ["1h", "24h"] {
        let uptime = after
            .last_value(
                "health.check.uptime",
                &[("health.check.name", "flip"), ("health.window", window)],
            )
            .unwrap_or_else(|| panic!("no uptime over {window}"));
        assert!((0.0..1.0).contains(&uptime), "uptime {window} = {uptime}");
    }
}

fn assert_records(after: &Received, transitions: &[(Status, Status, Duration)]) {
    let records: Vec<_> = after
        .log_records()
        .into_iter()
        .filter(|record| record.event_name == "health.check.transition")
        .collect();
    assert_eq!(records.len(), transitions.len(), "{records:#?}");
    let flips: Vec<_> = records
        .iter()
        .filter(|record| attributes(&record.attributes)["health.check.to"] == "critical")
        .collect();
    assert_eq!(
        flips.len(),
        1,
        "exactly one record of the flip: {records:#?}"
    );
    let flip = flips[0];
    let (_, _, duration) = transitions
        .iter()
        .find(|(_, to, _)| *to == Status::Critical)
        .unwrap();
    assert_eq!(flip.severity_number, SeverityNumber::Error as i32);
    assert_eq!(flip.severity_text, "ERROR");
    assert_eq!(
        otel_receiver::text(flip.body.as_ref()),
        "health check flip: healthy -> critical"
    );
    let attrs = attributes(&flip.attributes);
    assert_eq!(attrs["health.check.name"], "flip");
    assert_eq!(attrs["health.check.from"], "healthy");
    assert_eq!(attrs["health.check.to"], "critical");
    assert_eq!(attrs["health.check.message"], "connection refused");
    assert_eq!(attrs["health.check.groups"], "readiness");
    assert!(!attrs.contains_key("health.check.value"), "{attrs:?}");
    assert_eq!(
        double(&flip.attributes, "health.check.duration"),
        Some(duration.as_secs_f64())
    );
    assert!(flip.time_unix_nano > 0);

    let first = records
        .iter()
        .find(|record| attributes(&record.attributes)["health.check.to"] == "healthy")
        .expect("the record of the first result");
    assert_eq!(first.severity_number, SeverityNumber::Info as i32);
    assert_eq!(
        attributes(&first.attributes)["health.check.from"],
        "unknown"
    );
}

fn assert_spans(after: &Received, runs: &[bool]) {
    let spans: Vec<_> = after
        .spans()
        .into_iter()
        .filter(|span| span.name == "health_check")
        .collect();
    assert_eq!(spans.len(), runs.len(), "{spans:#?}");
    assert_eq!(after.spans().len(), spans.len(), "only the run spans");
    // Spans end in the order the runs did (one at a time here).
    let mut spans = spans;
    spans.sort_by_key(|span| span.end_time_unix_nano);
    for (span, failed) in spans.iter().zip(runs) {
        let attrs = attributes(&span.attributes);
        assert_eq!(attrs["health.check.name"], "flip");
        let (result, status, outcome) = if *failed {
            ("failure", "critical", "error")
        } else {
            ("success", "healthy", "ok")
        };
        assert_eq!(attrs["health.check.result"], result, "{attrs:?}");
        assert_eq!(attrs["health.check.status"], status, "{attrs:?}");
        assert_eq!(attrs["health.check.outcome"], outcome, "{attrs:?}");
        let code = span.status.as_ref().map_or(0, |status| status.code);
        if *failed {
            assert_eq!(code, StatusCode::Error as i32, "{span:#?}");
        } else {
            assert_ne!(code, StatusCode::Error as i32, "{span:#?}");
        }
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
    }
}

#[tokio::test]
async fn a_flip_is_exported_over_grpc() {
    flip_is_exported(Protocol::Grpc).await;
}

#[tokio::test]
async fn a_flip_is_exported_over_http_protobuf() {
    flip_is_exported(Protocol::HttpProtobuf).await;
}
