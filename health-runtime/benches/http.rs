//! HTTP and metrics benchmarks.
//!
//! `cargo bench -p health-runtime --bench http`
//!
//! 1. `/metrics` render time with 100 checks (criterion; target < 1 ms).
//! 2. `/health` requests/s on a cached status, loaded over loopback by a real HTTP client
//!    (reqwest, 64 requests in flight), against a baseline axum route that answers a constant
//!    200 on the same kind of server, alternating baseline/ours for several rounds; prints the
//!    medians and the ratio.

mod support;

use support::median;

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use health_runtime::{Check, CheckOutcome, HealthConfig, HealthRuntime};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn health(checks: usize) -> HealthRuntime {
    let mut config = HealthConfig::default();
    config.surfaces.prometheus = true;
    let mut builder = HealthRuntime::builder()
        .config(config)
        .without_declared_checks()
        .cache_ttl(Duration::from_secs(3600));
    for i in 0..checks {
        builder = builder.with_check(Check::new(format!("check{i}"), move || async move {
            CheckOutcome::by_threshold(i as f64, 100.0).with_message("fine")
        }));
    }
    builder.build().expect("valid checks")
}

fn metrics_render(c: &mut Criterion) {
    let rt = runtime();
    let health = health(100);
    rt.block_on(health.report());
    c.bench_function("metrics_render_100_checks", |b| {
        b.iter(|| health_runtime::prometheus::render(&health).expect("renders"));
    });
}

/// Requests/s of `GET url` with 64 requests in flight for `length`.
async fn load(client: &reqwest::Client, url: &str, length: Duration) -> f64 {
    let started = Instant::now();
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move {
                let mut done = 0u64;
                while started.elapsed() < length {
                    let response = client.get(&url).send().await.expect("request");
                    assert!(response.status().is_success());
                    response.bytes().await.expect("body");
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await.expect("worker");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

fn health_throughput(_: &mut Criterion) {
    let rt = runtime();
    let health = health(10);
    let (ours, baseline) = rt.block_on(async {
        health.report().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let ours = format!("http://{}/health", listener.local_addr().expect("addr"));
        let server = health.clone();
        tokio::spawn(async move {
            health_runtime::http::serve(&server, listener, std::future::pending()).await
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let baseline = format!("http://{}/health", listener.local_addr().expect("addr"));
        let router = axum::Router::new().route(
            "/health",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "healthy"})) }),
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        (ours, baseline)
    });
    let seconds: f64 = std::env::var("HTTP_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let length = Duration::from_secs_f64(seconds);
    let client = reqwest::Client::new();
    let (mut base_rates, mut our_rates) = (Vec::new(), Vec::new());
    rt.block_on(async {
        for round in 1..=4 {
            let base = load(&client, &baseline, length).await;
            let rate = load(&client, &ours, length).await;
            println!("round {round}: baseline {base:.0} req/s, /health {rate:.0} req/s");
            base_rates.push(base);
            our_rates.push(rate);
        }
    });
    let ratios: Vec<f64> = our_rates
        .iter()
        .zip(&base_rates)
        .map(|(o, b)| o / b)
        .collect();
    println!(
        "/health on a cached status: median {:.0} req/s; constant-200 axum baseline median {:.0} req/s; median ratio {:.3}",
        median(&mut our_rates),
        median(&mut base_rates),
        median(&mut ratios.clone())
    );
}

criterion_group!(benches, metrics_render, health_throughput);
criterion_main!(benches);
