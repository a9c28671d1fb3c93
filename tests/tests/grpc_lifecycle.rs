//! Shutdown over gRPC: every name NOT_SERVING, watchers told and their streams ended after the
//! drain delay, the server stopped soon after; readiness and startup before a first result.

use std::time::{Duration, Instant};

use health_runtime::{Check, Group};
use tests::{GrpcServer, ServingStatus, builder, check_status, next_status, request};

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_a_hundred_watchers_and_stops_within_the_drain_delay() {
    let drain = Duration::from_millis(1500);
    let runtime = builder()
        .drain_delay(drain)
        .with_check(Check::new("db", || async { true }))
        .build()
        .unwrap();
    runtime.check("db").await.unwrap();
    let server = GrpcServer::start(&runtime).await;
    let mut watchers = Vec::new();
    for i in 0..100 {
        let mut client = server.health().await;
        let name = ["", "db", "readiness", "plugin"][i % 4];
        let mut stream = client.watch(request(name)).await.unwrap().into_inner();
        assert_eq!(
            next_status(&mut stream, WAIT).await,
            Some(ServingStatus::Serving)
        );
        watchers.push(tokio::spawn(async move {
            let status = next_status(&mut stream, WAIT).await;
            let told = Instant::now();
            let end = tokio::time::timeout(WAIT, stream.message()).await;
            (
                status,
                told,
                end.map(|message| message.map(|m| m.is_none())),
                client,
            )
        }));
    }
    let mut checker = server.health().await;

    let started = Instant::now();
    let stopped = tokio::spawn(server.stop());
    for watcher in watchers {
        let (status, told, end, _client) = watcher.await.unwrap();
        assert_eq!(status, Some(ServingStatus::NotServing));
        assert!(told - started < drain, "told before the drain delay ended");
        assert!(
            matches!(end, Ok(Ok(true))),
            "the stream ended cleanly: {end:?}"
        );
    }
    stopped.await.unwrap().unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= drain,
        "stopped after {elapsed:?}, before the drain delay"
    );
    assert!(
        elapsed < drain + Duration::from_secs(1),
        "stopped after {elapsed:?}"
    );
    // Checks during the drain answered NOT_SERVING; after the stop the port is closed.
    assert!(check_status(&mut checker, "").await.is_err());
}

#[tokio::test]
async fn every_name_is_not_serving_while_draining_and_serves_again_after_resume() {
    let runtime = builder()
        .drain_delay(Duration::from_secs(60))
        .with_check(Check::new("db", || async { true }).service("storage"))
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;
    let mut client = server.health().await;
    let names = [
        "",
        "plugin",
        "readiness",
        "liveness",
        "startup",
        "db",
        "storage",
    ];
    assert_eq!(
        check_status(&mut client, "readiness").await,
        Ok(ServingStatus::Serving)
    );
    let mut stream = client.watch(request("db")).await.unwrap().into_inner();
    assert_eq!(
        next_status(&mut stream, WAIT).await,
        Some(ServingStatus::Serving)
    );

    runtime.shutdown();
    for name in names {
        assert_eq!(
            check_status(&mut client, name).await,
            Ok(ServingStatus::NotServing),
            "{name:?}"
        );
    }
    assert_eq!(
        next_status(&mut stream, WAIT).await,
        Some(ServingStatus::NotServing)
    );

    runtime.resume();
    assert_eq!(
        next_status(&mut stream, WAIT).await,
        Some(ServingStatus::Serving)
    );
    for name in names {
        assert_eq!(
            check_status(&mut client, name).await,
            Ok(ServingStatus::Serving),
            "{name:?}"
        );
    }
}

#[tokio::test]
async fn readiness_and_startup_wait_for_a_first_result_then_startup_latches() {
    // 0: the check has not answered yet; 1: healthy; 2: failing.
    let (state, states) = tokio::sync::watch::channel(0u8);
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_check(
            Check::new("warmup", move || {
                let mut states = states.clone();
                async move {
                    let state = states.wait_for(|state| *state != 0).await.map(|s| *s);
                    matches!(state, Ok(1))
                }
            })
            .groups([Group::Readiness, Group::Startup]),
        )
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;
    let mut client = server.health().await;
    let mut readiness = client
        .watch(request("readiness"))
        .await
        .unwrap()
        .into_inner();
    let mut startup = client.watch(request("startup")).await.unwrap().into_inner();
    let mut overall = client.watch(request("")).await.unwrap().into_inner();
    assert_eq!(
        next_status(&mut readiness, WAIT).await,
        Some(ServingStatus::NotServing)
    );
    assert_eq!(
        next_status(&mut startup, WAIT).await,
        Some(ServingStatus::NotServing)
    );
    assert_eq!(
        next_status(&mut overall, WAIT).await,
        Some(ServingStatus::Unknown)
    );

    state.send(1).unwrap();
    assert_eq!(
        next_status(&mut readiness, WAIT).await,
        Some(ServingStatus::Serving)
    );
    assert_eq!(
        next_status(&mut startup, WAIT).await,
        Some(ServingStatus::Serving)
    );
    assert_eq!(
        next_status(&mut overall, WAIT).await,
        Some(ServingStatus::Serving)
    );

    state.send(2).unwrap();
    runtime.check("warmup").await.unwrap();
    assert_eq!(
        next_status(&mut readiness, WAIT).await,
        Some(ServingStatus::NotServing)
    );
    assert_eq!(
        next_status(&mut overall, WAIT).await,
        Some(ServingStatus::NotServing)
    );
    assert_eq!(
        next_status(&mut startup, Duration::from_millis(300)).await,
        None,
        "startup stays SERVING once it has passed"
    );
    assert_eq!(
        check_status(&mut client, "startup").await,
        Ok(ServingStatus::Serving)
    );
}
