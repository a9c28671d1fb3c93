//! `/metrics`: Prometheus text exposition accepted by the official Python client's parser, read
//! from the published state without running a check.

use std::path::Path;
use std::time::Duration;

use health_runtime::{Check, CheckOutcome, HealthRuntime, Status};
use serde_json::Value;
use tests::process::prometheus_families;
use tests::{Runs, details_config, quiet_config};

/// Parses `text` with `prometheus_client.parser`, failing the test if it refuses it.
fn parse(text: &str) -> Vec<Value> {
    prometheus_families(Path::new(env!("CARGO_TARGET_TMPDIR")), text)
}

fn sample<'a>(families: &'a [Value], name: &str, labels: &[(&str, &str)]) -> Option<&'a Value> {
    families
        .iter()
        .flat_map(|family| family["samples"].as_array().unwrap())
        .find(|sample| {
            sample["name"] == name
                && labels
                    .iter()
                    .all(|(key, value)| sample["labels"][key] == *value)
        })
        .map(|sample| &sample["value"])
}

#[tokio::test]
async fn metrics_parse_and_read_the_published_state() {
    let runs = Runs::default();
    let counter = runs.clone();
    // The scrape reads values and thresholds, which `/metrics` shows only with details.
    let mut config = details_config();
    config.surfaces.prometheus = true;
    let runtime = HealthRuntime::builder()
        .config(config)
        .version("1.2.3")
        .cache_ttl(Duration::ZERO)
        .without_declared_checks()
        .with_check(
            Check::new("disk", move || {
                counter.hit();
                async { CheckOutcome::by_threshold(85.5, 90.0) }
            })
            .service("storage"),
        )
        .with_check(Check::new("db", || async { Err::<(), _>("refused") }))
        .with_check(Check::new("idle", || async { Status::Healthy }))
        .build()
        .unwrap();
    runtime.check("disk").await.unwrap();
    runtime.check("db").await.unwrap();
    runtime.check("db").await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = runtime.clone();
    tokio::spawn(async move {
        health_runtime::http::serve(&server, listener, std::future::pending()).await
    });
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert_eq!(runs.count(), 1, "a scrape runs no check");

    assert_published_state(&text, &runtime);

    runtime.deregister("db");
    let families = parse(&health_runtime::prometheus::render(&runtime).unwrap());
    assert!(
        sample(
            &families,
            "health_check_duration_seconds_count",
            &[("service", "db")]
        )
        .is_none()
    );
    assert!(
        sample(
            &families,
            "health_checks_total",
            &[("service", "db"), ("result", "failure")]
        )
        .is_none()
    );
}

/// The families of one scrape against what the test's runtime has published.
fn assert_published_state(text: &str, runtime: &HealthRuntime) {
    let families = parse(text);
    let value = |name: &str, labels: &[(&str, &str)]| {
        sample(&families, name, labels)
            .unwrap_or_else(|| panic!("no sample {name} {labels:?} in\n{text}"))
            .as_f64()
    };
    assert_eq!(value("health_status", &[("service", "disk")]), Some(1.0));
    assert_eq!(value("health_status", &[("service", "storage")]), Some(1.0));
    assert_eq!(value("health_status", &[("service", "db")]), Some(0.0));
    assert_eq!(value("health_status", &[("service", "")]), Some(0.0));
    assert_eq!(
        value("health_status", &[("service", "idle")]),
        Some(0.0),
        "no result yet"
    );
    assert_eq!(
        value(
            "health_checks_total",
            &[("service", "db"), ("result", "failure")]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            "health_checks_total",
            &[("service", "disk"), ("result", "success")]
        ),
        Some(0.0),
        "a warning is not a success"
    );
    assert_eq!(
        value("health_check_value", &[("service", "disk")]),
        Some(85.5)
    );
    assert_eq!(
        value("health_check_threshold", &[("service", "disk")]),
        Some(90.0)
    );
    assert_eq!(
        value("health_check_duration_seconds_count", &[("service", "db")]),
        Some(2.0)
    );
    assert_eq!(
        value(
            "health_check_duration_seconds_bucket",
            &[("service", "db"), ("le", "+Inf")]
        ),
        Some(2.0)
    );
    assert_eq!(value("health_info", &[("version", "1.2.3")]), Some(1.0));
    assert_eq!(value("health_draining", &[]), Some(0.0));
    let uptime = value("health_uptime_seconds", &[]).unwrap();
    assert!(
        (0.0..=runtime.uptime().as_secs_f64()).contains(&uptime),
        "the uptime so far: {uptime}"
    );
}

#[tokio::test]
async fn metrics_render_with_many_checks_and_odd_messages() {
    let mut builder = HealthRuntime::builder()
        .config(quiet_config())
        .without_declared_checks();
    for i in 0..100 {
        builder = builder.with_check(Check::new(format!("check.{i}/x-y"), move || async move {
            CheckOutcome::new(Status::Warning)
                .with_value(f64::from(i))
                .with_message("quote \" backslash \\ newline \n")
        }));
    }
    let runtime = builder.build().unwrap();
    runtime.report().await;
    let started = std::time::Instant::now();
    let text = health_runtime::prometheus::render(&runtime).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let families = parse(&text);
    assert_eq!(
        sample(
            &families,
            "health_check_value",
            &[("service", "check.42/x-y")]
        )
        .and_then(Value::as_f64),
        Some(42.0)
    );
}
