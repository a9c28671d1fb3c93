//! The gRPC commands: `check`, `watch`, `list` and `report`.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime};

use tonic::Code;
use tonic::Extensions;
use tonic::metadata::{Ascii, MetadataKey, MetadataMap, MetadataValue};

use health_runtime::pb::health::v1::health_check_response::ServingStatus;
use health_runtime::pb::health::v1::health_client::HealthClient;
use health_runtime::pb::health::v1::{HealthCheckRequest, HealthListRequest};
use health_runtime::pb::report::v1::GetHealthReportRequest;
use health_runtime::pb::report::v1::health_report_client::HealthReportClient;

use crate::style::{ColorChoice, Style};
use crate::{Command, ConnectArgs, Exit, Failure, Secret, connect, report};

/// Connects and runs one gRPC command.
pub(crate) async fn run(args: &ConnectArgs, command: Command) -> Result<Exit, Failure> {
    // Before connecting: a malformed header is a usage error whether or not the server is up.
    let out = Outgoing {
        timeout: args.rpc_timeout,
        metadata: metadata(args)?,
    };
    let channel = connect::connect(args).await?;
    let timeout = args.rpc_timeout;
    match command {
        Command::Check { service } => {
            let mut client = HealthClient::new(channel);
            let response = rpc(timeout, client.check(out.request(check_request(&service))))
                .await?
                .into_inner();
            let status = response.status();
            println!("status: {}", status.as_str_name());
            Ok(exit_for(status))
        }
        Command::Watch { service } => watch(HealthClient::new(channel), &out, service).await,
        Command::List { json, color } => {
            let mut client = HealthClient::new(channel);
            let response = rpc(timeout, client.list(out.request(HealthListRequest {})))
                .await?
                .into_inner();
            let statuses: BTreeMap<String, ServingStatus> = response
                .statuses
                .into_iter()
                .map(|(name, status)| (name, status.status()))
                .collect();
            print_list(&statuses, json, color);
            Ok(Exit::Ok)
        }
        Command::Report { json, color } => {
            let mut client = HealthReportClient::new(channel);
            let response = rpc(
                timeout,
                client.get_health_report(out.request(GetHealthReportRequest {})),
            )
            .await?;
            if let Some(hint) = response
                .metadata()
                .get(health_runtime::grpc::WITHHELD_METADATA)
                .and_then(|value| value.to_str().ok())
            {
                eprintln!("health-probe: statuses only: {hint} (--token)");
            }
            let report = report::from_proto(response.into_inner());
            if json {
                println!("{}", report.to_json_pretty());
            } else {
                print!("{}", report::table(&report, Style::new(color)));
            }
            Ok(if report.overall_status.is_serving() {
                Exit::Ok
            } else {
                Exit::NotServing
            })
        }
        Command::File { .. } => unreachable!("`file` makes no connection"),
    }
}

/// Waits for an RPC's answer within the RPC timeout.
async fn rpc<T>(
    timeout: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<tonic::Response<T>, Failure> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(response)) => Ok(response),
        // The deadline sent in `grpc-timeout` may fire first, in tonic's channel (`CANCELLED`)
        // or at the server (`DEADLINE_EXCEEDED`): the same timeout either way.
        Ok(Err(status))
            if matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded)
                && started.elapsed() >= timeout =>
        {
            Err(Failure::RpcTimeout(timeout))
        }
        Ok(Err(status)) => Err(Failure::Rpc(status)),
        Err(_) => Err(Failure::RpcTimeout(timeout)),
    }
}

/// What every RPC carries: the deadline and the metadata of `--token` and `--rpc-header`.
struct Outgoing {
    timeout: Duration,
    metadata: MetadataMap,
}

impl Outgoing {
    /// A request with the metadata that tells the server the client's deadline (`grpc-timeout`).
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = self.stream_request(message);
        request.set_timeout(self.timeout);
        request
    }

    /// A request with the metadata and no deadline, for a stream that lives as long as its reader.
    fn stream_request<T>(&self, message: T) -> tonic::Request<T> {
        tonic::Request::from_parts(self.metadata.clone(), Extensions::default(), message)
    }
}

