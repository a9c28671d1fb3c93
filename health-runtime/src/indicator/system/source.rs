//! Where resource readings come from: the [`ResourceSource`] trait and the real source,
//! [`SysinfoSource`].

use std::fmt;
use std::path::PathBuf;

use super::disk;
use super::reading::{ReadingError, ResourceReading};

/// Where resource readings come from: [`SysinfoSource`] in production, anything in tests.
///
/// `sample` runs on the blocking thread pool of the background sampler, never on a request's
/// path, so it may block (reading a slow filesystem, waiting between two CPU samples). A panic
/// shows as a failed reading of every resource. Closures `FnMut() -> ResourceReading` are
/// sources too:
///
/// ```
/// use health_runtime::indicator::{ResourceReading, SystemIndicators};
///
/// let metrics = SystemIndicators::new().source(|| ResourceReading::new(10.0, 20.0, 30.0));
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
/// ([`ReadingError::Pending`]) and the sampler takes the second one shortly after.
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

    fn system(&mut self) -> Result<&mut sysinfo::System, ReadingError> {
        self.system
            .as_mut()
            .ok_or_else(|| ReadingError::failed("sysinfo is not supported on this system"))
    }

    fn cpu(&mut self) -> Result<f64, ReadingError> {
        self.system()?.refresh_cpu_usage();
        let previous = self.cpu_refreshed.replace(std::time::Instant::now());
        match previous {
            Some(at) if at.elapsed() >= sysinfo::MINIMUM_CPU_UPDATE_INTERVAL => {
                Ok(f64::from(self.system()?.global_cpu_usage()).clamp(0.0, 100.0))
            }
            _ => Err(ReadingError::Pending(
                "CPU usage needs a second sample".to_owned(),
            )),
        }
    }

    fn memory(&mut self) -> Result<f64, ReadingError> {
        let system = self.system()?;
        system.refresh_memory();
        let total = system.total_memory();
        if total == 0 {
            return Err(ReadingError::failed("the total memory reads as zero"));
        }
        Ok(disk::percent(system.used_memory(), total))
    }

    fn disk(&mut self) -> Result<f64, ReadingError> {
        let path = disk::resolve(&self.disk_path)?;
        let disks = match &mut self.disks {
            Some(disks) => {
                disks.refresh(true);
                disks
            }
            None => self.disks.insert(sysinfo::Disks::new_with_refreshed_list()),
        };
        Ok(disk::Filesystem::holding(disks, &path)?.used_percent())
    }
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
