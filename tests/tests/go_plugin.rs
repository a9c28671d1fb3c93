//! The plugin side of go-plugin's protocol where Debian's go-plugin 1.0.1 host does not reach it:
//! version negotiation, the handshake line's fields, the socket's directory, group and mode, TCP
//! port ranges, AutoMTLS refusing foreign and missing certificates and offering `h2`, the
//! controller ending the stdio, broker and Watch streams, signals, and what the process writes on
//! stdout and stderr. The host side is played by tonic and rustls clients, as go-plugin's
//! `client.go` and `grpc_client.go` connect.

#![cfg(unix)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use health_runtime::pb::go_plugin::grpc_broker_client::GrpcBrokerClient;
use health_runtime::pb::go_plugin::grpc_controller_client::GrpcControllerClient;
use health_runtime::pb::go_plugin::grpc_stdio_client::GrpcStdioClient;
use health_runtime::pb::go_plugin::{ConnInfo, Empty};
use health_runtime::plugin::{
    BoundPlugin, Handshake, PluginAddr, PluginError, PluginServer, Transport,
};
use health_runtime::{Check, HealthRuntime};
use serde_json::Value;
use tests::plugin::{HostCert, channel, connect_tls, fields, host_tls};
use tests::process::build_example;
use tests::{HealthClient, ServingStatus, check_status, next_status, request};
use tonic::service::Routes;

const COOKIE: (&str, &str) = ("BASIC_PLUGIN", "hello");

/// An environment of `pairs`, with the cookie.
fn host_env(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
    let mut pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect();
    pairs.push((COOKIE.0.to_owned(), COOKIE.1.to_owned()));
    move |name| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("go-plugin-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn server(versions: &[u32]) -> PluginServer {
    PluginServer::new(Handshake::new(COOKIE.0, COOKIE.1).versions(versions.iter().copied()))
        .capture_stdout(false)
}

async fn bind(versions: &[u32], pairs: &[(&str, String)]) -> BoundPlugin {
    server(versions)
        .bind_with_env(host_env(pairs))
        .await
        .unwrap_or_else(|error| panic!("bind: {error}"))
}

/// A runtime with one healthy check.
fn runtime() -> HealthRuntime {
    tests::builder()
        .with_check(Check::new("disk", || async { Ok::<(), String>(()) }))
        .build()
        .unwrap()
}

/// Serves `bound` in the background; the handle yields what `serve` returned.
fn serve(
    bound: BoundPlugin,
    health: &HealthRuntime,
) -> tokio::task::JoinHandle<Result<(), PluginError>> {
    let health = health.clone();
    tokio::spawn(async move { bound.serve(&health, Routes::default()).await })
}

/// Over `channel`: `plugin` serves, the host's `Shutdown` is answered, and `serve` then returns
/// cleanly within 2 s.
async fn serving_then_shut_down(
    channel: tonic::transport::Channel,
    served: tokio::task::JoinHandle<Result<(), PluginError>>,
) {
    assert_eq!(
        check_status(&mut HealthClient::new(channel.clone()), "plugin").await,
        Ok(ServingStatus::Serving)
    );
    GrpcControllerClient::new(channel)
        .shutdown(Empty {})
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(2), served)
        .await
        .expect("serve returns within 2 s of Shutdown")
        .unwrap()
        .unwrap();
}

fn unix_path(bound: &BoundPlugin) -> PathBuf {
    match bound.local_addr() {
        PluginAddr::Unix(path) => path.clone(),
        other => panic!("not a unix socket: {other:?}"),
    }
}

