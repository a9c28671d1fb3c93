//! A check that hangs is cut at its timeout and shows its `on_timeout` status.

use std::time::Duration;

use health_runtime::{Check, Status};
use tests::{Runs, builder};

#[tokio::test(start_paused = true)]
async fn hanging_async_check_is_cut_at_its_timeout() {
    let runtime = builder()
        .with_check(
            Check::new("hangs", std::future::pending::<bool>)
                .timeout(Duration::from_secs(2))
                .on_timeout(Status::Warning),
        )
        .with_check(
            Check::new("hangs_critical", std::future::pending::<bool>)
                .timeout(Duration::from_millis(250)),
        )
        .build()
        .unwrap();

    let started = tokio::time::Instant::now();
    let report = runtime.report().await;
    assert_eq!(started.elapsed(), Duration::from_secs(2));

    let hangs = &report.metrics["hangs"];
    assert_eq!(hangs.status, Status::Warning);
    assert_eq!(hangs.message, "timed out after 2s");
    assert_eq!(hangs.duration_ms, Some(2000.0));
    let critical = &report.metrics["hangs_critical"];
    assert_eq!(critical.status, Status::Critical);
    assert_eq!(critical.message, "timed out after 250ms");
    assert_eq!(report.overall_status, Status::Critical);
}

#[tokio::test(start_paused = true)]
async fn timed_out_async_check_is_dropped() {
    struct Dropped(Runs);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.hit();
        }
    }
    let drops = Runs::default();
    let counter = drops.clone();
    let runtime = builder()
        .with_check(
            Check::new("hangs", move || {
                let guard = Dropped(counter.clone());
                async move {
                    let _guard = guard;
                    std::future::pending::<bool>().await
                }
            })
            .timeout(Duration::from_secs(1)),
        )
        .build()
        .unwrap();
    runtime.check("hangs").await.unwrap();
    tokio::task::yield_now().await;
    assert_eq!(drops.count(), 1, "the abandoned run must not live on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_blocking_check_does_not_pile_up_threads() {
    let runs = Runs::default();
    let counter = runs.clone();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = std::sync::Mutex::new(released);
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_check(
            Check::blocking("stuck", move || {
                counter.hit();
                released.lock().unwrap().recv().is_ok()
            })
            .timeout(Duration::from_millis(50)),
        )
        .build()
        .unwrap();

    let first = runtime.check("stuck").await.unwrap();
    assert_eq!(first.state().status(), Status::Critical);
    assert_eq!(first.state().message(), Some("timed out after 50ms"));

    // The first run still holds its thread: the next run reports at once and starts nothing.
    let second = runtime.check("stuck").await.unwrap();
    assert_eq!(second.state().status(), Status::Critical);
    assert_eq!(
        second.state().message(),
        Some("an earlier run timed out after 50ms and has not returned yet")
    );
    assert_eq!(runs.count(), 1);

    // Once it returns, runs start again; with the sender gone they fail at once.
    release.send(()).unwrap();
    drop(release);
    let mut latest = second;
    for _ in 0..200 {
        if runs.count() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        latest = runtime.check("stuck").await.unwrap();
    }
    assert_eq!(runs.count(), 2);
    assert_eq!(latest.state().message(), Some("check returned false"));
}

#[tokio::test(start_paused = true)]
async fn a_timeout_shown_healthy_is_still_a_failed_run() {
    let runtime = builder()
        .with_check(
            Check::new("optional", std::future::pending::<bool>)
                .timeout(Duration::from_secs(1))
                .on_timeout(Status::Healthy),
        )
        .build()
        .unwrap();
    let state = runtime.check("optional").await.unwrap();
    assert_eq!(state.state().status(), Status::Healthy);
    assert_eq!(state.state().consecutive_failures(), 1);
    assert_eq!(state.state().failures(), 1);
    assert_eq!(state.state().last_success(), None);
}
