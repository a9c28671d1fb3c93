//! What to notify, where, and how: [`NotifySettings`], its [`Target`]s and their [`Secret`]s,
//! and their validation into what the observer and the workers use.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};

use crate::{Group, Status};

/// Transition notifications over webhooks: where they go and which ones go.
///
/// Read from the `PLUGIN_HEALTH_NOTIFY_*` variables (see [`HealthConfig`](crate::HealthConfig)),
/// or built in code and handed to
/// [`HealthRuntimeBuilder::notify`](crate::HealthRuntimeBuilder::notify), which wins over the
/// configuration. With no target, nothing is notified.
///
/// ```
/// use std::time::Duration;
/// use health_runtime::Status;
/// use health_runtime::notify::{NotifySettings, Secret, Target};
///
/// let settings = NotifySettings::new()
///     .target(Target::json("https://alerts.example.com/hooks/health"))
///     .target(Target::slack("https://hooks.slack.com/services/T000/B000/XXXX"))
///     .checks(["kv_store", "liveness"])
///     .on([Status::Critical])
///     .min_interval(Duration::from_secs(60))
///     .flap(Duration::from_secs(600), 6)
///     .secret(Secret::signing("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
/// assert_eq!(settings.targets.len(), 2);
/// // Debug output shows where, never the path that holds a Slack webhook's secret.
/// assert!(!format!("{settings:?}").contains("XXXX"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[must_use]
pub struct NotifySettings {
    /// Where notifications go; none turns notifications off.
    pub targets: Vec<Target>,
    /// Which checks are notified: a check is when its name or one of its probe groups is listed.
    /// Empty: every check.
    pub checks: Vec<String>,
    /// The statuses whose entry is notified: `warning` and `critical` by default. `healthy` and
    /// `unknown` are never problems.
    pub on: Vec<Status>,
    /// Whether a check whose last notification was a problem is notified once when it reaches
    /// a status not in [`on`](Self::on) (`restored`).
    pub restored: bool,
    /// The least time between two notifications of one check; changes in between are folded
    /// into one, sent when the interval ends. Zero: no limit.
    pub min_interval: Duration,
    /// The window over which transitions are counted for flapping.
    pub flap_window: Duration,
    /// How many transitions inside [`flap_window`](Self::flap_window) make a check flapping; `0`
    /// turns flap damping off.
    pub flap_threshold: u32,
    /// How many notifications each target's queue holds; a new one finding it full is dropped.
    pub queue: usize,
    /// The deadline of each request.
    pub timeout: Duration,
    /// How many times a failed delivery is tried again.
    pub retries: u32,
    /// The backoff before the first retry, doubled for each next one, with jitter.
    pub backoff: Duration,
    /// The longest backoff, and the most a `Retry-After` answer is waited for.
    pub max_backoff: Duration,
    /// The secret of the targets that have none of their own.
    pub secret: Option<Secret>,
    /// Whether payloads carry the check's message, value and threshold (`false`: statuses and
    /// names only).
    pub details: bool,
    /// The service name in payloads; `None`: the program's name.
    pub service: Option<String>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            targets: Vec::new(),
            checks: Vec::new(),
            on: vec![Status::Warning, Status::Critical],
            restored: true,
            min_interval: Duration::from_secs(30),
            flap_window: Duration::from_secs(300),
            flap_threshold: 5,
            queue: 256,
            timeout: Duration::from_secs(10),
            retries: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            secret: None,
            details: true,
            service: None,
        }
    }
}

impl NotifySettings {
    /// The defaults, with no target yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a target.
    pub fn target(mut self, target: Target) -> Self {
        self.targets.push(target);
        self
    }