#[tokio::test]
async fn negotiates_the_highest_common_version_in_either_order_and_the_lowest_without_one() {
    // An entry that is not a number is skipped, as go-plugin's own plugins do (`strconv.Atoi`,
    // no trimming).
    for (host, want) in [
        ("1,2", "2"),
        ("2,1", "2"),
        ("3,1", "3"),
        ("x,2", "2"),
        (" 3,1", "1"),
        ("4,5", "1"),
    ] {
        let bound = bind(&[3, 1, 2], &[("PLUGIN_PROTOCOL_VERSIONS", host.to_owned())]).await;
        let line = bound.handshake_line().unwrap();
        assert_eq!(fields(line)[1], want, "host {host:?}: {line}");
        assert_eq!(
            bound.app_version().map(|v| v.to_string()).as_deref(),
            Some(want)
        );
    }
    // An older host sends no list: the plugin's lowest.
    let bound = bind(&[2, 3], &[]).await;
    assert_eq!(fields(bound.handshake_line().unwrap())[1], "2");
}

#[tokio::test]
async fn six_fields_or_seven_when_the_host_offers_multiplexing() {
    let dir = scratch("fields");
    let bound = bind(
        &[1],
        &[("PLUGIN_UNIX_SOCKET_DIR", dir.display().to_string())],
    )
    .await;
    let path = unix_path(&bound);
    let line = bound.handshake_line().unwrap();
    assert_eq!(
        fields(line),
        ["1", "1", "unix", path.to_str().unwrap(), "grpc", ""],
        "{line}"
    );

    let bound = bind(
        &[1],
        &[
            ("PLUGIN_UNIX_SOCKET_DIR", dir.display().to_string()),
            ("PLUGIN_MULTIPLEX_GRPC", "true".to_owned()),
        ],
    )
    .await;
    let line = bound.handshake_line().unwrap();
    let fields = fields(line);
    assert_eq!(fields.len(), 7, "{line}");
    assert_eq!(fields[6], "false", "{line}");
}

/// The name of group `gid` in `/etc/group`, if it has one there.
fn group_name(gid: u32) -> Option<String> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|line| {
        let mut parts = line.split(':');
        let name = parts.next()?;
        let id = parts.nth(1)?.parse::<u32>().ok()?;
        (id == gid).then(|| name.to_owned())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_lives_in_the_hosts_directory_with_its_group_and_mode_and_is_removed() {
    let dir = scratch("socket");
    // A file created here gets this process's group: the one the socket can be given.
    std::fs::write(dir.join("probe"), b"").unwrap();
    let gid = std::fs::metadata(dir.join("probe")).unwrap().gid();
    let mut groups = vec![gid.to_string()];
    groups.extend(group_name(gid));

    for group in groups {
        let bound = bind(
            &[1],
            &[
                ("PLUGIN_UNIX_SOCKET_DIR", dir.display().to_string()),
                ("PLUGIN_UNIX_SOCKET_GROUP", group.clone()),
            ],
        )
        .await;
        let path = unix_path(&bound);
        assert_eq!(path.parent(), Some(dir.as_path()));
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_socket(), "{}", path.display());
        assert_eq!(meta.permissions().mode() & 0o777, 0o660, "group {group}");
        assert_eq!(meta.gid(), gid, "group {group}");

        let health = runtime();
        let served = serve(bound, &health);
        serving_then_shut_down(channel(path.clone(), None), served).await;
        assert!(!path.exists(), "{} is left behind", path.display());
    }

    let error = server(&[1])
        .bind_with_env(host_env(&[
            ("PLUGIN_UNIX_SOCKET_DIR", dir.display().to_string()),
            (
                "PLUGIN_UNIX_SOCKET_GROUP",
                "no-such-group-anywhere".to_owned(),
            ),
        ]))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("PLUGIN_UNIX_SOCKET_GROUP=\"no-such-group-anywhere\""),
        "{error}"
    );
    let error = server(&[1])
        .bind_with_env(host_env(&[(
            "PLUGIN_UNIX_SOCKET_DIR",
            dir.join("missing").display().to_string(),
        )]))
        .await
        .unwrap_err();
    assert!(
        error.to_string().starts_with(&format!(
            "cannot listen on a unix socket in PLUGIN_UNIX_SOCKET_DIR={}",
            dir.join("missing").display()
        )),
        "{error}"
    );
}

