//! The stream of a `WatchHealthReport` call: the full report, then every change of a check's
//! status, message or value, run by run, with the tri-state status that `grpc.health.v1.Watch`
//! cannot carry.
//!
//! Changes are read from the engine's events, each `Ran` carrying the state its run left, so
//! that no run that changed something is folded into a later one (a blip from healthy to
//! critical and back is two messages, however fast). A run older than what was already sent
//! (one that finished before the report was taken) is skipped. A stream that falls behind the
//! events (lagged) compares the published state instead, and carries on from there.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use super::report::{ReportStream, metric_to_proto, status, to_proto};
use crate::pb::report::v1::WatchHealthReportResponse;
use crate::pb::report::v1::watch_health_report_response::Update;
use crate::{
    CheckInfo, CheckSnapshot, HealthEvent, HealthMetric, HealthReport, HealthSnapshot, Status,
};

/// What was last sent about one check: a change is a difference here.
#[derive(Debug)]
struct Sent {
    /// The check (a check registered again under its name is another).
    info: Arc<CheckInfo>,
    /// Its runs when that state was left: an older state is never sent after a newer one.
    runs: u64,
    status: Status,
    /// Empty without details.
    message: String,
    /// The bits of the value, so that `NaN` equals itself; `None` without details.
    value: Option<u64>,
}

impl Sent {
    fn shows_the_same(&self, other: &Sent) -> bool {
        (self.status, &self.message, self.value) == (other.status, &other.message, other.value)
    }
}

/// What a stream needs of the runtime to start.
pub(super) struct Start {
    pub(super) updates: watch::Receiver<Arc<HealthSnapshot>>,
    pub(super) events: broadcast::Receiver<HealthEvent>,
    /// The published state the report is taken from, subscribed to before it.
    pub(super) snapshot: Arc<HealthSnapshot>,
    pub(super) uptime: Duration,
    pub(super) version: String,
    pub(super) details: bool,
    pub(super) only: Option<Arc<[String]>>,
}

struct State {
    updates: watch::Receiver<Arc<HealthSnapshot>>,
    events: broadcast::Receiver<HealthEvent>,
    details: bool,
    only: Option<Arc<[String]>>,
    sent: HashMap<String, Sent>,
    /// When the drain delay ends, while draining.
    drain_until: Option<Instant>,
    pending: VecDeque<WatchHealthReportResponse>,
}

/// The stream: the report of `start.snapshot` first, then each change. Ends when the drain
/// delay ends, or when the runtime is gone.
pub(super) fn stream(start: Start) -> Result<ReportStream, String> {
    let Start {
        updates,
        events,
        snapshot,
        uptime,
        version,
        details,
        only,
    } = start;
    let mut state = State {
        updates,
        events,
        details,
        only,
        sent: HashMap::new(),
        drain_until: snapshot.drain_deadline(),
        pending: VecDeque::new(),
    };
    let mut report = HealthReport::from_snapshot(&snapshot, uptime, &version);
    report.metrics.retain(|name, _| {
        snapshot
            .check(name)
            .is_some_and(|check| state.follows(check))
    });
    if !details {
        report = report.without_details();
    }
    let followed: Vec<(String, Sent)> = snapshot
        .checks()
        .filter(|check| state.follows(check))
        .map(|check| (check.info().name().to_owned(), state.sent_of(check)))
        .collect();
    state.sent.extend(followed);
    report.overall_status = state.overall();
    let first = state.message(Some(Update::Report(to_proto(&report)?)));
    state.pending.push_back(first);
    Ok(Box::pin(futures::stream::unfold(state, next)))
}

