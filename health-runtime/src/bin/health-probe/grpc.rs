//! The gRPC commands: `check`, `watch`, `list` and `report`.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime};

use tonic::Code;

use health_runtime::pb::health::v1::health_check_response::ServingStatus;
use health_runtime::pb::health::v1::health_client::HealthClient;
use health_runtime::pb::health::v1::{HealthCheckRequest, HealthListRequest};
use health_runtime::pb::report::v1::GetHealthReportRequest;
use health_runtime::pb::report::v1::health_report_client::HealthReportClient;

use crate::style::{ColorChoice, Style};
use crate::{Command, ConnectArgs, Exit, Failure, connect, report};

/// Connects and runs one gRPC command.
pub(crate) async fn run(args: &ConnectArgs, command: Command) -> Result<Exit, Failure> {
    let channel = connect::connect(args).await?;
    let timeout = args.rpc_timeout;
    match command {
        Command::Check { service } => {
            let mut client = HealthClient::new(channel);
            let response = rpc(timeout, client.check(request(timeout, &service))).await?;
            let status = response.status();
            println!("status: {}", status.as_str_name());
            Ok(exit_for(status))
        }
        Command::Watch { service } => watch(HealthClient::new(channel), timeout, service).await,
        Command::List { json, color } => {
            let mut client = HealthClient::new(channel);
            let response = rpc(
                timeout,
                client.list(with_deadline(timeout, HealthListRequest {})),
            )
            .await?;
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
                client.get_health_report(with_deadline(timeout, GetHealthReportRequest {})),
            )
            .await?;
            let report = report::from_proto(response);
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
) -> Result<T, Failure> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
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

/// A request that tells the server the client's deadline (`grpc-timeout`).
fn with_deadline<T>(timeout: Duration, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

/// A `Check` request for `service` with the RPC deadline.
fn request(timeout: Duration, service: &str) -> tonic::Request<HealthCheckRequest> {
    with_deadline(
        timeout,
        HealthCheckRequest {
            service: service.to_owned(),
        },
    )
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
    timeout: Duration,
    service: String,
) -> Result<Exit, Failure> {
    let label = if service.is_empty() {
        "\"\"".to_owned()
    } else {
        service.clone()
    };
    // No deadline on the request: the stream lives as long as the watcher.
    let open_and_first = async {
        let mut stream = client
            .watch(HealthCheckRequest { service })
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