    /// Notifies only the checks named, and the checks of the probe groups named (`liveness`,
    /// `readiness`, `startup`).
    pub fn checks<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.checks = names.into_iter().map(Into::into).collect();
        self
    }

    /// The statuses whose entry is notified (`warning`, `critical`).
    pub fn on(mut self, statuses: impl IntoIterator<Item = Status>) -> Self {
        self.on = statuses.into_iter().collect();
        self
    }

    /// Whether recoveries are notified (`restored`; default yes).
    pub fn restored(mut self, restored: bool) -> Self {
        self.restored = restored;
        self
    }

    /// The least time between two notifications of one check (default 30 s).
    pub fn min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }

    /// Flap damping: `threshold` transitions inside `window` make a check flapping (default 5
    /// in 5 minutes; a threshold of `0` turns it off).
    pub fn flap(mut self, window: Duration, threshold: u32) -> Self {
        self.flap_window = window;
        self.flap_threshold = threshold;
        self
    }

    /// How many notifications each target's queue holds (default 256).
    pub fn queue(mut self, capacity: usize) -> Self {
        self.queue = capacity;
        self
    }

    /// The deadline of each request (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many times a failed delivery is tried again (default 5).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The backoff before the first retry and the longest one (default 1 s and 60 s).
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = first;
        self.max_backoff = max;
        self
    }

    /// The secret of every target that has none of its own.
    pub fn secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Whether payloads carry messages, values and thresholds (default yes).
    pub fn details(mut self, details: bool) -> Self {
        self.details = details;
        self
    }

    /// The service name in payloads (default: the program's name).
    pub fn service(mut self, name: impl Into<String>) -> Self {
        self.service = Some(name.into());
        self
    }

    /// Whether any notification can go out.
    pub fn is_enabled(&self) -> bool {
        !self.targets.is_empty()
    }
}

/// One webhook: its URL, the payload format, and its own secret if it has one.
///
/// The URL is checked when the runtime is built. Its `Debug` output, and every log line, error
/// and metric label about it, show `scheme://host:port` only: the path, the query and the user
/// info can hold the secret (a Slack webhook URL's path is its secret).
#[derive(Clone, PartialEq)]
#[must_use]
pub struct Target {
    pub(crate) url: String,
    pub(crate) format: Format,
    pub(crate) secret: Option<Secret>,
}

impl Target {
    /// A target receiving the generic JSON payload.
    pub fn json(url: impl Into<String>) -> Self {
        Target::new(url, Format::Json)
    }

    /// A Slack incoming webhook.
    pub fn slack(url: impl Into<String>) -> Self {
        Target::new(url, Format::Slack)
    }

    /// A target receiving `format`.
    pub fn new(url: impl Into<String>, format: Format) -> Self {
        Target {
            url: url.into(),
            format,
            secret: None,
        }
    }

    /// This target's own secret, instead of the settings' one.
    pub fn secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// The payload format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The target as it is shown: `scheme://host:port`, nothing of the path, query or user
    /// info.
    pub fn address(&self) -> String {
        redacted(&self.url)
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("address", &self.address())
            .field("format", &self.format)
            .field("secret", &self.secret)
            .finish()
    }
}

/// The body a target receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// The generic JSON payload (see the [module documentation](crate::notify)).
    #[default]
    Json,
    /// A Slack incoming webhook message: `text` and `blocks`.
    Slack,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Format::Json),
            "slack" => Ok(Format::Slack),
            _ => Err("expected `json` or `slack`".to_owned()),
        }
    }
}

/// How a target proves a notification came from here. Its `Debug` output never shows it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Secret {
    /// Signs each body following the Standard Webhooks specification
    /// (<https://www.standardwebhooks.com/>): `webhook-signature: v1,<base64 HMAC-SHA256 of
    /// "id.timestamp.body">`. A secret starting `whsec_` is base64 after the prefix; any other is
    /// used as its bytes.
    Signing(String),
    /// Sends the secret as the value of the header named.
    Header {
        /// The header's name.
        name: String,
        /// Its value.
        value: String,
    },
}

impl Secret {
    /// Signing with `secret` (Standard Webhooks).
    pub fn signing(secret: impl Into<String>) -> Self {
        Secret::Signing(secret.into())
    }

    /// `value` sent as header `name`.
    pub fn header(name: impl Into<String>, value: impl Into<String>) -> Self {
        Secret::Header {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Signing(_) => f.write_str("Signing(<redacted>)"),
            Secret::Header { name, .. } => f
                .debug_struct("Header")
                .field("name", name)
                .field("value", &"<redacted>")
                .finish(),
        }
    }
}

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

/// The largest queue a target may have.
pub(crate) const MAX_QUEUE: usize = 65_536;
/// The most retries of one notification.
pub(crate) const MAX_RETRIES: u32 = 100;
/// The largest flap threshold (the transitions a check keeps in its window are bounded by it).
pub(crate) const MAX_FLAP_THRESHOLD: u32 = 1_000;

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

/// A name in [`NotifySettings::checks`]: a probe group or what could be a check name.
pub(crate) fn check_selection(name: &str) -> Result<(), String> {
    if name.parse::<Group>().is_ok() {
        return Ok(());
    }
    health_rules::name::check(name)
        .map_err(|problem| format!("{name:?} cannot name a check: {}", problem.fault()))
}

