//! go-plugin benchmark: the example plugin server (release build) against go-plugin's own Go
//! plugin server, both launched and measured by the same real go-plugin host
//! (`tests/gohost/host`, Debian's go-plugin 1.0.1), in alternating rounds of one run.
//!
//! `cargo bench -p tests --bench plugin`
//!
//! Per round, the host launches the plugin, measures launch → first successful Ping, makes
//! 2,000 sequential `Check("plugin")` calls over the plugin transport (a unix socket, plain or
//! AutoMTLS), and times `Kill()`. Printed per transport: the medians over the rounds of each
//! figure for both servers, and the ratio ours / Go of the p99 (target ≤ 1.5; max < 5 ms;
//! `Kill()` < 500 ms). Then a grpc-go client (the same host program with `-dial`) makes 2,000
//! sequential `Check` calls against the example serving standalone through `serve()` over TCP
//! (target: max < 5 ms, i.e. no Nagle stalls).
//!
//! Nothing is asserted: the machine is shared and noisy; compare medians and ratios.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PLUGIN_BENCH_ROUNDS` | `5` | rounds per server and transport |
//! | `PLUGIN_BENCH_CHECKS` | `2000` | sequential `Check` calls per round |

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tests::process::{GoHost, build_example_in, free_port, go_host, run, wait_for_port};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// One host run against `plugin`.
fn launch(host: &GoHost, plugin: &Path, auto_mtls: bool, checks: usize, data: &Path) -> Value {
    let mut command = Command::new(&host.host);
    command
        .arg("-plugin")
        .arg(plugin)
        .args(["-pings", "20", "-checks", &checks.to_string()])
        .env("KV_DATA_DIR", data)
        .env("PLUGIN_RESOURCE_DISK_THRESHOLD", "100")
        .env("RUST_LOG", "warn")
        .env_remove("PLUGIN_HEALTH_HTTP_ADDR")
        .env_remove("PLUGIN_HEALTH_FILE_PATH");
    if auto_mtls {
        command.arg("-automtls");
    }
    parse(run(
        "the go-plugin host",
        &mut command,
        Duration::from_secs(300),
    ))
}

fn parse(ran: tests::process::Finished) -> Value {
    let result: Value = serde_json::from_str(ran.stdout.trim()).unwrap_or_else(|error| {
        panic!(
            "the host printed no JSON ({error}): {}\n{}",
            ran.stdout, ran.stderr
        )
    });
    assert!(
        ran.status.success() && result["error"] == "",
        "the host failed: {}\n{}",
        result["error"],
        ran.stderr
    );
    assert_eq!(result["check_status"], "SERVING", "{result}");
    result
}

const FIGURES: [(&str, &str); 6] = [
    ("launch_ms", "launch → first Ping"),
    ("check_p50_ms", "Check p50"),
    ("check_p99_ms", "Check p99"),
    ("check_max_ms", "Check max"),
    ("ping_max_ms", "Ping max"),
    ("kill_ms", "Kill()"),
];

fn main() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let Some(host) = go_host(out) else { return };
    let ours = build_example_in("plugin_server", "release");
    let rounds = setting("PLUGIN_BENCH_ROUNDS", 5);
    let checks = setting("PLUGIN_BENCH_CHECKS", 2000);
    let data = out.join(format!("plugin-bench-{}", std::process::id()));

    println!(
        "go-plugin host, {rounds} rounds each, {checks} sequential Check(\"plugin\") per round"
    );
    for auto_mtls in [false, true] {
        let mut results: [Vec<Value>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            results[0].push(launch(&host, &host.goplugin, auto_mtls, checks, &data));
            results[1].push(launch(&host, &ours, auto_mtls, checks, &data));
        }
        let transport = if auto_mtls { "unix + AutoMTLS" } else { "unix" };
        println!("\n{transport}: median over rounds (ms)");
        println!(
            "{:<22} {:>10} {:>10} {:>8}",
            "", "go-plugin", "ours", "ratio"
        );
        for (key, label) in FIGURES {
            let figure = |results: &[Value]| {
                median(results.iter().map(|r| r[key].as_f64().unwrap()).collect())
            };
            let (go, rust) = (figure(&results[0]), figure(&results[1]));
            println!("{label:<22} {go:>10.3} {rust:>10.3} {:>8.2}", rust / go);
        }
        let worst = results[1]
            .iter()
            .map(|r| r["check_max_ms"].as_f64().unwrap())
            .fold(0.0, f64::max);
        println!("ours: worst Check over every round: {worst:.3} ms");
    }

    // serve() over TCP, from a grpc-go client.
    let mut maxima = Vec::new();
    let mut p99s = Vec::new();
    for _ in 0..rounds {
        let addr = free_port();
        let mut server = Command::new(&ours)
            .env("PLUGIN_HEALTH_GRPC_ADDR", addr.to_string())
            .env("PLUGIN_HEALTH_HTTP_ADDR", "")
            .env("PLUGIN_HEALTH_FILE_PATH", "")
            .env("PLUGIN_RESOURCE_DISK_THRESHOLD", "100")
            .env("KV_DATA_DIR", &data)
            .env("RUST_LOG", "warn")
            .env_remove("BASIC_PLUGIN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(&mut server, addr, Duration::from_secs(60)).unwrap();
        let result = parse(run(
            "the grpc-go client",
            Command::new(&host.host).args([
                "-dial",
                &addr.to_string(),
                "-checks",
                &checks.to_string(),
            ]),
            Duration::from_secs(300),
        ));
        let _ = server.kill();
        let _ = server.wait();
        maxima.push(result["check_max_ms"].as_f64().unwrap());
        p99s.push(result["check_p99_ms"].as_f64().unwrap());
    }
    println!(
        "\nserve() over TCP, grpc-go client, {checks} sequential Check: median p99 {:.3} ms, median max {:.3} ms, worst max {:.3} ms",
        median(p99s),
        median(maxima.clone()),
        maxima.iter().copied().fold(0.0, f64::max)
    );
    let _ = std::fs::remove_dir_all(&data);
}
