//! go-plugin's AutoMTLS, the plugin's side: the host passes its own certificate in
//! `PLUGIN_CLIENT_CERT`; the plugin makes a certificate of its own, announces it in the handshake
//! line, and serves TLS that requires exactly the host's certificate.
//!
//! The host's certificate is self-signed and flagged as a CA (go-plugin's `mtls.go`), with a
//! P-521 key. A WebPKI chain check refuses it as an end entity (`CaUsedAsEndEntity`), so the host
//! is pinned instead: its certificate must be byte for byte the one the host announced, and the
//! handshake signature must verify against its key. The aws-lc-rs provider verifies P-521
//! signatures; without a scheme for its key in our `CertificateRequest`, a Go client sends no
//! certificate at all.

use std::sync::Arc;

use base64::Engine as _;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio_rustls::TlsAcceptor;

use super::PluginError;
use super::handshake::CLIENT_CERT;

/// The TLS side of AutoMTLS: the acceptor, and the plugin's certificate as announced in the
/// handshake line.
pub(crate) struct AutoMtls {
    pub(crate) acceptor: TlsAcceptor,
    /// The plugin certificate's DER, standard base64 without padding (go-plugin decodes it with
    /// `base64.RawStdEncoding`).
    pub(crate) announced: String,
}

impl std::fmt::Debug for AutoMtls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoMtls").finish_non_exhaustive()
    }
}

/// Sets AutoMTLS up for the host certificate `pem`.
pub(crate) fn auto_mtls(pem: &str) -> Result<AutoMtls, PluginError> {
    let host = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| bad_cert(format!("not PEM: {error}")))?;
    if host.is_empty() {
        return Err(bad_cert("no certificate in it".to_owned()));
    }

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = PinnedHost {
        pinned: host,
        algorithms: provider.signature_verification_algorithms,
    };
    let (cert, key) = plugin_certificate()?;
    let announced = base64::engine::general_purpose::STANDARD_NO_PAD.encode(cert.as_ref());
    let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|error| tls_error("configuring TLS", error))?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(vec![cert], key)
        .map_err(|error| tls_error("configuring TLS", error))?;
    // grpc-go 1.67 and later refuse a TLS connection that did not negotiate `h2`.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(AutoMtls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        announced,
    })
}

fn tls_error(
    what: &'static str,
    error: impl std::error::Error + Send + Sync + 'static,
) -> PluginError {
    PluginError::Tls {
        what,
        source: Box::new(error),
    }
}

fn bad_cert(problem: String) -> PluginError {
    PluginError::config(CLIENT_CERT, "<certificate>", problem)
}

/// A fresh self-signed certificate for `localhost`, for server and client authentication, as
/// go-plugin's own plugins make.
fn plugin_certificate() -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), PluginError> {
    let tls = |error: rcgen::Error| tls_error("making the plugin certificate", error);
    let key = rcgen::KeyPair::generate().map_err(tls)?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).map_err(tls)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    // rcgen's default validity (1975 to 4096), like go-plugin's decades: the certificate dies
    // with the process.
    let cert = params.self_signed(&key).map_err(tls)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert.der().clone(), key))
}

/// Accepts exactly the certificates the host announced.
#[derive(Debug)]
struct PinnedHost {
    pinned: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedHost {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: a Go client then offers its certificate whatever its issuer.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self
            .pinned
            .iter()
            .any(|pinned| pinned.as_ref() == end_entity.as_ref())
        {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
