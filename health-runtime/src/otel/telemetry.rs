//! [`Telemetry`]: the three SDK providers with OTLP exporters, installed as the global ones.

use std::collections::HashMap;
use std::fmt;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _, WithTonicConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use super::config::{Destination, Otlp, Protocol, Signal, shown};
use super::filter::HealthSpans;
use super::http_client::ReqwestClient;
use crate::ConfigError;

/// Why [`Otlp::install`] or [`init_from_env`](super::init_from_env) installed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// A variable, or a setting made in code, is malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The exporters need a Tokio runtime (gRPC's channel and the HTTP client run on it).
    #[error("OpenTelemetry export must be installed from within a Tokio runtime")]
    NoRuntime,
    /// An exporter could not be built.
    #[error("the OTLP {signal} exporter could not be built: {source}")]
    Exporter {
        /// Its signal.
        signal: Signal,
        /// What went wrong.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// The HTTP client of an OTLP/HTTP exporter could not be built.
    #[error("the HTTP client of the OTLP {signal} exporter could not be built: {source}")]
    HttpClient {
        /// Its signal.
        signal: Signal,
        /// What went wrong.
        #[source]
        source: reqwest::Error,
    },
}

/// Why [`Telemetry::force_flush`] or [`Telemetry::shutdown`] did not complete for every
/// signal: each provider that failed, with its error.
#[derive(Debug, thiserror::Error)]
#[error("{}", display_failures(.failures))]
pub struct TelemetryError {
    failures: Vec<(Signal, OTelSdkError)>,
}

impl TelemetryError {
    /// Each provider that failed, with its error.
    pub fn failures(&self) -> impl Iterator<Item = (Signal, &OTelSdkError)> {
        self.failures.iter().map(|(signal, error)| (*signal, error))
    }
}

fn display_failures(failures: &[(Signal, OTelSdkError)]) -> String {
    let lines: Vec<String> = failures
        .iter()
        .map(|(signal, error)| format!("the {signal} provider: {error}"))
        .collect();
    lines.join("; ")
}

/// The three providers, cheap to clone (each is a handle).
#[derive(Debug, Clone)]
struct Providers {
    tracer: SdkTracerProvider,
    meter: SdkMeterProvider,
    logger: SdkLoggerProvider,
}

impl Providers {
    /// Flushes (or shuts down) spans and logs, then metrics, whose last export then counts
    /// everything before it.
    fn run(&self, shutdown: bool) -> Result<(), TelemetryError> {
        let results = if shutdown {
            [
                (Signal::Traces, self.tracer.shutdown()),
                (Signal::Logs, self.logger.shutdown()),
                (Signal::Metrics, self.meter.shutdown()),
            ]
        } else {
            [
                (Signal::Traces, self.tracer.force_flush()),
                (Signal::Logs, self.logger.force_flush()),
                (Signal::Metrics, self.meter.force_flush()),
            ]
        };
        let failures: Vec<_> = results
            .into_iter()
            .filter_map(|(signal, result)| result.err().map(|error| (signal, error)))
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(TelemetryError { failures })
        }
    }
}

