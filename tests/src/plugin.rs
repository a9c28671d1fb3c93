//! The host's side of a go-plugin connection, for the plugin tests: gRPC channels over the
//! plugin's unix socket, plain or with AutoMTLS, and host certificates made the way go-plugin's
//! `mtls.go` makes them (self-signed, flagged as a CA, P-521).

use std::path::PathBuf;
use std::sync::Arc;

use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tonic::transport::{Channel, Endpoint, Uri};

/// A certificate and key as a go-plugin host makes them for AutoMTLS.
#[derive(Debug)]
pub struct HostCert {
    /// The certificate, PEM: the value of `PLUGIN_CLIENT_CERT`.
    pub pem: String,
    /// The certificate, DER.
    pub der: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl HostCert {
    /// A fresh one: ECDSA P-521 with SHA-512, `localhost`, a CA, for client and server auth.
    pub fn new() -> HostCert {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "HashiCorp");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyAgreement,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let cert = params.self_signed(&key).unwrap();
        HostCert {
            pem: cert.pem(),
            der: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }
}

impl HostCert {
    /// TLS settings that present this certificate but sign with `signer`'s key: what someone
    /// who copied the host's certificate from its environment could do.
    pub fn impostor(&self, announced: &str, signer: &HostCert) -> Arc<rustls::ClientConfig> {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let key = provider
            .key_provider
            .load_private_key(PrivateKeyDer::Pkcs8(signer.key.clone_key()))
            .unwrap();
        let certified = Arc::new(rustls::sign::CertifiedKey::new(vec![self.der.clone()], key));
        let honest = host_tls(announced, None, &[&rustls::version::TLS13]);
        let mut config = (*honest).clone();
        config.client_auth_cert_resolver = Arc::new(Present(certified));
        Arc::new(config)
    }
}

/// Presents one certified key, whatever the server asks for.
#[derive(Debug)]
struct Present(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for Present {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl Default for HostCert {
    fn default() -> Self {
        HostCert::new()
    }
}

/// The TLS settings of a host: trusts the certificate the plugin announced, offers `h2`, and
/// presents `client` (or no certificate at all).
pub fn host_tls(
    announced: &str,
    client: Option<&HostCert>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(announced)
        .expect("the announced certificate is unpadded standard base64");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(der)).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match client {
        Some(client) => builder
            .with_client_auth_cert(
                vec![client.der.clone()],
                PrivateKeyDer::Pkcs8(client.key.clone_key()),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// A lazy channel to the plugin's unix socket at `path`, over TLS with `tls` when given.
pub fn channel(path: PathBuf, tls: Option<Arc<rustls::ClientConfig>>) -> Channel {
    Endpoint::from_static("http://plugin").connect_with_connector_lazy(tower::service_fn(
        move |_: Uri| {
            let path = path.clone();
            let tls = tls.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(&path).await?;
                let io: Box<dyn Io> = match tls {
                    None => Box::new(stream),
                    Some(tls) => Box::new(connect_tls(tls, stream).await?),
                };
                Ok::<_, std::io::Error>(TokioIo::new(io))
            }
        },
    ))
}

/// A TLS connection to the plugin over `stream`, as the host makes it (server name `localhost`).
pub async fn connect_tls(
    tls: Arc<rustls::ClientConfig>,
    stream: tokio::net::UnixStream,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::UnixStream>> {
    tokio_rustls::TlsConnector::from(tls)
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
}

/// A byte stream a channel can run over.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Io for T {}

/// The fields of a handshake line.
pub fn fields(line: &str) -> Vec<&str> {
    line.trim_end().split('|').collect()
}
