//! The probe port against the main port when the application starves its workers: the server's
//! two async workers run handlers that compute for `PROBE_BENCH_BUSY_MS` (default 1,500 ms)
//! between yields, and a client on its own thread sends `grpc.health.v1.Health/Check` of `""`
//! to the main gRPC port and to the probe port (`PLUGIN_HEALTH_PROBE_ADDR`) in turn, each with a
//! 1 s deadline, as the kubelet does. It prints p50, p99 and the worst latency per port, the
//! probes that missed the deadline, and the ratio of the p99s, all from the same run.
//!
//! `cargo bench -p health-runtime --bench probe_port`

mod support;

use support::env_or;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use health_runtime::pb::health::v1::HealthCheckRequest;
use health_runtime::pb::health::v1::health_client::HealthClient;
use health_runtime::{Check, HealthConfig, HealthRuntime};

/// The kubelet's default probe timeout.
const DEADLINE: Duration = Duration::from_secs(1);

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

fn percentile(sorted: &[Duration], quantile: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * quantile).round() as usize]
}

/// One probe: its latency, or the deadline when it missed it.
async fn probe(client: &mut HealthClient<tonic::transport::Channel>) -> (Duration, bool) {
    let started = Instant::now();
    let request = HealthCheckRequest {
        service: String::new(),
    };
    match tokio::time::timeout(DEADLINE, client.check(request)).await {
        Ok(Ok(_)) => (started.elapsed(), false),
        _ => (DEADLINE, true),
    }
}

fn main() {
    let busy = Duration::from_millis(env_or("PROBE_BENCH_BUSY_MS", 1_500));
    let probes: usize = env_or("PROBE_BENCH_PROBES", 60);
    let workers: usize = 2;
    println!(
        "== Check(\"\") with a {DEADLINE:?} deadline while {workers} async workers compute for \
         {busy:?} between yields: main port against probe port, {probes} probes each, alternating"
    );

    let (grpc, probe_addr) = (free_port(), free_port());
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("server runtime");
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        server.block_on(async move {
            let mut config = HealthConfig::default();
            config.surfaces.http_addr = None;
            config.surfaces.health_file = None;
            config.surfaces.probe_addr = Some(probe_addr);
            let health = HealthRuntime::builder()
                .config(config)
                .without_declared_checks()
                .default_interval(Duration::from_millis(500))
                .with_check(Check::new("db", || async { true }))
                .build()
                .expect("runtime");
            let listener = tokio::net::TcpListener::bind(grpc).await.expect("bind");
            tokio::spawn(async move {
                health_runtime::server::serve_with_shutdown(
                    &health,
                    listener,
                    tonic::service::Routes::default(),
                    std::future::pending(),
                )
                .await
            });
            // Let both listeners come up before the handlers take the workers.
            tokio::time::sleep(Duration::from_millis(500)).await;
            // The application's handlers: more of them than workers, each computing without
            // yielding for `busy`, then yielding once.
            for _ in 0..workers * 2 {
                let stop = stop.clone();
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let mut x = 0u64;
                        while started.elapsed() < busy {
                            x = std::hint::black_box(
                                x.wrapping_mul(6364136223846793005).wrapping_add(1),
                            );
                        }
                        tokio::task::yield_now().await;
                    }
                });
            }
        })
    };

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let (main, probe_port) = client.block_on(async {
        let connect = |addr: SocketAddr| async move {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .expect("uri")
                .connect_lazy();
            HealthClient::new(channel)
        };
        let (mut main_client, mut probe_client) = (connect(grpc).await, connect(probe_addr).await);
        // Connections first (outside the measurement), each within a generous wait.
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            main_client.check(HealthCheckRequest::default()),
        )
        .await;
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            probe_client.check(HealthCheckRequest::default()),
        )
        .await;
        let (mut main, mut probe_port) = (Vec::new(), Vec::new());
        for round in 0..probes {
            // Alternate which goes first, so that neither always follows the other.
            if round % 2 == 0 {
                main.push(probe(&mut main_client).await);
                probe_port.push(probe(&mut probe_client).await);
            } else {
                probe_port.push(probe(&mut probe_client).await);
                main.push(probe(&mut main_client).await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (main, probe_port)
    });
    stop.store(true, Ordering::Relaxed);

    let summary = |label: &str, samples: &[(Duration, bool)]| -> Duration {
        let mut sorted: Vec<Duration> = samples.iter().map(|(latency, _)| *latency).collect();
        sorted.sort();
        let missed = samples.iter().filter(|(_, missed)| *missed).count();
        let p99 = percentile(&sorted, 0.99);
        println!(
            "{label:<11} p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms  missed the {DEADLINE:?} deadline: {missed} of {}",
            percentile(&sorted, 0.5).as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            sorted.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            samples.len(),
        );
        p99
    };
    let main_p99 = summary("main port", &main);
    let probe_p99 = summary("probe port", &probe_port);
    println!(
        "p99 main / probe = {:.1}x; probe-port p99 target < 50 ms: {}",
        main_p99.as_secs_f64() / probe_p99.as_secs_f64().max(1e-9),
        if probe_p99 < Duration::from_millis(50) {
            "met"
        } else {
            "missed"
        }
    );
    server.shutdown_timeout(Duration::from_millis(100));
}
