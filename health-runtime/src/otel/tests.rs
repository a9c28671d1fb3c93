use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{BatchConfigBuilder, BatchLogProcessor, LogBatch, LogExporter};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

use super::instruments::RunInstruments;
use crate::{Check, HealthEvent, HealthObserver, HealthRuntime, Status};

/// An exporter that never finishes an export until it is released: every batch processor
/// thread that calls it is stuck.
#[derive(Debug)]
struct Stuck {
    release: Mutex<mpsc::Receiver<()>>,
}

impl LogExporter for Stuck {
    async fn export(&self, _: LogBatch<'_>) -> OTelSdkResult {
        let release = self
            .release
            .lock()
            .unwrap_or_else(|error| error.into_inner());
        // Blocks the processor's own thread, never the caller of `emit`.
        let _ = release.recv();
        Ok(())
    }
}

#[tokio::test]
async fn the_observer_records_without_waiting_on_a_stuck_exporter() {
    let runtime = HealthRuntime::builder()
        .without_declared_checks()
        .with_check(Check::new("db", || async { Err::<(), _>("refused") }))
        .build()
        .unwrap();
    let check = runtime.check("db").await.unwrap();

    let (release, stuck) = mpsc::channel();
    let logs = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
        .with_log_processor(
            BatchLogProcessor::builder(Stuck {
                release: Mutex::new(stuck),
            })
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(4)
                    .with_max_export_batch_size(1)
                    .with_scheduled_delay(Duration::from_millis(1))
                    .build(),
            )
            .build(),
        )
        .build();
    let metrics = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metrics.clone()).build())
        .build();
    let observer = Arc::new(RunInstruments::new(
        &meters.meter_with_scope(super::scope()),
        Some(super::logs::bridge(&logs)),
    ));

    const EVENTS: u64 = 1_000;
    let (done, finished) = mpsc::channel();
    let feeding = observer.clone();
    std::thread::spawn(move || {
        for _ in 0..EVENTS {
            feeding.on_event(&HealthEvent::Ran {
                check: check.clone(),
                duration: Duration::from_millis(3),
                failed: true,
            });
            // Far more records than the processor's queue holds, its exporter stuck: the
            // records beyond it are dropped, never waited for.
            feeding.on_event(&HealthEvent::Transition {
                check: check.clone(),
                from: Status::Healthy,
                to: Status::Critical,
                duration: Duration::from_millis(3),
            });
        }
        let _ = done.send(());
    });
    // A generous deadline for a loaded machine; a blocked observer never gets there.
    assert!(
        finished.recv_timeout(Duration::from_secs(20)).is_ok(),
        "on_event waited on the stuck log exporter"
    );

    meters.force_flush().unwrap();
    let exported = metrics.get_finished_metrics().unwrap();
    let runs: u64 = exported
        .iter()
        .flat_map(|resource| resource.scope_metrics())
        .flat_map(|scope| scope.metrics())
        .filter(|metric| metric.name() == "health.check.runs")
        .map(|metric| match metric.data() {
            AggregatedMetrics::U64(MetricData::Sum(sum)) => sum
                .data_points()
                .filter(|point| {
                    point.attributes().any(|kv| {
                        kv.key.as_str() == "health.check.result" && kv.value.as_str() == "failure"
                    })
                })
                .map(|point| point.value())
                .max()
                .unwrap_or(0),
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    assert_eq!(runs, EVENTS);
    drop(release);
    let _ = logs.shutdown_with_timeout(Duration::from_secs(1));
}

#[test]
fn a_signals_own_headers_replace_the_generic_ones() {
    let otlp = super::Otlp::from_pairs([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector-a:4318"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=for-a,tenant=kv"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://vendor-b/v1/traces",
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-b-key=for-b"),
    ])
    .unwrap()
    .unwrap();
    let traces = otlp.destination(super::Signal::Traces).unwrap();
    let names: Vec<&str> = traces.headers.keys().map(String::as_str).collect();
    assert_eq!(names, ["x-b-key"], "collector A's key must not go to B");
    let metrics = otlp.destination(super::Signal::Metrics).unwrap();
    let names: Vec<&str> = metrics.headers.keys().map(String::as_str).collect();
    assert_eq!(names, ["api-key", "tenant"]);
}

#[test]
fn a_header_value_set_in_code_that_cannot_be_sent_is_an_error_hiding_it() {
    let otlp = super::Otlp::new("http://127.0.0.1:4318").with_header("api-key", "s3cret\n");
    let error = otlp.destination(super::Signal::Logs).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("api-key"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
}
