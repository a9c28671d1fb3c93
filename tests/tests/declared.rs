//! `#[health_check]` functions are registered at link time with their settings, and stay
//! callable as written.

use std::time::Duration;

use health_runtime::{CheckOutcome, Group, HealthRuntime, Status, health_check};

#[health_check(
    name = "storage.primary",
    timeout = "250ms",
    on_timeout = "warning",
    on_error = "warning",
    interval = "1m30s",
    groups = ["liveness", "startup"],
    service = "storage",
    failure_threshold = 3
)]
async fn primary() -> Result<u64, std::io::Error> {
    Ok(12)
}

#[health_check]
fn defaults() -> bool {
    true
}

#[health_check(name = "sync_outcome")]
fn sync_outcome() -> CheckOutcome {
    CheckOutcome::warning("almost full")
        .with_value(85)
        .with_threshold(90)
}

#[health_check(name = "hangs", timeout = "100ms")]
async fn hangs() -> Status {
    std::future::pending().await
}

#[tokio::test(start_paused = true)]
async fn declared_checks_are_registered_with_their_settings() {
    let runtime = HealthRuntime::builder()
        .config(tests::quiet_config())
        .default_interval(Duration::from_secs(30))
        .default_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let snapshot = runtime.snapshot();
    let names: Vec<_> = snapshot.checks().map(|check| check.info().name()).collect();
    assert_eq!(
        names,
        ["defaults", "hangs", "storage.primary", "sync_outcome"]
    );

    let primary = snapshot.check("storage.primary").unwrap().info();
    assert_eq!(primary.timeout(), Duration::from_millis(250));
    assert_eq!(primary.on_timeout(), Status::Warning);
    assert_eq!(primary.on_error(), Status::Warning);
    assert_eq!(primary.interval(), Duration::from_secs(90));
    assert_eq!(primary.groups(), [Group::Liveness, Group::Startup]);
    assert_eq!(primary.service(), Some("storage"));
    assert_eq!(primary.failure_threshold(), 3);
    assert!(primary.location().file().ends_with("declared.rs"));
    assert_eq!(primary.location().item(), Some("declared::primary"));

    let defaults = snapshot.check("defaults").unwrap().info();
    assert_eq!(defaults.timeout(), Duration::from_secs(5));
    assert_eq!(defaults.on_timeout(), Status::Critical);
    assert_eq!(defaults.on_error(), Status::Critical);
    assert_eq!(defaults.interval(), Duration::from_secs(30));
    assert_eq!(defaults.groups(), [Group::Readiness]);
    assert_eq!(defaults.service(), None);
    assert_eq!(defaults.failure_threshold(), 1);
}

#[tokio::test(start_paused = true)]
async fn declared_checks_run() {
    let runtime = HealthRuntime::builder().build().unwrap();
    let report = runtime.report().await;
    let primary = &report.metrics["storage.primary"];
    assert_eq!(
        (primary.status, primary.value),
        (Status::Healthy, Some(12.0))
    );
    assert_eq!(report.metrics["defaults"].status, Status::Healthy);
    let outcome = &report.metrics["sync_outcome"];
    assert_eq!(outcome.status, Status::Warning);
    assert_eq!((outcome.value, outcome.threshold), (Some(85.0), Some(90.0)));
    assert_eq!(outcome.message, "almost full");
    let hangs = &report.metrics["hangs"];
    assert_eq!(hangs.status, Status::Critical);
    assert_eq!(hangs.message, "timed out after 100ms");
    assert_eq!(report.overall_status, Status::Critical);
}

#[tokio::test]
async fn the_functions_stay_callable() {
    assert_eq!(primary().await.unwrap(), 12);
    assert!(defaults());
    assert_eq!(sync_outcome().status(), Status::Warning);
}

#[test]
fn without_declared_checks_leaves_them_out() {
    // The configuration names no health file, so no built-in check is registered either.
    let runtime = HealthRuntime::builder()
        .config(tests::quiet_config())
        .without_declared_checks()
        .build()
        .unwrap();
    assert_eq!(runtime.snapshot().checks().len(), 0);
}
