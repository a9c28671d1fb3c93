//! The published state of every check at one moment, and what each name resolves to.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::{CheckInfo, Group, Status};

/// The published state of every check at one moment: what the report, gRPC `Watch`, metrics and
/// the health file read.
///
/// Obtain it with [`HealthRuntime::snapshot`](crate::HealthRuntime::snapshot), or follow it with
/// [`HealthRuntime::subscribe`](crate::HealthRuntime::subscribe), which wakes on every change of
/// a status and on every check added or removed.
#[derive(Debug, Default)]
pub struct HealthSnapshot {
    pub(crate) checks: BTreeMap<Arc<str>, Arc<CheckSnapshot>>,
    /// Set by `shutdown()`: when the drain delay ends.
    pub(crate) drain_until: Option<Instant>,
    /// Whether the startup group has passed once; it then stays passed.
    pub(crate) startup_passed: bool,
    /// The status of every name, computed once per snapshot for all readers.
    statuses: OnceLock<BTreeMap<Arc<str>, Status>>,
}

impl Clone for HealthSnapshot {
    /// A copy to modify: the computed statuses are left behind.
    fn clone(&self) -> Self {
        HealthSnapshot {
            checks: self.checks.clone(),
            drain_until: self.drain_until,
            startup_passed: self.startup_passed,
            statuses: OnceLock::new(),
        }
    }
}

pub(crate) use health_rules::name::PLUGIN as PLUGIN_SERVICE;

impl HealthSnapshot {
    /// The status of a health service name, as the probe surfaces answer it; `None` for a name
    /// nothing answers to.
    ///
    /// - `""` and `"plugin"`: the overall status;
    /// - `"liveness"`, `"readiness"`, `"startup"`: the worst of the group's checks; `startup`
    ///   stays `Healthy` once it has passed;
    /// - a check's name or a `service` value: the worst of the checks answering to it.
    ///
    /// Draining is not folded in: see [`is_draining`](Self::is_draining).
    pub fn status_of(&self, name: &str) -> Option<Status> {
        self.statuses().get(name).copied()
    }

    /// Every name [`status_of`](Self::status_of) answers, with its status, sorted by name.
    pub fn statuses(&self) -> &BTreeMap<Arc<str>, Status> {
        self.statuses.get_or_init(|| {
            let mut statuses = BTreeMap::new();
            let overall = self.overall();
            statuses.insert(Arc::from(""), overall);
            statuses.insert(Arc::from(PLUGIN_SERVICE), overall);
            for group in Group::ALL {
                let status = if group == Group::Startup && self.startup_passed {
                    Status::Healthy
                } else {
                    self.group(group)
                };
                statuses.insert(Arc::from(group.as_str()), status);
            }
            for check in self.checks.values() {
                let names = std::iter::once(&check.info.name).chain(check.info.service.as_ref());
                for name in names {
                    statuses
                        .entry(name.clone())
                        .and_modify(|status: &mut Status| {
                            *status = status.worst(check.state.status)
                        })
                        .or_insert(check.state.status);
                }
            }
            statuses
        })
    }

    /// Whether `shutdown()` was called and not undone: every name then answers as not serving.
    pub fn is_draining(&self) -> bool {
        self.drain_until.is_some()
    }

    /// When the drain delay of a shutdown ends.
    pub fn drain_deadline(&self) -> Option<Instant> {
        self.drain_until
    }

    /// Whether the startup group has passed once.
    pub fn startup_passed(&self) -> bool {
        self.startup_passed
    }

    /// The snapshot behind `published`, to modify: copied if anyone still reads it, and with the
    /// computed statuses dropped either way.
    pub(crate) fn edit(published: &mut Arc<HealthSnapshot>) -> &mut HealthSnapshot {
        let snapshot = Arc::make_mut(published);
        snapshot.statuses = OnceLock::new();
        snapshot
    }

    /// Latches `startup_passed` once every check of a non-empty startup group serves.
    pub(crate) fn latch_startup(&mut self) {
        if self.startup_passed {
            return;
        }
        let mut startup = self
            .checks
            .values()
            .filter(|check| check.info.groups.contains(&Group::Startup))
            .map(|check| check.state.status.is_serving())
            .peekable();
        let passed = startup.peek().is_some() && startup.all(|serving| serving);
        drop(startup);
        self.startup_passed = passed;
    }

    /// Every check, by name.
    pub fn checks(&self) -> impl ExactSizeIterator<Item = &CheckSnapshot> + '_ {
        self.checks.values().map(|check| &**check)
    }

    /// One check by name.
    pub fn check(&self, name: &str) -> Option<&CheckSnapshot> {
        self.checks.get(name).map(|check| &**check)
    }

    /// The overall status: the worst over every check that is not
    /// [informational](crate::CheckInfo::is_informational) (`Healthy` with none). It is the status
    /// of `""` and `plugin`, the report's `overall_status`, `/health` and the health file's.
    pub fn overall(&self) -> Status {
        worst(self.checks().filter(|check| !check.info.informational))
    }

    /// The worst status over the checks of a probe group (`Healthy` when the group is empty).
    pub fn group(&self, group: Group) -> Status {
        worst(
            self.checks()
                .filter(|check| check.info.groups.contains(&group)),
        )
    }
}

fn worst<'a>(checks: impl Iterator<Item = &'a CheckSnapshot>) -> Status {
    checks.fold(Status::Healthy, |status, check| {
        status.worst(check.state.status)
    })
}

/// One check's settings and its latest state.
#[derive(Debug, Clone)]
pub struct CheckSnapshot {
    pub(crate) info: Arc<CheckInfo>,
    pub(crate) state: CheckState,
}

impl CheckSnapshot {
    /// The check's settings.
    pub fn info(&self) -> &CheckInfo {
        &self.info
    }

    /// The check's latest state.
    pub fn state(&self) -> &CheckState {
        &self.state
    }
}

/// What the runs of one check have shown so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckState {
    pub(crate) status: Status,
    pub(crate) last_run_status: Status,
    pub(crate) message: Option<String>,
    pub(crate) value: Option<f64>,
    pub(crate) threshold: Option<f64>,
    pub(crate) duration: Option<Duration>,
    pub(crate) last_run: Option<SystemTime>,
    pub(crate) last_success: Option<SystemTime>,
    pub(crate) finished_at: Option<Instant>,
    pub(crate) consecutive_failures: u32,
    pub(crate) runs: u64,
    pub(crate) failures: u64,
}

impl CheckState {
    /// The status shown: the last run's, unless `failure_threshold` still holds a failure back;
    /// `Unknown` before a first result.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The status of the last run itself, before flap damping (`Unknown` before the first run).
    pub fn last_run_status(&self) -> Status {
        self.last_run_status
    }

    /// The last run's message: the error, the panic, the timeout, or the check's own words.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The last run's value, if the check reports one.
    pub fn value(&self) -> Option<f64> {
        self.value
    }

    /// The threshold the value is compared against, if the check reports one.
    pub fn threshold(&self) -> Option<f64> {
        self.threshold
    }

    /// How long the last run took.
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }

    /// When the last run finished.
    pub fn last_run(&self) -> Option<SystemTime> {
        self.last_run
    }

    /// When a run last came back `Healthy`.
    pub fn last_success(&self) -> Option<SystemTime> {
        self.last_success
    }

    /// How many runs in a row have failed (any status other than `Healthy`).
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// How many times the check has run.
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// How many runs have failed in all.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Whether the last result is younger than `max_age`.
    pub(crate) fn is_fresh(&self, max_age: Duration) -> bool {
        self.finished_at
            .is_some_and(|finished| finished.elapsed() < max_age)
    }
}
