//! Serving as a [HashiCorp go-plugin](https://github.com/hashicorp/go-plugin) plugin: your tonic
//! services and every health service, launched and supervised by any go-plugin host (Terraform,
//! Vault, Nomad, Packer and every program built on the library), in one call.
//!
//! ```no_run
//! use health_runtime::HealthRuntime;
//! use health_runtime::plugin::{Handshake, PluginServer};
//! use tonic::service::Routes;
//!
//! # async fn run(routes: Routes) -> Result<(), Box<dyn std::error::Error>> {
//! let health = HealthRuntime::builder().version(env!("CARGO_PKG_VERSION")).build()?;
//! // The host's magic cookie and the app protocol versions this plugin speaks.
//! let handshake = Handshake::new("BASIC_PLUGIN", "hello").versions([1]);
//! PluginServer::new(handshake)
//!     // Run without a host, the binary serves standalone on this address instead of refusing.
//!     .standalone("127.0.0.1:50051".parse()?)
//!     .serve(&health, routes)
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What happens
//!
//! 1. **Cookie.** Unless the cookie variable holds the cookie value, the process was not launched
//!    by its host: [`PluginServer::serve`] prints a message on stderr and exits with status 1,
//!    writing nothing on stdout, as go-plugin's own plugins do. With
//!    [`standalone`](PluginServer::standalone) and the variable unset, it serves on that TCP
//!    address instead, as [`serve`](crate::serve) does, and prints no handshake line.
//! 2. **Version.** The app protocol version is the highest one both this plugin and the host's
//!    `PLUGIN_PROTOCOL_VERSIONS` list; with none in common, the plugin's lowest, which the host
//!    then refuses with its own message.
//! 3. **Listener.** A unix socket (the default) in `PLUGIN_UNIX_SOCKET_DIR` or the temporary
//!    directory, given to the group `PLUGIN_UNIX_SOCKET_GROUP` (a name or a gid) with mode 0660
//!    when that is set, and removed on exit; or, with [`Transport::Tcp`], the first free port on
//!    `127.0.0.1` within `PLUGIN_MIN_PORT`–`PLUGIN_MAX_PORT` (any port when unset), with
//!    `TCP_NODELAY` on every connection.
//! 4. **AutoMTLS.** When the host sets `PLUGIN_CLIENT_CERT`, the plugin makes its own certificate
//!    for `localhost`, announces it in the handshake line and serves TLS 1.2 or 1.3 with ALPN `h2`
//!    that requires a client certificate and accepts only the host's.
//! 5. **Handshake line.** Once the listener is bound, exactly
//!    `1|<app version>|<unix or tcp>|<address>|grpc|<certificate or nothing>` goes to stdout (and
//!    `|false` after it when the host set `PLUGIN_MULTIPLEX_GRPC`: broker connections are not
//!    multiplexed). Then stdout becomes a pipe whose data goes to the host over
//!    `plugin.GRPCStdio`, so nothing else ever reaches the host's handshake reader. It stays so
//!    after `serve` returns.
//! 6. **Services.** Beside your routes: `grpc.health.v1.Health` (the host's `Ping` is
//!    `Check("plugin")`), `plugin.health.v1.HealthReport`, and go-plugin's own
//!    `plugin.GRPCController`, `plugin.GRPCStdio` and `plugin.GRPCBroker`. The HTTP probes and the
//!    health file run as [`HealthConfig`](crate::HealthConfig) says.
//! 7. **Stopping.** The host's `Kill()` calls `GRPCController/Shutdown`: the reply goes out at
//!    once, every health name turns `NOT_SERVING`, `Watch`, stdio and broker streams end, and
//!    `serve` returns within a second at most (a few milliseconds when the host hangs up, as it
//!    does), well within go-plugin's 2 s before it kills the process. SIGTERM does the same after
//!    a drain of at most 1 s, during which new calls still get answers (`NOT_SERVING` from the
//!    health services). SIGINT is ignored: Ctrl-C in a terminal reaches the host and its plugins
//!    alike, and the host decides. Both signals are taken over from [`PluginServer::bind`] on,
//!    for the life of the process. Stdin is never read.
//!
//!    Exit as soon as `serve` returns: dropping a Tokio runtime waits for every blocking task,
//!    so a check stuck in blocking I/O would hold the process past the host's patience.
//!    `std::process::exit(0)` after `serve` does it.
//!
//! # Limits
//!
//! - Unix only: go-plugin uses unix sockets there; on Windows, where its hosts use TCP, this
//!   module does not build.
//! - No broker: a plugin that dials back into its host (go-plugin's bidirectional plugins) needs
//!   `GRPCBroker` connections, which this server does not make. A host that requires broker
//!   multiplexing (`GRPCBrokerMultiplex`) refuses the plugin with `ErrGRPCBrokerMuxNotSupported`.
//! - The plugin's TLS is AutoMTLS only; a host that passes its own TLS configuration to its
//!   plugins (go-plugin's `TLSProvider`) is not supported.
//!
//! # Logging
//!
//! A host re-logs each line a plugin writes to stderr; lines in hclog's JSON format keep their
//! level and fields. Log through [`HclogFormat`] when launched by a host:
//!
//! ```no_run
//! use health_runtime::plugin::{Handshake, HclogFormat};
//!
//! let handshake = Handshake::new("BASIC_PLUGIN", "hello");
//! let logs = tracing_subscriber::fmt().with_writer(std::io::stderr);
//! if handshake.launched_by_host() {
//!     logs.event_format(HclogFormat::new()).init();
//! } else {
//!     use std::io::IsTerminal as _;
//!     logs.with_ansi(std::io::stderr().is_terminal()).init();
//! }
//! ```
//!
//! # Message sizes
//!
//! tonic limits decoded messages to 4 MiB. Hosts such as Terraform send and accept messages up to
//! 2 GiB (go-plugin's client sets `MaxCallRecvMsgSize` and `MaxCallSendMsgSize` to `MaxInt32`);
//! raise the limits on your own services (`max_decoding_message_size`,
//! `max_encoding_message_size` on the generated server) when their messages can be large.

