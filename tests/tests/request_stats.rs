//! The request statistics layer on a real tonic server: 1,000 RPCs, 3 % of them failing with a
//! gRPC error, graded by `request_success_rate`, `avg_response_time` and `p99_response_time`;
//! and failures that arrive in the trailers of a stream. The service measured is a scripted
//! `grpc.health.v1.Health`, so the statistics count health calls here
//! (`RequestStats::count_health_calls`); `exempt.rs` shows they are left out by default.

use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::BoxStream;
use health_runtime::Status;
use health_runtime::indicator::RequestStats;
use health_runtime::pb::health::v1::health_check_response::ServingStatus;
use health_runtime::pb::health::v1::health_server::{Health, HealthServer};
use health_runtime::pb::health::v1::{
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
};
use tests::{HealthClient, builder, request};

/// A health service that does what the requested name says: `ok/<ms>` answers after `ms`
/// milliseconds, `fail/<ms>` fails with UNAVAILABLE after them; `Watch` of `ok` sends one
/// message and ends, of anything else sends one message and then fails in the trailers.
struct Scripted;

fn serving() -> HealthCheckResponse {
    HealthCheckResponse {
        status: ServingStatus::Serving as i32,
    }
}

#[tonic::async_trait]
impl Health for Scripted {
    async fn check(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<HealthCheckResponse>, tonic::Status> {
        let service = request.into_inner().service;
        let (outcome, millis) = service.split_once('/').unwrap();
        tokio::time::sleep(Duration::from_millis(millis.parse().unwrap())).await;
        match outcome {
            "ok" => Ok(tonic::Response::new(serving())),
            "panic" => panic!("scripted panic"),
            _ => Err(tonic::Status::unavailable("scripted failure")),
        }
    }

    async fn list(
        &self,
        _: tonic::Request<HealthListRequest>,
    ) -> Result<tonic::Response<HealthListResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("list"))
    }

    type WatchStream = BoxStream<'static, Result<HealthCheckResponse, tonic::Status>>;

    async fn watch(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        let ok = request.into_inner().service == "ok";
        let end = if ok {
            None
        } else {
            Some(Err(tonic::Status::internal("stream broke")))
        };
        let stream = futures::stream::iter(std::iter::once(Ok(serving())).chain(end));
        Ok(tonic::Response::new(stream.boxed()))
    }
}

/// Serves `Scripted` behind the stats layer on a loopback port.
async fn serve(stats: &RequestStats) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let layer = stats.layer();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(layer)
            .add_service(HealthServer::new(Scripted))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
    });
    addr
}

