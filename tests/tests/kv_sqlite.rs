//! The flagship example, `kv_sqlite`, run as a real process: its dependencies are broken for real
//! (the SQLite file locked by another connection, the upstream HTTP server stopped) and readiness
//! follows, on a gRPC `Watch` stream and on `/ready`, then recovers once they are fixed.

#![cfg(unix)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tests::process::{build_example, free_port, wait_for_port};
use tests::{HealthClient, ServingStatus, next_status, request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `PLUGIN_HEALTH_CHECK_INTERVAL` given to the server.
const INTERVAL: Duration = Duration::from_secs(1);
/// The largest timeout of the example's readiness checks (`kv_database`).
const TIMEOUT: Duration = Duration::from_secs(2);
/// Slack for a loaded machine: process scheduling, the cache TTL, the first Watch message.
const MARGIN: Duration = Duration::from_secs(6);

/// The upstream: a tiny HTTP/1.1 server answering `200 ok` to everything, until stopped.
struct Upstream(tokio::task::JoinHandle<()>);

impl Upstream {
    async fn start(addr: SocketAddr) -> Upstream {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        Upstream(tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    let _ = stream.read(&mut buffer).await;
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                    let _ = stream.shutdown().await;
                });
            }
        }))
    }

    /// Stops listening: connections are refused from now on.
    async fn stop(self) {
        self.0.abort();
        let _ = self.0.await;
    }
}

/// The running example; killed when dropped.
struct Server(tests::process::Reaped);

impl Server {
    fn start(
        exe: &Path,
        data_dir: &Path,
        http: SocketAddr,
        upstream: SocketAddr,
    ) -> (Server, String) {
        let addr = free_port();
        let child = Command::new(exe)
            .env("PLUGIN_HEALTH_GRPC_ADDR", addr.to_string())
            .env_remove("BASIC_PLUGIN")
            .env("PLUGIN_HEALTH_HTTP_ADDR", http.to_string())
            .env("PLUGIN_HEALTH_FILE_PATH", "")
            .env("PLUGIN_HEALTH_CHECK_INTERVAL", "1s")
            .env("PLUGIN_RESOURCE_DISK_THRESHOLD", "100")
            .env("KV_DATA_DIR", data_dir)
            .env("KV_UPSTREAM_URL", format!("http://{upstream}/healthz"))
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting kv_sqlite");
        let mut server = Server(tests::process::Reaped(child));
        if let Err(why) = wait_for_port(&mut server.0, addr, Duration::from_secs(60)) {
            panic!("kv_sqlite: {why}");
        }
        (server, addr.to_string())
    }
}

/// Waits for `want` on the Watch stream, within `within`; returns how long it took.
async fn watch_until(
    stream: &mut tonic::Streaming<health_runtime::pb::health::v1::HealthCheckResponse>,
    want: ServingStatus,
    within: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let left = within.saturating_sub(started.elapsed());
        match next_status(stream, left).await {
            Some(status) if status == want => return started.elapsed(),
            Some(_) => {}
            None => panic!("readiness did not turn {want:?} within {within:?}"),
        }
    }
}

/// Polls `/ready` until it answers `want`, within `within`.
async fn ready_until(http: SocketAddr, want: u16, within: Duration) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < within {
        last = client
            .get(format!("http://{http}/ready"))
            .send()
            .await
            .ok()
            .map(|response| response.status().as_u16());
        if last == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/ready did not answer {want} within {within:?}; last: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_and_the_upstream() {
    let exe = tokio::task::spawn_blocking(|| build_example("kv_sqlite"))
        .await
        .unwrap();
    let data_dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("kv-sqlite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let upstream_addr = free_port();
    let http = free_port();
    let upstream = Upstream::start(upstream_addr).await;
    let (_server, addr) = Server::start(&exe, &data_dir, http, upstream_addr);

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let mut watch = health
        .watch(request("readiness"))
        .await
        .unwrap()
        .into_inner();
    watch_until(&mut watch, ServingStatus::Serving, Duration::from_secs(30)).await;
    ready_until(http, 200, Duration::from_secs(10)).await;
    let bound = INTERVAL + TIMEOUT + MARGIN;

    // The database: another connection holds an exclusive lock, so the server's query fails
    // with SQLITE_BUSY once its busy timeout has passed.
    let lock = rusqlite::Connection::open(data_dir.join("kv.sqlite3")).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    watch_until(&mut watch, ServingStatus::NotServing, bound).await;
    ready_until(http, 503, bound).await;
    let database = health.check(request("kv_database")).await.unwrap();
    assert_eq!(database.into_inner().status(), ServingStatus::NotServing);
    lock.execute_batch("COMMIT").unwrap();
    drop(lock);
    watch_until(&mut watch, ServingStatus::Serving, bound).await;
    ready_until(http, 200, bound).await;

    // The upstream: stopped, then started again on the same port.
    upstream.stop().await;
    watch_until(&mut watch, ServingStatus::NotServing, bound).await;
    ready_until(http, 503, bound).await;
    let upstream = Upstream::start(upstream_addr).await;
    watch_until(&mut watch, ServingStatus::Serving, bound).await;
    ready_until(http, 200, bound).await;
    upstream.stop().await;

    let _ = std::fs::remove_dir_all(&data_dir);
}
