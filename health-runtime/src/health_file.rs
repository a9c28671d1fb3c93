//! The health file for exec probes (DESIGN §11): `{status, timestamp, uptime, healthy}` as JSON,
//! with each probe group's verdict and whether the process is draining, replaced atomically.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tokio::time::MissedTickBehavior;

use crate::probe::Probe;
use crate::{Check, HealthRuntime, Status};

/// The name of the check that reports whether the health file can be written.
pub const HEALTH_FILE_CHECK: &str = "health_file";

/// The content of the health file: the overall verdict and, for exec probes that should follow
/// one probe group (`health-probe file --group liveness`), each group's.
///
/// ```json
/// {"status": "healthy", "timestamp": "2026-11-25T16:03:26.123Z", "uptime": 42.5, "healthy": true,
///  "groups": {"liveness": true, "readiness": true, "startup": true}, "draining": false}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthFile {
    /// The overall status.
    pub status: Status,
    /// When the file was written.
    #[serde(with = "crate::timefmt")]
    pub timestamp: SystemTime,
    /// Seconds since the health runtime started.
    pub uptime: f64,
    /// Whether the process serves: `true` for healthy and warning, `false` otherwise and while
    /// shutting down. Informational checks (the system and request indicators, by default) do
    /// not count.
    pub healthy: bool,
    /// Whether each probe group serves, as gRPC's `Check` of its name answers (all `false` when
    /// read from a file written before the field existed).
    #[serde(default)]
    pub groups: GroupVerdicts,
    /// Whether the process is shutting down (every verdict is then `false`).
    #[serde(default)]
    pub draining: bool,
}

/// Whether each probe group serves: `true` when `Check` of its name answers `SERVING`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVerdicts {
    /// `liveness`.
    pub liveness: bool,
    /// `readiness`.
    pub readiness: bool,
    /// `startup`.
    pub startup: bool,
}

impl GroupVerdicts {
    /// The verdict of `group`.
    pub fn of(&self, group: crate::Group) -> bool {
        match group {
            crate::Group::Liveness => self.liveness,
            crate::Group::Readiness => self.readiness,
            crate::Group::Startup => self.startup,
        }
    }
}

impl HealthRuntime {
    /// The health file's content now.
    pub fn health_file(&self) -> HealthFile {
        let snapshot = self.snapshot();
        HealthFile {
            status: snapshot.overall(),
            timestamp: SystemTime::now(),
            uptime: self.uptime().as_secs_f64(),
            healthy: Probe::of(&snapshot, "") == Some(Probe::Serving),
            groups: GroupVerdicts {
                liveness: Probe::of(&snapshot, "liveness") == Some(Probe::Serving),
                readiness: Probe::of(&snapshot, "readiness") == Some(Probe::Serving),
                startup: Probe::of(&snapshot, "startup") == Some(Probe::Serving),
            },
            draining: snapshot.is_draining(),
        }
    }

    /// Writes the health file to `path` once: to a temporary file in the same directory, then
    /// renamed over `path`, so that a reader sees the old file or the new one, never half of one.
    pub async fn write_health_file(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec(&self.health_file()).map_err(std::io::Error::other)?;
        let name = path
            .file_name()
            .ok_or_else(|| std::io::Error::other("the path names no file"))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = path.with_file_name(temp_name);
        tokio::fs::write(&temp, json).await?;
        if let Err(error) = tokio::fs::rename(&temp, path).await {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(error);
        }
        Ok(())
    }

    /// Keeps the health file at `path` up to date until `stop` resolves: written now, on every
    /// status change and every check interval. A path that cannot be written is logged when the
    /// problem starts and when it ends, and shows as the warning check `health_file`; it never
    /// stops the process.
    pub async fn keep_health_file(&self, path: PathBuf, stop: impl Future<Output = ()>) {
        let problem: Arc<Mutex<Option<String>>> = Arc::default();
        let reported = problem.clone();
        let check = Check::new(HEALTH_FILE_CHECK, move || {
            let problem = reported
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            std::future::ready(problem.map_or(Ok(()), Err))
        })
        .on_error(Status::Warning)
        .groups([]);
        match self.register(check) {
            // A first result at once, so that the new check does not hold the overall status
            // at unknown.
            Ok(()) => drop(self.recheck(HEALTH_FILE_CHECK).await),
            Err(error) => tracing::warn!(%error, "the health file's own check is not registered"),
        }

        let mut updates = self.subscribe();
        let mut ticks = tokio::time::interval(self.config().checks.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            let outcome = self.write_health_file(&path).await;
            let now = outcome
                .as_ref()
                .err()
                .map(|error| format!("cannot write the health file {}: {error}", path.display()));
            let changed = {
                let mut slot = problem.lock().unwrap_or_else(PoisonError::into_inner);
                let changed = *slot != now;
                if changed {
                    match &now {
                        Some(message) => tracing::warn!(path = %path.display(), "{message}"),
                        None => tracing::info!(path = %path.display(), "health file written again"),
                    }
                    *slot = now;
                }
                changed
            };
            if changed {
                let _ = self.recheck(HEALTH_FILE_CHECK).await;
            }
            tokio::select! {
                _ = ticks.tick() => {}
                changed = updates.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                () = &mut stop => {
                    // The last word: not serving while the process stops.
                    let _ = self.write_health_file(&path).await;
                    break;
                }
            }
        }
        self.deregister(HEALTH_FILE_CHECK);
    }
}
