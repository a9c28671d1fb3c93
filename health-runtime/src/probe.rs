//! What a probe sees for a health service name: shared by gRPC and HTTP so that both answer
//! alike (DESIGN §4, §6, §9).

use crate::snapshot::PLUGIN_SERVICE;
use crate::{CheckInfo, Group, HealthSnapshot, Status};

/// A name's answer to a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    Serving,
    NotServing,
    /// No result yet, for names other than `readiness` and `startup`.
    Unknown,
}

impl Probe {
    /// The answer for `name`, or `None` when nothing answers to it.
    pub(crate) fn of(snapshot: &HealthSnapshot, name: &str) -> Option<Probe> {
        let status = snapshot.status_of(name)?;
        if snapshot.is_draining() {
            return Some(Probe::NotServing);
        }
        Some(match status {
            Status::Healthy | Status::Warning => Probe::Serving,
            Status::Critical => Probe::NotServing,
            // Readiness and startup must not pass before their checks have a result.
            Status::Unknown if name == "readiness" || name == "startup" => Probe::NotServing,
            Status::Unknown => Probe::Unknown,
        })
    }
}

/// Which checks decide the status of a name.
#[cfg_attr(not(any(feature = "grpc", feature = "http")), allow(dead_code))]
pub(crate) fn selector(name: &str) -> impl Fn(&CheckInfo) -> bool + '_ {
    let group = Group::ALL.into_iter().find(|group| group.as_str() == name);
    move |info| match group {
        _ if name.is_empty() || name == PLUGIN_SERVICE => true,
        Some(group) => info.groups().contains(&group),
        None => info.answers_to(name),
    }
}
