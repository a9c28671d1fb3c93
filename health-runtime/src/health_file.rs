//! The health file for exec probes: `{status, timestamp, uptime, healthy}` as JSON, with each
//! probe group's verdict and whether the process is draining, replaced atomically. Read it with
//! `health-probe file`.

use std::future::Future;
use std::io::Write as _;
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

/// The permissions of the health file: `0644`, whatever the umask, so that an exec probe
/// running as another user can read it. The file holds only statuses and times, nothing secret.
pub const HEALTH_FILE_MODE: u32 = 0o644;

/// What stands at the health file's path when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// A symbolic link: never replaced, so that a link planted at the path cannot redirect the
    /// operator's probe, and never written through.
    Symlink,
    /// A directory.
    Directory,
    /// A character device such as `/dev/null` or `/dev/full`.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A named pipe.
    Fifo,
    /// A unix socket.
    Socket,
    /// Anything else that is not a regular file.
    Other,
}

impl FileKind {
    /// What `file_type` is, or `None` for a regular file.
    fn of(file_type: std::fs::FileType) -> Option<Self> {
        use std::os::unix::fs::FileTypeExt as _;
        Some(if file_type.is_file() {
            return None;
        } else if file_type.is_symlink() {
            FileKind::Symlink
        } else if file_type.is_dir() {
            FileKind::Directory
        } else if file_type.is_char_device() {
            FileKind::CharDevice
        } else if file_type.is_block_device() {
            FileKind::BlockDevice
        } else if file_type.is_fifo() {
            FileKind::Fifo
        } else if file_type.is_socket() {
            FileKind::Socket
        } else {
            FileKind::Other
        })
    }
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileKind::Symlink => "a symbolic link",
            FileKind::Directory => "a directory",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Fifo => "a named pipe",
            FileKind::Socket => "a socket",
            FileKind::Other => "not a regular file",
        })
    }
}

/// Why [`write`] could not replace the health file. Each names the path it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The content could not be encoded as JSON.
    #[error("cannot encode the health file: {0}")]
    Encode(#[from] serde_json::Error),
    /// The path names no file (it ends in `..` or is a root).
    #[error("`{}` names no file", path.display())]
    NoFileName {
        /// The configured path.
        path: PathBuf,
    },
    /// Something other than a regular file stands at the path; it is left as it is.
    #[error("`{}` is {kind}, not a regular file: refused, left as it is", path.display())]
    NotRegular {
        /// The configured path.
        path: PathBuf,
        /// What stands there.
        kind: FileKind,
    },
    /// The path could not be inspected (other than by not existing).
    #[error("cannot inspect `{}`: {source}", path.display())]
    Inspect {
        /// The configured path.
        path: PathBuf,
        /// The error of `lstat`.
        source: std::io::Error,
    },
    /// No temporary file could be created in the path's directory.
    #[error("cannot create a temporary file in `{}`: {source}", dir.display())]
    Create {
        /// The directory of the configured path.
        dir: PathBuf,
        /// The error of creating it.
        source: std::io::Error,
    },
    /// The content could not be written to the temporary file (which is removed).
    #[error("cannot write the temporary file `{}`: {source}", temp.display())]
    Write {
        /// The temporary file, gone by the time this is seen.
        temp: PathBuf,
        /// The error of writing it.
        source: std::io::Error,
    },
    /// A regular file owned by another user stands at the path, and this process may not
    /// replace it (a sticky directory such as `/tmp`, or one this user cannot write).
    #[error(
        "`{}` belongs to uid {owner}, and this process (uid {uid}) cannot replace it: {source}",
        path.display()
    )]
    ForeignOwner {
        /// The configured path.
        path: PathBuf,
        /// The owner of the file there.
        owner: u32,
        /// The user this process writes as.
        uid: u32,
        /// The error of the rename.
        source: std::io::Error,
    },
    /// The temporary file could not be renamed over the path (it is removed).
    #[error("cannot rename the temporary file over `{}`: {source}", path.display())]
    Replace {
        /// The configured path.
        path: PathBuf,
        /// The error of the rename.
        source: std::io::Error,
    },
}

