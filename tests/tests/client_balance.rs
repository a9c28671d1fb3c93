//! Client-side health checking (gRFC A17) against three real tonic backends over loopback: an
//! endpoint leaves the rotation when its Watch says so and comes back on SERVING, a killed
//! backend is retried with growing backoff and rejoins when restarted, a backend without the
//! health service keeps its calls, and a name not registered yet keeps its endpoint out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use health_runtime::client::{Backoff, EndpointHealth, HealthAwareChannel, ServiceConfig};
use health_runtime::pb::health::v1::health_check_response::ServingStatus;
use health_runtime::{HealthRuntime, Status};
use tests::backend::Backend;
use tests::backend::kv::GetRequest;
use tests::backend::kv::kv_client::KvClient;
use tests::history::Dial;
use tests::{builder, quiet_config};
use tonic::transport::Endpoint;

const SERVICE: &str = "kv.v1.KV";

type Logs = Arc<std::sync::Mutex<Vec<u8>>>;

/// Every log line of this test binary from now on, from every thread.
fn capture_logs() -> Logs {
    #[derive(Clone)]
    struct Writer(Logs);
    impl std::io::Write for Writer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let logs = Logs::default();
    let writer = Writer(logs.clone());
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .expect("only this test sets the global subscriber");
    logs
}

/// A backend runtime whose check `kv` (counting toward `kv.v1.KV`) the dial sets.
fn health(dial: &Dial) -> HealthRuntime {
    let mut config = quiet_config();
    config.checks.drain_delay = Duration::ZERO;
    builder()
        .config(config)
        .cache_ttl(Duration::ZERO)
        .with_check(dial.check("kv").service(SERVICE))
        .build()
        .unwrap()
}

fn endpoint(backend: &Backend) -> Endpoint {
    Endpoint::from_shared(backend.uri()).unwrap()
}

fn fast_backoff() -> Backoff {
    Backoff::starting_at(Duration::from_millis(40))
}

/// A backend named `b<index>` for each dial, on the dial's runtime.
async fn backends(dials: &[Dial]) -> Vec<Backend> {
    let mut backends = Vec::new();
    for (index, dial) in dials.iter().enumerate() {
        backends.push(Backend::start(&format!("b{index}"), Some(health(dial))).await);
    }
    backends
}

