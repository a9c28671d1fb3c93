//! `grpc.health.v1.Health/Watch` over loopback: the current status, then changes only, pushed
//! from the published state to every stream; unknown names; streams freed on disconnect.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use health_runtime::{Check, HealthRuntime};
use tests::{GrpcServer, Runs, ServingStatus, builder, next_status, request};

const WAIT: Duration = Duration::from_secs(5);

fn switch(name: &str, up: &Arc<AtomicBool>, runs: &Runs) -> Check {
    let (up, runs) = (up.clone(), runs.clone());
    Check::new(name.to_owned(), move || {
        runs.hit();
        std::future::ready(up.load(Ordering::SeqCst))
    })
}

async fn wait_for_streams(runtime: &HealthRuntime, expected: usize) {
    for _ in 0..500 {
        if health_runtime::grpc::watch_streams(runtime) == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        health_runtime::grpc::watch_streams(runtime),
        expected,
        "open Watch streams"
    );
}

#[tokio::test]
async fn current_status_first_then_changes_only() {
    let (up, runs) = (Arc::new(AtomicBool::new(true)), Runs::default());
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_check(switch("db", &up, &runs))
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;
    runtime.check("db").await.unwrap();
    let mut client = server.health().await;
    let mut stream = client.watch(request("db")).await.unwrap().into_inner();
    assert_eq!(
        next_status(&mut stream, WAIT).await,
        Some(ServingStatus::Serving)
    );

    // A run with the same result sends nothing.
    runtime.check("db").await.unwrap();
    assert_eq!(
        next_status(&mut stream, Duration::from_millis(300)).await,
        None
    );

    up.store(false, Ordering::SeqCst);
    runtime.check("db").await.unwrap();
    assert_eq!(
        next_status(&mut stream, WAIT).await,
        Some(ServingStatus::NotServing)
    );
    up.store(true, Ordering::SeqCst);
    runtime.check("db").await.unwrap();
    assert_eq!(
        next_status(&mut stream, WAIT).await,
        Some(ServingStatus::Serving)
    );
}

#[tokio::test]
async fn unknown_names_wait_open_until_the_check_appears_and_after_it_goes() {
    let runtime = builder().build().unwrap();
    let server = GrpcServer::start(&runtime).await;
    let mut client = server.health().await;
    let mut stream = client.watch(request("late")).await.unwrap().into_inner();
    assert_eq!(
        next_status(&mut stream, WAIT).await,
        Some(ServingStatus::ServiceUnknown)
    );
    assert_eq!(
        next_status(&mut stream, Duration::from_millis(300)).await,
        None,
        "the stream stays open"
    );

    runtime
        .register(Check::new("late", || async { true }))
        .unwrap();
    let mut seen = Vec::new();
    while seen.last() != Some(&ServingStatus::Serving) {
        seen.push(next_status(&mut stream, WAIT).await.expect("a status"));
    }
    assert!(
        seen == [ServingStatus::Serving]
            || seen == [ServingStatus::Unknown, ServingStatus::Serving],
        "{seen:?}"
    );

    runtime.deregister("late");
    assert_eq!(
        next_status(&mut stream, WAIT).await,
        Some(ServingStatus::ServiceUnknown)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_flip_reaches_a_thousand_streams_without_more_runs() {
    let (up, runs) = (Arc::new(AtomicBool::new(true)), Runs::default());
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_check(switch("db", &up, &runs))
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;
    runtime.check("db").await.unwrap();
    let runs_before = runs.count();

    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(server.channel().await);
    }
    let watchers: Vec<_> = (0..1000)
        .map(|i| {
            let mut client = tests::HealthClient::new(channels[i % channels.len()].clone());
            tokio::spawn(async move {
                let mut stream = client.watch(request("db")).await.unwrap().into_inner();
                let first = next_status(&mut stream, WAIT).await;
                let second = next_status(&mut stream, Duration::from_secs(20)).await;
                (first, second)
            })
        })
        .collect();
    wait_for_streams(&runtime, 1000).await;
    assert_eq!(runs.count(), runs_before, "watchers cause no runs");

    up.store(false, Ordering::SeqCst);
    runtime.check("db").await.unwrap();
    for watcher in watchers {
        assert_eq!(
            watcher.await.unwrap(),
            (
                Some(ServingStatus::Serving),
                Some(ServingStatus::NotServing)
            )
        );
    }
    assert_eq!(
        runs.count(),
        runs_before + 1,
        "one run for a thousand watchers"
    );
}

#[tokio::test]
async fn streams_are_freed_when_clients_leave() {
    let runtime = builder()
        .with_check(Check::new("db", || async { true }))
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;
    let mut clients = Vec::new();
    let mut streams = Vec::new();
    for _ in 0..5 {
        let channel = server.channel().await;
        for _ in 0..20 {
            let mut client = tests::HealthClient::new(channel.clone());
            let mut stream = client.watch(request("db")).await.unwrap().into_inner();
            assert!(next_status(&mut stream, WAIT).await.is_some());
            streams.push(stream);
        }
        clients.push(channel);
    }
    wait_for_streams(&runtime, 100).await;

    // Half leave by cancelling their stream, the rest by closing their connection.
    streams.truncate(50);
    wait_for_streams(&runtime, 50).await;
    drop(streams);
    drop(clients);
    wait_for_streams(&runtime, 0).await;
}
