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

/// A moment of shutdown (the end of the drain, the end of the grace after it), shared by every
/// server and connection that waits for it.
pub(crate) type Drained = futures::future::Shared<futures::future::BoxFuture<'static, ()>>;

/// A moment that never comes.
#[cfg(test)]
pub(crate) fn never() -> Drained {
    use futures::FutureExt as _;
    futures::future::pending().boxed().shared()
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
