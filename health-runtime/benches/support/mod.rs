//! What the benchmark binaries share: their knobs from the environment, medians and tails,
//! and a runtime with one check that flips on demand.

// Each benchmark uses what it needs of this.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use health_runtime::{Check, HealthConfig, HealthRuntime};

/// The value of variable `name`, or `default` when it is unset; a value that does not parse
/// stops the benchmark naming it, rather than running with the default unnoticed.
pub(crate) fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not valid")),
        Err(_) => default,
    }
}

/// The median of `values` (the upper one of an even count), sorting them.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The 99th percentile of `values`, sorting them.
pub(crate) fn p99(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[(values.len() * 99 / 100).min(values.len() - 1)]
}

/// A configuration with no HTTP surface, no health file and no built-in indicators: only the
/// benchmark's own checks run.
pub(crate) fn quiet_config() -> HealthConfig {
    let mut config = HealthConfig::default();
    config.surfaces.http_addr = None;
    config.surfaces.health_file = None;
    config.resources.enabled = false;
    config.requests.enabled = false;
    config
}

/// A check `db` that is healthy while `up` holds and critical otherwise.
pub(crate) fn switch(up: &Arc<AtomicBool>) -> Check {
    let up = up.clone();
    Check::new("db", move || {
        let up = up.load(Ordering::Relaxed);
        async move { if up { Ok(()) } else { Err("down") } }
    })
}

/// Nanoseconds per run of `db` over `runs` runs, flipping it before every run when `flip`.
pub(crate) async fn per_run(
    runtime: &HealthRuntime,
    up: &AtomicBool,
    runs: u32,
    flip: bool,
) -> f64 {
    let started = Instant::now();
    for _ in 0..runs {
        if flip {
            up.fetch_xor(true, Ordering::Relaxed);
        }
        std::hint::black_box(runtime.check("db").await.expect("registered"));
    }
    started.elapsed().as_nanos() as f64 / f64::from(runs)
}
