//! A key-value plugin server, in the shape of HashiCorp go-plugin's KV example, with the health
//! services beside its own: `grpc.health.v1.Health` (Check, List, Watch) and
//! `plugin.health.v1.HealthReport`.
//!
//! ```text
//! cargo run --example plugin_server
//! PLUGIN_HEALTH_GRPC_ADDR=127.0.0.1:7000 KV_DATA_DIR=/var/lib/kv cargo run --example plugin_server
//! ```
//!
//! Every surface is on: gRPC on `PLUGIN_HEALTH_GRPC_ADDR` (default `127.0.0.1:50051`), the HTTP
//! probes and `/metrics` on `PLUGIN_HEALTH_HTTP_ADDR` (default `0.0.0.0:8080`; metrics are on
//! unless `PLUGIN_ENABLE_PROMETHEUS` says otherwise), and the health file at
//! `PLUGIN_HEALTH_FILE_PATH` (default `/tmp/health`). It stops on SIGTERM or Ctrl-C after
//! reporting NOT_SERVING for the drain delay.
//!
//! Launched by a go-plugin host (cookie `BASIC_PLUGIN=hello`, app protocol version 1, as in
//! HashiCorp's gRPC KV example), it is a plugin instead: a unix socket, go-plugin's handshake line
//! on stdout, AutoMTLS when the host asks, hclog JSON logs, and it stops when the host kills it.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use health_runtime::indicator::{DiskSpace, RequestStats, SystemIndicators};
use health_runtime::plugin::{PluginAddr, PluginServer};
use health_runtime::{CheckOutcome, HealthRuntime, health_check};
use tonic::service::Routes;
use tonic::{Request, Response, Status};

/// The code generated from `examples/proto/kv/v1/kv.proto`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
mod kv {
    include!("generated/kv.v1.rs");
}

use kv::kv_server::{Kv, KvServer};
use kv::{GetRequest, GetResponse, PutRequest, PutResponse};

/// The gRPC service name of the store, which its checks also count toward.
const KV_SERVICE: &str = "kv.v1.KV";

/// A store that keeps each value in a file of its own under one directory.
#[derive(Debug)]
struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    fn open(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(FileStore { dir })
    }

    fn path(&self, key: &str) -> Result<PathBuf, Status> {
        let valid = !key.is_empty()
            && key.len() <= 200
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !key.starts_with('.');
        if valid {
            Ok(self.dir.join(format!("kv_{key}")))
        } else {
            Err(Status::invalid_argument(
                "keys are 1-200 characters of ASCII letters, digits, `-`, `_` and `.`, not starting with `.`",
            ))
        }
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, Status> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(value) => Ok(value),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Err(Status::not_found(format!("no value under `{key}`")))
            }
            Err(error) => Err(Status::internal(format!("reading `{key}`: {error}"))),
        }
    }

    /// Writes atomically: a reader sees the old value or the new one, never half of it.
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), Status> {
        let path = self.path(key)?;
        let temp = path.with_extension("tmp");
        let write = async {
            tokio::fs::write(&temp, value).await?;
            tokio::fs::rename(&temp, &path).await
        };
        write
            .await
            .map_err(|error| Status::internal(format!("writing `{key}`: {error}")))
    }
}

/// The `kv.v1.KV` gRPC service over the store.
#[derive(Debug)]
struct KvService(&'static FileStore);

#[tonic::async_trait]
impl Kv for KvService {
    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        let value = self.0.get(&request.into_inner().key).await?;
        Ok(Response::new(GetResponse { value }))
    }

    async fn put(&self, request: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        let PutRequest { key, value } = request.into_inner();
        self.0.put(&key, &value).await?;
        Ok(Response::new(PutResponse {}))
    }
}

/// What the checks look at, set once `main` has opened the store and bound the port.
static STORE: OnceLock<FileStore> = OnceLock::new();
static LISTEN_ADDR: OnceLock<PluginAddr> = OnceLock::new();
/// `PLUGIN_RESOURCE_DISK_THRESHOLD`: the disk usage, in percent, above which `kv_disk` is critical.
static DISK_THRESHOLD: OnceLock<f64> = OnceLock::new();

