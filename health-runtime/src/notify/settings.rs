//! The notification settings checked: each [`Target`] resolved into what the workers use.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};

use crate::Status;
pub use crate::config::{Format, NotifySettings, Secret, Target};
use crate::config::{MAX_FLAP_THRESHOLD, MAX_QUEUE, MAX_RETRIES, check_selection};

/// What is wrong with notification settings built in code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// A target's URL: shown as `scheme://host:port`, the rest hidden.
    #[error("notification target {url} is not valid: {problem}")]
    Url {
        /// The URL, redacted.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A secret, never shown.
    #[error("a notification secret is not valid: {problem}")]
    Secret {
        /// What is wrong with it.
        problem: String,
    },
    /// Another setting.
    #[error("notification setting `{setting}` is not valid: {problem}")]
    Setting {
        /// The setting.
        setting: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

/// The longest duration a setting may have: the bound the configuration puts on every
/// duration variable (a day), which keeps the deadlines computed from them far from the limits
/// of [`Instant`](std::time::Instant).
const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// A target checked and ready to send to.
#[derive(Clone)]
pub(crate) struct Resolved {
    pub(crate) url: Url,
    pub(crate) address: String,
    pub(crate) format: Format,
    pub(crate) secret: Option<Key>,
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolved")
            .field("address", &self.address)
            .field("format", &self.format)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A secret ready to use.
#[derive(Clone)]
pub(crate) enum Key {
    Signing(ring::hmac::Key),
    Header(HeaderName, HeaderValue),
}

/// The statuses allowed in [`NotifySettings::on`].
pub(crate) fn check_on(on: &[Status]) -> Result<(), String> {
    if on.is_empty() {
        return Err("name at least one of `warning`, `critical`".to_owned());
    }
    match on
        .iter()
        .find(|status| !matches!(status, Status::Warning | Status::Critical))
    {
        Some(status) => Err(format!(
            "`{status}` is not a problem status; expected `warning` and/or `critical`"
        )),
        None => Ok(()),
    }
}

/// Every target of `settings` checked and ready, or the first problem.
pub(crate) fn resolve(settings: &NotifySettings) -> Result<Vec<Resolved>, NotifyError> {
    let setting = |setting, problem: &str| NotifyError::Setting {
        setting,
        problem: problem.to_owned(),
    };
    check_on(&settings.on).map_err(|problem| setting("on", &problem))?;
    for name in &settings.checks {
        check_selection(name).map_err(|problem| setting("checks", &problem))?;
    }
    for (name, duration) in [
        ("min_interval", settings.min_interval),
        ("flap_window", settings.flap_window),
        ("timeout", settings.timeout),
        ("backoff", settings.backoff),
        ("max_backoff", settings.max_backoff),
    ] {
        if duration > MAX_DURATION {
            return Err(setting(name, "it must be at most a day (`24h`)"));
        }
    }
    if settings.queue == 0 || settings.queue > MAX_QUEUE {
        return Err(setting("queue", "it must be between 1 and 65536"));
    }
    if settings.timeout.is_zero() {
        return Err(setting("timeout", "it must be greater than zero"));
    }
    if settings.retries > MAX_RETRIES {
        return Err(setting("retries", "it must be at most 100"));
    }
    if settings.backoff.is_zero() || settings.max_backoff < settings.backoff {
        return Err(setting(
            "backoff",
            "the first backoff must be greater than zero and at most the longest",
        ));
    }
    if settings.flap_threshold == 1 || settings.flap_threshold > MAX_FLAP_THRESHOLD {
        return Err(setting(
            "flap",
            "the threshold must be 0 (off) or between 2 and 1000",
        ));
    }
    if settings.flap_threshold > 0 && settings.flap_window.is_zero() {
        return Err(setting("flap", "the window must be greater than zero"));
    }
    settings
        .targets
        .iter()
        .map(|target| {
            let (url, address) = parse_url(&target.url).map_err(|problem| NotifyError::Url {
                url: shown(&target.url),
                problem,
            })?;
            let secret = target
                .secret
                .as_ref()
                .or(settings.secret.as_ref())
                .map(key)
                .transpose()
                .map_err(|problem| NotifyError::Secret { problem })?;
            Ok(Resolved {
                url,
                address,
                format: target.format,
                secret,
            })
        })
        .collect()
}

/// `raw` as a target URL, with its address (`scheme://host:port`).
pub(crate) fn parse_url(raw: &str) -> Result<(Url, String), String> {
    let url = Url::parse(raw).map_err(|error| format!("{error}; expected an http(s) URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme `{}` is not http or https",
            url.scheme()
        ));
    }
    let address = address(&url).ok_or_else(|| "the URL has no host".to_owned())?;
    Ok((url, address))
}

/// A target URL that is not valid as an error shows it: redacted, or only `scheme://***` when
/// it does not parse at all (its text cannot say where a password ends).
fn shown(raw: &str) -> String {
    if Url::parse(raw).is_ok() {
        return crate::config::redact_target(raw);
    }
    let scheme = raw
        .split_once("://")
        .map(|(scheme, _)| scheme)
        .filter(|scheme| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
    match scheme {
        Some(scheme) => format!("{}://***", scheme.to_ascii_lowercase()),
        None => "***".to_owned(),
    }
}

/// `scheme://host:port`, the port spelt out even when it is the scheme's default.
fn address(url: &Url) -> Option<String> {
    let host = url.host_str().filter(|host| !host.is_empty())?;
    let port = url.port_or_known_default()?;
    Some(format!("{}://{host}:{port}", url.scheme()))
}

/// Whether `secret` can be used.
pub(crate) fn check_secret(secret: &Secret) -> Result<(), String> {
    key(secret).map(drop)
}

fn key(secret: &Secret) -> Result<Key, String> {
    use base64::Engine as _;
    match secret {
        Secret::Signing(secret) => {
            let bytes = match secret.strip_prefix("whsec_") {
                Some(encoded) => base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|_| "a `whsec_` secret must be base64 after the prefix".to_owned())?,
                None => secret.as_bytes().to_vec(),
            };
            if bytes.is_empty() {
                return Err("the signing secret is empty".to_owned());
            }
            Ok(Key::Signing(ring::hmac::Key::new(
                ring::hmac::HMAC_SHA256,
                &bytes,
            )))
        }
        Secret::Header { name, value } => {
            if let Some(problem) = Secret::header_clash(name) {
                return Err(problem);
            }
            let name = HeaderName::try_from(name.as_str())
                .map_err(|_| format!("{name:?} is not a header name"))?;
            let mut value = HeaderValue::try_from(value.as_str()).map_err(|_| {
                "the secret cannot be a header value (visible ASCII only)".to_owned()
            })?;
            if value.is_empty() {
                return Err("the header secret is empty".to_owned());
            }
            value.set_sensitive(true);
            Ok(Key::Header(name, value))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(parse_url("https://hooks.slack.com/services/x").is_ok());
        for bad in [
            "ftp://host/",
            "not a url",
            "http://",
            "file:///etc/passwd",
            "mailto:a@b",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_url_that_does_not_parse_shows_its_scheme_only() {
        for (raw, shown) in [
            ("https://user:pa/ss@host/x", "https://***"),
            ("https://user:pass@ho st/SECRET", "https://***"),
            ("not a url SECRET", "***"),
        ] {
            let settings = NotifySettings::new().target(Target::json(raw));
            let error = resolve(&settings).unwrap_err();
            let NotifyError::Url { url, .. } = &error else {
                panic!("{error}");
            };
            assert_eq!(url, shown, "{raw}");
            for secret in ["pa", "ss", "SECRET", "pass"] {
                assert!(!error.to_string().contains(secret), "{error}");
            }
        }
    }

    #[test]
    fn secrets_resolve_and_never_show() {
        let settings = NotifySettings::new()
            .target(Target::json("http://127.0.0.1:1/hook"))
            .secret(Secret::signing("whsec_c2VjcmV0"));
        assert!(resolve(&settings).is_ok());
        assert!(!format!("{settings:?}").contains("c2VjcmV0"));
        let bad = settings.clone().secret(Secret::signing("whsec_!!"));
        let error = resolve(&bad).unwrap_err();
        assert!(matches!(error, NotifyError::Secret { .. }), "{error}");
        assert!(!error.to_string().contains("!!"), "{error}");
        let header = Secret::header("x-token", "SECRET");
        assert!(!format!("{header:?}").contains("SECRET"));
    }
}
