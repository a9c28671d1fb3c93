//! What the benchmark binaries share: their knobs from the environment, and medians.

// Each benchmark uses what it needs of this.
#![allow(dead_code)]

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
