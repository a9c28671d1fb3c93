//! The settings of one check, as `#[health_check]`, `#[health(...)]` and `Check`'s setters
//! write them: one list of fields for the whole project.

use std::time::Duration;

use crate::{Group, Status, defaults};

/// A check's settings as declared, before the runtime fills in the defaults that depend on
/// its configuration (`timeout`, `interval`, when `None`).
///
/// `Name` and `Groups` are whatever the holder can own: `String` and `Vec<Group>` at run time and
/// in the macros, `&'static str` and `&'static [Group]` in the constants the macros emit.
///
/// ```
/// use health_rules::{CheckSettings, Group, Status};
///
/// let settings = CheckSettings::new("database".to_owned());
/// assert_eq!(settings.on_error, Status::Critical);
/// assert_eq!(settings.groups, [Group::Readiness]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckSettings<Name, Groups> {
    /// The check's name, also a gRPC health service name.
    pub name: Name,
    /// The deadline of one run; `None` for the configured default.
    pub timeout: Option<Duration>,
    /// The status a run that passes its deadline shows.
    pub on_timeout: Status,
    /// The status a run that fails or panics shows.
    pub on_error: Status,
    /// The re-run period; `None` for the configured default.
    pub interval: Option<Duration>,
    /// The probe groups the check gates.
    pub groups: Groups,
    /// A gRPC health service the check also counts toward.
    pub service: Option<Name>,
    /// Consecutive failed runs before a failure shows.
    pub failure_threshold: u32,
}

impl CheckSettings<String, Vec<Group>> {
    /// The settings of a check named `name` with every default.
    pub fn new(name: String) -> Self {
        CheckSettings {
            name,
            timeout: None,
            on_timeout: defaults::ON_TIMEOUT,
            on_error: defaults::ON_ERROR,
            interval: None,
            groups: defaults::GROUPS.to_vec(),
            service: None,
            failure_threshold: defaults::FAILURE_THRESHOLD,
        }
    }
}

impl CheckSettings<&'static str, &'static [Group]> {
    /// The same settings, owned.
    pub fn to_owned(&self) -> CheckSettings<String, Vec<Group>> {
        CheckSettings {
            name: self.name.to_owned(),
            timeout: self.timeout,
            on_timeout: self.on_timeout,
            on_error: self.on_error,
            interval: self.interval,
            groups: self.groups.to_vec(),
            service: self.service.map(str::to_owned),
            failure_threshold: self.failure_threshold,
        }
    }
}
