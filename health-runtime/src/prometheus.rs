//! Prometheus: the health state in the text exposition format, with `prometheus-client`, as
//! [`render`] (what `/metrics` serves) or as a [`HealthCollector`] for a registry of your own.
//! A scrape reads the published state and the run counts; it never runs a check. The run counter
//! and histogram come from the engine's [events](crate::HealthEvent), from the first run on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::runtime::builder::Attach;
use crate::state::resolve::Verdict;
use crate::{CheckInfo, HealthEvent, HealthObserver, HealthRuntime, HealthSnapshot};

/// The content type of the Prometheus text exposition format 0.0.4, as `/metrics` answers.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ServiceLabel {
    service: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabels {
    service: String,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct WindowLabels {
    service: String,
    window: &'static str,
}

#[cfg(feature = "notify")]
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct NotificationLabels {
    target: String,
    /// The target's position in the list: two targets can share `target` (one host).
    index: String,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct VersionLabel {
    version: String,
}

type Durations = Family<ServiceLabel, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // Prometheus' usual 1-2.5-5 steps, from 1 ms to 10 s (timeouts are seconds).
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// The runs of every check, by result, and their durations: an observer of the engine's events
/// from the runtime's first run, attached to every runtime by the builder.
#[derive(Debug)]
pub(crate) struct RunDurations {
    durations: Durations,
    runs: Family<ResultLabels, Counter>,
    /// The check that owns each name's series now. Events of one check come in order, but a
    /// check replaced by another of the same name may be announced before the old one's
    /// removal: each event only touches the series of the check it is about.
    owners: Mutex<HashMap<Arc<str>, Arc<CheckInfo>>>,
}

impl Default for RunDurations {
    fn default() -> Self {
        RunDurations {
            durations: Family::new_with_constructor(duration_histogram),
            runs: Family::default(),
            owners: Mutex::default(),
        }
    }
}

/// The two results a run is counted under.
const RESULTS: [&str; 2] = ["success", "failure"];

impl RunDurations {
    fn forget(&self, name: &str) {
        self.durations.remove(&label(name));
        for result in RESULTS {
            self.runs.remove(&ResultLabels::new(name, result));
        }
    }
}

impl HealthObserver for RunDurations {
    fn on_event(&self, event: &HealthEvent) {
        // One lock for the whole update, so that no two events interleave on a name.
        let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            HealthEvent::Registered { check } => {
                let name = check.name();
                if owners.insert(check.name.clone(), check.clone()).is_some() {
                    // The series of the check this one replaces.
                    self.forget(name);
                }
                // Both results show from the start, at zero.
                for result in RESULTS {
                    drop(self.runs.get_or_create(&ResultLabels::new(name, result)));
                }
            }
            HealthEvent::Ran {
                check,
                duration,
                failed,
            } => {
                let name = check.info().name();
                if !owners
                    .get(name)
                    .is_some_and(|owner| Arc::ptr_eq(owner, &check.info))
                {
                    return;
                }
                let result = if *failed { RESULTS[1] } else { RESULTS[0] };
                self.runs
                    .get_or_create(&ResultLabels::new(name, result))
                    .inc();
                self.durations
                    .get_or_create(&label(name))
                    .observe(duration.as_secs_f64());
            }
            HealthEvent::Deregistered { check }
                if owners
                    .get(check.name())
                    .is_some_and(|owner| Arc::ptr_eq(owner, check)) =>
            {
                owners.remove(check.name());
                self.forget(check.name());
            }
            _ => {}
        }
    }
}

impl ResultLabels {
    fn new(service: &str, result: &'static str) -> Self {
        ResultLabels {
            service: service.to_owned(),
            result,
        }
    }
}

/// Gives every runtime its run histogram, observing from the first run.
pub(crate) fn attach(attach: &mut Attach) {
    let durations = Arc::new(RunDurations::default());
    attach.extensions.insert(durations.clone());
    attach.observers.push(durations);
}

/// The Prometheus text exposition of `runtime`'s health state, as `/metrics` serves it:
///
/// | family | type | labels |
/// |---|---|---|
/// | `health_status` | gauge: 1 serving, 0 not | `service`: every health service name |
/// | `health_checks_total` | counter: runs | `service`, `result` (`success`, `failure`) |
/// | `health_check_duration_seconds` | histogram | `service` |
/// | `health_check_value`, `health_check_threshold` | gauge: what checks report (resource and request figures among them) | `service` |
/// | `health_check_consecutive_failures` | gauge | `service` |
/// | `health_check_uptime_ratio` | gauge: the share of the window spent serving, 0 to 1 ([`History::uptime`](crate::history::History::uptime)); absent while a check has no known status | `service`, `window` (`1h`, `24h`) |
/// | `health_uptime_seconds`, `health_draining`, `health_watch_streams`, `health_info` | gauge | `version` on `health_info` |
/// | `health_notifications_total` (feature `notify`) | counter: webhook notifications ([`NotifyStats`](crate::notify::NotifyStats)) | `target` (`scheme://host:port`), `index` (the target's position in the list, from 0), `result` (`delivered`, `failed`, `retried`, `dropped`) |
///
/// A scrape reads the published state and the run counts; it never runs a check. The run counter
/// and histogram come from the engine's [events](crate::HealthEvent), from the first run on.
///
/// This renders every family, details included. `/metrics` renders with [`render_with`] instead,
/// leaving out `health_check_value` and `health_check_threshold` for a scrape the detail level
/// does not authorize.
pub fn render(runtime: &HealthRuntime) -> Result<String, std::fmt::Error> {
    render_with(runtime, true)
}

/// The Prometheus text exposition of `runtime`'s health state, as [`render`], with the details
/// (`health_check_value`, `health_check_threshold`: what checks measure and compare against)
/// only when `details` is true. Statuses, run counts and durations, failures in a row and the
/// process gauges are always there.
///
/// `/metrics` passes the detail level's decision for the scrape request: with
/// `PLUGIN_HEALTH_SHOW_DETAILS=never`, or `when-authorized` and a scrape without
/// `Authorization: Bearer <PLUGIN_HEALTH_AUTH_TOKEN>`, the two families are left out.
///
/// ```
/// use health_runtime::HealthRuntime;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let health = HealthRuntime::builder().build()?;
/// let text = health_runtime::prometheus::render_with(&health, false)?;
/// assert!(text.contains("health_status") && !text.contains("health_check_value"));
/// # Ok(())
/// # }
/// ```
pub fn render_with(runtime: &HealthRuntime, details: bool) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(
        HealthCollector::new(runtime).with_details(details),
    ));
    let mut text = String::with_capacity(64 * 1024);
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)?;
    Ok(text)
}

