//! TLS and mutual TLS for the servers started here, from the files of
//! [`TlsFiles`](crate::config::TlsFiles), with rustls and aws-lc-rs, read again on SIGHUP.

use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use super::TlsError;
use crate::config::TlsFiles;

/// The acceptors of one TLS configuration: one offering HTTP/2 (gRPC), one HTTP/1.1, each
/// replaced when the files are read again.
#[derive(Clone)]
pub(crate) struct Acceptors {
    pub(crate) grpc: Reloadable,
    pub(crate) http: Reloadable,
    files: TlsFiles,
}

impl std::fmt::Debug for Acceptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptors")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// The TLS configuration of one listener, as last read.
#[derive(Clone)]
pub(crate) struct Reloadable(Arc<RwLock<Arc<rustls::ServerConfig>>>);

impl Reloadable {
    fn new(config: Arc<rustls::ServerConfig>) -> Self {
        Reloadable(Arc::new(RwLock::new(config)))
    }

    /// An acceptor with the configuration as last read, for one handshake.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        let config = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        TlsAcceptor::from(config)
    }

    fn replace(&self, config: Arc<rustls::ServerConfig>) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = config;
    }
}

impl Acceptors {
    /// Reads the files again; new handshakes use what they hold. Connections already open keep
    /// their session. A file that cannot be used leaves the configuration as it was.
    pub(crate) fn reload(&self) -> Result<(), TlsError> {
        let (grpc, http) = configs(&self.files)?;
        self.grpc.replace(grpc);
        self.http.replace(http);
        Ok(())
    }

    /// Reads the files again on every SIGHUP, for as long as the runtime runs (a renewed
    /// certificate needs no restart). Listening for SIGHUP replaces its default action, ending
    /// the process.
    pub(crate) fn reload_on_hangup(&self) {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut hangups = match signal(SignalKind::hangup()) {
                Ok(hangups) => hangups,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGHUP: TLS files are read once");
                    return;
                }
            };
            let acceptors = self.clone();
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    match acceptors.reload() {
                        Ok(()) => {
                            tracing::info!(cert = %acceptors.files.cert.display(), "SIGHUP: TLS files read again")
                        }
                        Err(error) => {
                            tracing::error!(%error, "SIGHUP: TLS files not read again; the previous ones stay in use")
                        }
                    }
                }
            });
        }
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
    let (grpc, http) = configs(files)?;
    Ok(Acceptors {
        grpc: Reloadable::new(grpc),
        http: Reloadable::new(http),
        files: files.clone(),
    })
}

/// The server configurations the files make: with ALPN `h2` for gRPC, `http/1.1` for HTTP.
fn configs(
    files: &TlsFiles,
) -> Result<(Arc<rustls::ServerConfig>, Arc<rustls::ServerConfig>), TlsError> {
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
        Arc::new(config)
    };
    Ok((with_alpn(b"h2"), with_alpn(b"http/1.1")))
}
