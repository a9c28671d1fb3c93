//! `deps::http_get` and `deps::http_check` against a local HTTP server: an expected status,
//! an unexpected one, a refused connection and a server that never answers.

use std::sync::OnceLock;
use std::time::Duration;

use health_runtime::indicator::deps;
use health_runtime::{HealthRuntime, Status, health_check};
use tests::builder;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

static SERVER: OnceLock<String> = OnceLock::new();

#[health_check(name = "http_upstream", timeout = "2s")]
async fn http_upstream() -> Result<f64, deps::DependencyError> {
    deps::http_get(
        SERVER.get().map_or("http://127.0.0.1:1/", String::as_str),
        200..=299,
    )
    .await
}

/// A minimal HTTP/1.1 server: `/ok` answers 200, `/missing` 404, `/slow` never answers.
async fn server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let read = stream.read(&mut buffer).await.unwrap();
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                }
                let request = String::from_utf8_lossy(&request);
                let status = if request.starts_with("GET /ok ") {
                    "200 OK"
                } else if request.starts_with("GET /slow ") {
                    std::future::pending::<()>().await;
                    unreachable!()
                } else {
                    "404 Not Found"
                };
                let response =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_declared_check_in_one_line() {
    let base = server().await;
    SERVER.set(format!("{base}/ok")).unwrap();
    let runtime = HealthRuntime::builder().build().unwrap();
    let state = runtime.check("http_upstream").await.unwrap();
    assert_eq!(
        state.state().status(),
        Status::Healthy,
        "{:?}",
        state.state().message()
    );
    assert!(state.state().value().is_some());
}

#[tokio::test]
async fn expected_and_unexpected_statuses() {
    let base = server().await;
    assert!(
        deps::http_get(&format!("{base}/ok"), 200..300)
            .await
            .is_ok()
    );
    assert!(
        deps::http_get(&format!("{base}/missing"), 400..=404)
            .await
            .is_ok()
    );
    let url = format!("{base}/missing");
    let error = deps::http_get(&url, 200..=299).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("GET {url} answered 404; expected 200..=299")
    );
}

#[tokio::test]
async fn refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let error = deps::http_get(&url, 200..=299).await.unwrap_err();
    assert!(
        matches!(error, deps::DependencyError::Http { .. }),
        "{error}"
    );
    let text = error.to_string();
    assert!(text.starts_with(&format!("GET {url} failed: ")), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
}

#[tokio::test]
async fn registered_at_runtime_with_a_timeout() {
    let base = server().await;
    let runtime = builder()
        .with_check(deps::http_check("ok", format!("{base}/ok"), 200..=299))
        .build()
        .unwrap();
    runtime
        .register(
            deps::http_check("slow", format!("{base}/slow"), 200..=299)
                .timeout(Duration::from_millis(300))
                .on_timeout(Status::Warning),
        )
        .unwrap();
    let started = std::time::Instant::now();
    let report = runtime.report().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(report.metrics["ok"].status, Status::Healthy);
    let slow = &report.metrics["slow"];
    assert_eq!(slow.status, Status::Warning);
    assert_eq!(slow.message, "timed out after 300ms");
}
