//! Serving every surface at once: gRPC with the health services and the user's routes, the
//! HTTP probes, the health file, the monitor, and the drain on SIGTERM or Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;

use futures::FutureExt as _;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::Server;

use crate::HealthRuntime;
use crate::config::ConnectionLimits;
pub(crate) use crate::listen::Drained;
pub use crate::listen::TlsError;
use crate::listen::accept::{self, Listen};

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
    /// The probe port's address, from the configuration, could not be bound.
    #[error(
        "cannot listen on {addr} (PLUGIN_HEALTH_PROBE_ADDR, `SurfaceSettings::probe_addr`): {source}"
    )]
    BindProbe {
        /// The address configured.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A TLS file is missing, unreadable or malformed, or this build has no TLS.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The gRPC server failed.
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The HTTP server failed.
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
}

/// Serves every health surface the configuration asks for, until SIGTERM or Ctrl-C: gRPC on
/// `addr` with `routes` and both health services, the HTTP probes on
/// [`http_addr`](crate::config::SurfaceSettings::http_addr), the probe port on
/// [`probe_addr`](crate::config::SurfaceSettings::probe_addr), the health file at
/// [`health_file`](crate::config::SurfaceSettings::health_file), and the monitor, with TLS on
/// gRPC and HTTP when [`tls`](crate::config::SurfaceSettings::tls) is set.
///
/// On the signal every name turns `NOT_SERVING`; after the drain delay `Watch` streams end, the
/// listeners close and open requests may finish; after the
/// [`shutdown_grace`](crate::config::SurfaceSettings::shutdown_grace) every connection still open
/// is cut, whatever its client does, and `serve` returns. A second signal cuts the drain and the
/// grace short. At start the soft limit on open files is raised to the hard limit, and every
/// listener keeps to the [`limits`](crate::config::SurfaceSettings::limits).
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
    serve_on_signals(runtime, listener, routes).await
}

/// Like [`serve`], on a bound listener.
pub(crate) async fn serve_on_signals(
    runtime: &HealthRuntime,
    listener: TcpListener,
    routes: Routes,
) -> Result<(), ServeError> {
    let signals = Signals::listen();
    serve_until(
        runtime,
        listener,
        routes,
        signals.reached(1),
        signals.reached(2),
    )
    .await
}

/// Like [`serve`], with gRPC on a bound listener, and shutting down when `trigger` resolves
/// instead of on a signal (with no second signal: the drain and the grace run their course).
pub async fn serve_with_shutdown(
    runtime: &HealthRuntime,
    listener: TcpListener,
    routes: Routes,
    trigger: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_until(runtime, listener, routes, trigger, std::future::pending()).await
}

async fn serve_until(
    runtime: &HealthRuntime,
    listener: TcpListener,
    routes: Routes,
    trigger: impl Future<Output = ()> + Send + 'static,
    hurry: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    crate::listen::fd::raise_limit();
    runtime.start();
    // However `serve` ends (an error, or its future dropped), everything it started stops: the
    // guard's end cuts the drain and the grace short.
    let (_stop_on_exit, stopped) = tokio::sync::oneshot::channel::<()>();
    let hurry = async move {
        tokio::select! {
            () = hurry => {}
            _ = stopped => {}
        }
    }
    .boxed()
    .shared();
    let drained: Drained = {
        let runtime = runtime.clone();
        let hurry = hurry.clone();
        async move {
            tokio::select! {
                () = runtime.drain_on(trigger) => {}
                () = hurry => tracing::info!("second signal: the drain is cut short"),
            }
        }
    }
    .boxed()
    .shared();
    let closed = after_grace(runtime, drained.clone(), hurry);
    let surfaces = Surfaces::start(runtime, drained.clone(), closed.clone()).await?;

    let limits = &runtime.config().surfaces.limits;
    let routes = routes
        .add_service(crate::grpc::deadline(
            crate::grpc::health_server(runtime),
            limits.request_timeout,
        ))
        .add_service(crate::grpc::deadline(
            crate::grpc::report_server(runtime),
            limits.request_timeout,
        ));
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, tls = surfaces.tls_on(), "serving gRPC with health services");
    }
    let listen = Listen {
        surface: "gRPC",
        cap: accept::cap(limits.grpc_connections, 4),
        idle: None,
        #[cfg(feature = "tls")]
        tls: surfaces.tls.as_ref().map(|tls| tls.grpc.clone()),
        #[cfg(feature = "tls")]
        handshake_timeout: limits.tls_handshake_timeout,
    };
    let (incoming, slots) = accept::incoming(listener, listen, drained.clone(), closed.clone());
    let server = limited_grpc_server(limits)
        .layer(crate::listen::track::TrackLayer(slots))
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, drained.clone());
    let grpc = tokio::select! {
        served = server => served,
        // Every connection fails its I/O by now; tonic's bookkeeping may lag behind.
        () = async { closed.clone().await; tokio::time::sleep(CUT_SETTLE).await } => {
            tracing::debug!("gRPC connections still open at the end of the grace were cut");
            Ok(())
        }
    };
    surfaces.finish_within(CUT_SETTLE).await?;
    grpc?;
    tracing::info!("health servers stopped");
    Ok(())
}