async fn channel(addr: std::net::SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_rpcs_with_three_percent_failing() {
    let stats = RequestStats::new().count_health_calls(true);
    let addr = serve(&stats).await;
    let channels = [channel(addr).await, channel(addr).await];
    // 980 requests take 10 ms, 20 take 200 ms; 30 of them (3 %) fail.
    let calls = (0..1000).map(|i| {
        let mut client = HealthClient::new(channels[i % 2].clone());
        let outcome = if i % 100 < 3 { "fail" } else { "ok" };
        let millis = if i % 50 == 25 { 200 } else { 10 };
        async move {
            let started = std::time::Instant::now();
            let result = client
                .check(request(&format!("{outcome}/{millis}")))
                .await
                .map(drop)
                .map_err(|status| status.code());
            (result, started.elapsed().as_secs_f64() * 1000.0)
        }
    });
    let results: Vec<_> = futures::stream::iter(calls)
        .buffer_unordered(16)
        .collect()
        .await;
    let failed = results.iter().filter(|(result, _)| result.is_err()).count();
    assert_eq!(failed, 30);
    assert!(
        results
            .iter()
            .all(|(result, _)| matches!(result, Ok(()) | Err(tonic::Code::Unavailable)))
    );
    // What the client saw, which contains what the server saw.
    let mut client_ms: Vec<f64> = results.iter().map(|(_, millis)| *millis).collect();
    client_ms.sort_by(f64::total_cmp);
    let client_average = client_ms.iter().sum::<f64>() / 1000.0;
    let client_p99 = client_ms[989];

    let summary = stats.summary();
    assert_eq!((summary.requests(), summary.failures()), (1000, 30));

    let runtime = builder().with_checks(stats.clone()).build().unwrap();
    let report = runtime.report().await;
    let rate = &report.metrics["request_success_rate"];
    assert!((rate.value.unwrap() - 97.0).abs() <= 0.1, "{rate:?}");
    assert_eq!(rate.status, Status::Warning);
    assert_eq!(rate.threshold, Some(95.0));

    // The injected mean is 13.8 ms; the server's figure includes the timer's rounding and its
    // own work, and is contained in what the client measured.
    let average = &report.metrics["avg_response_time"];
    let average_ms = average.value.unwrap();
    assert!(
        (13.8..=client_average).contains(&average_ms),
        "{average:?}, client {client_average}"
    );
    assert_eq!(average.status, Status::Healthy);
    // The 99th percentile falls among the 200 ms requests: at least 200 ms and at most what the
    // client saw, each within the histogram's 1.6 %.
    let p99 = &report.metrics["p99_response_time"];
    let p99_ms = p99.value.unwrap();
    assert!(
        (200.0 * 0.984..=client_p99 * 1.016).contains(&p99_ms),
        "{p99:?}, client {client_p99}"
    );
    assert_eq!(p99.status, Status::Healthy);
    assert!(
        rate.message
            .starts_with("97.0 % of 1000 requests in the last 1m served without a server failure, 0 of them ended by the client"),
        "{}",
        rate.message
    );
}

#[tokio::test]
async fn a_status_in_the_trailers_is_read() {
    let stats = RequestStats::new().count_health_calls(true);
    let addr = serve(&stats).await;
    let mut client = HealthClient::new(channel(addr).await);

    let mut ok = client.watch(request("ok")).await.unwrap().into_inner();
    assert!(ok.message().await.unwrap().is_some());
    assert!(ok.message().await.unwrap().is_none());

    let mut broken = client.watch(request("broken")).await.unwrap().into_inner();
    assert!(broken.message().await.unwrap().is_some());
    assert_eq!(
        broken.message().await.unwrap_err().code(),
        tonic::Code::Internal
    );

    // A trailers-only error, for comparison.
    let error = client.check(request("fail/0")).await.unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unavailable);

    let summary = stats.summary();
    assert_eq!((summary.requests(), summary.failures()), (3, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_a_server_failure_and_a_client_that_leaves_is_not() {
    let stats = RequestStats::new().count_health_calls(true);
    let addr = serve(&stats).await;
    let mut client = HealthClient::new(channel(addr).await);
    // The panic ends the stream without a status; the client sees an error.
    assert!(client.check(request("panic/0")).await.is_err());
    // A client that gives up on a slow answer.
    let mut impatient = HealthClient::new(channel(addr).await);
    let gave_up = tokio::time::timeout(
        Duration::from_millis(50),
        impatient.check(request("ok/500")),
    )
    .await;
    assert!(gave_up.is_err());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let summary = stats.summary();
    assert_eq!(summary.requests(), 2, "{summary:?}");
    assert_eq!(summary.failures(), 1, "the panic: {summary:?}");
    assert_eq!(
        summary.client_errors(),
        1,
        "the client that left: {summary:?}"
    );
    // Only the answered request has a latency.
    assert_eq!(summary.answered(), 1, "{summary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_own_timeout_is_a_server_failure() {
    let stats = RequestStats::new()
        .count_health_calls(true)
        .server_timeout(Duration::from_millis(100));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let layer = stats.layer();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .timeout(Duration::from_millis(100))
            .layer(layer)
            .add_service(HealthServer::new(Scripted))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
    });
    let mut client = HealthClient::new(channel(addr).await);
    assert!(client.check(request("ok/1000")).await.is_err());
    assert!(client.check(request("ok/0")).await.is_ok());
    let summary = stats.summary();
    assert_eq!(
        (summary.requests(), summary.failures()),
        (2, 1),
        "{summary:?}"
    );
}
