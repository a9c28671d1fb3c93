//! Processes for the tests: running commands with a deadline, and a Python virtualenv with the
//! packages pinned in `tests/python/requirements.txt` (gRPC health stubs, the Prometheus parser).

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The `tests` package directory.
pub fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace root.
pub fn workspace() -> &'static Path {
    manifest_dir()
        .parent()
        .expect("the tests crate lives inside the workspace")
}

/// What a finished child process printed.
#[derive(Debug)]
pub struct Finished {
    /// How it ended.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

fn read_all(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs `command` to its end, killing it and failing the test after `timeout`.
pub fn run(what: &str, command: &mut Command, timeout: Duration) -> Finished {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{what}: cannot start {command:?}: {error}"));
    let stdout = read_all(child.stdout.take().expect("piped stdout"));
    let stderr = read_all(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Err(error) => panic!("{what}: waiting for {command:?}: {error}"),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Some(status) => Finished {
            status,
            stdout,
            stderr,
        },
        None => panic!(
            "{what}: {command:?} did not finish within {timeout:?} and was killed\n\
             --- its stderr ---\n{stderr}\n--- its stdout ---\n{stdout}"
        ),
    }
}

/// Runs `command` and fails the test, quoting its output, unless it succeeds.
pub fn run_ok(what: &str, command: &mut Command, timeout: Duration) -> Finished {
    let finished = run(what, command, timeout);
    assert!(
        finished.status.success(),
        "{what} failed ({}): {command:?}\n--- its stderr ---\n{}\n--- its stdout ---\n{}",
        finished.status,
        finished.stderr,
        finished.stdout
    );
    finished
}

/// The Python of a virtualenv under `dir` (a test's `CARGO_TARGET_TMPDIR`) holding the pinned
/// packages, made on first use and reused while the requirements and the base Python are
/// unchanged.
pub fn python_env(dir: &Path) -> PathBuf {
    let requirements = manifest_dir().join("python/requirements.txt");
    let pins = std::fs::read_to_string(&requirements)
        .unwrap_or_else(|error| panic!("reading {}: {error}", requirements.display()));
    let base = run_ok(
        "`python3 --version` (the test needs CPython 3 with venv and pip on PATH)",
        Command::new("python3").arg("--version"),
        Duration::from_secs(30),
    );
    let wanted = format!("{}{}\n{pins}", base.stdout.trim(), base.stderr.trim());

    let venv = dir.join("python-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.stamp");
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|have| have == wanted) {
        return python;
    }

    let started = Instant::now();
    eprintln!("python: creating a virtualenv in {}", venv.display());
    run_ok(
        "creating the virtualenv (`python3 -m venv`; on Debian/Ubuntu it needs python3-venv)",
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
        Duration::from_secs(120),
    );
    run_ok(
        "installing tests/python/requirements.txt from PyPI with pip",
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--only-binary=:all:",
                "--timeout",
                "60",
                "--requirement",
            ])
            .arg(&requirements),
        Duration::from_secs(600),
    );
    std::fs::write(&stamp, &wanted)
        .unwrap_or_else(|error| panic!("writing {}: {error}", stamp.display()));
    eprintln!(
        "python: virtualenv ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    python
}

/// Builds the example `name` with the cargo running the tests and returns its executable, as
/// cargo reports it (so that a custom target directory works too).
pub fn build_example(name: &str) -> PathBuf {
    build_example_in(name, "dev")
}

/// Like [`build_example`], with the cargo profile `profile` (`dev`, `release`, ...).
pub fn build_example_in(name: &str, profile: &str) -> PathBuf {
    let built = run_ok(
        &format!("building the {name} example"),
        Command::new(env!("CARGO")).current_dir(workspace()).args([
            "build",
            "--package",
            "examples",
            "--example",
            name,
            "--profile",
            profile,
            "--message-format=json-render-diagnostics",
        ]),
        Duration::from_secs(30 * 60),
    );
    built
        .stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact" && message["target"]["name"] == name
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| {
            panic!(
                "cargo built no {name} executable\n--- cargo's stderr ---\n{}",
                built.stderr
            )
        })
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binding 127.0.0.1:0")
}

/// Waits until `addr` accepts TCP connections while `child` runs; says why not otherwise.
pub fn wait_for_port(child: &mut Child, addr: SocketAddr, within: Duration) -> Result<(), String> {
    let started = Instant::now();
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the server exited ({status}) before listening on {addr}"
            ));
        }
        if started.elapsed() > within {
            return Err(format!("nothing listened on {addr} within {within:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The Debian packages the go-plugin host tests build with.
pub const GO_PACKAGES: &str = "golang-go golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev \
golang-github-golang-protobuf-1-5-dev golang-google-protobuf-dev golang-golang-x-net-dev";

/// The programs of `tests/gohost`, built with the real go-plugin host library.
#[derive(Debug, Clone)]
pub struct GoHost {
    /// A go-plugin host (`tests/gohost/host`): launches a plugin and measures it.
    pub host: PathBuf,
    /// go-plugin's own Go plugin server (`tests/gohost/goplugin`), the baseline.
    pub goplugin: PathBuf,
}

/// Builds `tests/gohost` into `out` in GOPATH mode against Debian's go-plugin 1.0.1 (the only
/// go-plugin Debian packages). When Go or the packages are missing: a failure in CI
/// (`CI=true`), otherwise `None` after saying what to install.
pub fn go_host(out: &Path) -> Option<GoHost> {
    let built = GoHost {
        host: out.join("gohost-host"),
        goplugin: out.join("gohost-goplugin"),
    };
    let gopath = std::env::var_os("HEALTH_GOPATH").unwrap_or_else(|| "/usr/share/gocode".into());
    let gocache = out.join("go-build-cache");
    for (program, exe) in [("host", &built.host), ("goplugin", &built.goplugin)] {
        let result = Command::new("go")
            .current_dir(workspace())
            .env("GO111MODULE", "off")
            .env("GOPATH", &gopath)
            .env("GOCACHE", &gocache)
            .env("GOFLAGS", "")
            .args(["build", "-o"])
            .arg(exe)
            .arg(format!("./tests/gohost/{program}"))
            .output();
        let problem = match result {
            Ok(output) if output.status.success() => continue,
            Ok(output) => format!(
                "`go build ./tests/gohost/{program}` failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ),
            Err(error) => format!("cannot run `go`: {error}"),
        };
        let help = format!(
            "{problem}\nThe go-plugin host tests need Go and the go-plugin host library: \
             apt-get install {GO_PACKAGES}"
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{help}");
        }
        eprintln!("skipping: {help}");
        return None;
    }
    Some(built)
}

/// A child process that is killed, and waited for, when dropped: a test that fails midway
/// leaves no server behind.
#[derive(Debug)]
pub struct Reaped(pub Child);

impl std::ops::Deref for Reaped {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The metric families of a Prometheus text exposition, as the official Python client's parser
/// reads them (tests/python/parse_metrics.py, in the virtualenv under `scratch`); fails the test
/// if it refuses the exposition.
pub fn prometheus_families(scratch: &Path, text: &str) -> Vec<serde_json::Value> {
    use std::io::Write as _;
    let python = python_env(scratch);
    let mut child = Command::new(python)
        .arg(manifest_dir().join("python/parse_metrics.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the Prometheus parser refused the exposition:\n{}\n--- exposition ---\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
