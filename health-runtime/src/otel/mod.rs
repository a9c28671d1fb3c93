//! OpenTelemetry: every runtime's health as metrics, its transitions as log records and its
//! check runs as spans, through the OpenTelemetry *global* providers; and
//! [`init_from_env`] to install OTLP exporters from the standard `OTEL_*` variables.
//!
//! A library instruments, the application installs: the crate only ever uses the providers
//! installed when a runtime is built. Each runtime's instruments (instrumentation scope
//! `health-runtime` with the crate's version) are created by
//! [`build`](crate::HealthRuntimeBuilder::build) from the global meter provider and the logger
//! provider set with [`set_logger_provider`], so **install the providers before `build()`**
//! ([`init_from_env`] does, when called first). A runtime built before gets the API's no-op
//! instruments.
//!
//! # Metrics
//!
//! | name | instrument | unit | attributes | value |
//! |---|---|---|---|---|
//! | `health.status` | observable gauge (i64) | `1` | `health.service` | 1 serving, 0 not, for every health service name (each check, `service` value, probe group, `plugin` and the overall `""`), as `grpc.health.v1` and Prometheus' `health_status` answer |
//! | `health.check.status` | observable gauge (i64) | `1` | `health.check.name`, `health.check.state` (`healthy`, `warning`, `critical`, `unknown`) | 1 for the state the check shows, 0 for the others (the `hw.status` pattern of the semantic conventions) |
//! | `health.check.duration` | histogram (f64) | `s` | `health.check.name`, `health.check.result` | one per run |
//! | `health.check.runs` | counter (u64) | `{run}` | `health.check.name`, `health.check.result` (`success`, `failure`) | one per run, both results present from the check's registration |
//! | `health.check.uptime` | observable gauge (f64) | `1` | `health.check.name`, `health.window` (`1h`, `24h`) | [`History::uptime`](crate::history::History::uptime); absent while the check has no known status |
//!
//! `failure` counts what [`HealthEvent::Ran`](crate::HealthEvent::Ran) calls failed: anything
//! but a healthy result, even while `failure_threshold` still holds it back from the status.
//! The gauges read the published state at each collection and never run a check; the counter,
//! the histogram and the log records come from the engine's events, from the first run on.
//!
//! The gauges' callbacks hold the runtime weakly: a dropped runtime reports nothing. A removed
//! check's gauge series disappear at the next collection. Its counter and histogram series
//! stay: with the default cumulative temporality the SDK keeps every attribute set it has seen
//! for the life of the meter provider and exports its last sums; with delta temporality they
//! stop being exported after the first collection without a run. Two runtimes alive at once
//! report the same series (the SDK adds their runs; the gauges show both, the last observed
//! winning): one runtime per process is the expected use.
//!
//! # Log records
//!
//! One per status transition ([`HealthEvent::Transition`](crate::HealthEvent::Transition)),
//! event name `health.check.transition`, body `health check <name>: <from> -> <to>`, severity
//! INFO into `healthy` (and `unknown`), WARN into `warning`, ERROR into `critical`, its
//! timestamp the run's, with the attributes `health.check.name`, `health.check.from`,
//! `health.check.to`, `health.check.message` (when the run left one), `health.check.value`
//! (f64, when it reported one), `health.check.duration` (f64, seconds, of the run that caused
//! it) and `health.check.groups` (the probe groups, a string array).
//!
//! # Spans
//!
//! Every run is a `tracing` span `health_check` (target `health_runtime::engine`) whose start
//! and end are the run's, with `health.check.name` and, recorded when it ends,
//! `health.check.outcome` (`ok`, `error`, `timeout`, `panic`), `health.check.status` (the
//! status shown after it), `health.check.result` (`success`, `failure`) and, on failure,
//! `otel.status_code = "ERROR"` (tracing-opentelemetry's span status).
//! [`Telemetry::tracing_layer`] exports those spans alone.
//!
//! # Setting up
//!
//! ```
//! use health_runtime::{HealthRuntime, otel};
//! use tracing_subscriber::prelude::*;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // First: the runtime's instruments are made from the providers installed when it is built.
//! let telemetry = otel::init_from_env(env!("CARGO_PKG_VERSION"))?;
//! let health_spans = telemetry.as_ref().map(|telemetry| telemetry.tracing_layer());
//! tracing_subscriber::registry()
//!     .with(tracing_subscriber::fmt::layer())
//!     .with(health_spans)
//!     .init();
//! let health = HealthRuntime::builder().version(env!("CARGO_PKG_VERSION")).build()?;
//! health.start();
//! // ... serve ...
//! if let Some(telemetry) = telemetry {
//!     tokio::task::spawn_blocking(move || telemetry.shutdown()).await??;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Keeping health out of the application's traces
//!
//! Probes come every few seconds, and each would otherwise be a trace of its own in the
//! application's tracing backend. Two things keep them out.
//!
//! The check runs: the application's own OpenTelemetry layer gets the per-layer filter
//! [`without_health`], which drops the spans and events of health-runtime (target
//! `health_runtime::*`); other layers, such as the log output, still see them.
//!
//! The request spans of probes: the application's request-span layer is wrapped in
//! [`exempt::exempt`](crate::exempt::exempt) so that health RPCs and probe paths go around it,
//! or, with tonic's `Server::trace_fn`, no span is made for
//! [`exempt::is_health_path`](crate::exempt::is_health_path):
//!
//! ```
//! use health_runtime::{HealthRuntime, exempt, otel};
//! use opentelemetry::trace::TracerProvider as _;
//! use tracing_subscriber::prelude::*;
//! # #[derive(Clone)]
//! # struct RequestSpans;
//! # impl<S> tower_layer::Layer<S> for RequestSpans {
//! #     type Service = S;
//! #     fn layer(&self, inner: S) -> S { inner }
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The application's tracer provider, with its own exporter.
//! let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! let app_traces = tracing_opentelemetry::layer()
//!     .with_tracer(provider.tracer("my-app"))
//!     .with_filter(otel::without_health());
//! let _guard = tracing_subscriber::registry().with(app_traces).set_default();
//!
//! let health = HealthRuntime::builder().build()?;
//! // Either: the request-span layer, around which health calls go.
//! let server = tonic::transport::Server::builder()
//!     .layer(exempt::exempt(RequestSpans))
//!     .add_routes(health_runtime::grpc::routes(&health));
//! # drop(server);
//! // Or: tonic's own request spans, none for health calls.
//! let server = tonic::transport::Server::builder()
//!     .trace_fn(|request| {
//!         let path = request.uri().path();
//!         if exempt::is_health_path(path) {
//!             tracing::Span::none()
//!         } else {
//!             tracing::info_span!("grpc_request", rpc.path = %path)
//!         }
//!     })
//!     .add_routes(health_runtime::grpc::routes(&health));
//! # drop(server);
//! # Ok(())
//! # }
//! ```

