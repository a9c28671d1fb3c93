//! Serving HTTP on accepted connections with hyper: HTTP/1 with a header-read timeout on the
//! HTTP surface, HTTP/1 and h2c on the probe port, graceful close at the end of the drain and a
//! hard one at the end of the grace.

use std::io;
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;

use super::Drained;
use super::accept::ServerStream;
use super::conn::Conn;
use crate::config::ConnectionLimits;

/// The protocols of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocols {
    /// HTTP/1.1 only: the HTTP surface (probes, scrapers and browsers speak it).
    Http1,
    /// HTTP/1.1 and HTTP/2 without TLS (h2c): the probe port, for gRPC health and HTTP probes.
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    Http1AndH2c,
}

/// A hyper connection builder with `limits`.
pub(crate) fn builder(
    protocols: Protocols,
    limits: &ConnectionLimits,
) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 << 10);
    match protocols {
        Protocols::Http1 => builder.http1_only(),
        Protocols::Http1AndH2c => {
            builder
                .http2()
                .timer(TokioTimer::new())
                .max_concurrent_streams(limits.max_concurrent_streams)
                .keep_alive_interval(limits.keepalive)
                .keep_alive_timeout(limits.keepalive)
                .max_pending_accept_reset_streams(Some(20))
                .max_header_list_size(16 << 10);
            builder
        }
    }
}

/// Serves `service` on every connection of `incoming` until `stop`; then lets the open
/// connections finish (keep-alive ones close after their current response) until `closed`, when
/// what is left is cut.
pub(crate) async fn serve<S, B>(
    incoming: impl Stream<Item = io::Result<Conn<ServerStream>>> + Send + 'static,
    service: S,
    builder: auto::Builder<TokioExecutor>,
    stop: Drained,
    closed: Drained,
) where
    S: tower_service::Service<http::Request<Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let builder = std::sync::Arc::new(builder);
    let mut incoming = std::pin::pin!(incoming);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let conn = tokio::select! {
            biased;
            () = stop.clone() => break,
            conn = incoming.next() => conn,
            // Reap finished connections as they go, so the set stays small.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Some(Ok(conn)) = conn else { break };
        let service = super::track::Tracked::on(service.clone(), conn.activity().clone());
        let (builder, stop) = (builder.clone(), stop.clone());
        connections.spawn(async move {
            let connection =
                builder.serve_connection(TokioIo::new(conn), TowerToHyperService::new(service));
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(error) = served {
                        tracing::debug!(%error, "HTTP connection ended");
                    }
                    return;
                }
                () = stop => connection.as_mut().graceful_shutdown(),
            }
            if let Err(error) = connection.await {
                tracing::debug!(%error, "HTTP connection ended");
            }
        });
    }
    // Connections still open at the end of the grace fail their I/O and end; the set is dropped
    // (aborting them) in case one is stuck elsewhere.
    let finished = async { while connections.join_next().await.is_some() {} };
    tokio::select! {
        () = finished => {}
        () = closed => {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
