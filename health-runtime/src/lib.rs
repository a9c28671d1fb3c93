//! Health checks for tonic plugin servers: declare each check with one attribute and the runtime
//! runs them, caches them, and publishes their state for every health surface.
//!
//! # Quick start
//!
//! ```
//! use health_runtime::{HealthRuntime, Status, health_check};
//!
//! /// The data directory exists and is a directory.
//! #[health_check(name = "data_dir", timeout = "2s", on_error = "critical")]
//! async fn data_dir() -> std::io::Result<()> {
//!     let meta = tokio::fs::metadata(std::env::temp_dir()).await?;
//!     if meta.is_dir() { Ok(()) } else { Err(std::io::Error::other("not a directory")) }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = HealthRuntime::builder().version(env!("CARGO_PKG_VERSION")).build()?;
//! runtime.start(); // re-runs every check in the background
//! let report = runtime.report().await;
//! assert_eq!(report.overall_status, Status::Healthy);
//! # Ok(())
//! # }
//! ```
//!
//! # How checks run
//!
//! - Every check runs under its own timeout; when it passes, the check shows its `on_timeout`
//!   status. An error or a panic shows as `on_error` with the message.
//! - `async fn` checks run on the async runtime, plain `fn` checks on the blocking pool, so a
//!   slow synchronous check never stalls the others.
//! - A result younger than the cache TTL (1 s) is served from cache; concurrent callers that need
//!   a run share a single one. A report runs every due check concurrently.
//! - The background monitor started by [`HealthRuntime::start`] re-runs each check every
//!   `interval`; every run, whoever caused it, updates the published [`HealthSnapshot`].
//! - With `failure_threshold = n`, a failure shows only after `n` failed runs in a row.
//!
//! # Which signals gate what
//!
#![doc = include_str!("status_semantics.md")]
//!
//! # Where checks come from
//!
//! `#[health_check]` registers its function at link time through `inventory`; checks that need
//! state are built at runtime with [`Check`] and added with [`HealthRuntime::register`]. A crate
//! whose items the binary never references is not linked, and its checks are not seen: reference
//! it, e.g. `use my_checks as _;`.

//!
//! # Architecture
//!
//! One crate in layers. Each layer uses only the layers above it in this picture; the core
//! never names a surface or an indicator (a test holds it to that), and the surfaces only read
//! what the core publishes.
//!
//! ```text
//!  #[health_check] (link time)   Check::new · #[derive(HealthAware)] · CheckSource (indicators)
//!            │                                  │
//!            ▼                                  ▼
//!  ┌─ core ────────────────────────────────────────────────────────────────────────┐
//!  │ check    the model: Check, CheckInfo, CheckOutcome                            │
//!  │ engine   registry · cache · single-flight · timeouts · panics · monitor       │
//!  │ runtime  HealthRuntime (the engine's API) · builder · config · aware handlers │
//!  │ state    HealthSnapshot · service-name resolution · HealthReport              │
//!  └──────┬──────────────────────────────────────────────┬───────────────────────┘
//!         │ published snapshot (tokio watch)             │ HealthEvent: runs, transitions,
//!         │                                              │ checks added/removed, drains
//!         ▼                                              ▼ (observers, broadcast)
//!  grpc · http · health_file · plugin                    prometheus (run histogram) · history
//!                                                        · otel · notify · yours
//!         └──────────── server::serve: all of them, the monitor, the drain ───────────┘
//! ```
//!
//! | layer | modules |
//! |---|---|
//! | the check model | [`check`] |
//! | the engine | runs, caches and publishes; private, reached through [`HealthRuntime`] |
//! | the runtime and builder | [`runtime`], [`config`] |
//! | the published state | [`state`], and the [events](HealthEvent) |
//! | the surfaces | `grpc`, `http`, `prometheus`, [`health_file`], `plugin`, `server` (all at once), `pb` (the protos); each but the health file behind its Cargo feature |
//! | what the events feed | [`history`], `otel` (OpenTelemetry metrics, spans and transition records), `notify` (webhooks on transitions), each behind its Cargo feature |
//! | the indicators | [`indicator`]: the machine, the requests served, dependencies |
//! | around the application's layers | [`exempt`]: health calls pass by authentication and rate limits |
//!
//! Surfaces that need something from every runtime from its first run (Prometheus' run
//! histogram observes every run; the health file has a check of its own) are attached by the
//! builder through the crate root, the one place that names both the core and the surfaces.

