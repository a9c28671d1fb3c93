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

#![cfg_attr(docsrs, feature(doc_cfg))]

mod aware;
mod check;
mod config;
mod engine;
mod error;
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub mod grpc;
mod health_file;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
mod http;
pub mod indicator;
#[cfg(feature = "prometheus")]
mod metrics;
mod name;
mod outcome;
#[cfg(feature = "go-plugin")]
#[cfg_attr(docsrs, doc(cfg(feature = "go-plugin")))]
pub mod plugin;
mod probe;
mod report;
mod runtime;
mod snapshot;
mod status;
mod timefmt;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use aware::{AwareHandle, HealthAware};
pub use check::{Check, CheckInfo, Location};
pub use config::{
    CheckDefaults, ConfigError, DetailLevel, DetailSettings, HealthConfig, RequestSettings,
    ResourceSettings, SurfaceSettings,
};
pub use error::{RegistryError, UnknownCheck};
pub use health_file::{GroupVerdicts, HEALTH_FILE_CHECK, HealthFile};
pub use health_macros::{HealthAware, health_check};
pub use indicator::HealthIndicator;
pub use outcome::{CheckError, CheckOutcome, IntoCheckOutcome, MetricValue, OkValue};
pub use report::{HealthMetric, HealthReport};
pub use runtime::{BuildError, CheckSource, HealthRuntime, HealthRuntimeBuilder};
pub use snapshot::{CheckSnapshot, CheckState, HealthSnapshot};
pub use status::{Group, ParseNameError, Status};
