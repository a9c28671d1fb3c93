//! The one duration grammar, used by `#[health_check]`, `#[health(...)]`, the `PLUGIN_*`
//! variables and the `health-probe` command line alike, so that a string means the same
//! duration everywhere and a string refused in one place is refused in all.
//!
//! ```text
//! duration = number                 a number alone is seconds: "30", "0.5"
//!          | part { [" "] part }      "250ms", "5s", "1m30s", "1m 30s", "1.5h"
//! part     = number unit
//! number   = digits [ "." digits ]
//! unit     = "ns" | "us" | "ms" | "s" | "m" | "h" | "d"
//!          | their names: "msec", "sec", "secs", "second(s)", "min", "mins", "minute(s)",
//!            "hr", "hrs", "hour(s)", "day(s)" (...)
//! ```
//!
//! Spaces around the whole string are ignored. Zero is accepted here; a setting that needs more
//! refuses it itself. Precision is a nanosecond: a string more precise than that is refused
//! rather than rounded.
//!
//! ```
//! use std::time::Duration;
//! use health_rules::duration::parse;
//!
//! assert_eq!(parse("1m 30s"), Ok(Duration::from_secs(90)));
//! assert_eq!(parse("1m30s"), parse("90"));
//! assert_eq!(parse("0.5"), Ok(Duration::from_millis(500)));
//! assert!(parse("5 parsecs").is_err());
//! ```

use std::fmt;
use std::time::Duration;

/// The units, each with its other names, and their length in nanoseconds.
const UNITS: [(&str, &[&str], u128); 7] = [
    (
        "ns",
        &["nsec", "nsecs", "nanos", "nanosecond", "nanoseconds"],
        1,
    ),
    (
        "us",
        &["usec", "usecs", "micros", "microsecond", "microseconds"],
        1_000,
    ),
    (
        "ms",
        &["msec", "msecs", "millis", "millisecond", "milliseconds"],
        1_000_000,
    ),
    ("s", &["sec", "secs", "second", "seconds"], 1_000_000_000),
    ("m", &["min", "mins", "minute", "minutes"], 60_000_000_000),
    ("h", &["hr", "hrs", "hour", "hours"], 3_600_000_000_000),
    ("d", &["day", "days"], 86_400_000_000_000),
];

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// The string is empty.
    Empty,
    /// A unit (or other letters) without a number before it.
    MissingNumber {
        /// Where the number was expected.
        at: String,
    },
    /// A number without a unit after it, in a string of several parts.
    MissingUnit {
        /// The number.
        number: String,
    },
    /// A character that has no place in a duration.
    Unexpected {
        /// The character.
        found: char,
    },
    /// Letters that are not a unit.
    UnknownUnit {
        /// The letters.
        unit: String,
    },
    /// The duration does not fit.
    Overflow,
    /// A part that is not a whole number of nanoseconds.
    TooPrecise {
        /// The part as written, e.g. `1.5ns`.
        written: String,
    },
    /// A space between a number and its unit (`500 ms`).
    SpaceBeforeUnit {
        /// The number.
        number: String,
        /// The unit.
        unit: String,
    },
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const EXAMPLES: &str = "such as `5s`, `250ms` or `1m 30s` (a number alone is seconds)";
        match self {
            DurationError::Empty => write!(f, "empty duration; write one {EXAMPLES}"),
            DurationError::MissingNumber { at } => {
                write!(
                    f,
                    "expected a number before `{at}`; write a duration {EXAMPLES}"
                )
            }
            DurationError::MissingUnit { number } => write!(
                f,
                "missing unit after `{number}`; write `{number}s` or `{number}ms` (units: {})",
                units()
            ),
            DurationError::Unexpected { found } => write!(
                f,
                "unexpected {found:?} in duration; write numbers, each followed by a unit, \
                 {EXAMPLES}"
            ),
            DurationError::UnknownUnit { unit } => {
                write!(
                    f,
                    "unknown duration unit `{unit}`; expected one of {}",
                    units()
                )
            }
            DurationError::Overflow => f.write_str("duration is too long to represent"),
            DurationError::TooPrecise { written } => write!(
                f,
                "`{written}` is not a whole number of nanoseconds, the finest a duration can be"
            ),
            DurationError::SpaceBeforeUnit { number, unit } => write!(
                f,
                "no space between a number and its unit: write `{number}{unit}`"
            ),
        }
    }
}

impl std::error::Error for DurationError {}

fn units() -> String {
    let names: Vec<String> = UNITS.iter().map(|(unit, ..)| format!("`{unit}`")).collect();
    format!(
        "{}, or their names such as `sec` and `minutes`",
        names.join(", ")
    )
}

