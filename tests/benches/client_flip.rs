//! A backend flipped to NOT_SERVING under load, through the health-aware channel: three KV
//! backends (tests/src/backend.rs, each on a tokio runtime of its own), `FLIP_BENCH_CALLERS`
//! (default 1,000) callers with a call in flight each, one backend's check turned critical,
//! and the time from the flip until the channel took it out of rotation and until the last
//! call reached it (calls picked before the change still arrive), median over the flips.
//!
//! `cargo bench -p tests --bench client_flip`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use health_runtime::client::{EndpointHealth, HealthAwareChannel};
use health_runtime::{HealthRuntime, Status};
use tests::backend::Backend;
use tests::backend::kv::GetRequest;
use tests::backend::kv::kv_client::KvClient;
use tests::history::Dial;
use tests::{builder, quiet_config};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|value| {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{name}={value} is not valid"))
        })
        .unwrap_or(default)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn health(dial: &Dial) -> HealthRuntime {
    let mut config = quiet_config();
    config.checks.drain_delay = Duration::ZERO;
    builder()
        .config(config)
        .cache_ttl(Duration::ZERO)
        .with_check(dial.check("kv").service("kv.v1.KV"))
        .build()
        .expect("a runtime")
}

fn main() {
    let callers = setting("FLIP_BENCH_CALLERS", 1_000);
    let flips = setting("FLIP_BENCH_FLIPS", 7);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!(
        "== one of three backends turned NOT_SERVING with {callers} calls in flight, {flips} flips"
    );
    tokio.block_on(async move {
        let dials: Vec<Dial> = (0..3).map(|_| Dial::new()).collect();
        let runtimes: Vec<HealthRuntime> = dials.iter().map(health).collect();
        let mut backends = Vec::new();
        for (index, runtime) in runtimes.iter().enumerate() {
            backends.push(Backend::start(&format!("b{index}"), Some(runtime.clone())).await);
        }
        let channel = HealthAwareChannel::builder()
            .health_check_service("kv.v1.KV")
            .build(
                backends
                    .iter()
                    .map(|b| tonic::transport::Endpoint::from_shared(b.uri()).expect("a URI")),
            );
        while channel.in_rotation() < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let running = Arc::new(AtomicBool::new(true));
        let load: Vec<_> = (0..callers)
            .map(|_| {
                let (mut client, running) = (KvClient::new(channel.clone()), running.clone());
                tokio::spawn(async move {
                    while running.load(Ordering::Relaxed) {
                        let _ = client.get(GetRequest { key: "k".into() }).await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (mut out, mut last) = (Vec::new(), Vec::new());
        for _ in 0..flips {
            let mut changes = channel.subscribe();
            let flipped = Instant::now();
            dials[0].set(Status::Critical, "maintenance", 0.0);
            runtimes[0].check("kv").await.expect("registered");
            loop {
                let change = changes.recv().await.expect("a change");
                if matches!(change.to, Some(EndpointHealth::NotServing(_))) {
                    out.push(flipped.elapsed().as_secs_f64() * 1e3);
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let received = backends[0].calls.last().expect("calls");
            last.push(received.saturating_duration_since(flipped).as_secs_f64() * 1e3);
            dials[0].set(Status::Healthy, "ok", 1.0);
            runtimes[0].check("kv").await.expect("registered");
            while channel.in_rotation() < 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        println!(
            "flip -> out of rotation: median {:.1} ms; flip -> last call received by it: \
             median {:.1} ms, max {:.1} ms (target < 100 ms)",
            median(&mut out),
            median(&mut last.clone()),
            last.iter().copied().fold(0.0, f64::max)
        );
        running.store(false, Ordering::Relaxed);
        for task in load {
            let _ = task.await;
        }
    });
}
