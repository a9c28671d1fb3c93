//! The health-aware channel against tonic's plain `Channel::balance_list` over the same three
//! backends, in the same run: calls per second and p99 latency of unary calls
//! (`grpc.health.v1.Health/Check`, which the backends answer from their published state),
//! `CLIENT_BENCH_CONCURRENCY` (default 64) callers at a time, rounds alternating, medians and
//! the ratios (target: ours ≥ 0.95 of tonic's throughput). Then the time from a backend's
//! check turning critical to the channel taking it out of rotation, median over flips.
//!
//! `cargo bench -p health-runtime --features client --bench client`

mod support;

use support::{env_or, median};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use health_runtime::client::{EndpointHealth, HealthAwareChannel};
use health_runtime::pb::health::v1::HealthCheckRequest;
use health_runtime::pb::health::v1::health_client::HealthClient;
use health_runtime::{Check, HealthConfig, HealthRuntime};
use tonic::transport::{Channel, Endpoint};

/// A backend whose check `db` is healthy while `up` holds.
fn backend_runtime(up: &Arc<AtomicBool>) -> HealthRuntime {
    let mut config = HealthConfig::default();
    config.surfaces.http_addr = None;
    config.surfaces.health_file = None;
    config.resources.enabled = false;
    config.requests.enabled = false;
    config.checks.drain_delay = Duration::ZERO;
    let up = up.clone();
    HealthRuntime::builder()
        .without_declared_checks()
        .config(config)
        .cache_ttl(Duration::ZERO)
        .with_check(Check::new("db", move || {
            let up = up.load(Ordering::Relaxed);
            async move { up }
        }))
        .build()
        .expect("a runtime")
}

/// `calls` calls of `Check("db")`, `concurrency` at a time: (calls per second, p99 in µs).
async fn load<T>(client: HealthClient<T>, calls: usize, concurrency: usize) -> (f64, f64)
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + 'static,
    T::Future: Send,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(calls / concurrency);
                for _ in 0..calls / concurrency {
                    let call = Instant::now();
                    client
                        .check(HealthCheckRequest {
                            service: "db".into(),
                        })
                        .await
                        .expect("a call");
                    latencies.push(call.elapsed().as_secs_f64() * 1e6);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(calls);
    for task in tasks {
        latencies.extend(task.await.expect("a caller"));
    }
    let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let p99 = latencies[(latencies.len() - 1) * 99 / 100];
    (rate, p99)
}

fn main() {
    let calls: usize = env_or("CLIENT_BENCH_CALLS", 30_000);
    let concurrency: usize = env_or("CLIENT_BENCH_CONCURRENCY", 64);
    let rounds: usize = env_or("CLIENT_BENCH_ROUNDS", 7);
    let flips: usize = env_or("CLIENT_BENCH_FLIPS", 21);
    // The backends on a runtime of their own, the clients on another.
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let ups: Vec<Arc<AtomicBool>> = (0..3).map(|_| Arc::new(AtomicBool::new(true))).collect();
    let runtimes: Vec<HealthRuntime> = ups.iter().map(backend_runtime).collect();
    let addrs: Vec<String> = runtimes
        .iter()
        .map(|runtime| {
            let listener = servers
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .expect("a port");
            let addr = listener.local_addr().expect("an address");
            let runtime = runtime.clone();
            servers.spawn(async move {
                health_runtime::server::serve_with_shutdown(
                    &runtime,
                    listener,
                    tonic::service::Routes::default(),
                    std::future::pending(),
                )
                .await
            });
            format!("http://{addr}")
        })
        .collect();
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!(
        "== Check over three backends: {calls} calls per round, {concurrency} at a time, \
         {rounds} rounds alternating"
    );
    clients.block_on(async {
        let endpoints = || {
            addrs
                .iter()
                .map(|addr| Endpoint::from_shared(addr.clone()).expect("a URI"))
        };
        let ours = HealthAwareChannel::builder()
            .health_check_service("db")
            .build(endpoints());
        while ours.in_rotation() < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let theirs: Channel = Channel::balance_list(endpoints());
        let (ours_client, theirs_client) =
            (HealthClient::new(ours.clone()), HealthClient::new(theirs));
        // Warm up both.
        load(ours_client.clone(), calls / 10, concurrency).await;
        load(theirs_client.clone(), calls / 10, concurrency).await;
        // At the configured concurrency, and one at a time, where no endpoint queues and only
        // the call path differs (round robin against power of two choices aside).
        for concurrency in [concurrency, 1] {
            let calls = if concurrency == 1 { calls / 10 } else { calls };
            let (mut our_rates, mut our_p99s, mut their_rates, mut their_p99s) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..rounds {
                let (rate, p99) = load(ours_client.clone(), calls, concurrency).await;
                our_rates.push(rate);
                our_p99s.push(p99);
                let (rate, p99) = load(theirs_client.clone(), calls, concurrency).await;
                their_rates.push(rate);
                their_p99s.push(p99);
            }
            let (our_rate, their_rate) = (median(&mut our_rates), median(&mut their_rates));
            let (our_p99, their_p99) = (median(&mut our_p99s), median(&mut their_p99s));
            println!(
                "{concurrency} at a time:\n\
                 HealthAwareChannel: {our_rate:>8.0} calls/s, p99 {our_p99:>6.0} µs\n\
                 balance_list:       {their_rate:>8.0} calls/s, p99 {their_p99:>6.0} µs\n\
                 throughput ratio (ours / tonic's) {:.3} (target >= 0.95); p99 ratio {:.3}",
                our_rate / their_rate,
                our_p99 / their_p99
            );
        }

        println!("== a backend turning critical to out of rotation: {flips} flips");
        let mut changes = ours.subscribe();
        let mut out = Vec::new();
        for flip in 0..flips {
            let down = flip % 2 == 0;
            ups[0].store(!down, Ordering::Relaxed);
            let started = Instant::now();
            let backend = runtimes[0].clone();
            servers
                .handle()
                .spawn(async move { backend.check("db").await.map(|_| ()) })
                .await
                .expect("the run")
                .expect("registered");
            loop {
                let change = changes.recv().await.expect("a change");
                let left = matches!(change.to, Some(EndpointHealth::NotServing(_)));
                let back = change.to == Some(EndpointHealth::Serving);
                if (down && left) || (!down && back) {
                    break;
                }
            }
            if down {
                out.push(started.elapsed().as_secs_f64() * 1e3);
            }
        }
        println!(
            "check run -> out of rotation: median {:.2} ms, max {:.2} ms",
            median(&mut out.clone()),
            out.iter().copied().fold(0.0, f64::max)
        );
    });
}
