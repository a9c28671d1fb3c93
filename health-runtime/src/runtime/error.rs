//! Why a check could not be registered, or was not found.

use crate::Location;

/// Why a check could not be registered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two checks share a name.
    #[error("health check `{name}` is defined twice: at {first} and at {second}")]
    DuplicateName {
        /// The shared name.
        name: String,
        /// The definition registered first.
        first: Location,
        /// The definition that clashed with it.
        second: Location,
    },
    /// A check name or service name breaks the naming rules.
    #[error("health check {what} `{name}` defined at {location} {problem}")]
    InvalidName {
        /// `name` or `service`.
        what: &'static str,
        /// The name as given, escaped for display.
        name: String,
        /// Where the check was defined.
        location: Location,
        /// What is wrong with it.
        problem: String,
    },
    /// A setting is out of its range.
    #[error("health check `{name}` defined at {location}: {problem}")]
    InvalidSetting {
        /// The check.
        name: String,
        /// Where the check was defined.
        location: Location,
        /// What is wrong.
        problem: String,
    },
}

/// No check has the name asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no health check named `{name}`")]
pub struct UnknownCheck {
    /// The name asked for, escaped for display and cut to 128 characters.
    pub name: String,
}

impl UnknownCheck {
    pub(crate) fn new(name: &str) -> Self {
        let mut shown: String = name
            .chars()
            .take(128)
            .flat_map(char::escape_debug)
            .collect();
        if name.chars().nth(128).is_some() {
            shown.push('…');
        }
        UnknownCheck { name: shown }
    }
}
