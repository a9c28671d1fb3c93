//! The macros' sentences about a refused check or service name. The rules themselves, and the
//! words for what is wrong, are `health_rules::name`'s, which the runtime applies too.

use health_rules::name;

/// The error message for a refused name, such as "check name `a b` contains ' '; use only ...",
/// where `what` is "check name" or "service name".
pub(crate) fn name_error(what: &str, name: &str) -> Option<String> {
    let problem = name::check(name).err()?;
    Some(problem.describe(what, name))
}

/// The message for a name taken from an item (`from`: "function", "field", "method"), which says
/// how to set one instead with `key`: "check name `startup`, taken from the function name, is
/// reserved for the `startup` probe service; set another with `name = \"...\"`".
pub(crate) fn derived_name_error(name: &str, from: &str, key: &str) -> Option<String> {
    let problem = name::check(name).err()?;
    Some(format!(
        "check name `{}`, taken from the {from} name, {}; set another with `{key} = \"...\"`",
        name.escape_debug(),
        problem.fault()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_have_no_message() {
        for name in ["database", "db.primary", "api/v1-users_2"] {
            assert_eq!(name_error("check name", name), None, "{name}");
            assert_eq!(derived_name_error(name, "function", "name"), None, "{name}");
        }
    }

    #[test]
    fn messages_name_the_offender_and_the_fix() {
        assert_eq!(
            name_error("check name", "a b").unwrap(),
            "check name `a b` contains ' '; use only ASCII letters, digits, `.`, `_`, `/` and `-`"
        );
        assert_eq!(
            derived_name_error("startup", "function", "name").unwrap(),
            "check name `startup`, taken from the function name, is reserved for the `startup` \
             probe service; set another with `name = \"...\"`"
        );
        assert_eq!(
            derived_name_error("plugin", "field", "check").unwrap(),
            "check name `plugin`, taken from the field name, is reserved for the `plugin` probe \
             service; set another with `check = \"...\"`"
        );
    }
}
