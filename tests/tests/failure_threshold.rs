//! `failure_threshold = n` shows a failure only after `n` failed runs in a row.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use health_runtime::{Check, Status};
use tests::builder;

#[tokio::test(start_paused = true)]
async fn three_consecutive_failures_are_needed() {
    let healthy = Arc::new(AtomicBool::new(true));
    let flag = healthy.clone();
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_check(
            Check::new("flaky", move || {
                let ok = flag.load(Ordering::SeqCst);
                async move { if ok { Ok(()) } else { Err("connection reset") } }
            })
            .failure_threshold(3),
        )
        .build()
        .unwrap();
    let run = || async { runtime.check("flaky").await.unwrap() };

    assert_eq!(run().await.state().status(), Status::Healthy);
    healthy.store(false, Ordering::SeqCst);

    let first = run().await;
    assert_eq!(first.state().status(), Status::Healthy);
    assert_eq!(first.state().last_run_status(), Status::Critical);
    assert_eq!(first.state().consecutive_failures(), 1);
    assert_eq!(
        first.state().message(),
        Some("connection reset (failure 1 of 3 before it shows)")
    );
    assert_eq!(run().await.state().status(), Status::Healthy);
    let third = run().await;
    assert_eq!(third.state().status(), Status::Critical);
    assert_eq!(third.state().message(), Some("connection reset"));
    assert_eq!(third.state().consecutive_failures(), 3);

    // One success clears it at once, and the count starts over.
    healthy.store(true, Ordering::SeqCst);
    let recovered = run().await;
    assert_eq!(recovered.state().status(), Status::Healthy);
    assert_eq!(recovered.state().consecutive_failures(), 0);
    healthy.store(false, Ordering::SeqCst);
    assert_eq!(run().await.state().status(), Status::Healthy);
    assert_eq!(run().await.state().status(), Status::Healthy);
    assert_eq!(run().await.state().status(), Status::Critical);
}

#[tokio::test(start_paused = true)]
async fn a_failure_held_back_before_any_success_stays_unknown() {
    let runtime = builder()
        .with_check(Check::new("down", || async { false }).failure_threshold(2))
        .build()
        .unwrap();
    let first = runtime.check("down").await.unwrap();
    assert_eq!(first.state().status(), Status::Unknown);
    assert_eq!(first.state().failures(), 1);
    assert_eq!(first.state().last_success(), None);
}

#[tokio::test(start_paused = true)]
async fn threshold_of_one_shows_the_first_failure() {
    let runtime = builder()
        .with_check(Check::new("down", || async { false }).on_error(Status::Warning))
        .build()
        .unwrap();
    let state = runtime.check("down").await.unwrap();
    assert_eq!(state.state().status(), Status::Warning);
    assert_eq!(state.state().message(), Some("check returned false"));
}
