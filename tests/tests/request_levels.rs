//! How `request_success_rate`, `avg_response_time` and `p99_response_time` are graded: the
//! seed's levels at each boundary, custom levels, the minimum volume and the off switch.

use std::time::Duration;

use health_runtime::indicator::RequestStats;
use health_runtime::{HealthConfig, HealthReport, Status};
use tests::builder;

async fn report(stats: &RequestStats, min_requests: u64) -> HealthReport {
    builder()
        .with_checks(stats.indicators().min_requests(min_requests))
        .build()
        .unwrap()
        .report()
        .await
}

fn record(stats: &RequestStats, requests: u64, failures: u64, latency: Duration) {
    for i in 0..requests {
        stats.record(latency, i >= failures);
    }
}

#[tokio::test]
async fn success_rate_at_each_boundary() {
    for (requests, failures, rate, expected) in [
        (100, 1, 99.0, Status::Healthy),
        (50, 1, 98.0, Status::Healthy),
        (1000, 21, 97.9, Status::Warning),
        (20, 1, 95.0, Status::Warning),
        (1000, 51, 94.9, Status::Critical),
    ] {
        let stats = RequestStats::new();
        record(&stats, requests, failures, Duration::from_millis(1));
        let metric = &report(&stats, 1).await.metrics["request_success_rate"];
        assert!((metric.value.unwrap() - rate).abs() < 1e-9, "{metric:?}");
        assert_eq!(metric.status, expected, "{rate}: {}", metric.message);
    }
}

#[tokio::test]
async fn average_response_time_at_each_boundary() {
    for (millis, expected) in [
        (1999, Status::Healthy),
        (2000, Status::Healthy),
        (2001, Status::Warning),
        (5000, Status::Warning),
        (5001, Status::Critical),
    ] {
        let stats = RequestStats::new();
        record(&stats, 10, 0, Duration::from_millis(millis));
        let metric = &report(&stats, 1).await.metrics["avg_response_time"];
        assert_eq!(metric.value, Some(millis as f64));
        assert_eq!(metric.threshold, Some(5000.0));
        assert_eq!(metric.status, expected, "{millis} ms: {}", metric.message);
    }
}

#[tokio::test]
async fn p99_response_time_is_graded_on_its_own_levels() {
    for (slow, expected) in [
        (Duration::from_millis(1500), Status::Healthy),
        (Duration::from_millis(3000), Status::Warning),
        (Duration::from_millis(9000), Status::Critical),
    ] {
        let stats = RequestStats::new();
        record(&stats, 98, 0, Duration::from_millis(10));
        record(&stats, 2, 0, slow);
        let report = report(&stats, 1).await;
        let metric = &report.metrics["p99_response_time"];
        let value = metric.value.unwrap();
        let slow_ms = slow.as_secs_f64() * 1000.0;
        assert!((value - slow_ms).abs() <= slow_ms * 0.016, "{metric:?}");
        assert_eq!(metric.status, expected, "{}", metric.message);
        // The mean of 98 × 10 ms and 2 slow ones stays healthy.
        assert_eq!(report.metrics["avg_response_time"].status, Status::Healthy);
    }
}

#[tokio::test]
async fn custom_levels_and_minimum_volume() {
    let stats = RequestStats::new();
    record(&stats, 5, 5, Duration::from_millis(400));
    // Five failures are below the default minimum of twenty requests: not graded.
    let report_default = builder()
        .with_checks(stats.clone())
        .build()
        .unwrap()
        .report()
        .await;
    let rate = &report_default.metrics["request_success_rate"];
    assert_eq!(rate.status, Status::Healthy);
    assert_eq!(rate.value, Some(0.0));
    assert_eq!(
        rate.message,
        "5 requests in the last 1m; not graded below 20"
    );

    let strict = stats
        .indicators()
        .min_requests(1)
        .success_rate_levels(99.9, 99.0)
        .response_time_levels(Duration::from_millis(100), Duration::from_millis(300));
    let report = builder()
        .with_checks(strict)
        .build()
        .unwrap()
        .report()
        .await;
    assert_eq!(
        report.metrics["request_success_rate"].status,
        Status::Critical
    );
    assert_eq!(report.metrics["request_success_rate"].threshold, Some(99.0));
    assert_eq!(report.metrics["avg_response_time"].status, Status::Critical);
    assert_eq!(report.metrics["avg_response_time"].threshold, Some(300.0));
    assert!(report.metrics["request_success_rate"].groups.is_empty());
}

#[tokio::test]
async fn no_requests_is_healthy() {
    let report = report(&RequestStats::new(), 0).await;
    let rate = &report.metrics["request_success_rate"];
    assert_eq!((rate.status, rate.value), (Status::Healthy, Some(100.0)));
    assert_eq!(report.metrics["p99_response_time"].value, Some(0.0));
}

#[tokio::test]
async fn configuration_turns_them_off() {
    let config = HealthConfig::from_pairs([("PLUGIN_HEALTH_REQUEST_METRICS", "false")]).unwrap();
    let stats = RequestStats::new();
    record(&stats, 10, 10, Duration::from_millis(1));
    let report = builder()
        .config(config)
        .with_checks(stats.clone())
        .build()
        .unwrap()
        .report()
        .await;
    for name in health_runtime::indicator::REQUEST_CHECK_NAMES {
        assert!(!report.metrics.contains_key(name), "{name}");
    }
}

#[tokio::test(start_paused = true)]
async fn old_requests_leave_the_window() {
    let stats = RequestStats::new();
    record(&stats, 10, 10, Duration::from_millis(1));
    tokio::time::advance(Duration::from_secs(30)).await;
    record(&stats, 10, 0, Duration::from_millis(1));
    assert_eq!(stats.summary().success_rate(), Some(50.0));
    tokio::time::advance(Duration::from_secs(31)).await;
    let summary = stats.summary();
    assert_eq!(
        (summary.requests(), summary.success_rate()),
        (10, Some(100.0))
    );
}
