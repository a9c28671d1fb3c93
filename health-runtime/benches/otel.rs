//! What the OpenTelemetry instrumentation costs on the run path, against a baseline in the same
//! run: nanoseconds per run of a check, with the SDK providers installed through
//! `otel::Otlp::install` (OTLP/HTTP to a loopback sink that answers every export with 200, a
//! metric export every second) and the run-span layer as the subscriber, against a runtime
//! built before any provider was installed (the API's no-op instruments) and no subscriber.
//! Once for a check that changes status on every run (each run a transition, so a log record:
//! the worst case) and once for one that never does; rounds alternating, medians and the ratio;
//! and the instrumented runtime without the span layer, to tell the spans' share.
//!
//! `cargo bench -p health-runtime --features otel --bench otel`
//! (`OTEL_BENCH_RUNS`, default 20,000 runs per round; `OTEL_BENCH_ROUNDS`, default 9)

mod support;

use support::{env_or, median, per_run, quiet_config, switch};

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use health_runtime::HealthRuntime;
use health_runtime::otel::{Otlp, Protocol, Telemetry};
use tracing_subscriber::prelude::*;

fn runtime(up: &Arc<AtomicBool>) -> HealthRuntime {
    HealthRuntime::builder()
        .without_declared_checks()
        .config(quiet_config())
        .cache_ttl(Duration::ZERO)
        .with_check(switch(up))
        .build()
        .expect("a runtime")
}

/// An OTLP/HTTP sink on 127.0.0.1 answering every export with an empty 200; its URL.
async fn sink() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    let router = axum::Router::new().fallback(|| async { "" });
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

fn main() {
    let runs: u32 = env_or("OTEL_BENCH_RUNS", 20_000);
    let rounds: usize = env_or("OTEL_BENCH_ROUNDS", 9);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!("== otel on the run path: {runs} runs per round, {rounds} rounds, alternating");
    tokio.block_on(async {
        // Built first: its instruments are the API's no-ops.
        let (up_off, up_on) = (
            Arc::new(AtomicBool::new(true)),
            Arc::new(AtomicBool::new(true)),
        );
        let without = runtime(&up_off);
        let telemetry = Arc::new(
            Otlp::new(sink().await)
                .with_protocol(Protocol::HttpProtobuf)
                .with_metric_interval(Duration::from_secs(1))
                .install()
                .expect("the exporters"),
        );
        let with = runtime(&up_on);
        for flip in [true, false] {
            let instrumented = |telemetry: &Telemetry| {
                tracing_subscriber::registry()
                    .with(telemetry.tracing_layer())
                    .set_default()
            };
            {
                let _spans = instrumented(&telemetry);
                per_run(&with, &up_on, runs / 10, flip).await;
            }
            per_run(&without, &up_off, runs / 10, flip).await;
            let (mut on, mut off, mut no_spans) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..rounds {
                {
                    let _spans = instrumented(&telemetry);
                    on.push(per_run(&with, &up_on, runs, flip).await);
                }
                off.push(per_run(&without, &up_off, runs, flip).await);
                no_spans.push(per_run(&with, &up_on, runs, flip).await);
            }
            let (on, off, no_spans) = (median(&mut on), median(&mut off), median(&mut no_spans));
            println!(
                "{:<28} otel {on:>8.0} ns/run   without {off:>8.0} ns/run   \
                 cost {:>+6.0} ns/run   ratio {:.3}   (metrics and logs alone: {no_spans:.0} ns/run, ratio {:.3})",
                if flip {
                    "every run a transition:"
                } else {
                    "no transition:"
                },
                on - off,
                on / off,
                no_spans / off,
            );
        }
        let telemetry = Arc::into_inner(telemetry).expect("the one handle");
        let shutdown = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
        if let Ok(Err(error)) = shutdown {
            println!("shutdown: {error}");
        }
    });
}