#[tokio::test]
async fn tcp_takes_a_port_of_the_hosts_range_and_a_busy_range_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    let tcp = |pairs: Vec<(&'static str, String)>| async move {
        server(&[1])
            .transport(Transport::Tcp)
            .bind_with_env(host_env(&pairs))
            .await
    };

    let error = tcp(vec![
        ("PLUGIN_MIN_PORT", busy.to_string()),
        ("PLUGIN_MAX_PORT", busy.to_string()),
    ])
    .await
    .unwrap_err();
    assert!(
        error.to_string().starts_with(&format!(
            "no free TCP port on 127.0.0.1 in PLUGIN_MIN_PORT..=PLUGIN_MAX_PORT ({busy}..={busy})"
        )),
        "{error}"
    );

    let error = tcp(vec![
        ("PLUGIN_MIN_PORT", "20000".to_owned()),
        ("PLUGIN_MAX_PORT", "10000".to_owned()),
    ])
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "PLUGIN_MIN_PORT=\"20000\": it is greater than PLUGIN_MAX_PORT=10000"
    );

    // Without a range, any free port; the line says where.
    let bound = tcp(vec![]).await.unwrap();
    let PluginAddr::Tcp(addr) = bound.local_addr().clone() else {
        panic!("not TCP: {:?}", bound.local_addr())
    };
    assert!(addr.ip().is_loopback());
    let line = bound.handshake_line().unwrap().to_owned();
    assert_eq!(fields(&line)[2..4], ["tcp", &addr.to_string()[..]]);
    drop(bound);

    // A range holding the port just freed (free a moment ago; retried if someone took it).
    let bound = tcp(vec![
        ("PLUGIN_MIN_PORT", addr.port().to_string()),
        ("PLUGIN_MAX_PORT", addr.port().to_string()),
    ])
    .await;
    if let Ok(bound) = bound {
        assert_eq!(*bound.local_addr(), PluginAddr::Tcp(addr));
        let health = runtime();
        let served = serve(bound, &health);
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        serving_then_shut_down(channel, served).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_mtls_serves_the_host_alone_with_h2() {
    let host = HostCert::new();
    let dir = scratch("mtls");
    let bound = bind(
        &[1],
        &[
            ("PLUGIN_CLIENT_CERT", host.pem.clone()),
            ("PLUGIN_UNIX_SOCKET_DIR", dir.display().to_string()),
        ],
    )
    .await;
    let line = bound.handshake_line().unwrap().to_owned();
    let announced = fields(&line)[5].to_owned();
    // go-plugin skips a sixth field of 50 characters or fewer, and decodes it without padding.
    assert!(announced.len() > 50 && !announced.contains('='), "{line}");
    let path = unix_path(&bound);
    let health = runtime();
    let served = serve(bound, &health);

    // The host: TLS 1.3 and TLS 1.2, ALPN `h2`, the health service answers.
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let tls = host_tls(&announced, Some(&host), versions);
        let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
        let connected = connect_tls(tls.clone(), stream).await.unwrap();
        assert_eq!(connected.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let mut client = HealthClient::new(channel(path.clone(), Some(tls)));
        assert_eq!(
            check_status(&mut client, "plugin").await,
            Ok(ServingStatus::Serving),
            "{versions:?}"
        );
    }

    // Anyone else gets no RPC through: another certificate, the host's certificate without its
    // key, no certificate, or no TLS at all.
    let stranger = HostCert::new();
    for (who, tls) in [
        (
            "the host's certificate with another key",
            Some(host.impostor(&announced, &stranger)),
        ),
        (
            "a foreign certificate",
            Some(host_tls(
                &announced,
                Some(&stranger),
                &[&rustls::version::TLS13],
            )),
        ),
        (
            "a foreign certificate over TLS 1.2",
            Some(host_tls(
                &announced,
                Some(&stranger),
                &[&rustls::version::TLS12],
            )),
        ),
        (
            "no certificate",
            Some(host_tls(&announced, None, &[&rustls::version::TLS13])),
        ),
        ("plaintext", None),
    ] {
        let mut client = HealthClient::new(channel(path.clone(), tls));
        let answered =
            tokio::time::timeout(Duration::from_secs(10), client.check(request("plugin")))
                .await
                .unwrap_or_else(|_| panic!("{who}: no answer, not even a refusal"));
        assert!(answered.is_err(), "{who} got an answer: {answered:?}");
    }

    // The plugin keeps serving its host.
    let tls = host_tls(&announced, Some(&host), &[&rustls::version::TLS13]);
    serving_then_shut_down(channel(path.clone(), Some(tls)), served).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_the_stdio_broker_and_watch_streams_and_serve_returns() {
    let dir = scratch("shutdown");
    let bound = bind(
        &[1],
        &[("PLUGIN_UNIX_SOCKET_DIR", dir.display().to_string())],
    )
    .await;
    let path = unix_path(&bound);
    let health = runtime();
    let served = serve(bound, &health);
    let connection = channel(path.clone(), None);

    let mut health_client = HealthClient::new(connection.clone());
    let mut watch = health_client
        .watch(request("plugin"))
        .await
        .unwrap()
        .into_inner();
    // The monitor's first run may end after the Watch began: `UNKNOWN`, then `SERVING`.
    let mut first = next_status(&mut watch, Duration::from_secs(5)).await;
    if first == Some(ServingStatus::Unknown) {
        first = next_status(&mut watch, Duration::from_secs(5)).await;
    }
    assert_eq!(first, Some(ServingStatus::Serving));
    let mut stdio = GrpcStdioClient::new(connection.clone())
        .stream_stdio(())
        .await
        .unwrap()
        .into_inner();
    let (offers, offered) = tokio::sync::mpsc::channel::<ConnInfo>(4);
    let mut broker = GrpcBrokerClient::new(connection.clone())
        .start_stream(tokio_stream(offered))
        .await
        .unwrap()
        .into_inner();
    offers
        .send(ConnInfo {
            service_id: 7,
            network: "unix".to_owned(),
            address: "/tmp/broker-7".to_owned(),
            knock: None,
        })
        .await
        .unwrap();
    // The broker never echoes an offer back, and stdio has nothing to say.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), broker.message())
            .await
            .is_err(),
        "the broker answered"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(100), stdio.message())
            .await
            .is_err(),
        "stdio sent something"
    );

    let asked = Instant::now();
    GrpcControllerClient::new(connection.clone())
        .shutdown(Empty {})
        .await
        .unwrap();
    let answered = asked.elapsed();
    assert_eq!(
        next_status(&mut watch, Duration::from_secs(1)).await,
        Some(ServingStatus::NotServing)
    );
    let within = Duration::from_secs(1);
    let watch_end = tokio::time::timeout(within, watch.message()).await;
    assert!(matches!(watch_end, Ok(Ok(None))), "Watch: {watch_end:?}");
    let stdio_end = tokio::time::timeout(within, stdio.message()).await;
    assert!(
        matches!(stdio_end, Ok(Ok(None))),
        "StreamStdio: {stdio_end:?}"
    );
    let broker_end = tokio::time::timeout(within, broker.message()).await;
    assert!(
        matches!(broker_end, Ok(Ok(None))),
        "StartStream: {broker_end:?}"
    );
    tokio::time::timeout(within, served)
        .await
        .expect("serve returns within 1 s of Shutdown")
        .unwrap()
        .unwrap();
    eprintln!(
        "Shutdown answered in {answered:?}; serve returned {:?} after it was asked",
        asked.elapsed()
    );
    assert!(!path.exists());
    drop(offers);
}