mod handshake;
mod log;
mod services;
mod stdio;
mod tls;
mod transport;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::Routes;

pub use handshake::Handshake;
pub use log::HclogFormat;
pub use transport::{PluginAddr, Transport};

use crate::HealthRuntime;
use crate::pb::go_plugin::grpc_broker_server::GrpcBrokerServer;
use crate::pb::go_plugin::grpc_controller_server::GrpcControllerServer;
use crate::pb::go_plugin::grpc_stdio_server::GrpcStdioServer;
use crate::server::{Drained, ServeError};
use handshake::{Cookie, HostEnv};
use transport::Listener;

/// The longest drain after SIGTERM in plugin mode: the host is the only client.
const SIGNAL_DRAIN_LIMIT: Duration = Duration::from_secs(1);
/// How long connections may stay open after the drain before `serve` returns regardless.
const CLOSE_GRACE: Duration = Duration::from_millis(400);

/// Why a plugin could not be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The magic cookie is missing or wrong: the process was not launched by its host.
    #[error(
        "This program is a plugin: its host program launches it and talks to it. It is not meant to be run directly (the variable {cookie_key} does not hold the host's magic cookie)."
    )]
    NotLaunchedByHost {
        /// The cookie's variable name.
        cookie_key: String,
    },
    /// The [`Handshake`] itself is unusable.
    #[error("misconfigured plugin handshake: {0}")]
    Handshake(&'static str),
    /// A variable set by the host holds something unusable.
    #[error("{variable}={value:?}: {problem}")]
    Config {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The listener could not be created.
    #[error("cannot listen on {what}: {source}")]
    Bind {
        /// What was asked for.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Every port of the host's range is taken.
    #[error(
        "no free TCP port on 127.0.0.1 in PLUGIN_MIN_PORT..=PLUGIN_MAX_PORT ({min}..={max}): {source}"
    )]
    NoFreePort {
        /// `PLUGIN_MIN_PORT`.
        min: u16,
        /// `PLUGIN_MAX_PORT`.
        max: u16,
        /// The error of the last port tried.
        source: std::io::Error,
    },
    /// AutoMTLS could not be set up.
    #[error("AutoMTLS: {what}: {source}")]
    Tls {
        /// What failed.
        what: &'static str,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The handshake line could not be written.
    #[error("cannot write the handshake line to stdout: {0}")]
    Stdout(std::io::Error),
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

impl PluginError {
    pub(crate) fn config(
        variable: &'static str,
        value: &str,
        problem: impl Into<String>,
    ) -> PluginError {
        PluginError::Config {
            variable,
            value: value.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Serves a [`HealthRuntime`] and your tonic routes as a go-plugin plugin; see the
/// [module docs](self).
#[derive(Debug, Clone)]
#[must_use]
pub struct PluginServer {
    handshake: Handshake,
    transport: Transport,
    standalone: Option<SocketAddr>,
    capture_stdout: bool,
}

impl PluginServer {
    /// A plugin server for this handshake, on a unix socket.
    pub fn new(handshake: Handshake) -> Self {
        PluginServer {
            handshake,
            transport: Transport::default(),
            standalone: None,
            capture_stdout: true,
        }
    }

    /// The transport to listen on when launched by a host.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// When the cookie variable is not set at all, serve standalone on `addr` (gRPC over TCP,
    /// stopping on SIGTERM or Ctrl-C after the drain delay) instead of refusing to run. A cookie
    /// variable holding a wrong value is still refused.
    pub fn standalone(mut self, addr: SocketAddr) -> Self {
        self.standalone = Some(addr);
        self
    }

    /// Whether, after the handshake line, standard output is captured and sent to the host over
    /// `plugin.GRPCStdio` (the default) or left as it is.
    pub fn capture_stdout(mut self, capture: bool) -> Self {
        self.capture_stdout = capture;
        self
    }

    /// Whether the process was launched by a host of this handshake.
    pub fn launched_by_host(&self) -> bool {
        self.handshake.launched_by_host()
    }

    /// Reads the host's variables and binds the listener, without serving yet: for a server
    /// that needs to know its address (such as a check that connects to it).
    pub async fn bind(self) -> Result<BoundPlugin, PluginError> {
        self.bind_with(&|name| std::env::var(name).ok()).await
    }

    /// Like [`bind`](Self::bind), reading variables through `lookup` rather than from the
    /// process environment: for tests, or a launcher of your own.
    pub async fn bind_with_env(
        self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<BoundPlugin, PluginError> {
        self.bind_with(&lookup).await
    }

    async fn bind_with(
        self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<BoundPlugin, PluginError> {
        self.handshake.validate()?;
        match (self.handshake.cookie(lookup), self.standalone) {
            (Cookie::Matches, _) => {}
            (Cookie::Absent, Some(addr)) => {
                let listener =
                    TcpListener::bind(addr)
                        .await
                        .map_err(|source| PluginError::Bind {
                            what: addr.to_string(),
                            source,
                        })?;
                let addr = listener.local_addr().map_or(addr, |bound| bound);
                return Ok(BoundPlugin {
                    addr: PluginAddr::Tcp(addr),
                    mode: Mode::Standalone(listener),
                });
            }
            (Cookie::Absent | Cookie::Wrong, _) => {
                return Err(PluginError::NotLaunchedByHost {
                    cookie_key: self.handshake.cookie_key().to_owned(),
                });
            }
        }
        // Before anything that may take time: from here on SIGINT is ignored and SIGTERM stops
        // the plugin once it serves, instead of killing it with its socket left behind.
        let signals = Signals::install();
        let env = HostEnv::from_lookup(lookup)?;
        let version = self.handshake.negotiate(&env.protocol_versions);
        let tls = env.client_cert.as_deref().map(tls::auto_mtls).transpose()?;
        let listener = Listener::bind(self.transport, &env).await?;
        let addr = listener.addr();
        let line = handshake::handshake_line(
            version,
            addr.network(),
            &addr.to_string(),
            tls.as_ref().map(|tls| tls.announced.as_str()),
            env.multiplex,
        );
        Ok(BoundPlugin {
            addr,
            mode: Mode::Plugin(Box::new(PluginMode {
                listener,
                tls: tls.map(|tls| tls.acceptor),
                version,
                line,
                capture_stdout: self.capture_stdout,
                signals,
            })),
        })
    }

    /// Binds and serves until the host asks the plugin to stop (or SIGTERM), then returns.
    ///
    /// When the process was not launched by its host (and no [`standalone`](Self::standalone)
    /// address applies), this prints [`PluginError::NotLaunchedByHost`] on stderr and exits the
    /// process with status 1, as go-plugin's own plugins do; use [`bind`](Self::bind) to handle
    /// that case yourself.
    pub async fn serve(self, health: &HealthRuntime, routes: Routes) -> Result<(), PluginError> {
        match self.bind().await {
            Ok(bound) => bound.serve(health, routes).await,
            Err(error @ PluginError::NotLaunchedByHost { .. }) => {
                eprintln!("{error}");
                std::process::exit(1);
            }
            Err(error) => Err(error),
        }
    }
}

/// A plugin whose listener is bound, ready to serve. Dropping it closes the listener and removes
/// the socket file.
#[derive(Debug)]
#[must_use = "a bound plugin does nothing until it serves"]
pub struct BoundPlugin {
    addr: PluginAddr,
    mode: Mode,
}

#[derive(Debug)]
enum Mode {
    Standalone(TcpListener),
    Plugin(Box<PluginMode>),
}

struct PluginMode {
    listener: Listener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    version: u32,
    line: String,
    capture_stdout: bool,
    signals: Signals,
}

impl std::fmt::Debug for PluginMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginMode")
            .field("listener", &self.listener)
            .field("auto_mtls", &self.tls.is_some())
            .field("version", &self.version)
            .field("line", &self.line)
            .field("capture_stdout", &self.capture_stdout)
            .finish_non_exhaustive()
    }
}

impl BoundPlugin {
    /// Where it listens.
    pub fn local_addr(&self) -> &PluginAddr {
        &self.addr
    }

    /// Whether it was launched by a host (rather than serving standalone).
    pub fn is_plugin(&self) -> bool {
        matches!(self.mode, Mode::Plugin(_))
    }

    /// The negotiated app protocol version, when launched by a host.
    pub fn app_version(&self) -> Option<u32> {
        match &self.mode {
            Mode::Plugin(plugin) => Some(plugin.version),
            Mode::Standalone(_) => None,
        }
    }

    /// The line [`serve`](Self::serve) writes to stdout for the host, without its newline, when
    /// launched by a host: `1|<app version>|<network>|<address>|grpc|<certificate>`, and `|false`
    /// after it when the host offered multiplexing.
    pub fn handshake_line(&self) -> Option<&str> {
        match &self.mode {
            Mode::Plugin(plugin) => Some(&plugin.line),
            Mode::Standalone(_) => None,
        }
    }

    /// Serves `routes` and every health service until the host asks the plugin to stop or
    /// SIGTERM arrives (standalone: SIGTERM or Ctrl-C), then returns.
    pub async fn serve(self, health: &HealthRuntime, routes: Routes) -> Result<(), PluginError> {
        match self.mode {
            Mode::Standalone(listener) => {
                Ok(crate::server::serve_on_signals(health, listener, routes).await?)
            }
            Mode::Plugin(plugin) => serve_plugin(*plugin, self.addr, health, routes).await,
        }
    }
}

/// Why the plugin stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// `GRPCController/Shutdown`: the host waits for the process to exit.
    Host,
    /// SIGTERM.
    Signal,
}

/// The plugin's stop signal, shared by the services, the accept loop and the server.
#[derive(Debug, Clone)]
pub(crate) struct Stop(Arc<watch::Sender<Option<Cause>>>);

impl Stop {
    fn new() -> Self {
        Stop(Arc::new(watch::channel(None).0))
    }

    /// Stops for the host; a stop already under way keeps its cause.
    pub(crate) fn trigger(&self) {
        self.trigger_for(Cause::Host);
    }

    fn trigger_for(&self, cause: Cause) {
        self.0.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(cause);
            true
        });
    }

    /// Resolves once stopping.
    pub(crate) async fn wait(&self) {
        self.cause().await;
    }

    async fn cause(&self) -> Cause {
        let mut receiver = self.0.subscribe();
        let cause = match receiver.wait_for(Option::is_some).await {
            Ok(cause) => *cause,
            // The sender lives in `self`: it cannot be gone.
            Err(_) => None,
        };
        cause.unwrap_or(Cause::Host)
    }
}

async fn serve_plugin(
    plugin: PluginMode,
    addr: PluginAddr,
    health: &HealthRuntime,
    routes: Routes,
) -> Result<(), PluginError> {
    let stop = Stop::new();
    // However `serve` ends, everything it started stops with it.
    let _stop_on_exit = StopOnDrop(stop.clone());
    plugin.signals.spawn(&stop);
    health.start();
    let (drained, closed) = drain_and_close(health, &stop);
    let surfaces = crate::server::Surfaces::start(health, drained.clone(), closed.clone()).await?;

    let captured = stdio::Captured::default();
    let routes = with_plugin_services(routes, health, &stop, &drained, &captured);
    // The socket file is removed when `serve` returns, whatever the accept loop does.
    let (listener, _socket) = plugin.listener.into_parts();
    let auto_mtls = plugin.tls.is_some();
    let incoming = transport::incoming(listener, plugin.tls, drained.clone(), closed.clone());
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", plugin.line)
            .and_then(|()| stdout.flush())
            .map_err(PluginError::Stdout)?;
    }
    if plugin.capture_stdout {
        stdio::capture_stdout(&captured);
    }
    tracing::info!(
        network = addr.network(),
        address = %addr,
        version = plugin.version,
        auto_mtls,
        "plugin: serving gRPC with health services"
    );

    let server = crate::server::grpc_server()
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, drained.clone());
    let served = tokio::select! {
        served = server => served.map_err(ServeError::from),
        // Every connection has failed by now; tonic's bookkeeping may lag behind.
        () = async { closed.clone().await; tokio::time::sleep(CLOSE_GRACE).await } => {
            tracing::debug!("plugin: the gRPC server did not stop after its connections closed");
            Ok(())
        }
    };
    surfaces.finish_within(CLOSE_GRACE).await?;
    served?;
    tracing::info!("plugin: stopped");
    Ok(())
}