/// Waits until `channel` has `n` endpoints in rotation.
async fn until_in_rotation(channel: &HealthAwareChannel, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while channel.in_rotation() != n {
        assert!(
            Instant::now() < deadline,
            "{n} in rotation never came: {:?}",
            channel.endpoints()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `calls` calls, `concurrency` at a time.
async fn call(channel: &HealthAwareChannel, calls: usize, concurrency: usize) {
    let per_task = calls / concurrency;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let mut client = KvClient::new(channel.clone());
            tokio::spawn(async move {
                for _ in 0..per_task {
                    client
                        .get(GetRequest { key: "k".into() })
                        .await
                        .expect("a call through the channel");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_turned_not_serving_gets_no_new_call_once_its_watch_said_so() {
    let dials: Vec<Dial> = (0..3).map(|_| Dial::new()).collect();
    let runtimes: Vec<HealthRuntime> = dials.iter().map(health).collect();
    let mut backends = Vec::new();
    for (index, runtime) in runtimes.iter().enumerate() {
        backends.push(Backend::start(&format!("b{index}"), Some(runtime.clone())).await);
    }
    let channel = HealthAwareChannel::builder()
        .health_check_service(SERVICE)
        .backoff(fast_backoff())
        .build(backends.iter().map(endpoint));
    until_in_rotation(&channel, 3).await;
    call(&channel, 3_000, 100).await;
    for backend in &backends {
        // Round robin: an even share each.
        assert!(backend.calls.count() >= 900, "{}", backend.calls.count());
    }

    // 1,000 calls in flight, continuously, while backend 0 turns NOT_SERVING. Each call is
    // numbered (its key) before the channel picks its endpoint.
    let running = Arc::new(AtomicBool::new(true));
    let numbers = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let load: Vec<_> = (0..1_000)
        .map(|_| {
            let (mut client, running) = (KvClient::new(channel.clone()), running.clone());
            let numbers = numbers.clone();
            tokio::spawn(async move {
                while running.load(Ordering::Relaxed) {
                    let key = (numbers.fetch_add(1, Ordering::SeqCst) + 1).to_string();
                    if let Err(error) = client.get(GetRequest { key }).await {
                        panic!("a call failed: {error:?}");
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut changes = channel.subscribe();
    let before = backends.iter().map(|b| b.calls.count()).collect::<Vec<_>>();
    let flipped = Instant::now();
    dials[0].set(Status::Critical, "maintenance", 0.0);
    runtimes[0].check("kv").await.unwrap();
    // The change is announced after the rotation left the endpoint out: every call numbered
    // after this went elsewhere.
    let (seen, last_before) = loop {
        let change = changes.recv().await.unwrap();
        if change.to == Some(EndpointHealth::NotServing(ServingStatus::NotServing)) {
            break (Instant::now(), numbers.load(Ordering::SeqCst));
        }
    };
    assert_eq!(channel.in_rotation(), 2);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let last = backends[0].calls.last().unwrap();
    let after = backends.iter().map(|b| b.calls.count()).collect::<Vec<_>>();
    println!(
        "flip -> Watch delivered: {:?}; flip -> last call received by the flipped backend: {:?} \
         (calls picked before the change, still queued on its connection)",
        seen - flipped,
        last.saturating_duration_since(flipped)
    );
    assert!(
        backends[0].calls.highest() <= last_before,
        "call {} reached the flipped backend, started after its Watch said NOT_SERVING \
         (the last call started before: {last_before})",
        backends[0].calls.highest()
    );
    assert!(backends[1].calls.highest() > last_before);
    assert!(backends[2].calls.highest() > last_before);
    let others = after[1] - before[1] + after[2] - before[2];
    assert!(others > 1_000, "the two others carried {others}");

    // SERVING again: back in rotation.
    dials[0].set(Status::Healthy, "ok", 1.0);
    runtimes[0].check("kv").await.unwrap();
    until_in_rotation(&channel, 3).await;
    let back = backends[0].calls.count();
    let deadline = Instant::now() + Duration::from_secs(10);
    while backends[0].calls.count() < back + 100 {
        assert!(Instant::now() < deadline, "no calls came back to it");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.store(false, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    // Round robin: the two that stayed in rotation got the same share of the picks.
    let (one, two) = (
        backends[1].calls.count() - before[1],
        backends[2].calls.count() - before[2],
    );
    let ratio = one as f64 / (one + two) as f64;
    assert!((0.45..0.55).contains(&ratio), "{one} against {two}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_backend_is_retried_with_growing_backoff_and_rejoins_when_restarted() {
    let dials: Vec<Dial> = (0..2).map(|_| Dial::new()).collect();
    let mut backends = backends(&dials).await;
    let channel = HealthAwareChannel::builder()
        .health_check_service(SERVICE)
        .backoff(fast_backoff())
        .build(backends.iter().map(endpoint));
    until_in_rotation(&channel, 2).await;
    let mut changes = channel.subscribe();
    let killed = backends[0].uri();
    backends[0].kill();
    // Retries: each announced with its attempt and its wait, spaced and growing.
    let mut retries = Vec::new();
    while retries.len() < 5 {
        let change = tokio::time::timeout(Duration::from_secs(10), changes.recv())
            .await
            .expect("retries keep coming")
            .unwrap();
        if change.endpoint.trim_end_matches('/') != killed {
            continue;
        }
        if let Some(EndpointHealth::Retrying {
            attempt, retry_in, ..
        }) = change.to
        {
            retries.push((Instant::now(), attempt, retry_in));
        }
    }
    assert_eq!(channel.in_rotation(), 1);
    let attempts: Vec<u32> = retries.iter().map(|r| r.1).collect();
    assert_eq!(attempts, [1, 2, 3, 4, 5]);
    for pair in retries.windows(2) {
        assert!(pair[1].2 > pair[0].2, "waits grow: {retries:?}");
        // The next attempt came after the wait announced (as this test saw them arrive).
        assert!(
            pair[1].0 - pair[0].0 + Duration::from_millis(60) >= pair[0].2,
            "{retries:?}"
        );
    }
    call(&channel, 200, 10).await;

    backends[0].restart().await;
    until_in_rotation(&channel, 2).await;
    // A message reset the backoff: the next failure is attempt 1 again.
    let mut changes = channel.subscribe();
    backends[0].kill();
    let reset = loop {
        let change = tokio::time::timeout(Duration::from_secs(10), changes.recv())
            .await
            .unwrap()
            .unwrap();
        if let Some(EndpointHealth::Retrying { attempt, .. }) = change.to
            && change.endpoint.trim_end_matches('/') == killed
        {
            break attempt;
        }
    };
    assert_eq!(reset, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_without_the_health_service_keeps_its_calls_and_is_logged_once() {
    let logs = capture_logs();
    let dial = Dial::new();
    let checked = Backend::start("checked", Some(health(&dial))).await;
    let plain = Backend::start("plain", None).await;
    let channel = HealthAwareChannel::builder()
        .health_check_service(SERVICE)
        .backoff(fast_backoff())
        .build([endpoint(&checked), endpoint(&plain)]);
    until_in_rotation(&channel, 2).await;
    call(&channel, 400, 8).await;
    assert!(plain.calls.count() >= 150, "{}", plain.calls.count());
    let states: Vec<EndpointHealth> = channel.endpoints().into_iter().map(|e| e.1).collect();
    assert!(
        states.contains(&EndpointHealth::Unimplemented),
        "{states:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert_eq!(
        text.matches("has no grpc.health.v1.Health service").count(),
        1,
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_not_registered_yet_keeps_its_endpoint_out_until_it_appears() {
    let dial = Dial::new();
    let late = {
        let mut config = quiet_config();
        config.checks.drain_delay = Duration::ZERO;
        builder()
            .config(config)
            .without_declared_checks()
            .build()
            .unwrap()
    };
    let ready = Backend::start("ready", Some(health(&dial))).await;
    let pending = Backend::start("pending", Some(late.clone())).await;
    let channel = HealthAwareChannel::builder()
        .health_check_service(SERVICE)
        .backoff(fast_backoff())
        .build([endpoint(&ready), endpoint(&pending)]);
    until_in_rotation(&channel, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let states = channel.endpoints();
    assert!(
        states
            .iter()
            .any(|(_, s)| *s == EndpointHealth::NotServing(ServingStatus::ServiceUnknown)),
        "{states:?}"
    );
    call(&channel, 200, 4).await;
    assert_eq!(pending.calls.count(), 0);

    late.register(Dial::new().check("kv").service(SERVICE))
        .unwrap();
    late.check("kv").await.unwrap();
    until_in_rotation(&channel, 2).await;
    call(&channel, 200, 4).await;
    assert!(pending.calls.count() >= 80, "{}", pending.calls.count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_config_applies_and_the_client_switch_turns_checking_off() {
    let dial = Dial::new();
    dial.set(Status::Critical, "down", 0.0);
    let runtime = health(&dial);
    runtime.check("kv").await.unwrap();
    let down = Backend::start("down", Some(runtime)).await;

    let config: ServiceConfig = format!(
        r#"{{"loadBalancingPolicy":"round_robin","healthCheckConfig":{{"serviceName":"{SERVICE}"}}}}"#
    )
    .parse()
    .unwrap();
    let checked = HealthAwareChannel::builder()
        .service_config(&config)
        .backoff(fast_backoff())
        .build([endpoint(&down)]);
    assert!(checked.is_health_checked());
    // Out of rotation, nothing connecting: calls fail fast with UNAVAILABLE.
    let deadline = Instant::now() + Duration::from_secs(10);
    while checked.endpoints()[0].1 == EndpointHealth::Connecting {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let error = KvClient::new(checked.clone())
        .get(GetRequest { key: "k".into() })
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unavailable, "{error}");
    assert!(error.message().contains("NOT_SERVING"), "{error}");

    let unchecked = HealthAwareChannel::builder()
        .service_config(&config)
        .disable_health_checking()
        .build([endpoint(&down)]);
    assert!(!unchecked.is_health_checked());
    assert_eq!(unchecked.endpoints()[0].1, EndpointHealth::NotChecked);
    KvClient::new(unchecked)
        .get(GetRequest { key: "k".into() })
        .await
        .unwrap();

    let error =
        r#"{"healthCheckConfig": {"serviceName": 7}}"#.parse::<ServiceConfig>().unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("the service config is not valid"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_come_and_go_through_a_discover_stream_and_show_as_gauges() {
    let dials: Vec<Dial> = (0..2).map(|_| Dial::new()).collect();
    let backends = backends(&dials).await;
    let channel = HealthAwareChannel::builder()
        .health_check_service(SERVICE)
        .backoff(fast_backoff())
        .build([]);
    let (changes, stream) = futures::channel::mpsc::unbounded();
    let task = channel.discover(stream);
    changes
        .unbounded_send(tower::discover::Change::Insert("a", endpoint(&backends[0])))
        .unwrap();
    changes
        .unbounded_send(tower::discover::Change::Insert("b", endpoint(&backends[1])))
        .unwrap();
    until_in_rotation(&channel, 2).await;

    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(health_runtime::client::EndpointCollector::new(
        &channel,
    )));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for backend in &backends {
        let line = format!(
            "health_client_endpoint_in_rotation{{endpoint=\"{}/\",state=\"serving\"}} 1",
            backend.uri()
        );
        assert!(text.contains(&line), "{line} in {text}");
    }

    changes
        .unbounded_send(tower::discover::Change::Remove("a"))
        .unwrap();
    until_in_rotation(&channel, 1).await;
    assert_eq!(channel.endpoints().len(), 1);
    call(&channel, 100, 4).await;
    assert_eq!(backends[1].calls.count(), 100);
    drop(changes);
    task.await.unwrap();
}

/// A health service whose `Watch` answers `SERVING` and ends at once, counting the calls.
struct ServingThenEnd(Arc<std::sync::atomic::AtomicUsize>);

#[tonic::async_trait]
impl health_runtime::pb::health::v1::health_server::Health for ServingThenEnd {
    async fn check(
        &self,
        _request: tonic::Request<health_runtime::pb::health::v1::HealthCheckRequest>,
    ) -> Result<tonic::Response<health_runtime::pb::health::v1::HealthCheckResponse>, tonic::Status>
    {
        Err(tonic::Status::unimplemented("no Check"))
    }

    async fn list(
        &self,
        _request: tonic::Request<health_runtime::pb::health::v1::HealthListRequest>,
    ) -> Result<tonic::Response<health_runtime::pb::health::v1::HealthListResponse>, tonic::Status>
    {
        Err(tonic::Status::unimplemented("no List"))
    }

    type WatchStream = futures::stream::Iter<
        std::vec::IntoIter<
            Result<health_runtime::pb::health::v1::HealthCheckResponse, tonic::Status>,
        >,
    >;

    async fn watch(
        &self,
        _request: tonic::Request<health_runtime::pb::health::v1::HealthCheckRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let serving = health_runtime::pb::health::v1::HealthCheckResponse {
            status: ServingStatus::Serving.into(),
        };
        Ok(tonic::Response::new(futures::stream::iter(vec![Ok(
            serving,
        )])))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_that_ends_after_answering_is_opened_again_at_once() {
    let watches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(
                health_runtime::pb::health::v1::health_server::HealthServer::new(ServingThenEnd(
                    watches.clone(),
                )),
            )
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    // A backoff of 1 s: retries after an answer must not wait for it.
    let channel = HealthAwareChannel::builder()
        .health_check_service("")
        .backoff(Backoff::starting_at(Duration::from_secs(1)))
        .build([Endpoint::from_shared(format!("http://{addr}")).unwrap()]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let opened = watches.load(Ordering::SeqCst);
    assert!(opened >= 5, "only {opened} Watches in 500 ms");
    let states: Vec<EndpointHealth> = channel.endpoints().into_iter().map(|e| e.1).collect();
    assert!(
        states
            .iter()
            .all(|s| matches!(s, EndpointHealth::Serving | EndpointHealth::Connecting)),
        "{states:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_costs_calls_their_deadline_not_more() {
    // Accepts connections and reads nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let channel = HealthAwareChannel::builder()
        .health_check_service(SERVICE)
        .first_answer_timeout(Duration::from_millis(400))
        .backoff(fast_backoff())
        .build([Endpoint::from_shared(format!("http://{addr}")).unwrap()]);
    let mut request = tonic::Request::new(GetRequest { key: "k".into() });
    request.set_timeout(Duration::from_millis(150));
    let started = Instant::now();
    let error = KvClient::new(channel.clone())
        .get(request)
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::DeadlineExceeded, "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The silent server's Watch counts as failed after the first-answer timeout.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, state) = channel.endpoints().remove(0);
        if let EndpointHealth::Retrying { reason, .. } = state {
            assert!(reason.contains("no answer within"), "{reason}");
            break;
        }
        assert!(Instant::now() < deadline, "{state:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
