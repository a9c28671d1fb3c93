//! Secrets in an upstream's URL (user info, query values) never reach a check's message, the
//! report or the log: HTTP and gRPC upstreams on loopback, one answering with an error and one
//! refusing the connection.

use health_runtime::indicator::{GrpcEndpoint, HttpEndpoint, TcpEndpoint};
use health_runtime::{HealthRuntime, Status};
use tests::logs::Captured;
use tests::{GrpcServer, builder};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

const SECRETS: [&str; 3] = ["admin", "hunter2", "SECRETKEY"];

/// An HTTP/1.1 server that answers every request with 500.
async fn failing_http() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    addr
}

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows `{secret}`: {text}");
    }
}

#[tokio::test]
async fn secrets_in_upstream_urls_stay_out_of_messages_reports_and_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _guard = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish()
        .set_default();

    let http = failing_http().await;
    let upstream = builder().build().unwrap();
    let grpc = GrpcServer::start(&upstream).await;
    let with_secrets = |addr: &str, path: &str| {
        format!("http://admin:hunter2@{addr}{path}?api_key=SECRETKEY&user=admin")
    };
    let endpoints = [
        (
            "http_500",
            HttpEndpoint::new(with_secrets(&http.to_string(), "/healthz")).into_check("http_500"),
        ),
        (
            "http_refused",
            HttpEndpoint::new(with_secrets("127.0.0.1:1", "/healthz")).into_check("http_refused"),
        ),
        (
            "grpc_not_found",
            GrpcEndpoint::new(with_secrets(&grpc.addr.to_string(), "/"), "no.such.Service")
                .into_check("grpc_not_found"),
        ),
        (
            "grpc_refused",
            GrpcEndpoint::new(with_secrets("127.0.0.1:1", "/"), "").into_check("grpc_refused"),
        ),
        (
            "tcp_refused",
            TcpEndpoint::new("admin:hunter2@127.0.0.1:1").into_check("tcp_refused"),
        ),
    ];
    let mut runtime = builder();
    for (_, check) in endpoints {
        runtime = runtime.with_check(check);
    }
    let runtime: HealthRuntime = runtime.build().unwrap();
    for name in [
        "http_500",
        "http_refused",
        "grpc_not_found",
        "grpc_refused",
        "tcp_refused",
    ] {
        let checked = runtime.check(name).await.unwrap();
        assert_eq!(checked.state().status(), Status::Critical, "{name}");
        let message = checked.state().message().unwrap_or_default().to_owned();
        assert!(
            message.contains("127.0.0.1") && message.contains("***@"),
            "{name}: the message still names the upstream: {message}"
        );
        if !name.starts_with("tcp") {
            assert!(message.contains("api_key=***"), "{name}: {message}");
        }
        assert_clean(name, &message);
    }
    let http_500 = runtime.cached("http_500").unwrap();
    let message = http_500.state().message().unwrap();
    assert!(message.contains("answered 500"), "{message}");

    let report = serde_json::to_string(&runtime.report().await).unwrap();
    assert!(report.contains("api_key=***"), "{report}");
    assert_clean("the report", &report);

    let logs = logs.text();
    assert!(
        logs.contains("http_500") && logs.contains("127.0.0.1"),
        "the runs were logged: {logs}"
    );
    assert_clean("the log", &logs);
    drop(grpc);
}

#[test]
fn debug_output_of_the_endpoints_hides_the_secrets_too() {
    let url = "http://admin:hunter2@127.0.0.1:1/healthz?api_key=SECRETKEY";
    let http = format!("{:?}", HttpEndpoint::new(url));
    assert!(
        http.contains("http://***@127.0.0.1:1/healthz?api_key=***"),
        "{http}"
    );
    assert_clean("HttpEndpoint's Debug", &http);
    let grpc = GrpcEndpoint::new(url, "");
    let shown = format!("{:?} {}", grpc, grpc.target());
    assert_clean("GrpcEndpoint's Debug and Display", &shown);
    assert_eq!(
        HttpEndpoint::new(url).url(),
        url,
        "the accessor gives what was configured"
    );
}
