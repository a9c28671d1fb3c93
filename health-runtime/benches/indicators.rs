//! Indicator benchmarks, printed as medians and a ratio measured in the same run:
//!
//! - report build time with the three system metrics registered (sample already taken);
//! - the request statistics layer's overhead on a trivial RPC (`grpc.health.v1.Health/Check`
//!   of `""` over loopback), as the throughput with the layer over the throughput without it,
//!   alternating A/B rounds.
//!
//! `cargo bench -p health-runtime --bench indicators`

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use health_runtime::HealthRuntime;
use health_runtime::indicator::{RequestStats, ResourceReading, SystemIndicators};
use health_runtime::pb::health::v1::HealthCheckRequest;
use health_runtime::pb::health::v1::health_client::HealthClient;

fn percentile(samples: &mut [f64], quantile: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() - 1) as f64 * quantile).round() as usize]
}

async fn report_build_time() {
    for (label, metrics) in [
        (
            "injected source",
            SystemIndicators::new().source(|| ResourceReading::new(12.0, 40.0, 70.0)),
        ),
        ("sysinfo source", SystemIndicators::new()),
    ] {
        let monitor = metrics.monitor();
        let runtime = HealthRuntime::builder()
            .without_declared_checks()
            // Every report re-runs the three checks: the worst case.
            .cache_ttl(Duration::ZERO)
            .with_checks(metrics)
            .build()
            .expect("runtime");
        runtime.start();
        monitor.settled().await;
        let mut micros = Vec::new();
        for _ in 0..2000 {
            let started = Instant::now();
            let report = runtime.report().await;
            micros.push(started.elapsed().as_secs_f64() * 1e6);
            assert!(report.metrics["cpu_usage"].value.is_some());
        }
        println!(
            "report with system metrics ({label}, cache TTL 0): p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs",
            percentile(&mut micros, 0.5),
            percentile(&mut micros, 0.9),
            percentile(&mut micros, 0.99)
        );
    }
}

async fn serve(runtime: &HealthRuntime, stats: Option<&RequestStats>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let routes = health_runtime::grpc::routes(runtime);
    match stats {
        Some(stats) => {
            let server = tonic::transport::Server::builder()
                .layer(stats.layer())
                .add_routes(routes);
            tokio::spawn(server.serve_with_incoming(incoming));
        }
        None => {
            let server = tonic::transport::Server::builder().add_routes(routes);
            tokio::spawn(server.serve_with_incoming(incoming));
        }
    }
    addr
}

/// RPCs per second for `calls` calls, 32 in flight.
async fn throughput(channel: &tonic::transport::Channel, calls: usize) -> f64 {
    let started = Instant::now();
    futures::stream::iter(0..calls)
        .map(|_| {
            let mut client = HealthClient::new(channel.clone());
            async move {
                client
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .expect("check")
            }
        })
        .buffer_unordered(32)
        .for_each(|_| async {})
        .await;
    calls as f64 / started.elapsed().as_secs_f64()
}

async fn layer_overhead() {
    let runtime = HealthRuntime::builder()
        .without_declared_checks()
        .build()
        .expect("runtime");
    // The RPC measured is a health call, which the layer leaves out unless told to count it.
    let stats = RequestStats::new().count_health_calls(true);
    let plain = serve(&runtime, None).await;
    let layered = serve(&runtime, Some(&stats)).await;
    let connect = |addr: std::net::SocketAddr| async move {
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
            .expect("connect")
    };
    let (plain, layered) = (connect(plain).await, connect(layered).await);
    // Warm up both.
    throughput(&plain, 2000).await;
    throughput(&layered, 2000).await;
    let (mut ratios, mut with, mut without) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..15 {
        // Alternate which goes first so that drift favours neither.
        let (a, b) = if round % 2 == 0 {
            let a = throughput(&plain, 5000).await;
            (a, throughput(&layered, 5000).await)
        } else {
            let b = throughput(&layered, 5000).await;
            (throughput(&plain, 5000).await, b)
        };
        without.push(a);
        with.push(b);
        ratios.push(b / a);
    }
    println!(
        "trivial RPC throughput: without layer {:.0}/s, with layer {:.0}/s (medians of 15 rounds of 5000 calls); ratio with/without: median {:.3}, min {:.3}, max {:.3}",
        percentile(&mut without, 0.5),
        percentile(&mut with, 0.5),
        percentile(&mut ratios.clone(), 0.5),
        percentile(&mut ratios.clone(), 0.0),
        percentile(&mut ratios, 1.0),
    );
    println!(
        "requests recorded by the layer: {}",
        stats.summary().requests()
    );
}

/// The layer alone, in process: a trivial service called directly, with and without the layer,
/// each response body driven to its end (which is when the layer records). Gives the layer's
/// cost per request, to set beside the time of a real RPC.
async fn layer_cost() {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tower_service::Service as _;

    #[derive(Clone)]
    struct Trivial;
    impl<B> tower_service::Service<http::Request<B>> for Trivial {
        type Response = http::Response<String>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: http::Request<B>) -> Self::Future {
            let response = http::Response::builder()
                .header("grpc-status", "0")
                .body(String::from("ok"))
                .expect("response");
            std::future::ready(Ok(response))
        }
    }

    async fn drain<B: http_body::Body + Unpin>(mut body: B) {
        std::future::poll_fn(|cx| {
            loop {
                match Pin::new(&mut body).poll_frame(cx) {
                    Poll::Ready(Some(_)) => continue,
                    Poll::Ready(None) => return Poll::Ready(()),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await;
    }

    const CALLS: u32 = 200_000;
    let stats = RequestStats::new();
    let mut plain = Trivial;
    let mut layered = stats.wrap(Trivial);
    let (mut plain_ns, mut layered_ns) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let started = Instant::now();
        for _ in 0..CALLS {
            let response = plain
                .call(http::Request::new(String::new()))
                .await
                .expect("call");
            drain(response.into_body()).await;
        }
        plain_ns.push(started.elapsed().as_nanos() as f64 / f64::from(CALLS));
        let started = Instant::now();
        for _ in 0..CALLS {
            let response = layered
                .call(http::Request::new(String::new()))
                .await
                .expect("call");
            drain(response.into_body()).await;
        }
        layered_ns.push(started.elapsed().as_nanos() as f64 / f64::from(CALLS));
    }
    let (plain, layered) = (
        percentile(&mut plain_ns, 0.5),
        percentile(&mut layered_ns, 0.5),
    );
    println!(
        "layer alone: {plain:.0} ns per call without, {layered:.0} ns with: {:.0} ns per request (medians of 10 rounds of {CALLS} calls)",
        layered - plain
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        report_build_time().await;
        layer_cost().await;
        layer_overhead().await;
    });
}
