//! A million transitions leave the history at its cap and the process's memory where the cap
//! left it: measured as resident memory, in a test binary of its own so that no other test's
//! allocations blur it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use health_runtime::config::HistorySettings;
use health_runtime::{Check, HealthRuntime};
use tests::{builder, quiet_config};

/// A check that is healthy while `up` holds, and otherwise fails with a numbered message.
fn switch(name: &str, up: &Arc<AtomicBool>) -> Check {
    let (up, failures) = (up.clone(), Arc::new(AtomicU64::new(0)));
    Check::new(name.to_owned(), move || {
        let (up, failures) = (up.clone(), failures.clone());
        async move {
            if up.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err(format!(
                    "down #{}",
                    failures.fetch_add(1, Ordering::SeqCst) + 1
                ))
            }
        }
    })
}

fn runtime(settings: HistorySettings, checks: Vec<Check>) -> HealthRuntime {
    let mut config = quiet_config();
    config.history = settings;
    builder()
        .config(config)
        .cache_ttl(Duration::ZERO)
        .with_checks(checks)
        .build()
        .unwrap()
}

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