/// Parses a duration string (see the [module](self) for the grammar).
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut nanos: u128 = 0;
    let mut rest = text;
    let mut parts = 0;
    while !rest.is_empty() {
        let (number, after) = number(rest)?;
        let letters = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(letters);
        if unit.is_empty() {
            if parts == 0 && after.is_empty() {
                // A number alone: seconds.
                return scaled(number, "", 1_000_000_000).and_then(to_duration);
            }
            let spaced = after.strip_prefix(' ').map(|rest| {
                let end = rest
                    .find(|c: char| !c.is_ascii_alphabetic())
                    .unwrap_or(rest.len());
                &rest[..end]
            });
            if let Some(unit) = spaced.filter(|unit| !unit.is_empty()) {
                return Err(DurationError::SpaceBeforeUnit {
                    number: number.to_owned(),
                    unit: unit.to_owned(),
                });
            }
            return Err(DurationError::MissingUnit {
                number: number.to_owned(),
            });
        }
        let scale = UNITS
            .iter()
            .find(|(name, others, _)| *name == unit || others.contains(&unit))
            .map(|&(.., scale)| scale)
            .ok_or_else(|| DurationError::UnknownUnit {
                unit: unit.to_owned(),
            })?;
        nanos = nanos
            .checked_add(scaled(number, unit, scale)?)
            .ok_or(DurationError::Overflow)?;
        parts += 1;
        rest = after.strip_prefix(' ').unwrap_or(after);
    }
    to_duration(nanos)
}

/// The number at the start of `text` (`12`, `1.5`) and what follows it.
fn number(text: &str) -> Result<(&str, &str), DurationError> {
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let whole = digits(text);
    let mut end = whole;
    if whole > 0 && text[whole..].starts_with('.') {
        let fraction = digits(&text[whole + 1..]);
        if fraction == 0 {
            return Err(DurationError::Unexpected { found: '.' });
        }
        end = whole + 1 + fraction;
    }
    let (number, after) = text.split_at(end);
    match after.chars().next() {
        Some(found) if number.is_empty() && found.is_ascii_alphabetic() => {
            let at = after
                .find(|c: char| !c.is_ascii_alphabetic())
                .map_or(after, |end| &after[..end]);
            Err(DurationError::MissingNumber { at: at.to_owned() })
        }
        Some(found) if number.is_empty() || !(found.is_ascii_alphabetic() || found == ' ') => {
            Err(DurationError::Unexpected { found })
        }
        _ => Ok((number, after)),
    }
}

/// `number` (digits, perhaps a fraction) times `scale` nanoseconds.
///
/// The fraction is exact whatever the unit: `0.5h` is 1,800 s, and a fraction that does not come
/// to a whole number of nanoseconds (`0.000000000001h`, 3.6 ns) is refused.
fn scaled(number: &str, unit: &str, scale: u128) -> Result<u128, DurationError> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole: u128 = whole.parse().map_err(|_| DurationError::Overflow)?;
    let nanos = whole.checked_mul(scale).ok_or(DurationError::Overflow)?;
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        return Ok(nanos);
    }
    let too_precise = || DurationError::TooPrecise {
        written: format!("{number}{unit}"),
    };
    // A unit is at most a day, 86,400 × 10⁹ ns = 2¹⁶·3³·5¹¹: no fraction of more than 24 digits
    // (its last one not zero) comes to a whole number of nanoseconds, and up to 24 the product
    // below fits in 128 bits.
    if fraction.len() > 24 {
        return Err(too_precise());
    }
    let digits: u128 = fraction.parse().map_err(|_| DurationError::Overflow)?;
    let part = digits * scale;
    let ten_to_the = 10u128.pow(fraction.len() as u32);
    if !part.is_multiple_of(ten_to_the) {
        return Err(too_precise());
    }
    nanos
        .checked_add(part / ten_to_the)
        .ok_or(DurationError::Overflow)
}

