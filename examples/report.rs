//! A small service with real health checks: free disk space where its data lives, its own TCP
//! listener, the freshness of a worker's heartbeat file, and a writable data directory. It prints
//! the health report as JSON.
//!
//! ```text
//! cargo run --example report
//! EXAMPLE_DATA_DIR=/var/lib/app UPSTREAM_ADDR=127.0.0.1:5432 cargo run --example report
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use health_runtime::indicator::DiskSpace;
use health_runtime::{Check, CheckOutcome, HealthRuntime, Status, health_check};
use tokio::net::{TcpListener, TcpStream};

/// What the checks look at, known once `main` has started the service.
#[derive(Debug)]
struct Service {
    data_dir: PathBuf,
    heartbeat: PathBuf,
    listen_addr: SocketAddr,
}

static SERVICE: OnceLock<Service> = OnceLock::new();

fn service() -> Result<&'static Service, &'static str> {
    SERVICE.get().ok_or("the service has not started")
}

/// Disk usage of the filesystem that holds the data directory, against a 90 % limit.
#[health_check(name = "disk_space", timeout = "2s", on_timeout = "warning")]
fn disk_space() -> Result<CheckOutcome, String> {
    DiskSpace::new(&service()?.data_dir)
        .threshold(90.0)
        .read()
        .map_err(|error| error.to_string())
}

/// The service's own listener accepts connections; the value is the connect time in ms.
#[health_check(name = "api_listener", timeout = "1s", groups = ["liveness", "readiness"])]
async fn api_listener() -> std::io::Result<f64> {
    let addr = service().map_err(std::io::Error::other)?.listen_addr;
    let started = Instant::now();
    TcpStream::connect(addr).await?;
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// The background worker wrote its heartbeat file recently; the value is its age in seconds.
#[health_check(
    name = "worker_heartbeat",
    timeout = "1s",
    on_error = "warning",
    failure_threshold = 2
)]
async fn worker_heartbeat() -> std::io::Result<CheckOutcome> {
    let path = &service().map_err(std::io::Error::other)?.heartbeat;
    let modified = tokio::fs::metadata(path).await?.modified()?;
    let age = modified.elapsed().unwrap_or_default().as_secs_f64();
    Ok(CheckOutcome::by_threshold(age, 10.0)
        .with_message(format!("{} written {age:.1} s ago", path.display())))
}

/// The data directory accepts writes.
#[health_check(name = "data_dir_writable", timeout = "2s", groups = ["readiness", "startup"])]
fn data_dir_writable() -> std::io::Result<()> {
    let dir = &service().map_err(std::io::Error::other)?.data_dir;
    let probe = dir.join(".health-probe");
    std::fs::write(&probe, b"ok")?;
    std::fs::remove_file(&probe)
}

/// Writes the heartbeat file every two seconds, as a real worker loop would.
async fn worker(heartbeat: PathBuf) {
    let mut ticks = tokio::time::interval(Duration::from_secs(2));
    loop {
        ticks.tick().await;
        if let Err(error) = tokio::fs::write(&heartbeat, b"alive").await {
            tracing::warn!(%error, path = %heartbeat.display(), "heartbeat not written");
        }
    }
}

/// Accepts connections and closes them: the stand-in for the service's API.
async fn serve(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        drop(stream);
    }
}

fn data_dir() -> PathBuf {
    std::env::var_os("EXAMPLE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("plugin-health-example"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = examples::init_tracing(false)?;

    let data_dir = data_dir();
    std::fs::create_dir_all(&data_dir)?;
    let heartbeat = data_dir.join("worker.heartbeat");
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let listen_addr = listener.local_addr()?;
    SERVICE
        .set(Service {
            data_dir: data_dir.clone(),
            heartbeat: heartbeat.clone(),
            listen_addr,
        })
        .map_err(|_| "service already set")?;
    tokio::spawn(serve(listener));
    tokio::spawn(worker(heartbeat));
    wait_for_file(&data_dir.join("worker.heartbeat")).await;

    let runtime = HealthRuntime::builder()
        .version(env!("CARGO_PKG_VERSION"))
        .build()?;

    // A dependency known only at runtime: checked when UPSTREAM_ADDR names one.
    if let Ok(upstream) = std::env::var("UPSTREAM_ADDR") {
        let addr: SocketAddr = upstream
            .parse()
            .map_err(|error| format!("UPSTREAM_ADDR={upstream:?} is not an address: {error}"))?;
        runtime.register(
            Check::new("upstream", move || async move {
                TcpStream::connect(addr).await.map(drop)
            })
            .timeout(Duration::from_secs(2))
            .service("upstream"),
        )?;
    }

    runtime.start();
    let report = runtime.report().await;
    println!("{}", serde_json::to_string_pretty(&report)?);
    examples::flush_telemetry(telemetry).await;
    if report.overall_status == Status::Critical {
        std::process::exit(1);
    }
    Ok(())
}

async fn wait_for_file(path: &Path) {
    for _ in 0..50 {
        if tokio::fs::metadata(path).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
