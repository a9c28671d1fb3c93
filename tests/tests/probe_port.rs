//! The probe port answers from the published state on a thread of its own, and only while the
//! application's runtime that keeps that state still runs: a runtime whose workers are all
//! stuck turns every probe `NOT_SERVING`, so that the kubelet restarts a wedged process.

use std::time::{Duration, Instant};

use health_runtime::{Check, HealthRuntime};
use tests::process::free_port;
use tests::{GrpcServer, HealthClient, ServingStatus, builder, check_status, quiet_config};

#[test]
fn a_stuck_runtime_turns_the_probe_port_not_serving() {
    let probe = free_port();
    // The application's runtime: one worker, which a handler will block.
    let app = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let health: HealthRuntime = app.block_on(async {
        let mut config = quiet_config();
        config.surfaces.probe_addr = Some(probe);
        config.surfaces.probe_stall_timeout = Duration::from_secs(1);
        builder()
            .config(config)
            .with_check(Check::new("db", || async { true }))
            .build()
            .unwrap()
    });
    let server = app.block_on(GrpcServer::start(&health));

    // The prober: a runtime of its own, as the kubelet is a process of its own.
    let prober = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = |client: &mut HealthClient| {
        prober.block_on(async {
            tokio::time::timeout(Duration::from_secs(2), check_status(client, ""))
                .await
                .ok()
        })
    };
    let mut client = prober.block_on(async {
        for _ in 0..100 {
            if let Ok(channel) = tonic::transport::Endpoint::from_shared(format!("http://{probe}"))
                .unwrap()
                .connect()
                .await
            {
                return HealthClient::new(channel);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the probe port never listened");
    });
    let started = Instant::now();
    while status(&mut client) != Some(Ok(ServingStatus::Serving)) {
        assert!(started.elapsed() < Duration::from_secs(10), "never SERVING");
        std::thread::sleep(Duration::from_millis(50));
    }

    // A handler that blocks the only worker for 5 s: the runtime runs nothing else meanwhile.
    app.spawn(async { std::thread::sleep(Duration::from_secs(5)) });
    std::thread::sleep(Duration::from_millis(1_800));
    assert_eq!(
        status(&mut client),
        Some(Ok(ServingStatus::NotServing)),
        "the probe port still answered SERVING for a stuck runtime"
    );
    let verbose = prober.block_on(async {
        reqwest::get(format!("http://{probe}/live?verbose"))
            .await
            .unwrap()
    });
    assert_eq!(verbose.status(), 503);
    let body = prober.block_on(verbose.text()).unwrap();
    assert!(body.contains("[-]runtime failed"), "{body}");

    // Once the worker is free, the probe port answers from the published state again.
    let started = Instant::now();
    while status(&mut client) != Some(Ok(ServingStatus::Serving)) {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never SERVING again"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop((server, health));
    app.shutdown_timeout(Duration::from_millis(100));
}
