//! The accept loop: a connection limit kept by evicting the least recently active connection,
//! a back-off when accepting fails (out of file descriptors), TLS handshakes in tasks of their own.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::Drained;
use super::conn::{Activity, Conn};

/// The first pause after a failed accept; it doubles up to [`MAX_BACKOFF`] while accepting keeps
/// failing, as Go's `net/http` server does.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
/// The longest pause after a failed accept.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// One accepted TCP connection, over TLS when the listener has it.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum ServerStream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl ServerStream {
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    fn tcp(&self) -> &TcpStream {
        match self {
            ServerStream::Plain(stream) => stream,
            #[cfg(feature = "tls")]
            ServerStream::Tls(stream) => stream.get_ref().0,
        }
    }
}

macro_rules! each {
    ($self:ident, $stream:ident => $body:expr) => {
        match $self.get_mut() {
            ServerStream::Plain($stream) => {
                let $stream = Pin::new($stream);
                $body
            }
            #[cfg(feature = "tls")]
            ServerStream::Tls($stream) => {
                let $stream = Pin::new(&mut **$stream);
                $body
            }
        }
    };
}

impl AsyncRead for ServerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, stream => stream.poll_read(cx, buf))
    }
}

impl AsyncWrite for ServerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, stream => stream.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self, stream => stream.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ServerStream::Plain(stream) => stream.is_write_vectored(),
            #[cfg(feature = "tls")]
            ServerStream::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, stream => stream.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, stream => stream.poll_shutdown(cx))
    }
}

#[cfg(feature = "grpc")]
impl tonic::transport::server::Connected for ServerStream {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.tcp().connect_info()
    }
}

/// The connections of one listener, at most `cap` at once, by peer address. A connection
/// beyond the cap is still accepted, and the connection with no request under way that moved a
/// byte longest ago is closed instead: an attacker holding idle connections cannot keep a probe
/// out, and the process never holds more descriptors than the cap.
#[derive(Debug)]
pub(crate) struct Slots {
    cap: usize,
    open: Mutex<HashMap<SocketAddr, Weak<Activity>>>,
}

impl Slots {
    pub(crate) fn new(cap: usize) -> Self {
        Slots {
            cap: cap.max(1),
            open: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Weak<Activity>>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A slot for a new connection from `peer`, evicting one when all are taken.
    pub(crate) fn admit(&self, peer: SocketAddr) -> Arc<Activity> {
        let mut open = self.lock();
        open.retain(|_, slot| {
            slot.upgrade()
                .is_some_and(|activity| !activity.is_evicted())
        });
        if open.len() >= self.cap {
            Self::evict_from(&mut open, self.cap);
        }
        let activity = Activity::new();
        open.insert(peer, Arc::downgrade(&activity));
        activity
    }

    /// The connection from `peer`, while it is open.
    #[cfg(feature = "grpc")]
    pub(crate) fn of(&self, peer: SocketAddr) -> Option<Arc<Activity>> {
        self.lock().get(&peer).and_then(Weak::upgrade)
    }

    /// Closes one connection to free its descriptor, as when the limit is reached: when
    /// accepting fails for want of descriptors.
    pub(crate) fn evict_one(&self) -> bool {
        Self::evict_from(&mut self.lock(), self.cap)
    }

    /// Evicts the connection with no request under way that moved a byte longest ago, or, when
    /// every one has a request under way, the least recently active of all.
    fn evict_from(open: &mut HashMap<SocketAddr, Weak<Activity>>, cap: usize) -> bool {
        let victim = open
            .iter()
            .filter_map(|(peer, slot)| Some((*peer, slot.upgrade()?)))
            .min_by_key(|(_, activity)| (activity.is_busy(), activity.last_active()));
        let Some((peer, activity)) = victim else {
            return false;
        };
        tracing::debug!(
            cap,
            busy = activity.is_busy(),
            "connection limit reached; closing the least recently active connection"
        );
        activity.evict();
        open.remove(&peer);
        true
    }

    /// How many connections are open.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.lock()
            .values()
            .filter(|slot| {
                slot.upgrade()
                    .is_some_and(|activity| !activity.is_evicted())
            })
            .count()
    }
}

/// How a listener accepts.
pub(crate) struct Listen {
    /// The surface, for logs: `gRPC`, `HTTP`, `probe`.
    pub(crate) surface: &'static str,
    /// The most connections held at once.
    pub(crate) cap: usize,
    /// How long a connection may move no byte; `None` for no limit.
    pub(crate) idle: Option<Duration>,
    /// TLS, when the listener has it.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<super::tls::Reloadable>,
    /// How long a TLS handshake may take.
    #[cfg(feature = "tls")]
    pub(crate) handshake_timeout: Duration,
}

impl std::fmt::Debug for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listen")
            .field("surface", &self.surface)
            .field("cap", &self.cap)
            .field("idle", &self.idle)
            .finish_non_exhaustive()
    }
}

