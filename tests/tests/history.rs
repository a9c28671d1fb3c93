//! Per-check history from the engine's events: transitions in order with their messages, uptime
//! over a window, the caps, and what happens to a removed check's history. Memory under a
//! million transitions is measured in `history_memory.rs`, a process of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use health_runtime::Status;
use health_runtime::config::HistorySettings;
use tests::history::{runtime, switch};

#[tokio::test(start_paused = true)]
async fn three_flips_give_six_transitions_in_order_with_their_messages() {
    let up = Arc::new(AtomicBool::new(true));
    let runtime = runtime(HistorySettings::default(), vec![switch("db", &up)]);
    runtime.check("db").await.unwrap();
    for _ in 0..3 {
        up.store(false, Ordering::SeqCst);
        runtime.check("db").await.unwrap();
        // A run that changes nothing adds nothing.
        runtime.check("db").await.unwrap();
        up.store(true, Ordering::SeqCst);
        runtime.check("db").await.unwrap();
    }
    let history = health_runtime::history::of(&runtime);
    let transitions = history.transitions("db");
    assert_eq!(transitions.len(), 7, "{transitions:#?}");
    assert_eq!(
        (transitions[0].from, transitions[0].to),
        (Status::Unknown, Status::Healthy)
    );
    let flips: Vec<(Status, Status, Option<&str>)> = transitions[1..]
        .iter()
        .map(|t| (t.from, t.to, t.message.as_deref()))
        .collect();
    assert_eq!(
        flips,
        [
            (Status::Healthy, Status::Critical, Some("down #1")),
            (Status::Critical, Status::Healthy, None),
            (Status::Healthy, Status::Critical, Some("down #3")),
            (Status::Critical, Status::Healthy, None),
            (Status::Healthy, Status::Critical, Some("down #5")),
            (Status::Critical, Status::Healthy, None),
        ]
    );
    assert!(
        transitions
            .windows(2)
            .all(|pair| pair[0].instant <= pair[1].instant)
    );
}

#[tokio::test(start_paused = true)]
async fn uptime_over_a_window_counts_the_injected_downtime() {
    let up = Arc::new(AtomicBool::new(true));
    let runtime = runtime(HistorySettings::default(), vec![switch("db", &up)]);
    let history = health_runtime::history::of(&runtime);
    assert_eq!(history.uptime("db", Duration::from_secs(3600)), None);
    runtime.check("db").await.unwrap();
    // 2 h healthy, then 10 min down, then 50 min up: the last hour is 50/60 up, the last two
    // 110/120.
    tokio::time::advance(Duration::from_secs(7200)).await;
    up.store(false, Ordering::SeqCst);
    runtime.check("db").await.unwrap();
    tokio::time::advance(Duration::from_secs(600)).await;
    up.store(true, Ordering::SeqCst);
    runtime.check("db").await.unwrap();
    tokio::time::advance(Duration::from_secs(3000)).await;
    let hour = history.uptime("db", Duration::from_secs(3600)).unwrap();
    assert!((hour - 50.0 / 60.0).abs() < 0.001, "{hour}");
    let two = history.uptime("db", Duration::from_secs(7200)).unwrap();
    assert!((two - 110.0 / 120.0).abs() < 0.001, "{two}");
    // A day holds the whole life: 2 h 50 min up of 3 h.
    let day = history.uptime("db", Duration::from_secs(86_400)).unwrap();
    assert!((day - 170.0 / 180.0).abs() < 0.001, "{day}");
}

#[tokio::test(start_paused = true)]
async fn a_removed_check_takes_its_history_unless_asked_to_keep_it() {
    for keep_removed in [false, true] {
        let up = Arc::new(AtomicBool::new(true));
        let mut settings = HistorySettings::default();
        settings.keep_removed = keep_removed;
        let runtime = runtime(settings, vec![]);
        let history = health_runtime::history::of(&runtime);
        runtime.register(switch("late", &up)).unwrap();
        runtime.check("late").await.unwrap();
        assert_eq!(history.transitions("late").len(), 1);
        runtime.deregister("late");
        assert_eq!(history.transitions("late").len(), usize::from(keep_removed));
        runtime.register(switch("late", &up)).unwrap();
        runtime.check("late").await.unwrap();
        assert_eq!(
            history.transitions("late").len(),
            1 + usize::from(keep_removed),
            "keep_removed = {keep_removed}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn each_check_keeps_at_most_its_share() {
    let up = Arc::new(AtomicBool::new(true));
    let mut settings = HistorySettings::default();
    settings.per_check = 4;
    let runtime = runtime(settings, vec![switch("db", &up)]);
    for _ in 0..10 {
        up.store(!up.load(Ordering::SeqCst), Ordering::SeqCst);
        runtime.check("db").await.unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    let history = health_runtime::history::of(&runtime);
    let kept = history.transitions("db");
    assert_eq!(kept.len(), 4);
    // The newest four: the last run left it healthy.
    assert_eq!(kept.last().unwrap().to, Status::Healthy);
    // The uptime still starts from before the oldest kept transition (the odd runs turned it
    // critical, the even ones healthy, a second apart).
    // From the status before the oldest kept transition on: 3 s up of 5.
    let uptime = history.uptime("db", Duration::from_secs(60)).unwrap();
    assert!((uptime - 0.6).abs() < 0.001, "{uptime}");
}

#[tokio::test(start_paused = true)]
async fn a_cap_of_zero_keeps_no_history() {
    let up = Arc::new(AtomicBool::new(true));
    let mut settings = HistorySettings::default();
    settings.per_check = 0;
    let runtime = runtime(settings, vec![switch("db", &up)]);
    runtime.check("db").await.unwrap();
    up.store(false, Ordering::SeqCst);
    runtime.check("db").await.unwrap();
    let history = health_runtime::history::of(&runtime);
    assert!(history.is_empty());
    assert_eq!(history.uptime("db", Duration::from_secs(3600)), None);
}
