//! The plugin's listener (a unix socket, or TCP on loopback within the host's port range) and
//! the connections accepted on it, with TLS when the host asked for AutoMTLS.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::PluginError;
use super::handshake::{HostEnv, UNIX_SOCKET_DIR, UNIX_SOCKET_GROUP};
use crate::listen::conn::{Activity, Conn};
use crate::server::Drained;

/// How long one TLS handshake may take before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause after an accept error (such as running out of file descriptors) before the next
/// accept, so that the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Where the plugin listens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PluginAddr {
    /// A unix socket at this path.
    Unix(PathBuf),
    /// A TCP address.
    Tcp(SocketAddr),
}

impl PluginAddr {
    /// The network's name in the handshake line: `unix` or `tcp`.
    pub fn network(&self) -> &'static str {
        match self {
            PluginAddr::Unix(_) => "unix",
            PluginAddr::Tcp(_) => "tcp",
        }
    }
}

impl fmt::Display for PluginAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginAddr::Unix(path) => write!(f, "{}", path.display()),
            PluginAddr::Tcp(addr) => write!(f, "{addr}"),
        }
    }
}

/// Which transport a plugin listens on when a host launches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Transport {
    /// A unix socket (go-plugin's default on Unix), in `PLUGIN_UNIX_SOCKET_DIR` or the temporary
    /// directory.
    #[default]
    Unix,
    /// TCP on `127.0.0.1`, on the first free port within `PLUGIN_MIN_PORT`–`PLUGIN_MAX_PORT`
    /// (any free port when they are unset).
    Tcp,
}

/// A bound listener.
#[derive(Debug)]
pub(crate) enum Listener {
    Unix {
        listener: tokio::net::UnixListener,
        socket: SocketFile,
    },
    Tcp(TcpListener),
}

impl Listener {
    /// Binds what `transport` asks for, following the host's variables.
    pub(crate) async fn bind(transport: Transport, env: &HostEnv) -> Result<Self, PluginError> {
        match transport {
            Transport::Unix => bind_unix(env),
            Transport::Tcp => bind_tcp(env.min_port, env.max_port).await,
        }
    }

    pub(crate) fn addr(&self) -> PluginAddr {
        match self {
            Listener::Unix { socket, .. } => PluginAddr::Unix(socket.0.clone()),
            Listener::Tcp(listener) => PluginAddr::Tcp(
                listener
                    .local_addr()
                    .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
            ),
        }
    }
}

/// A unix socket's path, removed when this is dropped.
#[derive(Debug)]
pub(crate) struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_file(&self.0)
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.0.display(), %error, "cannot remove the plugin socket");
        }
    }
}

fn bind_unix(env: &HostEnv) -> Result<Listener, PluginError> {
    let dir = env
        .unix_socket_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    let mut attempts = 0;
    let (listener, socket) = loop {
        let path = dir.join(format!("plugin{}", random_suffix()));
        match tokio::net::UnixListener::bind(&path) {
            Ok(listener) => break (listener, SocketFile(path)),
            Err(error) if error.kind() == io::ErrorKind::AddrInUse && attempts < 16 => {
                attempts += 1;
            }
            Err(source) => {
                let what = if env.unix_socket_dir.is_some() {
                    format!("a unix socket in {UNIX_SOCKET_DIR}={}", dir.display())
                } else {
                    format!("a unix socket in {}", dir.display())
                };
                return Err(PluginError::Bind { what, source });
            }
        }
    };
    if let Some(group) = &env.unix_socket_group {
        let gid = resolve_group(group)?;
        set_group_writable(&socket.0, gid).map_err(|source| {
            PluginError::config(
                UNIX_SOCKET_GROUP,
                group,
                format!(
                    "cannot give {} to group {gid}: {source}",
                    socket.0.display()
                ),
            )
        })?;
    }
    Ok(Listener::Unix { listener, socket })
}