/// Accepts connections on `listener` until `stop` (the end of the drain), and hands them to the
/// server through the returned stream. The stream never ends by itself: tonic treats the end of
/// its connections as a reason to stop at once, and only the drain decides that. Every
/// connection fails its I/O once `closed` resolves.
pub(crate) fn incoming(
    listener: TcpListener,
    listen: Listen,
    stop: Drained,
    closed: Drained,
) -> (
    impl Stream<Item = io::Result<Conn<ServerStream>>> + Send + 'static,
    Arc<Slots>,
) {
    let (ready, receiver) = mpsc::channel::<Conn<ServerStream>>(64);
    let slots = Arc::new(Slots::new(listen.cap));
    tokio::spawn(accept_loop(
        listener,
        listen,
        slots.clone(),
        stop,
        closed,
        ready,
    ));
    let incoming = futures::stream::unfold(receiver, |mut receiver| async move {
        let conn = receiver.recv().await?;
        Some((Ok(conn), receiver))
    })
    .chain(futures::stream::pending());
    (incoming, slots)
}

async fn accept_loop(
    listener: TcpListener,
    listen: Listen,
    slots: Arc<Slots>,
    stop: Drained,
    closed: Drained,
    ready: mpsc::Sender<Conn<ServerStream>>,
) {
    let listen = Arc::new(listen);
    let mut backoff = None::<Duration>;
    loop {
        let accepted = tokio::select! {
            () = stop.clone() => break,
            () = ready.closed() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff = None;
                accepted
            }
            // The peer gave up before the accept: nothing is wrong here.
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            // Out of descriptors or memory: retrying at once would spin a core and starve the
            // other listeners. Close this listener's least useful connection, and wait, longer
            // each time, for descriptors to come back.
            Err(error) => {
                slots.evict_one();
                let pause = backoff.map_or(FIRST_BACKOFF, |last| (last * 2).min(MAX_BACKOFF));
                if backoff.is_none() {
                    tracing::warn!(surface = listen.surface, %error, "accepting connections failed; backing off");
                } else {
                    tracing::debug!(surface = listen.surface, %error, ?pause, "accepting connections still fails");
                }
                backoff = Some(pause);
                tokio::select! {
                    () = stop.clone() => break,
                    () = tokio::time::sleep(pause) => continue,
                }
            }
        };
        // Small replies must not wait for the peer's delayed ACK (Nagle's algorithm).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let activity = slots.admit(peer);
        #[cfg(feature = "tls")]
        if let Some(acceptor) = listen.tls.as_ref().map(super::tls::Reloadable::acceptor) {
            let (listen, ready, closed) = (listen.clone(), ready.clone(), closed.clone());
            tokio::spawn(async move {
                let handshake =
                    tokio::time::timeout(listen.handshake_timeout, acceptor.accept(stream));
                // An evicted handshake lets its descriptor go at once, so that handshakes count
                // against the limit like every other connection.
                let secured = tokio::select! {
                    () = closed.clone() => return,
                    () = activity.evicted() => return,
                    secured = handshake => secured,
                };
                match secured {
                    Ok(Ok(stream)) => {
                        let stream = ServerStream::Tls(Box::new(stream));
                        let _ = ready
                            .send(Conn::new(stream, closed, activity, listen.idle))
                            .await;
                    }
                    // A client that connects and hangs up (a port check) is no news.
                    Ok(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => {
                        tracing::debug!(surface = listen.surface, %error, "connection closed before TLS");
                    }
                    Ok(Err(error)) => {
                        tracing::info!(surface = listen.surface, %error, "TLS handshake refused");
                    }
                    Err(_) => tracing::info!(
                        surface = listen.surface,
                        timeout = ?listen.handshake_timeout,
                        "TLS handshake timed out"
                    ),
                }
            });
            continue;
        }
        let conn = Conn::new(
            ServerStream::Plain(stream),
            closed.clone(),
            activity,
            listen.idle,
        );
        if ready.send(conn).await.is_err() {
            break;
        }
    }
}

/// The connection limit of a listener: `configured`, but never more than `1/share` of the
/// process's file descriptor limit, so that one surface's clients cannot take the descriptors
/// every other listener needs.
pub(crate) fn cap(configured: usize, share: u64) -> usize {
    match super::fd::soft_limit() {
        Some(limit) => {
            let allowed = usize::try_from(limit / share).unwrap_or(usize::MAX).max(1);
            configured.min(allowed)
        }
        None => configured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_listener_evicts_its_least_recently_active_connection() {
        let peer = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        let slots = Slots::new(2);
        let first = slots.admit(peer(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        let second = slots.admit(peer(2));
        assert_eq!(slots.open(), 2);
        let third = slots.admit(peer(3));
        assert!(first.is_evicted());
        assert!(!second.is_evicted() && !third.is_evicted());
        assert_eq!(slots.open(), 2);
        drop(second);
        let _fourth = slots.admit(peer(4));
        assert!(!third.is_evicted());
        assert!(slots.of(peer(3)).is_some() && slots.of(peer(1)).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_with_a_request_under_way_is_evicted_last() {
        let peer = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        let slots = Slots::new(2);
        let busy = slots.admit(peer(1));
        let _request = busy.begin();
        tokio::time::advance(Duration::from_secs(1)).await;
        let idle = slots.admit(peer(2));
        let _newcomer = slots.admit(peer(3));
        assert!(
            idle.is_evicted(),
            "the idle connection goes first, though newer"
        );
        assert!(!busy.is_evicted());
    }
}
