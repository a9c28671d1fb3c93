//! Shared helpers for the integration tests; each behaviour lives in its own `[[test]]` file.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use health_runtime::{HealthRuntime, HealthRuntimeBuilder};

/// Counts executions of a check.
#[derive(Debug, Clone, Default)]
pub struct Runs(Arc<AtomicUsize>);

impl Runs {
    /// Records one execution.
    pub fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// How many executions were recorded.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A builder without the `#[health_check]` functions of the test binary, with a long interval so
/// that only the test decides when checks run.
pub fn builder() -> HealthRuntimeBuilder {
    HealthRuntime::builder()
        .without_declared_checks()
        .default_interval(Duration::from_secs(3600))
}
