//! Turning the connection options into a connected channel, within the connect timeout.

use std::path::Path;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::{ConnectArgs, Failure};

/// Connects to the server, TLS handshake included, within `--connect-timeout`.
pub(crate) async fn connect(args: &ConnectArgs) -> Result<Channel, Failure> {
    let endpoint = endpoint(args)?;
    match tokio::time::timeout(args.connect_timeout, endpoint.connect()).await {
        Ok(Ok(channel)) => Ok(channel),
        Ok(Err(error)) => Err(Failure::Connect {
            addr: args.addr.clone(),
            reason: causes(&error),
        }),
        Err(_) => Err(Failure::ConnectTimeout {
            addr: args.addr.clone(),
            timeout: args.connect_timeout,
        }),
    }
}

/// The endpoint for `--addr`, with TLS when asked for.
fn endpoint(args: &ConnectArgs) -> Result<Endpoint, Failure> {
    let tls = args.tls
        || args.tls_ca_cert.is_some()
        || args.tls_client_cert.is_some()
        || args.tls_server_name.is_some();
    let addr = args.addr.trim();
    let uri = if let Some((scheme, _)) = addr.split_once("://") {
        match scheme {
            "https" => addr.to_owned(),
            "http" if tls => {
                return Err(Failure::Usage(format!(
                    "`{addr}` is a plaintext address but TLS was asked for; use `https://` or drop the `--tls` options"
                )));
            }
            "http" => addr.to_owned(),
            other => {
                return Err(Failure::Usage(format!(
                    "unsupported scheme `{other}` in `{addr}`; expected `host:port`, `http://host:port` or `https://host:port`"
                )));
            }
        }
    } else if tls {
        format!("https://{addr}")
    } else {
        format!("http://{addr}")
    };
    let endpoint = Endpoint::from_shared(uri).map_err(|error| {
        Failure::Usage(format!(
            "invalid address `{addr}`: {}; expected `host:port` or a URI such as `http://host:port`",
            causes(&error)
        ))
    })?;
    // No `Endpoint::connect_timeout`: the timeout around `connect` covers the TCP connection and
    // the TLS handshake, and reports itself as a timeout.
    let endpoint = endpoint
        .user_agent(concat!("health-probe/", env!("CARGO_PKG_VERSION")))
        .map_err(|error| Failure::Usage(causes(&error)))?;
    if !(tls || endpoint.uri().scheme_str() == Some("https")) {
        return Ok(endpoint);
    }
    endpoint
        .tls_config(tls_config(args)?)
        .map_err(|error| Failure::Usage(format!("invalid TLS options: {}", causes(&error))))
}

/// The client TLS configuration from the `--tls-*` options.
fn tls_config(args: &ConnectArgs) -> Result<ClientTlsConfig, Failure> {
    let mut config = ClientTlsConfig::new();
    config = match &args.tls_ca_cert {
        Some(path) => config.ca_certificate(Certificate::from_pem(read(path, "--tls-ca-cert")?)),
        None => config.with_native_roots(),
    };
    if let (Some(cert), Some(key)) = (&args.tls_client_cert, &args.tls_client_key) {
        config = config.identity(Identity::from_pem(
            read(cert, "--tls-client-cert")?,
            read(key, "--tls-client-key")?,
        ));
    }
    if let Some(name) = &args.tls_server_name {
        config = config.domain_name(name.clone());
    }
    Ok(config)
}

/// The bytes of a file named by `option`; unreadable is a usage error (exit 1).
fn read(path: &Path, option: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|error| {
        Failure::Usage(format!(
            "cannot read {option} `{}`: {error}",
            path.display()
        ))
    })
}

/// An error and every cause under it, joined with `: ` (tonic's own message is only
/// "transport error").
pub(crate) fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
