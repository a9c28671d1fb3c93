//! System resources: `cpu_usage`, `memory_usage` and `disk_usage`, sampled in the background.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::time::Instant;

use crate::{Check, CheckOutcome, Group, HealthConfig, Status};

/// Why a resource could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// No value yet, and none is wrong: CPU usage needs two samples some time apart. The metric
    /// shows healthy with this message and no value.
    #[error("no reading yet: {0}")]
    Pending(String),
    /// The probe failed; the metric shows the configured failure status with this message.
    #[error("{0}")]
    Failed(String),
}

impl ProbeError {
    /// A failed probe with a message.
    pub fn failed(message: impl Into<String>) -> Self {
        ProbeError::Failed(message.into())
    }
}

/// One reading of the machine's resources, each in percent (0–100).
///
/// ```
/// use health_runtime::indicator::ResourceReading;
///
/// let reading = ResourceReading::new(12.5, 40.0, 71.2);
/// assert_eq!(reading.cpu, Ok(12.5));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceReading {
    /// CPU usage over every core since the previous sample.
    pub cpu: Result<f64, ProbeError>,
    /// Memory in use.
    pub memory: Result<f64, ProbeError>,
    /// Space used on the filesystem holding the disk path.
    pub disk: Result<f64, ProbeError>,
}

impl ResourceReading {
    /// A reading where every probe succeeded.
    pub fn new(cpu: f64, memory: f64, disk: f64) -> Self {
        ResourceReading {
            cpu: Ok(cpu),
            memory: Ok(memory),
            disk: Ok(disk),
        }
    }
}

/// Where resource readings come from: [`SysinfoSource`] in production, anything in tests.
///
/// `sample` runs on the blocking thread pool of the background sampler, never on a request's
/// path, so it may block (reading a slow filesystem, waiting between two CPU samples). A panic
/// shows as a failed reading of every resource. Closures `FnMut() -> ResourceReading` are
/// sources too:
///
/// ```
/// use health_runtime::indicator::{ResourceReading, SystemMetrics};
///
/// let metrics = SystemMetrics::new().source(|| ResourceReading::new(10.0, 20.0, 30.0));
/// # drop(metrics);
/// ```
pub trait ResourceSource: Send + 'static {
    /// Reads every resource now.
    fn sample(&mut self) -> ResourceReading;
}

impl<F: FnMut() -> ResourceReading + Send + 'static> ResourceSource for F {
    fn sample(&mut self) -> ResourceReading {
        self()
    }
}

/// The real source: CPU, memory and disk usage from the `sysinfo` crate.
///
/// CPU usage is measured between two samples; the first sample therefore has no CPU value
/// ([`ProbeError::Pending`]) and the sampler takes the second one shortly after.
pub struct SysinfoSource {
    system: Option<sysinfo::System>,
    disks: Option<sysinfo::Disks>,
    disk_path: PathBuf,
    cpu_refreshed: Option<std::time::Instant>,
}

impl fmt::Debug for SysinfoSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SysinfoSource")
            .field("disk_path", &self.disk_path)
            .finish_non_exhaustive()
    }
}

impl SysinfoSource {
    /// A source reporting the usage of the filesystem that holds `disk_path`.
    pub fn new(disk_path: impl Into<PathBuf>) -> Self {
        SysinfoSource {
            system: sysinfo::IS_SUPPORTED_SYSTEM.then(sysinfo::System::new),
            disks: None,
            disk_path: disk_path.into(),
            cpu_refreshed: None,
        }
    }

    fn cpu(&mut self) -> Result<f64, ProbeError> {
        let system = self
            .system
            .as_mut()
            .ok_or_else(|| ProbeError::failed("sysinfo is not supported on this system"))?;
        system.refresh_cpu_usage();
        let previous = self.cpu_refreshed.replace(std::time::Instant::now());
        match previous {
            Some(at) if at.elapsed() >= sysinfo::MINIMUM_CPU_UPDATE_INTERVAL => {
                Ok(f64::from(system.global_cpu_usage()).clamp(0.0, 100.0))
            }
            _ => Err(ProbeError::Pending(
                "CPU usage needs a second sample".to_owned(),
            )),
        }
    }