/// How long servers may take to notice their cut connections before they are left behind.
const CUT_SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

/// The moment connections are cut: the grace after `drained`, or at once on `hurry`.
pub(crate) fn after_grace(
    runtime: &HealthRuntime,
    drained: Drained,
    hurry: impl Future<Output = ()> + Send + 'static,
) -> Drained {
    let grace = runtime.config().surfaces.shutdown_grace;
    async move {
        tokio::select! {
            () = async { drained.await; tokio::time::sleep(grace).await } => {}
            () = hurry => {}
        }
    }
    .boxed()
    .shared()
}

/// Counts SIGTERM and Ctrl-C from when it starts listening.
#[derive(Debug, Clone)]
struct Signals(tokio::sync::watch::Receiver<u32>);

impl Signals {
    /// Starts listening now: the listeners are made before this returns and kept, so that no
    /// signal falls between two waits. The task ends once every receiver is gone.
    fn listen() -> Self {
        let (count, receiver) = tokio::sync::watch::channel(0);
        #[cfg(unix)]
        let listeners = {
            use tokio::signal::unix::{SignalKind, signal};
            (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            )
        };
        tokio::spawn(async move {
            #[cfg(unix)]
            let (mut terminate, mut interrupt) = match listeners {
                (Ok(terminate), Ok(interrupt)) => (terminate, interrupt),
                (Err(error), _) | (_, Err(error)) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM and SIGINT");
                    return count.closed().await;
                }
            };
            loop {
                #[cfg(unix)]
                let received = tokio::select! {
                    _ = terminate.recv() => "SIGTERM",
                    _ = interrupt.recv() => "SIGINT",
                    () = count.closed() => return,
                };
                #[cfg(not(unix))]
                let received = tokio::select! {
                    _ = tokio::signal::ctrl_c() => "Ctrl-C",
                    () = count.closed() => return,
                };
                count.send_modify(|count| *count += 1);
                tracing::info!(
                    signal = received,
                    count = *count.borrow(),
                    "termination signal received"
                );
            }
        });
        Signals(receiver)
    }

    /// Resolves once `n` signals have arrived.
    fn reached(&self, n: u32) -> impl Future<Output = ()> + Send + 'static {
        let mut receiver = self.0.clone();
        async move {
            if receiver.wait_for(|count| *count >= n).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Resolves once SIGTERM or Ctrl-C has arrived and the drain delay after it has passed;
/// meanwhile every health service name answers `NOT_SERVING`. Hand it to a tonic server's
/// `serve_with_shutdown`.
pub fn shutdown_signal(runtime: &HealthRuntime) -> impl Future<Output = ()> + Send + 'static {
    let runtime = runtime.clone();
    async move { runtime.drain_on(termination_signal()).await }
}

