//! What history and live streams cost, each against a baseline in the same run.
//!
//! 1. **History on the run path**: nanoseconds per run of a check that changes status on every
//!    run (each run a transition, the worst case) and of one that never does, with the default
//!    history against history turned off (`per_check` 0), rounds
//!    alternating; medians and the ratio.
//! 2. **Fan-out**: `LIVE_BENCH_STREAMS` (default 1,000) `/health/events` streams open on one
//!    server over loopback; one check flips; the time until every stream has the transition
//!    frame (median over the flips of the slowest stream, and of the median stream), and the
//!    memory each open stream costs (resident set growth over the streams, server and clients
//!    together in this process, divided by their number).
//! 3. **`WatchHealthReport` against `Watch`**: one client on each stream over loopback, the
//!    check flipping between healthy and critical (a change both can show); the time from the
//!    flip to each stream's message, medians and the ratio, and the same for a flip to
//!    `warning`, which only `WatchHealthReport` sends.
//!
//! `cargo bench -p health-runtime --bench live`

mod support;

use support::{env_or, median, per_run, switch};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use health_runtime::config::HistorySettings;
use health_runtime::{Check, HealthConfig, HealthRuntime};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn quiet_config(history: HistorySettings) -> HealthConfig {
    let mut config = support::quiet_config();
    config.history = history;
    config
}

fn runtime(history: HistorySettings, up: &Arc<AtomicBool>) -> HealthRuntime {
    HealthRuntime::builder()
        .without_declared_checks()
        .config(quiet_config(history))
        .cache_ttl(Duration::ZERO)
        .with_check(switch(up))
        .build()
        .expect("a runtime")
}

fn history_cost() {
    let runs: u32 = env_or("LIVE_BENCH_RUNS", 20_000);
    let rounds: usize = env_or("LIVE_BENCH_ROUNDS", 9);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!("== history on the run path: {runs} runs per round, {rounds} rounds, alternating");
    tokio.block_on(async {
        let mut off = HistorySettings::default();
        off.per_check = 0;
        for flip in [true, false] {
            let (up_on, up_off) = (
                Arc::new(AtomicBool::new(true)),
                Arc::new(AtomicBool::new(true)),
            );
            let with = runtime(HistorySettings::default(), &up_on);
            let without = runtime(off.clone(), &up_off);
            // Warm up both.
            per_run(&with, &up_on, runs / 10, flip).await;
            per_run(&without, &up_off, runs / 10, flip).await;
            let (mut on, mut off_ns) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                on.push(per_run(&with, &up_on, runs, flip).await);
                off_ns.push(per_run(&without, &up_off, runs, flip).await);
            }
            let kept = health_runtime::history::of(&with).len();
            let (on, off_ns) = (median(&mut on), median(&mut off_ns));
            println!(
                "{:<28} history on {on:>8.0} ns/run   off {off_ns:>8.0} ns/run   \
                 cost {:>+6.0} ns/run   ratio on/off {:.3}   (transitions kept: {kept})",
                if flip {
                    "every run a transition:"
                } else {
                    "no transition:"
                },
                on - off_ns,
                on / off_ns,
            );
        }
    });
}

/// The resident set of this process, in bytes.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Reads from `stream` until `needle` has come in `n` times counted from the start; the
/// leftover is kept in `seen`.
async fn read_until(
    stream: &mut tokio::net::TcpStream,
    seen: &mut Vec<u8>,
    needle: &[u8],
    n: usize,
) {
    let mut buffer = [0u8; 4096];
    while seen
        .windows(needle.len())
        .filter(|window| *window == needle)
        .count()
        < n
    {
        let read = stream.read(&mut buffer).await.expect("the stream reads");
        assert!(read > 0, "the event stream ended");
        seen.extend_from_slice(&buffer[..read]);
    }
}