fn store() -> Result<&'static FileStore, String> {
    STORE
        .get()
        .ok_or_else(|| "the store is not open yet".to_owned())
}

/// The store answers: a value written through it reads back the same.
#[health_check(
    name = "kv_store",
    timeout = "2s",
    groups = ["readiness", "startup"],
    service = "kv.v1.KV",
    interval = "10s"
)]
async fn kv_store() -> Result<f64, String> {
    let store = store()?;
    let started = Instant::now();
    let probe = format!("{:?}", std::time::SystemTime::now());
    store
        .put("health-probe", probe.as_bytes())
        .await
        .map_err(|status| status.message().to_owned())?;
    let read = store
        .get("health-probe")
        .await
        .map_err(|status| status.message().to_owned())?;
    if read != probe.as_bytes() {
        return Err("the store returned a different value than was written".to_owned());
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// The filesystem holding the store has room: critical above `PLUGIN_RESOURCE_DISK_THRESHOLD`
/// percent used (90 by default), warning above 80 % of that.
#[health_check(
    name = "kv_disk",
    timeout = "2s",
    on_timeout = "warning",
    service = "kv.v1.KV"
)]
fn kv_disk() -> Result<CheckOutcome, String> {
    let threshold = DISK_THRESHOLD.get().copied().unwrap_or(90.0);
    DiskSpace::new(&store()?.dir)
        .threshold(threshold)
        .read()
        .map_err(|error| error.to_string())
}

/// The server's own listener (a TCP port, or the plugin's unix socket) accepts connections.
#[health_check(name = "grpc_listener", timeout = "1s", groups = ["liveness"])]
async fn grpc_listener() -> std::io::Result<()> {
    let addr = LISTEN_ADDR
        .get()
        .ok_or_else(|| std::io::Error::other("not listening yet"))?;
    examples::accepts_connections(addr).await
}

fn data_dir() -> PathBuf {
    std::env::var_os("KV_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("plugin-health-kv"))
}

#[tokio::main]
async fn main() {
    let launched_by_host = examples::handshake().launched_by_host();
    let telemetry = match examples::init_tracing(launched_by_host) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("plugin_server: {error}");
            std::process::exit(1);
        }
    };
    let served = run(launched_by_host).await;
    examples::flush_telemetry(telemetry).await;
    if let Err(error) = served {
        eprintln!("plugin_server: {error}");
        std::process::exit(1);
    }
    // Exit now rather than when the runtime has waited for every blocking task: a go-plugin
    // host kills a plugin that is still running 2 s after it asked it to stop.
    std::process::exit(0);
}

async fn run(launched_by_host: bool) -> Result<(), Box<dyn std::error::Error>> {
    let config = examples::config_from_env(launched_by_host)?;
    let addr = examples::grpc_addr()?;
    DISK_THRESHOLD.get_or_init(|| config.resources.disk_threshold);
    // Launched by a go-plugin host: a unix socket, the handshake line, AutoMTLS when the host
    // asks. Run by hand: a standalone server on `PLUGIN_HEALTH_GRPC_ADDR`. Refused (before
    // anything is touched) when a host of something else launched it.
    let server = PluginServer::new(examples::handshake())
        .standalone(addr)
        .bind()
        .await?;
    LISTEN_ADDR.get_or_init(|| server.local_addr().clone());
    let dir = data_dir();
    let store = FileStore::open(dir.clone())
        .map_err(|error| format!("cannot open the store in {}: {error}", dir.display()))?;
    let store: &'static FileStore = STORE.get_or_init(|| store);

    // CPU, memory and disk, sampled in the background; the KV service's request success rate and
    // latency over the last minute.
    let requests = RequestStats::new();
    let health = HealthRuntime::builder()
        .config(config)
        .version(env!("CARGO_PKG_VERSION"))
        .with_checks(SystemIndicators::new())
        .with_checks(requests.clone())
        .build()?;

    tracing::info!(
        addr = %server.local_addr(),
        plugin = server.is_plugin(),
        store = %dir.display(),
        service = KV_SERVICE,
        "plugin server listening"
    );

    let routes = Routes::new(requests.wrap(KvServer::new(KvService(store))));
    server.serve(&health, routes).await?;
    Ok(())
}