/// The health families of one runtime as a `prometheus-client` [`Collector`], to register in a
/// registry of your own beside your application's metrics:
///
/// ```
/// use health_runtime::HealthRuntime;
/// use health_runtime::prometheus::HealthCollector;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let health = HealthRuntime::builder().build()?;
/// let mut registry = prometheus_client::registry::Registry::default();
/// registry.register_collector(Box::new(HealthCollector::new(&health)));
/// let mut text = String::new();
/// prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)?;
/// assert!(text.contains("health_uptime_seconds"));
/// # Ok(())
/// # }
/// ```
///
/// Each encode reads the state at that moment. It shows details (`health_check_value`,
/// `health_check_threshold`) unless told otherwise with [`with_details`](Self::with_details).
#[derive(Debug, Clone)]
#[must_use]
pub struct HealthCollector {
    runtime: HealthRuntime,
    durations: Arc<RunDurations>,
    details: bool,
}

impl HealthCollector {
    /// The collector of `runtime`, details included.
    pub fn new(runtime: &HealthRuntime) -> Self {
        HealthCollector {
            runtime: runtime.clone(),
            durations: runtime.extension::<RunDurations>(),
            details: true,
        }
    }

    /// Whether to encode `health_check_value` and `health_check_threshold` (see
    /// [`render_with`]).
    pub fn with_details(mut self, details: bool) -> Self {
        self.details = details;
        self
    }
}

impl Collector for HealthCollector {
    fn encode(&self, encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let runtime = &self.runtime;
        let snapshot = runtime.snapshot();
        StateCollector {
            uptimes: uptimes(runtime, &snapshot),
            snapshot,
            runs: self.durations.clone(),
            uptime: runtime.uptime(),
            version: runtime.version().to_owned(),
            details: self.details,
            #[cfg(feature = "grpc")]
            watch_streams: crate::grpc::watch_streams(runtime),
            #[cfg(feature = "notify")]
            notifications: crate::notify::stats(runtime).targets(),
        }
        .encode(encoder)
    }
}

/// Everything one scrape shows, taken at the start of the scrape.
#[derive(Debug)]
struct StateCollector {
    snapshot: Arc<HealthSnapshot>,
    runs: Arc<RunDurations>,
    uptime: Duration,
    /// Each check's uptime ratio over each window.
    uptimes: Vec<(WindowLabels, f64)>,
    version: String,
    /// Whether values and thresholds are shown.
    details: bool,
    #[cfg(feature = "grpc")]
    watch_streams: usize,
    /// Each notification target's counts.
    #[cfg(feature = "notify")]
    notifications: Vec<crate::notify::TargetStats>,
}

