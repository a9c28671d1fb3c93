//! Indicators: what the built-in checks look at. The machine's resources, the requests the
//! server answers, and the dependencies it needs, one type per kind; and [`HealthIndicator`],
//! the trait of a dependency that can check itself, for the fields of a
//! `#[derive(HealthAware)]` handler.
//!
//! # Built-in indicators
//!
//! | kind | type | checks | value | graded |
//! |---|---|---|---|---|
//! | system resources | [`SystemIndicators`] | `cpu_usage`, `memory_usage`, `disk_usage` | percent | warning above 80 % of the threshold, critical above it |
//! | a path's filesystem | [`DiskSpace`] | one, named by you | percent used | warning above 80 % of the threshold, critical above it |
//! | requests | [`RequestStats`], [`RequestIndicators`] | `request_success_rate` | percent | warning below 98, critical below 95 |
//! | | | `avg_response_time`, `p99_response_time` | milliseconds | warning above 2000, critical above 5000 |
//! | TCP dependency | [`TcpEndpoint`], [`deps::tcp_connect`], [`deps::tcp_check`] | one, named by you | connect time, ms | healthy when a connection is made |
//! | HTTP(S) dependency | [`HttpEndpoint`], [`deps::http_get`], [`deps::http_check`] | one, named by you | time to the response headers, ms | healthy when the status is in the expected range |
//! | gRPC dependency | [`GrpcEndpoint`], [`deps::grpc_health`], [`deps::grpc_check`] | one, named by you | round trip, ms | healthy when the upstream answers `SERVING` |
//! | SQLite database | [`SqliteDatabase`] | one, named by you | query time, ms | healthy when the query runs |
//!
//! ## System and request indicators
//!
//! Each is an ordinary [`Check`] whose run only reads the latest sample or the request window,
//! so it returns at once and shows up wherever checks do: the report, the gRPC health names,
//! the published snapshot. Add them with [`HealthRuntimeBuilder::with_checks`] (each is a
//! [`CheckSource`](crate::CheckSource)), or build the checks yourself
//! ([`SystemIndicators::checks`], [`RequestIndicators::checks`]) and
//! [`register`](crate::HealthRuntime::register) them on a running runtime.
//!
//! They only inform by default ([`Check::informational`]): they show in the report, the
//! metrics and the published state with their warning and critical grades, and answer under
//! their own names, but they never restart a pod, take it out of rotation or make `""`,
//! `plugin`, `/health` or the health file say not serving: the machine's load is not this
//! process's fault, and clients shape the request figures. Opt them in with `groups`,
//! `service` or `informational(false)` on [`SystemIndicators`] and [`RequestIndicators`].
//!
//! Configuration turns them off: `PLUGIN_RESOURCE_METRICS=false`,
//! `PLUGIN_HEALTH_REQUEST_METRICS=false` (see [`HealthConfig`]).
//!
//! ## Dependency indicators
//!
//! [`TcpEndpoint`], [`HttpEndpoint`], [`GrpcEndpoint`] and [`SqliteDatabase`] each implement
//! [`HealthIndicator`], so they can be fields of a `#[derive(HealthAware)]` handler; each has
//! `measure` (one check, the value in milliseconds or a [`DependencyError`]) and `into_check`
//! (a [`Check`] to register). Every failure is a [`DependencyError`] whose message names the
//! target and says why. The functions of [`deps`] are the same checks in one line, for
//! `#[health_check]` functions. [`DiskSpace`] is an indicator of the same shape for a
//! directory's filesystem (`read` and `into_check`; a failed reading is a [`ReadingError`]).
//!
//! Called on their own, the network ones ([`TcpEndpoint`], [`HttpEndpoint`], [`GrpcEndpoint`])
//! give up after [`CONNECT_TIMEOUT`] for connecting and [`REQUEST_TIMEOUT`] for the whole call;
//! [`SqliteDatabase`] waits for a locked database as long as its connection's busy timeout, and
//! [`DiskSpace`] for the filesystem. A check's own `timeout` cuts any of them short.
//!
//! # HTTP client policy
//!
//! Every check opens a new connection. [`HttpEndpoint::new`] builds one `reqwest` client when
//! the endpoint is made (rustls with the web PKI roots, a connect timeout of
//! [`CONNECT_TIMEOUT`], a request timeout of [`REQUEST_TIMEOUT`], the user agent
//! `health-runtime/<version>`) that keeps no idle connection; [`deps::http_get`] uses one
//! process-wide client of the same policy, built on its first call; [`deps::http_check`] makes
//! an [`HttpEndpoint`]. So the TLS roots are loaded once per client, not per check, and no
//! connection outlives its check:
//!
//! - a health check should see whether a connection can be made: a pooled connection would
//!   keep answering for a server that no longer accepts new ones;
//! - a pooled connection belongs to the Tokio runtime that opened it: a client shared by
//!   checks on different runtimes would hand one out after its runtime is gone.
//!
//! [`HttpEndpoint::with_client`] takes a client of your own instead, configured as you like
//! (pooling included).
//!
//! # TLS
//!
//! `https://` works with every HTTP check ([`HttpEndpoint`], [`deps::http_get`],
//! [`deps::http_check`]): the built-in clients use rustls with the web PKI roots compiled in,
//! so certificates of public authorities verify with no setup. For a private authority or a
//! client certificate, pass a client of your own ([`HttpEndpoint::with_client`], with
//! `reqwest`'s `add_root_certificate` or `identity`). A gRPC upstream reached by URI is
//! connected without TLS (`http://`); for TLS, give [`GrpcEndpoint`] (or [`deps::grpc_health`])
//! a [`tonic::transport::Channel`] configured with it.
//!
//! # Cargo features
//!
//! In documentation built without a feature, the names of the items it adds link here.
//!
//! | feature | adds |
//! |---|---|
//! | (none) | [`SystemIndicators`], [`DiskSpace`], [`RequestStats`] and its layer, [`TcpEndpoint`], [`deps::tcp_connect`], [`deps::tcp_check`] |
//! | `http-check` | [`HttpEndpoint`], [`deps::http_get`], [`deps::http_check`] (`reqwest` with rustls) |
//! | `grpc` (default) | [`GrpcEndpoint`], [`GrpcTarget`], [`deps::grpc_health`], [`deps::grpc_check`] |
//! | `sqlite` | [`SqliteDatabase`], [`SqliteError`] (SQLite compiled in) |
//!
//! [`HealthRuntimeBuilder::with_checks`]: crate::HealthRuntimeBuilder::with_checks
//! [`HealthConfig`]: crate::HealthConfig
#![cfg_attr(
    not(feature = "http-check"),
    doc = "[`HttpEndpoint`]: self#cargo-features
