//! [`SystemIndicators`]: the `cpu_usage`, `memory_usage` and `disk_usage` checks, graded from the
//! latest sample.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::monitor::{ResourceMonitor, Sampler};
use super::reading::{ReadingError, ResourceReading, ResourceSample};
use super::source::{ResourceSource, SysinfoSource};
use crate::indicator::Gating;
use crate::{Check, CheckOutcome, HealthConfig, Status};

/// The names of the three system checks.
pub const SYSTEM_CHECK_NAMES: [&str; 3] = ["cpu_usage", "memory_usage", "disk_usage"];

/// The system resource metrics: `cpu_usage`, `memory_usage` and `disk_usage`, each in percent
/// with its threshold, status and message.
///
/// A background task takes a sample every `sample_interval` (default 5 s,
/// `PLUGIN_RESOURCE_SAMPLE_INTERVAL`) on the blocking pool; the three checks only read the
/// latest sample, so a report or a probe never waits for sampling. The task starts with the
/// first run of one of the checks ([`HealthRuntime::start`](crate::HealthRuntime::start) runs
/// them all) and ends when the runtime is dropped.
///
/// Grading ([`CheckOutcome::by_threshold`]): `Warning` above 80 % of the threshold, `Critical`
/// above it. Thresholds default to the configuration (`PLUGIN_RESOURCE_CPU_THRESHOLD`, ...: 80,
/// 85, 90); the setters here win. A reading that fails shows `Warning` (see
/// [`on_reading_error`](Self::on_reading_error)) with the error; before the first sample, and
/// while CPU usage waits for its second sample, a metric shows `Healthy` with no value and says
/// so. A sample older than three intervals (a source stuck on a dead filesystem) shows as a
/// warning.
///
/// The checks describe the machine, not this process, so by default they only inform: they show
/// with their grades in the report, the metrics and the published state, and answer under their
/// own names, but no probe group, `""`, `plugin`, `/health` or health file turns not serving
/// because of them. Opt them in with [`groups`](Self::groups), [`service`](Self::service) or
/// [`informational(false)`](Self::informational).
/// `PLUGIN_RESOURCE_METRICS=false` leaves them out.
///
/// For the filesystem of one directory of your own, see
/// [`DiskSpace`](crate::indicator::DiskSpace).
///
/// ```
/// use health_runtime::HealthRuntime;
/// use health_runtime::indicator::SystemIndicators;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let runtime = HealthRuntime::builder()
///     .with_checks(SystemIndicators::new().cpu_threshold(90.0))
///     .build()?;
/// runtime.start();
/// let report = runtime.report().await; // never waits for a sample
/// assert!(report.metrics.contains_key("cpu_usage"));
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct SystemIndicators {
    sampler: Arc<Sampler>,
    cpu_threshold: Option<f64>,
    memory_threshold: Option<f64>,
    disk_threshold: Option<f64>,
    sample_interval: Option<Duration>,
    disk_path: Option<PathBuf>,
    gating: Gating,
    on_reading_error: Status,
}

impl fmt::Debug for SystemIndicators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemIndicators")
            .field("cpu_threshold", &self.cpu_threshold)
            .field("memory_threshold", &self.memory_threshold)
            .field("disk_threshold", &self.disk_threshold)
            .field("sample_interval", &self.sample_interval)
            .field("disk_path", &self.disk_path)
            .field("gating", &self.gating)
            .finish_non_exhaustive()
    }
}

impl Default for SystemIndicators {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemIndicators {
    /// The metrics read with [`SysinfoSource`], with the configured thresholds.
    pub fn new() -> Self {
        SystemIndicators {
            sampler: Arc::new(Sampler::new()),
            cpu_threshold: None,
            memory_threshold: None,
            disk_threshold: None,
            sample_interval: None,
            disk_path: None,
            gating: Gating::default(),
            on_reading_error: Status::Warning,
        }
    }

    /// Reads from `source` instead of [`SysinfoSource`], e.g. fixed readings in a test.
    pub fn source(self, source: impl ResourceSource) -> Self {
        self.sampler.set_source(Box::new(source));
        self
    }

    /// The CPU threshold in percent (default: `PLUGIN_RESOURCE_CPU_THRESHOLD`, 80).
    pub fn cpu_threshold(mut self, percent: f64) -> Self {
        self.cpu_threshold = Some(percent);
        self
    }

    /// The memory threshold in percent (default: `PLUGIN_RESOURCE_MEMORY_THRESHOLD`, 85).
    pub fn memory_threshold(mut self, percent: f64) -> Self {
        self.memory_threshold = Some(percent);
        self
    }

    /// The disk threshold in percent (default: `PLUGIN_RESOURCE_DISK_THRESHOLD`, 90).
    pub fn disk_threshold(mut self, percent: f64) -> Self {
        self.disk_threshold = Some(percent);
        self
    }

    /// How often the background task samples (default: `PLUGIN_RESOURCE_SAMPLE_INTERVAL`, 5 s).
    /// The checks are re-run as often, so the published state follows the samples.
    pub fn sample_interval(mut self, interval: Duration) -> Self {
        self.sample_interval = Some(interval);
        self
    }

