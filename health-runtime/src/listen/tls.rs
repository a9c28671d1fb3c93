//! TLS and mutual TLS for the servers started here, from the files of
//! [`TlsFiles`](crate::config::TlsFiles), with rustls and aws-lc-rs.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use super::TlsError;
use crate::config::TlsFiles;

/// The acceptors of one TLS configuration: one offering HTTP/2 (gRPC), one HTTP/1.1.
#[derive(Clone)]
pub(crate) struct Acceptors {
    pub(crate) grpc: TlsAcceptor,
    pub(crate) http: TlsAcceptor,
}

impl std::fmt::Debug for Acceptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptors").finish_non_exhaustive()
    }
}

fn problem(variable: &'static str, path: &Path, problem: impl std::fmt::Display) -> TlsError {
    TlsError {
        variable,
        path: path.to_owned(),
        problem: problem.to_string(),
    }
}

fn certificates(
    variable: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    std::fs::metadata(path)
        .map_err(|error| problem(variable, path, format!("cannot read it: {error}")))?;
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|error| problem(variable, path, format!("cannot read it: {error}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            problem(
                variable,
                path,
                format!("not a PEM certificate file: {error}"),
            )
        })?;
    if certs.is_empty() {
        return Err(problem(
            variable,
            path,
            "holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)",
        ));
    }
    Ok(certs)
}

/// Reads and checks the files, and builds the acceptors.
pub(crate) fn load(files: &TlsFiles) -> Result<Acceptors, TlsError> {
    const CERT: &str = "PLUGIN_HEALTH_TLS_CERT";
    const KEY: &str = "PLUGIN_HEALTH_TLS_KEY";
    const CLIENT_CA: &str = "PLUGIN_HEALTH_TLS_CLIENT_CA";
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain = certificates(CERT, &files.cert)?;
    std::fs::metadata(&files.key)
        .map_err(|error| problem(KEY, &files.key, format!("cannot read it: {error}")))?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|error| {
        problem(
            KEY,
            &files.key,
            format!("not a PEM private key file: {error}"),
        )
    })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| problem(CERT, &files.cert, error))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(CLIENT_CA, path)? {
                roots.add(cert).map_err(|error| {
                    problem(CLIENT_CA, path, format!("not a CA certificate: {error}"))
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|error| problem(CLIENT_CA, path, error))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(chain, key).map_err(|error| {
        problem(
            KEY,
            &files.key,
            format!("does not fit the certificate: {error}"),
        )
    })?;
    let with_alpn = |protocol: &[u8]| {
        let mut config = config.clone();
        config.alpn_protocols = vec![protocol.to_vec()];
        TlsAcceptor::from(Arc::new(config))
    };
    Ok(Acceptors {
        grpc: with_alpn(b"h2"),
        http: with_alpn(b"http/1.1"),
    })
}
