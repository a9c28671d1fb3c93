//! One accepted connection: its stream, its slot under the connection limit, its idle timer, and
//! the moment after which every read and write fails.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::Drained;

/// What the accept loop and the connection share: when it was last active, and whether it has
/// been evicted to make room for a newer one.
#[derive(Debug)]
pub(crate) struct Activity {
    /// When the connection was opened.
    opened: Instant,
    /// Milliseconds after `opened` of the last byte read or written.
    last: AtomicU64,
    /// Requests (HTTP) or calls (gRPC) under way on it: a connection with some is not idle,
    /// however quiet.
    in_flight: AtomicUsize,
    evicted: AtomicBool,
    waker: AtomicWaker,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Activity {
            opened: Instant::now(),
            last: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            evicted: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        })
    }

    pub(crate) fn touch(&self) {
        let elapsed = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(elapsed, Ordering::Relaxed);
    }

    /// When the connection last moved a byte.
    pub(crate) fn last_active(&self) -> Instant {
        self.opened + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    /// Counts one request under way until the guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Whether a request is under way.
    pub(crate) fn is_busy(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) > 0
    }

    /// Resolves once the connection is evicted (for a task that holds it outside a [`Conn`],
    /// such as a TLS handshake).
    #[cfg(feature = "tls")]
    pub(crate) async fn evicted(&self) {
        std::future::poll_fn(|cx| {
            self.waker.register(cx.waker());
            if self.is_evicted() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    /// Closes the connection: its next read or write fails.
    pub(crate) fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        self.waker.wake();
    }

    pub(crate) fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }
}

/// One request under way on a connection, until dropped.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// The idle timer of a connection.
struct Idle {
    limit: Duration,
    timer: Pin<Box<Sleep>>,
}

/// A connection that fails every read and write once `closed` resolves or it is evicted, and
/// once it has moved no byte for its idle limit. Tonic and hyper run each connection in a task of
/// their own, which ending a server does not end: this is what does.
pub(crate) struct Conn<S> {
    stream: S,
    /// `None` once it has resolved (a `Shared` must not be polled again after that).
    closed: Option<Drained>,
    activity: Arc<Activity>,
    idle: Option<Idle>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Conn<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("stream", &self.stream)
            .field("activity", &self.activity)
            .finish_non_exhaustive()
    }
}

impl<S> Conn<S> {
    /// `stream`, failing once `closed` resolves, and after `idle` without a byte when given.
    pub(crate) fn new(
        stream: S,
        closed: Drained,
        activity: Arc<Activity>,
        idle: Option<Duration>,
    ) -> Self {
        activity.touch();
        Conn {
            stream,
            closed: Some(closed),
            activity,
            idle: idle.map(|limit| Idle {
                limit,
                timer: Box::pin(tokio::time::sleep(limit)),
            }),
        }
    }

    /// What the connection shares with its listener.
    #[cfg(feature = "http")]
    pub(crate) fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }

    /// The stream to do I/O on, or the error every I/O gets once closed.
    fn open(&mut self, cx: &mut Context<'_>) -> io::Result<Pin<&mut S>>
    where
        S: Unpin,
    {
        if let Some(closed) = &mut self.closed
            && Pin::new(closed).poll(cx).is_ready()
        {
            self.closed = None;
        }
        if self.closed.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server has shut down",
            ));
        }
        self.activity.waker.register(cx.waker());
        if self.activity.is_evicted() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed to make room for a newer connection",
            ));
        }
        Ok(Pin::new(&mut self.stream))
    }

    /// While the stream waits: whether the idle limit has passed since the last byte.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(idle) = &mut self.idle else {
            return false;
        };
        while idle.timer.as_mut().poll(cx).is_ready() {
            let deadline = self.activity.last_active() + idle.limit;
            if Instant::now() >= deadline {
                return true;
            }
            idle.timer.as_mut().reset(deadline);
        }
        false
    }

    fn idle_error(&self) -> io::Error {
        let limit = self
            .idle
            .as_ref()
            .map(|idle| idle.limit)
            .unwrap_or_default();
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no byte either way for {limit:?}"),
        )
    }

    fn progress<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll {
            Poll::Ready(Ok(done)) => {
                self.activity.touch();
                Poll::Ready(Ok(done))
            }
            Poll::Pending if self.idle_expired(cx) => Poll::Ready(Err(self.idle_error())),
            other => other,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Conn<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = match this.open(cx) {
            Ok(stream) => stream.poll_read(cx, buf),
            Err(error) => return Poll::Ready(Err(error)),
        };
        this.progress(cx, poll)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Conn<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = match this.open(cx) {
            Ok(stream) => stream.poll_write(cx, buf),
            Err(error) => return Poll::Ready(Err(error)),
        };
        this.progress(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = match this.open(cx) {
            Ok(stream) => stream.poll_write_vectored(cx, bufs),
            Err(error) => return Poll::Ready(Err(error)),
        };
        this.progress(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = match this.open(cx) {
            Ok(stream) => stream.poll_flush(cx),
            Err(error) => return Poll::Ready(Err(error)),
        };
        this.progress(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().open(cx) {
            Ok(stream) => stream.poll_shutdown(cx),
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

#[cfg(feature = "grpc")]
impl<S: tonic::transport::server::Connected> tonic::transport::server::Connected for Conn<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_fails_after_its_limit_and_not_before() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut conn = Conn::new(
            near,
            super::super::never(),
            Activity::new(),
            Some(Duration::from_secs(5)),
        );
        let mut buf = [0; 8];
        tokio::time::sleep(Duration::from_secs(3)).await;
        far.write_all(b"hi").await.unwrap();
        assert_eq!(conn.read(&mut buf).await.unwrap(), 2);
        // Activity at 3 s moves the deadline to 8 s.
        let started = Instant::now();
        let error = conn.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test]
    async fn an_evicted_connection_fails_its_pending_read() {
        let (near, _far) = tokio::io::duplex(64);
        let activity = Activity::new();
        let mut conn = Conn::new(near, super::super::never(), activity.clone(), None);
        let evict = tokio::spawn(async move {
            tokio::task::yield_now().await;
            activity.evict();
        });
        let mut buf = [0; 8];
        let error = conn.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionAborted);
        evict.await.unwrap();
    }

    #[tokio::test]
    async fn a_closed_connection_fails_reads_and_writes() {
        use futures::FutureExt as _;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let closed = async move {
            let _ = rx.await;
        }
        .boxed()
        .shared();
        let (near, _far) = tokio::io::duplex(64);
        let mut conn = Conn::new(near, closed, Activity::new(), None);
        tx.send(()).unwrap();
        let mut buf = [0; 8];
        assert!(conn.read(&mut buf).await.is_err());
        assert!(conn.write_all(b"x").await.is_err());
    }
}
