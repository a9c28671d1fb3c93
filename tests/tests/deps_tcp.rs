//! `deps::tcp_connect` and `deps::tcp_check` against a local listener: connected, refused,
//! and cut short by the check's timeout.

use std::sync::OnceLock;
use std::time::Duration;

use health_runtime::indicator::deps;
use health_runtime::{HealthRuntime, Status, health_check};
use tests::builder;

static UPSTREAM: OnceLock<String> = OnceLock::new();

#[health_check(name = "tcp_upstream", timeout = "2s")]
async fn tcp_upstream() -> Result<f64, deps::DependencyError> {
    deps::tcp_connect(UPSTREAM.get().map_or("127.0.0.1:1", String::as_str)).await
}

async fn refused_addr() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    addr
}

#[tokio::test]
async fn a_declared_check_in_one_line() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    UPSTREAM
        .set(listener.local_addr().unwrap().to_string())
        .unwrap();
    let runtime = HealthRuntime::builder().build().unwrap();
    let state = runtime.check("tcp_upstream").await.unwrap();
    assert_eq!(
        state.state().status(),
        Status::Healthy,
        "{:?}",
        state.state().message()
    );
    // The connect time, within the check's own timeout of 2 s.
    let millis = state.state().value().unwrap();
    assert!(millis.is_finite() && millis < 2000.0, "{millis}");
}

#[tokio::test]
async fn connected_and_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let millis = deps::tcp_connect(&addr).await.unwrap();
    let limit = deps::CONNECT_TIMEOUT.as_secs_f64() * 1000.0;
    assert!(millis.is_finite() && millis < limit, "{millis}");

    let refused = refused_addr().await;
    let error = deps::tcp_connect(&refused).await.unwrap_err();
    assert!(matches!(error, deps::DependencyError::Connect { .. }));
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("cannot connect to `{refused}`: ")),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");

    let error = deps::tcp_connect("no-such-host.invalid:80")
        .await
        .unwrap_err();
    assert!(
        matches!(error, deps::DependencyError::Resolve { .. }),
        "{error}"
    );

    let runtime = builder()
        .with_check(deps::tcp_check("up", addr))
        .with_check(deps::tcp_check("down", refused).on_error(Status::Warning))
        .build()
        .unwrap();
    let report = runtime.report().await;
    assert_eq!(report.metrics["up"].status, Status::Healthy);
    assert_eq!(report.metrics["down"].status, Status::Warning);
    assert!(
        report.metrics["down"]
            .message
            .starts_with("cannot connect to")
    );
}

#[tokio::test]
async fn registered_at_runtime_and_timed_out() {
    // A listener that never accepts, with its backlog filled: further connects hang, as they
    // do toward a host that drops packets.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    let hanging = loop {
        let connect = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(Duration::from_millis(200), connect).await {
            Ok(stream) => held.push(stream.unwrap()),
            Err(_) => break true,
        }
        if held.len() > 64 {
            break false;
        }
    };
    let runtime = builder().build().unwrap();
    runtime
        .register(deps::tcp_check("slow", addr.to_string()).timeout(Duration::from_millis(300)))
        .unwrap();
    let state = runtime.check("slow").await.unwrap();
    if hanging {
        assert_eq!(state.state().status(), Status::Critical);
        assert_eq!(state.state().message(), Some("timed out after 300ms"));
    } else {
        // This kernel accepts every connection (SYN cookies): nothing to time out.
        assert_eq!(state.state().status(), Status::Healthy);
    }
}
