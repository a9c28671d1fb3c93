//! Helpers shared by the example services: measurements their health checks report.

use std::io::IsTerminal as _;
use std::net::SocketAddr;

use health_runtime::HealthConfig;
use health_runtime::config::ConfigError;
use health_runtime::plugin::{Handshake, HclogFormat, PluginAddr};

/// The handshake of HashiCorp go-plugin's gRPC KV example: cookie `BASIC_PLUGIN=hello`, app
/// protocol version 1.
pub fn handshake() -> Handshake {
    Handshake::new("BASIC_PLUGIN", "hello").versions([1])
}

/// Logs to stderr at `RUST_LOG`'s levels (default `info`): as hclog JSON when a go-plugin host
/// launched the process (the host re-logs each line at its level), otherwise as text, coloured
/// only on a terminal. Stdout carries only go-plugin's handshake line.
pub fn init_tracing(launched_by_host: bool) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if launched_by_host {
        logs.event_format(HclogFormat::new()).init();
    } else {
        logs.with_ansi(std::io::stderr().is_terminal()).init();
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