    fn memory(&mut self) -> Result<f64, ProbeError> {
        let system = self
            .system
            .as_mut()
            .ok_or_else(|| ProbeError::failed("sysinfo is not supported on this system"))?;
        system.refresh_memory();
        let total = system.total_memory();
        if total == 0 {
            return Err(ProbeError::failed("the total memory reads as zero"));
        }
        Ok(percent(system.used_memory(), total))
    }

    fn disk(&mut self) -> Result<f64, ProbeError> {
        let path = std::fs::canonicalize(&self.disk_path).map_err(|error| {
            ProbeError::failed(format!(
                "cannot resolve {}: {error}",
                self.disk_path.display()
            ))
        })?;
        let disks = match &mut self.disks {
            Some(disks) => {
                disks.refresh(true);
                disks
            }
            None => self.disks.insert(sysinfo::Disks::new_with_refreshed_list()),
        };
        // The filesystem holding the path is the one with the longest mount point above it.
        let disk = disks
            .iter()
            .filter(|disk| path.starts_with(disk.mount_point()))
            .max_by_key(|disk| disk.mount_point().components().count())
            .ok_or_else(|| {
                ProbeError::failed(format!("no mounted filesystem holds {}", path.display()))
            })?;
        let total = disk.total_space();
        if total == 0 {
            return Err(ProbeError::failed(format!(
                "the filesystem at {} reports a size of zero",
                disk.mount_point().display()
            )));
        }
        Ok(percent(total.saturating_sub(disk.available_space()), total))
    }
}

#[allow(clippy::cast_precision_loss)]
fn percent(part: u64, whole: u64) -> f64 {
    (part as f64 / whole as f64 * 100.0).clamp(0.0, 100.0)
}

impl ResourceSource for SysinfoSource {
    fn sample(&mut self) -> ResourceReading {
        ResourceReading {
            cpu: self.cpu(),
            memory: self.memory(),
            disk: self.disk(),
        }
    }
}

/// A reading and when it was taken.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSample {
    /// What was read.
    pub reading: ResourceReading,
    /// When.
    pub taken_at: SystemTime,
    taken: Instant,
}

impl ResourceSample {
    /// How long ago the sample was taken.
    pub fn age(&self) -> Duration {
        self.taken.elapsed()
    }
}

/// The state shared by the sampler task and the three checks.
struct Sampler {
    latest: watch::Sender<Option<Arc<ResourceSample>>>,
    source: Mutex<Option<Box<dyn ResourceSource>>>,
    interval: Mutex<Duration>,
    started: AtomicBool,
}