/// A group given as a number or a name.
fn resolve_group(group: &str) -> Result<u32, PluginError> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    match nix::unistd::Group::from_name(group) {
        Ok(Some(found)) => Ok(found.gid.as_raw()),
        Ok(None) => Err(PluginError::config(
            UNIX_SOCKET_GROUP,
            group,
            "no such group; give a group name or a numeric gid",
        )),
        Err(error) => Err(PluginError::config(
            UNIX_SOCKET_GROUP,
            group,
            format!("cannot look the group up: {error}"),
        )),
    }
}

fn set_group_writable(path: &Path, gid: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::os::unix::fs::chown(path, None, Some(gid))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
}

/// A name no other process is likely to pick: the process id and a per-process random number.
fn random_suffix() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default(),
    );
    format!("{}-{:016x}", std::process::id(), hasher.finish())
}

/// The first free port of `min..=max` on 127.0.0.1 (port 0, any free port, when both are 0).
async fn bind_tcp(min: u16, max: u16) -> Result<Listener, PluginError> {
    let mut last = None;
    for port in min..=max {
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            Ok(listener) => return Ok(Listener::Tcp(listener)),
            Err(error) => last = Some(error),
        }
    }
    Err(PluginError::NoFreePort {
        min,
        max,
        source: last.unwrap_or_else(|| io::Error::other("empty range")),
    })
}

/// One accepted connection, over TLS when the host asked for AutoMTLS.
#[derive(Debug)]
pub(crate) enum PluginStream {
    Unix(tokio::net::UnixStream),
    Tcp(TcpStream),
    UnixTls(Box<TlsStream<tokio::net::UnixStream>>),
    TcpTls(Box<TlsStream<TcpStream>>),
}

/// A connection that fails every read and write once `closed` resolves, so that no connection,
/// however its peer behaves, outlives the plugin's shutdown.
pub(crate) type PluginConn = Conn<PluginStream>;

macro_rules! each_stream {
    ($self:ident, $method:ident($($arg:expr),*)) => {
        match $self.get_mut() {
            PluginStream::Unix(stream) => Pin::new(stream).$method($($arg),*),
            PluginStream::Tcp(stream) => Pin::new(stream).$method($($arg),*),
            PluginStream::UnixTls(stream) => Pin::new(&mut **stream).$method($($arg),*),
            PluginStream::TcpTls(stream) => Pin::new(&mut **stream).$method($($arg),*),
        }
    };
}

impl AsyncRead for PluginStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each_stream!(self, poll_read(cx, buf))
    }
}

impl AsyncWrite for PluginStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self, poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self, poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self, poll_shutdown(cx))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self, poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            PluginStream::Unix(stream) => stream.is_write_vectored(),
            PluginStream::Tcp(stream) => stream.is_write_vectored(),
            PluginStream::UnixTls(stream) => stream.is_write_vectored(),
            PluginStream::TcpTls(stream) => stream.is_write_vectored(),
        }
    }
}

