//! gRPC benchmark: our `grpc.health.v1.Health` service against `tonic-health`, in one run, on
//! loopback, loaded by the same client.
//!
//! `cargo bench -p health-runtime --bench grpc`
//!
//! What it measures:
//!
//! 1. **`Check` throughput and latency.** Both servers answer `Check` for the name `db`:
//!    `tonic-health` from a static status set to `SERVING`, ours from a checker-backed check
//!    (`Check::new("db", ..)`) whose result is served from cache (cache TTL 60 s; the first run
//!    happens before the load starts). One client (4 connections, 64 calls in flight) loads them
//!    in alternating rounds, `tonic-health`/ours/`tonic-health`/ours..., and prints requests/s,
//!    p50 and p99 of each round, their medians, and the ratios ours / `tonic-health` (targets:
//!    throughput ratio >= 0.95, p99 <= 1.1 x `tonic-health`'s). Also the server's CPU time per
//!    call (user + system, from `/proc/<pid>/stat`), which other load on the machine disturbs
//!    far less than requests/s.
//! 2. **`Watch` fan-out.** 10,000 `Watch` streams on `db`, spread evenly over 20 connections and
//!    opened at a bounded pace (at most 64 waiting for their first message at once), then one
//!    status flip: `tonic-health` sets `NOT_SERVING`, ours makes the checker fail and runs it
//!    (cache TTL 100 ms there, and the flip comes 500 ms after the last stream opened, so the
//!    run is not served from cache). The clock starts when the client writes the `flip` command
//!    to the server's stdin and stops when the last stream task receives `NOT_SERVING`. Printed:
//!    that time (target <= 250 ms) and the median over the streams, the server's resident memory
//!    per open stream, and the count of open streams our server reports (`grpc::watch_streams`).
//!
//! Each server runs in a child process, this same binary re-executed with
//! `GRPC_BENCH_ROLE=server-ours` or `server-tonic`: it serves on `127.0.0.1:0`, prints
//! `port N`, and answers one line per command read from stdin (`flip`, `streams`), so that its
//! memory (`VmRSS` in `/proc/<pid>/status`) is its own and it does not share a runtime with the
//! client. Memory per stream is (RSS with every stream open - RSS with the connections open and
//! no stream) / streams. Fresh server processes are used for every fan-out round.
//!
//! Nothing is asserted: the machine this runs on is shared and noisy, so compare the medians and
//! the ratios, not single rounds.
//!
//! Settings (environment):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `GRPC_BENCH_PART` | `all` | `check`, `watch` or `all` |
//! | `GRPC_BENCH_SECONDS` | `3` | length of one `Check` round, in seconds (fractions allowed) |
//! | `GRPC_BENCH_ROUNDS` | `4` | `Check` rounds per implementation |
//! | `GRPC_BENCH_STREAMS` | `10000` | `Watch` streams |
//! | `GRPC_BENCH_CONNECTIONS` | `20` | connections the streams are spread over |
//! | `GRPC_BENCH_FANOUT_ROUNDS` | `3` | fan-out rounds per implementation |
//! | `GRPC_BENCH_OPENING` | `64` | most `Watch` streams waiting for their first message at once |
//!
//! e.g. a quick run: `GRPC_BENCH_SECONDS=1 GRPC_BENCH_ROUNDS=2 GRPC_BENCH_FANOUT_ROUNDS=1
//! cargo bench -p health-runtime --bench grpc`.
//!
//! About the pace: the tonic client sends a `Watch` request as a small DATA frame right after
//! its HEADERS. A burst of thousands of new streams on one connection leaves that many small
//! frames buffered in the server's h2 connection before the service reads them, which exhausts
//! h2's DATA-frame budget (half the connection window: 512 KiB with tonic's default 1 MiB
//! window, about 2,000 buffered requests); h2 then sends `GOAWAY` with `ENHANCE_YOUR_CALM`
//! (`too_many_data_frames`) and the streams on the connection fail. Hence several connections
//! and a bounded number of streams being opened at once. To see it happen:
//! `GRPC_BENCH_PART=watch GRPC_BENCH_CONNECTIONS=1 GRPC_BENCH_STREAMS=5000
//! GRPC_BENCH_OPENING=5000 cargo bench -p health-runtime --bench grpc`.