impl Sampler {
    fn interval(&self) -> Duration {
        *self.interval.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the sampler task on the current Tokio runtime, once.
    fn ensure_started(self: &Arc<Self>) {
        if self.started.load(Ordering::Acquire) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(source) = self
            .source
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        handle.spawn(sample_loop(Arc::downgrade(self), source));
    }
}

/// Samples every interval, on the blocking pool, until the checks are gone.
async fn sample_loop(sampler: Weak<Sampler>, mut source: Box<dyn ResourceSource>) {
    loop {
        let sampled = tokio::task::spawn_blocking(move || {
            let reading = std::panic::catch_unwind(AssertUnwindSafe(|| source.sample()));
            (source, reading)
        })
        .await;
        let Ok((returned, reading)) = sampled else {
            // The blocking pool is shutting down with the runtime.
            return;
        };
        source = returned;
        let reading = reading.unwrap_or_else(|panic| {
            let message = crate::engine::panic_message(panic.as_ref());
            tracing::warn!(message, "the resource probe panicked");
            let failed = Err(ProbeError::failed(format!(
                "the resource probe panicked: {message}"
            )));
            ResourceReading {
                cpu: failed.clone(),
                memory: failed.clone(),
                disk: failed,
            }
        });
        let Some(shared) = sampler.upgrade() else {
            return;
        };
        let pending = [&reading.cpu, &reading.memory, &reading.disk]
            .iter()
            .any(|value| matches!(value, Err(ProbeError::Pending(_))));
        shared.latest.send_replace(Some(Arc::new(ResourceSample {
            reading,
            taken_at: SystemTime::now(),
            taken: Instant::now(),
        })));
        let mut delay = shared.interval();
        if pending {
            // CPU usage needs a second sample; take it soon rather than an interval later.
            delay = delay.min(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL + Duration::from_millis(50));
        }
        drop(shared);
        tokio::time::sleep(delay).await;
    }
}

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
/// 85, 90); the setters here win. A probe that fails shows `Warning` (see
/// [`on_probe_error`](Self::on_probe_error)) with the error; before the first sample, and while
/// CPU usage waits for its second sample, a metric shows `Healthy` with no value and says so.
/// A sample older than three intervals (a probe stuck on a dead filesystem) shows as a warning.
///
/// The checks describe the machine, not this process, so by default they only inform: they show
/// with their grades in the report, the metrics and the published state, and answer under their
/// own names, but no probe group, `""`, `plugin`, `/health` or health file turns not serving
/// because of them. Opt them in with [`groups`](Self::groups), [`service`](Self::service) or
/// [`informational(false)`](Self::informational).
/// `PLUGIN_RESOURCE_METRICS=false` leaves them out.
///
/// ```
/// use health_runtime::HealthRuntime;
/// use health_runtime::indicator::SystemMetrics;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let runtime = HealthRuntime::builder()
///     .with_checks(SystemMetrics::new().cpu_threshold(90.0))
///     .build()?;
/// runtime.start();
/// let report = runtime.report().await; // never waits for a sample
/// assert!(report.metrics.contains_key("cpu_usage"));
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct SystemMetrics {
    sampler: Arc<Sampler>,
    cpu_threshold: Option<f64>,
    memory_threshold: Option<f64>,
    disk_threshold: Option<f64>,
    sample_interval: Option<Duration>,
    disk_path: Option<PathBuf>,
    gating: super::Gating,
    on_probe_error: Status,
}

impl fmt::Debug for SystemMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemMetrics")
            .field("cpu_threshold", &self.cpu_threshold)
            .field("memory_threshold", &self.memory_threshold)
            .field("disk_threshold", &self.disk_threshold)
            .field("sample_interval", &self.sample_interval)
            .field("disk_path", &self.disk_path)
            .field("gating", &self.gating)
            .finish_non_exhaustive()
    }
}

impl Default for SystemMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The names of the three system checks.
pub const SYSTEM_METRIC_NAMES: [&str; 3] = ["cpu_usage", "memory_usage", "disk_usage"];

impl SystemMetrics {
    /// The metrics read with [`SysinfoSource`], with the configured thresholds.
    pub fn new() -> Self {
        SystemMetrics {
            sampler: Arc::new(Sampler {
                latest: watch::Sender::new(None),
                source: Mutex::new(None),
                interval: Mutex::new(Duration::from_secs(5)),
                started: AtomicBool::new(false),
            }),
            cpu_threshold: None,
            memory_threshold: None,
            disk_threshold: None,
            sample_interval: None,
            disk_path: None,
            gating: super::Gating::default(),
            on_probe_error: Status::Warning,
        }
    }

    /// Reads from `source` instead of [`SysinfoSource`], e.g. fixed readings in a test.
    pub fn source(self, source: impl ResourceSource) -> Self {
        *self
            .sampler
            .source
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Box::new(source));
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

    /// The probe groups the three checks gate (default: none).
    pub fn groups(mut self, groups: impl IntoIterator<Item = Group>) -> Self {
        self.gating.groups = groups.into_iter().collect();
        self
    }

