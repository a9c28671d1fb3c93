//! System resources: `cpu_usage`, `memory_usage` and `disk_usage`, sampled in the background,
//! and [`DiskSpace`] for the filesystem of one path.
//!
//! - `reading`: what a sample holds ([`ResourceReading`], [`ResourceSample`]) and why a
//!   resource could not be read ([`ReadingError`]);
//! - `source`: where readings come from ([`ResourceSource`], [`SysinfoSource`]);
//! - `disk`: the filesystem holding a path, shared by `disk_usage` and [`DiskSpace`];
//! - `monitor`: the background sampling and [`ResourceMonitor`];
//! - `metrics`: [`SystemMetrics`], the three checks and their grading.

mod disk;
mod metrics;
mod monitor;
mod reading;
mod source;

pub use disk::DiskSpace;
pub use metrics::{SYSTEM_METRIC_NAMES, SystemMetrics};
pub use monitor::ResourceMonitor;
pub use reading::{ReadingError, ResourceReading, ResourceSample};
pub use source::{ResourceSource, SysinfoSource};