/// The SDK providers [`Otlp::install`] made and installed as the global ones (tracer and meter
/// providers in `opentelemetry::global`, the logger provider with
/// [`set_logger_provider`](super::set_logger_provider)): spans through a batch processor,
/// metrics through a periodic reader, logs through a batch processor, each to its OTLP
/// exporter.
///
/// Keep it for the life of the application and call [`shutdown`](Self::shutdown) at the end:
/// it exports what is still buffered. Dropping it shuts down too, best-effort: inline outside
/// Tokio; within a Tokio runtime on a thread of its own, not waited for (the exporters need
/// the runtime, which the dropping thread may be the one driver of).
#[must_use = "dropping it shuts the exporters down"]
pub struct Telemetry {
    providers: Providers,
    done: bool,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("shut_down", &self.done)
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// A `tracing` layer exporting the health spans only, for the application's subscriber:
    /// the engine's `health_check` span of every run (with its `health.check.*` fields as
    /// attributes, its status `ERROR` on failure), the crate's events inside it, and what a
    /// check's own code makes while the engine runs it (an `async` check's spans are children
    /// of the run's; a plain `fn` check's have no parent, so that a check hanging past its
    /// timeout does not hold the run's span open), at `INFO` and above. Spans and events of
    /// the application are not exported by it; for those, the application adds a
    /// tracing-opentelemetry layer of its own, filtered with
    /// [`without_health`](super::without_health).
    ///
    /// That filter is required beside this layer: two tracing-opentelemetry layers of one
    /// subscriber must never see the same span, and tracing-subscriber panics, in the task that
    /// started a check run, when they do.
    pub fn tracing_layer<S>(&self) -> impl Layer<S> + 'static
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        let tracer = self.providers.tracer.tracer_with_scope(super::scope());
        // The span's code location, thread and target are the same for every run (the engine
        // spawns each on a task), and busy/idle time says nothing the span's own times do not:
        // left out, they would only add to every run's cost.
        tracing_opentelemetry::layer()
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_tracer(tracer)
            .with_filter(HealthSpans)
    }

    /// The tracer provider, to build the application's own tracers from.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.providers.tracer
    }

    /// The meter provider.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.providers.meter
    }

    /// The logger provider (for `opentelemetry-appender-tracing`, say).
    pub fn logger_provider(&self) -> &SdkLoggerProvider {
        &self.providers.logger
    }

    /// Exports everything buffered now, metrics included, and waits for it. It blocks the
    /// thread; in async code call it from `tokio::task::spawn_blocking`: the exporters run on
    /// the Tokio runtime.
    pub fn force_flush(&self) -> Result<(), TelemetryError> {
        self.providers.run(false)
    }

    /// Exports what is buffered and shuts the three providers down; blocks like
    /// [`force_flush`](Self::force_flush).
    pub fn shutdown(mut self) -> Result<(), TelemetryError> {
        self.done = true;
        self.providers.run(true)
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let providers = self.providers.clone();
        let shutdown = move || {
            if let Err(error) = providers.run(true) {
                tracing::warn!(%error, "OpenTelemetry shutdown failed");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Err(_) => shutdown(),
            // The exporters need the runtime this thread may be the one driver of.
            Ok(_) => {
                let spawned = std::thread::Builder::new()
                    .name("health-otel-shutdown".to_owned())
                    .spawn(shutdown);
                if let Err(error) = spawned {
                    tracing::warn!(%error, "OpenTelemetry shutdown not started");
                }
            }
        }
    }
}