mod support;

use support::env_or;

use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use health_runtime::pb::health::v1::HealthCheckRequest;
use health_runtime::pb::health::v1::health_check_response::ServingStatus;
use health_runtime::pb::health::v1::health_client::HealthClient;
use health_runtime::{Check, HealthConfig, HealthRuntime, Status};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tonic::transport::{Channel, Endpoint};

/// The health service name both servers answer and the client asks for.
const NAME: &str = "db";
/// Calls in flight during a `Check` round, and the connections they share.
const IN_FLIGHT: usize = 64;
const CHECK_CONNECTIONS: usize = 4;
/// By default, at most this many `Watch` streams wait for their first message at once.
const OPENING_AT_ONCE: usize = 64;
/// The cache TTL of our server in the fan-out rounds: short, so that the flip's run is not
/// served from cache, yet the streams being opened do not run the check for every `Watch`.
const FANOUT_CACHE_TTL: Duration = Duration::from_millis(100);
/// The cache TTL of our server in the `Check` rounds: every call is served from cache.
const CHECK_CACHE_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Server {
    Tonic,
    Ours,
}

impl Server {
    fn role(self) -> &'static str {
        match self {
            Server::Tonic => "server-tonic",
            Server::Ours => "server-ours",
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Server::Tonic => "tonic-health",
            Server::Ours => "ours",
        })
    }
}

fn main() {
    match std::env::var("GRPC_BENCH_ROLE").as_deref() {
        Ok("server-tonic") => serve(Server::Tonic),
        Ok("server-ours") => serve(Server::Ours),
        Ok(other) => panic!("unknown GRPC_BENCH_ROLE `{other}`"),
        Err(_) => drive(),
    }
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// ---------------------------------------------------------------------------------------------
// The server processes.

/// Serves one implementation on 127.0.0.1:0 until stdin closes.
fn serve(server: Server) {
    let cache_ttl = Duration::from_millis(env_or(
        "GRPC_BENCH_CACHE_TTL_MS",
        CHECK_CACHE_TTL.as_millis() as u64,
    ));
    let rt = tokio_runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let commands = stdin_lines();
        match server {
            Server::Tonic => serve_tonic(listener, port, commands).await,
            Server::Ours => serve_ours(listener, port, commands, cache_ttl).await,
        }
    });
    // Stdin closed: the driver is done with this server.
    std::process::exit(0);
}

/// tonic-health's service, flipped by `reporter.set_service_status`.
async fn serve_tonic(
    listener: TcpListener,
    port: u16,
    mut commands: mpsc::UnboundedReceiver<String>,
) {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(NAME, tonic_health::ServingStatus::Serving)
        .await;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                std::future::pending::<()>(),
            ),
    );
    reply(format_args!("port {port}"));
    while let Some(command) = commands.recv().await {
        match command.as_str() {
            "flip" => {
                let started = Instant::now();
                reporter
                    .set_service_status(NAME, tonic_health::ServingStatus::NotServing)
                    .await;
                reply(format_args!("flipped in {:?}", started.elapsed()));
            }
            "streams" => reply(format_args!("streams n/a")),
            other => reply(format_args!("unknown command `{other}`")),
        }
    }
}

/// Our runtime's services, flipped by the check's own result.
async fn serve_ours(
    listener: TcpListener,
    port: u16,
    mut commands: mpsc::UnboundedReceiver<String>,
    cache_ttl: Duration,
) {
    let healthy = Arc::new(AtomicBool::new(true));
    let checker = healthy.clone();
    // gRPC only: no HTTP server, no health file.
    let mut config = HealthConfig::default();
    config.surfaces.http_addr = None;
    config.surfaces.health_file = None;
    let runtime = HealthRuntime::builder()
        .config(config)
        .without_declared_checks()
        .cache_ttl(cache_ttl)
        .default_interval(Duration::from_secs(3600))
        .with_check(Check::new(NAME, move || {
            let healthy = checker.load(Ordering::SeqCst);
            async move { healthy }
        }))
        .build()
        .expect("valid check");
    // The first run, so that the name serves from cache from the first call on.
    runtime.check(NAME).await.expect("known check");
    tokio::spawn({
        let runtime = runtime.clone();
        async move {
            health_runtime::server::serve_with_shutdown(
                &runtime,
                listener,
                tonic::service::Routes::default(),
                std::future::pending::<()>(),
            )
            .await
        }
    });
    reply(format_args!("port {port}"));
    while let Some(command) = commands.recv().await {
        match command.as_str() {
            "flip" => {
                let started = Instant::now();
                healthy.store(false, Ordering::SeqCst);
                let status = runtime.check(NAME).await.expect("known check");
                let status = status.state().status();
                let elapsed = started.elapsed();
                if status == Status::Critical {
                    reply(format_args!("flipped in {elapsed:?}"));
                } else {
                    reply(format_args!("flip failed: {NAME} is {status} (cached?)"));
                }
            }
            "streams" => reply(format_args!(
                "streams {}",
                health_runtime::grpc::watch_streams(&runtime)
            )),
            other => reply(format_args!("unknown command `{other}`")),
        }
    }
}

