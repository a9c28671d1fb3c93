//! TLS files read again on SIGHUP: a renewed certificate is served without a restart, and a
//! broken one leaves the previous in use. In a test binary of its own, since it signals itself.

use std::path::{Path, PathBuf};
use std::time::Duration;

use health_runtime::config::TlsFiles;
use tests::{GrpcServer, HealthClient, ServingStatus, builder, check_status, quiet_config};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/tls")
        .join(name)
}

/// Whether a client trusting only `ca_pem` is served over TLS at `addr`.
async fn served_trusting(addr: std::net::SocketAddr, ca_pem: &[u8]) -> bool {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    let Ok(channel) = Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
    else {
        return false;
    };
    check_status(&mut HealthClient::new(channel), "").await == Ok(ServingStatus::Serving)
}

fn hang_up() {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reads_the_tls_files_again() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tls-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::copy(data("server.pem"), &cert).unwrap();
    std::fs::copy(data("server.key"), &key).unwrap();

    let mut config = quiet_config();
    config.surfaces.tls = Some(TlsFiles::new(&cert, &key));
    let runtime = builder().config(config).build().unwrap();
    let server = GrpcServer::start(&runtime).await;
    let addr = server.addr;
    let test_ca = std::fs::read(data("ca.pem")).unwrap();
    let mut up = false;
    for _ in 0..50 {
        up = served_trusting(addr, &test_ca).await;
        if up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "served with the first certificate");

    // A renewed certificate, from another issuer (self-signed here).
    let renewed =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let renewed_pem = renewed.cert.pem();
    std::fs::write(&cert, &renewed_pem).unwrap();
    std::fs::write(&key, renewed.signing_key.serialize_pem()).unwrap();
    assert!(
        served_trusting(addr, &test_ca).await,
        "nothing changes before SIGHUP"
    );
    hang_up();
    assert!(
        served_trusting(addr, renewed_pem.as_bytes()).await,
        "the renewed certificate is served"
    );
    assert!(!served_trusting(addr, &test_ca).await, "the old one is not");

    // A broken file on the next SIGHUP: the renewed certificate stays in use.
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nbroken\n").unwrap();
    hang_up();
    assert!(
        served_trusting(addr, renewed_pem.as_bytes()).await,
        "a broken file changes nothing"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