#![cfg_attr(docsrs, feature(doc_cfg))]

// The core: the check model, the engine, the runtime and its builder, the published state.
pub mod check;
mod engine;
pub mod runtime;
pub mod state;

// The surfaces, each over the published state.
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub mod grpc;
pub mod health_file;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
#[cfg(feature = "otel")]
#[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
pub mod otel;
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub mod pb;
#[cfg(feature = "go-plugin")]
#[cfg_attr(docsrs, doc(cfg(feature = "go-plugin")))]
pub mod plugin;
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub mod prometheus;
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub mod server;

#[cfg(feature = "grpc")]
mod memory;

// The listeners under the servers started here.
#[cfg(any(feature = "grpc", feature = "http"))]
mod listen;

// Health calls around the application's own layers.
pub mod exempt;

// What happened: each check's transitions and uptime.
pub mod history;

// Webhooks on transitions.
#[cfg(feature = "notify")]
#[cfg_attr(docsrs, doc(cfg(feature = "notify")))]
pub mod notify;

// The indicators: checks of the machine, of the requests served, of dependencies.
pub mod indicator;

/// What the surfaces compiled in attach to every runtime as the builder builds it: the one place
/// that names both the core and the surfaces.
pub(crate) fn attach_surfaces(attach: &mut runtime::builder::Attach, config: &HealthConfig) {
    health_file::attach(attach, config);
    history::attach(attach, config);
    #[cfg(feature = "prometheus")]
    prometheus::attach(attach);
    #[cfg(feature = "otel")]
    otel::attach(attach);
    #[cfg(feature = "notify")]
    notify::attach(attach, config);
}

/// Whether this build sends notifications (the `notify` feature).
#[allow(dead_code)]
pub(crate) const NOTIFY_COMPILED: bool = cfg!(feature = "notify");

/// What a build without the `notify` feature says of a notification target.
#[cfg(not(feature = "notify"))]
const NOTIFY_NEEDED: &str = "notifications need health-runtime's `notify` feature";

/// Why `url` cannot be a notification target, if it cannot. The configuration asks here, where
/// the surfaces compiled in are known.
pub(crate) fn check_notify_url(url: &str) -> Result<(), String> {
    #[cfg(feature = "notify")]
    return notify::parse_url(url).map(drop);
    #[cfg(not(feature = "notify"))]
    {
        let _ = url;
        Err(NOTIFY_NEEDED.to_owned())
    }
}

/// Why `secret` cannot sign or authorize notifications, if it cannot.
pub(crate) fn check_notify_secret(secret: &config::Secret) -> Result<(), String> {
    #[cfg(feature = "notify")]
    return notify::check_secret(secret);
    #[cfg(not(feature = "notify"))]
    {
        let _ = secret;
        Ok(())
    }
}

/// Why the builder cannot send notifications with `settings` (which have a target), if it
/// cannot.
pub(crate) fn check_notify(settings: &config::NotifySettings) -> Result<(), String> {
    #[cfg(feature = "notify")]
    return notify::resolve(settings)
        .map(drop)
        .map_err(|error| error.to_string());
    #[cfg(not(feature = "notify"))]
    {
        let shown: Vec<String> = settings.targets.iter().map(|t| t.address()).collect();
        Err(format!(
            "notification targets {}: {NOTIFY_NEEDED}",
            shown.join(", ")
        ))
    }
}

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

// The nouns users name; everything else is in its module.
pub use check::{Check, CheckError, CheckOutcome, HealthIndicator, IntoCheckOutcome};
pub use engine::event::{HealthEvent, HealthObserver};
pub use health_macros::{HealthAware, health_check};
pub use health_rules::{Group, Status};
pub use runtime::HealthAware;
pub use runtime::config::{self as config, HealthConfig};
pub use runtime::{CheckSource, HealthRuntime, HealthRuntimeBuilder};
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub use server::serve;
pub use state::{HealthReport, HealthSnapshot};

// Short paths for the crate's own modules; not every feature set uses every one.
#[allow(unused_imports)]
pub(crate) use check::{CheckInfo, Location};
#[allow(unused_imports)]
pub(crate) use runtime::AwareHandle;
#[allow(unused_imports)]
pub(crate) use runtime::RegistryError;
#[allow(unused_imports)]
pub(crate) use runtime::config::{ConfigError, DetailLevel};
#[allow(unused_imports)]
pub(crate) use state::{CheckSnapshot, CheckState, HealthMetric};
