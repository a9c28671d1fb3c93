//! One duration grammar: a string means the same duration in `#[health_check(interval = "...")]`
//! and in `PLUGIN_HEALTH_CHECK_INTERVAL`, and a string one refuses the other refuses too, with the
//! same message.
//!
//! The refused strings are those of the compile-fail case
//! `health-macros/tests/ui/fail/duration-grammar.rs`, read out of it here, and the macro's
//! messages are those of its snapshot next to it: the two sides cannot drift apart.

use std::time::Duration;

use health_runtime::{HealthConfig, HealthRuntime, health_check};

/// Declares one `#[health_check]` per string, and lists each string with its check's name.
macro_rules! declared {
    ($($check:ident = $interval:literal),* $(,)?) => {
        $(
            #[health_check(interval = $interval)]
            fn $check() -> bool {
                true
            }
        )*

        const ACCEPTED: &[(&str, &str)] = &[$(($interval, stringify!($check))),*];
    };
}

declared! {
    spaced = "1m 30s",
    bare_seconds = "90",
    decimal_minutes = "1.5m",
    milliseconds = "90000ms",
    joined = "1m30s",
    fraction_of_a_second = "0.25",
    to_the_nanosecond = "1h 1m 1s 1ms 0.000000001s",
}

/// The compile-fail case whose every `interval` the macro refuses, and its snapshot.
const REFUSED_CASE: &str = include_str!("../../health-macros/tests/ui/fail/duration-grammar.rs");
const REFUSED_SNAPSHOT: &str =
    include_str!("../../health-macros/tests/ui/fail/duration-grammar.stderr");

/// The string of every `#[health_check(interval = "...")]` of the compile-fail case, in order.
fn refused_strings() -> Vec<&'static str> {
    const OPEN: &str = "#[health_check(interval = \"";
    REFUSED_CASE
        .lines()
        .filter_map(|line| line.trim().strip_prefix(OPEN)?.strip_suffix("\")]"))
        .collect()
}

/// The message of every error of the snapshot, in order.
fn macro_messages() -> Vec<&'static str> {
    REFUSED_SNAPSHOT
        .lines()
        .filter_map(|line| line.strip_prefix("error: "))
        .collect()
}

fn interval_variable(text: &str) -> Result<Duration, health_runtime::config::ConfigError> {
    HealthConfig::from_pairs([("PLUGIN_HEALTH_CHECK_INTERVAL", text)])
        .map(|config| config.checks.interval)
}

#[tokio::test(start_paused = true)]
async fn a_string_means_the_same_duration_in_the_attribute_and_the_variable() {
    for check in [
        spaced,
        bare_seconds,
        decimal_minutes,
        milliseconds,
        joined,
        fraction_of_a_second,
        to_the_nanosecond,
    ] {
        assert!(check(), "the functions stay callable");
    }
    let runtime = HealthRuntime::builder()
        .config(tests::quiet_config())
        .build()
        .unwrap();
    for &(text, name) in ACCEPTED {
        let declared = runtime.cached(name).unwrap().info().interval();
        assert_eq!(interval_variable(text).unwrap(), declared, "{text:?}");
    }
    let interval = |name| runtime.cached(name).unwrap().info().interval();
    assert_eq!(interval("spaced"), Duration::from_secs(90));
    assert_eq!(interval("decimal_minutes"), Duration::from_secs(90));
    assert_eq!(interval("fraction_of_a_second"), Duration::from_millis(250));
    assert_eq!(
        interval("to_the_nanosecond"),
        Duration::new(3661, 1_000_001),
        "durations are precise to the nanosecond"
    );
}

#[test]
fn a_string_the_attribute_refuses_the_variable_refuses_with_the_same_message() {
    let refused = refused_strings();
    let messages = macro_messages();
    assert!(
        refused.len() >= 6,
        "the case lists the refused strings: {refused:?}"
    );
    assert_eq!(
        refused.len(),
        messages.len(),
        "one error per refused string in the snapshot: {messages:?}"
    );
    for (text, message) in refused.into_iter().zip(messages) {
        let error = interval_variable(text).unwrap_err();
        assert_eq!(error.variable, "PLUGIN_HEALTH_CHECK_INTERVAL");
        assert_eq!(error.problem, message, "{text:?}");
    }
}
