//! Clients that would hold the health surfaces: a byte-a-second sender, a connection that never
//! sends, an idle keep-alive connection, more connections than the limit, a foreign `Host`, a
//! gRPC stream whose request never arrives, more streams than the cap. Each is cut or refused
//! while probes keep being answered.

use std::time::{Duration, Instant};

use health_runtime::config::{AllowedHosts, ConnectionLimits};
use health_runtime::pb::health::v1::{HealthCheckRequest, HealthCheckResponse};
use health_runtime::{Check, HealthConfig, HealthRuntime};
use tests::{GrpcServer, ServingStatus, builder, check_status, quiet_config, serve_http};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

fn limits(change: impl FnOnce(&mut ConnectionLimits)) -> HealthConfig {
    let mut config = quiet_config();
    change(&mut config.surfaces.limits);
    config
}

fn runtime(config: HealthConfig) -> HealthRuntime {
    builder()
        .config(config)
        .with_check(Check::new("db", || async { true }))
        .build()
        .unwrap()
}

/// Waits until the server closes `stream` (end of stream or reset), discarding what it sends;
/// the time it took, or `None` when it is still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((started + within).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

async fn get_health(addr: std::net::SocketAddr) -> reqwest::StatusCode {
    reqwest::Client::new()
        .get(format!("http://{addr}/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("GET /health answered")
        .status()
}

#[tokio::test]
async fn a_client_sending_a_byte_a_second_is_cut_at_the_header_timeout() {
    let runtime = runtime(limits(|limits| {
        limits.header_timeout = Duration::from_secs(1);
        limits.idle_timeout = Duration::from_secs(60);
    }));
    let addr = serve_http(&runtime).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: aaaaaaaaaaaaaaaa\r\n\r\n";
    let started = Instant::now();
    let mut cut = None;
    for byte in request {
        if slow.write_all(&[*byte]).await.is_err() {
            cut = Some(started.elapsed());
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(250), slow.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => {
                cut = Some(started.elapsed());
                break;
            }
            // hyper answers 408 before it closes.
            Ok(Ok(_)) => {}
            Err(_) => {}
        }
    }
    let cut = cut.expect("the slow client was never cut");
    assert!(
        cut < Duration::from_secs(4),
        "cut after {cut:?}, with a header timeout of 1 s"
    );
    // The full request would have taken 18 s at this pace.
    assert_eq!(get_health(addr).await, 200);
}

#[tokio::test]
async fn a_connection_that_never_sends_and_an_idle_keep_alive_one_are_closed() {
    let runtime = runtime(limits(|limits| {
        limits.header_timeout = Duration::from_secs(30);
        limits.idle_timeout = Duration::from_secs(1);
    }));
    let addr = serve_http(&runtime).await;

    let mut silent = TcpStream::connect(addr).await.unwrap();
    let after = closed_within(&mut silent, Duration::from_secs(10)).await;
    assert!(
        after.is_some_and(|after| after >= Duration::from_millis(900)),
        "a silent connection closed after {after:?}, idle timeout 1 s"
    );

    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    let after = closed_within(&mut kept, Duration::from_secs(10)).await;
    assert!(
        after.is_some_and(|after| after >= Duration::from_millis(900)),
        "an idle keep-alive connection closed after {after:?}, idle timeout 1 s"
    );
}

#[tokio::test]
async fn more_connections_than_the_limit_leave_probes_answered() {
    let runtime = runtime(limits(|limits| limits.http_connections = 16));
    let addr = serve_http(&runtime).await;
    let mut held = Vec::new();
    for _ in 0..64 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    for _ in 0..5 {
        assert_eq!(get_health(addr).await, 200);
    }
    // The oldest held connections were closed to make room.
    let mut closed = 0;
    for stream in &mut held {
        if closed_within(stream, Duration::from_millis(20))
            .await
            .is_some()
        {
            closed += 1;
        }
    }
    assert!(
        closed >= 64 - 16,
        "{closed} of 64 held connections closed, limit 16"
    );
}

#[tokio::test]
async fn a_foreign_host_is_refused_when_bound_to_loopback() {
    let runtime = runtime(quiet_config());
    let addr = serve_http(&runtime).await;
    let client = reqwest::Client::new();
    let with_host = |host: &'static str| {
        client
            .get(format!("http://{addr}/health"))
            .header("host", host)
            .send()
    };
    assert_eq!(with_host("evil.example").await.unwrap().status(), 421);
    assert_eq!(with_host("evil.example:8080").await.unwrap().status(), 421);
    let refused = with_host("localhost.evil.example").await.unwrap();
    assert_eq!(refused.status(), 421);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("PLUGIN_HEALTH_HTTP_ALLOWED_HOSTS")
    );
    for host in ["localhost:8080", "127.0.0.1", "[::1]:80"] {
        assert_eq!(with_host(host).await.unwrap().status(), 200, "{host}");
    }

    let mut config = quiet_config();
    config.surfaces.allowed_hosts = AllowedHosts::Any;
    let open = serve_http(&self::runtime(config)).await;
    let response = client
        .get(format!("http://{open}/health"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "`*` answers any host");
}

#[tokio::test]
async fn a_health_call_whose_request_never_arrives_is_ended() {
    let runtime = runtime(limits(|limits| {
        limits.request_timeout = Duration::from_millis(500);
    }));
    let server = GrpcServer::start(&runtime).await;
    let channel = server.channel().await;
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    // A request stream that never yields its message: to the server, a unary call whose body
    // never comes.
    let started = Instant::now();
    let never = futures::stream::pending::<HealthCheckRequest>();
    let result = grpc
        .client_streaming::<_, HealthCheckRequest, HealthCheckResponse, _>(
            tonic::Request::new(never),
            "/grpc.health.v1.Health/Check".parse().unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await;
    let status = result.expect_err("no answer to a request that never came");
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The connection still serves.
    let mut health = tests::HealthClient::new(channel);
    assert_eq!(
        check_status(&mut health, "").await,
        Ok(ServingStatus::Serving)
    );
}

#[tokio::test]
async fn streams_beyond_the_cap_wait_until_one_ends() {
    let runtime = runtime(limits(|limits| limits.max_concurrent_streams = 4));
    let server = GrpcServer::start(&runtime).await;
    let channel = server.channel().await;
    let mut watches = Vec::new();
    for _ in 0..4 {
        let mut client = tests::HealthClient::new(channel.clone());
        let mut stream = client.watch(tests::request("")).await.unwrap().into_inner();
        assert!(
            tests::next_status(&mut stream, Duration::from_secs(5))
                .await
                .is_some()
        );
        watches.push(stream);
    }
    // The server allows four streams on this connection: a fifth call waits for one to end.
    let mut client = tests::HealthClient::new(channel.clone());
    let fifth =
        tokio::time::timeout(Duration::from_millis(500), client.check(tests::request(""))).await;
    assert!(
        fifth.is_err(),
        "a fifth stream was opened past the cap of 4"
    );
    watches.pop();
    let fifth =
        tokio::time::timeout(Duration::from_secs(5), client.check(tests::request(""))).await;
    assert!(matches!(fifth, Ok(Ok(_))), "{fifth:?}");
}

/// One HTTP/2 frame: its header (length, type, flags, stream) and payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The HPACK block of a gRPC request's headers, without Huffman coding or indexing.
fn grpc_headers(authority: &str, path: &str) -> Vec<u8> {
    let literal = |out: &mut Vec<u8>, value: &str| {
        out.push(value.len() as u8);
        out.extend_from_slice(value.as_bytes());
    };
    // `:method: POST` (static 3), `:scheme: http` (static 6).
    let mut block = vec![0x83, 0x86];
    // `:path` and `:authority`: literals with indexed names (static 4 and 1).
    block.push(0x04);
    literal(&mut block, path);
    block.push(0x01);
    literal(&mut block, authority);
    // `content-type` (static 31: 15 + 16 in the 4-bit prefix).
    block.extend_from_slice(&[0x0f, 0x10]);
    literal(&mut block, "application/grpc");
    // `te: trailers`, a literal name.
    block.push(0x00);
    literal(&mut block, "te");
    literal(&mut block, "trailers");
    block
}

#[tokio::test]
async fn a_client_opening_more_streams_than_the_cap_gets_them_refused() {
    const CAP: u32 = 8;
    const OPENED: u32 = 40;
    let runtime = runtime(limits(|limits| limits.max_concurrent_streams = CAP));
    let server = GrpcServer::start(&runtime).await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    conn.write_all(&frame(0x4, 0, 0, &[])).await.unwrap();

    let (mut reader, mut writer) = conn.into_split();
    let counting = tokio::spawn(async move {
        let (mut refused, mut max_streams) = (Vec::new(), None);
        let mut header = [0u8; 9];
        loop {
            let read =
                tokio::time::timeout(Duration::from_secs(3), reader.read_exact(&mut header)).await;
            let Ok(Ok(_)) = read else { break };
            let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
            let (kind, flags) = (header[3], header[4]);
            let stream =
                u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
            let mut payload = vec![0u8; len];
            if reader.read_exact(&mut payload).await.is_err() {
                break;
            }
            match kind {
                // SETTINGS from the server: note its stream limit.
                0x4 if flags & 0x1 == 0 => {
                    for setting in payload.chunks_exact(6) {
                        if u16::from_be_bytes([setting[0], setting[1]]) == 0x3 {
                            max_streams = Some(u32::from_be_bytes([
                                setting[2], setting[3], setting[4], setting[5],
                            ]));
                        }
                    }
                }
                // RST_STREAM with REFUSED_STREAM (7).
                0x3 if payload.len() == 4
                    && u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                        == 7 =>
                {
                    refused.push(stream);
                }
                _ => {}
            }
        }
        (refused, max_streams)
    });
    // Acknowledge the server's settings, then open streams whose request body never comes,
    // ignoring the limit the server announced.
    writer.write_all(&frame(0x4, 0x1, 0, &[])).await.unwrap();
    let headers = grpc_headers(&server.addr.to_string(), "/grpc.health.v1.Health/Watch");
    for index in 0..OPENED {
        writer
            .write_all(&frame(0x1, 0x4, 1 + 2 * index, &headers))
            .await
            .unwrap();
    }
    let (refused, max_streams) = counting.await.unwrap();
    assert_eq!(max_streams, Some(CAP), "SETTINGS_MAX_CONCURRENT_STREAMS");
    assert!(
        refused.len() as u32 >= OPENED - CAP,
        "{} of {OPENED} streams refused past a cap of {CAP}: {refused:?}",
        refused.len()
    );
    // Probes on other connections are answered meanwhile.
    let mut health = server.health().await;
    assert_eq!(
        check_status(&mut health, "").await,
        Ok(ServingStatus::Serving)
    );
    drop(writer);
}

#[tokio::test]
async fn a_connection_waiting_for_its_answer_is_not_evicted_for_idle_newcomers() {
    let mut config = quiet_config();
    config.surfaces.limits.http_connections = 4;
    let runtime = builder()
        .config(config)
        .with_check(Check::new("slow", || async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            true
        }))
        .build()
        .unwrap();
    let addr = serve_http(&runtime).await;
    let mut waiting = TcpStream::connect(addr).await.unwrap();
    waiting
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Newer connections than the waiting one, all idle, well past the limit.
    let mut idle = Vec::new();
    for _ in 0..12 {
        idle.push(TcpStream::connect(addr).await.unwrap());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), waiting.read(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
}
