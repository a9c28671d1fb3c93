// Each of these strings is refused by the one duration grammar, here and in the `PLUGIN_*`
// variables alike: `tests/tests/duration_grammar.rs` reads them out of this file and expects
// `HealthConfig::from_pairs` to refuse each with the same message.
use health_runtime::health_check;

#[health_check(interval = "30fortnights")]
fn unit_unknown() -> bool {
    true
}

#[health_check(interval = "1m  30s")]
fn two_spaces() -> bool {
    true
}

#[health_check(interval = "-1")]
fn negative() -> bool {
    true
}

#[health_check(interval = "soon")]
fn no_number() -> bool {
    true
}

#[health_check(interval = "5 parsecs")]
fn unknown_unit() -> bool {
    true
}

#[health_check(interval = "")]
fn empty() -> bool {
    true
}

#[health_check(interval = "1m30")]
fn missing_unit() -> bool {
    true
}

#[health_check(interval = "1.s")]
fn no_fraction() -> bool {
    true
}

#[health_check(interval = "99999999999999999999999h")]
fn overflow() -> bool {
    true
}

#[health_check(interval = "0.0000000001s")]
fn finer_than_a_nanosecond() -> bool {
    true
}

fn main() {}