mod config;
mod filter;
mod http_client;
mod instruments;
mod logs;
mod telemetry;

use std::sync::Arc;

use opentelemetry::InstrumentationScope;

pub use self::config::{Otlp, Protocol, Signal, VARIABLES};
pub use self::filter::{WithoutHealth, without_health};
pub use self::logs::set_logger_provider;
pub use self::telemetry::{InstallError, Telemetry, TelemetryError};
use crate::runtime::builder::Attach;

/// Reads the `OTEL_*` variables ([`Otlp::from_env`]) and, when an endpoint is set and the SDK
/// is not disabled, installs OTLP exporters for spans, metrics and logs as the global providers
/// ([`Otlp::install`]), with resource `service.version` = `service_version` (usually the
/// application's `env!("CARGO_PKG_VERSION")`). `Ok(None)` when there is nothing to export to.
///
/// Call it within a Tokio runtime, before building the [`HealthRuntime`](crate::HealthRuntime).
pub fn init_from_env(service_version: &str) -> Result<Option<Telemetry>, InstallError> {
    match Otlp::from_env()? {
        Some(otlp) => otlp
            .with_service_version(service_version)
            .install()
            .map(Some),
        None => Ok(None),
    }
}

/// The instrumentation scope of everything the crate records.
fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("health-runtime")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// Instruments every runtime from its first run: the run observer now, the gauges once the
/// runtime exists (they read it).
pub(crate) fn attach(attach: &mut Attach) {
    let meter = opentelemetry::global::meter_with_scope(scope());
    let observer = Arc::new(instruments::RunInstruments::new(&meter, logs::logger()));
    attach.observers.push(observer);
    attach.on_built.push(Box::new(move |runtime| {
        instruments::register_gauges(&meter, runtime.downgrade());
    }));
}

#[cfg(test)]
mod tests;
