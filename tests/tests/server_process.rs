//! The example plugin server as a process, against clients that would keep it from stopping or
//! from answering: shutdown ends within the drain delay plus the grace whatever the clients do,
//! a second signal ends it sooner, probes are answered with more connections held than the
//! descriptor limit allows while the idle server uses no CPU, and Watch storms do not ratchet
//! memory up.

use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use health_runtime::pb::health::v1::{HealthCheckRequest, HealthCheckResponse};
use tests::process::{build_example, free_port, wait_for_port};
use tests::{HealthClient, ServingStatus, check_status};

/// The HTTP/2 connection preface and an empty SETTINGS frame: what a client sends first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

struct Server {
    child: tests::process::Reaped,
    grpc: SocketAddr,
    http: SocketAddr,
}

impl Server {
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; how long it took, or `None` after `within`.
    fn exited_within(&mut self, within: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < within {
            if self.child.try_wait().unwrap().is_some() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn proc(&self, file: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{file}", self.child.id())).unwrap_or_default()
    }

    /// Resident memory, in KiB.
    fn rss_kib(&self) -> u64 {
        self.proc("status")
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// User and system CPU time so far, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = self.proc("stat");
        // The fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        // utime and stime are fields 14 and 15 of stat(5); `fields[0]` is field 3.
        fields
            .get(11..13)
            .map(|both| both.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
            .unwrap_or(0)
    }
}

fn exe() -> PathBuf {
    build_example("plugin_server")
}

/// Starts the example with `env`, under `sh -c 'ulimit -n N'` when `fd_limit` is given.
fn start(exe: &Path, fd_limit: Option<u32>, env: &[(&str, &str)]) -> Server {
    let (grpc, http) = (free_port(), free_port());
    let data = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "server-process-{}-{}",
        std::process::id(),
        grpc.port()
    ));
    let mut command = match fd_limit {
        Some(limit) => {
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg(format!("ulimit -n {limit} && exec \"$0\""))
                .arg(exe);
            sh
        }
        None => Command::new(exe),
    };
    command
        .env_remove("BASIC_PLUGIN")
        .env("PLUGIN_HEALTH_GRPC_ADDR", grpc.to_string())
        .env("PLUGIN_HEALTH_HTTP_ADDR", http.to_string())
        .env("PLUGIN_HEALTH_FILE_PATH", "")
        .env("PLUGIN_RESOURCE_DISK_THRESHOLD", "100")
        .env("KV_DATA_DIR", &data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command.spawn().expect("starting plugin_server");
    let mut server = Server {
        child: tests::process::Reaped(child),
        grpc,
        http,
    };
    wait_for_port(&mut server.child, grpc, Duration::from_secs(60)).unwrap();
    wait_for_port(&mut server.child, http, Duration::from_secs(10)).unwrap();
    server
}

async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap()
}

/// Opens every kind of stuck client against `server`; they stay open as long as the returned
/// value lives.
async fn stuck_clients(server: &Server) -> (Vec<TcpStream>, tokio::task::JoinHandle<()>) {
    let mut held = Vec::new();
    // A gRPC connection that sends its preface and never reads.
    let mut silent = TcpStream::connect(server.grpc).unwrap();
    silent.write_all(H2_PREFACE).unwrap();
    held.push(silent);
    // An HTTP request stopped in the middle of its headers.
    let mut half = TcpStream::connect(server.http).unwrap();
    half.write_all(b"GET /health HTTP/1.1\r\nHo").unwrap();
    held.push(half);
    // An idle h2c connection on the HTTP port.
    let mut h2c = TcpStream::connect(server.http).unwrap();
    h2c.write_all(H2_PREFACE).unwrap();
    held.push(h2c);
    // A gRPC call whose request message never comes.
    let channel = channel(server.grpc).await;
    let pending = tokio::spawn(async move {
        let mut grpc = tonic::client::Grpc::new(channel);
        if grpc.ready().await.is_ok() {
            let _ = grpc
                .client_streaming::<_, HealthCheckRequest, HealthCheckResponse, _>(
                    tonic::Request::new(futures::stream::pending::<HealthCheckRequest>()),
                    "/grpc.health.v1.Health/Check".parse().unwrap(),
                    tonic_prost::ProstCodec::default(),
                )
                .await;
        }
    });
    // A gRPC connection in the middle of a request that stops reading its answer.
    let mut unread = TcpStream::connect(server.grpc).unwrap();
    unread.write_all(H2_PREFACE).unwrap();
    held.push(unread);
    tokio::time::sleep(Duration::from_millis(300)).await;
    (held, pending)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_within_drain_plus_grace_whatever_clients_do() {
    let exe = tokio::task::spawn_blocking(exe).await.unwrap();
    let mut server = start(
        &exe,
        None,
        &[
            ("PLUGIN_HEALTH_DRAIN_DELAY", "1s"),
            ("PLUGIN_HEALTH_SHUTDOWN_GRACE", "2s"),
        ],
    );
    let _stuck = stuck_clients(&server).await;
    server.signal("-TERM");
    let took = server.exited_within(Duration::from_secs(15));
    let took =
        took.expect("still running 15 s after SIGTERM, with a drain of 1 s and a grace of 2 s");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(6),
        "exited {took:?} after SIGTERM; drain 1 s + grace 2 s"
    );
    assert!(server.child.try_wait().unwrap().unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_cuts_the_drain_short() {
    let exe = tokio::task::spawn_blocking(exe).await.unwrap();
    for second in ["-TERM", "-INT"] {
        let mut server = start(
            &exe,
            None,
            &[
                ("PLUGIN_HEALTH_DRAIN_DELAY", "60s"),
                ("PLUGIN_HEALTH_SHUTDOWN_GRACE", "60s"),
            ],
        );
        let _stuck = stuck_clients(&server).await;
        server.signal("-TERM");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut health = HealthClient::new(channel(server.grpc).await);
        assert_eq!(
            check_status(&mut health, "").await,
            Ok(ServingStatus::NotServing),
            "draining after the first signal"
        );
        server.signal(second);
        let took = server.exited_within(Duration::from_secs(10));
        assert!(
            took.is_some_and(|took| took < Duration::from_secs(4)),
            "after a second signal ({second}) the process exited after {took:?}; drain and grace are 60 s"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_past_the_descriptor_limit_while_the_idle_server_stays_idle() {
    const LIMIT: u32 = 256;
    let exe = tokio::task::spawn_blocking(exe).await.unwrap();
    let server = start(&exe, Some(LIMIT), &[]);
    let limits = server.proc("limits");
    assert!(
        limits
            .lines()
            .any(|line| line.starts_with("Max open files") && line.contains(&LIMIT.to_string())),
        "{limits}"
    );
    // More idle connections than the process may hold descriptors.
    let http = server.http;
    let held = tokio::task::spawn_blocking(move || {
        (0..LIMIT + 150)
            .filter_map(|_| TcpStream::connect_timeout(&http, Duration::from_secs(2)).ok())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert!(
        held.len() > LIMIT as usize,
        "{} connections opened",
        held.len()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut health = HealthClient::new(channel(server.grpc).await);
    assert_eq!(
        check_status(&mut health, "").await,
        Ok(ServingStatus::Serving)
    );
    let response = reqwest::Client::new()
        .get(format!("http://{}/health", server.http))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("/health answered");
    assert_eq!(response.status(), 200);

    // Idle, with the connections still held: no accept loop spins.
    let (before, started) = (server.cpu_ticks(), Instant::now());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = server.cpu_ticks() - before;
    // Clock ticks are 1/100 s on Linux: 20 ticks in 2 s is 10 % of one core.
    assert!(
        used <= 20,
        "the idle server used {used} ticks of CPU in {:?}",
        started.elapsed()
    );
    assert_eq!(
        check_status(&mut health, "").await,
        Ok(ServingStatus::Serving)
    );
    drop(held);
}

/// Opens `streams` Watch streams over `connections` connections, waits for each first answer,
/// then drops them all at once, as a killed client does.
async fn watch_storm(addr: SocketAddr, streams: usize, connections: usize) {
    let mut channels = Vec::new();
    for _ in 0..connections {
        channels.push(channel(addr).await);
    }
    let mut opened = Vec::with_capacity(streams);
    let mut opening = futures::stream::FuturesUnordered::new();
    for index in 0..streams {
        let channel = channels[index % connections].clone();
        opening.push(async move {
            let mut client = HealthClient::new(channel);
            let mut stream = client.watch(tests::request("")).await.ok()?.into_inner();
            stream.message().await.ok()??;
            Some(stream)
        });
        if opening.len() >= 500 {
            use futures::StreamExt as _;
            if let Some(Some(stream)) = opening.next().await {
                opened.push(stream);
            }
        }
    }
    use futures::StreamExt as _;
    while let Some(stream) = opening.next().await {
        opened.extend(stream);
    }
    assert!(
        opened.len() >= streams * 9 / 10,
        "{} of {streams} opened",
        opened.len()
    );
    drop(opened);
    drop(channels);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_watch_storms_in_a_row_leave_memory_where_the_first_left_it() {
    let exe = tokio::task::spawn_blocking(exe).await.unwrap();
    let server = start(&exe, None, &[]);
    let baseline = server.rss_kib();
    let mut after = Vec::new();
    for _ in 0..2 {
        watch_storm(server.grpc, 10_000, 20).await;
        // The streams' ends reach the server, and the trim after the last one runs (at most
        // one per 2 s: the second storm's may wait for the first's gap).
        let mut closed = false;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let metrics = reqwest::get(format!("http://{}/metrics", server.http))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            closed = metrics
                .lines()
                .any(|line| line == "health_watch_streams 0" || line == "health_watch_streams 0.0");
            if closed {
                break;
            }
        }
        assert!(closed, "every stream closed");
        tokio::time::sleep(Duration::from_secs(3)).await;
        after.push(server.rss_kib());
    }
    eprintln!("RSS: {baseline} KiB before, {after:?} KiB after each storm of 10,000 Watch streams");
    let (first, second) = (after[0], after[1]);
    assert!(
        second <= first + first / 10 + 2048,
        "RSS grew from {first} KiB after the first storm to {second} KiB after the second"
    );
    // The memory the streams held went back to the system (where the allocator can give it).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    assert!(
        first <= baseline + 16 * 1024,
        "RSS {first} KiB after a storm, {baseline} KiB before"
    );
    let mut health = HealthClient::new(channel(server.grpc).await);
    assert_eq!(
        check_status(&mut health, "").await,
        Ok(ServingStatus::Serving)
    );
}
