//! TLS and mutual TLS on `serve()`'s gRPC and HTTP listeners with the checked-in test
//! certificates (`tests/data/tls/`), the plaintext probe port beside them, and TLS files that
//! cannot be used reported by name.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use health_runtime::config::TlsFiles;
use health_runtime::pb::report::v1::GetHealthReportRequest;
use health_runtime::pb::report::v1::health_report_client::HealthReportClient;
use health_runtime::server::ServeError;
use health_runtime::{Check, HealthConfig, HealthRuntime};
use tests::process::free_port;
use tests::{GrpcServer, HealthClient, ServingStatus, builder, check_status, quiet_config};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

fn tls_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data/tls")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(tls_file(name)).unwrap()
}

/// A server with TLS (mutual when `mutual`), the HTTP surface and the probe port; its gRPC,
/// HTTP and probe addresses.
struct Served {
    grpc: SocketAddr,
    http: SocketAddr,
    probe: SocketAddr,
    _server: GrpcServer,
}

fn config(mutual: bool) -> HealthConfig {
    let mut files = TlsFiles::new(tls_file("server.pem"), tls_file("server.key"));
    if mutual {
        files = files.client_ca(tls_file("ca.pem"));
    }
    let mut config = quiet_config();
    config.surfaces.tls = Some(files);
    config.surfaces.http_addr = Some(free_port());
    config.surfaces.probe_addr = Some(free_port());
    config
}

async fn serve(config: HealthConfig) -> Served {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (http, probe) = (
        config.surfaces.http_addr.unwrap(),
        config.surfaces.probe_addr.unwrap(),
    );
    let runtime: HealthRuntime = builder()
        .config(config)
        .with_check(Check::new("db", || async { true }))
        .with_check(
            Check::new("cache", || async {
                Err::<(), _>("cache at 10.0.0.5 refused")
            })
            .informational(true),
        )
        .build()
        .unwrap();
    let server = GrpcServer::start(&runtime).await;
    let grpc = server.addr;
    for addr in [grpc, http, probe] {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Served {
        grpc,
        http,
        probe,
        _server: server,
    }
}

async fn tls_channel(
    addr: SocketAddr,
    identity: Option<&str>,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("ca.pem")))
        .domain_name("localhost");
    if let Some(name) = identity {
        tls = tls.identity(Identity::from_pem(
            read(&format!("{name}.pem")),
            read(&format!("{name}.key")),
        ));
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
}

async fn plain_channel(addr: SocketAddr) -> tonic::transport::Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn https_client(identity: Option<&str>) -> reqwest::Client {
    let mut client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&read("ca.pem")).unwrap())
        .timeout(Duration::from_secs(5));
    if let Some(name) = identity {
        let mut pem = read(&format!("{name}.pem"));
        pem.extend(read(&format!("{name}.key")));
        client = client.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    client.build().unwrap()
}

