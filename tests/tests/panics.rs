//! A panicking check shows its `on_error` status with the panic message, and everything keeps
//! running.

use std::time::Duration;

use health_runtime::{Check, Status};
use tests::{Runs, builder};

#[tokio::test(start_paused = true)]
async fn panic_becomes_on_error_and_the_runtime_keeps_running() {
    let runs = Runs::default();
    let counter = runs.clone();
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_check(
            Check::new("panics", move || {
                let counter = counter.clone();
                async move {
                    counter.hit();
                    if counter.count() == 1 {
                        panic!("the pool is gone");
                    }
                    Ok::<_, std::io::Error>(())
                }
            })
            .on_error(Status::Warning),
        )
        .with_check(Check::blocking("sync_panics", || -> bool {
            panic!("disk probe failed")
        }))
        .with_check(Check::new("fine", || async { true }))
        .build()
        .unwrap();

    let report = runtime.report().await;
    let panics = &report.metrics["panics"];
    assert_eq!(panics.status, Status::Warning);
    assert_eq!(panics.message, "check panicked: the pool is gone");
    let sync_panics = &report.metrics["sync_panics"];
    assert_eq!(sync_panics.status, Status::Critical);
    assert_eq!(sync_panics.message, "check panicked: disk probe failed");
    assert_eq!(report.metrics["fine"].status, Status::Healthy);

    // The same check runs again and recovers.
    let again = runtime.check("panics").await.unwrap();
    assert_eq!(again.state().status(), Status::Healthy);
    assert_eq!(runs.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn panic_while_building_the_future_is_contained() {
    let runtime = builder()
        .with_check(Check::new("eager_panic", || -> std::future::Ready<bool> {
            panic!("before the first poll")
        }))
        .build()
        .unwrap();
    let state = runtime.check("eager_panic").await.unwrap();
    assert_eq!(state.state().status(), Status::Critical);
    assert_eq!(
        state.state().message(),
        Some("check panicked: before the first poll")
    );
}
