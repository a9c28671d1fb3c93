//! The `health_aware_client` example runs to its end: three backends, one drained through its
//! drain file, and no call reaching it while it is out of rotation.

use std::process::Command;
use std::time::Duration;

use tests::process::{build_example, run_ok};

#[test]
fn the_example_spreads_calls_and_keeps_them_off_the_drained_backend() {
    let binary = build_example("health_aware_client");
    let finished = run_ok(
        "the health_aware_client example",
        Command::new(binary).env("RUST_LOG", "off"),
        Duration::from_secs(120),
    );
    let out = &finished.stdout;
    let spread = |phase: &str| -> Vec<u64> {
        let line = out
            .lines()
            .find(|line| line.starts_with(phase))
            .unwrap_or_else(|| panic!("no `{phase}` line in\n{out}"));
        line.split_whitespace()
            .filter_map(|word| word.parse().ok())
            .collect()
    };
    assert_eq!(spread("all three serving:"), [1000, 1000, 1000], "{out}");
    assert_eq!(spread("b1 in maintenance:"), [1500, 0, 1500], "{out}");
    assert_eq!(
        spread("all three serving again:"),
        [1000, 1000, 1000],
        "{out}"
    );
    assert!(
        out.contains("b1 got no call while out of rotation"),
        "{out}"
    );
}