/// Writes `runtime`'s health file to `path` once, so that a reader sees the old file or the new
/// one, never half of one, and so that nothing planted at or beside the path is written through:
///
/// - `path` itself is inspected without following links; anything there but a regular file (a
///   symbolic link, a directory, a device such as `/dev/null`, a named pipe, a socket) is
///   refused with [`WriteError::NotRegular`] and left untouched;
/// - the content goes to a temporary file with an unpredictable name, created exclusively (an
///   existing name, link or not, is never opened) in `path`'s directory with mode
///   [`HEALTH_FILE_MODE`];
/// - that file is renamed over `path`, which replaces the directory entry and never writes
///   through it: a hard link at `path` keeps its old content. A file owned by another user is
///   replaced when the directory allows (logged as a warning) and otherwise refused with
///   [`WriteError::ForeignOwner`];
/// - on any failure the temporary file is removed.
pub async fn write(runtime: &HealthRuntime, path: &Path) -> Result<(), WriteError> {
    let json = serde_json::to_vec(&content(runtime))?;
    let target = path.to_owned();
    let replaced = tokio::task::spawn_blocking(move || {
        replace(&target, &json, |file, json| file.write_all(json))
    })
    .await
    .unwrap_or_else(|join| {
        Err(WriteError::Write {
            temp: path.to_owned(),
            source: std::io::Error::other(join),
        })
    })?;
    // Logged here, not on the blocking thread, so that it is in the caller's span.
    if let Some(Replaced { owner, uid }) = replaced {
        tracing::warn!(
            path = %path.display(),
            owner,
            uid,
            "replaced a health file that belonged to another user"
        );
    }
    Ok(())
}

/// A file of another user that [`replace`] replaced.
#[derive(Debug, Clone, Copy)]
struct Replaced {
    /// Its owner.
    owner: u32,
    /// The user of the new file, this process's.
    uid: u32,
}

/// Replaces the file at `path` by one that `fill` writes, as [`write`] describes; says whose
/// file it replaced when that was another user's.
fn replace(
    path: &Path,
    json: &[u8],
    fill: impl FnOnce(&mut std::fs::File, &[u8]) -> std::io::Result<()>,
) -> Result<Option<Replaced>, WriteError> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

    let name = path.file_name().ok_or_else(|| WriteError::NoFileName {
        path: path.to_owned(),
    })?;
    let existing = match std::fs::symlink_metadata(path) {
        Ok(metadata) => Some(metadata),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(WriteError::Inspect {
                path: path.to_owned(),
                source,
            });
        }
    };
    if let Some(kind) = existing
        .as_ref()
        .and_then(|meta| FileKind::of(meta.file_type()))
    {
        return Err(WriteError::NotRegular {
            path: path.to_owned(),
            kind,
        });
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mode = std::fs::Permissions::from_mode(HEALTH_FILE_MODE);
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(mode.clone())
        .tempfile_in(dir)
        .map_err(|source| WriteError::Create {
            dir: dir.to_owned(),
            source,
        })?;
    // Dropping `temp` on any error below removes it.
    let written = fill(temp.as_file_mut(), json)
        // The umask applies at creation; the mode is set again so it holds whatever the umask.
        .and_then(|()| temp.as_file().set_permissions(mode))
        .and_then(|()| temp.as_file().metadata());
    let uid = match written {
        Ok(metadata) => metadata.uid(),
        Err(source) => {
            return Err(WriteError::Write {
                temp: temp.path().to_owned(),
                source,
            });
        }
    };
    let foreign = existing
        .map(|meta| meta.uid())
        .filter(|&owner| owner != uid);
    match (temp.persist(path), foreign) {
        (Ok(_), None) => Ok(None),
        (Ok(_), Some(owner)) => Ok(Some(Replaced { owner, uid })),
        (Err(error), Some(owner)) => Err(WriteError::ForeignOwner {
            path: path.to_owned(),
            owner,
            uid,
            source: error.error,
        }),
        (Err(error), None) => Err(WriteError::Replace {
            path: path.to_owned(),
            source: error.error,
        }),
    }
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
            .map(|error| format!("cannot write the health file: {error}"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("health");
        let error = replace(&path, b"{\"status\":\"healthy\"}", |file, json| {
            file.write_all(&json[..4])?;
            Err(std::io::Error::from_raw_os_error(28))
        })
        .unwrap_err();
        assert!(
            matches!(&error, WriteError::Write { source, .. } if source.raw_os_error() == Some(28)),
            "{error}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn the_temporary_name_is_hidden_beside_the_target_and_not_predictable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("health");
        let mut seen = Vec::new();
        for _ in 0..2 {
            replace(&path, b"{}", |file, json| {
                let name = std::fs::read_dir(dir.path())
                    .unwrap()
                    .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                    .find(|name| name != "health")
                    .unwrap();
                seen.push(name);
                file.write_all(json)
            })
            .unwrap();
        }
        let old = format!(".health.{}.tmp", std::process::id());
        for name in &seen {
            assert!(
                name.starts_with(".health.") && name.ends_with(".tmp"),
                "{name}"
            );
            assert_ne!(name, &old);
        }
        assert_ne!(seen[0], seen[1]);
    }
}
