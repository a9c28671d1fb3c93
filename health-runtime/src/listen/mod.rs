//! The listeners of the servers this crate starts, for gRPC, the HTTP surface and the probe
//! port: accepting within a connection limit (evicting the least recently active connection
//! rather than refusing a new one), backing off when the process is out of file descriptors,
//! TLS handshakes off the accept loop, connections that close when idle, and connections that
//! fail every read and write once shutdown's grace has passed, whatever their peer does.

pub(crate) mod accept;
pub(crate) mod conn;
pub(crate) mod fd;
#[cfg(feature = "http")]
pub(crate) mod hosts;
#[cfg(feature = "http")]
pub(crate) mod http;
#[cfg(all(feature = "grpc", feature = "http"))]
pub(crate) mod probe;
#[cfg(feature = "tls")]
pub(crate) mod tls;
pub(crate) mod track;

/// A moment of shutdown (the end of the drain, the end of the grace after it), shared by every
/// server and connection that waits for it.
pub(crate) type Drained = futures::future::Shared<futures::future::BoxFuture<'static, ()>>;

/// A moment that never comes.
#[cfg(test)]
pub(crate) fn never() -> Drained {
    use futures::FutureExt as _;
    futures::future::pending().boxed().shared()
}

/// When the application's runtime last ran a task of the probe port's: answers from the
/// published state must not outlive the runtime that publishes it. A runtime whose workers are
/// all stuck (a deadlock, a blocking loop) publishes nothing new, and a probe port that kept
/// answering `SERVING` would keep a wedged process alive.
#[derive(Debug)]
pub(crate) struct Heartbeat {
    base: std::time::Instant,
    /// Milliseconds after `base` of the last beat.
    last: std::sync::atomic::AtomicU64,
    armed: std::sync::atomic::AtomicBool,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            base: std::time::Instant::now(),
            last: std::sync::atomic::AtomicU64::new(0),
            armed: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Heartbeat {
    /// Records a beat now; the first one arms the check.
    #[cfg_attr(not(all(feature = "grpc", feature = "http")), allow(dead_code))]
    pub(crate) fn beat(&self) {
        use std::sync::atomic::Ordering;
        let now = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Release);
        self.armed.store(true, Ordering::Release);
    }

    /// How long since the last beat, when longer than `limit`.
    pub(crate) fn stalled(&self, limit: std::time::Duration) -> Option<std::time::Duration> {
        use std::sync::atomic::Ordering;
        if !self.armed.load(Ordering::Acquire) {
            return None;
        }
        let last = std::time::Duration::from_millis(self.last.load(Ordering::Acquire));
        let since = self.base.elapsed().saturating_sub(last);
        (since > limit).then_some(since)
    }
}

/// A TLS file that cannot be used, or TLS asked of a build without it.
#[derive(Debug, thiserror::Error)]
#[error("{variable}={path:?}: {problem}")]
#[non_exhaustive]
#[cfg_attr(not(feature = "grpc"), allow(dead_code, unreachable_pub))]
pub struct TlsError {
    /// The variable that names the file (the same file as the field of
    /// [`TlsFiles`](crate::config::TlsFiles) when set by code).
    pub variable: &'static str,
    /// The file.
    pub path: std::path::PathBuf,
    /// What is wrong with it.
    pub problem: String,
}
