//! Shutdown freezes the published state and drains; resume undoes it; startup latches once it
//! has passed; the status of every name follows the checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use health_runtime::{Check, Group, Status};
use tests::builder;

fn switch(name: &str, up: &Arc<AtomicBool>) -> Check {
    let up = up.clone();
    Check::new(name.to_owned(), move || {
        std::future::ready(up.load(Ordering::SeqCst))
    })
}

#[tokio::test(start_paused = true)]
async fn names_follow_status_changes() {
    let up = Arc::new(AtomicBool::new(true));
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_check(switch("db", &up).service("storage"))
        .build()
        .unwrap();
    runtime.check("db").await.unwrap();
    let healthy = runtime.snapshot();
    assert_eq!(healthy.status_of("storage"), Some(Status::Healthy));
    drop(healthy);

    up.store(false, Ordering::SeqCst);
    runtime.check("db").await.unwrap();
    let snapshot = runtime.snapshot();
    for name in ["", "plugin", "readiness", "db", "storage"] {
        assert_eq!(snapshot.status_of(name), Some(Status::Critical), "{name:?}");
    }
    drop(snapshot);

    runtime
        .register(Check::new("late", || async { true }))
        .unwrap();
    assert_eq!(runtime.snapshot().status_of("late"), Some(Status::Unknown));
    runtime.deregister("late");
    assert_eq!(runtime.snapshot().status_of("late"), None);
}

#[tokio::test(start_paused = true)]
async fn shutdown_freezes_and_resume_publishes_what_happened_meanwhile() {
    let up = Arc::new(AtomicBool::new(true));
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .drain_delay(Duration::from_secs(3))
        .with_check(switch("db", &up))
        .build()
        .unwrap();
    runtime.check("db").await.unwrap();
    let mut updates = runtime.subscribe();
    updates.mark_unchanged();

    let deadline = runtime.shutdown();
    assert_eq!(
        deadline,
        tokio::time::Instant::now() + Duration::from_secs(3)
    );
    assert!(updates.has_changed().unwrap(), "watchers are told at once");
    assert!(runtime.snapshot().is_draining());
    assert_eq!(
        runtime.shutdown(),
        deadline,
        "a second shutdown keeps the deadline"
    );

    up.store(false, Ordering::SeqCst);
    let ran = runtime.check("db").await.unwrap();
    assert_eq!(ran.state().status(), Status::Critical, "runs still happen");
    assert_eq!(
        runtime.snapshot().check("db").unwrap().state().status(),
        Status::Healthy,
        "but the published state is frozen"
    );

    runtime.resume();
    let snapshot = runtime.snapshot();
    assert!(!snapshot.is_draining());
    assert_eq!(
        snapshot.check("db").unwrap().state().status(),
        Status::Critical
    );
}

#[tokio::test(start_paused = true)]
async fn drain_on_waits_for_the_trigger_then_the_drain_delay() {
    let runtime = builder()
        .drain_delay(Duration::from_secs(2))
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    runtime
        .drain_on(tokio::time::sleep(Duration::from_secs(5)))
        .await;
    assert_eq!(started.elapsed(), Duration::from_secs(7));
    assert!(runtime.snapshot().is_draining());
}

#[tokio::test(start_paused = true)]
async fn startup_latches_once_its_checks_have_passed() {
    let up = Arc::new(AtomicBool::new(true));
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_check(Check::new("db", || async { true }))
        .with_check(switch("migrations", &up).groups([Group::Startup]))
        .build()
        .unwrap();
    let snapshot = runtime.snapshot();
    assert!(!snapshot.startup_passed(), "nothing has run yet");
    assert_eq!(snapshot.status_of("startup"), Some(Status::Unknown));
    drop(snapshot);

    runtime.check("db").await.unwrap();
    assert!(
        !runtime.snapshot().startup_passed(),
        "other checks do not pass startup"
    );

    runtime.check("migrations").await.unwrap();
    assert!(runtime.snapshot().startup_passed());

    up.store(false, Ordering::SeqCst);
    runtime.check("migrations").await.unwrap();
    let snapshot = runtime.snapshot();
    assert_eq!(snapshot.group(Group::Startup), Status::Critical);
    assert_eq!(
        snapshot.status_of("startup"),
        Some(Status::Healthy),
        "latched"
    );
}
