//! System resources: `cpu_usage`, `memory_usage` and `disk_usage`, sampled in the background,
//! and [`DiskSpace`] for the filesystem of one path.
//!
//! - `reading`: what a sample holds ([`ResourceReading`], [`ResourceSample`]) and why a
//!   resource could not be read ([`ReadingError`]);
//! - `source`: where readings come from ([`ResourceSource`], [`SysinfoSource`]);
//! - `disk`: the filesystem holding a path, shared by `disk_usage` and [`DiskSpace`];
//! - `monitor`: the background sampling and [`ResourceMonitor`];
//! - `metrics`: [`SystemIndicators`], the three checks and their grading.

mod disk;
mod indicators;
mod monitor;
mod reading;
mod source;

pub use disk::DiskSpace;
pub use indicators::{SYSTEM_CHECK_NAMES, SystemIndicators};
pub use monitor::ResourceMonitor;
pub use reading::{ReadingError, ResourceReading, ResourceSample};
pub use source::{ResourceSource, SysinfoSource};
