//! The health file for exec probes: `{status, timestamp, uptime, healthy}` as JSON, with each
//! probe group's verdict and whether the process is draining, replaced atomically. Read it with
//! `health-probe file`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tokio::time::MissedTickBehavior;

use crate::runtime::builder::Attach;
use crate::state::resolve::Verdict;
use crate::{Check, CheckOutcome, HealthConfig, HealthRuntime, Status};

/// The name of the check that reports whether the health file can be written. The builder
/// registers it whenever the configuration names a health file
/// ([`SurfaceSettings::health_file`](crate::config::SurfaceSettings::health_file)), so no other
/// check may take the name then; [`keep`] on a path the configuration does not name reports its
/// failures in the log only.
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
    #[serde(with = "crate::state::timefmt")]
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

/// The health file's content for `runtime` now.
pub fn content(runtime: &HealthRuntime) -> HealthFile {
    let snapshot = runtime.snapshot();
    let serving = |name| Verdict::of(&snapshot, name) == Some(Verdict::Serving);
    HealthFile {
        status: snapshot.overall(),
        timestamp: SystemTime::now(),
        uptime: runtime.uptime().as_secs_f64(),
        healthy: serving(""),
        groups: GroupVerdicts {
            liveness: serving("liveness"),
            readiness: serving("readiness"),
            startup: serving("startup"),
        },
        draining: snapshot.is_draining(),
    }
}

/// Writes `runtime`'s health file to `path` once: to a temporary file in the same directory,
/// then renamed over `path`, so that a reader sees the old file or the new one, never half of
/// one.
pub async fn write(runtime: &HealthRuntime, path: &Path) -> std::io::Result<()> {
    let json = serde_json::to_vec(&content(runtime)).map_err(std::io::Error::other)?;
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

/// Keeps `runtime`'s health file at `path` up to date until `stop` resolves: written now, on
/// every status change and every check interval, and a last time (not serving) when `stop`
/// resolves. A path that cannot be written is logged when the problem starts and when it ends,
/// and shows as the warning check [`HEALTH_FILE_CHECK`] (which the builder registers when the
/// configuration names a file); it never stops the process.
pub async fn keep(runtime: &HealthRuntime, path: PathBuf, stop: impl Future<Output = ()>) {
    let problem = runtime.extension::<WriteProblem>();
    let mut updates = runtime.subscribe();
    let mut ticks = tokio::time::interval(runtime.config().checks.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        let outcome = write(runtime, &path).await;
        let now = outcome
            .as_ref()
            .err()
            .map(|error| format!("cannot write the health file {}: {error}", path.display()));
        if problem.replace(now, &path) && runtime.cached(HEALTH_FILE_CHECK).is_some() {
            // The first recheck may join a run that read the outcome before it changed; the
            // second then starts one that reads it after.
            let _ = runtime.recheck(HEALTH_FILE_CHECK).await;
            let _ = runtime.recheck(HEALTH_FILE_CHECK).await;
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
                let _ = write(runtime, &path).await;
                break;
            }
        }
    }
}

/// What the last write of the health file did, shared by the writer and the check
/// [`HEALTH_FILE_CHECK`]: `None` before any writer tried, then the last write's failure, if it
/// failed.
#[derive(Debug, Default)]
pub(crate) struct WriteProblem(Mutex<Option<Option<String>>>);

impl WriteProblem {
    /// The check's outcome: healthy, saying so while nothing has written the file yet, or the
    /// last write's failure.
    fn outcome(&self) -> Result<CheckOutcome, String> {
        match &*self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            None => Ok(CheckOutcome::healthy().with_message(
                "not written yet: nothing keeps the file (health_runtime::serve or \
                 health_file::keep)",
            )),
            Some(None) => Ok(CheckOutcome::healthy()),
            Some(Some(problem)) => Err(problem.clone()),
        }
    }

    /// Records the outcome of a write; `true`, with a log line, when it differs from the last
    /// (or is the first).
    fn replace(&self, now: Option<String>, path: &Path) -> bool {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.as_ref() == Some(&now) {
            return false;
        }
        match &now {
            Some(message) => tracing::warn!(path = %path.display(), "{message}"),
            None if matches!(&*slot, Some(Some(_))) => {
                tracing::info!(path = %path.display(), "health file written again");
            }
            None => {}
        }
        *slot = Some(now);
        true
    }
}

/// Registers the check [`HEALTH_FILE_CHECK`] on every runtime whose configuration names a
/// health file: healthy (saying so while nothing has written it yet), warning while writes
/// fail.
pub(crate) fn attach(attach: &mut Attach, config: &HealthConfig) {
    if config.surfaces.health_file.is_none() {
        return;
    }
    let problem = Arc::new(WriteProblem::default());
    attach.extensions.insert(problem.clone());
    let check = Check::new(HEALTH_FILE_CHECK, move || {
        std::future::ready(problem.outcome())
    })
    .on_error(Status::Warning)
    .groups([]);
    attach.checks.push(check);
}
