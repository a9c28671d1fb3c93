//! `cpu_usage`, `memory_usage` and `disk_usage`: grading at every boundary with injected
//! readings, failing probes, thresholds from configuration and builder, groups, the off switch,
//! and the real sysinfo source without any sampling wait.

use std::time::{Duration, Instant};

use health_runtime::indicator::{ReadingError, ResourceReading, SystemIndicators};
use health_runtime::{HealthConfig, HealthReport, HealthRuntime, Status};
use tests::builder;

const NAMES: [&str; 3] = ["cpu_usage", "memory_usage", "disk_usage"];

fn lookup(vars: &'static [(&'static str, &'static str)]) -> HealthConfig {
    HealthConfig::from_pairs(vars.iter().copied()).unwrap()
}

/// A runtime whose system metrics read `reading`, after its first sample.
async fn report_for(
    metrics: SystemIndicators,
    config: HealthConfig,
) -> (HealthRuntime, HealthReport) {
    let monitor = metrics.monitor();
    let runtime = builder()
        .config(config)
        .cache_ttl(Duration::ZERO)
        .with_checks(metrics)
        .build()
        .unwrap();
    runtime.start();
    if runtime.config().resources.enabled {
        tokio::time::timeout(Duration::from_secs(10), monitor.settled())
            .await
            .expect("a sample within 10 s");
    }
    let report = runtime.report().await;
    (runtime, report)
}

