//! What one sample of the machine's resources holds, and why a resource could not be read.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// Why a resource could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadingError {
    /// No value yet, and none is wrong: CPU usage needs two samples some time apart. The metric
    /// shows healthy with this message and no value.
    #[error("no reading yet: {0}")]
    Pending(String),
    /// The reading failed; the metric shows the configured failure status with this message.
    #[error("{0}")]
    Failed(String),
}

impl ReadingError {
    /// A failed reading with a message.
    pub fn failed(message: impl Into<String>) -> Self {
        ReadingError::Failed(message.into())
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
    pub cpu: Result<f64, ReadingError>,
    /// Memory in use.
    pub memory: Result<f64, ReadingError>,
    /// Space used on the filesystem holding the disk path.
    pub disk: Result<f64, ReadingError>,
}

impl ResourceReading {
    /// A reading where every resource was read.
    pub fn new(cpu: f64, memory: f64, disk: f64) -> Self {
        ResourceReading {
            cpu: Ok(cpu),
            memory: Ok(memory),
            disk: Ok(disk),
        }
    }

    /// The same failure for every resource.
    pub(super) fn failed(message: String) -> Self {
        let failed = Err(ReadingError::Failed(message));
        ResourceReading {
            cpu: failed.clone(),
            memory: failed.clone(),
            disk: failed,
        }
    }

    /// Whether a resource has no value yet ([`ReadingError::Pending`]).
    pub(super) fn is_pending(&self) -> bool {
        [&self.cpu, &self.memory, &self.disk]
            .iter()
            .any(|value| matches!(value, Err(ReadingError::Pending(_))))
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
    /// A sample of `reading`, taken now.
    pub(super) fn now(reading: ResourceReading) -> Self {
        ResourceSample {
            reading,
            taken_at: SystemTime::now(),
            taken: Instant::now(),
        }
    }

    /// How long ago the sample was taken.
    pub fn age(&self) -> Duration {
        self.taken.elapsed()
    }
}
