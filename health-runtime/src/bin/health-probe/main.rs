//! `health-probe`: a command-line client for the health services of a plugin server, with the
//! exit codes of `grpc_health_probe`, so it can stand in for it in Kubernetes exec probes and
//! scripts.
//!
//! ```text
//! health-probe check --addr 127.0.0.1:50051 --service readiness
//! health-probe watch --service kv.v1.KV
//! health-probe list
//! health-probe report [--json] [--token TOKEN]
//! health-probe file --path /tmp/health --max-age 90s
//! ```
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | serving (`check`, `watch`, `report`), listed (`list`), a fresh healthy file (`file`) |
//! | 1 | bad arguments: unknown options, unreadable certificate files, a malformed address or `--rpc-header` |
//! | 2 | no connection: refused, TLS handshake failed, or not connected within `--connect-timeout`; for `file`, a missing or stale file |
//! | 3 | the RPC failed: an error status such as `NOT_FOUND` for an unknown name, or no answer within `--rpc-timeout`; for `file`, content that does not parse, not a regular file, or larger than 64 KiB |
//! | 4 | not serving: `NOT_SERVING`, `UNKNOWN` or `SERVICE_UNKNOWN`; a `critical` or `unknown` report; a file that says it is not healthy |
//!
//! Every RPC carries the metadata of `--rpc-header name:value` (as `grpc_health_probe`'s
//! `-rpc-header`). `report` also sends, with `--token` or `PLUGIN_HEALTH_AUTH_TOKEN` in the
//! environment, `authorization: Bearer <token>`, which the server's detail level may ask for
//! before the report shows messages and values; without it the report has statuses only, and
//! `report` says so on stderr. The other commands never send the token: their answers do not
//! depend on it, and an exec probe inheriting the server's environment must not send it on every
//! probe.
//!
//! Timeouts follow `grpc_health_probe`: a connection not made in time is a connection failure
//! (2), an RPC not answered in time is an RPC failure (3).

mod connect;
mod file;
mod grpc;
mod report;
mod style;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Probe the health of a plugin server over gRPC, or the health file it writes.
#[derive(Debug, Parser)]
#[command(name = "health-probe", version)]
struct Cli {
    #[command(flatten)]
    conn: ConnectArgs,
    #[command(subcommand)]
    command: Command,
}

/// How to reach the server: shared by every gRPC command.
#[derive(Debug, Clone, Args)]
struct ConnectArgs {
    /// The server: `host:port` or a URI (`http://host:port`, `https://host:port`).
    #[arg(
        long,
        global = true,
        default_value = "127.0.0.1:50051",
        value_name = "ADDR"
    )]
    addr: String,
    /// The longest wait for the connection (and TLS handshake), e.g. `1s`, `500ms`.
    #[arg(long, global = true, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    connect_timeout: Duration,
    /// The longest wait for the RPC's answer (for `watch`: for the first status).
    #[arg(long, global = true, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    rpc_timeout: Duration,
    /// Use TLS, trusting the system's root certificates unless `--tls-ca-cert` is given.
    /// Implied by an `https://` address and by every other `--tls-*` option.
    #[arg(long, global = true)]
    tls: bool,
    /// PEM file of the certificate authorities to trust instead of the system's.
    #[arg(long, global = true, value_name = "FILE")]
    tls_ca_cert: Option<PathBuf>,
    /// PEM file of the client certificate, for mutual TLS.
    #[arg(long, global = true, value_name = "FILE", requires = "tls_client_key")]
    tls_client_cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key, for mutual TLS.
    #[arg(long, global = true, value_name = "FILE", requires = "tls_client_cert")]
    tls_client_key: Option<PathBuf>,
    /// The name to verify the server's certificate against, instead of the address's host.
    #[arg(long, global = true, value_name = "NAME")]
    tls_server_name: Option<String>,
    /// The server's `PLUGIN_HEALTH_AUTH_TOKEN`, sent as `authorization: Bearer <TOKEN>` with
    /// `report`, for its details (messages, values, thresholds); the other commands never send
    /// it. Never printed.
    #[arg(
        long,
        global = true,
        env = "PLUGIN_HEALTH_AUTH_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = secret
    )]
    token: Option<Secret>,
    /// Metadata to send on every RPC, `name:value` (repeatable), e.g.
    /// `authorization:Bearer <TOKEN>`; one of the same name as `--token` replaces it.
    #[arg(long = "rpc-header", global = true, value_name = "NAME:VALUE", value_parser = secret)]
    rpc_headers: Vec<Secret>,
}

/// A command-line value that may hold a secret (`--token`, `--rpc-header`): its `Debug` shows
/// no content, and no error message repeats it.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Takes any string: a malformed value is reported later, without the value
/// ([`grpc::metadata`]), where clap would echo it.
fn secret(text: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret(text.to_owned()))
}