/// The end of the drain (at once when the host asked, at most `SIGNAL_DRAIN_LIMIT` after a
/// signal), and the moment connections still open after it are closed.
fn drain_and_close(health: &HealthRuntime, stop: &Stop) -> (Drained, Drained) {
    let drained = {
        let health = health.clone();
        let stop = stop.clone();
        async move {
            let limit = match stop.cause().await {
                Cause::Host => Duration::ZERO,
                Cause::Signal => SIGNAL_DRAIN_LIMIT,
            };
            tokio::time::sleep_until(health.shutdown_within(limit)).await;
        }
    }
    .boxed()
    .shared();
    // Connections still open this long after the drain fail their I/O and end.
    let closed = {
        let drained = drained.clone();
        async move {
            drained.await;
            tokio::time::sleep(CLOSE_GRACE).await;
        }
    }
    .boxed()
    .shared();
    (drained, closed)
}

/// The user's routes with the health services and go-plugin's controller, stdio and broker.
fn with_plugin_services(
    routes: Routes,
    health: &HealthRuntime,
    stop: &Stop,
    drained: &Drained,
    captured: &stdio::Captured,
) -> Routes {
    routes
        .add_service(crate::grpc::health_server(health))
        .add_service(crate::grpc::report_server(health))
        .add_service(GrpcControllerServer::new(services::Controller {
            stop: stop.clone(),
        }))
        .add_service(GrpcStdioServer::new(services::Stdio {
            drained: drained.clone(),
            captured: captured.clone(),
        }))
        .add_service(GrpcBrokerServer::new(services::Broker {
            drained: drained.clone(),
        }))
}

