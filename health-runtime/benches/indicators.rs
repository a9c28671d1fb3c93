//! Placeholder, replaced by the indicators benchmark.
fn main() {}