impl NotifySettings {
    /// Every target checked and ready, or the first problem.
    pub(crate) fn resolve(&self) -> Result<Vec<Resolved>, NotifyError> {
        let setting = |setting, problem: &str| NotifyError::Setting {
            setting,
            problem: problem.to_owned(),
        };
        check_on(&self.on).map_err(|problem| setting("on", &problem))?;
        for name in &self.checks {
            check_selection(name).map_err(|problem| setting("checks", &problem))?;
        }
        if self.queue == 0 || self.queue > MAX_QUEUE {
            return Err(setting("queue", "it must be between 1 and 65536"));
        }
        if self.timeout.is_zero() {
            return Err(setting("timeout", "it must be greater than zero"));
        }
        if self.retries > MAX_RETRIES {
            return Err(setting("retries", "it must be at most 100"));
        }
        if self.backoff.is_zero() || self.max_backoff < self.backoff {
            return Err(setting(
                "backoff",
                "the first backoff must be greater than zero and at most the longest",
            ));
        }
        if self.flap_threshold == 1 || self.flap_threshold > MAX_FLAP_THRESHOLD {
            return Err(setting(
                "flap",
                "the threshold must be 0 (off) or between 2 and 1000",
            ));
        }
        if self.flap_threshold > 0 && self.flap_window.is_zero() {
            return Err(setting("flap", "the window must be greater than zero"));
        }
        self.targets
            .iter()
            .map(|target| {
                let (url, address) =
                    parse_url(&target.url).map_err(|problem| NotifyError::Url {
                        url: redacted(&target.url),
                        problem,
                    })?;
                let secret = target
                    .secret
                    .as_ref()
                    .or(self.secret.as_ref())
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

/// `scheme://host:port`, the port spelt out even when it is the scheme's default.
fn address(url: &Url) -> Option<String> {
    let host = url.host_str().filter(|host| !host.is_empty())?;
    let port = url.port_or_known_default()?;
    Some(format!("{}://{host}:{port}", url.scheme()))
}

/// What may be shown of a target URL, parsed or not: scheme, host and port, with `/***` where a
/// path, query or fragment was and `***@` where user info was.
pub(crate) fn redacted(raw: &str) -> String {
    if let Ok(url) = Url::parse(raw)
        && let Some(address) = address(&url)
    {
        let hidden = url.path() != "/" || url.query().is_some() || url.fragment().is_some();
        let user = !url.username().is_empty() || url.password().is_some();
        let address = if user {
            address.replacen("://", "://***@", 1)
        } else {
            address
        };
        return if hidden {
            format!("{address}/***")
        } else {
            address
        };
    }
    // Not a URL: what looks like `scheme://host:port`, from the text alone.
    crate::config::redact_target(raw)
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
    fn addresses_keep_scheme_host_and_port_only() {
        for (raw, shown) in [
            (
                "https://hooks.slack.com/services/T0/B0/SECRET",
                "https://hooks.slack.com:443/***",
            ),
            ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
            ("http://u:SECRET@host:81/", "http://***@host:81"),
            ("https://host/?token=SECRET", "https://host:443/***"),
            ("http://[::1]:8080/x", "http://[::1]:8080/***"),
            ("hooks.slack.com/services/SECRET", "hooks.slack.com/***"),
            ("ftp://u:SECRET@host/SECRET", "ftp://***@host:21/***"),
            ("http://u:SECRET@/SECRET", "http://***@/***"),
            ("http:// bad host/SECRET", "http:// bad host/***"),
        ] {
            assert_eq!(redacted(raw), shown, "{raw}");
        }
    }

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
    fn secrets_resolve_and_never_show() {
        let settings = NotifySettings::new()
            .target(Target::json("http://127.0.0.1:1/hook"))
            .secret(Secret::signing("whsec_c2VjcmV0"));
        assert!(settings.resolve().is_ok());
        assert!(!format!("{settings:?}").contains("c2VjcmV0"));
        let bad = settings.clone().secret(Secret::signing("whsec_!!"));
        let error = bad.resolve().unwrap_err();
        assert!(matches!(error, NotifyError::Secret { .. }), "{error}");
        assert!(!error.to_string().contains("!!"), "{error}");
        let header = Secret::header("x-token", "SECRET");
        assert!(!format!("{header:?}").contains("SECRET"));
    }
}