/// Triggers the stop when dropped.
struct StopOnDrop(Stop);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.trigger();
    }
}

/// SIGINT and SIGTERM, registered with Tokio while binding.
#[derive(Debug)]
struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Replaces the default actions of SIGINT and SIGTERM (which kill the process) with Tokio's
    /// handlers. They stay registered for the life of the process, as every Tokio signal does.
    fn install() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        let register = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(signal) => Some(signal),
            Err(error) => {
                tracing::warn!(%error, "plugin: cannot handle {name}");
                None
            }
        };
        Signals {
            interrupt: register(SignalKind::interrupt(), "SIGINT"),
            terminate: register(SignalKind::terminate(), "SIGTERM"),
        }
    }

    /// SIGTERM stops the plugin; SIGINT is ignored (Ctrl-C in a terminal reaches the host and
    /// its plugins alike, and the host decides). Both watchers end with the stop.
    fn spawn(self, stop: &Stop) {
        if let Some(mut interrupts) = self.interrupt {
            let stop = stop.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = stop.wait() => return,
                        received = interrupts.recv() => match received {
                            Some(()) => tracing::debug!(
                                "plugin: SIGINT ignored; the host decides when plugins stop"
                            ),
                            None => return,
                        },
                    }
                }
            });
        }
        if let Some(mut terminate) = self.terminate {
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = stop.wait() => {}
                    received = terminate.recv() => if received.is_some() {
                        tracing::info!("plugin: SIGTERM received");
                        stop.trigger_for(Cause::Signal);
                    },
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[tokio::test]
    async fn without_the_cookie_refuses_unless_standalone() {
        let server = PluginServer::new(Handshake::new("BASIC_PLUGIN", "hello"));
        let error = server.clone().bind_with(&lookup(&[])).await.unwrap_err();
        assert!(matches!(error, PluginError::NotLaunchedByHost { .. }));
        assert!(error.to_string().contains("BASIC_PLUGIN"), "{error}");
        assert!(!error.to_string().contains("hello"), "{error}");

        let standalone = server
            .clone()
            .standalone("127.0.0.1:0".parse().unwrap())
            .bind_with(&lookup(&[]))
            .await
            .unwrap();
        assert!(!standalone.is_plugin());
        assert!(matches!(standalone.local_addr(), PluginAddr::Tcp(addr) if addr.port() != 0));

        // A wrong cookie is a host of something else: refused even with a standalone address.
        let error = server
            .standalone("127.0.0.1:0".parse().unwrap())
            .bind_with(&lookup(&[("BASIC_PLUGIN", "nope")]))
            .await
            .unwrap_err();
        assert!(matches!(error, PluginError::NotLaunchedByHost { .. }));
    }

    #[tokio::test]
    async fn a_bad_client_certificate_is_refused_at_startup() {
        let server = PluginServer::new(Handshake::new("K", "V"));
        let error = server
            .bind_with(&lookup(&[
                ("K", "V"),
                ("PLUGIN_CLIENT_CERT", "not a certificate"),
            ]))
            .await
            .unwrap_err();
        assert!(
            error.to_string().starts_with("PLUGIN_CLIENT_CERT="),
            "{error}"
        );
    }
}
