//! No client can take the example plugin server out of rotation: against `plugin_server` with
//! its defaults, requests for keys that do not exist, a normal cache-miss rate, requests the
//! client cancels and requests the client sends slowly leave `""`, `plugin`, `readiness` and
//! `/health` serving, while the report still shows the request figures, measured as the
//! server's: client outcomes counted apart, latency from the fully received request. Requests
//! the server fails (`INTERNAL`) do count, and grade `request_success_rate` critical, which by
//! default still only informs.

#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use health_runtime::pb::report::v1::health_report_client::HealthReportClient;
use health_runtime::pb::report::v1::{GetHealthReportRequest, HealthMetric};
use prost::Message as _;
use tests::process::{build_example, free_port, wait_for_port};
use tests::{HealthClient, ServingStatus, check_status};
use tonic::transport::Channel;
use tower::ServiceExt as _;

#[allow(missing_docs, unreachable_pub, clippy::all)]
mod kv {
    include!("../../examples/generated/kv.v1.rs");
}

use kv::kv_client::KvClient;
use kv::{GetRequest, PutRequest};

struct Server(tests::process::Reaped);

/// A request body fed by the test, chunk by chunk.
struct Trickle(tokio::sync::mpsc::Receiver<Bytes>);

impl http_body::Body for Trickle {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|chunk| Ok(http_body::Frame::data(chunk))))
    }
}

/// A `kv.v1.KV/Get` for `key` whose body the returned sender delivers.
fn trickled_get(
    key: &str,
) -> (
    http::Request<tonic::body::Body>,
    tokio::sync::mpsc::Sender<Bytes>,
    Vec<u8>,
) {
    let message = GetRequest {
        key: key.to_owned(),
    }
    .encode_to_vec();
    let mut frame = vec![0_u8];
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&message);
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let request = http::Request::builder()
        .method("POST")
        .uri("http://kv/kv.v1.KV/Get")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::new(Trickle(receiver)))
        .unwrap();
    (request, sender, frame)
}