/// A gRPC server builder with the settings of the servers started here.
pub(crate) fn grpc_server() -> Server {
    // A larger connection window than h2's default lets a client open thousands of Watch
    // streams on one connection without tripping h2's limit on queued frames.
    Server::builder().initial_connection_window_size(CONNECTION_WINDOW)
}

/// [`grpc_server`] with `limits`: concurrent streams per connection, HTTP/2 keepalive, and h2's
/// protection against rapid resets (CVE-2023-44487) at its default of 20 pending resets.
fn limited_grpc_server(limits: &ConnectionLimits) -> Server {
    grpc_server()
        .max_concurrent_streams(limits.max_concurrent_streams)
        .http2_keepalive_interval(Some(limits.keepalive))
        .http2_keepalive_timeout(Some(limits.keepalive))
        .http2_max_pending_accept_reset_streams(Some(20))
        .http2_max_header_list_size(16 << 10)
}

/// The surfaces served beside gRPC: the HTTP probes, the probe port and the health file.
#[derive(Debug)]
pub(crate) struct Surfaces {
    #[cfg(feature = "http")]
    http: Option<tokio::task::JoinHandle<()>>,
    #[cfg(feature = "http")]
    probe: Option<crate::listen::probe::ProbePort>,
    file: Option<tokio::task::JoinHandle<()>>,
    /// The TLS of the configuration, for gRPC too.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::listen::tls::Acceptors>,
}

impl Surfaces {
    /// Starts the HTTP probes, the probe port and the health file, as configured, until `stop`
    /// resolves; connections still open at `closed` are cut.
    pub(crate) async fn start(
        runtime: &HealthRuntime,
        stop: Drained,
        #[cfg_attr(not(feature = "http"), allow(unused_variables))] closed: Drained,
    ) -> Result<Self, ServeError> {
        let surfaces = &runtime.config().surfaces;
        #[cfg(feature = "tls")]
        let tls = surfaces
            .tls
            .as_ref()
            .map(crate::listen::tls::load)
            .transpose()?;
        #[cfg(feature = "tls")]
        if let Some(tls) = &tls {
            tls.reload_on_hangup();
        }
        #[cfg(not(feature = "tls"))]
        if let Some(files) = &surfaces.tls {
            return Err(ServeError::Tls(TlsError {
                variable: "PLUGIN_HEALTH_TLS_CERT",
                path: files.cert.clone(),
                problem: "this build has no TLS (feature `tls` of health-runtime)".to_owned(),
            }));
        }
        #[cfg(feature = "http")]
        let http = match surfaces.http_addr {
            Some(addr) => {
                let http = TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServeError::BindHttp { addr, source })?;
                let runtime = runtime.clone();
                let (stop, closed) = (stop.clone(), closed.clone());
                #[cfg(feature = "tls")]
                let tls = tls.as_ref().map(|tls| tls.http.clone());
                Some(tokio::spawn(async move {
                    crate::http::serve_surface(
                        &runtime,
                        http,
                        #[cfg(feature = "tls")]
                        tls,
                        stop,
                        closed,
                    )
                    .await;
                }))
            }
            None => None,
        };
        #[cfg(feature = "http")]
        let probe = match surfaces.probe_addr {
            Some(addr) => Some(
                crate::listen::probe::ProbePort::start(runtime, addr, stop.clone(), closed.clone())
                    .map_err(|source| ServeError::BindProbe { addr, source })?,
            ),
            None => None,
        };
        let file = surfaces.health_file.clone().map(|path| {
            let runtime = runtime.clone();
            tokio::spawn(async move { crate::health_file::keep(&runtime, path, stop).await })
        });
        Ok(Surfaces {
            #[cfg(feature = "http")]
            http,
            #[cfg(feature = "http")]
            probe,
            file,
            #[cfg(feature = "tls")]
            tls,
        })
    }

    fn tls_on(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Waits at most `limit` for them to stop, then ends them.
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
        if let Some(http) = self.http
            && let Err(error) = http.await
            && !error.is_cancelled()
        {
            return Err(ServeError::Http(std::io::Error::other(error)));
        }
        #[cfg(feature = "http")]
        if let Some(probe) = self.probe {
            probe.finish().await;
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
