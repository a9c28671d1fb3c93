//! The background monitor re-runs every check at its interval and follows the registry.

use std::time::Duration;

use health_runtime::{Check, Status};
use tests::{Runs, builder};

fn counted(runs: &Runs, name: &str) -> Check {
    let runs = runs.clone();
    Check::new(name.to_owned(), move || {
        runs.hit();
        std::future::ready(true)
    })
}

/// Lets spawned tasks run after the paused clock moves; generous, since a run crosses several
/// tasks (monitor, run, check).
async fn settle() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn monitor_reruns_each_check_at_its_interval() {
    let (fast, slow) = (Runs::default(), Runs::default());
    let runtime = builder()
        .default_interval(Duration::from_secs(30))
        .with_check(counted(&fast, "fast").interval(Duration::from_secs(10)))
        .with_check(counted(&slow, "slow"))
        .build()
        .unwrap();
    assert_eq!(
        (fast.count(), slow.count()),
        (0, 0),
        "nothing runs before start"
    );

    runtime.start();
    runtime.start(); // idempotent
    settle().await;
    assert_eq!(
        (fast.count(), slow.count()),
        (1, 1),
        "the first round runs at once"
    );

    for second in 1..=60 {
        tokio::time::advance(Duration::from_secs(1)).await;
        settle().await;
        assert_eq!(fast.count(), 1 + second / 10, "fast after {second}s");
        assert_eq!(slow.count(), 1 + second / 30, "slow after {second}s");
    }
    assert_eq!(
        runtime.cached("fast").unwrap().state().status(),
        Status::Healthy
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_by_a_caller_postpones_the_monitor() {
    let runs = Runs::default();
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_check(counted(&runs, "check").interval(Duration::from_secs(10)))
        .build()
        .unwrap();
    runtime.start();
    settle().await;
    assert_eq!(runs.count(), 1);

    tokio::time::advance(Duration::from_secs(6)).await;
    runtime.check("check").await.unwrap();
    assert_eq!(runs.count(), 2);

    // The monitor's next run is 10 s after the caller's, not after its own.
    tokio::time::advance(Duration::from_secs(5)).await;
    settle().await;
    assert_eq!(runs.count(), 2);
    tokio::time::advance(Duration::from_secs(5)).await;
    settle().await;
    assert_eq!(runs.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn monitor_follows_checks_added_and_removed_at_runtime() {
    let runs = Runs::default();
    let runtime = builder().build().unwrap();
    runtime.start();

    runtime
        .register(counted(&runs, "late").interval(Duration::from_secs(5)))
        .unwrap();
    settle().await;
    assert_eq!(runs.count(), 1);
    tokio::time::advance(Duration::from_secs(5)).await;
    settle().await;
    assert_eq!(runs.count(), 2);

    assert!(runtime.deregister("late"));
    assert!(!runtime.deregister("late"));
    tokio::time::advance(Duration::from_secs(60)).await;
    settle().await;
    assert_eq!(runs.count(), 2);
    assert!(runtime.cached("late").is_none());
}

#[tokio::test(start_paused = true)]
async fn an_interval_too_large_to_schedule_runs_once() {
    let runs = Runs::default();
    let runtime = builder()
        .with_check(counted(&runs, "rare").interval(Duration::MAX))
        .build()
        .unwrap();
    runtime.start();
    settle().await;
    tokio::time::advance(Duration::from_secs(3600 * 24 * 365)).await;
    settle().await;
    assert_eq!(runs.count(), 1);
    assert_eq!(
        runtime.cached("rare").unwrap().state().status(),
        Status::Healthy
    );
}

#[test]
fn checks_removed_while_being_added_leave_no_monitor_behind() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let runs = Runs::default();
    let runtime = builder().build().unwrap();
    rt.block_on(async { runtime.start() });
    std::thread::scope(|scope| {
        let remover = scope.spawn(|| {
            let mut removed = 0;
            while removed < 300 {
                if runtime.deregister("churn") {
                    removed += 1;
                }
            }
        });
        for _ in 0..300 {
            while runtime
                .register(counted(&runs, "churn").interval(Duration::from_millis(1)))
                .is_err()
            {}
        }
        remover.join().unwrap();
    });
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
    let settled = runs.count();
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
    assert_eq!(runs.count(), settled, "a removed check kept running");
}

#[tokio::test(start_paused = true)]
async fn dropping_the_runtime_stops_the_monitor() {
    let runs = Runs::default();
    let runtime = builder()
        .with_check(counted(&runs, "check").interval(Duration::from_secs(1)))
        .build()
        .unwrap();
    runtime.start();
    settle().await;
    drop(runtime);
    tokio::time::advance(Duration::from_secs(10)).await;
    settle().await;
    assert_eq!(runs.count(), 1);
}
