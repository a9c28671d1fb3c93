//! What notifications cost a check run: the latency of runs of a check that changes status on
//! every run (each run a transition and a notification, the worst case), with no notifier, with
//! a notifier whose target hangs (accepts and never answers: its queue fills, the rest is
//! dropped), and with one whose target answers `204`; rounds alternating, each run timed;
//! medians and p99 with the ratios against no notifier.
//!
//! `cargo bench -p health-runtime --features notify --bench notify`
//! (`NOTIFY_BENCH_RUNS`, default 20,000 runs per round; `NOTIFY_BENCH_ROUNDS`, default 7)

mod support;

use support::{env_or, median, p99, quiet_config, switch};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use health_runtime::HealthRuntime;
use health_runtime::notify::{NotifySettings, Target};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn runtime(up: &Arc<AtomicBool>, target: Option<String>) -> HealthRuntime {
    let mut builder = HealthRuntime::builder()
        .without_declared_checks()
        .config(quiet_config())
        .cache_ttl(Duration::ZERO)
        .with_check(switch(up));
    if let Some(url) = target {
        // Every transition notified: no interval, no flap damping.
        builder = builder.notify(
            NotifySettings::new()
                .target(Target::json(url))
                .min_interval(Duration::ZERO)
                .flap(Duration::from_secs(300), 0)
                .timeout(Duration::from_secs(3600)),
        );
    }
    builder.build().expect("a runtime")
}

/// A receiver on loopback that reads requests and answers `204` to each, or never answers.
async fn sink(answer: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let mut pending = Vec::new();
                loop {
                    let Ok(read) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    if !answer {
                        continue;
                    }
                    pending.extend_from_slice(&buffer[..read]);
                    // Bodies are small JSON objects: one request per `}` after the headers.
                    while let Some(end) = request_end(&pending) {
                        pending.drain(..end);
                        let reply = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n";
                        if stream.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    format!("http://{addr}/hook")
}

/// Where the first whole request in `bytes` ends, from its `content-length`.
fn request_end(bytes: &[u8]) -> Option<usize> {
    let head = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let text = String::from_utf8_lossy(&bytes[..head]).to_ascii_lowercase();
    let length: usize = text
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())?;
    let end = head + 4 + length;
    (bytes.len() >= end).then_some(end)
}

/// Each run's latency in nanoseconds, the check flipping before every run.
async fn latencies(runtime: &HealthRuntime, up: &AtomicBool, runs: u32) -> Vec<f64> {
    let mut times = Vec::with_capacity(runs as usize);
    for _ in 0..runs {
        up.fetch_xor(true, Ordering::Relaxed);
        let started = Instant::now();
        std::hint::black_box(runtime.check("db").await.expect("registered"));
        times.push(started.elapsed().as_nanos() as f64);
    }
    times
}

fn main() {
    let runs: u32 = env_or("NOTIFY_BENCH_RUNS", 20_000);
    let rounds: usize = env_or("NOTIFY_BENCH_ROUNDS", 7);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!(
        "== a check run that is a transition: {runs} runs per round, {rounds} rounds, alternating"
    );
    tokio.block_on(async {
        let hanging = sink(false).await;
        let answering = sink(true).await;
        let names = ["no notifier", "hanging target", "answering target"];
        let setups: Vec<(Arc<AtomicBool>, HealthRuntime)> = [None, Some(hanging), Some(answering)]
            .into_iter()
            .map(|target| {
                let up = Arc::new(AtomicBool::new(true));
                let runtime = runtime(&up, target);
                (up, runtime)
            })
            .collect();
        // Warm up: connections, the workers, the allocator.
        for (up, runtime) in &setups {
            latencies(runtime, up, runs / 10).await;
        }
        let mut medians = vec![Vec::new(); setups.len()];
        let mut tails = vec![Vec::new(); setups.len()];
        for _ in 0..rounds {
            for (index, (up, runtime)) in setups.iter().enumerate() {
                let mut times = latencies(runtime, up, runs).await;
                medians[index].push(median(&mut times));
                tails[index].push(p99(&mut times));
            }
        }
        let base_median = median(&mut medians[0]);
        let base_p99 = median(&mut tails[0]);
        for (index, name) in names.iter().enumerate() {
            let run_median = median(&mut medians[index]);
            let run_p99 = median(&mut tails[index]);
            println!(
                "{name:>17}: median {:>8.0} ns  p99 {:>8.0} ns  (x{:.2} median, x{:.2} p99)",
                run_median,
                run_p99,
                run_median / base_median,
                run_p99 / base_p99
            );
        }
        for (name, (_, runtime)) in names.iter().zip(&setups).skip(1) {
            for target in health_runtime::notify::stats(runtime).targets() {
                println!(
                    "{name:>17}: delivered {}, dropped {}, retried {}, failed {}",
                    target.delivered, target.dropped, target.retried, target.failed
                );
            }
        }
    });
}
