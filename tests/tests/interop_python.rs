//! Interop with a client nobody here wrote: Python's `grpcio` and `grpcio-health-checking` from
//! PyPI drive the example plugin server's `grpc.health.v1.Health` (Check and Watch).
//!
//! Needs `python3` with `venv` and `pip`, and PyPI the first time: the packages pinned in
//! `tests/python/requirements.txt` go into a virtualenv under the target directory
//! (`target/tmp/interop-venv`), which is reused while the pins and the Python stay the same.
//! The client, `tests/python/health_client.py`, prints what it saw as JSON; this test judges it.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::process::{build_example, free_port, manifest_dir, python_env, run, wait_for_port};

/// The example server's drain delay after SIGTERM.
const DRAIN_DELAY: Duration = Duration::from_secs(2);

/// The running example server; killed, and its data directory removed, when dropped.
struct Server {
    child: Child,
    stderr: Arc<Mutex<String>>,
    data_dir: PathBuf,
}

impl Server {
    /// Starts the server standalone (no go-plugin cookie) on a free port and waits until it
    /// listens; standalone, it prints nothing on stdout.
    fn start(exe: &Path) -> (Server, String) {
        let data_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("interop-kv-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let addr = free_port();
        let mut child = Command::new(exe)
            .env("PLUGIN_HEALTH_GRPC_ADDR", addr.to_string())
            .env_remove("BASIC_PLUGIN")
            .env("PLUGIN_HEALTH_HTTP_ADDR", "127.0.0.1:0")
            .env("PLUGIN_HEALTH_FILE_PATH", "")
            .env("PLUGIN_HEALTH_DRAIN_DELAY", "2s")
            // A full disk on the test machine must not turn the example's real disk check
            // critical: this test is about the protocol.
            .env("PLUGIN_RESOURCE_DISK_THRESHOLD", "100")
            // The system metrics only inform by default; off, they cost the test nothing.
            .env("PLUGIN_RESOURCE_METRICS", "false")
            .env("KV_DATA_DIR", &data_dir)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", exe.display()));

        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = BufReader::new(child.stderr.take().expect("piped stderr"));
        let log = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut line = String::new();
            while matches!(err.read_line(&mut line), Ok(n) if n > 0) {
                log.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&line);
                line.clear();
            }
        });
        let (lines, handshake) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().expect("piped stdout"));
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });

        let mut server = Server {
            child,
            stderr,
            data_dir,
        };
        if let Err(why) = wait_for_port(&mut server.child, addr, Duration::from_secs(60)) {
            server.fail(&why);
        }
        // A standalone server is no plugin: no handshake line, nothing at all on stdout.
        if let Ok(line) = handshake.recv_timeout(Duration::from_millis(200)) {
            server.fail(&format!("the standalone server printed {line:?} on stdout"));
        }
        (server, addr.to_string())
    }

    fn stderr(&self) -> String {
        // Let the reader catch up with what the server has just written.
        std::thread::sleep(Duration::from_millis(100));
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn fail(&self, why: &str) -> ! {
        panic!("{why}\n--- the server's stderr ---\n{}", self.stderr())
    }

    /// Sends SIGTERM and waits for the exit.
    fn terminate(&mut self, within: Duration) -> (ExitStatus, Duration) {
        let started = Instant::now();
        let pid = self.child.id().to_string();
        let kill = run(
            "kill -TERM",
            Command::new("kill").args(["-TERM", &pid]),
            within,
        );
        if !kill.status.success() {
            self.fail(&format!("`kill -TERM {pid}` failed: {}", kill.stderr));
        }
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return (status, started.elapsed()),
                Ok(None) if started.elapsed() < within => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) => self.fail(&format!(
                    "the server did not exit within {within:?} of SIGTERM"
                )),
                Err(error) => self.fail(&format!("waiting for the server: {error}")),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Compares one field of the client's results, collecting mismatches.
fn expect(problems: &mut Vec<String>, results: &Value, pointer: &str, wanted: Value) {
    let got = results.pointer(pointer).unwrap_or(&Value::Null);
    if *got != wanted {
        problems.push(format!("{pointer}: expected {wanted}, got {got}"));
    }
}

/// What the Python client saw that the server should not have answered.
fn problems(results: &Value) -> Vec<String> {
    let serving = || serde_json::json!("SERVING");
    let mut problems = Vec::new();
    for name in ["", "plugin", "readiness", "kv.v1.KV", "kv_store"] {
        let pointer = format!(
            "/check/{}/status",
            name.replace('~', "~0").replace('/', "~1")
        );
        expect(&mut problems, results, &pointer, serving());
    }
    expect(
        &mut problems,
        results,
        "/check_unknown/code",
        "NOT_FOUND".into(),
    );
    expect(
        &mut problems,
        results,
        "/check_1mib_name/code",
        "INVALID_ARGUMENT".into(),
    );
    expect(
        &mut problems,
        results,
        "/check_bad_chars/code",
        "INVALID_ARGUMENT".into(),
    );
    // Watch: the current status at once, no duplicates after it, and the stream open until the
    // client leaves, for a known name and for an unknown one.
    for (watch, first) in [
        ("watch_readiness", "SERVING"),
        ("watch_unknown", "SERVICE_UNKNOWN"),
    ] {
        expect(
            &mut problems,
            results,
            &format!("/{watch}/first"),
            first.into(),
        );
        expect(
            &mut problems,
            results,
            &format!("/{watch}/later"),
            serde_json::json!([]),
        );
        expect(
            &mut problems,
            results,
            &format!("/{watch}/open_after_observing"),
            true.into(),
        );
        expect(
            &mut problems,
            results,
            &format!("/{watch}/ended_with"),
            "error: CANCELLED".into(),
        );
    }
    expect(&mut problems, results, "/check_after/status", serving());
    problems
}

#[test]
fn python_grpcio_health_client() {
    let python = python_env(Path::new(env!("CARGO_TARGET_TMPDIR")));
    let exe = build_example("plugin_server");
    let (mut server, addr) = Server::start(&exe);
    eprintln!("interop: {} listening on {addr}", exe.display());

    let client = manifest_dir().join("python/health_client.py");
    let ran = run(
        "the Python health client",
        Command::new(&python).arg(&client).arg(&addr),
        Duration::from_secs(120),
    );
    if !ran.status.success() {
        server.fail(&format!(
            "the Python health client failed ({})\n--- its stderr ---\n{}\n--- its stdout ---\n{}",
            ran.status, ran.stderr, ran.stdout
        ));
    }
    let results: Value = serde_json::from_str(&ran.stdout).unwrap_or_else(|error| {
        server.fail(&format!(
            "the Python client printed no JSON ({error}):\n{}\n--- its stderr ---\n{}",
            ran.stdout, ran.stderr
        ))
    });
    eprintln!("interop: the Python client saw\n{}", ran.stdout.trim_end());

    let problems = problems(&results);
    if !problems.is_empty() {
        server.fail(&format!(
            "the Python client saw what the server should not have answered:\n  {}\n\
             --- the client's results ---\n{}",
            problems.join("\n  "),
            ran.stdout.trim_end()
        ));
    }

    let within = DRAIN_DELAY + Duration::from_secs(8);
    let (status, took) = server.terminate(within);
    eprintln!(
        "interop: the server exited {status} {:.1} s after SIGTERM",
        took.as_secs_f64()
    );
    if !status.success() {
        server.fail(&format!("the server exited with {status} after SIGTERM"));
    }
}
