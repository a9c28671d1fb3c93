//! Overall, group and service statuses are the worst of their checks; subscribers wake on
//! changes only.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use health_runtime::{Check, CheckOutcome, Group, Status};
use tests::builder;

fn fixed(name: &str, status: Status) -> Check {
    Check::new(name.to_owned(), move || std::future::ready(status))
}

#[tokio::test(start_paused = true)]
async fn overall_is_the_worst_check() {
    for (statuses, overall) in [
        (vec![], Status::Healthy),
        (vec![Status::Healthy, Status::Healthy], Status::Healthy),
        (vec![Status::Healthy, Status::Warning], Status::Warning),
        (
            vec![Status::Warning, Status::Critical, Status::Healthy],
            Status::Critical,
        ),
    ] {
        let mut builder = builder();
        for (i, status) in statuses.iter().enumerate() {
            builder = builder.with_check(fixed(&format!("check{i}"), *status));
        }
        let runtime = builder.build().unwrap();
        assert_eq!(
            runtime.report().await.overall_status,
            overall,
            "{statuses:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn groups_and_services_aggregate_their_members() {
    let runtime = builder()
        .with_check(
            fixed("db", Status::Critical)
                .groups([Group::Readiness])
                .service("storage"),
        )
        .with_check(
            fixed("cache", Status::Warning)
                .groups([Group::Readiness, Group::Liveness])
                .service("storage"),
        )
        .with_check(fixed("loop", Status::Healthy).groups([Group::Liveness, Group::Startup]))
        .with_check(fixed("orphan", Status::Healthy).groups([]))
        .build()
        .unwrap();
    let before = runtime.snapshot();
    assert_eq!(before.overall(), Status::Unknown, "no results yet");
    assert_eq!(before.group(Group::Startup), Status::Unknown);

    runtime.report().await;
    let snapshot = runtime.snapshot();
    assert_eq!(snapshot.overall(), Status::Critical);
    assert_eq!(snapshot.group(Group::Readiness), Status::Critical);
    assert_eq!(snapshot.group(Group::Liveness), Status::Warning);
    assert_eq!(snapshot.group(Group::Startup), Status::Healthy);
    assert_eq!(snapshot.status_of("storage"), Some(Status::Critical));
    assert_eq!(snapshot.status_of("cache"), Some(Status::Warning));
    assert_eq!(snapshot.status_of(""), Some(Status::Critical));
    assert_eq!(snapshot.status_of("plugin"), Some(Status::Critical));
    assert_eq!(snapshot.status_of("liveness"), Some(Status::Warning));
    assert_eq!(snapshot.status_of("nothing"), None);
    let names: Vec<_> = snapshot.statuses().keys().map(|name| &**name).collect();
    assert_eq!(
        names,
        [
            "",
            "cache",
            "db",
            "liveness",
            "loop",
            "orphan",
            "plugin",
            "readiness",
            "startup",
            "storage"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn subscribers_wake_on_status_changes_only() {
    let level = Arc::new(AtomicU8::new(0));
    let source = level.clone();
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_check(Check::new("gauge", move || {
            let value = f64::from(source.load(Ordering::SeqCst));
            async move { CheckOutcome::by_threshold(value, 100.0) }
        }))
        .build()
        .unwrap();
    let mut updates = runtime.subscribe();
    updates.mark_unchanged();

    runtime.check("gauge").await.unwrap(); // unknown -> healthy
    assert!(updates.has_changed().unwrap());
    updates.mark_unchanged();

    level.store(10, Ordering::SeqCst);
    runtime.check("gauge").await.unwrap(); // still healthy, new value
    assert!(!updates.has_changed().unwrap());
    assert_eq!(runtime.cached("gauge").unwrap().state().value(), Some(10.0));

    level.store(90, Ordering::SeqCst);
    runtime.check("gauge").await.unwrap(); // warning
    assert!(updates.has_changed().unwrap());
    assert_eq!(
        updates
            .borrow_and_update()
            .check("gauge")
            .unwrap()
            .state()
            .status(),
        Status::Warning
    );

    runtime.deregister("gauge");
    assert!(updates.has_changed().unwrap());
}
