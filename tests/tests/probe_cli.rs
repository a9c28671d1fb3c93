//! The `health-probe` binary against real servers on loopback: every exit code of every command.
//!
//! | code | how it is provoked here |
//! |---|---|
//! | 0 | a serving name, a fresh healthy file |
//! | 1 | unknown options, bad durations, unreadable TLS files, a bad scheme |
//! | 2 | a closed port; a listener whose accept queue is full (connect timeout); TLS to a plaintext server; a missing or stale file |
//! | 3 | an unknown name (`NOT_FOUND`), a malformed name (`INVALID_ARGUMENT`), a check slower than `--rpc-timeout`; a file that does not parse, `/dev/zero`, a named pipe, a directory, a file over 64 KiB |
//! | 4 | a critical check (`NOT_SERVING`), a critical report, an unhealthy file |

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use health_runtime::{Check, CheckOutcome, Group, HealthReport, Status};
use tests::{GrpcServer, builder, details_config};

/// Generous: these bound waits for things that normally take milliseconds.
const WAIT: Duration = Duration::from_secs(20);

/// The `health-probe` binary, built once per test process.
fn binary() -> &'static Path {
    tests::cli::health_probe()
}

/// [`binary`], built off the async runtime.
async fn built() -> &'static Path {
    tokio::task::spawn_blocking(binary).await.unwrap()
}

/// What one run of the probe did.
#[derive(Debug)]
struct Run {
    /// The exit code; `None` when a signal ended it.
    code: Option<i32>,
    /// Everything it printed on stdout.
    stdout: String,
    /// Everything it printed on stderr.
    stderr: String,
}

