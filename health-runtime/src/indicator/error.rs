//! [`DependencyError`]: why a check of a dependency failed, one type for every kind.

use std::time::Duration;

/// Why a check of a dependency failed: [`TcpEndpoint`](super::TcpEndpoint),
/// [`HttpEndpoint`], [`GrpcEndpoint`], [`SqliteDatabase`] and the functions of
/// [`deps`].
///
/// Its message names the target and says why, with every cause; it is what a failed check
/// shows. A URL or address in it (the fields `url` and `target` alike) has lost its secrets:
/// user info shows as `***@`, each query value as `***` (`?api_key=***`), a fragment as `#***`.
///
/// [`deps`]: super::deps
#[cfg_attr(feature = "http-check", doc = "[`HttpEndpoint`]: super::HttpEndpoint")]
#[cfg_attr(
    not(feature = "http-check"),
    doc = "[`HttpEndpoint`]: super#cargo-features"
)]
#[cfg_attr(feature = "grpc", doc = "[`GrpcEndpoint`]: super::GrpcEndpoint")]
#[cfg_attr(not(feature = "grpc"), doc = "[`GrpcEndpoint`]: super#cargo-features")]
#[cfg_attr(feature = "sqlite", doc = "[`SqliteDatabase`]: super::SqliteDatabase")]
#[cfg_attr(
    not(feature = "sqlite"),
    doc = "[`SqliteDatabase`]: super#cargo-features"
)]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DependencyError {
    /// The host name did not resolve.
    #[error("cannot resolve `{target}`: {source}")]
    Resolve {
        /// The address asked for, without user info and query values.
        target: String,
        /// Why.
        source: std::io::Error,
    },
    /// No connection could be made.
    #[error("cannot connect to `{target}`: {source}")]
    Connect {
        /// The address asked for, without user info and query values.
        target: String,
        /// Why.
        source: std::io::Error,
    },
    /// The dependency did not answer in time.
    #[error("`{target}` did not answer within {}", humantime::format_duration(*.after))]
    Timeout {
        /// The address asked for, without user info and query values.
        target: String,
        /// How long it was given.
        after: Duration,
    },
    /// The HTTP request failed (connection, TLS, protocol).
    #[error("GET {url} failed: {message}")]
    Http {
        /// The URL, without user info and query values.
        url: String,
        /// Why, with every cause.
        message: String,
    },
    /// The HTTP status is outside the expected range.
    #[error("GET {url} answered {status}; expected {expected}")]
    UnexpectedStatus {
        /// The URL, without user info and query values.
        url: String,
        /// The status received.
        status: u16,
        /// The expected range, e.g. `200..=299`.
        expected: String,
    },
    /// The target is not a valid URI.
    #[error("`{target}` is not a valid target: {message}")]
    InvalidTarget {
        /// The target given, without user info and query values.
        target: String,
        /// Why.
        message: String,
    },
    /// The upstream answered its health check with a status other than `SERVING`.
    #[error("`{target}` reports service `{service}` as {status}")]
    NotServing {
        /// The upstream, without user info and query values.
        target: String,
        /// The health service name asked for.
        service: String,
        /// The status it gave, e.g. `NOT_SERVING`.
        status: String,
    },
    /// The gRPC call failed.
    #[error("gRPC health check of service `{service}` at `{target}` failed: {code}: {message}")]
    Grpc {
        /// The upstream, without user info and query values.
        target: String,
        /// The health service name asked for.
        service: String,
        /// The gRPC status code, e.g. `Unavailable`.
        code: String,
        /// The status message with its causes.
        message: String,
    },
    /// A database query failed (the database is locked, corrupt, missing a table), or the task
    /// running it did not complete.
    #[error("query `{query}` on `{target}` failed: {message}")]
    Query {
        /// The database, e.g. its file.
        target: String,
        /// The query run.
        query: String,
        /// Why.
        message: String,
    },
}

/// Milliseconds since `started`.
pub(super) fn millis(started: tokio::time::Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// The error and its causes, `: `-separated (reqwest and tonic hide the useful part in them).
#[cfg(any(feature = "http-check", feature = "grpc", feature = "notify"))]
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
