//! `deps::grpc_health` and `deps::grpc_check` against a local gRPC health server: serving,
//! not serving, unknown service, refused, and a server that never answers.

use std::sync::OnceLock;
use std::time::Duration;

use health_runtime::indicator::deps;
use health_runtime::{Check, HealthRuntime, Status, health_check};
use tests::{GrpcServer, builder};

static UPSTREAM: OnceLock<String> = OnceLock::new();

#[health_check(name = "grpc_upstream", timeout = "2s")]
async fn grpc_upstream() -> Result<f64, deps::DependencyError> {
    deps::grpc_health(
        UPSTREAM.get().map_or("http://127.0.0.1:1", String::as_str),
        "",
    )
    .await
}

async fn upstream() -> GrpcServer {
    let runtime = builder()
        .with_check(Check::new("db", || async { true }))
        .with_check(Check::new("cache", || async { Status::Critical }))
        .build()
        .unwrap();
    GrpcServer::start(&runtime).await
}

#[tokio::test]
async fn a_declared_check_in_one_line() {
    let server = upstream().await;
    UPSTREAM.set(format!("http://{}", server.addr)).unwrap();
    // The upstream's overall status is critical because of `cache`.
    let runtime = HealthRuntime::builder().build().unwrap();
    let state = runtime.check("grpc_upstream").await.unwrap();
    assert_eq!(state.state().status(), Status::Critical);
    assert_eq!(
        state.state().message(),
        Some(format!("`http://{}` reports service `` as NOT_SERVING", server.addr).as_str())
    );
}

#[tokio::test]
async fn serving_not_serving_and_unknown() {
    let server = upstream().await;
    let uri = format!("http://{}", server.addr);
    let millis = deps::grpc_health(uri.as_str(), "db").await.unwrap();
    let limit = deps::REQUEST_TIMEOUT.as_secs_f64() * 1000.0;
    assert!(millis.is_finite() && millis < limit, "{millis}");
    // Over a channel of one's own, too.
    assert!(
        deps::grpc_health(server.channel().await, "db")
            .await
            .is_ok()
    );

    let error = deps::grpc_health(uri.as_str(), "cache").await.unwrap_err();
    assert!(
        matches!(error, deps::DependencyError::NotServing { .. }),
        "{error}"
    );

    let error = deps::grpc_health(uri.as_str(), "billing")
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "gRPC health check of service `billing` at `{uri}` failed: NotFound: no health service named `billing`"
        )
    );

    let error = deps::grpc_health("not a uri", "").await.unwrap_err();
    assert!(
        matches!(error, deps::DependencyError::InvalidTarget { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = deps::grpc_health(uri.as_str(), "").await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "gRPC health check of service `` at `{uri}` failed: Unavailable: "
        )),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
}

#[tokio::test]
async fn registered_at_runtime_with_a_timeout() {
    let server = upstream().await;
    // Accepts connections and never speaks HTTP/2.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_uri = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let runtime = builder().build().unwrap();
    runtime
        .register(deps::grpc_check(
            "db",
            format!("http://{}", server.addr),
            "db",
        ))
        .unwrap();
    runtime
        .register(deps::grpc_check("silent", silent_uri, "").timeout(Duration::from_millis(300)))
        .unwrap();
    let report = runtime.report().await;
    assert_eq!(report.metrics["db"].status, Status::Healthy);
    assert_eq!(report.metrics["silent"].status, Status::Critical);
    assert_eq!(report.metrics["silent"].message, "timed out after 300ms");
}
