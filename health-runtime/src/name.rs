//! The rules for check and service names (DESIGN §3). `health-macros` applies the same rules at
//! compile time; keep the two in step.

/// The longest accepted name, in bytes (all accepted characters are ASCII).
pub(crate) const MAX_NAME_LEN: usize = 128;

/// Names the runtime itself answers to on the gRPC health service.
pub(crate) const RESERVED_NAMES: [&str; 4] = ["liveness", "readiness", "startup", "plugin"];

/// Why a name was refused, phrased to follow "name `x` ...".
pub(crate) fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty; the empty name is the overall status".to_owned());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!(
            "is {} bytes long; at most {MAX_NAME_LEN} are allowed",
            name.len()
        ));
    }
    if let Some(bad) = name.chars().find(|&c| !is_name_char(c)) {
        return Some(format!(
            "contains {bad:?}; use only ASCII letters, digits, `.`, `_`, `/` and `-`"
        ));
    }
    if RESERVED_NAMES.contains(&name) {
        return Some("is reserved for the probe service of that name".to_owned());
    }
    None
}

pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_and_dotted_names() {
        for name in ["database", "db.primary", "api/v1-users_2", &"x".repeat(128)] {
            assert_eq!(name_problem(name), None, "{name}");
        }
    }

    #[test]
    fn refuses_empty_long_odd_and_reserved_names() {
        for name in ["", "has space", "émoji", "tab\t", &"x".repeat(129)] {
            assert!(name_problem(name).is_some(), "{name:?}");
        }
        for name in RESERVED_NAMES {
            assert!(name_problem(name).unwrap().contains("reserved"));
        }
    }
}
