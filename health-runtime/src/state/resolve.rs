//! Service-name resolution: which checks stand behind a health service name, and the verdict a
//! name gets, shared by gRPC, HTTP, the health file and Prometheus so that all answer alike.

use crate::state::snapshot::PLUGIN_SERVICE;
use crate::{CheckInfo, Group, HealthSnapshot, Status};

/// What a health service name answers: gRPC's serving status, HTTP's 200 or 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Serving,
    NotServing,
    /// No result yet, for names other than `readiness` and `startup`.
    Unknown,
}

impl Verdict {
    /// The answer for `name`, or `None` when nothing answers to it.
    pub(crate) fn of(snapshot: &HealthSnapshot, name: &str) -> Option<Verdict> {
        let status = snapshot.status_of(name)?;
        if snapshot.is_draining() {
            return Some(Verdict::NotServing);
        }
        Some(match status {
            Status::Healthy | Status::Warning => Verdict::Serving,
            Status::Critical => Verdict::NotServing,
            // Readiness and startup must not pass before their checks have a result.
            Status::Unknown if name == "readiness" || name == "startup" => Verdict::NotServing,
            Status::Unknown => Verdict::Unknown,
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
