//! The detailed health report: every check's status, value, threshold and message, uptime and
//! version, as JSON and over gRPC.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::state::snapshot::{CheckSnapshot, HealthSnapshot};
use crate::{Group, Status};

/// The detailed health of the process: every check's latest state and the overall status.
///
/// Serialises to JSON with the field names plugin hosts expect:
///
/// ```json
/// {
///   "overall_status": "warning",
///   "timestamp": "2026-11-25T16:03:26.123Z",
///   "uptime_seconds": 42.5,
///   "version": "1.4.2",
///   "metrics": {
///     "disk": {
///       "name": "disk", "status": "warning", "value": 85.1, "threshold": 90.0,
///       "message": "85.1 % of /var/lib/app used", "last_updated": "2026-11-25T16:03:25.001Z",
///       "duration_ms": 0.4, "last_success": "2026-11-25T16:02:55.003Z",
///       "consecutive_failures": 1, "groups": ["readiness"], "service": null
///     }
///   }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// The worst status over every check (`healthy` when there are none).
    pub overall_status: Status,
    /// When the report was built.
    #[serde(with = "crate::state::timefmt")]
    pub timestamp: SystemTime,
    /// Seconds since the runtime was built.
    pub uptime_seconds: f64,
    /// The version of the service, as given to the builder.
    pub version: String,
    /// Every check's latest state, by name.
    pub metrics: BTreeMap<String, HealthMetric>,
}

/// One check's entry in a [`HealthReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthMetric {
    /// The check's name.
    pub name: String,
    /// The status shown (after `failure_threshold` damping).
    pub status: Status,
    /// The value the check measured, if it reports one.
    pub value: Option<f64>,
    /// The threshold the value is compared against, if any.
    pub threshold: Option<f64>,
    /// The last run's message: the error, the panic, the timeout, or the check's own words.
    pub message: String,
    /// When the check last ran; `null` before its first run.
    #[serde(with = "crate::state::timefmt::option")]
    pub last_updated: Option<SystemTime>,
    /// How long the last run took, in milliseconds.
    pub duration_ms: Option<f64>,
    /// When a run last came back healthy.
    #[serde(with = "crate::state::timefmt::option")]
    pub last_success: Option<SystemTime>,
    /// How many runs in a row have failed.
    pub consecutive_failures: u32,
    /// The probe groups the check gates.
    pub groups: Vec<Group>,
    /// The gRPC service the check also counts toward.
    pub service: Option<String>,
    /// Whether the check only informs: it does not count toward `overall_status` (see
    /// [`CheckInfo::is_informational`](crate::CheckInfo::is_informational)).
    #[serde(default)]
    pub informational: bool,
}

impl HealthMetric {
    pub(crate) fn from_check(check: &CheckSnapshot) -> Self {
        let (info, state) = (check.info(), check.state());
        HealthMetric {
            name: info.name().to_owned(),
            status: state.status(),
            value: state.value(),
            threshold: state.threshold(),
            message: state.message().unwrap_or_default().to_owned(),
            last_updated: state.last_run(),
            duration_ms: state.duration().map(|d| d.as_secs_f64() * 1000.0),
            last_success: state.last_success(),
            consecutive_failures: state.consecutive_failures(),
            groups: info.groups().to_vec(),
            informational: info.is_informational(),
            service: info.service().map(str::to_owned),
        }
    }
}

impl HealthReport {
    pub(crate) fn from_snapshot(
        snapshot: &HealthSnapshot,
        uptime: Duration,
        version: &str,
    ) -> Self {
        HealthReport {
            overall_status: snapshot.overall(),
            timestamp: SystemTime::now(),
            uptime_seconds: uptime.as_secs_f64(),
            version: version.to_owned(),
            metrics: snapshot
                .checks()
                .map(|check| {
                    (
                        check.info().name().to_owned(),
                        HealthMetric::from_check(check),
                    )
                })
                .collect(),
        }
    }

    /// The report with statuses only: every check's message, value and threshold removed (what
    /// a request not authorized for details sees).
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub(crate) fn without_details(mut self) -> Self {
        for metric in self.metrics.values_mut() {
            metric.message.clear();
            metric.value = None;
            metric.threshold = None;
        }
        self
    }

    /// The report as pretty-printed JSON.
    pub fn to_json_pretty(&self) -> String {
        // A report holds only strings, numbers and maps with string keys: it always serialises.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