impl tonic::transport::server::Connected for PluginStream {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl Listener {
    /// The listener to accept on, and the socket file to remove once serving ends.
    pub(crate) fn into_parts(self) -> (Accept, Option<SocketFile>) {
        match self {
            Listener::Unix { listener, socket } => (Accept::Unix(listener), Some(socket)),
            Listener::Tcp(listener) => (Accept::Tcp(listener), None),
        }
    }
}

/// Accepts connections until `drained` (new connections are still taken while draining), each
/// TLS handshake in a task of its own under a timeout, and hands the ready ones to the server
/// through the returned stream. The stream never ends by itself: tonic treats the end of its
/// connections as a reason to stop at once, and only the drain decides that. Every connection
/// fails its I/O once `closed` resolves.
pub(crate) fn incoming(
    listener: Accept,
    tls: Option<TlsAcceptor>,
    drained: Drained,
    closed: Drained,
) -> impl Stream<Item = io::Result<PluginConn>> + Send + 'static {
    let (ready, receiver) = mpsc::channel::<PluginStream>(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = drained.clone() => break,
                () = ready.closed() => break,
                accepted = listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::warn!(%error, "plugin: accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            let ready = ready.clone();
            match &tls {
                None => {
                    let _ = ready.send(stream).await;
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let drained = drained.clone();
                    tokio::spawn(async move {
                        let handshake =
                            tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, secure(acceptor, stream));
                        let secured = tokio::select! {
                            () = drained => return,
                            secured = handshake => secured,
                        };
                        match secured {
                            Ok(Ok(stream)) => {
                                let _ = ready.send(stream).await;
                            }
                            // A client that connects and hangs up (a port check) is no news.
                            Ok(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => {
                                tracing::debug!(%error, "plugin: connection closed before TLS");
                            }
                            Ok(Err(error)) => {
                                tracing::warn!(%error, "plugin: TLS handshake refused");
                            }
                            Err(_) => tracing::warn!(
                                timeout = ?TLS_HANDSHAKE_TIMEOUT,
                                "plugin: TLS handshake timed out"
                            ),
                        }
                    });
                }
            }
        }
    });
    futures::stream::unfold(receiver, |mut receiver| async move {
        let stream = receiver.recv().await?;
        Some((stream, receiver))
    })
    .map(move |stream| Ok(Conn::new(stream, closed.clone(), Activity::new(), None)))
    .chain(futures::stream::pending())
}

/// A bound listener, ready to accept.
#[derive(Debug)]
pub(crate) enum Accept {
    Unix(tokio::net::UnixListener),
    Tcp(TcpListener),
}

impl Accept {
    async fn accept(&self) -> io::Result<PluginStream> {
        match self {
            Accept::Unix(listener) => Ok(PluginStream::Unix(listener.accept().await?.0)),
            Accept::Tcp(listener) => {
                let (stream, _) = listener.accept().await?;
                // Small replies must not wait for the host's delayed ACK (Nagle's algorithm).
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "plugin: cannot set TCP_NODELAY");
                }
                Ok(PluginStream::Tcp(stream))
            }
        }
    }
}

async fn secure(acceptor: TlsAcceptor, stream: PluginStream) -> io::Result<PluginStream> {
    Ok(match stream {
        PluginStream::Unix(stream) => {
            PluginStream::UnixTls(Box::new(acceptor.accept(stream).await?))
        }
        PluginStream::Tcp(stream) => PluginStream::TcpTls(Box::new(acceptor.accept(stream).await?)),
        already => already,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_busy_range_is_a_clear_error() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = taken.local_addr().unwrap().port();
        let error = bind_tcp(port, port).await.unwrap_err();
        let expected = format!(
            "no free TCP port on 127.0.0.1 in PLUGIN_MIN_PORT..=PLUGIN_MAX_PORT ({port}..={port}): "
        );
        assert!(error.to_string().starts_with(&expected), "{error}");
        assert!(matches!(error, PluginError::NoFreePort { .. }));
    }

    #[tokio::test]
    async fn takes_the_first_free_port_of_the_range() {
        // Two adjacent ports, the first taken and the second free a moment ago.
        let (taken, free) = (0..50)
            .find_map(|_| {
                let taken = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
                let port = taken.local_addr().ok()?.port().checked_add(1)?;
                std::net::TcpListener::bind(("127.0.0.1", port)).ok()?;
                Some((taken, port))
            })
            .expect("two adjacent loopback ports");
        let first = taken.local_addr().unwrap().port();
        let listener = bind_tcp(first, free).await.unwrap();
        assert_eq!(
            listener.addr(),
            PluginAddr::Tcp(([127, 0, 0, 1], free).into())
        );
    }

    #[test]
    fn a_numeric_group_is_a_gid_and_an_unknown_name_an_error() {
        assert_eq!(resolve_group("4242").unwrap(), 4242);
        let error = resolve_group("no-such-group-here").unwrap_err();
        assert_eq!(
            error.to_string(),
            "PLUGIN_UNIX_SOCKET_GROUP=\"no-such-group-here\": no such group; give a group name or a numeric gid"
        );
    }
}