    /// A path on the filesystem whose usage `disk_usage` reports (default:
    /// `PLUGIN_RESOURCE_DISK_PATH`, or the working directory). Ignored with a custom source.
    pub fn disk_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.disk_path = Some(path.into());
        self
    }

    super::super::gating_setters!();

    /// The status of a metric whose reading failed ([`ReadingError::Failed`]): `Warning` (the
    /// default) or `Critical`.
    pub fn on_reading_error(mut self, status: Status) -> Self {
        self.on_reading_error = status;
        self
    }

    /// A handle on the samples, to read them or wait for one.
    pub fn monitor(&self) -> ResourceMonitor {
        ResourceMonitor::new(self.sampler.clone())
    }

    /// The three checks, with the settings of `config` where none were set here; none when
    /// `config.resources.enabled` is off. [`HealthRuntimeBuilder::with_checks`] calls it; call
    /// it yourself to add the metrics to a running runtime with
    /// [`HealthRuntime::register`](crate::HealthRuntime::register).
    ///
    /// [`HealthRuntimeBuilder::with_checks`]: crate::HealthRuntimeBuilder::with_checks
    pub fn checks(self, config: &HealthConfig) -> Vec<Check> {
        if !config.resources.enabled {
            return Vec::new();
        }
        let interval = self
            .sample_interval
            .unwrap_or(config.resources.sample_interval);
        self.sampler.set_interval(interval);
        self.sampler.default_source(|| {
            let path = self
                .disk_path
                .clone()
                .or_else(|| config.resources.disk_path.clone())
                .unwrap_or_else(|| PathBuf::from("."));
            Box::new(SysinfoSource::new(path))
        });
        let resources = &config.resources;
        [
            (Resource::Cpu, self.cpu_threshold, resources.cpu_threshold),
            (
                Resource::Memory,
                self.memory_threshold,
                resources.memory_threshold,
            ),
            (
                Resource::Disk,
                self.disk_threshold,
                resources.disk_threshold,
            ),
        ]
        .into_iter()
        .map(|(resource, set, configured)| {
            let check = self.check(resource, set.unwrap_or(configured));
            self.gating.apply(check.interval(interval))
        })
        .collect()
    }

    /// The check of one resource, reading the latest sample.
    fn check(&self, resource: Resource, threshold: f64) -> Check {
        let sampler = self.sampler.clone();
        let on_error = self.on_reading_error;
        Check::new(resource.name(), move || {
            sampler.ensure_started();
            let latest = sampler.latest();
            let outcome = grade(
                resource,
                latest.as_deref(),
                threshold,
                on_error,
                sampler.interval(),
            );
            std::future::ready(outcome)
        })
    }
}

impl crate::CheckSource for SystemIndicators {
    fn checks(self, config: &HealthConfig) -> Vec<Check> {
        SystemIndicators::checks(self, config)
    }
}

#[derive(Debug, Clone, Copy)]
enum Resource {
    Cpu,
    Memory,
    Disk,
}

impl Resource {
    fn name(self) -> &'static str {
        SYSTEM_CHECK_NAMES[self as usize]
    }

    fn label(self) -> &'static str {
        match self {
            Resource::Cpu => "CPU usage",
            Resource::Memory => "memory usage",
            Resource::Disk => "disk usage",
        }
    }

    fn read(self, reading: &ResourceReading) -> &Result<f64, ReadingError> {
        match self {
            Resource::Cpu => &reading.cpu,
            Resource::Memory => &reading.memory,
            Resource::Disk => &reading.disk,
        }
    }
}

fn grade(
    resource: Resource,
    sample: Option<&ResourceSample>,
    threshold: f64,
    on_error: Status,
    interval: Duration,
) -> CheckOutcome {
    let label = resource.label();
    let Some(sample) = sample else {
        return CheckOutcome::healthy()
            .with_threshold(threshold)
            .with_message(format!("{label}: waiting for the first sample"));
    };
    let stale_after = interval * 3 + Duration::from_secs(5);
    let outcome = match resource.read(&sample.reading) {
        Ok(value) => {
            let outcome = CheckOutcome::by_threshold(*value, threshold);
            let level = match outcome.status() {
                Status::Critical => format!("above the threshold of {threshold} %"),
                Status::Warning => format!("above 80 % of the threshold of {threshold} %"),
                _ => format!("threshold {threshold} %"),
            };
            outcome.with_message(format!("{label} {value:.1} % ({level})"))
        }
        Err(ReadingError::Pending(why)) => CheckOutcome::healthy()
            .with_threshold(threshold)
            .with_message(format!("{label}: no reading yet ({why})")),
        Err(ReadingError::Failed(why)) => CheckOutcome::new(on_error)
            .with_threshold(threshold)
            .with_message(format!("cannot read {label}: {why}")),
    };
    let age = sample.age();
    if age > stale_after && outcome.status() == Status::Healthy {
        let age = humantime::format_duration(Duration::from_secs(age.as_secs()));
        return CheckOutcome::new(Status::Warning)
            .with_threshold(threshold)
            .with_message(format!(
                "{label}: the last sample is {age} old; the resource source may be stuck"
            ));
    }
    outcome
}