fn to_duration(nanos: u128) -> Result<Duration, DurationError> {
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| DurationError::Overflow)?;
    // The remainder is below 10^9, so it fits.
    let subsec = u32::try_from(nanos % 1_000_000_000).map_err(|_| DurationError::Overflow)?;
    Ok(Duration::new(secs, subsec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> u128 {
        parse(text).unwrap().as_millis()
    }

    #[test]
    fn parses_each_unit_and_bare_seconds() {
        assert_eq!(ms("250ms"), 250);
        assert_eq!(ms("5s"), 5_000);
        assert_eq!(ms("1m"), 60_000);
        assert_eq!(ms("1h"), 3_600_000);
        assert_eq!(ms("0s"), 0);
        assert_eq!(ms("007s"), 7_000);
        assert_eq!(ms("30"), 30_000);
        assert_eq!(ms("0.5"), 500);
        assert_eq!(ms("0"), 0);
    }

    #[test]
    fn adds_up_combinations_with_or_without_spaces() {
        assert_eq!(ms("1m30s"), 90_000);
        assert_eq!(ms("1m 30s"), 90_000);
        assert_eq!(ms("1h1m1s1ms"), 3_661_001);
        assert_eq!(ms("1h 1m 1s 1ms"), 3_661_001);
        assert_eq!(ms("1s500ms"), 1_500);
        assert_eq!(ms("1.5s"), 1_500);
        assert_eq!(ms("1.5h"), 5_400_000);
        assert_eq!(ms("  5s  "), 5_000);
        assert_eq!(
            parse("0.000000001s"),
            Ok(Duration::from_nanos(1)),
            "a nanosecond is the precision"
        );
        assert_eq!(parse("0.0000000010s"), Ok(Duration::from_nanos(1)));
        assert_eq!(
            parse("0.0000000001s"),
            Err(DurationError::TooPrecise {
                written: "0.0000000001s".into()
            }),
            "refused, not rounded to zero"
        );
        assert_eq!(
            parse("1.5ns"),
            Err(DurationError::TooPrecise {
                written: "1.5ns".into()
            })
        );
        // Exact for units that are not powers of ten.
        assert_eq!(parse("0.5h"), Ok(Duration::from_secs(1_800)));
        assert_eq!(parse("0.000000000005h"), Ok(Duration::from_nanos(18)));
        assert_eq!(parse("0.00000000005m"), Ok(Duration::from_nanos(3)));
        assert!(matches!(
            parse("0.000000000001h"),
            Err(DurationError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse(&format!("0.{}1d", "0".repeat(30))),
            Err(DurationError::TooPrecise { .. })
        ));
        assert_eq!(
            parse("1.000000000000000000000000000000s"),
            Ok(Duration::from_secs(1))
        );
        assert_eq!(ms("31millis"), 31);
        assert_eq!(parse("17nanos"), Ok(Duration::from_nanos(17)));
    }

    #[test]
    fn refuses_malformed_strings() {
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert_eq!(parse("   "), Err(DurationError::Empty));
        assert_eq!(
            parse("1m30"),
            Err(DurationError::MissingUnit {
                number: "30".into()
            })
        );
        assert_eq!(
            parse("5 s"),
            Err(DurationError::SpaceBeforeUnit {
                number: "5".into(),
                unit: "s".into()
            })
        );
        assert_eq!(
            DurationError::SpaceBeforeUnit {
                number: "500".into(),
                unit: "ms".into()
            }
            .to_string(),
            "no space between a number and its unit: write `500ms`"
        );
        assert_eq!(
            parse("s"),
            Err(DurationError::MissingNumber { at: "s".into() })
        );
        assert_eq!(
            parse("soon"),
            Err(DurationError::MissingNumber { at: "soon".into() })
        );
        assert_eq!(
            parse("ms5"),
            Err(DurationError::MissingNumber { at: "ms".into() })
        );
        for (text, found) in [
            ("1.s", '.'),
            (".5s", '.'),
            ("-5s", '-'),
            ("-1", '-'),
            ("1m  30s", ' '),
            ("5s,", ','),
        ] {
            assert_eq!(
                parse(text),
                Err(DurationError::Unexpected { found }),
                "{text}"
            );
        }
        for text in ["NaN", "inf", "1e3s"] {
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn takes_the_units_by_their_names_too() {
        for (text, millis) in [
            ("30sec", 30_000),
            ("5min", 300_000),
            ("2hours", 7_200_000),
            ("1d", 86_400_000),
            ("1day 1hr", 90_000_000),
            ("1500msec", 1_500),
        ] {
            assert_eq!(ms(text), millis, "{text}");
        }
        assert_eq!(parse("500us"), Ok(Duration::from_micros(500)));
        assert_eq!(parse("7ns"), Ok(Duration::from_nanos(7)));
    }

    #[test]
    fn refuses_unknown_units() {
        for unit in ["y", "w", "M", "S", "Sec", "parsecs", "fortnights"] {
            assert_eq!(
                parse(&format!("5{unit}")),
                Err(DurationError::UnknownUnit { unit: unit.into() }),
                "{unit}"
            );
        }
    }

    #[test]
    fn refuses_overflow() {
        assert_eq!(
            parse("99999999999999999999999h"),
            Err(DurationError::Overflow)
        );
        assert_eq!(parse("5124095576030432h"), Err(DurationError::Overflow));
        let max = format!("{}s", u64::MAX);
        assert_eq!(parse(&max).unwrap(), Duration::from_secs(u64::MAX));
        assert_eq!(parse(&format!("{max}1s")), Err(DurationError::Overflow));
    }

    #[test]
    fn messages_say_what_to_write() {
        assert_eq!(
            DurationError::MissingUnit {
                number: "30".into()
            }
            .to_string(),
            "missing unit after `30`; write `30s` or `30ms` (units: `ns`, `us`, `ms`, `s`, `m`, `h`, \
             `d`, or their names such as `sec` and `minutes`)"
        );
        assert_eq!(
            DurationError::UnknownUnit { unit: "y".into() }.to_string(),
            "unknown duration unit `y`; expected one of `ns`, `us`, `ms`, `s`, `m`, `h`, `d`, or \
             their names such as `sec` and `minutes`"
        );
    }
}
