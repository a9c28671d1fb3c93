//! A key-value plugin server backed by a real SQLite file, whose handler carries its own health
//! checks with `#[derive(HealthAware)]`: the database (a real query), an upstream HTTP
//! dependency, and the free space where the database lives; a free-function `#[health_check]`
//! sits beside it. Every health surface is on.
//!
//! ```text
//! KV_UPSTREAM_URL=http://127.0.0.1:9000/healthz cargo run --example kv_sqlite
//! ```
//!
//! | variable | default |
//! |---|---|
//! | `KV_DATA_DIR` | `$TMPDIR/plugin-health-kv-sqlite` (the database is `kv.sqlite3` in it) |
//! | `KV_UPSTREAM_URL` | `http://127.0.0.1:9000/healthz` |
//! | `PLUGIN_HEALTH_*`, `PLUGIN_RESOURCE_*` | as for every server of this crate |
//!
//! gRPC listens on `PLUGIN_HEALTH_GRPC_ADDR` (default `127.0.0.1:50051`), the HTTP probes and
//! `/metrics` on `PLUGIN_HEALTH_HTTP_ADDR` (default `0.0.0.0:8080`), the health file goes to
//! `PLUGIN_HEALTH_FILE_PATH` (default `/tmp/health`).
//!
//! Launched by a go-plugin host (cookie `BASIC_PLUGIN=hello`, app protocol version 1), it serves
//! as a plugin: a unix socket, go-plugin's handshake line on stdout, AutoMTLS when the host asks,
//! hclog JSON logs; see `health_runtime::plugin`.

use std::path::PathBuf;
use std::sync::Arc;

use health_runtime::indicator::{DiskSpace, HttpEndpoint, SqliteDatabase};
use health_runtime::plugin::{PluginAddr, PluginServer};
use health_runtime::{HealthAware, HealthRuntime, health_check};
use rusqlite::OptionalExtension as _;
use tonic::service::Routes;
use tonic::{Request, Response, Status};

/// The code generated from `examples/proto/kv/v1/kv.proto`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
mod kv {
    include!("generated/kv.v1.rs");
}

use kv::kv_server::{Kv, KvServer};
use kv::{GetRequest, GetResponse, PutRequest, PutResponse};

/// The handler of `kv.v1.KV`: its state, and the checks on that state.
#[derive(Debug, HealthAware)]
struct KvHandler {
    /// The store; its check runs a real query on the table the service uses.
    #[health(
        check = "kv_database",
        timeout = "2s",
        groups = ["readiness", "startup"],
        service = "kv.v1.KV"
    )]
    db: SqliteDatabase,
    /// An upstream the service depends on; not ready without it.
    #[health(check = "kv_upstream", timeout = "1s")]
    upstream: HttpEndpoint,
    /// The filesystem holding the database has room: critical above
    /// `PLUGIN_RESOURCE_DISK_THRESHOLD` percent used, warning above 80 % of that.
    #[health(
        check = "kv_disk",
        timeout = "2s",
        on_timeout = "warning",
        service = "kv.v1.KV"
    )]
    disk: DiskSpace,
}

impl KvHandler {
    fn open(dir: PathBuf, upstream: &str, disk_threshold: f64) -> Result<Self, String> {
        std::fs::create_dir_all(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
        let path = dir.join("kv.sqlite3");
        let db = SqliteDatabase::open(&path)
            .map_err(|error| format!("{}: {error}", path.display()))?
            .with_query("SELECT count(*) FROM kv");
        db.lock()
            .execute(
                "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
                (),
            )
            .map_err(|error| format!("{}: {error}", path.display()))?;
        Ok(KvHandler {
            db,
            upstream: HttpEndpoint::new(upstream),
            disk: DiskSpace::new(dir).threshold(disk_threshold),
        })
    }
}

fn internal(error: impl std::fmt::Display) -> Status {
    Status::unavailable(format!("the store failed: {error}"))
}

/// `kv.v1.KV` over the handler.
#[derive(Debug)]
struct KvService(Arc<KvHandler>);

#[tonic::async_trait]
impl Kv for KvService {
    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        let key = request.into_inner().key;
        let found = self
            .0
            .db
            .call({
                let key = key.clone();
                move |conn| {
                    conn.query_row("SELECT value FROM kv WHERE key = ?1", [key], |row| {
                        row.get::<_, Vec<u8>>(0)
                    })
                    .optional()
                }
            })
            .await
            .map_err(internal)?
            .map_err(internal)?;
        match found {
            Some(value) => Ok(Response::new(GetResponse { value })),
            None => Err(Status::not_found(format!("no value under `{key}`"))),
        }
    }

    async fn put(&self, request: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        let PutRequest { key, value } = request.into_inner();
        self.0
            .db
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO kv (key, value) VALUES (?1, ?2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
            })
            .await
            .map_err(internal)?
            .map_err(internal)?;
        Ok(Response::new(PutResponse {}))
    }
}

static LISTEN_ADDR: std::sync::OnceLock<PluginAddr> = std::sync::OnceLock::new();

/// A free-function check beside the handler's: the server's own listener (a TCP port, or the
/// plugin's unix socket) accepts connections.
#[health_check(name = "grpc_listener", timeout = "1s", groups = ["liveness"])]
async fn grpc_listener() -> std::io::Result<()> {
    let addr = LISTEN_ADDR
        .get()
        .ok_or_else(|| std::io::Error::other("not listening yet"))?;
    examples::accepts_connections(addr).await
}

#[tokio::main]
async fn main() {
    let launched_by_host = examples::handshake().launched_by_host();
    let telemetry = match examples::init_tracing(launched_by_host) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("kv_sqlite: {error}");
            std::process::exit(1);
        }
    };
    let served = run(launched_by_host).await;
    examples::flush_telemetry(telemetry).await;
    if let Err(error) = served {
        eprintln!("kv_sqlite: {error}");
        std::process::exit(1);
    }
    // Exit now rather than when the runtime has waited for every blocking task: a go-plugin
    // host kills a plugin that is still running 2 s after it asked it to stop.
    std::process::exit(0);
}

async fn run(launched_by_host: bool) -> Result<(), Box<dyn std::error::Error>> {
    let config = examples::config_from_env(launched_by_host)?;
    let addr = examples::grpc_addr()?;
    // A go-plugin plugin when a host launched it, a standalone server otherwise; refused before
    // the database is touched when a host of something else launched it.
    let server = PluginServer::new(examples::handshake())
        .standalone(addr)
        .bind()
        .await?;
    LISTEN_ADDR.get_or_init(|| server.local_addr().clone());
    let dir = std::env::var_os("KV_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("plugin-health-kv-sqlite"));
    let upstream = std::env::var("KV_UPSTREAM_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:9000/healthz".to_owned());
    let handler = Arc::new(KvHandler::open(
        dir.clone(),
        &upstream,
        config.resources.disk_threshold,
    )?);

    let health = HealthRuntime::builder()
        .config(config)
        .version(env!("CARGO_PKG_VERSION"))
        .build()?;
    // One call registers the handler's three checks; `checks.deregister()` would remove them.
    let checks = handler.register_health(&health)?;

    tracing::info!(
        addr = %server.local_addr(),
        plugin = server.is_plugin(),
        database = %dir.join("kv.sqlite3").display(),
        %upstream,
        checks = ?checks.names(),
        "kv_sqlite listening"
    );

    let routes = Routes::new(KvServer::new(KvService(handler)));
    server.serve(&health, routes).await?;
    Ok(())
}