[`HttpEndpoint::new`]: self#cargo-features
[`HttpEndpoint::with_client`]: self#cargo-features
[`deps::http_get`]: self#cargo-features
[`deps::http_check`]: self#cargo-features"
)]
#![cfg_attr(
    not(feature = "grpc"),
    doc = "[`GrpcEndpoint`]: self#cargo-features
[`GrpcTarget`]: self#cargo-features
[`deps::grpc_health`]: self#cargo-features
[`deps::grpc_check`]: self#cargo-features
[`tonic::transport::Channel`]: self#cargo-features"
)]
#![cfg_attr(
    not(feature = "sqlite"),
    doc = "[`SqliteDatabase`]: self#cargo-features
[`SqliteError`]: self#cargo-features"
)]

use std::sync::Arc;
use std::time::Duration;

use crate::Check;

pub mod deps;
mod error;
// Error text with its causes, for the notification log lines too.
#[cfg(feature = "notify")]
pub(crate) use error::chain;
#[cfg(feature = "grpc")]
mod grpc;
#[cfg(feature = "http-check")]
mod http;
pub(crate) mod redact;
mod requests;
#[cfg(feature = "sqlite")]
mod sqlite;
mod system;
mod tcp;

pub use error::DependencyError;
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub use grpc::{GrpcEndpoint, GrpcTarget};
#[cfg(feature = "http-check")]
#[cfg_attr(docsrs, doc(cfg(feature = "http-check")))]
pub use http::HttpEndpoint;
pub use requests::{
    REQUEST_CHECK_NAMES, RequestIndicators, RequestOutcome, RequestStats, RequestStatsLayer,
    RequestStatsService, RequestSummary, ResponseFuture, StatsBody, StatsRequestBody,
};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{SqliteDatabase, SqliteError};
pub use system::{
    DiskSpace, ReadingError, ResourceMonitor, ResourceReading, ResourceSample, ResourceSource,
    SYSTEM_CHECK_NAMES, SysinfoSource, SystemIndicators,
};
pub use tcp::TcpEndpoint;

/// The trait every indicator implements; part of the check model, re-exported here.
pub use crate::check::HealthIndicator;

/// How long the dependency indicators wait for a connection (10 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the dependency indicators wait for a whole call (30 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What an indicator's checks gate: by default nothing but their own names (informational).
#[derive(Debug, Clone)]
pub(crate) struct Gating {
    pub(crate) groups: Vec<crate::Group>,
    pub(crate) service: Option<String>,
    pub(crate) informational: bool,
}

impl Default for Gating {
    fn default() -> Self {
        Gating {
            groups: Vec::new(),
            service: None,
            informational: true,
        }
    }
}

/// The setters of a bundle of indicator checks that say what they gate (`groups`, `service`,
/// `informational`), for a type with a `gating: Gating` field.
macro_rules! gating_setters {
    () => {
        /// The probe groups the three checks gate (default: none).
        pub fn groups(mut self, groups: impl IntoIterator<Item = $crate::Group>) -> Self {
            self.gating.groups = groups.into_iter().collect();
            self
        }

        /// A gRPC health service name the three checks count toward (default: none).
        pub fn service(mut self, service: impl Into<String>) -> Self {
            self.gating.service = Some(service.into());
            self
        }

        /// Whether the three checks only inform (default: `true`): they never turn `""`,
        /// `plugin`, `/health` or the health file's verdict to not serving. `false` makes them
        /// count toward the overall status like declared checks. See
        /// [`Check::informational`]($crate::Check::informational).
        pub fn informational(mut self, informational: bool) -> Self {
            self.gating.informational = informational;
            self
        }
    };
}
pub(crate) use gating_setters;

impl Gating {
    /// `check` with these settings.
    pub(crate) fn apply(&self, check: Check) -> Check {
        let check = check
            .groups(self.groups.clone())
            .informational(self.informational);
        match &self.service {
            Some(service) => check.service(service.clone()),
            None => check,
        }
    }
}

/// A check named `name` whose every run awaits `indicator`'s [`HealthIndicator::check`].
#[track_caller]
pub(crate) fn check_of<I: HealthIndicator>(name: impl Into<String>, indicator: I) -> Check {
    let indicator = Arc::new(indicator);
    Check::new(name, move || {
        let indicator = indicator.clone();
        async move { indicator.check().await }
    })
}
