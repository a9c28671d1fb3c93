//! Helpers shared by the example services: measurements their health checks report.

use std::path::Path;

use health_runtime::CheckOutcome;
use sysinfo::Disks;

/// How full the filesystem holding `dir` is, graded against `limit_percent`: Warning above
/// 80 % of the limit, Critical above it.
pub fn disk_usage(dir: &Path, limit_percent: f64) -> Result<CheckOutcome, String> {
    let dir = dir
        .canonicalize()
        .map_err(|error| format!("{}: {error}", dir.display()))?;
    let disks = Disks::new_with_refreshed_list();
    let disk = disks
        .iter()
        .filter(|disk| dir.starts_with(disk.mount_point()))
        .max_by_key(|disk| disk.mount_point().as_os_str().len())
        .ok_or_else(|| format!("no mounted filesystem holds {}", dir.display()))?;
    let (total, free) = (disk.total_space(), disk.available_space());
    if total == 0 {
        return Err(format!(
            "{} reports a size of zero",
            disk.mount_point().display()
        ));
    }
    let used = 100.0 * (1.0 - free as f64 / total as f64);
    Ok(
        CheckOutcome::by_threshold(used, limit_percent).with_message(format!(
            "{used:.1} % of {} used, {:.1} GiB free",
            disk.mount_point().display(),
            free as f64 / f64::from(1 << 30)
        )),
    )
}