async fn next(
    mut state: State,
) -> Option<(Result<WatchHealthReportResponse, tonic::Status>, State)> {
    loop {
        if let Some(message) = state.pending.pop_front() {
            return Some((Ok(message), state));
        }
        let drained = async {
            match state.drain_until {
                Some(until) => tokio::time::sleep_until(until).await,
                None => std::future::pending().await,
            }
        };
        // The runtime is gone when its events' sender is: the stream ends.
        let event = tokio::select! {
            () = drained => return None,
            event = state.events.recv() => event,
        };
        match event {
            Ok(event) => state.on_event(&event),
            Err(broadcast::error::RecvError::Lagged(_)) => state.compare_published(),
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

impl State {
    /// Whether the stream follows `check`: every check, or those in `only`.
    fn follows(&self, check: &CheckSnapshot) -> bool {
        self.only.as_ref().is_none_or(|names| {
            names
                .iter()
                .any(|wanted| wanted.as_str() == check.info().name())
        })
    }

    fn metric(&self, check: &CheckSnapshot) -> HealthMetric {
        let mut metric = HealthMetric::from_check(check);
        if !self.details {
            metric.message.clear();
            metric.value = None;
            metric.threshold = None;
        }
        metric
    }

    fn sent_of(&self, check: &CheckSnapshot) -> Sent {
        let metric = self.metric(check);
        Sent {
            info: check.info.clone(),
            runs: check.state().runs(),
            status: metric.status,
            message: metric.message,
            value: metric.value.map(f64::to_bits),
        }
    }

    /// The worst status over the checks followed, as the report's overall status.
    fn overall(&self) -> Status {
        self.sent
            .values()
            .filter(|sent| !sent.info.is_informational())
            .fold(Status::Healthy, |worst, sent| worst.worst(sent.status))
    }

    fn message(&self, update: Option<Update>) -> WatchHealthReportResponse {
        WatchHealthReportResponse {
            overall_status: status(self.overall()).into(),
            draining: self.drain_until.is_some(),
            update,
        }
    }

    fn on_event(&mut self, event: &HealthEvent) {
        match event {
            // The published state is frozen while draining: so is the stream.
            HealthEvent::Ran { check, .. } if self.drain_until.is_none() => self.offer(check),
            HealthEvent::Registered { .. } => self.compare_published(),
            HealthEvent::Deregistered { check } => {
                let name = check.name();
                if self
                    .sent
                    .get(name)
                    .is_some_and(|sent| Arc::ptr_eq(&sent.info, check))
                {
                    self.sent.remove(name);
                    let message = self.message(Some(Update::Removed(name.to_owned())));
                    self.pending.push_back(message);
                }
            }
            HealthEvent::Draining { until } => {
                let began = self.drain_until.is_none();
                self.drain_until = Some(*until);
                if began {
                    self.pending.push_back(self.message(None));
                }
            }
            HealthEvent::Resumed if self.drain_until.is_some() => {
                self.drain_until = None;
                self.compare_published();
                if self.pending.is_empty() {
                    self.pending.push_back(self.message(None));
                }
            }
            _ => {}
        }
    }

    /// Sends `check`'s state if it is newer than, and differs from, what was last sent.
    fn offer(&mut self, check: &CheckSnapshot) {
        if !self.follows(check) {
            return;
        }
        let now = self.sent_of(check);
        let name = check.info().name();
        match self.sent.get_mut(name) {
            Some(sent) if Arc::ptr_eq(&sent.info, &now.info) && now.runs <= sent.runs => return,
            Some(sent) if Arc::ptr_eq(&sent.info, &now.info) && sent.shows_the_same(&now) => {
                sent.runs = now.runs;
                return;
            }
            _ => {}
        }
        match metric_to_proto(&self.metric(check)) {
            Ok(proto) => {
                self.sent.insert(name.to_owned(), now);
                let message = self.message(Some(Update::Changed(proto)));
                self.pending.push_back(message);
            }
            Err(problem) => tracing::error!(%problem, "health metric not converted"),
        }
    }

    /// Compares the published state with what was sent: checks added, changed or removed.
    fn compare_published(&mut self) {
        let snapshot = self.updates.borrow_and_update().clone();
        for check in snapshot.checks() {
            self.offer(check);
        }
        let mut removed: Vec<String> = self
            .sent
            .keys()
            .filter(|name| snapshot.check(name).is_none())
            .cloned()
            .collect();
        removed.sort();
        for name in removed {
            self.sent.remove(&name);
            let message = self.message(Some(Update::Removed(name)));
            self.pending.push_back(message);
        }
    }
}
