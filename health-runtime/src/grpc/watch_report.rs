//! The stream of a `WatchHealthReport` call: the full report, then every change of a check's
//! status, message or value as the runtime publishes it, with the tri-state status that
//! `grpc.health.v1.Watch` cannot carry.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use super::report::{ReportStream, metric_to_proto, status, to_proto};
use crate::pb::report::v1::WatchHealthReportResponse;
use crate::pb::report::v1::watch_health_report_response::Update;
use crate::{CheckSnapshot, HealthEvent, HealthMetric, HealthReport, HealthSnapshot, Status};

/// What was last sent about one check: a change is a difference here.
#[derive(Debug, PartialEq)]
struct Sent {
    status: Status,
    /// Empty without details.
    message: String,
    /// The bits of the value, so that `NaN` equals itself; `None` without details.
    value: Option<u64>,
}

impl Sent {
    fn of(metric: &HealthMetric) -> Self {
        Sent {
            status: metric.status,
            message: metric.message.clone(),
            value: metric.value.map(f64::to_bits),
        }
    }
}

struct State {
    updates: watch::Receiver<Arc<HealthSnapshot>>,
    /// The published state wakes its receivers only when a status changes; a run that changes
    /// a message or a value is seen through its event.
    events: broadcast::Receiver<HealthEvent>,
    details: bool,
    only: Option<Arc<[String]>>,
    sent: HashMap<String, Sent>,
    draining: bool,
    pending: VecDeque<WatchHealthReportResponse>,
}

/// The stream: `report` first (already stripped of details or not, as `details` says), then
/// the changes published after each of `events`, of the checks in `only` if given. Ends when
/// the drain delay ends, or when the runtime is gone.
pub(super) fn stream(
    updates: watch::Receiver<Arc<HealthSnapshot>>,
    events: broadcast::Receiver<HealthEvent>,
    report: HealthReport,
    details: bool,
    only: Option<Arc<[String]>>,
) -> Result<ReportStream, String> {
    let report = if details {
        report
    } else {
        report.without_details()
    };
    let sent = report
        .metrics
        .iter()
        .map(|(name, metric)| (name.clone(), Sent::of(metric)))
        .collect();
    let draining = updates.borrow().is_draining();
    let first = WatchHealthReportResponse {
        overall_status: status(report.overall_status).into(),
        draining,
        update: Some(Update::Report(to_proto(&report)?)),
    };
    let state = State {
        updates,
        events,
        details,
        only,
        sent,
        draining,
        pending: VecDeque::from([first]),
    };
    Ok(Box::pin(futures::stream::unfold(state, next)))
}

async fn next(
    mut state: State,
) -> Option<(Result<WatchHealthReportResponse, tonic::Status>, State)> {
    loop {
        if let Some(message) = state.pending.pop_front() {
            return Some((Ok(message), state));
        }
        let deadline = {
            let snapshot = state.updates.borrow_and_update().clone();
            state.changes(&snapshot);
            snapshot.drain_deadline()
        };
        if !state.pending.is_empty() {
            continue;
        }
        let drained = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        // The runtime is gone when the senders are: the stream ends.
        tokio::select! {
            () = drained => return None,
            changed = state.updates.changed() => changed.ok()?,
            event = state.events.recv() => match event {
                // Whatever the event, and however many were missed, the state is compared anew.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            },
        }
    }
}

/// Whether the stream follows `check`: every check, or those in `only`.
fn shows(only: Option<&Arc<[String]>>, check: &CheckSnapshot) -> bool {
    only.is_none_or(|names| {
        names
            .iter()
            .any(|wanted| wanted.as_str() == check.info().name())
    })
}

impl State {
    /// Queues what changed in `snapshot` since the last message about each check.
    fn changes(&mut self, snapshot: &HealthSnapshot) {
        let followed: Vec<&CheckSnapshot> = snapshot
            .checks()
            .filter(|check| shows(self.only.as_ref(), check))
            .collect();
        let overall = status(
            followed
                .iter()
                .filter(|check| !check.info().is_informational())
                .fold(Status::Healthy, |worst, check| {
                    worst.worst(check.state().status())
                }),
        );
        let draining = snapshot.is_draining();
        let message = |update| WatchHealthReportResponse {
            overall_status: overall.into(),
            draining,
            update,
        };
        let mut present = Vec::new();
        for check in followed {
            let name = check.info().name();
            present.push(name);
            let mut metric = HealthMetric::from_check(check);
            if !self.details {
                metric.message.clear();
                metric.value = None;
                metric.threshold = None;
            }
            let now = Sent::of(&metric);
            if self.sent.get(name) == Some(&now) {
                continue;
            }
            match metric_to_proto(&metric) {
                Ok(proto) => {
                    self.sent.insert(name.to_owned(), now);
                    self.pending
                        .push_back(message(Some(Update::Changed(proto))));
                }
                Err(problem) => tracing::error!(%problem, "health metric not converted"),
            }
        }
        let mut removed: Vec<String> = self
            .sent
            .keys()
            .filter(|name| !present.contains(&name.as_str()))
            .cloned()
            .collect();
        removed.sort();
        for name in removed {
            self.sent.remove(&name);
            self.pending.push_back(message(Some(Update::Removed(name))));
        }
        if draining != self.draining {
            self.draining = draining;
            if self.pending.is_empty() {
                // Nothing else changed: a message with no update says the drain began or ended.
                self.pending.push_back(message(None));
            }
        }
    }
}