fn fan_out() {
    let streams: usize = env_or("LIVE_BENCH_STREAMS", 1_000);
    let flips: usize = env_or("LIVE_BENCH_FLIPS", 7);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!("== /health/events fan-out: {streams} streams over loopback, {flips} flips");
    tokio.block_on(async move {
        let up = Arc::new(AtomicBool::new(true));
        let mut config = quiet_config(HistorySettings::default());
        config.details.level = health_runtime::config::DetailLevel::Always;
        config.surfaces.limits.http_connections = streams + 64;
        let runtime = HealthRuntime::builder()
            .without_declared_checks()
            .config(config)
            .cache_ttl(Duration::ZERO)
            .with_check(switch(&up))
            .build()
            .expect("a runtime");
        runtime.check("db").await.expect("registered");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        let served = runtime.clone();
        tokio::spawn(async move {
            health_runtime::http::serve(&served, listener, std::future::pending()).await
        });

        let before = rss();
        let (go_tx, _) = tokio::sync::broadcast::channel::<()>(4);
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Duration>();
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let started_at = Arc::new(std::sync::Mutex::new(Instant::now()));
        for _ in 0..streams {
            let (mut go, done, ready) = (go_tx.subscribe(), done_tx.clone(), ready_tx.clone());
            let started_at = started_at.clone();
            tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(addr)
                    .await
                    .expect("connects");
                stream
                    .write_all(b"GET /health/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    .await
                    .expect("the request is sent");
                let mut seen = Vec::new();
                read_until(&mut stream, &mut seen, b"event: state", 1).await;
                let _ = ready.send(());
                let mut transitions = 0;
                while go.recv().await.is_ok() {
                    transitions += 1;
                    read_until(&mut stream, &mut seen, b"event: transition", transitions).await;
                    let elapsed = started_at.lock().expect("not poisoned").elapsed();
                    let _ = done.send(elapsed);
                }
            });
        }
        for _ in 0..streams {
            ready_rx.recv().await.expect("every stream opens");
        }
        let open = rss();
        println!(
            "{streams} streams open: resident set {:.1} MiB -> {:.1} MiB, {:.1} KiB per stream \
             (server and client sockets together)",
            before as f64 / 1048576.0,
            open as f64 / 1048576.0,
            open.saturating_sub(before) as f64 / 1024.0 / streams as f64
        );
        let (mut slowest, mut middle) = (Vec::new(), Vec::new());
        for _ in 0..flips {
            let _ = go_tx.send(());
            // Every client waits for the frame before the flip is made.
            tokio::time::sleep(Duration::from_millis(20)).await;
            *started_at.lock().expect("not poisoned") = Instant::now();
            up.fetch_xor(true, Ordering::Relaxed);
            runtime.check("db").await.expect("registered");
            let mut times: Vec<f64> = Vec::with_capacity(streams);
            for _ in 0..streams {
                let elapsed = done_rx.recv().await.expect("every stream sees the flip");
                times.push(elapsed.as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            slowest.push(times[times.len() - 1]);
            middle.push(times[times.len() / 2]);
        }
        println!(
            "flip to transition frame on every stream: median over flips {:.2} ms \
             (the median stream {:.2} ms)",
            median(&mut slowest),
            median(&mut middle)
        );
    });
}

/// A check at the status `dial` holds: 0 healthy, 1 warning, 2 critical.
fn dialed(dial: &Arc<std::sync::atomic::AtomicU8>) -> Check {
    let dial = dial.clone();
    Check::new("db", move || {
        let status = match dial.load(Ordering::Relaxed) {
            0 => health_runtime::Status::Healthy,
            1 => health_runtime::Status::Warning,
            _ => health_runtime::Status::Critical,
        };
        async move { health_runtime::CheckOutcome::new(status).with_message("dialed") }
    })
}

fn report_stream_latency() {
    use health_runtime::pb::health::v1::HealthCheckRequest;
    use health_runtime::pb::health::v1::health_client::HealthClient;
    use health_runtime::pb::report::v1::WatchHealthReportRequest;
    use health_runtime::pb::report::v1::health_report_client::HealthReportClient;

    let flips: usize = env_or("LIVE_BENCH_REPORT_FLIPS", 101);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!("== WatchHealthReport against grpc.health.v1.Watch: {flips} flips of each kind");
    tokio.block_on(async move {
        let dial = Arc::new(std::sync::atomic::AtomicU8::new(0));
        let mut config = quiet_config(HistorySettings::default());
        config.details.level = health_runtime::config::DetailLevel::Always;
        let runtime = HealthRuntime::builder()
            .without_declared_checks()
            .config(config)
            .cache_ttl(Duration::ZERO)
            .with_check(dialed(&dial))
            .build()
            .expect("a runtime");
        runtime.check("db").await.expect("registered");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        let served = runtime.clone();
        tokio::spawn(async move {
            health_runtime::server::serve_with_shutdown(
                &served,
                listener,
                tonic::service::Routes::default(),
                std::future::pending(),
            )
            .await
        });
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("a URI")
            .connect()
            .await
            .expect("connects");
        let mut report = HealthReportClient::new(channel.clone())
            .watch_health_report(WatchHealthReportRequest {})
            .await
            .expect("WatchHealthReport")
            .into_inner();
        let mut watch = HealthClient::new(channel)
            .watch(HealthCheckRequest {
                service: "db".into(),
            })
            .await
            .expect("Watch")
            .into_inner();
        report
            .message()
            .await
            .expect("the report")
            .expect("a report");
        watch.message().await.expect("a status").expect("a status");
        let (report_tx, mut report_rx) = tokio::sync::mpsc::unbounded_channel();
        let (watch_tx, mut watch_rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(_)) = report.message().await {
                let _ = report_tx.send(Instant::now());
            }
        });
        tokio::spawn(async move {
            while let Ok(Some(_)) = watch.message().await {
                let _ = watch_tx.send(Instant::now());
            }
        });
        let (mut on_report, mut on_watch, mut warnings) = (Vec::new(), Vec::new(), Vec::new());
        for flip in 0..flips * 2 {
            // Alternately critical and back to healthy, then a warning and back.
            let critical = flip % 2 == 0;
            let started = Instant::now();
            dial.store(if critical { 2 } else { 0 }, Ordering::Relaxed);
            runtime.check("db").await.expect("registered");
            let reported = report_rx.recv().await.expect("a report message");
            let watched = watch_rx.recv().await.expect("a Watch message");
            on_report.push((reported - started).as_secs_f64() * 1e6);
            on_watch.push((watched - started).as_secs_f64() * 1e6);
        }
        for step in 0..flips * 2 {
            let started = Instant::now();
            dial.store(if step % 2 == 0 { 1 } else { 0 }, Ordering::Relaxed);
            runtime.check("db").await.expect("registered");
            let reported = report_rx.recv().await.expect("a report message");
            warnings.push((reported - started).as_secs_f64() * 1e6);
        }
        let unseen = watch_rx.try_recv().is_err();
        let (report, watch) = (median(&mut on_report), median(&mut on_watch));
        println!(
            "healthy <-> critical: WatchHealthReport {report:.0} µs, Watch {watch:.0} µs, \
             ratio {:.2}",
            report / watch
        );
        println!(
            "healthy <-> warning: WatchHealthReport {:.0} µs (median), max {:.0} µs; \
             Watch sent {}",
            median(&mut warnings),
            warnings.iter().copied().fold(0.0, f64::max),
            if unseen { "nothing" } else { "something" }
        );
    });
}

fn main() {
    history_cost();
    fan_out();
    report_stream_latency();
}