#[tokio::test]
async fn tls_on_grpc_and_http_with_a_plaintext_probe_port() {
    let served = serve(config(false)).await;

    let mut health = HealthClient::new(tls_channel(served.grpc, None).await.unwrap());
    assert_eq!(
        check_status(&mut health, "").await,
        Ok(ServingStatus::Serving)
    );
    let response = https_client(None)
        .get(format!("https://localhost:{}/health", served.http.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // The TLS ports refuse plaintext.
    let mut plain = HealthClient::new(plain_channel(served.grpc).await);
    assert!(check_status(&mut plain, "").await.is_err());
    assert!(
        reqwest::get(format!("http://{}/health", served.http))
            .await
            .is_err_and(|error| !error.is_status())
            || reqwest::get(format!("http://{}/health", served.http))
                .await
                .is_ok_and(|response| !response.status().is_success())
    );

    // The probe port answers plaintext Check and the HTTP probes...
    let probe = plain_channel(served.probe).await;
    let mut health = HealthClient::new(probe.clone());
    assert_eq!(
        check_status(&mut health, "").await,
        Ok(ServingStatus::Serving)
    );
    assert_eq!(
        check_status(&mut health, "db").await,
        Ok(ServingStatus::Serving)
    );
    for path in [
        "/health", "/ready", "/readyz", "/live", "/livez", "/startup",
    ] {
        let main = https_client(None)
            .get(format!("https://localhost:{}{path}", served.http.port()))
            .send()
            .await
            .unwrap()
            .status();
        let probe = reqwest::get(format!("http://{}{path}", served.probe))
            .await
            .unwrap()
            .status();
        assert_eq!(
            probe, main,
            "{path} on the probe port and on the HTTP surface"
        );
    }
    let health = reqwest::get(format!("http://{}/health", served.probe))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // ...and nothing else: not the report over gRPC or HTTP, not /metrics, not the
    // application's services, and never a detail.
    let report = HealthReportClient::new(probe.clone())
        .get_health_report(GetHealthReportRequest::default())
        .await
        .unwrap_err();
    assert_eq!(report.code(), tonic::Code::Unimplemented, "{report:?}");
    let mut app = tonic::client::Grpc::new(probe);
    app.ready().await.unwrap();
    let app_call = app
        .unary::<HealthRuntimeProbeRequest, HealthRuntimeProbeRequest, _>(
            tonic::Request::new(HealthRuntimeProbeRequest::default()),
            "/kv.v1.KV/Get".parse().unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(app_call.code(), tonic::Code::Unimplemented, "{app_call:?}");
    for path in ["/health/report", "/metrics"] {
        let response = reqwest::get(format!("http://{}{path}", served.probe))
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    let verbose = reqwest::Client::new()
        .get(format!("http://{}/health?verbose", served.probe))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(verbose.contains("[+]db ok"), "{verbose}");
    assert!(
        verbose.contains("[~]cache failed (informational): reason withheld"),
        "{verbose}"
    );
    assert!(!verbose.contains("10.0.0.5"), "{verbose}");
}

/// An empty message, for calling a method the probe port does not serve.
#[derive(Clone, PartialEq, prost::Message)]
struct HealthRuntimeProbeRequest {}

#[tokio::test]
async fn mutual_tls_refuses_clients_without_a_trusted_certificate() {
    let served = serve(config(true)).await;

    let mut health = HealthClient::new(tls_channel(served.grpc, Some("client")).await.unwrap());
    assert_eq!(
        check_status(&mut health, "").await,
        Ok(ServingStatus::Serving)
    );
    for identity in [None, Some("stranger")] {
        let refused = match tls_channel(served.grpc, identity).await {
            Err(_) => true,
            Ok(channel) => check_status(&mut HealthClient::new(channel), "")
                .await
                .is_err(),
        };
        assert!(refused, "gRPC with {identity:?} was served");
    }

    let url = format!("https://localhost:{}/health", served.http.port());
    assert_eq!(
        https_client(Some("client"))
            .get(&url)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for identity in [None, Some("stranger")] {
        let result = https_client(identity).get(&url).send().await;
        assert!(result.is_err(), "HTTP with {identity:?}: {result:?}");
    }

    // The probe port stays plaintext, for kubelets that cannot present a certificate.
    let mut probe = HealthClient::new(plain_channel(served.probe).await);
    assert_eq!(
        check_status(&mut probe, "").await,
        Ok(ServingStatus::Serving)
    );
}

#[tokio::test]
async fn unusable_tls_files_are_startup_errors_naming_them() {
    let dir = tempfile_dir();
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let missing = dir.join("missing.pem");
    for (files, variable, shown) in [
        (
            TlsFiles::new(&missing, tls_file("server.key")),
            "PLUGIN_HEALTH_TLS_CERT",
            missing.clone(),
        ),
        (
            TlsFiles::new(&garbage, tls_file("server.key")),
            "PLUGIN_HEALTH_TLS_CERT",
            garbage.clone(),
        ),
        (
            TlsFiles::new(tls_file("server.pem"), &garbage),
            "PLUGIN_HEALTH_TLS_KEY",
            garbage.clone(),
        ),
        (
            TlsFiles::new(tls_file("server.pem"), tls_file("client.key")),
            "PLUGIN_HEALTH_TLS_KEY",
            tls_file("client.key"),
        ),
        (
            TlsFiles::new(tls_file("server.pem"), tls_file("server.key")).client_ca(&missing),
            "PLUGIN_HEALTH_TLS_CLIENT_CA",
            missing.clone(),
        ),
    ] {
        let mut config = quiet_config();
        config.surfaces.tls = Some(files);
        let runtime = builder().config(config).build().unwrap();
        let server = GrpcServer::start(&runtime).await;
        let error = tokio::time::timeout(Duration::from_secs(5), server.stop())
            .await
            .expect("serve fails at once")
            .unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, ServeError::Tls(_)), "{text}");
        assert!(text.contains(variable), "{text}");
        assert!(text.contains(&shown.display().to_string()), "{text}");
    }

    for (pairs, variable) in [
        (
            vec![("PLUGIN_HEALTH_TLS_CERT", "/etc/cert.pem")],
            "PLUGIN_HEALTH_TLS_CERT",
        ),
        (
            vec![("PLUGIN_HEALTH_TLS_KEY", "/etc/key.pem")],
            "PLUGIN_HEALTH_TLS_KEY",
        ),
        (
            vec![("PLUGIN_HEALTH_TLS_CLIENT_CA", "/etc/ca.pem")],
            "PLUGIN_HEALTH_TLS_CLIENT_CA",
        ),
        (
            vec![("PLUGIN_HEALTH_PROBE_ADDR", "localhost:1")],
            "PLUGIN_HEALTH_PROBE_ADDR",
        ),
        (
            vec![("PLUGIN_HEALTH_HTTP_ALLOWED_HOSTS", "a.example:80")],
            "PLUGIN_HEALTH_HTTP_ALLOWED_HOSTS",
        ),
        (
            vec![("PLUGIN_HEALTH_SHUTDOWN_GRACE", "2d")],
            "PLUGIN_HEALTH_SHUTDOWN_GRACE",
        ),
    ] {
        let error = HealthConfig::from_pairs(pairs).unwrap_err();
        assert_eq!(error.variable, variable, "{error}");
    }
    let config = HealthConfig::from_pairs([
        ("PLUGIN_HEALTH_TLS_CERT", "/etc/cert.pem"),
        ("PLUGIN_HEALTH_TLS_KEY", "/etc/key.pem"),
        ("PLUGIN_HEALTH_TLS_CLIENT_CA", "/etc/ca.pem"),
        ("PLUGIN_HEALTH_PROBE_ADDR", "0.0.0.0:8086"),
    ])
    .unwrap();
    assert_eq!(
        config.surfaces.tls,
        Some(TlsFiles::new("/etc/cert.pem", "/etc/key.pem").client_ca("/etc/ca.pem"))
    );
    assert_eq!(
        config.surfaces.probe_addr,
        Some("0.0.0.0:8086".parse().unwrap())
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("health-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
