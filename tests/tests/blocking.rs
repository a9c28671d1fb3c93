//! A synchronous check runs on the blocking pool: a slow one does not stall the others.

use std::time::{Duration, Instant};

use health_runtime::{Check, Status};
use tests::builder;

// One worker thread: if the blocking check ran on it, the async check could not finish first.
#[tokio::test(flavor = "current_thread")]
async fn blocking_check_does_not_stall_async_checks() {
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Instant>();
    let (async_tx, async_rx) = tokio::sync::oneshot::channel::<Instant>();
    let async_tx = std::sync::Mutex::new(Some(async_tx));
    let runtime = builder()
        .with_check(Check::blocking("slow_sync", move || {
            std::thread::sleep(Duration::from_millis(300));
            done_tx.send(Instant::now()).is_ok()
        }))
        .with_check(Check::new("quick_async", move || {
            let tx = async_tx.lock().unwrap().take();
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                if let Some(tx) = tx {
                    let _ = tx.send(Instant::now());
                }
                true
            }
        }))
        .build()
        .unwrap();

    let report = runtime.report().await;
    assert_eq!(report.metrics["slow_sync"].status, Status::Healthy);
    assert_eq!(report.metrics["quick_async"].status, Status::Healthy);
    let async_done = async_rx.await.unwrap();
    let sync_done = done_rx.recv().unwrap();
    assert!(
        async_done < sync_done,
        "the async check finished after the blocking one: it was stalled"
    );
}
