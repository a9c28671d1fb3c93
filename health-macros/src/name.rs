//! The rules for check and service names, applied at compile time. They mirror
//! `health-runtime/src/name.rs` (DESIGN §3); keep the two in step.

/// The longest accepted name, in bytes (all accepted characters are ASCII).
const MAX_NAME_LEN: usize = 128;

/// Names the runtime itself answers to on the gRPC health service.
const RESERVED_NAMES: [&str; 4] = ["liveness", "readiness", "startup", "plugin"];

/// The error message for a refused name, such as "check name `a b` contains ' '; use only ...",
/// where `what` is "check name" or "service name".
pub(crate) fn name_error(what: &str, name: &str) -> Option<String> {
    let problem = name_problem(name)?;
    Some(if name.is_empty() {
        format!("{what} is empty; the empty name `\"\"` is the overall status, so choose another")
    } else {
        format!("{what} `{name}` {problem}; {}", fix(name))
    })
}

/// The message for a name taken from the function, which says how to set one instead.
pub(crate) fn function_name_error(name: &str) -> Option<String> {
    derived_name_error(name, "function", "name")
}

/// The message for a name taken from an item (`from`: "function", "field", "method"), which says
/// how to set one instead with `key`.
pub(crate) fn derived_name_error(name: &str, from: &str, key: &str) -> Option<String> {
    let problem = name_problem(name)?;
    Some(format!(
        "check name `{name}`, taken from the {from} name, {problem}; set another with `{key} = \"...\"`"
    ))
}

/// Why a name was refused, phrased to follow "check name `x` ...".
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".to_owned());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!(
            "is {} bytes long; at most {MAX_NAME_LEN} are allowed",
            name.len()
        ));
    }
    if let Some(bad) = name.chars().find(|&c| !is_name_char(c)) {
        return Some(format!("contains {bad:?}"));
    }
    if RESERVED_NAMES.contains(&name) {
        return Some(format!("is reserved for the `{name}` probe service"));
    }
    None
}

fn fix(name: &str) -> &'static str {
    if name.chars().all(is_name_char) {
        "choose another name"
    } else {
        "use only ASCII letters, digits, `.`, `_`, `/` and `-`"
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_and_dotted_names() {
        for name in ["database", "db.primary", "api/v1-users_2", &"x".repeat(128)] {
            assert_eq!(name_problem(name), None, "{name}");
            assert_eq!(function_name_error(name), None, "{name}");
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

    #[test]
    fn messages_name_the_offender() {
        assert_eq!(
            name_error("check name", "a b").unwrap(),
            "check name `a b` contains ' '; use only ASCII letters, digits, `.`, `_`, `/` and `-`"
        );
        assert_eq!(
            name_error("service name", "").unwrap(),
            "service name is empty; the empty name `\"\"` is the overall status, so choose another"
        );
        assert_eq!(
            function_name_error("startup").unwrap(),
            "check name `startup`, taken from the function name, is reserved for the `startup` \
             probe service; set another with `name = \"...\"`"
        );
    }
}
