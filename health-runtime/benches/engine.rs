//! Engine benchmarks: a report over many slow checks, a cached read, and single-flight.
//!
//! `cargo bench -p health-runtime --bench engine`

mod support;

use support::median;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use health_runtime::{Check, HealthConfig, HealthRuntime};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A builder with exactly the checks the bench adds: no health file, so no check of its own.
fn builder() -> health_runtime::HealthRuntimeBuilder {
    let mut config = HealthConfig::default();
    config.surfaces.health_file = None;
    HealthRuntime::builder()
        .config(config)
        .without_declared_checks()
}

/// (a) A report over 100 checks of 50 ms each takes about one check's time.
fn report_over_slow_checks(c: &mut Criterion) {
    let rt = runtime();
    let mut builder = builder().cache_ttl(Duration::ZERO);
    for i in 0..100 {
        builder = builder.with_check(Check::new(format!("slow{i}"), || async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            true
        }));
    }
    let health = builder.build().expect("valid checks");
    let mut ratios = Vec::new();
    let mut group = c.benchmark_group("report");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("100_checks_of_50ms", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let started = Instant::now();
                let report = rt.block_on(health.report());
                let elapsed = started.elapsed();
                let slowest = report
                    .metrics
                    .values()
                    .filter_map(|metric| metric.duration_ms)
                    .fold(0.0, f64::max);
                ratios.push(elapsed.as_secs_f64() * 1000.0 / slowest);
                total += elapsed;
            }
            total
        });
    });
    group.finish();
    println!(
        "report over 100 checks of 50 ms: median report_time / slowest_check = {:.3} over {} reports (target <= 1.2)",
        median(&mut ratios),
        ratios.len()
    );
}

/// (b) Reading a cached status.
fn cached_read(c: &mut Criterion) {
    let rt = runtime();
    let mut builder = builder();
    for i in 0..100 {
        builder = builder.with_check(Check::new(format!("check{i}"), || async { true }));
    }
    let health = builder.build().expect("valid checks");
    rt.block_on(health.report());
    c.bench_function("cached_status_of_1_in_100", |b| {
        b.iter(|| {
            health
                .cached(std::hint::black_box("check42"))
                .map(|check| check.state().status())
        });
    });
    c.bench_function("snapshot_overall_of_100", |b| {
        b.iter(|| health.snapshot().overall());
    });
}

/// (c) 1,000 concurrent callers of a 200 ms check cause one execution.
fn single_flight(c: &mut Criterion) {
    let rt = runtime();
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = executions.clone();
    let health = builder()
        .cache_ttl(Duration::ZERO)
        .with_check(Check::new("slow", move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                true
            }
        }))
        .build()
        .expect("valid check");
    let mut per_round = Vec::new();
    let mut group = c.benchmark_group("single_flight");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("1000_callers_of_a_200ms_check", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let before = executions.load(Ordering::SeqCst);
                let started = Instant::now();
                rt.block_on(async {
                    let callers: Vec<_> = (0..1000)
                        .map(|_| {
                            let health = health.clone();
                            tokio::spawn(async move { health.check("slow").await })
                        })
                        .collect();
                    for caller in callers {
                        caller.await.expect("caller").expect("known check");
                    }
                });
                total += started.elapsed();
                per_round.push((executions.load(Ordering::SeqCst) - before) as f64);
            }
            total
        });
    });
    group.finish();
    let max = per_round.iter().copied().fold(0.0, f64::max);
    println!(
        "1,000 concurrent callers: median executions per round = {} (max {max}) over {} rounds (target 1)",
        median(&mut per_round),
        per_round.len()
    );
}

criterion_group!(benches, report_over_slow_checks, cached_read, single_flight);
criterion_main!(benches);
