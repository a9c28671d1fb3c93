//! Both examples under a real HashiCorp go-plugin host: `tests/gohost/host`, a small Go program
//! around `plugin.NewClient`, built against Debian's go-plugin 1.0.1. Plain and with AutoMTLS:
//! the handshake over a unix socket, 100 Pings, `Check("plugin")` SERVING, and `Kill()` ending
//! the process through `GRPCController/Shutdown`, without go-plugin's "plugin failed to exit
//! gracefully", in under 500 ms. The plugin's hclog JSON logs come out of the host re-logged at
//! their own level.
//!
//! Needs `apt-get install golang-go golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev
//! golang-github-golang-protobuf-1-5-dev golang-google-protobuf-dev golang-golang-x-net-dev`;
//! without them the test says so and passes, except in CI (`CI=true`), where it fails.

#![cfg(unix)]

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tests::process::{GoHost, build_example, go_host, run};

/// A loopback HTTP server answering `200 ok` to every request: the upstream of `kv_sqlite`.
fn upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut request = [0_u8; 4096];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
            });
        }
    });
    format!("http://{addr}/healthz")
}

/// What one run of the host saw.
struct HostRun {
    result: Value,
    stderr: String,
}

fn launch(host: &GoHost, plugin: &Path, data_dir: &Path, auto_mtls: bool) -> HostRun {
    let mut command = Command::new(&host.host);
    command
        .arg("-plugin")
        .arg(plugin)
        .args(["-pings", "100", "-checks", "20"])
        // The plugin inherits the host's environment (go-plugin adds its own variables).
        .env("KV_DATA_DIR", data_dir)
        .env("KV_UPSTREAM_URL", upstream())
        // A full disk or a busy CPU on the test machine must not turn the example's checks
        // critical: this test is about the protocol.
        .env("PLUGIN_RESOURCE_DISK_THRESHOLD", "100")
        .env("PLUGIN_RESOURCE_METRICS", "false")
        .env("RUST_LOG", "info")
        .env_remove("PLUGIN_HEALTH_HTTP_ADDR")
        .env_remove("PLUGIN_HEALTH_FILE_PATH");
    if auto_mtls {
        command.arg("-automtls");
    }
    let ran = run("the go-plugin host", &mut command, Duration::from_secs(120));
    let result: Value = serde_json::from_str(ran.stdout.trim()).unwrap_or_else(|error| {
        panic!(
            "the host printed no JSON ({error}):\n{}\n--- its stderr ---\n{}",
            ran.stdout, ran.stderr
        )
    });
    assert!(
        ran.status.success() && result["error"] == "",
        "the host failed ({}): {}\n--- its stderr ---\n{}",
        ran.status,
        result["error"],
        ran.stderr
    );
    HostRun {
        result,
        stderr: ran.stderr,
    }
}

fn judge(example: &str, run: &HostRun) {
    let result = &run.result;
    let context = || {
        format!(
            "{example}: {result}\n--- the host's stderr ---\n{}",
            run.stderr
        )
    };
    assert_eq!(result["network"], "unix", "{}", context());
    assert_eq!(result["protocol_version"], 1, "{}", context());
    assert_eq!(result["ping_count"], 100, "{}", context());
    assert_eq!(result["check_status"], "SERVING", "{}", context());
    assert_eq!(result["exited"], true, "{}", context());
    let kill_ms = result["kill_ms"].as_f64().unwrap();
    assert!(kill_ms < 500.0, "Kill() took {kill_ms} ms; {}", context());
    assert!(
        !run.stderr.contains("plugin failed to exit gracefully"),
        "{}",
        context()
    );
    // The socket is gone with the process.
    let socket = PathBuf::from(result["addr"].as_str().unwrap());
    assert!(!socket.exists(), "{} is left behind", socket.display());

    // The host re-logged the plugin's hclog lines at their own level, under the plugin's name.
    let relogged: Vec<Value> = run
        .stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["@module"] == format!("host.{example}"))
        .collect();
    let serving = relogged
        .iter()
        .find(|line| line["@message"] == "plugin: serving gRPC with health services")
        .unwrap_or_else(|| panic!("no re-logged serving line; {}", context()));
    assert_eq!(serving["@level"], "info", "{serving}");
    assert_eq!(serving["network"], "unix", "{serving}");
    assert_eq!(
        serving["auto_mtls"],
        result["auto_mtls_asked"].as_bool().unwrap_or(false),
        "{serving}"
    );
    // A line that is not hclog JSON would have been re-logged verbatim at debug level.
    for line in &relogged {
        assert_ne!(
            line["@level"], "debug",
            "a plugin line the host could not parse: {line}"
        );
    }
}

#[test]
fn both_examples_under_a_real_go_plugin_host() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let Some(host) = go_host(out) else { return };
    for example in ["plugin_server", "kv_sqlite"] {
        let exe = build_example(example);
        for auto_mtls in [false, true] {
            let data_dir = out.join(format!("gohost-{example}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&data_dir);
            let mut run = launch(&host, &exe, &data_dir, auto_mtls);
            run.result["auto_mtls_asked"] = Value::Bool(auto_mtls);
            eprintln!(
                "{example}{}: {}",
                if auto_mtls { " (AutoMTLS)" } else { "" },
                run.result
            );
            judge(example, &run);
            let _ = std::fs::remove_dir_all(&data_dir);
        }
    }
}