#[tokio::test]
async fn every_boundary_of_every_resource() {
    // Default thresholds: CPU 80, memory 85, disk 90; warning above 80 % of them.
    let thresholds = [80.0, 85.0, 90.0];
    type Case = (&'static str, fn(f64) -> f64, Status);
    let cases: [Case; 5] = [
        (
            "below the warning level",
            |t| t * 0.8 - 0.1,
            Status::Healthy,
        ),
        ("at the warning level", |t| t * 0.8, Status::Healthy),
        (
            "above the warning level",
            |t| t * 0.8 + 0.1,
            Status::Warning,
        ),
        ("at the critical level", |t| t, Status::Warning),
        ("above the critical level", |t| t + 0.1, Status::Critical),
    ];
    for (case, value, expected) in cases {
        let [cpu, memory, disk] = thresholds.map(value);
        let metrics =
            SystemIndicators::new().source(move || ResourceReading::new(cpu, memory, disk));
        let (_runtime, report) = report_for(metrics, HealthConfig::default()).await;
        for (name, (threshold, reading)) in
            NAMES.iter().zip(thresholds.iter().zip([cpu, memory, disk]))
        {
            let metric = &report.metrics[*name];
            assert_eq!(metric.status, expected, "{name} {case}: {metric:?}");
            assert_eq!(metric.value, Some(reading), "{name} {case}");
            assert_eq!(metric.threshold, Some(*threshold), "{name} {case}");
            assert!(metric.message.contains('%'), "{}", metric.message);
        }
    }
}

#[tokio::test]
async fn thresholds_come_from_configuration_and_the_builder_wins() {
    let config = lookup(&[
        ("PLUGIN_RESOURCE_CPU_THRESHOLD", "50"),
        ("PLUGIN_RESOURCE_MEMORY_THRESHOLD", "50"),
        ("PLUGIN_RESOURCE_DISK_THRESHOLD", "50"),
    ]);
    let metrics = SystemIndicators::new()
        .source(|| ResourceReading::new(45.0, 45.0, 45.0))
        .disk_threshold(95.0);
    let (_runtime, report) = report_for(metrics, config).await;
    assert_eq!(report.metrics["cpu_usage"].threshold, Some(50.0));
    assert_eq!(report.metrics["cpu_usage"].status, Status::Warning);
    assert_eq!(report.metrics["memory_usage"].status, Status::Warning);
    assert_eq!(report.metrics["disk_usage"].threshold, Some(95.0));
    assert_eq!(report.metrics["disk_usage"].status, Status::Healthy);
}

#[tokio::test]
async fn a_failing_probe_is_a_warning_with_its_message() {
    let metrics = SystemIndicators::new().source(|| ResourceReading {
        cpu: Ok(10.0),
        memory: Ok(10.0),
        disk: Err(ReadingError::failed("stale NFS handle")),
    });
    let (_runtime, report) = report_for(metrics, HealthConfig::default()).await;
    let disk = &report.metrics["disk_usage"];
    assert_eq!(disk.status, Status::Warning);
    assert_eq!(disk.value, None);
    assert_eq!(disk.message, "cannot read disk usage: stale NFS handle");
    assert_eq!(report.metrics["cpu_usage"].status, Status::Healthy);

    let critical = SystemIndicators::new()
        .on_reading_error(Status::Critical)
        .source(|| ResourceReading {
            cpu: Err(ReadingError::failed("no /proc")),
            memory: Ok(10.0),
            disk: Ok(10.0),
        });
    let (_runtime, report) = report_for(critical, HealthConfig::default()).await;
    assert_eq!(report.metrics["cpu_usage"].status, Status::Critical);
}

#[tokio::test]
async fn a_panicking_probe_is_reported_and_sampling_goes_on() {
    let mut calls = 0;
    let metrics = SystemIndicators::new()
        .sample_interval(Duration::from_millis(20))
        .source(move || {
            calls += 1;
            assert!(calls > 1, "probe exploded");
            ResourceReading::new(1.0, 2.0, 3.0)
        });
    let monitor = metrics.monitor();
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_checks(metrics)
        .build()
        .unwrap();
    runtime.start();
    let first = tokio::time::timeout(Duration::from_secs(10), monitor.settled())
        .await
        .unwrap();
    let report = runtime.report().await;
    if first.reading.cpu.is_err() {
        let cpu = &report.metrics["cpu_usage"];
        assert_eq!(cpu.status, Status::Warning);
        assert!(
            cpu.message.contains("panicked: probe exploded"),
            "{}",
            cpu.message
        );
    }
    // The next sample succeeds.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let report = runtime.report().await;
    assert_eq!(report.metrics["disk_usage"].value, Some(3.0));
}

#[tokio::test]
async fn the_metrics_only_inform_unless_opted_in() {
    let metrics = SystemIndicators::new().source(|| ResourceReading::new(99.0, 99.0, 99.0));
    let (runtime, report) = report_for(metrics, HealthConfig::default()).await;
    // Graded critical where they show, but a busy machine is not this process's fault.
    assert_eq!(report.metrics["cpu_usage"].status, Status::Critical);
    assert_eq!(report.overall_status, Status::Healthy);
    let snapshot = runtime.snapshot();
    assert_eq!(snapshot.status_of(""), Some(Status::Healthy));
    assert_eq!(snapshot.status_of("plugin"), Some(Status::Healthy));
    assert_eq!(snapshot.status_of("liveness"), Some(Status::Healthy));
    assert_eq!(snapshot.status_of("readiness"), Some(Status::Healthy));
    assert_eq!(snapshot.status_of("cpu_usage"), Some(Status::Critical));
    assert!(report.metrics["cpu_usage"].groups.is_empty());
    assert!(health_runtime::health_file::content(&runtime).healthy);

    let gated = SystemIndicators::new()
        .groups([health_runtime::Group::Readiness])
        .source(|| ResourceReading::new(99.0, 1.0, 1.0));
    let (runtime, _) = report_for(gated, HealthConfig::default()).await;
    let snapshot = runtime.snapshot();
    assert_eq!(snapshot.status_of("readiness"), Some(Status::Critical));
    assert_eq!(snapshot.status_of("liveness"), Some(Status::Healthy));
    assert_eq!(snapshot.status_of(""), Some(Status::Healthy));

    let counted = SystemIndicators::new()
        .informational(false)
        .service("kv.v1.KV")
        .source(|| ResourceReading::new(99.0, 1.0, 1.0));
    let (runtime, _) = report_for(counted, HealthConfig::default()).await;
    let snapshot = runtime.snapshot();
    assert_eq!(snapshot.status_of(""), Some(Status::Critical));
    assert_eq!(snapshot.status_of("kv.v1.KV"), Some(Status::Critical));
    assert_eq!(snapshot.status_of("liveness"), Some(Status::Healthy));
}

#[tokio::test]
async fn configuration_turns_them_off() {
    let metrics = SystemIndicators::new().source(|| ResourceReading::new(99.0, 99.0, 99.0));
    let (_runtime, report) =
        report_for(metrics, lookup(&[("PLUGIN_RESOURCE_METRICS", "false")])).await;
    for name in NAMES {
        assert!(!report.metrics.contains_key(name), "{name}");
    }
    assert_eq!(report.overall_status, Status::Healthy);
}

#[tokio::test]
async fn a_report_never_waits_for_a_sample() {
    // A probe that takes 3 s per sample (a hung filesystem): the report answers at once.
    let metrics = SystemIndicators::new().source(|| {
        std::thread::sleep(Duration::from_secs(3));
        ResourceReading::new(1.0, 1.0, 1.0)
    });
    let runtime = builder().with_checks(metrics).build().unwrap();
    runtime.start();
    let started = Instant::now();
    let report = runtime.report().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let cpu = &report.metrics["cpu_usage"];
    assert_eq!(cpu.status, Status::Healthy);
    assert_eq!(cpu.value, None);
    assert_eq!(cpu.message, "CPU usage: waiting for the first sample");
}

#[tokio::test]
async fn the_sysinfo_source_reads_plausible_values() {
    let disk_path = std::env::temp_dir();
    let metrics = SystemIndicators::new()
        .disk_path(&disk_path)
        .sample_interval(Duration::from_secs(60));
    let monitor = metrics.monitor();
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_checks(metrics)
        .build()
        .unwrap();
    runtime.start();
    // Before the sampler has a CPU reading, a report is built at once all the same.
    let started = Instant::now();
    let early = runtime.report().await;
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(early.metrics.contains_key("cpu_usage"));

    let sample = tokio::time::timeout(Duration::from_secs(10), monitor.settled())
        .await
        .expect("CPU usage settles after its second sample");
    let report = runtime.report().await;
    for name in NAMES {
        let metric = &report.metrics[name];
        let value = metric
            .value
            .unwrap_or_else(|| panic!("{name} has no value: {metric:?} ({sample:?})"));
        assert!((0.0..=100.0).contains(&value), "{name}: {value}");
        assert!(metric.threshold.is_some());
    }
}