impl Otlp {
    /// Builds the three OTLP exporters and providers, installs them as the global ones, and
    /// returns the guard that flushes and shuts them down. Must be called within a Tokio
    /// runtime, which the exporters use for as long as they run; and before
    /// [`HealthRuntimeBuilder::build`](crate::HealthRuntimeBuilder::build), which creates each
    /// runtime's instruments from the providers installed then.
    pub fn install(self) -> Result<Telemetry, InstallError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| InstallError::NoRuntime)?;
        let resource = self.resource();
        let traces = self.destination(Signal::Traces)?;
        let metrics = self.destination(Signal::Metrics)?;
        let logs = self.destination(Signal::Logs)?;
        let exporter_error = |signal| move |source| InstallError::Exporter { signal, source };

        let span_exporter = match traces.protocol {
            Protocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(traces.endpoint.clone())
                .with_timeout(traces.timeout)
                .with_metadata(metadata(&traces)?)
                .build(),
            Protocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(traces.endpoint.clone())
                .with_timeout(traces.timeout)
                .with_headers(headers(&traces))
                .with_http_client(http_client(Signal::Traces, &traces, &runtime)?)
                .build(),
        }
        .map_err(exporter_error(Signal::Traces))?;
        let metric_exporter = match metrics.protocol {
            Protocol::Grpc => opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(metrics.endpoint.clone())
                .with_timeout(metrics.timeout)
                .with_metadata(metadata(&metrics)?)
                .build(),
            Protocol::HttpProtobuf => opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(metrics.endpoint.clone())
                .with_timeout(metrics.timeout)
                .with_headers(headers(&metrics))
                .with_http_client(http_client(Signal::Metrics, &metrics, &runtime)?)
                .build(),
        }
        .map_err(exporter_error(Signal::Metrics))?;
        let log_exporter = match logs.protocol {
            Protocol::Grpc => opentelemetry_otlp::LogExporter::builder()
                .with_tonic()
                .with_endpoint(logs.endpoint.clone())
                .with_timeout(logs.timeout)
                .with_metadata(metadata(&logs)?)
                .build(),
            Protocol::HttpProtobuf => opentelemetry_otlp::LogExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(logs.endpoint.clone())
                .with_timeout(logs.timeout)
                .with_headers(headers(&logs))
                .with_http_client(http_client(Signal::Logs, &logs, &runtime)?)
                .build(),
        }
        .map_err(exporter_error(Signal::Logs))?;

        let providers = Providers {
            tracer: SdkTracerProvider::builder()
                .with_batch_exporter(span_exporter)
                .with_resource(resource.clone())
                .build(),
            meter: SdkMeterProvider::builder()
                .with_reader(
                    PeriodicReader::builder(metric_exporter)
                        .with_interval(self.metric_interval())
                        .build(),
                )
                .with_resource(resource.clone())
                .build(),
            logger: SdkLoggerProvider::builder()
                .with_batch_exporter(log_exporter)
                .with_resource(resource)
                .build(),
        };
        opentelemetry::global::set_tracer_provider(providers.tracer.clone());
        opentelemetry::global::set_meter_provider(providers.meter.clone());
        super::set_logger_provider(&providers.logger);
        tracing::debug!(
            traces = %shown(&traces.endpoint),
            metrics = %shown(&metrics.endpoint),
            logs = %shown(&logs.endpoint),
            "OpenTelemetry export installed"
        );
        Ok(Telemetry {
            providers,
            done: false,
        })
    }

    /// `service.name`, `service.version`, the resource attributes, and the SDK's own.
    fn resource(&self) -> Resource {
        let service_name = self
            .service_name
            .clone()
            .or_else(|| {
                self.resource
                    .iter()
                    .rev()
                    .find(|(key, _)| key == "service.name")
                    .map(|(_, value)| value.clone())
            })
            .unwrap_or_else(program_name);
        let mut builder = Resource::builder_empty()
            .with_detector(Box::new(
                opentelemetry_sdk::resource::TelemetryResourceDetector,
            ))
            .with_attributes(
                self.resource
                    .iter()
                    .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
            )
            .with_service_name(service_name);
        if let Some(version) = &self.service_version {
            builder = builder.with_attribute(KeyValue::new("service.version", version.clone()));
        }
        builder.build()
    }
}

/// The program's file name, the default `service.name`.
fn program_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|path| {
            std::path::Path::new(&path)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown_service".to_owned())
}

fn headers(destination: &Destination) -> HashMap<String, String> {
    destination
        .headers
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

fn metadata(destination: &Destination) -> Result<tonic::metadata::MetadataMap, ConfigError> {
    let mut map = http::HeaderMap::new();
    for (key, value) in &destination.headers {
        let bad = |problem: String| ConfigError {
            variable: "OTEL_EXPORTER_OTLP_HEADERS",
            value: format!("{key}=***"),
            problem,
        };
        let name = http::HeaderName::from_bytes(key.as_bytes())
            .map_err(|_| bad(format!("`{key}` is not a header name")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|_| bad("the value is not a header value".to_owned()))?;
        map.insert(name, value);
    }
    Ok(tonic::metadata::MetadataMap::from_headers(map))
}

fn http_client(
    signal: Signal,
    destination: &Destination,
    runtime: &tokio::runtime::Handle,
) -> Result<ReqwestClient, InstallError> {
    ReqwestClient::new(destination.timeout, runtime.clone())
        .map_err(|source| InstallError::HttpClient { signal, source })
}
