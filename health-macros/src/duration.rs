//! Durations such as `"250ms"`, `"5s"` or `"1m30s"`: one or more whole numbers, each followed by a
//! unit.

use std::fmt;
use std::time::Duration;

/// The units, longest first so that `ms` is not read as `m` followed by `s`.
const UNITS: [(&str, u64); 4] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)];

/// The unit names in the order users expect them listed.
pub(crate) const UNIT_NAMES: [&str; 4] = ["ms", "s", "m", "h"];

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DurationError {
    Empty,
    MissingNumber { at: String },
    MissingUnit { number: String },
    Unexpected { found: char },
    UnknownUnit { unit: String },
    Overflow,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Empty => {
                f.write_str("empty duration; write a number and a unit, such as `\"5s\"`")
            }
            DurationError::MissingNumber { at } => write!(
                f,
                "expected a whole number before `{at}`; write a number and a unit, such as `\"5s\"` or `\"1500ms\"`"
            ),
            DurationError::MissingUnit { number } => write!(
                f,
                "missing unit after `{number}`; write `\"{number}s\"` or `\"{number}ms\"` (units: {})",
                units()
            ),
            DurationError::Unexpected { found } => write!(
                f,
                "unexpected {found:?} in duration; write whole numbers, each followed by a unit, with nothing between them, such as `\"1500ms\"` or `\"1m30s\"`"
            ),
            DurationError::UnknownUnit { unit } => {
                write!(
                    f,
                    "unknown duration unit `{unit}`; expected one of {}",
                    units()
                )
            }
            DurationError::Overflow => f.write_str("duration is too long to represent"),
        }
    }
}

fn units() -> String {
    UNIT_NAMES.map(|unit| format!("`{unit}`")).join(", ")
}

/// Parses a duration string; zero is accepted here and refused by the argument that needs more.
pub(crate) fn parse(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut millis: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        match after.chars().next() {
            Some(found) if !found.is_ascii_alphabetic() => {
                return Err(DurationError::Unexpected { found });
            }
            Some(found) if number.is_empty() => {
                return Err(DurationError::MissingNumber {
                    at: found.to_string(),
                });
            }
            _ => {}
        }
        let letters = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(letters);
        if unit.is_empty() {
            return Err(DurationError::MissingUnit {
                number: number.to_owned(),
            });
        }
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|&(_, scale)| scale)
            .ok_or_else(|| DurationError::UnknownUnit {
                unit: unit.to_owned(),
            })?;
        let amount = number
            .parse::<u64>()
            .ok()
            .and_then(|amount| amount.checked_mul(scale))
            .ok_or(DurationError::Overflow)?;
        millis = millis.checked_add(amount).ok_or(DurationError::Overflow)?;
        rest = after;
    }
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> u128 {
        parse(text).unwrap().as_millis()
    }

    #[test]
    fn parses_each_unit() {
        assert_eq!(ms("250ms"), 250);
        assert_eq!(ms("5s"), 5_000);
        assert_eq!(ms("1m"), 60_000);
        assert_eq!(ms("1h"), 3_600_000);
        assert_eq!(ms("0s"), 0);
        assert_eq!(ms("007s"), 7_000);
    }

    #[test]
    fn adds_up_combinations() {
        assert_eq!(ms("1m30s"), 90_000);
        assert_eq!(ms("1h1m1s1ms"), 3_661_001);
        assert_eq!(ms("1s500ms"), 1_500);
    }

    #[test]
    fn refuses_malformed_strings() {
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert_eq!(
            parse("5"),
            Err(DurationError::MissingUnit { number: "5".into() })
        );
        assert_eq!(
            parse("1m30"),
            Err(DurationError::MissingUnit {
                number: "30".into()
            })
        );
        assert_eq!(
            parse("s"),
            Err(DurationError::MissingNumber { at: "s".into() })
        );
        assert_eq!(
            parse("ms5"),
            Err(DurationError::MissingNumber { at: "m".into() })
        );
        assert_eq!(parse("1.5s"), Err(DurationError::Unexpected { found: '.' }));
        assert_eq!(parse(" 5s"), Err(DurationError::Unexpected { found: ' ' }));
        assert_eq!(
            parse("1m 30s"),
            Err(DurationError::Unexpected { found: ' ' })
        );
        assert_eq!(parse("-5s"), Err(DurationError::Unexpected { found: '-' }));
    }

    #[test]
    fn refuses_unknown_units() {
        for unit in ["sec", "secs", "d", "us", "M", "S"] {
            assert_eq!(
                parse(&format!("5{unit}")),
                Err(DurationError::UnknownUnit { unit: unit.into() }),
                "{unit}"
            );
        }
    }

    #[test]
    fn refuses_overflow() {
        assert_eq!(parse("99999999999999999999s"), Err(DurationError::Overflow));
        assert_eq!(parse("5124095576030432h"), Err(DurationError::Overflow));
        let max = format!("{}ms", u64::MAX);
        assert_eq!(parse(&max).unwrap(), Duration::from_millis(u64::MAX));
        assert_eq!(parse(&format!("{max}1ms")), Err(DurationError::Overflow));
    }

    #[test]
    fn messages_say_what_to_write() {
        assert_eq!(
            DurationError::MissingUnit { number: "5".into() }.to_string(),
            "missing unit after `5`; write `\"5s\"` or `\"5ms\"` (units: `ms`, `s`, `m`, `h`)"
        );
        assert_eq!(
            DurationError::UnknownUnit { unit: "sec".into() }.to_string(),
            "unknown duration unit `sec`; expected one of `ms`, `s`, `m`, `h`"
        );
    }
}