    /// A gRPC health service name the three checks count toward (default: none).
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.gating.service = Some(service.into());
        self
    }

    /// Whether the three checks only inform (default: `true`): they never turn `""`, `plugin`,
    /// `/health` or the health file's verdict to not serving. `false` makes them count toward
    /// the overall status like declared checks. See [`Check::informational`].
    pub fn informational(mut self, informational: bool) -> Self {
        self.gating.informational = informational;
        self
    }

    /// The status of a metric whose probe failed: `Warning` (the default) or `Critical`.
    pub fn on_probe_error(mut self, status: Status) -> Self {
        self.on_probe_error = status;
        self
    }

    /// A handle on the samples, to read them or wait for one.
    pub fn monitor(&self) -> ResourceMonitor {
        ResourceMonitor {
            sampler: self.sampler.clone(),
        }
    }

    /// The three checks, with the settings of `config` where none were set here; none when
    /// `config.resources.enabled` is off. [`HealthRuntimeBuilder::system_metrics`] calls it; call
    /// it yourself to add the metrics to a running runtime with
    /// [`HealthRuntime::register`](crate::HealthRuntime::register).
    ///
    /// [`HealthRuntimeBuilder::system_metrics`]: crate::HealthRuntimeBuilder::system_metrics
    pub fn checks(self, config: &HealthConfig) -> Vec<Check> {
        if !config.resources.enabled {
            return Vec::new();
        }
        let interval = self
            .sample_interval
            .unwrap_or(config.resources.sample_interval);
        *self
            .sampler
            .interval
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = interval;
        {
            let mut source = self
                .sampler
                .source
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if source.is_none() && !self.sampler.started.load(Ordering::Acquire) {
                let path = self
                    .disk_path
                    .clone()
                    .or_else(|| config.resources.disk_path.clone())
                    .unwrap_or_else(|| PathBuf::from("."));
                *source = Some(Box::new(SysinfoSource::new(path)));
            }
        }
        let metrics = [
            (
                Resource::Cpu,
                self.cpu_threshold.unwrap_or(config.resources.cpu_threshold),
            ),
            (
                Resource::Memory,
                self.memory_threshold
                    .unwrap_or(config.resources.memory_threshold),
            ),
            (
                Resource::Disk,
                self.disk_threshold
                    .unwrap_or(config.resources.disk_threshold),
            ),
        ];
        metrics
            .into_iter()
            .map(|(resource, threshold)| {
                let sampler = self.sampler.clone();
                let on_error = self.on_probe_error;
                let check = Check::new(resource.name(), move || {
                    sampler.ensure_started();
                    let latest = sampler.latest.borrow().clone();
                    let outcome = grade(
                        resource,
                        latest.as_deref(),
                        threshold,
                        on_error,
                        sampler.interval(),
                    );
                    std::future::ready(outcome)
                })
                .interval(interval);
                self.gating.apply(check)
            })
            .collect()
    }
}

/// A handle on the samples of a [`SystemMetrics`].
#[derive(Clone)]
pub struct ResourceMonitor {
    sampler: Arc<Sampler>,
}

impl fmt::Debug for ResourceMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceMonitor")
            .field("latest", &self.latest())
            .finish()
    }
}

impl ResourceMonitor {
    /// The latest sample, if one was taken.
    pub fn latest(&self) -> Option<Arc<ResourceSample>> {
        self.sampler.latest.borrow().clone()
    }

    /// Waits until a sample with no pending reading has been taken (the sampler must be
    /// running: see [`HealthRuntime::start`](crate::HealthRuntime::start)).
    pub async fn settled(&self) -> Arc<ResourceSample> {
        let mut receiver = self.sampler.latest.subscribe();
        loop {
            if let Some(sample) = receiver.borrow_and_update().clone() {
                let reading = &sample.reading;
                let pending = [&reading.cpu, &reading.memory, &reading.disk]
                    .iter()
                    .any(|value| matches!(value, Err(ProbeError::Pending(_))));
                if !pending {
                    return sample;
                }
            }
            if receiver.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
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
        SYSTEM_METRIC_NAMES[self as usize]
    }

    fn label(self) -> &'static str {
        match self {
            Resource::Cpu => "CPU usage",
            Resource::Memory => "memory usage",
            Resource::Disk => "disk usage",
        }
    }

    fn read(self, reading: &ResourceReading) -> &Result<f64, ProbeError> {
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
        Err(ProbeError::Pending(why)) => CheckOutcome::healthy()
            .with_threshold(threshold)
            .with_message(format!("{label}: no reading yet ({why})")),
        Err(ProbeError::Failed(why)) => CheckOutcome::new(on_error)
            .with_threshold(threshold)
            .with_message(format!("cannot read {label}: {why}")),
    };
    let age = sample.age();
    if age > stale_after && outcome.status() == Status::Healthy {
        let age = humantime::format_duration(Duration::from_secs(age.as_secs()));
        return CheckOutcome::new(Status::Warning)
            .with_threshold(threshold)
            .with_message(format!(
                "{label}: the last sample is {age} old; the resource probe may be stuck"
            ));
    }
    outcome
}
