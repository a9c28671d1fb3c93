//! `grpc.health.v1.Health/List`: every name with its status, at most 100.

use health_runtime::{Check, Group, Status};
use tests::{GrpcServer, ServingStatus, builder};
use tonic::Code;

#[tokio::test]
async fn list_returns_every_name_with_its_status() {
    let runtime = builder()
        .with_check(Check::new("db", || async { Status::Critical }).service("storage"))
        .with_check(Check::new("cache", || async { true }).groups([Group::Liveness]))
        .with_check(Check::new("never_ran", || async { true }).groups([Group::Startup]))
        .build()
        .unwrap();
    runtime.check("db").await.unwrap();
    runtime.check("cache").await.unwrap();
    let server = GrpcServer::start(&runtime).await;
    // List reads the published state and runs nothing (the monitor may meanwhile run
    // `never_ran`, whose status is therefore not asserted).
    let mut client = server.health().await;
    let listed = client
        .list(health_runtime::pb::health::v1::HealthListRequest {})
        .await
        .unwrap()
        .into_inner()
        .statuses;
    let mut names: Vec<_> = listed.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "",
            "cache",
            "db",
            "liveness",
            "never_ran",
            "plugin",
            "readiness",
            "startup",
            "storage"
        ]
    );
    let status = |name: &str| listed[name].status();
    assert_eq!(status(""), ServingStatus::NotServing);
    assert_eq!(status("db"), ServingStatus::NotServing);
    assert_eq!(status("storage"), ServingStatus::NotServing);
    assert_eq!(status("cache"), ServingStatus::Serving);
    assert_eq!(status("liveness"), ServingStatus::Serving);
}

#[tokio::test]
async fn more_than_a_hundred_names_is_resource_exhausted() {
    let mut builder = builder();
    for i in 0..96 {
        builder = builder.with_check(Check::new(format!("check{i}"), || async { true }));
    }
    let runtime = builder.build().unwrap();
    let server = GrpcServer::start(&runtime).await;
    let mut client = server.health().await;
    let request = health_runtime::pb::health::v1::HealthListRequest {};
    // 96 checks + "", plugin and the three groups = 101 names.
    let error = client.list(request).await.unwrap_err();
    assert_eq!(error.code(), Code::ResourceExhausted);
    assert_eq!(
        error.message(),
        "101 health services exceed the 100 that List may return; use Check or Watch on each"
    );

    runtime.deregister("check0");
    let listed = client.list(request).await.unwrap().into_inner();
    assert_eq!(listed.statuses.len(), 100);
}
