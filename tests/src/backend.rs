//! Backends for the client-side health-checking tests: the example's KV service, counting the
//! calls it receives, with (or without) our health services, each on a tokio runtime of its
//! own so that killing it closes every connection at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use health_runtime::HealthRuntime;
use tonic::{Request, Response, Status};

/// The example's KV service, generated from `examples/proto/kv/v1/kv.proto`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod kv {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/generated/kv.v1.rs"
    ));
}

use kv::kv_server::{Kv, KvServer};
use kv::{GetRequest, GetResponse, PutRequest, PutResponse};

/// The calls one backend received: how many, and when the last came in.
#[derive(Debug, Default)]
pub struct Calls {
    count: AtomicU64,
    last: Mutex<Option<Instant>>,
    highest: AtomicU64,
}

impl Calls {
    /// How many calls came in.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// When the last call came in.
    pub fn last(&self) -> Option<Instant> {
        *self.last.lock().unwrap()
    }

    /// The highest number a `Get` key held (keys that are numbers count), for callers that
    /// number their calls.
    pub fn highest(&self) -> u64 {
        self.highest.load(Ordering::SeqCst)
    }

    fn hit(&self, key: &str) {
        self.count.fetch_add(1, Ordering::SeqCst);
        *self.last.lock().unwrap() = Some(Instant::now());
        if let Ok(number) = key.parse::<u64>() {
            self.highest.fetch_max(number, Ordering::SeqCst);
        }
    }
}

struct CountingKv {
    name: String,
    calls: Arc<Calls>,
}

#[tonic::async_trait]
impl Kv for CountingKv {
    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        self.calls.hit(&request.get_ref().key);
        Ok(Response::new(GetResponse {
            value: self.name.clone().into_bytes(),
        }))
    }

    async fn put(&self, request: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        self.calls.hit(&request.get_ref().key);
        Ok(Response::new(PutResponse {}))
    }
}

/// One backend serving KV on 127.0.0.1, with our health services when it has a runtime.
#[derive(Debug)]
pub struct Backend {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The calls it received, kept across restarts.
    pub calls: Arc<Calls>,
    name: String,
    health: Option<HealthRuntime>,
    tokio: Option<tokio::runtime::Runtime>,
}

impl Backend {
    /// Starts backend `name` on a free port; with `health`, its health services too.
    pub async fn start(name: &str, health: Option<HealthRuntime>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut backend = Backend {
            addr,
            calls: Arc::default(),
            name: name.to_owned(),
            health,
            tokio: None,
        };
        backend.serve(listener);
        backend
    }

    /// The endpoint URI clients dial.
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn serve(&mut self, listener: std::net::TcpListener) {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let kv = KvServer::new(CountingKv {
            name: self.name.clone(),
            calls: self.calls.clone(),
        });
        let health = self.health.clone();
        tokio.spawn(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            match health {
                Some(health) => {
                    let routes = tonic::service::Routes::new(kv);
                    let _ = health_runtime::server::serve_with_shutdown(
                        &health,
                        listener,
                        routes,
                        std::future::pending(),
                    )
                    .await;
                }
                None => {
                    let incoming = tonic::transport::server::TcpIncoming::from(listener);
                    let _ = tonic::transport::Server::builder()
                        .add_service(kv)
                        .serve_with_incoming(incoming)
                        .await;
                }
            }
        });
        self.tokio = Some(tokio);
    }

    /// Kills it: the listener and every connection close at once.
    pub fn kill(&mut self) {
        if let Some(tokio) = self.tokio.take() {
            tokio.shutdown_background();
        }
    }

    /// Starts it again on the same port (after [`kill`](Self::kill)), retrying while the port
    /// is still held.
    pub async fn restart(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match std::net::TcpListener::bind(self.addr) {
                Ok(listener) => break listener,
                Err(error) if Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => panic!("{}: rebinding {}: {error}", self.name, self.addr),
            }
        };
        self.serve(listener);
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.kill();
    }
}
