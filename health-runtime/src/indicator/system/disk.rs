//! Disk space: how full the filesystem holding a path is, read for `disk_usage` and for
//! [`DiskSpace`], a disk indicator of its own for any path.

use std::path::{Path, PathBuf};

use super::reading::ReadingError;
use crate::indicator::HealthIndicator;
use crate::{Check, CheckError, CheckOutcome, IntoCheckOutcome as _};

/// `part` as a percentage of `whole`, within 0–100.
#[allow(clippy::cast_precision_loss)]
pub(super) fn percent(part: u64, whole: u64) -> f64 {
    (part as f64 / whole as f64 * 100.0).clamp(0.0, 100.0)
}

/// `path` made absolute, with every symbolic link resolved.
pub(super) fn resolve(path: &Path) -> Result<PathBuf, ReadingError> {
    std::fs::canonicalize(path).map_err(|error| {
        ReadingError::failed(format!("cannot resolve {}: {error}", path.display()))
    })
}

/// A mounted filesystem and its space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Filesystem {
    pub(super) mount_point: PathBuf,
    /// Its size, in bytes.
    pub(super) total: u64,
    /// The bytes available to this process.
    pub(super) available: u64,
}

impl Filesystem {
    /// The filesystem of `disks` holding `path` (absolute, resolved): the one with the longest
    /// mount point above it.
    pub(super) fn holding(disks: &sysinfo::Disks, path: &Path) -> Result<Self, ReadingError> {
        let disk = disks
            .iter()
            .filter(|disk| path.starts_with(disk.mount_point()))
            .max_by_key(|disk| disk.mount_point().components().count())
            .ok_or_else(|| {
                ReadingError::failed(format!("no mounted filesystem holds {}", path.display()))
            })?;
        let total = disk.total_space();
        if total == 0 {
            return Err(ReadingError::failed(format!(
                "the filesystem at {} reports a size of zero",
                disk.mount_point().display()
            )));
        }
        Ok(Filesystem {
            mount_point: disk.mount_point().to_owned(),
            total,
            available: disk.available_space(),
        })
    }

    /// The space used, in percent of the size: all that is not available.
    pub(super) fn used_percent(&self) -> f64 {
        percent(self.total.saturating_sub(self.available), self.total)
    }
}

/// How full the filesystem holding a path is: a disk indicator for a directory of your own
/// (a data directory, a cache, a spool), beside the machine-wide `disk_usage` of
/// [`SystemIndicators`](crate::indicator::SystemIndicators).
///
/// Each check reads the filesystem's space on the blocking pool (the same reading as
/// `disk_usage`) and grades the percentage used against the threshold like `disk_usage` does
/// ([`CheckOutcome::by_threshold`]): `Warning` above 80 % of the threshold, `Critical` above
/// it. The value is the percentage used; the message names the mount point and the space
/// free, e.g. `71.2 % of /var used, 12.4 GiB free`. A path that does not resolve, or that no
/// mounted filesystem holds, is a failure with the reason.
///
/// ```
/// use health_runtime::HealthIndicator;
/// use health_runtime::indicator::DiskSpace;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let data = DiskSpace::new(std::env::temp_dir()).threshold(95.0);
/// let outcome = data.check().await?;
/// assert!((0.0..=100.0).contains(&outcome.value().unwrap()));
/// assert_eq!(outcome.threshold(), Some(95.0));
///
/// // Or as a check of its own.
/// let runtime = health_runtime::HealthRuntime::builder()
///     .with_check(DiskSpace::new(std::env::temp_dir()).into_check("data_disk"))
///     .build()?;
/// # drop(runtime);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct DiskSpace {
    path: PathBuf,
    threshold: f64,
}

impl DiskSpace {
    /// The filesystem holding `path`, with the default threshold of `disk_usage`
    /// ([`ResourceSettings::disk_threshold`](crate::config::ResourceSettings::disk_threshold), 90 %).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DiskSpace {
            path: path.into(),
            threshold: crate::config::ResourceSettings::default().disk_threshold,
        }
    }

    /// The percentage used above which the check is critical (warning above 80 % of it).
    pub fn threshold(mut self, percent: f64) -> Self {
        self.threshold = percent;
        self
    }

    /// The path whose filesystem is checked.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the filesystem's space now, on the current thread (it may block on a slow
    /// filesystem), and grades it.
    pub fn read(&self) -> Result<CheckOutcome, ReadingError> {
        let path = resolve(&self.path)?;
        let disks = sysinfo::Disks::new_with_refreshed_list();
        let filesystem = Filesystem::holding(&disks, &path)?;
        let used = filesystem.used_percent();
        #[allow(clippy::cast_precision_loss)]
        let free_gib = filesystem.available as f64 / f64::from(1 << 30);
        Ok(
            CheckOutcome::by_threshold(used, self.threshold).with_message(format!(
                "{used:.1} % of {} used, {free_gib:.1} GiB free",
                filesystem.mount_point.display()
            )),
        )
    }

    /// A check named `name` running [`read`](Self::read) on the blocking pool.
    #[track_caller]
    pub fn into_check(self, name: impl Into<String>) -> Check {
        Check::blocking(name, move || self.read())
    }
}

impl HealthIndicator for DiskSpace {
    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.read())
            .await
            .map_err(|error| CheckError::new(format!("the disk reading failed: {error}")))?
            .into_check_outcome()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    #[test]
    fn a_directory_is_graded_against_the_threshold() {
        let dir = std::env::temp_dir();
        let outcome = DiskSpace::new(&dir).read().unwrap();
        let used = outcome.value().unwrap();
        assert!((0.0..=100.0).contains(&used), "{used}");
        assert_eq!(outcome.threshold(), Some(90.0));
        let message = outcome.message().unwrap();
        assert!(
            message.contains(" used, ") && message.ends_with(" GiB free"),
            "{message}"
        );
        // Below any usage: critical; above all of it: healthy.
        let full = DiskSpace::new(&dir).threshold(-1.0).read().unwrap();
        assert_eq!(full.status(), Status::Critical);
        let roomy = DiskSpace::new(&dir).threshold(1000.0).read().unwrap();
        assert_eq!(roomy.status(), Status::Healthy);
    }

    #[tokio::test]
    async fn a_missing_path_is_a_failure_naming_it() {
        let missing = std::env::temp_dir().join("health-runtime-no-such-dir/inner");
        let error = DiskSpace::new(&missing).check().await.unwrap_err();
        assert!(
            error
                .message()
                .starts_with(&format!("cannot resolve {}: ", missing.display())),
            "{error}"
        );
    }
}