/// The commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Check one service once and print `status: SERVING` or another status (exit 0 or 4).
    Check {
        /// The service name: `""` for the whole server, `liveness`, `readiness`, `startup`,
        /// `plugin`, a check's name, or a service that checks count toward.
        #[arg(long, default_value = "")]
        service: String,
    },
    /// Print a timestamped line for the current status of a service and for each change,
    /// until the server ends the stream, Ctrl-C or SIGTERM; exit by the last status.
    Watch {
        /// The service name, as for `check`.
        #[arg(long, default_value = "")]
        service: String,
    },
    /// List every service name the server knows and its status.
    List {
        /// Print a JSON object of name to status instead of a table.
        #[arg(long)]
        json: bool,
        /// When to colour the statuses.
        #[arg(long, value_enum, default_value_t = style::ColorChoice::Auto)]
        color: style::ColorChoice,
    },
    /// Print the detailed report: every check's status, value, message and last run
    /// (exit 0 when the overall status is healthy or warning, 4 otherwise).
    Report {
        /// Print the report as JSON, in the shape of the library's `HealthReport`.
        #[arg(long)]
        json: bool,
        /// When to colour the statuses.
        #[arg(long, value_enum, default_value_t = style::ColorChoice::Auto)]
        color: style::ColorChoice,
    },
    /// Validate the health file a server writes, for exec probes: it must parse, say
    /// `"healthy": true` (or, with `--group`, that group's verdict `true`), and be younger than
    /// `--max-age`. Makes no connection.
    File {
        /// The health file (the server's `PLUGIN_HEALTH_FILE_PATH`).
        #[arg(long, default_value = "/tmp/health", value_name = "FILE")]
        path: PathBuf,
        /// The oldest timestamp accepted; keep it above the server's check interval (30s by
        /// default) with room for one missed write.
        #[arg(long, default_value = "90s", value_parser = parse_duration, value_name = "DURATION")]
        max_age: Duration,
        /// Judge one probe group's verdict (`liveness`, `readiness` or `startup`) instead of the
        /// overall `"healthy"`: a liveness probe should fail only for what a restart can fix.
        #[arg(long, value_parser = parse_group, value_name = "GROUP")]
        group: Option<health_runtime::Group>,
    },
}

fn parse_group(text: &str) -> Result<health_runtime::Group, String> {
    health_runtime::Group::ALL
        .into_iter()
        .find(|group| group.as_str() == text)
        .ok_or_else(|| {
            format!("`{text}` is no probe group; expected liveness, readiness or startup")
        })
}

/// The process exit codes, as `grpc_health_probe` uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// Serving, or the command did what it was asked.
    Ok = 0,
    /// Bad arguments.
    Usage = 1,
    /// No connection, or none in time.
    Connection = 2,
    /// The RPC failed or did not answer in time.
    Rpc = 3,
    /// The server answered: not serving.
    NotServing = 4,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// Why a command could not get an answer; each kind maps to one exit code.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// The arguments cannot be used (a malformed address, an unreadable certificate file).
    #[error("{0}")]
    Usage(String),
    /// The connection failed.
    #[error("failed to connect to `{addr}`: {reason}")]
    Connect {
        /// The address as given.
        addr: String,
        /// The transport error and its causes.
        reason: String,
    },
    /// The connection was not made within the connect timeout.
    #[error("timeout: failed to connect to `{addr}` within {}", humantime::format_duration(*.timeout))]
    ConnectTimeout {
        /// The address as given.
        addr: String,
        /// The connect timeout.
        timeout: Duration,
    },
    /// The RPC returned an error status.
    #[error("health rpc failed: {}: {}", code_name(.0.code()), .0.message())]
    Rpc(tonic::Status),
    /// The RPC did not answer within the RPC timeout.
    #[error("timeout: health rpc did not complete within {}", humantime::format_duration(*.0))]
    RpcTimeout(Duration),
}

impl Failure {
    fn exit(&self) -> Exit {
        match self {
            Failure::Usage(_) => Exit::Usage,
            Failure::Connect { .. } | Failure::ConnectTimeout { .. } => Exit::Connection,
            Failure::Rpc(_) | Failure::RpcTimeout(_) => Exit::Rpc,
        }
    }
}

/// The gRPC name of a status code, e.g. `NOT_FOUND`.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// A duration in the grammar every duration of this project uses (`1s`, `250ms`, `1m 30s`, or a
/// bare number of seconds); never zero.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = health_rules::duration::parse(text).map_err(|error| error.to_string())?;
    if duration.is_zero() {
        return Err("must be greater than zero".to_owned());
    }
    Ok(duration)
}

/// Parses the arguments, runs the command, and exits with its code.
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // `--help` and `--version` go to stdout and succeed; every usage error exits 1,
            // not clap's 2, which here means a connection failure.
            let _ = error.print();
            return if error.use_stderr() {
                Exit::Usage.into()
            } else {
                Exit::Ok.into()
            };
        }
    };
    if let Command::File {
        path,
        max_age,
        group,
    } = &cli.command
    {
        return file::run(path, *max_age, *group).into();
    }
    // tonic's TLS takes rustls' process-wide provider, which rustls cannot choose by itself when
    // another feature (go-plugin's AutoMTLS) compiles aws-lc-rs in beside ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("health-probe: cannot start the async runtime: {error}");
            return Exit::Usage.into();
        }
    };
    let mut conn = cli.conn;
    // The token changes only what the report shows: the probes never send it, so that an exec
    // probe that inherits the server's environment does not send it on every probe, to a
    // plaintext probe port included.
    if !matches!(cli.command, Command::Report { .. }) {
        conn.token = None;
    }
    match runtime.block_on(grpc::run(&conn, cli.command)) {
        Ok(exit) => exit.into(),
        Err(failure) => {
            eprintln!("health-probe: {failure}");
            failure.exit().into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let cli = Cli::try_parse_from([
            "health-probe",
            "--token",
            "t0ps3cret",
            "--rpc-header",
            "authorization:Bearer h3ad3r",
            "report",
        ])
        .unwrap();
        let debug = format!("{cli:?}");
        assert!(
            !debug.contains("t0ps3cret") && !debug.contains("h3ad3r"),
            "{debug}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
