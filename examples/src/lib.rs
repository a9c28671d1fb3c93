//! Helpers shared by the example services: measurements their health checks report.

use std::path::Path;

use health_runtime::{CheckOutcome, ConfigError, HealthConfig};
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

/// Logs to stderr at `RUST_LOG`'s levels (default `info`), so that stdout carries only the
/// go-plugin handshake.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// The configuration from `PLUGIN_*` variables, with Prometheus metrics on unless
/// `PLUGIN_ENABLE_PROMETHEUS` says otherwise: the examples show every surface.
pub fn config_from_env() -> Result<HealthConfig, ConfigError> {
    let mut config = HealthConfig::from_env()?;
    if std::env::var_os("PLUGIN_ENABLE_PROMETHEUS").is_none() {
        config.enable_prometheus = true;
    }
    Ok(config)
}