/// The metadata of `--token` and every `--rpc-header`. A malformed one is a usage error naming
/// the option (and the header's name), never its value, which may be a secret.
pub(crate) fn metadata(args: &ConnectArgs) -> Result<MetadataMap, Failure> {
    let mut metadata = MetadataMap::new();
    let mut headers = Vec::with_capacity(args.rpc_headers.len());
    for Secret(header) in &args.rpc_headers {
        let Some((name, value)) = header.split_once(':') else {
            return Err(Failure::Usage(
                "--rpc-header takes `name:value`, e.g. `authorization:Bearer <token>`; \
                 this one has no `:`"
                    .to_owned(),
            ));
        };
        let name = name.trim();
        let key = MetadataKey::<Ascii>::from_bytes(name.as_bytes()).map_err(|_| {
            Failure::Usage(format!(
                "--rpc-header `{}`: not a metadata name; use ASCII letters, digits, `-`, `_` and \
                 `.`, and no `-bin` suffix",
                name.escape_debug()
            ))
        })?;
        let value = MetadataValue::try_from(value.trim()).map_err(|_| {
            Failure::Usage(format!(
                "--rpc-header `{key}`: the value must be visible ASCII characters and spaces"
            ))
        })?;
        headers.push((key, value));
    }
    if let Some(Secret(token)) = &args.token {
        let mut value =
            MetadataValue::try_from(format!("Bearer {}", token.trim())).map_err(|_| {
                Failure::Usage(
                    "--token (or PLUGIN_HEALTH_AUTH_TOKEN): the token must be visible ASCII \
                 characters"
                        .to_owned(),
                )
            })?;
        value.set_sensitive(true);
        metadata.insert("authorization", value);
    }
    let mut replaced = Vec::new();
    for (key, mut value) in headers {
        if key == "authorization" {
            value.set_sensitive(true);
        }
        // A header named like the token's replaces it; repeated ones add values.
        if metadata.contains_key(&key) && !replaced.contains(&key) {
            metadata.remove(&key);
        }
        replaced.push(key.clone());
        metadata.append(key, value);
    }
    Ok(metadata)
}

/// A `Check` request for `service`.
fn check_request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

/// `SERVING` is 0; every other status, `UNKNOWN` and `SERVICE_UNKNOWN` included, is 4.
fn exit_for(status: ServingStatus) -> Exit {
    if status == ServingStatus::Serving {
        Exit::Ok
    } else {
        Exit::NotServing
    }
}

/// Prints each status the server sends, stamped with the local clock, until the stream ends,
/// fails, or Ctrl-C or SIGTERM.
async fn watch(
    mut client: HealthClient<tonic::transport::Channel>,
    out: &Outgoing,
    service: String,
) -> Result<Exit, Failure> {
    let timeout = out.timeout;
    let label = if service.is_empty() {
        "\"\"".to_owned()
    } else {
        service.clone()
    };
    // No deadline on the request: the stream lives as long as the watcher.
    let open_and_first = async {
        let mut stream = client
            .watch(out.stream_request(HealthCheckRequest { service }))
            .await?
            .into_inner();
        let first = stream.message().await?;
        Ok::<_, tonic::Status>((stream, first))
    };
    let (mut stream, first) = match tokio::time::timeout(timeout, open_and_first).await {
        Ok(Ok(opened)) => opened,
        Ok(Err(status)) => return Err(Failure::Rpc(status)),
        Err(_) => return Err(Failure::RpcTimeout(timeout)),
    };
    let Some(first) = first else {
        return Err(Failure::Rpc(tonic::Status::unavailable(
            "the server ended the stream before sending a status",
        )));
    };
    let interrupted = health_runtime::server::termination_signal();
    tokio::pin!(interrupted);
    // Install the signal handlers before the first line: from then on Ctrl-C and SIGTERM end the
    // watch with the last status instead of killing the process.
    let _ = futures::poll!(&mut interrupted);
    let mut last = first.status();
    print_update(&label, last);
    loop {
        tokio::select! {
            message = stream.message() => match message {
                Ok(Some(response)) => {
                    last = response.status();
                    print_update(&label, last);
                }
                Ok(None) => break,
                Err(status) => return Err(Failure::Rpc(status)),
            },
            () = &mut interrupted => break,
        }
    }
    Ok(exit_for(last))
}

/// One `watch` line, `<RFC 3339 time> <service> <STATUS>`, flushed at once for pipes.
fn print_update(service: &str, status: ServingStatus) {
    let now = humantime::format_rfc3339_millis(SystemTime::now());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{now} {service} {}", status.as_str_name());
    let _ = out.flush();
}

/// The `list` output: `NAME  STATUS` rows sorted by name (`""` is the whole server), or JSON.
fn print_list(statuses: &BTreeMap<String, ServingStatus>, json: bool, color: ColorChoice) {
    if json {
        let object: serde_json::Map<String, serde_json::Value> = statuses
            .iter()
            .map(|(name, status)| (name.clone(), status.as_str_name().into()))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&object).unwrap_or_default()
        );
        return;
    }
    let style = Style::new(color);
    let names: Vec<String> = statuses
        .keys()
        .map(|name| {
            if name.is_empty() {
                "\"\"".to_owned()
            } else {
                name.clone()
            }
        })
        .collect();
    let width = names
        .iter()
        .map(|name| name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = String::new();
    out.push_str(&style.header(&format!("{:width$}  STATUS", "NAME")));
    out.push('\n');
    for (name, status) in names.iter().zip(statuses.values()) {
        let word = status.as_str_name();
        let paint = match status {
            ServingStatus::Serving => Style::good,
            ServingStatus::NotServing => Style::bad,
            _ => Style::unknown,
        };
        out.push_str(&format!("{name:width$}  {}\n", paint(&style, word)));
    }
    print!("{out}");
}