/// A stream of what `receiver` receives.
fn tokio_stream<T: Send + 'static>(
    receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}

/// The example launched as a host launches it, and what it wrote.
struct Launched {
    child: std::process::Child,
    line: String,
    rest_of_stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

fn launch_example(exe: &Path, dir: &Path, cookie: &str) -> Launched {
    let mut child = Command::new(exe)
        .env(COOKIE.0, cookie)
        .env("PLUGIN_UNIX_SOCKET_DIR", dir)
        .env("PLUGIN_PROTOCOL_VERSIONS", "1")
        .env("KV_DATA_DIR", dir.join("data"))
        .env("PLUGIN_RESOURCE_DISK_THRESHOLD", "100")
        .env("PLUGIN_RESOURCE_METRICS", "false")
        .env("RUST_LOG", "debug")
        .env_remove("PLUGIN_HEALTH_HTTP_ADDR")
        .env_remove("PLUGIN_HEALTH_FILE_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the example");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let mut line = String::new();
    let _ = stdout.read_line(&mut line);
    let rest_of_stdout = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
        rest
    });
    Launched {
        child,
        line,
        rest_of_stdout,
        stderr,
    }
}

fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

fn wait_exit(child: &mut std::process::Child, within: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > within {
            let _ = child.kill();
            panic!("still running {within:?} later");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_ignores_sigint_stops_on_sigterm_and_writes_only_the_line_and_hclog() {
    let exe = tokio::task::spawn_blocking(|| build_example("plugin_server"))
        .await
        .unwrap();
    let dir = scratch("example");
    let mut launched = launch_example(&exe, &dir, COOKIE.1);
    let fields = fields(&launched.line);
    assert_eq!(fields.len(), 6, "{:?}", launched.line);
    assert_eq!(fields[..3], ["1", "1", "unix"]);
    assert_eq!(fields[4..], ["grpc", ""]);
    let path = PathBuf::from(fields[3]);
    assert_eq!(path.parent(), Some(dir.as_path()));

    let mut client = HealthClient::new(channel(path.clone(), None));
    assert_eq!(
        check_status(&mut client, "plugin").await,
        Ok(ServingStatus::Serving)
    );
    // Ctrl-C in a terminal reaches the whole process group; the host decides.
    signal(&launched.child, "INT");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        launched.child.try_wait().unwrap().is_none(),
        "SIGINT stopped the plugin"
    );
    assert_eq!(
        check_status(&mut client, "plugin").await,
        Ok(ServingStatus::Serving)
    );

    signal(&launched.child, "TERM");
    // The drain (at most 1 s in plugin mode): still answering, but not serving.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        check_status(&mut client, "plugin").await,
        Ok(ServingStatus::NotServing)
    );
    let status = tokio::task::spawn_blocking(move || {
        let status = wait_exit(&mut launched.child, Duration::from_secs(5));
        (status, launched)
    })
    .await
    .unwrap();
    let (status, launched) = status;
    assert!(status.success(), "{status}");
    assert!(!path.exists(), "{} is left behind", path.display());

    // Stdout is the protocol channel: the line and nothing else.
    assert_eq!(launched.rest_of_stdout.join().unwrap(), "");
    // Every line on stderr is hclog JSON that go-plugin parses.
    let stderr = launched.stderr.join().unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() > 3, "{stderr}");
    for line in lines {
        let entry: Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        let level = entry["@level"].as_str().unwrap_or_default();
        assert!(
            ["trace", "debug", "info", "warn", "error"].contains(&level),
            "{line}"
        );
        assert!(entry["@message"].is_string(), "{line}");
        let stamp = entry["@timestamp"].as_str().unwrap_or_default();
        assert!(
            stamp.len() == 27 && stamp.ends_with('Z') && humantime::parse_rfc3339(stamp).is_ok(),
            "{line}"
        );
    }
    assert!(stderr.contains("SIGINT ignored"), "{stderr}");
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
}

#[test]
fn started_by_hand_with_a_wrong_cookie_it_refuses_with_a_message() {
    let exe = build_example("plugin_server");
    let dir = scratch("refuse");
    let mut launched = launch_example(&exe, &dir, "not-the-cookie");
    let status = wait_exit(&mut launched.child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(1));
    assert_eq!(launched.line, "");
    assert_eq!(launched.rest_of_stdout.join().unwrap(), "");
    let stderr = launched.stderr.join().unwrap();
    assert!(
        stderr.contains("This program is a plugin") && stderr.contains("BASIC_PLUGIN"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hello"),
        "the cookie value is not printed: {stderr}"
    );
    let sockets: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(sockets.is_empty(), "{sockets:?}");
}
