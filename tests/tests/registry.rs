//! Checks added and removed at runtime, and the validation of their settings.

use std::time::Duration;

use health_runtime::runtime::RegistryError;
use health_runtime::{Check, Status};
use tests::builder;

#[tokio::test(start_paused = true)]
async fn checks_come_and_go_at_runtime() {
    let runtime = builder().build().unwrap();
    assert!(runtime.snapshot().checks().next().is_none());

    runtime
        .register(Check::new("late", || async { true }))
        .unwrap();
    assert_eq!(
        runtime.check("late").await.unwrap().state().status(),
        Status::Healthy
    );
    assert!(runtime.deregister("late"));
    assert!(runtime.check("late").await.is_err());

    // The name is free again, and the new check starts from nothing.
    runtime
        .register(Check::new("late", || async { false }))
        .unwrap();
    assert_eq!(runtime.cached("late").unwrap().state().runs(), 0);
    assert_eq!(
        runtime.check("late").await.unwrap().state().status(),
        Status::Critical
    );
}

#[tokio::test(start_paused = true)]
async fn a_result_for_a_removed_check_is_not_published() {
    let runtime = builder().build().unwrap();
    runtime
        .register(Check::new("slow", || async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            true
        }))
        .unwrap();
    let pending = tokio::spawn({
        let runtime = runtime.clone();
        async move { runtime.check("slow").await }
    });
    tokio::task::yield_now().await;
    runtime.deregister("slow");
    runtime
        .register(Check::new("slow", || async { false }))
        .unwrap();
    pending.await.unwrap().unwrap();
    assert_eq!(
        runtime.cached("slow").unwrap().state().status(),
        Status::Unknown
    );
}

#[test]
fn duplicate_runtime_names_name_both_definitions() {
    let runtime = builder().build().unwrap();
    let first_line = line!() + 1;
    let first_check = Check::new("db", || async { true });
    runtime.register(first_check).unwrap();
    let second_line = line!() + 1;
    let second_check = Check::new("db", || async { true });
    let error = runtime.register(second_check).unwrap_err();
    let RegistryError::DuplicateName {
        name,
        first,
        second,
    } = &error
    else {
        panic!("unexpected error {error}");
    };
    assert_eq!(name, "db");
    assert_eq!(first.line(), first_line);
    assert_eq!(second.line(), second_line);
    assert!(second.file().ends_with("registry.rs"));
    assert_eq!(
        error.to_string(),
        format!(
            "health check `db` is defined twice: at {} and at {}",
            first, second
        )
    );
}

#[test]
fn invalid_settings_are_refused_with_the_reason() {
    let runtime = builder().build().unwrap();
    let cases = [
        (
            Check::new("", || async { true }),
            "health check name `` defined at",
        ),
        (Check::new("has space", || async { true }), "contains ' '"),
        (Check::new("readiness", || async { true }), "is reserved"),
        (
            Check::new("ok", || async { true }).service("bad name"),
            "health check service `bad name`",
        ),
        (
            Check::new("ok", || async { true }).timeout(Duration::ZERO),
            "`timeout` must be greater than zero",
        ),
        (
            Check::new("ok", || async { true }).interval(Duration::ZERO),
            "`interval` must be greater than zero",
        ),
        (
            Check::new("ok", || async { true }).on_error(Status::Healthy),
            "`on_error` is `healthy`",
        ),
        (
            Check::new("ok", || async { true }).on_timeout(Status::Unknown),
            "`on_timeout` is `unknown`",
        ),
        (
            Check::new("ok", || async { true }).failure_threshold(0),
            "`failure_threshold` must be at least 1",
        ),
    ];
    for (check, expected) in cases {
        let error = runtime.register(check).unwrap_err().to_string();
        assert!(
            error.contains(expected),
            "{error:?} should contain {expected:?}"
        );
    }
    assert!(
        runtime.snapshot().checks().next().is_none(),
        "nothing half-registered"
    );
}

#[test]
fn build_reports_every_problem() {
    let error = builder()
        .with_check(Check::new("a", || async { true }).failure_threshold(0))
        .with_check(Check::new("b", || async { true }))
        .with_check(Check::new("b", || async { true }))
        .build()
        .unwrap_err();
    let text = error.to_string();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("`failure_threshold` must be at least 1"));
    assert!(text.contains("health check `b` is defined twice"));
    assert_eq!(error.check_errors().count(), 2);

    let error = builder()
        .default_timeout(Duration::ZERO)
        .default_interval(Duration::ZERO)
        .with_check(Check::new("a", || async { true }))
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the default interval must be greater than zero\nthe default timeout must be greater than zero"
    );
}
