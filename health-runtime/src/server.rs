//! Serving every surface at once: gRPC with the health services and the user's routes, the
//! HTTP probes, the health file, the monitor, and the drain on SIGTERM or Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;

use futures::FutureExt as _;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::HealthRuntime;

/// The h2 connection window of the servers started here, in bytes.
const CONNECTION_WINDOW: u32 = 8 << 20;

/// Why serving gRPC stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP probes' address, from the configuration, could not be bound.
    #[error(
        "cannot listen on {addr} (PLUGIN_HEALTH_HTTP_ADDR, `SurfaceSettings::http_addr`): {source}"
    )]
    BindHttp {
        /// The address configured.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The HTTP server failed.
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
}

/// Serves every health surface the configuration asks for, until SIGTERM or Ctrl-C: gRPC on
/// `addr` with `routes` and both health services, the HTTP probes on
/// [`http_addr`](crate::config::SurfaceSettings::http_addr), the health file at
/// [`health_file`](crate::config::SurfaceSettings::health_file), and the monitor. On the signal every
/// name turns `NOT_SERVING`; after the drain delay `Watch` streams end and the servers stop.
///
/// ```no_run
/// use health_runtime::HealthRuntime;
/// use tonic::service::Routes;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let health = HealthRuntime::builder().version(env!("CARGO_PKG_VERSION")).build()?;
/// // Add your own services to `Routes`; the health services join them.
/// health_runtime::serve(&health, "127.0.0.1:50051".parse()?, Routes::default()).await?;
/// # Ok(())
/// # }
/// ```
pub async fn serve(
    runtime: &HealthRuntime,
    addr: SocketAddr,
    routes: Routes,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    serve_with_shutdown(runtime, listener, routes, termination_signal()).await
}

/// Like [`serve`], with gRPC on a bound listener, and shutting down when `trigger` resolves
/// instead of on a signal.
pub async fn serve_with_shutdown(
    runtime: &HealthRuntime,
    listener: TcpListener,
    routes: Routes,
    trigger: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    runtime.start();
    let drained = {
        let runtime = runtime.clone();
        async move { runtime.drain_on(trigger).await }
    }
    .boxed()
    .shared();
    let surfaces = Surfaces::start(runtime, drained.clone()).await?;

    let routes = routes
        .add_service(crate::grpc::health_server(runtime))
        .add_service(crate::grpc::report_server(runtime));
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving gRPC with health services");
    }
    let grpc = grpc_server()
        .add_routes(routes)
        .serve_with_incoming_shutdown(
            // Without TCP_NODELAY, Nagle's algorithm and a grpc-go peer's delayed ACK stall
            // small replies by up to 40 ms.
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            drained,
        )
        .await;
    surfaces.finish().await?;
    grpc?;
    tracing::info!("health servers stopped");
    Ok(())
}

/// Resolves once SIGTERM or Ctrl-C has arrived and the drain delay after it has passed;
/// meanwhile every health service name answers `NOT_SERVING`. Hand it to a tonic server's
/// `serve_with_shutdown`.
pub fn shutdown_signal(runtime: &HealthRuntime) -> impl Future<Output = ()> + Send + 'static {
    let runtime = runtime.clone();
    async move { runtime.drain_on(termination_signal()).await }
}

/// The end of the drain, shared by every server it stops.
pub(crate) type Drained = futures::future::Shared<futures::future::BoxFuture<'static, ()>>;

/// A gRPC server builder with the settings of the servers started here.
pub(crate) fn grpc_server() -> Server {
    // A larger connection window than h2's default lets a client open thousands of Watch
    // streams on one connection without tripping h2's limit on queued frames.
    Server::builder().initial_connection_window_size(CONNECTION_WINDOW)
}

/// The surfaces served beside gRPC: the HTTP probes and the health file.
#[derive(Debug)]
pub(crate) struct Surfaces {
    #[cfg(feature = "http")]
    http: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    file: Option<tokio::task::JoinHandle<()>>,
}

impl Surfaces {
    /// Starts the HTTP probes and the health file, as configured, until `stop` resolves.
    pub(crate) async fn start(runtime: &HealthRuntime, stop: Drained) -> Result<Self, ServeError> {
        let surfaces = &runtime.config().surfaces;
        #[cfg(feature = "http")]
        let http = match surfaces.http_addr {
            Some(addr) => {
                let http = TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServeError::BindHttp { addr, source })?;
                let runtime = runtime.clone();
                let stop = stop.clone();
                Some(tokio::spawn(async move {
                    crate::http::serve(&runtime, http, stop).await
                }))
            }
            None => None,
        };
        let file = surfaces.health_file.clone().map(|path| {
            let runtime = runtime.clone();
            tokio::spawn(async move { crate::health_file::keep(&runtime, path, stop).await })
        });
        Ok(Surfaces {
            #[cfg(feature = "http")]
            http,
            file,
        })
    }

    /// Waits at most `limit` for them to stop, then ends them.
    #[cfg(feature = "go-plugin")]
    pub(crate) async fn finish_within(self, limit: std::time::Duration) -> Result<(), ServeError> {
        let aborts: Vec<tokio::task::AbortHandle> = self
            .file
            .iter()
            .map(tokio::task::JoinHandle::abort_handle)
            .chain(
                #[cfg(feature = "http")]
                self.http.iter().map(tokio::task::JoinHandle::abort_handle),
                #[cfg(not(feature = "http"))]
                std::iter::empty(),
            )
            .collect();
        match tokio::time::timeout(limit, self.finish()).await {
            Ok(finished) => finished,
            Err(_) => {
                tracing::debug!(?limit, "HTTP probes or health file still busy; ending them");
                aborts.iter().for_each(tokio::task::AbortHandle::abort);
                Ok(())
            }
        }
    }

    /// Waits for them to stop.
    pub(crate) async fn finish(self) -> Result<(), ServeError> {
        if let Some(file) = self.file {
            let _ = file.await;
        }
        #[cfg(feature = "http")]
        if let Some(http) = self.http {
            match http.await {
                Ok(result) => result.map_err(ServeError::Http)?,
                Err(error) => return Err(ServeError::Http(std::io::Error::other(error))),
            }
        }
        Ok(())
    }
}

/// Resolves on SIGTERM or Ctrl-C: the trigger [`serve`] and [`shutdown_signal`] wait for. A signal that cannot be listened for is logged
/// and ignored.
pub async fn termination_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
