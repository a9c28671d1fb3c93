//! The engine's event stream: what observers registered on the builder and broadcast
//! subscribers see, in order, for registrations, runs, transitions, removals and drains.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use health_runtime::{Check, HealthEvent, Status};
use tests::builder;

/// One line per event, as the tests compare them.
fn line(event: &HealthEvent) -> String {
    match event {
        HealthEvent::Registered { check } => format!("registered {}", check.name()),
        HealthEvent::Deregistered { check } => format!("deregistered {}", check.name()),
        HealthEvent::Ran { check, failed, .. } => format!(
            "ran {} {} failed={failed}",
            check.info().name(),
            check.state().status()
        ),
        HealthEvent::Transition {
            check, from, to, ..
        } => {
            format!("transition {} {from}->{to}", check.info().name())
        }
        HealthEvent::Draining { .. } => "draining".to_owned(),
        HealthEvent::Resumed => "resumed".to_owned(),
        other => format!("{other:?}"),
    }
}

fn recorder() -> (
    Arc<Mutex<Vec<String>>>,
    impl Fn(&HealthEvent) + Send + Sync + 'static,
) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = seen.clone();
    (seen, move |event: &HealthEvent| {
        sink.lock().unwrap().push(line(event));
    })
}

#[tokio::test]
async fn observers_see_every_event_in_order() {
    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    let (seen, observer) = recorder();
    let runtime = builder()
        .with_check(
            Check::new("db", move || {
                let up = flag.load(Ordering::SeqCst);
                async move { up }
            })
            .failure_threshold(2),
        )
        .observe(observer)
        .build()
        .unwrap();
    runtime.recheck("db").await.unwrap();
    up.store(false, Ordering::SeqCst);
    runtime.recheck("db").await.unwrap(); // held back: failure 1 of 2
    runtime.recheck("db").await.unwrap(); // shows
    runtime.shutdown();
    runtime.resume();
    assert!(runtime.deregister("db"));
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "registered db",
            "ran db healthy failed=false",
            "transition db unknown->healthy",
            "ran db healthy failed=true",
            "ran db critical failed=true",
            "transition db healthy->critical",
            "draining",
            "resumed",
            "deregistered db",
        ]
    );
}

#[tokio::test]
async fn the_broadcast_sees_what_happens_after_it_subscribed() {
    let runtime = builder()
        .with_check(Check::new("db", || async { Err::<(), _>("down") }))
        .build()
        .unwrap();
    runtime.recheck("db").await.unwrap(); // before anyone listens
    let mut events = runtime.events();
    runtime.recheck("db").await.unwrap();
    runtime
        .register(Check::new("cache", || async { true }))
        .unwrap();
    let mut lines = Vec::new();
    while let Ok(Ok(event)) = tokio::time::timeout(Duration::from_millis(100), events.recv()).await
    {
        lines.push(line(&event));
    }
    assert_eq!(lines, ["ran db critical failed=true", "registered cache"]);
}

#[tokio::test]
async fn a_run_of_a_check_replaced_while_it_ran_is_not_reported() {
    let (seen, observer) = recorder();
    let runtime = builder().observe(observer).build().unwrap();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let released = Arc::new(tokio::sync::Mutex::new(Some(released)));
    runtime
        .register(Check::new("slow", move || {
            let released = released.clone();
            async move {
                if let Some(released) = released.lock().await.take() {
                    let _ = released.await;
                }
                true
            }
        }))
        .unwrap();
    let run = tokio::spawn({
        let runtime = runtime.clone();
        async move { runtime.recheck("slow").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(runtime.deregister("slow"));
    runtime
        .register(Check::new("slow", || async { false }))
        .unwrap();
    release.send(()).unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        ["registered slow", "deregistered slow", "registered slow"],
        "the first check's run ended after it was replaced"
    );
    let replacement = runtime.cached("slow").unwrap();
    assert_eq!(replacement.state().status(), Status::Unknown);
}

#[tokio::test]
async fn run_counts_from_the_events_match_the_state() {
    let (seen, observer) = recorder();
    let runtime = builder()
        .with_check(Check::new("db", || async { true }))
        .observe(observer)
        .build()
        .unwrap();
    for _ in 0..5 {
        runtime.recheck("db").await.unwrap();
    }
    let ran = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.starts_with("ran db"))
        .count();
    let state = runtime.cached("db").unwrap();
    assert_eq!(ran as u64, state.state().runs());
    assert_eq!(ran, 5);
}

#[tokio::test]
async fn a_panicking_observer_takes_nothing_down() {
    let (seen, observer) = recorder();
    let runtime = builder()
        .with_check(Check::new("db", || async { true }))
        .observe(|event: &HealthEvent| {
            if matches!(event, HealthEvent::Ran { .. }) {
                panic!("an observer with a bug");
            }
        })
        .observe(observer)
        .build()
        .unwrap();
    let mut events = runtime.events();
    let db = runtime.recheck("db").await.unwrap();
    assert_eq!(db.state().status(), Status::Healthy, "the run completed");
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "registered db",
            "ran db healthy failed=false",
            "transition db unknown->healthy",
        ],
        "the observer after it saw every event"
    );
    assert_eq!(
        line(&events.recv().await.unwrap()),
        "ran db healthy failed=false"
    );
    runtime.shutdown();
    assert!(runtime.snapshot().is_draining(), "shutdown completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_comes_before_the_monitor_s_first_run() {
    let (seen, observer) = recorder();
    let runtime = builder().observe(observer).build().unwrap();
    runtime.start();
    for n in 0..50 {
        runtime
            .register(Check::new(format!("check{n}"), || async { true }))
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = seen.lock().unwrap();
    for n in 0..50 {
        let name = format!("check{n}");
        let mine: Vec<&String> = seen
            .iter()
            .filter(|line| line.split(' ').nth(1) == Some(name.as_str()))
            .collect();
        assert_eq!(
            mine.first().map(|line| line.as_str()),
            Some(format!("registered {name}").as_str()),
            "{mine:?}"
        );
        assert!(mine.iter().any(|line| line.starts_with("ran")), "{mine:?}");
    }
}

#[tokio::test]
async fn a_check_registered_again_under_its_name_is_counted_afresh() {
    let runtime = builder()
        .with_check(Check::new("db", || async { false }))
        .build()
        .unwrap();
    runtime.recheck("db").await.unwrap();
    assert!(runtime.deregister("db"));
    runtime
        .register(Check::new("db", || async { true }))
        .unwrap();
    runtime.recheck("db").await.unwrap();
    let text = health_runtime::prometheus::render(&runtime).unwrap();
    assert!(
        text.contains(r#"health_checks_total{service="db",result="success"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"health_checks_total{service="db",result="failure"} 0"#),
        "{text}"
    );
}

#[test]
fn a_build_that_fails_takes_back_what_its_observers_saw_registered() {
    let (seen, observer) = recorder();
    let error = builder()
        .with_check(Check::new("db", || async { true }))
        .with_check(Check::new("db", || async { true }))
        .observe(observer)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("defined twice"), "{error}");
    assert_eq!(*seen.lock().unwrap(), ["registered db", "deregistered db"]);
}
