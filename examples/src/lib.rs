//! Helpers shared by the example services: measurements their health checks report.

use std::io::IsTerminal as _;
use std::net::SocketAddr;

use health_runtime::HealthConfig;
use health_runtime::config::ConfigError;
use health_runtime::otel::{self, Telemetry};
use health_runtime::plugin::{Handshake, HclogFormat, PluginAddr};
use tracing_subscriber::prelude::*;

/// The handshake of HashiCorp go-plugin's gRPC KV example: cookie `BASIC_PLUGIN=hello`, app
/// protocol version 1.
pub fn handshake() -> Handshake {
    Handshake::new("BASIC_PLUGIN", "hello").versions([1])
}

/// Logs to stderr at `RUST_LOG`'s levels (default `info`): as hclog JSON when a go-plugin host
/// launched the process (the host re-logs each line at its level), otherwise as text, coloured
/// only on a terminal. Stdout carries only go-plugin's handshake line.
///
/// With `OTEL_EXPORTER_OTLP_ENDPOINT` (or a per-signal endpoint) set, also exports the health
/// runtime's metrics, transition log records and check-run spans over OTLP, as the standard
/// `OTEL_*` variables say: call it first, before the runtime is built, and hand what it returns
/// to [`flush_telemetry`] on the way out. A malformed `OTEL_*` value is an error naming it.
pub fn init_tracing(launched_by_host: bool) -> Result<Option<Telemetry>, otel::InstallError> {
    let telemetry = otel::init_from_env(env!("CARGO_PKG_VERSION"))?;
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = if launched_by_host {
        logs.event_format(HclogFormat::new()).boxed()
    } else {
        logs.with_ansi(std::io::stderr().is_terminal()).boxed()
    };
    // The run spans go to OTLP whatever `RUST_LOG` says of the log lines.
    let health_spans = telemetry.as_ref().map(Telemetry::tracing_layer);
    tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(health_spans)
        .init();
    if telemetry.is_some() {
        tracing::info!("exporting health over OTLP");
    }
    Ok(telemetry)
}

/// Exports what telemetry is still buffered, for at most a second: a go-plugin host kills a
/// plugin that is still running 2 s after it asked it to stop.
pub async fn flush_telemetry(telemetry: Option<Telemetry>) {
    let Some(telemetry) = telemetry else { return };
    let shutdown = tokio::task::spawn_blocking(move || telemetry.shutdown());
    match tokio::time::timeout(std::time::Duration::from_secs(1), shutdown).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => tracing::warn!(%error, "telemetry not flushed"),
        Ok(Err(error)) => tracing::warn!(%error, "telemetry not flushed"),
        Err(_) => tracing::warn!("telemetry not flushed within 1 s"),
    }
}

/// The configuration from `PLUGIN_*` variables, with Prometheus metrics on unless
/// `PLUGIN_ENABLE_PROMETHEUS` says otherwise: the examples show every surface.
///
/// Launched by a go-plugin host, the HTTP probes and the health file are on only when
/// `PLUGIN_HEALTH_HTTP_ADDR` and `PLUGIN_HEALTH_FILE_PATH` ask for them: a host may launch the
/// plugin many times at once, and the instances must not fight over one port or one file.
pub fn config_from_env(launched_by_host: bool) -> Result<HealthConfig, ConfigError> {
    let mut config = HealthConfig::from_env()?;
    if std::env::var_os("PLUGIN_ENABLE_PROMETHEUS").is_none() {
        config.surfaces.prometheus = true;
    }
    if launched_by_host {
        if std::env::var_os("PLUGIN_HEALTH_HTTP_ADDR").is_none() {
            config.surfaces.http_addr = None;
        }
        if std::env::var_os("PLUGIN_HEALTH_FILE_PATH").is_none() {
            config.surfaces.health_file = None;
        }
    }
    Ok(config)
}

/// Where the examples serve gRPC when run by hand: `PLUGIN_HEALTH_GRPC_ADDR`, by default
/// `127.0.0.1:50051`.
pub fn grpc_addr() -> Result<SocketAddr, ConfigError> {
    const VARIABLE: &str = "PLUGIN_HEALTH_GRPC_ADDR";
    match std::env::var(VARIABLE) {
        Err(_) => Ok(SocketAddr::from(([127, 0, 0, 1], 50051))),
        Ok(value) => value.trim().parse().map_err(|_| ConfigError {
            variable: VARIABLE,
            value,
            problem: "expected an address such as `127.0.0.1:50051` or `[::1]:50051`".to_owned(),
        }),
    }
}

/// Connects to the server's own listener, TCP or unix socket, and hangs up.
pub async fn accepts_connections(addr: &PluginAddr) -> std::io::Result<()> {
    match addr {
        PluginAddr::Unix(path) => tokio::net::UnixStream::connect(path).await.map(drop),
        PluginAddr::Tcp(addr) => tokio::net::TcpStream::connect(addr).await.map(drop),
        other => Err(std::io::Error::other(format!("cannot connect to {other}"))),
    }
}
