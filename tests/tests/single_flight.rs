//! Concurrent callers share one run; a fresh result is served from cache.

use std::time::Duration;

use health_runtime::{Check, Status};
use tests::{Runs, builder};

fn slow_check(runs: &Runs, name: &str) -> Check {
    let runs = runs.clone();
    Check::new(name.to_owned(), move || {
        let runs = runs.clone();
        async move {
            runs.hit();
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok::<u64, std::io::Error>(7)
        }
    })
}

#[tokio::test(start_paused = true)]
async fn thousand_concurrent_callers_cause_one_execution() {
    let runs = Runs::default();
    let runtime = builder()
        .with_check(slow_check(&runs, "slow"))
        .build()
        .unwrap();

    let callers = (0..1000).map(|_| {
        let runtime = runtime.clone();
        tokio::spawn(async move { runtime.check("slow").await })
    });
    let results = futures::future::join_all(callers).await;

    assert_eq!(runs.count(), 1);
    for result in results {
        let snapshot = result.unwrap().unwrap();
        assert_eq!(snapshot.state().status(), Status::Healthy);
        assert_eq!(snapshot.state().value(), Some(7.0));
        assert_eq!(snapshot.state().runs(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn fresh_results_come_from_cache_until_the_ttl_passes() {
    let runs = Runs::default();
    let runtime = builder()
        .cache_ttl(Duration::from_secs(1))
        .with_check(slow_check(&runs, "slow"))
        .build()
        .unwrap();

    runtime.check("slow").await.unwrap();
    tokio::time::advance(Duration::from_millis(900)).await;
    runtime.check("slow").await.unwrap();
    runtime.report().await;
    assert_eq!(runs.count(), 1);

    tokio::time::advance(Duration::from_millis(100)).await;
    runtime.check("slow").await.unwrap();
    assert_eq!(runs.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_caller_that_leaves_does_not_cancel_the_shared_run() {
    let runs = Runs::default();
    let runtime = builder()
        .with_check(slow_check(&runs, "slow"))
        .build()
        .unwrap();

    let impatient = tokio::time::timeout(Duration::from_millis(50), runtime.check("slow")).await;
    assert!(impatient.is_err());
    let patient = runtime.check("slow").await.unwrap();
    assert_eq!(patient.state().status(), Status::Healthy);
    assert_eq!(patient.state().duration(), Some(Duration::from_millis(200)));
    assert_eq!(runs.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_run_completes_after_every_caller_has_left() {
    let runs = Runs::default();
    let runtime = builder()
        .with_check(slow_check(&runs, "slow"))
        .build()
        .unwrap();

    let gone = tokio::time::timeout(Duration::from_millis(50), runtime.check("slow")).await;
    assert!(gone.is_err());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let state = runtime.cached("slow").unwrap();
    assert_eq!(state.state().status(), Status::Healthy);
    assert_eq!(state.state().runs(), 1);
}

#[tokio::test(start_paused = true)]
async fn reading_the_cache_never_runs_a_check() {
    let runs = Runs::default();
    let runtime = builder()
        .with_check(slow_check(&runs, "slow"))
        .build()
        .unwrap();
    let before = runtime.cached("slow").unwrap();
    assert_eq!(before.state().status(), Status::Unknown);
    assert_eq!(
        runtime.cached_report().metrics["slow"].status,
        Status::Unknown
    );
    assert_eq!(runs.count(), 0);
    assert!(runtime.cached("missing").is_none());
    assert_eq!(
        runtime.check("missing").await.unwrap_err().to_string(),
        "no health check named `missing`"
    );
}
