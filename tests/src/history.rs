//! Checks and runtimes for the history tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use health_runtime::config::HistorySettings;
use health_runtime::{Check, HealthRuntime};

use crate::{builder, quiet_config};

/// A check that is healthy while `up` holds, and otherwise fails with a numbered message.
pub fn switch(name: &str, up: &Arc<AtomicBool>) -> Check {
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

/// A runtime with `settings` and `checks`, and no cache, so that every `check` runs.
pub fn runtime(settings: HistorySettings, checks: Vec<Check>) -> HealthRuntime {
    let mut config = quiet_config();
    config.history = settings;
    builder()
        .config(config)
        .cache_ttl(Duration::ZERO)
        .with_checks(checks)
        .build()
        .unwrap()
}
