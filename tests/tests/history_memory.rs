//! A million transitions leave the history at its cap and the process's memory where the cap
//! left it: measured as resident memory, in a test binary of its own so that no other test's
//! allocations blur it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use health_runtime::config::HistorySettings;
use tests::history::{runtime, switch};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn a_million_transitions_leave_memory_within_the_cap() {
    // Caps that the total binds: four checks could keep 40,000, the runtime keeps 4,096.
    let mut settings = HistorySettings::default();
    settings.per_check = 10_000;
    settings.total = 4_096;
    let ups: Vec<Arc<AtomicBool>> = (0..4).map(|_| Arc::new(AtomicBool::new(true))).collect();
    let checks = ups
        .iter()
        .enumerate()
        .map(|(index, up)| switch(&format!("check_{index}"), up))
        .collect();
    eprintln!("start: {} KiB", rss_kib());
    let runtime = runtime(settings.clone(), checks);
    let history = health_runtime::history::of(&runtime);
    let mut transitions = 0u64;
    let mut rss_after_first_fill = None;
    while transitions < 1_000_000 {
        for (index, up) in ups.iter().enumerate() {
            up.store(!up.load(Ordering::SeqCst), Ordering::SeqCst);
            runtime.check(&format!("check_{index}")).await.unwrap();
            transitions += 1;
        }
        if rss_after_first_fill.is_none() && history.len() >= settings.total {
            rss_after_first_fill = Some(rss_kib());
        }
    }
    assert_eq!(history.len(), settings.total, "the cap over every check");
    for index in 0..4 {
        let kept = history.transitions(&format!("check_{index}")).len();
        assert!(kept <= settings.per_check, "check_{index} keeps {kept}");
    }
    let (filled, end) = (rss_after_first_fill.unwrap(), rss_kib());
    eprintln!("RSS: {filled} KiB once the history was full, {end} KiB after 1,000,000 transitions");
    assert!(
        end <= filled + 8 * 1024,
        "RSS grew from {filled} KiB to {end} KiB while the history stayed at its cap"
    );
}