/// Runs the probe to completion, off the async runtime so the server keeps serving.
async fn probe<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let args: Vec<String> = args
        .into_iter()
        .map(|arg| arg.as_ref().to_owned())
        .collect();
    tokio::task::spawn_blocking(move || {
        let output = Command::new(binary())
            .args(&args)
            .env("NO_COLOR", "1")
            .output()
            .expect("health-probe runs");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

/// `args` after `--addr` for `server`.
fn at(server: &GrpcServer, args: &[&str]) -> Vec<String> {
    let mut all = vec!["--addr".to_owned(), server.addr.to_string()];
    all.extend(args.iter().map(|arg| (*arg).to_owned()));
    all
}

/// A check that is healthy while `up` is true, critical otherwise.
fn switch(name: &str, up: &Arc<AtomicBool>) -> Check {
    let up = up.clone();
    Check::new(name.to_owned(), move || {
        std::future::ready(up.load(Ordering::SeqCst))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_0_when_serving_and_4_when_not() {
    let runtime = builder()
        .with_check(Check::new("db", || async { true }).groups([Group::Readiness]))
        .with_check(
            Check::new("cache", || async { CheckOutcome::warning("slow") })
                .groups([Group::Liveness]),
        )
        .with_check(Check::new("queue", || async { Status::Critical }).service("billing"))
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;

    for serving in ["db", "cache", "liveness"] {
        let run = probe(at(&server, &["check", "--service", serving])).await;
        assert_eq!(run.code, Some(0), "{serving}: {run:?}");
        assert_eq!(run.stdout, "status: SERVING\n", "{serving}");
    }
    for not_serving in ["queue", "billing", "readiness", "", "plugin"] {
        let run = probe(at(&server, &["check", "--service", not_serving])).await;
        assert_eq!(run.code, Some(4), "{not_serving:?}: {run:?}");
        assert_eq!(run.stdout, "status: NOT_SERVING\n", "{not_serving:?}");
    }
    // Without --service: the whole server.
    let run = probe(at(&server, &["check"])).await;
    assert_eq!(run.code, Some(4), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_exit_1_not_clap_s_2() {
    let missing = std::env::temp_dir().join("health-probe-no-such-ca.pem");
    let missing = missing.to_str().unwrap();
    for args in [
        &["check", "--bogus"][..],
        &[],
        &["frobnicate"],
        &["--rpc-timeout", "soon", "check"],
        &["--connect-timeout", "0s", "check"],
        &["--tls-client-cert", "client.pem", "check"],
        &["--tls-ca-cert", missing, "check"],
        &["--addr", "ftp://127.0.0.1:1", "check"],
        &["--addr", "http://127.0.0.1:1", "--tls", "check"],
        &["--addr", "not a uri", "check"],
        &["file", "--max-age", "0s"],
    ] {
        let run = probe(args).await;
        assert_eq!(run.code, Some(1), "{args:?}: {run:?}");
        assert!(!run.stderr.is_empty(), "{args:?} says why");
    }
    for help in [&["--help"][..], &["check", "--help"], &["--version"]] {
        let run = probe(help).await;
        assert_eq!(run.code, Some(0), "{help:?}: {run:?}");
        assert!(!run.stdout.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_exits_2() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    for command in ["check", "watch", "list", "report"] {
        let run = probe(["--addr", &closed.to_string(), command]).await;
        assert_eq!(run.code, Some(2), "{command}: {run:?}");
        assert!(run.stderr.contains("failed to connect"), "{}", run.stderr);
        assert!(run.stdout.is_empty());
    }
}

/// A listener whose accept queue is full: the kernel drops further SYNs (Linux), so a connection
/// attempt hangs until the client gives up. Returns the address and the connections that fill
/// it, which must stay open.
async fn unanswering_listener() -> (tokio::net::TcpListener, Vec<tokio::net::TcpStream>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..64 {
        match tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(stream)) => held.push(stream),
            Ok(Err(error)) => panic!("filling the accept queue: {error}"),
            Err(_) => return (listener, held),
        }
    }
    panic!("the accept queue of {addr} never filled");
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_timeout_exits_2() {
    let (listener, _held) = unanswering_listener().await;
    let addr = listener.local_addr().unwrap().to_string();
    built().await;
    let started = std::time::Instant::now();
    let run = probe(["--addr", &addr, "--connect-timeout", "500ms", "check"]).await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("timeout: failed to connect") && run.stderr.contains("500ms"),
        "{}",
        run.stderr
    );
    assert!(started.elapsed() < WAIT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_a_plaintext_server_exits_2() {
    let runtime = builder().build().unwrap();
    let server = GrpcServer::start(&runtime).await;
    let run = probe(at(
        &server,
        &["--tls", "--tls-server-name", "localhost", "check"],
    ))
    .await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("failed to connect"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_errors_exit_3() {
    let runtime = builder()
        .with_check(Check::new("db", || async { true }))
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;

    let run = probe(at(&server, &["check", "--service", "billing"])).await;
    assert_eq!(run.code, Some(3), "{run:?}");
    assert!(
        run.stderr.contains("NOT_FOUND") && run.stderr.contains("billing"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());

    let run = probe(at(&server, &["check", "--service", "no spaces!"])).await;
    assert_eq!(run.code, Some(3), "{run:?}");
    assert!(run.stderr.contains("INVALID_ARGUMENT"), "{}", run.stderr);

    let run = probe(at(&server, &["watch", "--service", "no spaces!"])).await;
    assert_eq!(run.code, Some(3), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rpc_slower_than_the_rpc_timeout_exits_3() {
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_check(
            Check::new("slow", || async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                true
            })
            .timeout(Duration::from_secs(120)),
        )
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;
    built().await;
    for command in [&["check", "--service", "slow"][..], &["report"]] {
        let started = std::time::Instant::now();
        let run = probe(at(
            &server,
            &[&["--rpc-timeout", "500ms"][..], command].concat(),
        ))
        .await;
        assert_eq!(run.code, Some(3), "{command:?}: {run:?}");
        assert!(
            run.stderr
                .contains("timeout: health rpc did not complete within 500ms"),
            "{}",
            run.stderr
        );
        assert!(started.elapsed() < WAIT);
    }
}

/// Reads the child's stdout line by line into a channel.
fn lines(child: &mut Child) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (send, receive) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// The next line the child prints, within [`WAIT`].
async fn next_line(lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(WAIT, lines.recv())
        .await
        .expect("a line in time")
        .expect("the probe still prints")
}

/// Waits (up to 20 s) for the child to exit and returns its code; kills it otherwise.
async fn exit_code(child: &mut Child) -> Option<i32> {
    for _ in 0..2000 {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = child.kill();
    panic!("health-probe did not exit");
}

/// A line is `<RFC 3339 time> <service> <STATUS>`.
fn status_of(line: &str, service: &str) -> String {
    let mut words = line.split(' ');
    let time = words.next().unwrap();
    assert!(
        time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{line}"
    );
    assert_eq!(words.next(), Some(service), "{line}");
    words.next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_each_change_and_exits_by_the_last_status() {
    let up = Arc::new(AtomicBool::new(true));
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .drain_delay(Duration::from_millis(200))
        .with_check(switch("db", &up))
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;
    runtime.check("db").await.unwrap();

    let mut child = Command::new(built().await)
        .args(at(&server, &["watch", "--service", "db"]))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = lines(&mut child);
    assert_eq!(status_of(&next_line(&mut lines).await, "db"), "SERVING");

    up.store(false, Ordering::SeqCst);
    runtime.check("db").await.unwrap();
    assert_eq!(status_of(&next_line(&mut lines).await, "db"), "NOT_SERVING");
    up.store(true, Ordering::SeqCst);
    runtime.check("db").await.unwrap();
    assert_eq!(status_of(&next_line(&mut lines).await, "db"), "SERVING");

    // Shutdown: NOT_SERVING, then the server ends the stream after the drain delay.
    server.stop().await.unwrap();
    assert_eq!(status_of(&next_line(&mut lines).await, "db"), "NOT_SERVING");
    assert_eq!(exit_code(&mut child).await, Some(4));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_ends_on_ctrl_c_with_the_last_status() {
    let runtime = builder()
        .with_check(Check::new("db", || async { true }))
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;
    let mut child = Command::new(built().await)
        .args(at(&server, &["watch"]))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = lines(&mut child);
    assert_eq!(status_of(&next_line(&mut lines).await, "\"\""), "SERVING");
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    assert_eq!(exit_code(&mut child).await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_prints_a_sorted_table_or_json() {
    let runtime = builder()
        .with_check(Check::new("db", || async { true }).service("storage"))
        .with_check(Check::new("cache", || async { false }))
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;
    runtime.report().await;

    let run = probe(at(&server, &["list"])).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(!run.stdout.contains('\x1b'), "no colour into a pipe");
    let rows: Vec<(String, String)> = run
        .stdout
        .lines()
        .skip(1)
        .map(|line| {
            let (name, status) = line.split_once(' ').unwrap();
            (name.to_owned(), status.trim().to_owned())
        })
        .collect();
    let names: Vec<&str> = rows.iter().map(|(name, _)| name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert!(run.stdout.starts_with("NAME"));
    assert!(
        rows.contains(&("db".to_owned(), "SERVING".to_owned())),
        "{rows:?}"
    );
    assert!(rows.contains(&("cache".to_owned(), "NOT_SERVING".to_owned())));
    assert!(rows.contains(&("\"\"".to_owned(), "NOT_SERVING".to_owned())));

    let run = probe(at(&server, &["list", "--json"])).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&run.stdout).unwrap();
    for (name, status) in [
        ("", "NOT_SERVING"),
        ("plugin", "NOT_SERVING"),
        ("db", "SERVING"),
        ("storage", "SERVING"),
        ("cache", "NOT_SERVING"),
        ("liveness", "SERVING"),
    ] {
        assert_eq!(json[name], status, "{name:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_prints_a_table_or_the_library_s_json() {
    let healthy = Arc::new(AtomicBool::new(true));
    let runtime = builder()
        .config(details_config())
        .version("9.8.7")
        .with_check(
            Check::new("disk", || async {
                CheckOutcome::by_threshold(85.0, 90.0).with_message("85 % of /data used")
            })
            .service("storage"),
        )
        .with_check({
            let healthy = healthy.clone();
            Check::new("db", move || {
                let up = healthy.load(Ordering::SeqCst);
                async move {
                    if up {
                        Ok(())
                    } else {
                        Err("connection refused")
                    }
                }
            })
            .groups([Group::Liveness, Group::Readiness])
        })
        .cache_ttl(Duration::ZERO)
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;

    let run = probe(at(&server, &["report"])).await;
    assert_eq!(run.code, Some(0), "warning still serves: {run:?}");
    assert!(!run.stdout.contains('\x1b'), "no colour into a pipe");
    let mut lines = run.stdout.lines();
    let summary = lines.next().unwrap();
    assert!(
        summary.starts_with("overall: warning") && summary.contains("version 9.8.7"),
        "{summary}"
    );
    assert_eq!(lines.next(), Some(""));
    let header = lines.next().unwrap();
    for column in ["NAME", "STATUS", "VALUE / THRESHOLD", "LAST RUN", "MESSAGE"] {
        assert!(header.contains(column), "{header}");
    }
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows[0].starts_with("db ") && rows[0].contains("healthy"),
        "{rows:?}"
    );
    assert!(
        rows[1].starts_with("disk ")
            && rows[1].contains("warning")
            && rows[1].contains("85 / 90")
            && rows[1].ends_with("85 % of /data used"),
        "{rows:?}"
    );

    let run = probe(at(&server, &["report", "--color", "always"])).await;
    assert!(run.stdout.contains("\x1b[33mwarning"), "{:?}", run.stdout);

    healthy.store(false, Ordering::SeqCst);
    let run = probe(at(&server, &["report", "--json"])).await;
    assert_eq!(run.code, Some(4), "critical does not serve: {run:?}");
    let report: HealthReport = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report.overall_status, Status::Critical);
    assert_eq!(report.version, "9.8.7");
    let disk = &report.metrics["disk"];
    assert_eq!(
        (disk.value, disk.threshold, disk.status),
        (Some(85.0), Some(90.0), Status::Warning)
    );
    assert_eq!(disk.service.as_deref(), Some("storage"));
    let db = &report.metrics["db"];
    assert_eq!(db.status, Status::Critical);
    assert_eq!(db.message, "connection refused");
    assert_eq!(db.groups, [Group::Liveness, Group::Readiness]);
    assert!(db.last_updated.is_some() && db.duration_ms.is_some());
    // The same field names as the library's own JSON.
    let raw: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let library: serde_json::Value =
        serde_json::from_str(&runtime.cached_report().to_json_pretty()).unwrap();
    let keys = |value: &serde_json::Value| {
        value
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&raw), keys(&library));
    assert_eq!(keys(&raw["metrics"]["db"]), keys(&library["metrics"]["db"]));
}

/// A scratch health file, removed when dropped.
struct HealthFile(PathBuf);

impl HealthFile {
    fn new(name: &str, content: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("health-probe-{}-{name}.json", std::process::id()));
        std::fs::write(&path, content).unwrap();
        HealthFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for HealthFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A health file's JSON, written `ago`.
fn written(status: &str, healthy: bool, ago: Duration) -> String {
    let timestamp = humantime::format_rfc3339_millis(SystemTime::now() - ago);
    format!(
        r#"{{"status":"{status}","timestamp":"{timestamp}","uptime":123.4,"healthy":{healthy}}}"#
    )
}

#[tokio::test]
async fn file_accepts_only_a_fresh_healthy_file() {
    let fresh = HealthFile::new("fresh", &written("warning", true, Duration::from_secs(5)));
    let run = probe(["file", "--path", fresh.path(), "--max-age", "90s"]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("warning"), "{}", run.stdout);

    let stale = HealthFile::new("stale", &written("healthy", true, Duration::from_secs(600)));
    let run = probe(["file", "--path", stale.path(), "--max-age", "90s"]).await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("stale"), "{}", run.stderr);
    // The same file passes with a longer --max-age.
    let run = probe(["file", "--path", stale.path(), "--max-age", "1h"]).await;
    assert_eq!(run.code, Some(0), "{run:?}");

    let unhealthy = HealthFile::new("unhealthy", &written("critical", false, Duration::ZERO));
    let run = probe(["file", "--path", unhealthy.path()]).await;
    assert_eq!(run.code, Some(4), "{run:?}");
    assert!(run.stderr.contains("critical"), "{}", run.stderr);

    let missing = std::env::temp_dir().join(format!("health-probe-{}-missing", std::process::id()));
    let run = probe(["file", "--path", missing.to_str().unwrap()]).await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);

    for (name, content) in [
        ("garbage", "not json at all"),
        ("truncated", r#"{"status":"healthy","timest"#),
        (
            "no-healthy",
            r#"{"status":"healthy","timestamp":"2026-01-01T00:00:00Z","uptime":1}"#,
        ),
        (
            "bad-status",
            r#"{"status":"fine","timestamp":"2026-01-01T00:00:00Z","uptime":1,"healthy":true}"#,
        ),
        (
            "bad-time",
            r#"{"status":"healthy","timestamp":"yesterday","uptime":1,"healthy":true}"#,
        ),
    ] {
        let file = HealthFile::new(name, content);
        let run = probe(["file", "--path", file.path()]).await;
        assert_eq!(run.code, Some(3), "{name}: {run:?}");
        assert!(!run.stderr.is_empty());
    }
}

#[tokio::test]
async fn file_refuses_what_is_not_a_small_regular_file_without_blocking() {
    let dir = std::env::temp_dir().join(format!("health-probe-{}-special", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A named pipe nobody writes: reading it would block forever.
    let fifo = dir.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // Valid JSON up to the limit and past it: refused for its size, not its content.
    let large = dir.join("large");
    let padding = " ".repeat(64 * 1024);
    std::fs::write(&large, written("healthy", true, Duration::ZERO) + &padding).unwrap();
    for (path, what) in [
        (PathBuf::from("/dev/zero"), "a character device"),
        (fifo, "a named pipe"),
        (dir.clone(), "a directory"),
        (large, "larger than 64 KiB"),
    ] {
        let run = tokio::time::timeout(WAIT, probe(["file", "--path", path.to_str().unwrap()]))
            .await
            .expect("the probe never blocks");
        assert_eq!(run.code, Some(3), "{}: {run:?}", path.display());
        assert!(
            run.stderr.contains("is not a health file") && run.stderr.contains(what),
            "{}",
            run.stderr
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A health file written by a real runtime whose only failing signal is `failing`.
async fn file_of(name: &str, runtime: health_runtime::HealthRuntime) -> HealthFile {
    runtime.start();
    runtime.report().await;
    let file = HealthFile::new(name, "");
    health_runtime::health_file::write(&runtime, &file.0)
        .await
        .unwrap();
    file
}

#[tokio::test]
async fn file_group_follows_one_probe_group() {
    use health_runtime::indicator::{ResourceReading, SystemIndicators};

    // Only the machine-wide CPU reading is critical: liveness (and everything else) holds.
    let metrics = SystemIndicators::new().source(|| ResourceReading::new(99.0, 1.0, 1.0));
    let monitor = metrics.monitor();
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_check(
            Check::new("listener", || async { Ok::<(), String>(()) }).groups([Group::Liveness]),
        )
        .with_checks(metrics)
        .build()
        .unwrap();
    runtime.start();
    tokio::time::timeout(Duration::from_secs(10), monitor.settled())
        .await
        .unwrap();
    assert_eq!(
        runtime.report().await.metrics["cpu_usage"].status,
        Status::Critical
    );
    let busy = file_of("busy", runtime).await;
    for group in ["liveness", "readiness", "startup"] {
        let run = probe(["file", "--path", busy.path(), "--group", group]).await;
        assert_eq!(run.code, Some(0), "{group}: {run:?}");
        assert!(
            run.stdout.starts_with(&format!("{group} serving")),
            "{}",
            run.stdout
        );
    }
    assert_eq!(probe(["file", "--path", busy.path()]).await.code, Some(0));

    // A liveness check fails: the liveness verdict (and the overall one) is false.
    let runtime = builder()
        .with_check(
            Check::new("listener", || async { Err::<(), _>("accept loop wedged") })
                .groups([Group::Liveness]),
        )
        .build()
        .unwrap();
    let wedged = file_of("wedged", runtime).await;
    let run = probe(["file", "--path", wedged.path(), "--group", "liveness"]).await;
    assert_eq!(run.code, Some(4), "{run:?}");
    assert!(
        run.stderr.contains("not liveness serving"),
        "{}",
        run.stderr
    );
    let run = probe(["file", "--path", wedged.path(), "--group", "readiness"]).await;
    assert_eq!(run.code, Some(0), "{run:?}");

    // While draining, every verdict is false and the file says so.
    let runtime = builder().build().unwrap();
    runtime.shutdown();
    let draining = file_of("draining", runtime).await;
    let run = probe(["file", "--path", draining.path(), "--group", "liveness"]).await;
    assert_eq!(run.code, Some(4), "{run:?}");
    assert!(run.stderr.contains("draining"), "{}", run.stderr);

    // A file from before the groups existed cannot answer for one; a wrong group is a usage
    // error.
    let old = HealthFile::new("old", &written("healthy", true, Duration::ZERO));
    let run = probe(["file", "--path", old.path(), "--group", "liveness"]).await;
    assert_eq!(run.code, Some(3), "{run:?}");
    let run = probe(["file", "--path", old.path(), "--group", "lively"]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("no probe group"), "{}", run.stderr);
}

/// A file under `tests/data/tls/`.
fn tls_file(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/tls")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

/// Serves `runtime`'s health services over TLS with the test server certificate, requiring a
/// client certificate signed by the test CA when `mutual`.
async fn tls_server(
    runtime: &health_runtime::HealthRuntime,
    mutual: bool,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
    // Two crypto providers are compiled into this test (ring for tonic, aws-lc-rs for the
    // plugin tests' crate): rustls needs to be told which one tonic's TLS uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let read = |name: &str| std::fs::read(tls_file(name)).unwrap();
    let mut tls =
        ServerTlsConfig::new().identity(Identity::from_pem(read("server.pem"), read("server.key")));
    if mutual {
        tls = tls.client_ca_root(Certificate::from_pem(read("ca.pem")));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.start();
    let routes = health_runtime::grpc::routes(runtime);
    let task = tokio::spawn(async move {
        let _ = Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_routes(routes)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await;
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_right_ca_and_name_connects() {
    let runtime = builder()
        .with_check(Check::new("db", || async { true }))
        .build()
        .unwrap();
    let (addr, server) = tls_server(&runtime, false).await;
    let ca = tls_file("ca.pem");
    let host_port = addr.to_string();
    let by_name = format!("https://localhost:{}", addr.port());

    for args in [
        // The address's IP is in the certificate.
        &[
            "--addr",
            &host_port,
            "--tls-ca-cert",
            &ca,
            "check",
            "--service",
            "db",
        ][..],
        &[
            "--addr",
            &host_port,
            "--tls-ca-cert",
            &ca,
            "--tls-server-name",
            "localhost",
            "check",
        ],
        &["--addr", &by_name, "--tls-ca-cert", &ca, "check"],
    ] {
        let run = probe(args).await;
        assert_eq!(run.code, Some(0), "{args:?}: {run:?}");
        assert_eq!(run.stdout, "status: SERVING\n");
    }
    // The right CA but the wrong name, or the system's roots that do not know the test CA.
    for args in [
        &[
            "--addr",
            &host_port,
            "--tls-ca-cert",
            &ca,
            "--tls-server-name",
            "db.example",
            "check",
        ][..],
        &["--addr", &host_port, "--tls", "check"],
    ] {
        let run = probe(args).await;
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(run.stderr.contains("failed to connect"), "{}", run.stderr);
    }
    // Plaintext to a TLS server: the connection opens, the RPC fails.
    let run = probe(["--addr", &host_port, "check"]).await;
    assert_eq!(run.code, Some(3), "{run:?}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_needs_the_client_certificate() {
    let runtime = builder()
        .with_check(Check::new("db", || async { true }))
        .build()
        .unwrap();
    let (addr, server) = tls_server(&runtime, true).await;
    let (ca, cert, key) = (
        tls_file("ca.pem"),
        tls_file("client.pem"),
        tls_file("client.key"),
    );
    let addr = addr.to_string();
    let run = probe([
        "--addr",
        &addr,
        "--tls-ca-cert",
        &ca,
        "--tls-client-cert",
        &cert,
        "--tls-client-key",
        &key,
        "list",
    ])
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("db "), "{}", run.stdout);

    // Without it the server refuses; with TLS 1.3 the refusal may only arrive after the
    // handshake, during the RPC, so either failure code is right.
    let run = probe(["--addr", &addr, "--tls-ca-cert", &ca, "check"]).await;
    assert!(matches!(run.code, Some(2 | 3)), "{run:?}");
    server.abort();
}