impl StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        self.encode_statuses(&mut encoder)?;
        self.encode_runs(&mut encoder)?;
        self.encode_readings(&mut encoder)?;
        self.encode_uptimes(&mut encoder)?;
        #[cfg(feature = "notify")]
        self.encode_notifications(&mut encoder)?;
        self.encode_process(&mut encoder)
    }

    /// `health_notifications_total`: what became of the webhook notifications, per target.
    #[cfg(feature = "notify")]
    fn encode_notifications(
        &self,
        encoder: &mut DescriptorEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        if self.notifications.is_empty() {
            return Ok(());
        }
        let mut family = encoder.encode_descriptor(
            "health_notifications",
            "Webhook notifications, by target and result",
            None,
            MetricType::Counter,
        )?;
        for target in &self.notifications {
            for (result, count) in crate::notify::RESULTS.into_iter().zip(target.counts()) {
                let labels = NotificationLabels {
                    target: target.target.clone(),
                    index: target.index.to_string(),
                    result,
                };
                family
                    .encode_family(&labels)?
                    .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(
                        &count, None,
                    )?;
            }
        }
        Ok(())
    }

    /// `health_check_uptime_ratio`: each check's share of the last hour and day spent serving.
    fn encode_uptimes(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "health_check_uptime_ratio",
            "The share of the window the check spent serving (healthy or warning) rather than critical",
            None,
            MetricType::Gauge,
        )?;
        for (labels, ratio) in &self.uptimes {
            family.encode_family(labels)?.encode_gauge(ratio)?;
        }
        Ok(())
    }

    /// `health_status`: whether each name serves.
    fn encode_statuses(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let snapshot = &self.snapshot;
        let mut family = encoder.encode_descriptor(
            "health_status",
            "Whether the health service name is serving (1) or not (0)",
            None,
            MetricType::Gauge,
        )?;
        for name in snapshot.statuses().keys() {
            let serving = Verdict::of(snapshot, name) == Some(Verdict::Serving);
            family
                .encode_family(&label(name))?
                .encode_gauge(&i64::from(serving))?;
        }
        Ok(())
    }

    /// `health_checks_total` and `health_check_duration_seconds`, from the run events.
    fn encode_runs(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let runs = &self.runs.runs;
        let family = encoder.encode_descriptor(
            "health_checks",
            "Runs of each check, by result",
            None,
            runs.metric_type(),
        )?;
        runs.encode(family)?;
        let durations = &self.runs.durations;
        let family = encoder.encode_descriptor(
            "health_check_duration_seconds",
            "Duration of check runs",
            None,
            durations.metric_type(),
        )?;
        durations.encode(family)
    }

    /// What checks report: value and threshold (details), failures in a row.
    fn encode_readings(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        type Reading = fn(&crate::CheckState) -> Option<f64>;
        let readings: [(&str, &str, Reading, bool); 3] = [
            (
                "health_check_value",
                "The value the check last reported",
                |state| state.value(),
                true,
            ),
            (
                "health_check_threshold",
                "The threshold the check compares its value against",
                |state| state.threshold(),
                true,
            ),
            (
                "health_check_consecutive_failures",
                "Failed runs in a row",
                |state| Some(f64::from(state.consecutive_failures())),
                false,
            ),
        ];
        for (name, help, reading, detail) in readings {
            if detail && !self.details {
                continue;
            }
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for check in self.snapshot.checks() {
                if let Some(value) = reading(check.state()).filter(|value| value.is_finite()) {
                    family
                        .encode_family(&label(check.info().name()))?
                        .encode_gauge(&value)?;
                }
            }
        }
        Ok(())
    }

    /// The process: uptime, draining, open Watch streams, version.
    fn encode_process(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        #[cfg_attr(not(feature = "grpc"), allow(unused_mut))]
        let mut gauges: Vec<(&str, &str, f64)> = vec![
            (
                "health_uptime_seconds",
                "Seconds since the health runtime started",
                self.uptime.as_secs_f64(),
            ),
            (
                "health_draining",
                "Whether shutdown has begun (1) or not (0)",
                f64::from(u8::from(self.snapshot.is_draining())),
            ),
        ];
        #[cfg(feature = "grpc")]
        gauges.push((
            "health_watch_streams",
            "Open gRPC Watch streams",
            self.watch_streams as f64,
        ));
        for (name, help, value) in gauges {
            encoder
                .encode_descriptor(name, help, None, MetricType::Gauge)?
                .encode_gauge(&value)?;
        }
        encoder
            .encode_descriptor(
                "health_info",
                "The service version",
                None,
                MetricType::Gauge,
            )?
            .encode_family(&VersionLabel {
                version: self.version.clone(),
            })?
            .encode_gauge(&1i64)?;
        Ok(())
    }
}

/// Every check's uptime over each of the history's windows, where it has a known status.
fn uptimes(runtime: &HealthRuntime, snapshot: &HealthSnapshot) -> Vec<(WindowLabels, f64)> {
    let history = crate::history::of(runtime);
    let mut uptimes = Vec::new();
    for check in snapshot.checks() {
        let name = check.info().name();
        for &(window, span) in crate::history::UPTIME_WINDOWS {
            if let Some(ratio) = history.uptime(name, span) {
                uptimes.push((
                    WindowLabels {
                        service: name.to_owned(),
                        window,
                    },
                    ratio,
                ));
            }
        }
    }
    uptimes
}

fn label(name: &str) -> ServiceLabel {
    ServiceLabel {
        service: name.to_owned(),
    }
}
