//! Check and service names: what a gRPC health service name may be.
//!
//! A name is 1 to [`MAX_LEN`] ASCII letters, digits, `.`, `_`, `/` and `-`, and none of
//! [`RESERVED`]. The empty name is the overall status.

use std::fmt;

/// The longest accepted name, in bytes (all accepted characters are ASCII).
pub const MAX_LEN: usize = 128;

/// The names the runtime itself answers to on the gRPC health service, besides `""`.
pub const RESERVED: [&str; 4] = ["liveness", "readiness", "startup", "plugin"];

/// The name of the overall status besides `""`: what HashiCorp go-plugin hosts ask for.
pub const PLUGIN: &str = "plugin";

/// Why a name was refused. Its `Display` follows "name `x` ...".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The name contains a character outside the allowed set.
    Character {
        /// The first such character.
        found: char,
    },
    /// The name is one of [`RESERVED`].
    Reserved {
        /// The name.
        name: &'static str,
    },
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fault())?;
        match self.fix() {
            Some(fix) => write!(f, "; {fix}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for NameProblem {}

impl NameProblem {
    /// What is wrong, without what to do about it, following "name `x` ...": "is reserved for
    /// the `startup` probe service". For a sentence that gives its own fix, such as one about a
    /// name taken from a function.
    pub fn fault(&self) -> String {
        match self {
            NameProblem::Empty => "is empty".to_owned(),
            NameProblem::TooLong { len } => {
                format!("is {len} bytes long; at most {MAX_LEN} are allowed")
            }
            NameProblem::Character { found } => format!("contains {found:?}"),
            NameProblem::Reserved { name } => format!("is reserved for the `{name}` probe service"),
        }
    }

    /// What to do about it, when there is more to say than the [`fault`](Self::fault).
    pub fn fix(&self) -> Option<&'static str> {
        match self {
            NameProblem::Empty => {
                Some("the empty name `\"\"` is the overall status, so choose another")
            }
            NameProblem::TooLong { .. } => None,
            NameProblem::Character { .. } => {
                Some("use only ASCII letters, digits, `.`, `_`, `/` and `-`")
            }
            NameProblem::Reserved { .. } => Some("choose another name"),
        }
    }

    /// The whole sentence about `name`: "check name `a b` contains ' '; ...", or "check name is
    /// empty; ..." for the empty name, where `what` is e.g. "check name" or "service name".
    pub fn describe(&self, what: &str, name: &str) -> String {
        match self {
            NameProblem::Empty => format!("{what} {self}"),
            _ => format!("{what} `{}` {self}", name.escape_debug()),
        }
    }
}

/// Checks `name` against the rules.
///
/// ```
/// use health_rules::name::{NameProblem, check};
///
/// assert_eq!(check("db.primary"), Ok(()));
/// assert_eq!(check("a b"), Err(NameProblem::Character { found: ' ' }));
/// assert_eq!(check("plugin"), Err(NameProblem::Reserved { name: "plugin" }));
/// ```
pub fn check(name: &str) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.len() > MAX_LEN {
        return Err(NameProblem::TooLong { len: name.len() });
    }
    if let Some(found) = name.chars().find(|&c| !is_name_char(c)) {
        return Err(NameProblem::Character { found });
    }
    if let Some(reserved) = RESERVED.into_iter().find(|reserved| *reserved == name) {
        return Err(NameProblem::Reserved { name: reserved });
    }
    Ok(())
}

/// Whether `c` may appear in a name.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-')
}

/// Whether `name` could ever answer a probe: a check name, a service, a group, `""` or
/// `plugin`. A name that breaks the rules for other reasons than being reserved never can.
pub fn can_exist(name: &str) -> bool {
    name.is_empty() || matches!(check(name), Ok(()) | Err(NameProblem::Reserved { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_and_dotted_names() {
        for name in ["database", "db.primary", "api/v1-users_2", &"x".repeat(128)] {
            assert_eq!(check(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn refuses_empty_long_odd_and_reserved_names() {
        assert_eq!(check(""), Err(NameProblem::Empty));
        assert_eq!(
            check(&"x".repeat(129)),
            Err(NameProblem::TooLong { len: 129 })
        );
        for (name, found) in [("has space", ' '), ("émoji", 'é'), ("tab\t", '\t')] {
            assert_eq!(
                check(name),
                Err(NameProblem::Character { found }),
                "{name:?}"
            );
        }
        for name in RESERVED {
            assert_eq!(check(name), Err(NameProblem::Reserved { name }));
        }
    }

    #[test]
    fn sentences_name_the_offender() {
        assert_eq!(
            check("a b").unwrap_err().describe("check name", "a b"),
            "check name `a b` contains ' '; use only ASCII letters, digits, `.`, `_`, `/` and `-`"
        );
        assert_eq!(
            NameProblem::Empty.describe("service name", ""),
            "service name is empty; the empty name `\"\"` is the overall status, so choose another"
        );
        assert_eq!(
            check("startup")
                .unwrap_err()
                .describe("check name", "startup"),
            "check name `startup` is reserved for the `startup` probe service; choose another name"
        );
    }

    #[test]
    fn the_fault_is_the_sentence_without_its_fix() {
        let long = NameProblem::TooLong { len: 130 };
        assert_eq!(long.fault(), long.to_string());
        assert_eq!(long.fix(), None);
        let reserved = NameProblem::Reserved { name: "startup" };
        assert_eq!(
            reserved.fault(),
            "is reserved for the `startup` probe service"
        );
        assert_eq!(
            reserved.to_string(),
            format!("{}; {}", reserved.fault(), reserved.fix().unwrap())
        );
    }

    #[test]
    fn reserved_and_empty_names_can_exist_as_probe_names() {
        for name in ["", "plugin", "readiness", "db"] {
            assert!(can_exist(name), "{name:?}");
        }
        for name in ["a b", &"x".repeat(129)] {
            assert!(!can_exist(name), "{name:?}");
        }
    }
}
