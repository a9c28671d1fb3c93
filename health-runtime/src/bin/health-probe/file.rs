//! `file`: the health file as an exec probe reads it.
//!
//! The server rewrites the file every check interval and on every change (atomically, by
//! rename), as JSON `{"status", "timestamp", "uptime", "healthy", "groups", "draining"}`. The exit codes carry the same
//! meaning as for the gRPC commands, so one rule reads both:
//!
//! | code | file |
//! |---|---|
//! | 0 | parses, `"healthy": true`, and younger than `--max-age` |
//! | 2 | missing, unreadable (no permission), or older than `--max-age`: no (recent) answer from the server, as a refused or timed-out connection is |
//! | 3 | not a health file (not a regular file, larger than [`MAX_SIZE`], bad JSON, a missing field, a bad timestamp): an answer that cannot be read, as a failed RPC is |
//! | 4 | `"healthy": false` (with `--group`: that group's verdict `false`): the server says it is not serving |
//!
//! The probe never blocks and reads a bounded amount: the path is opened with `O_NONBLOCK` (so
//! a named pipe without a writer opens at once) and checked to be a regular file before anything
//! is read (so `/dev/zero` is refused, not read forever), and at most [`MAX_SIZE`] bytes are read.
//!
//! Kubernetes treats every non-zero code alike and shows the probe's output in the event, so
//! each failure prints one line saying why.

use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

use health_runtime::{Group, Status};
use serde::Deserialize;

use crate::Exit;

/// The largest health file read: a real one is a few hundred bytes.
pub(crate) const MAX_SIZE: u64 = 64 * 1024;

/// The health file's content; unknown fields are ignored so that a newer server's file still
/// reads.
#[derive(Debug, Deserialize)]
struct HealthFile {
    status: Status,
    timestamp: String,
    uptime: f64,
    healthy: bool,
    /// Each probe group's verdict; absent in files of servers before it existed.
    groups: Option<GroupVerdicts>,
    #[serde(default)]
    draining: bool,
}

#[derive(Debug, Deserialize)]
struct GroupVerdicts {
    liveness: bool,
    readiness: bool,
    startup: bool,
}

/// Validates the file at `path` and prints one line about it.
pub(crate) fn run(path: &Path, max_age: Duration, group: Option<Group>) -> Exit {
    let shown = path.display();
    let text = match read(path) {
        Ok(text) => text,
        Err(Unreadable::Io(error)) => {
            eprintln!("health-probe: cannot read the health file `{shown}`: {error}");
            return Exit::Connection;
        }
        Err(Unreadable::Not(what)) => {
            eprintln!("health-probe: `{shown}` is not a health file: {what}");
            return Exit::Rpc;
        }
    };
    let file: HealthFile = match serde_json::from_slice(&text) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("health-probe: `{shown}` is not a health file: {error}");
            return Exit::Rpc;
        }
    };
    let written = match humantime::parse_rfc3339_weak(&file.timestamp) {
        Ok(written) => written,
        Err(error) => {
            eprintln!(
                "health-probe: `{shown}` has a bad timestamp `{}`: {error}",
                file.timestamp
            );
            return Exit::Rpc;
        }
    };
    // A timestamp ahead of this clock (the writer's clock runs ahead) counts as fresh.
    let age = SystemTime::now()
        .duration_since(written)
        .unwrap_or_default();
    let age_text = humantime::format_duration(Duration::from_secs(age.as_secs()));
    if age > max_age {
        eprintln!(
            "health-probe: `{shown}` is stale: written {age_text} ago, more than --max-age {}; is the server running?",
            humantime::format_duration(max_age)
        );
        return Exit::Connection;
    }
    let uptime = humantime::format_duration(whole_seconds(file.uptime));
    let draining = if file.draining { ", draining" } else { "" };
    let (verdict, what) = match group {
        None => (file.healthy, "healthy".to_owned()),
        Some(group) => {
            let Some(groups) = &file.groups else {
                eprintln!(
                    "health-probe: `{shown}` has no per-group verdicts (written by an older server); drop --group"
                );
                return Exit::Rpc;
            };
            let verdict = match group {
                Group::Liveness => groups.liveness,
                Group::Readiness => groups.readiness,
                Group::Startup => groups.startup,
            };
            (verdict, format!("{group} serving"))
        }
    };
    if !verdict {
        eprintln!(
            "health-probe: not {what}: status {}{draining}, written {age_text} ago, uptime {uptime}",
            file.status
        );
        return Exit::NotServing;
    }
    println!(
        "{what}: status {}{draining}, written {age_text} ago, uptime {uptime}",
        file.status
    );
    Exit::Ok
}

/// Why the file's bytes could not be had.
enum Unreadable {
    /// Opening or reading failed (exit 2).
    Io(std::io::Error),
    /// What is there cannot be a health file (exit 3).
    Not(String),
}

/// The bytes of the regular file at `path`, at most [`MAX_SIZE`] of them, without blocking.
fn read(path: &Path) -> Result<Vec<u8>, Unreadable> {
    use std::os::unix::fs::FileTypeExt as _;

    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_NOCTTY).bits())
        .open(path)
        .map_err(Unreadable::Io)?;
    let kind = file.metadata().map_err(Unreadable::Io)?.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_fifo() {
            "a named pipe"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(Unreadable::Not(format!("{what}, not a regular file")));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(Unreadable::Io)?;
    if bytes.len() as u64 > MAX_SIZE {
        return Err(Unreadable::Not(format!(
            "larger than {} KiB",
            MAX_SIZE / 1024
        )));
    }
    Ok(bytes)
}

/// A number of seconds as a whole-second duration; negative or NaN is zero, too large is the
/// largest duration.
pub(crate) fn whole_seconds(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds.max(0.0).floor()).unwrap_or(Duration::MAX)
}