/// The `grpc-status` of a response, read to its end.
async fn grpc_status(response: http::Response<tonic::body::Body>) -> String {
    use http_body_util::BodyExt as _;
    if let Some(status) = response.headers().get("grpc-status") {
        return status.to_str().unwrap().to_owned();
    }
    let collected = response.into_body().collect().await.unwrap();
    collected
        .trailers()
        .and_then(|trailers| trailers.get("grpc-status"))
        .map(|status| status.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

async fn report(channel: &Channel) -> std::collections::HashMap<String, HealthMetric> {
    HealthReportClient::new(channel.clone())
        .get_health_report(GetHealthReportRequest::default())
        .await
        .unwrap()
        .into_inner()
        .metrics
}

/// `""`, `plugin` and `readiness` serve, and `/health` answers 200.
async fn still_serving(channel: &Channel, http: std::net::SocketAddr, after: &str) {
    let mut health = HealthClient::new(channel.clone());
    for name in ["", "plugin", "readiness", "liveness"] {
        assert_eq!(
            check_status(&mut health, name).await,
            Ok(ServingStatus::Serving),
            "Check({name:?}) after {after}"
        );
    }
    let response = reqwest::get(format!("http://{http}/health")).await.unwrap();
    assert_eq!(response.status(), 200, "/health after {after}");
}

fn start(exe: &Path, data: &Path) -> (Server, std::net::SocketAddr, std::net::SocketAddr) {
    let (grpc, http) = (free_port(), free_port());
    let child = Command::new(exe)
        .env_remove("BASIC_PLUGIN")
        .env("PLUGIN_HEALTH_GRPC_ADDR", grpc.to_string())
        .env("PLUGIN_HEALTH_HTTP_ADDR", http.to_string())
        .env("PLUGIN_HEALTH_FILE_PATH", "")
        // The test reads the request figures' values and messages from the report.
        .env("PLUGIN_HEALTH_SHOW_DETAILS", "always")
        // The example's own disk check is declared and gates readiness: a full disk on the test
        // machine must not decide this test.
        .env("PLUGIN_RESOURCE_DISK_THRESHOLD", "100")
        .env("KV_DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("starting plugin_server");
    let mut server = Server(tests::process::Reaped(child));
    wait_for_port(&mut server.0, grpc, Duration::from_secs(60)).unwrap();
    (server, grpc, http)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_cannot_take_the_example_out_of_rotation() {
    let exe = tokio::task::spawn_blocking(|| build_example("plugin_server"))
        .await
        .unwrap();
    let data = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("client-signals-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let (_server, grpc, http) = start(&exe, &data);
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut kv = KvClient::new(channel.clone());
    kv.put(PutRequest {
        key: "present".to_owned(),
        value: b"here".to_vec(),
    })
    .await
    .unwrap();

    not_found_is_a_normal_answer(&mut kv, &channel, http).await;
    cancelled_requests_are_the_client_s(&channel, http).await;
    slow_senders_are_timed_from_their_last_byte(&channel, http).await;
    the_report_shows_the_client_s_share(&channel).await;
    undecodable_bodies_are_the_client_s(&channel).await;
    server_failures_count_and_only_inform(&mut kv, &channel, http, &data).await;
    let _ = std::fs::remove_dir_all(&data);
}

async fn not_found_is_a_normal_answer(
    kv: &mut KvClient<Channel>,
    channel: &Channel,
    http: std::net::SocketAddr,
) {
    // Twelve reads of keys that do not exist: NOT_FOUND, a normal answer.
    for n in 0..12 {
        let missing = kv
            .get(GetRequest {
                key: format!("missing-{n}"),
            })
            .await;
        assert_eq!(missing.unwrap_err().code(), tonic::Code::NotFound);
    }
    still_serving(channel, http, "12 NOT_FOUND").await;

    // A 6 % cache-miss rate over 100 reads.
    for n in 0..100 {
        let key = if n % 100 < 6 {
            format!("absent-{n}")
        } else {
            "present".to_owned()
        };
        let _ = kv.get(GetRequest { key }).await;
    }
    still_serving(channel, http, "a 6 % NOT_FOUND mix").await;
}

async fn cancelled_requests_are_the_client_s(channel: &Channel, http: std::net::SocketAddr) {
    // Twelve requests the client gives up on before sending all of its body.
    for _ in 0..12 {
        let (request, body, frame) = trickled_get("present");
        let call = tokio::spawn(channel.clone().oneshot(request));
        body.send(Bytes::copy_from_slice(&frame[..3]))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Cancelled with the body unfinished: the server sees the stream reset, or the body
        // end in the middle of the message; either way the client's doing.
        call.abort();
        assert!(call.await.unwrap_err().is_cancelled());
        drop(body);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    still_serving(channel, http, "12 cancelled requests").await;
}

async fn slow_senders_are_timed_from_their_last_byte(
    channel: &Channel,
    http: std::net::SocketAddr,
) {
    // Ten requests whose body takes the client 2 s to send, all answered at once once sent.
    let slow = (0..10).map(|_| {
        let channel = channel.clone();
        async move {
            let (request, body, frame) = trickled_get("present");
            let call = tokio::spawn(channel.oneshot(request));
            body.send(Bytes::copy_from_slice(&frame[..3]))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_secs(2)).await;
            body.send(Bytes::copy_from_slice(&frame[3..]))
                .await
                .unwrap();
            drop(body);
            grpc_status(call.await.unwrap().unwrap()).await
        }
    });
    let statuses = futures::future::join_all(slow).await;
    assert!(statuses.iter().all(|status| status == "0"), "{statuses:?}");
    still_serving(channel, http, "10 slow senders").await;
}

async fn the_report_shows_the_client_s_share(channel: &Channel) {
    // The report still shows it all, as the server's figures.
    let metrics = report(channel).await;
    let rate = &metrics["request_success_rate"];
    assert_eq!(rate.value, Some(100.0), "{rate:?}");
    assert!(
        rate.message.contains("ended by the client"),
        "{}",
        rate.message
    );
    let ended_by_client: u64 = rate
        .message
        .split(", ")
        .nth(1)
        .and_then(|part| part.split(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("{}", rate.message));
    // 12 + 6 NOT_FOUND, and the 12 cancelled.
    assert!(ended_by_client >= 30, "{}", rate.message);
    // Ten slow senders among about 120 answered requests are more than 1 %: counted from the
    // start of their request, they would make the 99th percentile 2 s.
    let p99 = &metrics["p99_response_time"];
    assert!(
        p99.value.unwrap() < 500.0,
        "the slow senders' 2 s counted as serving time: {p99:?}"
    );
    assert!(!p99.message.contains("not graded"), "{p99:?}");
}

async fn undecodable_bodies_are_the_client_s(channel: &Channel) {
    // Bytes that are no protobuf message: tonic answers INTERNAL, but the client sent them.
    for _ in 0..5 {
        let (request, body, _) = trickled_get("present");
        let call = tokio::spawn(channel.clone().oneshot(request));
        body.send(Bytes::from_static(&[0, 0, 0, 0, 3, 0xff, 0xff, 0xff]))
            .await
            .unwrap();
        drop(body);
        assert_eq!(grpc_status(call.await.unwrap().unwrap()).await, "13");
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rate = &report(channel).await["request_success_rate"];
    assert_eq!(rate.value, Some(100.0), "{rate:?}");
}

async fn server_failures_count_and_only_inform(
    kv: &mut KvClient<Channel>,
    channel: &Channel,
    http: std::net::SocketAddr,
    data: &Path,
) {
    // Twelve requests the server fails: a key whose file is a directory cannot be read.
    std::fs::create_dir_all(data.join("kv_broken")).unwrap();
    for _ in 0..12 {
        let broken = kv
            .get(GetRequest {
                key: "broken".to_owned(),
            })
            .await;
        assert_eq!(broken.unwrap_err().code(), tonic::Code::Internal);
    }
    // Past the cache TTL (1 s) of the previous report's run.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let metrics = report(channel).await;
    let rate = &metrics["request_success_rate"];
    let value = rate.value.unwrap();
    assert!(value < 95.0 && value > 80.0, "{rate:?}");
    assert_eq!(
        rate.status,
        health_runtime::pb::report::v1::HealthStatus::Critical as i32,
        "{rate:?}"
    );
    // Graded critical under its own name, and still only informing.
    let mut health = HealthClient::new(channel.clone());
    assert_eq!(
        check_status(&mut health, "request_success_rate").await,
        Ok(ServingStatus::NotServing)
    );
    still_serving(channel, http, "12 INTERNAL").await;
}
