//! `grpc.health.v1.Health/Check` over loopback with the tonic client: every kind of name,
//! unknown and malformed names, and shared runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use health_runtime::pb::health::v1::HealthCheckResponse;
use health_runtime::{Check, Group, Status};
use tests::{GrpcServer, Runs, ServingStatus, builder, check_status};
use tonic::Code;

#[tokio::test]
async fn every_kind_of_name_answers_with_its_status() {
    let runtime = builder()
        .with_check(Check::new("db", || async { Status::Critical }).service("storage"))
        .with_check(
            Check::new("cache", || async { Status::Warning })
                .service("storage")
                .groups([Group::Liveness, Group::Readiness]),
        )
        .with_check(Check::new("loop", || async { true }).groups([Group::Liveness, Group::Startup]))
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;
    let mut client = server.health().await;

    for (name, expected) in [
        ("", ServingStatus::NotServing),
        ("plugin", ServingStatus::NotServing),
        ("readiness", ServingStatus::NotServing),
        ("liveness", ServingStatus::Serving),
        ("startup", ServingStatus::Serving),
        ("db", ServingStatus::NotServing),
        ("cache", ServingStatus::Serving),
        ("loop", ServingStatus::Serving),
        ("storage", ServingStatus::NotServing),
    ] {
        assert_eq!(
            check_status(&mut client, name).await,
            Ok(expected),
            "{name:?}"
        );
    }
}

#[tokio::test]
async fn unknown_names_are_not_found() {
    let runtime = builder().build().unwrap();
    let server = GrpcServer::start(&runtime).await;
    let mut client = server.health().await;
    let error = client.check(tests::request("billing")).await.unwrap_err();
    assert_eq!(error.code(), Code::NotFound);
    assert_eq!(error.message(), "no health service named `billing`");
    // With no checks at all, the overall status still answers.
    assert_eq!(
        check_status(&mut client, "").await,
        Ok(ServingStatus::Serving)
    );
}

#[tokio::test]
async fn huge_and_odd_names_get_a_clean_error_and_the_server_keeps_answering() {
    let runtime = builder()
        .with_check(Check::new("db", || async { true }))
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;
    let mut client = server.health().await;

    let huge = "a".repeat(1 << 20);
    let error = client.check(tests::request(&huge)).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert_eq!(
        error.message(),
        "the service name is 1048576 bytes long; at most 128 are allowed"
    );
    let mut watch_client = server.health().await;
    let error = watch_client.watch(tests::request(&huge)).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);

    for odd in ["db\0", "db\n", "dé", "../../etc/passwd\u{202e}", "db name"] {
        let error = client.check(tests::request(odd)).await.unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument, "{odd:?}");
        assert!(!error.message().contains(odd), "the name is not echoed");
    }

    // Bytes that are not UTF-8 at all cannot be a proto3 string: tonic refuses to decode them.
    let error = raw_check(&server, b"db\xff\xfe").await.unwrap_err();
    assert_ne!(error.code(), Code::Ok);

    assert_eq!(
        check_status(&mut client, "db").await,
        Ok(ServingStatus::Serving)
    );
    assert_eq!(
        check_status(&mut server.health().await, "").await,
        Ok(ServingStatus::Serving)
    );
}

/// A `Check` whose `service` field carries arbitrary bytes.
async fn raw_check(
    server: &GrpcServer,
    service: &[u8],
) -> Result<HealthCheckResponse, tonic::Status> {
    #[derive(Clone, PartialEq, prost::Message)]
    struct RawRequest {
        #[prost(bytes = "vec", tag = "1")]
        service: Vec<u8>,
    }
    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<RawRequest, HealthCheckResponse>::default();
    let path = http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check");
    let request = tonic::Request::new(RawRequest {
        service: service.to_vec(),
    });
    grpc.unary(request, path, codec)
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn concurrent_checks_share_one_run_and_fresh_results_are_cached() {
    let runs = Runs::default();
    let counter = runs.clone();
    let runtime = builder()
        .cache_ttl(Duration::from_secs(60))
        .with_check(Check::new("slow", move || {
            counter.hit();
            async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                true
            }
        }))
        .build()
        .unwrap();
    // The monitor's first run is one run too; wait for it so that the callers below find a
    // fresh result only if they share correctly.
    let server = GrpcServer::start(&runtime).await;
    let channels = [
        server.channel().await,
        server.channel().await,
        server.channel().await,
        server.channel().await,
    ];
    let calls = (0..1000).map(|i| {
        let mut client = tests::HealthClient::new(channels[i % channels.len()].clone());
        tokio::spawn(async move { check_status(&mut client, "slow").await })
    });
    for call in futures::future::join_all(calls).await {
        assert_eq!(call.unwrap(), Ok(ServingStatus::Serving));
    }
    assert_eq!(
        runs.count(),
        1,
        "the monitor's run and 1,000 callers shared one execution"
    );

    let mut client = server.health().await;
    for _ in 0..10 {
        check_status(&mut client, "slow").await.unwrap();
    }
    assert_eq!(runs.count(), 1, "served from cache");
}

#[tokio::test]
async fn check_runs_a_stale_check_before_answering() {
    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .with_check(Check::new("flips", move || {
            std::future::ready(flag.load(Ordering::SeqCst))
        }))
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;
    let mut client = server.health().await;
    assert_eq!(
        check_status(&mut client, "flips").await,
        Ok(ServingStatus::Serving)
    );
    up.store(false, Ordering::SeqCst);
    assert_eq!(
        check_status(&mut client, "flips").await,
        Ok(ServingStatus::NotServing)
    );
    assert_eq!(
        check_status(&mut client, "readiness").await,
        Ok(ServingStatus::NotServing)
    );
}
