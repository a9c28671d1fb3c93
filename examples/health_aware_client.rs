//! Client-side health checking (gRFC A17): three KV backends built on the health runtime, one
//! health-aware channel in front of them.
//!
//! ```sh
//! cargo run --example health_aware_client
//! ```
//!
//! Each backend serves the KV service and `grpc.health.v1`, where the service `kv.v1.KV` is as
//! healthy as the check `maintenance`: critical while the backend's drain file
//! (`<its data dir>/maintenance`) exists, as operators drain a node. The client sends calls
//! through one `HealthAwareChannel`, puts backend b1 into maintenance by creating its drain
//! file, sends calls again, takes it out, and prints how the calls were spread each time. It
//! exits 0, or 1 if b1 got calls while it was out of rotation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use health_runtime::client::HealthAwareChannel;
use health_runtime::{Check, CheckOutcome, HealthConfig, HealthRuntime};
use tonic::{Request, Response, Status};

/// The code generated from `examples/proto/kv/v1/kv.proto`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
mod kv {
    include!("generated/kv.v1.rs");
}

use kv::kv_client::KvClient;
use kv::kv_server::{Kv, KvServer};
use kv::{GetRequest, GetResponse, PutRequest, PutResponse};

const SERVICE: &str = "kv.v1.KV";
const CALLS: usize = 3_000;

/// An in-memory KV store that counts the calls it serves.
#[derive(Default)]
struct Store {
    entries: tokio::sync::RwLock<BTreeMap<String, Vec<u8>>>,
    calls: AtomicU64,
}

#[tonic::async_trait]
impl Kv for Arc<Store> {
    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let value = self
            .entries
            .read()
            .await
            .get(&request.get_ref().key)
            .cloned()
            .unwrap_or_default();
        Ok(Response::new(GetResponse { value }))
    }

    async fn put(&self, request: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let PutRequest { key, value } = request.into_inner();
        self.entries.write().await.insert(key, value);
        Ok(Response::new(PutResponse {}))
    }
}

/// The check of a backend's drain file: critical while `<dir>/maintenance` exists.
fn maintenance(dir: &Path) -> Check {
    let file = dir.join("maintenance");
    Check::new("maintenance", move || {
        let file = file.clone();
        async move {
            match tokio::fs::try_exists(&file).await {
                Ok(false) => CheckOutcome::healthy(),
                Ok(true) => CheckOutcome::critical(format!("drained: {} exists", file.display())),
                Err(error) => {
                    CheckOutcome::critical(format!("{} cannot be read: {error}", file.display()))
                }
            }
        }
    })
    .service(SERVICE)
}

struct Backend {
    name: String,
    dir: PathBuf,
    uri: String,
    store: Arc<Store>,
    health: HealthRuntime,
}

async fn start(name: &str, root: &Path) -> Result<Backend, Box<dyn std::error::Error>> {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir)?;
    let mut config = HealthConfig::default();
    // Three servers in one process: gRPC only, checked four times a second.
    config.surfaces.http_addr = None;
    config.surfaces.health_file = None;
    config.resources.enabled = false;
    config.requests.enabled = false;
    config.checks.interval = Duration::from_millis(250);
    config.checks.drain_delay = Duration::ZERO;
    let health = HealthRuntime::builder()
        .without_declared_checks()
        .config(config)
        .with_check(maintenance(&dir))
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let uri = format!("http://{}", listener.local_addr()?);
    let store = Arc::new(Store::default());
    let routes = tonic::service::Routes::new(KvServer::new(store.clone()));
    let served = health.clone();
    tokio::spawn(async move {
        health_runtime::server::serve_with_shutdown(
            &served,
            listener,
            routes,
            std::future::pending(),
        )
        .await
    });
    Ok(Backend {
        name: name.to_owned(),
        dir,
        uri,
        store,
        health,
    })
}

/// Sends `CALLS` calls, 50 at a time; returns each backend's share.
async fn send(channel: &HealthAwareChannel, backends: &[Backend]) -> Vec<u64> {
    let before: Vec<u64> = backends
        .iter()
        .map(|b| b.store.calls.load(Ordering::Relaxed))
        .collect();
    let tasks: Vec<_> = (0..50)
        .map(|task| {
            let mut client = KvClient::new(channel.clone());
            tokio::spawn(async move {
                for call in 0..CALLS / 50 {
                    let key = format!("key-{task}-{call}");
                    if let Err(status) = client.get(GetRequest { key }).await {
                        eprintln!("a call failed: {status}");
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    backends
        .iter()
        .zip(before)
        .map(|(b, before)| b.store.calls.load(Ordering::Relaxed) - before)
        .collect()
}

fn show(phase: &str, backends: &[Backend], spread: &[u64]) {
    let cells: Vec<String> = backends
        .iter()
        .zip(spread)
        .map(|(backend, calls)| format!("{} {calls:>5}", backend.name))
        .collect();
    println!("{phase:<34} {}", cells.join("   "));
}

async fn until(
    channel: &HealthAwareChannel,
    in_rotation: usize,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let started = Instant::now();
    while channel.in_rotation() != in_rotation {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!(
                "{in_rotation} endpoints never came into rotation: {:?}",
                channel.endpoints()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(started.elapsed())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "health_runtime::client=info".into()),
        )
        .init();
    let root = std::env::temp_dir().join(format!("health-aware-client-{}", std::process::id()));
    let mut backends = Vec::new();
    for name in ["b0", "b1", "b2"] {
        backends.push(start(name, &root).await?);
    }
    let channel = HealthAwareChannel::builder()
        .health_check_service(SERVICE)
        .build(
            backends
                .iter()
                .map(|b| tonic::transport::Endpoint::from_shared(b.uri.clone()))
                .collect::<Result<Vec<_>, _>>()?,
        );
    until(&channel, 3).await?;

    show(
        "all three serving:",
        &backends,
        &send(&channel, &backends).await,
    );

    let drain = backends[1].dir.join("maintenance");
    std::fs::write(&drain, b"draining for the example\n")?;
    let took = until(&channel, 2).await?;
    println!(
        "b1 drained ({}): out of rotation {took:.0?} after, at its next check",
        drain.display()
    );
    let spread = send(&channel, &backends).await;
    show("b1 in maintenance:", &backends, &spread);
    let leaked = spread[1];

    std::fs::remove_file(&drain)?;
    let took = until(&channel, 3).await?;
    println!("b1 back: in rotation {took:.0?} after the file went");
    show(
        "all three serving again:",
        &backends,
        &send(&channel, &backends).await,
    );

    for backend in &backends {
        backend.health.shutdown();
    }
    let _ = std::fs::remove_dir_all(&root);
    if leaked > 0 {
        eprintln!("b1 got {leaked} calls while out of rotation");
        std::process::exit(1);
    }
    println!("b1 got no call while out of rotation");
    Ok(())
}
