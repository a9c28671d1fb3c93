//! Checks and runtimes for the history tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use health_runtime::config::HistorySettings;
use health_runtime::{Check, CheckOutcome, HealthRuntime, Status};

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

/// A check whose outcome the test sets: a status, a message and a value.
#[derive(Debug, Clone, Default)]
pub struct Dial(Arc<std::sync::Mutex<(Status, String, f64)>>);

impl Dial {
    /// A dial at healthy, `"ok"`, 1.
    pub fn new() -> Self {
        Dial(Arc::new(std::sync::Mutex::new((
            Status::Healthy,
            "ok".to_owned(),
            1.0,
        ))))
    }

    /// Sets what the next runs report.
    pub fn set(&self, status: Status, message: &str, value: f64) {
        *self.0.lock().unwrap() = (status, message.to_owned(), value);
    }

    /// The check named `name` that reports what the dial is set to.
    pub fn check(&self, name: &str) -> Check {
        let dial = self.0.clone();
        Check::new(name.to_owned(), move || {
            let (status, message, value) = dial.lock().unwrap().clone();
            async move {
                CheckOutcome::new(status)
                    .with_message(message)
                    .with_value(value)
            }
        })
    }
}
