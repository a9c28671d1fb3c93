//! The `Host` allowlist of the HTTP surface, against DNS rebinding: a page on another site that
//! resolves its own name to this server sends that name as `Host`, and is refused.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::AllowedHosts;

/// The hosts answered, resolved against the bound address.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Policy {
    Any,
    /// `localhost`, `*.localhost`, IP addresses and these names.
    Names {
        loopback: bool,
        names: Vec<String>,
    },
}

fn policy(allowed: &AllowedHosts, bound: Option<SocketAddr>) -> Policy {
    match allowed {
        AllowedHosts::Any => Policy::Any,
        AllowedHosts::Default if bound.is_some_and(|addr| addr.ip().is_loopback()) => {
            Policy::Names {
                loopback: true,
                names: Vec::new(),
            }
        }
        AllowedHosts::Default => Policy::Any,
        AllowedHosts::Only(names) => Policy::Names {
            loopback: false,
            names: names.clone(),
        },
    }
}

/// The host of a `Host` header value, without port, lowercase.
fn host_of(value: &str) -> Option<String> {
    let value = value.trim();
    let host = if let Some(rest) = value.strip_prefix('[') {
        let end = rest.find(']')?;
        &value[..end + 2]
    } else {
        value.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn is_ip(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok()
}

impl Policy {
    fn allows(&self, host: Option<&str>) -> bool {
        let Policy::Names { loopback, names } = self else {
            return true;
        };
        let Some(host) = host.and_then(host_of) else {
            return false;
        };
        // No DNS answer can make a page's own origin an IP address: those are never rebound.
        is_ip(&host)
            || (*loopback && (host == "localhost" || host.ends_with(".localhost")))
            || names.contains(&host)
    }
}

/// `router`, refusing requests whose `Host` the allowlist does not name with
/// `421 Misdirected Request`.
pub(crate) fn allow(router: Router, allowed: &AllowedHosts, bound: Option<SocketAddr>) -> Router {
    let policy = Arc::new(policy(allowed, bound));
    if *policy == Policy::Any {
        return router;
    }
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let policy = policy.clone();
            async move {
                let host = request
                    .headers()
                    .get(header::HOST)
                    .and_then(|value| value.to_str().ok())
                    .or_else(|| {
                        request
                            .uri()
                            .authority()
                            .map(|authority| authority.as_str())
                    });
                if policy.allows(host) {
                    return next.run(request).await;
                }
                tracing::debug!(
                    "request for a host outside PLUGIN_HEALTH_HTTP_ALLOWED_HOSTS refused"
                );
                refused()
            }
        },
    ))
}

fn refused() -> Response {
    let body = serde_json::json!({
        "error": "this server does not answer for that Host; allow it with PLUGIN_HEALTH_HTTP_ALLOWED_HOSTS",
    });
    (StatusCode::MISDIRECTED_REQUEST, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_loopback_only_loopback_names_and_addresses_are_answered() {
        let policy = policy(
            &AllowedHosts::Default,
            Some("127.0.0.1:8080".parse().unwrap()),
        );
        for host in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:8080",
            "app.localhost",
            "[::1]:8080",
            "10.0.0.7",
        ] {
            assert!(policy.allows(Some(host)), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "",
        ] {
            assert!(!policy.allows(Some(host)), "{host}");
        }
        assert!(!policy.allows(None));
    }

    #[test]
    fn elsewhere_any_host_is_answered_unless_listed() {
        let any = policy(
            &AllowedHosts::Default,
            Some("0.0.0.0:8080".parse().unwrap()),
        );
        assert!(any.allows(Some("whatever.example")));
        let listed = policy(
            &AllowedHosts::Only(vec!["health.example.com".to_owned()]),
            Some("0.0.0.0:8080".parse().unwrap()),
        );
        assert!(listed.allows(Some("Health.Example.com:443")));
        assert!(listed.allows(Some("192.0.2.1")));
        assert!(!listed.allows(Some("localhost")));
        assert!(!listed.allows(Some("evil.example")));
    }
}