/// The lines of stdin, read on a thread of their own; the channel closes at end of input.
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (lines, receiver) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines.send(line.trim().to_owned()).is_err() {
                break;
            }
        }
    });
    receiver
}

fn reply(line: fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").expect("stdout");
    stdout.flush().expect("stdout");
}

/// A server child process, driven over its stdin and stdout.
struct ServerProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    port: u16,
}

impl ServerProcess {
    fn spawn(server: Server, cache_ttl: Duration) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("current exe"))
            .env("GRPC_BENCH_ROLE", server.role())
            .env("GRPC_BENCH_CACHE_TTL_MS", cache_ttl.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the server process");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("server output");
        let port = line
            .trim()
            .strip_prefix("port ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("{server} server said `{}`", line.trim()));
        ServerProcess {
            child,
            stdin,
            stdout,
            port,
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("server stdin");
        self.stdin.flush().expect("server stdin");
    }

    fn read_reply(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("server output");
        line.trim().to_owned()
    }

    fn command(&mut self, command: &str) -> String {
        self.send(command);
        self.read_reply()
    }

    /// CPU time the process has used, user and system, from `/proc/<pid>/stat`; counted in
    /// ticks of 10 ms (Linux's `USER_HZ` of 100).
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("/proc/<pid>/stat");
        // After the command name, in parentheses, come the fields from the 3rd (state) on;
        // utime and stime are the 14th and 15th.
        let after_name = &stat[stat.rfind(')').expect("command name") + 1..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks: u64 = fields[11..13]
            .iter()
            .map(|field| field.parse::<u64>().expect("CPU ticks"))
            .sum();
        Duration::from_millis(ticks * 10)
    }

    /// Resident memory, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/<pid>/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The client.

/// `count` connections to the server on `port`, each its own HTTP/2 connection.
async fn connect(port: u16, count: usize) -> Vec<Channel> {
    let endpoint = Endpoint::from_shared(format!("http://127.0.0.1:{port}")).expect("endpoint");
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count {
        let channel = endpoint.connect().await.expect("connect");
        // One call, so that the connection is fully set up on both sides.
        let status = HealthClient::new(channel.clone())
            .check(request())
            .await
            .expect("warm-up Check")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "warm-up Check");
        channels.push(channel);
    }
    channels
}

fn request() -> HealthCheckRequest {
    HealthCheckRequest {
        service: NAME.to_owned(),
    }
}

/// A figure of a `Check` round.
type RoundFigure = fn(&Round) -> f64;

/// One `Check` round.
struct Round {
    server: Server,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    calls: usize,
    errors: usize,
    /// Server CPU time per call, in µs.
    server_cpu_per_call: f64,
}

/// `IN_FLIGHT` callers, spread over `channels`, call `Check` back to back for `length`.
async fn check_round(server: Server, channels: &[Channel], length: Duration) -> Round {
    let started = Instant::now();
    let deadline = started + length;
    let callers: Vec<_> = (0..IN_FLIGHT)
        .map(|i| {
            let mut client = HealthClient::new(channels[i % channels.len()].clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(1 << 15);
                let mut errors = 0;
                loop {
                    let call = Instant::now();
                    if call >= deadline {
                        break;
                    }
                    match client.check(request()).await {
                        Ok(response)
                            if response.get_ref().status == ServingStatus::Serving as i32 =>
                        {
                            latencies.push(call.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for caller in callers {
        let (mut mine, my_errors) = caller.await.expect("caller task");
        latencies.append(&mut mine);
        errors += my_errors;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Round {
        server,
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        calls: latencies.len(),
        errors,
        server_cpu_per_call: f64::NAN,
    }
}

/// The `p` quantile of sorted values (nearest rank).
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn check_benchmark(rt: &tokio::runtime::Runtime) {
    let length = Duration::from_secs_f64(env_or("GRPC_BENCH_SECONDS", 3.0));
    let rounds: usize = env_or("GRPC_BENCH_ROUNDS", 4);
    println!(
        "== Check `{NAME}`: {IN_FLIGHT} calls in flight over {CHECK_CONNECTIONS} connections, \
         {rounds} rounds of {length:?} per server, alternating tonic-health / ours"
    );
    let mut servers: Vec<(Server, ServerProcess)> = [Server::Tonic, Server::Ours]
        .into_iter()
        .map(|server| (server, ServerProcess::spawn(server, CHECK_CACHE_TTL)))
        .collect();
    let channels: Vec<Vec<Channel>> = servers
        .iter()
        .map(|(_, process)| rt.block_on(connect(process.port, CHECK_CONNECTIONS)))
        .collect();
    // Warm-up: one short untimed round on each.
    for ((server, _), channels) in servers.iter().zip(&channels) {
        rt.block_on(check_round(*server, channels, Duration::from_millis(500)));
    }
    let mut results: Vec<Round> = Vec::new();
    for round in 1..=rounds {
        for ((server, process), channels) in servers.iter().zip(&channels) {
            let cpu_before = process.cpu_time();
            let mut result = rt.block_on(check_round(*server, channels, length));
            let cpu = process.cpu_time().saturating_sub(cpu_before);
            result.server_cpu_per_call = micros(cpu) / result.calls as f64;
            println!(
                "round {round} {:<12} {:>9.0} req/s  p50 {:>7.1} µs  p99 {:>7.1} µs  \
                 server CPU {:>5.1} µs/call  ({} calls, {} errors)",
                result.server.to_string(),
                result.per_second,
                micros(result.p50),
                micros(result.p99),
                result.server_cpu_per_call,
                result.calls,
                result.errors,
            );
            results.push(result);
        }
    }
    let of = |server: Server, figure: RoundFigure| -> Vec<f64> {
        results
            .iter()
            .filter(|round| round.server == server)
            .map(figure)
            .collect()
    };
    let figures: [(&str, RoundFigure); 4] = [
        ("req/s", |round| round.per_second),
        ("p50 µs", |round| micros(round.p50)),
        ("p99 µs", |round| micros(round.p99)),
        ("server CPU µs/call", |round| round.server_cpu_per_call),
    ];
    println!("medians over {rounds} rounds:");
    let mut ratios = Vec::new();
    for (label, figure) in figures {
        let mut tonic = of(Server::Tonic, figure);
        let mut ours = of(Server::Ours, figure);
        // Each round of ours against the tonic-health round just before it.
        let mut paired: Vec<f64> = ours.iter().zip(&tonic).map(|(o, t)| o / t).collect();
        let (tonic, ours) = (median(&mut tonic), median(&mut ours));
        let paired = median(&mut paired);
        println!(
            "  {label:<18} tonic-health {tonic:>9.1}  ours {ours:>9.1}  ours/tonic-health {:.3} \
             (median of per-round ratios {paired:.3})",
            ours / tonic
        );
        ratios.push(ours / tonic);
    }
    println!(
        "  targets: throughput ratio >= 0.95: {:.3} {}; p99 <= 1.1 x tonic-health's: {:.3} {}",
        ratios[0],
        verdict(ratios[0] >= 0.95),
        ratios[2],
        verdict(ratios[2] <= 1.1),
    );
    drop(channels);
    servers.clear();
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// A figure of a fan-out round, if it has one.
type FanOutFigure = fn(&FanOut) -> Option<f64>;

/// One fan-out round.
struct FanOut {
    opened: usize,
    failed: usize,
    first_error: Option<String>,
    open_time: Duration,
    rss_before_kib: u64,
    rss_after_kib: u64,
    server_streams: String,
    server_flip: String,
    all_saw: Option<Duration>,
    median_saw: Option<Duration>,
    saw: usize,
}

impl FanOut {
    fn per_stream_bytes(&self) -> f64 {
        (self.rss_after_kib as f64 - self.rss_before_kib as f64) * 1024.0 / self.opened as f64
    }
}

/// One watcher: reports whether its stream opened serving, then when it saw `NOT_SERVING`.
async fn watch_until_flipped(
    mut client: HealthClient<Channel>,
    opening: Arc<Semaphore>,
    opened_tx: mpsc::UnboundedSender<Result<(), String>>,
    seen_tx: mpsc::UnboundedSender<Instant>,
) {
    let permit = opening.acquire_owned().await.expect("semaphore");
    let mut stream = match client.watch(request()).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            let _ = opened_tx.send(Err(status.to_string()));
            return;
        }
    };
    let first = match stream.message().await {
        Ok(Some(response)) if response.status == ServingStatus::Serving as i32 => Ok(()),
        Ok(Some(response)) => Err(format!("first status {}", response.status)),
        Ok(None) => Err("the stream ended".to_owned()),
        Err(status) => Err(status.to_string()),
    };
    drop(permit);
    let serving = first.is_ok();
    let _ = opened_tx.send(first);
    if !serving {
        return;
    }
    while let Ok(Some(response)) = stream.message().await {
        if response.status == ServingStatus::NotServing as i32 {
            let _ = seen_tx.send(Instant::now());
        }
    }
}

fn fan_out_round(
    rt: &tokio::runtime::Runtime,
    server: Server,
    streams: usize,
    connections: usize,
    opening_at_once: usize,
) -> FanOut {
    let mut process = ServerProcess::spawn(server, FANOUT_CACHE_TTL);
    let channels = rt.block_on(connect(process.port, connections));
    std::thread::sleep(Duration::from_millis(300));
    let rss_before_kib = process.rss_kib();

    // Open the streams, at most `opening_at_once` waiting for their first message at once.
    let (opened_tx, mut opened_rx) = mpsc::unbounded_channel::<Result<(), String>>();
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel::<Instant>();
    let opening = Arc::new(Semaphore::new(opening_at_once));
    let started = Instant::now();
    let watchers: Vec<_> = (0..streams)
        .map(|i| {
            let client = HealthClient::new(channels[i % connections].clone());
            let opening = opening.clone();
            let opened_tx = opened_tx.clone();
            let seen_tx = seen_tx.clone();
            rt.spawn(watch_until_flipped(client, opening, opened_tx, seen_tx))
        })
        .collect();
    drop((opened_tx, seen_tx));
    let (mut opened, mut failed, mut first_error) = (0, 0, None);
    rt.block_on(async {
        // Every watcher reports once; the ones that opened keep their sender.
        for _ in 0..streams {
            match opened_rx.recv().await {
                Some(Ok(())) => opened += 1,
                Some(Err(error)) => {
                    failed += 1;
                    first_error.get_or_insert(error);
                }
                None => break,
            }
        }
    });
    let open_time = started.elapsed();
    // Let the server settle and the cached result age past the cache TTL.
    std::thread::sleep(Duration::from_millis(500));
    let rss_after_kib = process.rss_kib();
    let server_streams = process.command("streams");

    // The flip.
    let flipped = Instant::now();
    process.send("flip");
    let mut seen = Vec::with_capacity(opened);
    rt.block_on(async {
        while seen.len() < opened {
            match tokio::time::timeout(Duration::from_secs(30), seen_rx.recv()).await {
                Ok(Some(at)) => seen.push(at.saturating_duration_since(flipped)),
                _ => break,
            }
        }
    });
    let server_flip = process.read_reply();
    seen.sort_unstable();
    let all_saw = (seen.len() == opened && opened > 0).then(|| seen[seen.len() - 1]);
    let median_saw = (!seen.is_empty()).then(|| percentile(&seen, 0.5));

    for watcher in &watchers {
        watcher.abort();
    }
    rt.block_on(async {
        for watcher in watchers {
            let _ = watcher.await;
        }
    });
    drop(channels);
    drop(process);
    FanOut {
        opened,
        failed,
        first_error,
        open_time,
        rss_before_kib,
        rss_after_kib,
        server_streams,
        server_flip,
        all_saw,
        median_saw,
        saw: seen.len(),
    }
}

fn millis(duration: Option<Duration>) -> String {
    match duration {
        Some(duration) => format!("{:.1} ms", duration.as_secs_f64() * 1e3),
        None => "n/a".to_owned(),
    }
}

fn watch_benchmark(rt: &tokio::runtime::Runtime) {
    let streams: usize = env_or("GRPC_BENCH_STREAMS", 10_000);
    let connections: usize = env_or("GRPC_BENCH_CONNECTIONS", 20);
    let rounds: usize = env_or("GRPC_BENCH_FANOUT_ROUNDS", 3);
    let opening_at_once: usize = env_or("GRPC_BENCH_OPENING", OPENING_AT_ONCE);
    println!(
        "== Watch `{NAME}` fan-out: {streams} streams over {connections} connections \
         (at most {opening_at_once} opening at once), one flip to NOT_SERVING, {rounds} rounds per \
         server, alternating tonic-health / ours"
    );
    let mut results: Vec<(Server, FanOut)> = Vec::new();
    for round in 1..=rounds {
        for server in [Server::Tonic, Server::Ours] {
            let result = fan_out_round(rt, server, streams, connections, opening_at_once);
            println!(
                "round {round} {:<12} opened {} ({} failed) in {:.2} s; all saw the flip after {} \
                 (median {}, {} of {} saw it); RSS {} -> {} KiB = {:.0} B/stream; server: `{}`, `{}`",
                server.to_string(),
                result.opened,
                result.failed,
                result.open_time.as_secs_f64(),
                millis(result.all_saw),
                millis(result.median_saw),
                result.saw,
                result.opened,
                result.rss_before_kib,
                result.rss_after_kib,
                result.per_stream_bytes(),
                result.server_streams,
                result.server_flip,
            );
            if let Some(error) = &result.first_error {
                println!("  first failure: {error}");
            }
            results.push((server, result));
        }
    }
    let of = |server: Server, figure: FanOutFigure| -> Option<f64> {
        let mut values: Vec<f64> = results
            .iter()
            .filter(|(s, _)| *s == server)
            .map(|(_, result)| figure(result))
            .collect::<Option<_>>()?;
        (!values.is_empty()).then(|| median(&mut values))
    };
    let show = |value: Option<f64>, unit: &str| match value {
        Some(value) => format!("{value:.1} {unit}"),
        None => "n/a".to_owned(),
    };
    println!("medians over {rounds} rounds:");
    let figures: [(&str, &str, FanOutFigure); 3] = [
        ("all saw the flip", "ms", |r| {
            r.all_saw.map(|d| d.as_secs_f64() * 1e3)
        }),
        ("median saw the flip", "ms", |r| {
            r.median_saw.map(|d| d.as_secs_f64() * 1e3)
        }),
        ("memory per stream", "B", |r| Some(r.per_stream_bytes())),
    ];
    let mut ours_all_saw = None;
    for (label, unit, figure) in figures {
        let tonic = of(Server::Tonic, figure);
        let ours = of(Server::Ours, figure);
        let ratio = match (ours, tonic) {
            (Some(ours), Some(tonic)) => format!("{:.2}", ours / tonic),
            _ => "n/a".to_owned(),
        };
        println!(
            "  {label:<20} tonic-health {:>10}  ours {:>10}  ours/tonic-health {ratio}",
            show(tonic, unit),
            show(ours, unit)
        );
        if ours_all_saw.is_none() {
            ours_all_saw = Some(ours);
        }
    }
    if let Some(Some(all_saw)) = ours_all_saw {
        println!(
            "  target: all saw the flip <= 250 ms: {all_saw:.1} ms {}",
            verdict(all_saw <= 250.0)
        );
    } else {
        println!("  target: all saw the flip <= 250 ms: MISSED (not every stream saw it)");
    }
}

fn drive() {
    let part = std::env::var("GRPC_BENCH_PART").unwrap_or_else(|_| "all".to_owned());
    let rt = tokio_runtime();
    if part == "all" || part == "check" {
        check_benchmark(&rt);
    }
    if part == "all" || part == "watch" {
        watch_benchmark(&rt);
    }
}
