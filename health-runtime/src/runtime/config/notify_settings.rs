//! The notification settings ([`NotifySettings`], read from `PLUGIN_HEALTH_NOTIFY_*`): plain
//! data, the same whatever the features; the `notify` surface checks and sends them.

use std::fmt;
use std::time::Duration;

use super::{ConfigError, Vars, parse_bool};
use crate::{Group, Status};

/// Transition notifications over webhooks: where they go and which ones go.
///
/// Read from the `PLUGIN_HEALTH_NOTIFY_*` variables (see [`HealthConfig`](crate::HealthConfig)),
/// or built in code and handed to
/// [`HealthRuntimeBuilder::notify`](crate::HealthRuntimeBuilder::notify), which wins over the
/// configuration. With no target, nothing is notified. Sending needs health-runtime's `notify`
/// feature (the `notify` module, which re-exports these types): without it, a target is an error
/// naming the feature, from the configuration and from the builder.
///
/// ```
/// use std::time::Duration;
/// use health_runtime::Status;
/// use health_runtime::config::{NotifySettings, Secret, Target};
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
        target_address(&self.url)
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
    /// The generic JSON payload (see the `notify` module).
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
    ///
    /// Use a `whsec_` secret: the reference Standard Webhooks libraries always base64-decode
    /// the secret (after the prefix, if any), so a receiver verifying with one of them computes
    /// another key from a secret used as raw bytes here, and every signature fails to verify. A
    /// signing secret without the prefix is logged as a warning when the runtime is built.
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
    ///
    /// The name cannot be one of the headers every notification sets: `Content-Type`,
    /// `Content-Length`, `Host`, or a `webhook-*` header of the Standard Webhooks
    /// specification. Over `http://`, the secret travels in clear text: a warning says so when
    /// the runtime is built.
    pub fn header(name: impl Into<String>, value: impl Into<String>) -> Self {
        Secret::Header {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Why header `name` cannot carry a secret, if it cannot: every request sets it already.
    pub(crate) fn header_clash(name: &str) -> Option<String> {
        let lower = name.to_ascii_lowercase();
        let clashes = matches!(lower.as_str(), "content-type" | "content-length" | "host")
            || lower.starts_with("webhook-");
        clashes.then(|| {
            format!(
                "`{name}` is a header every notification sets (`Content-Type`, \
                 `Content-Length`, `Host`, `webhook-*`); name another, such as `X-Webhook-Token`"
            )
        })
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

/// The largest queue a target may have.
pub(crate) const MAX_QUEUE: usize = 65_536;
/// The most retries of one notification.
pub(crate) const MAX_RETRIES: u32 = 100;
/// The largest flap threshold (the transitions a check keeps in its window are bounded by it).
pub(crate) const MAX_FLAP_THRESHOLD: u32 = 1_000;

/// A name in [`NotifySettings::checks`]: a probe group or what could be a check name.
pub(crate) fn check_selection(name: &str) -> Result<(), String> {
    if name.parse::<Group>().is_ok() {
        return Ok(());
    }
    health_rules::name::check(name)
        .map_err(|problem| format!("{name:?} cannot name a check: {}", problem.fault()))
}

impl NotifySettings {
    /// The `PLUGIN_HEALTH_NOTIFY_*` variables.
    pub(super) fn read(
        vars: &Vars<'_, impl Fn(&str) -> Option<String>>,
    ) -> Result<NotifySettings, ConfigError> {
        let mut notify = NotifySettings::default();
        let list = |value: &str| -> Vec<String> {
            value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let mut format = Format::Json;
        vars.parse("PLUGIN_HEALTH_NOTIFY_FORMAT", &mut format, |value| {
            value.to_ascii_lowercase().parse()
        })?;
        if let Some(urls) = vars.get("PLUGIN_HEALTH_NOTIFY_URL") {
            for url in list(&urls) {
                if let Err(problem) = crate::check_notify_url(&url) {
                    return Err(vars.error(
                        "PLUGIN_HEALTH_NOTIFY_URL",
                        &redact_targets(&url),
                        problem,
                    ));
                }
                notify.targets.push(Target::new(url, format));
            }
        }
        vars.parse("PLUGIN_HEALTH_NOTIFY_CHECKS", &mut notify.checks, |value| {
            let names = list(value);
            for name in &names {
                check_selection(name)?;
            }
            Ok(names)
        })?;
        vars.parse("PLUGIN_HEALTH_NOTIFY_ON", &mut notify.on, |value| {
            let mut on = Vec::new();
            for word in list(value) {
                match word.to_ascii_lowercase().as_str() {
                    "warning" => on.push(Status::Warning),
                    "critical" => on.push(Status::Critical),
                    _ => {
                        return Err(format!(
                            "{word:?} is not a problem status; expected `warning`, `critical` or \
                         `warning,critical`"
                        ));
                    }
                }
            }
            if on.is_empty() {
                on = NotifySettings::default().on;
            }
            Ok(on)
        })?;
        vars.parse(
            "PLUGIN_HEALTH_NOTIFY_RESTORED",
            &mut notify.restored,
            parse_bool,
        )?;
        vars.duration(
            "PLUGIN_HEALTH_NOTIFY_MIN_INTERVAL",
            &mut notify.min_interval,
            false,
        )?;
        vars.duration(
            "PLUGIN_HEALTH_NOTIFY_FLAP_WINDOW",
            &mut notify.flap_window,
            true,
        )?;
        vars.parse(
            "PLUGIN_HEALTH_NOTIFY_FLAP_THRESHOLD",
            &mut notify.flap_threshold,
            |value| {
                let max = MAX_FLAP_THRESHOLD;
                match value.parse::<u32>() {
                    Ok(threshold) if threshold != 1 && threshold <= max => Ok(threshold),
                    _ => Err(format!(
                        "expected a number of transitions from 2 to {max}, or 0 for no flap damping"
                    )),
                }
            },
        )?;
        vars.parse("PLUGIN_HEALTH_NOTIFY_QUEUE", &mut notify.queue, |value| {
            let max = MAX_QUEUE;
            match value.parse::<usize>() {
                Ok(queue) if (1..=max).contains(&queue) => Ok(queue),
                _ => Err(format!(
                    "expected a number of notifications from 1 to {max}"
                )),
            }
        })?;
        vars.duration("PLUGIN_HEALTH_NOTIFY_TIMEOUT", &mut notify.timeout, true)?;
        vars.parse(
            "PLUGIN_HEALTH_NOTIFY_RETRIES",
            &mut notify.retries,
            |value| {
                let max = MAX_RETRIES;
                match value.parse::<u32>() {
                    Ok(retries) if retries <= max => Ok(retries),
                    _ => Err(format!("expected a number of retries from 0 to {max}")),
                }
            },
        )?;
        let header = vars
            .get("PLUGIN_HEALTH_NOTIFY_SECRET_HEADER")
            .filter(|name| !name.is_empty());
        if let Some(name) = &header {
            if http::HeaderName::try_from(name.as_str()).is_err() {
                return Err(vars.error(
                    "PLUGIN_HEALTH_NOTIFY_SECRET_HEADER",
                    name,
                    "expected a header name such as `X-Webhook-Token`".to_owned(),
                ));
            }
            if let Some(problem) = Secret::header_clash(name) {
                return Err(vars.error("PLUGIN_HEALTH_NOTIFY_SECRET_HEADER", name, problem));
            }
        }
        // The value is a secret: errors name the variable and what is wrong, never the value.
        let secret_error = |problem: String| ConfigError {
            variable: "PLUGIN_HEALTH_NOTIFY_SECRET",
            value: "<redacted>".to_owned(),
            problem,
        };
        if let Some(secret) = vars
            .get("PLUGIN_HEALTH_NOTIFY_SECRET")
            .filter(|secret| !secret.is_empty())
        {
            let secret = match header {
                Some(name) => Secret::header(name, secret),
                None => Secret::signing(secret),
            };
            crate::check_notify_secret(&secret).map_err(secret_error)?;
            notify.secret = Some(secret);
        } else if let Some(name) = &header {
            return Err(vars.error(
                "PLUGIN_HEALTH_NOTIFY_SECRET_HEADER",
                name,
                "it names the header of PLUGIN_HEALTH_NOTIFY_SECRET, which is not set".to_owned(),
            ));
        }
        vars.parse(
            "PLUGIN_HEALTH_NOTIFY_DETAILS",
            &mut notify.details,
            parse_bool,
        )?;
        if let Some(service) = vars.get("PLUGIN_HEALTH_NOTIFY_SERVICE") {
            notify.service = (!service.is_empty()).then_some(service);
        }
        Ok(notify)
    }
}

/// A comma list of target URLs as it may be shown (see [`redact_target`]).
fn redact_targets(urls: &str) -> String {
    urls.split(',')
        .map(|url| redact_target(url.trim()))
        .collect::<Vec<_>>()
        .join(",")
}

/// A target URL's parts as its text gives them: the scheme, whether there is user info, the
/// host (and port), whether anything follows the host.
fn split(raw: &str) -> (Option<&str>, bool, &str, bool) {
    let raw = raw.trim();
    let (scheme, rest) = match raw.split_once("://") {
        Some((scheme, rest))
            if scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            (Some(scheme), rest)
        }
        _ => (None, raw),
    };
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let (user, host) = match authority.rfind('@') {
        Some(at) => (true, &authority[at + 1..]),
        None => (false, authority),
    };
    (scheme, user, host, end < rest.len())
}

/// `scheme://host` with the port spelt out (the scheme's default for `http` and `https`).
fn scheme_host_port(scheme: Option<&str>, host: &str) -> String {
    let host = host.to_ascii_lowercase();
    let has_port = match host.rfind(']') {
        Some(close) => host[close + 1..].starts_with(':'),
        None => host.contains(':'),
    };
    let scheme = scheme.map(str::to_ascii_lowercase);
    let port = match scheme.as_deref() {
        _ if has_port || host.is_empty() => "",
        Some("http") => ":80",
        Some("https") => ":443",
        _ => "",
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{host}{port}"),
        None => host,
    }
}

/// Whether `host` (with its port, if any) reads as a URL's host: a name or an IPv4 address
/// of the characters a host may have, or a bracketed IPv6 address, and digits after a `:`. A
/// malformed URL's text does not say where its user info ends (`https://user:pa/ss@host/x`
/// makes `user:pa` look like the host): such a "host" is not shown.
fn plain_host(host: &str) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((address, rest)) => {
                let address_ok = !address.is_empty()
                    && address
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.'));
                if !address_ok {
                    return false;
                }
                match rest {
                    "" => return true,
                    rest => match rest.strip_prefix(':') {
                        Some(port) => ("v6", Some(port)),
                        None => return false,
                    },
                }
            }
            None => return false,
        },
        None => match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        },
    };
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'));
    let port_ok = port.is_none_or(|port| {
        !port.is_empty() && port.len() <= 5 && port.chars().all(|c| c.is_ascii_digit())
    });
    name_ok && port_ok
}

/// Where a target URL points, as logs, errors, metrics labels and `Debug` output show it:
/// `scheme://host:port`, nothing of the path, the query or the user info; `scheme://***` for
/// a URL whose host cannot be told apart from the rest.
pub(crate) fn target_address(raw: &str) -> String {
    let (scheme, _, host, _) = split(raw);
    if !host.is_empty() && !plain_host(host) {
        return hidden(scheme);
    }
    scheme_host_port(scheme, host)
}

/// `scheme://***`: a malformed URL shown by its scheme alone.
fn hidden(scheme: Option<&str>) -> String {
    match scheme {
        Some(scheme) => format!("{}://***", scheme.to_ascii_lowercase()),
        None => "***".to_owned(),
    }
}

/// A target URL as an error shows it: [`target_address`], with `***@` where user info was and
/// `/***` where a path, a query or a fragment was (a Slack webhook's path is its secret).
pub(crate) fn redact_target(raw: &str) -> String {
    let (scheme, user, host, rest) = split(raw);
    if !host.is_empty() && !plain_host(host) {
        return hidden(scheme);
    }
    let mut shown = scheme_host_port(scheme, host);
    if user {
        let at = shown.find("://").map_or(0, |at| at + 3);
        shown.insert_str(at, "***@");
    }
    if rest {
        shown.push_str("/***");
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_keep_scheme_host_and_port_only() {
        for (raw, address, redacted) in [
            (
                "https://hooks.slack.com/services/T0/B0/SECRET",
                "https://hooks.slack.com:443",
                "https://hooks.slack.com:443/***",
            ),
            (
                "http://127.0.0.1:9000",
                "http://127.0.0.1:9000",
                "http://127.0.0.1:9000",
            ),
            (
                "HTTP://u:SECRET@Host:81/",
                "http://host:81",
                "http://***@host:81/***",
            ),
            (
                "https://host?token=SECRET",
                "https://host:443",
                "https://host:443/***",
            ),
            (
                "http://[::1]:8080/x",
                "http://[::1]:8080",
                "http://[::1]:8080/***",
            ),
            ("http://[::1]/x", "http://[::1]:80", "http://[::1]:80/***"),
            (
                "hooks.slack.com/services/SECRET",
                "hooks.slack.com",
                "hooks.slack.com/***",
            ),
            (
                "ftp://u:SECRET@host/SECRET",
                "ftp://host",
                "ftp://***@host/***",
            ),
            ("http://u:SECRET@/SECRET", "http://", "http://***@/***"),
            // Malformed: where the user info ends cannot be told; nothing after the scheme.
            ("https://user:pa/ss@host/x", "https://***", "https://***"),
            ("https://user:SECRET/x@host", "https://***", "https://***"),
            (
                "http://SE CRET@host/",
                "http://host:80",
                "http://***@host:80/***",
            ),
            ("http://SE CRET/x", "http://***", "http://***"),
            ("http://[::1/SECRET", "http://***", "http://***"),
            ("http://host:99999999/x", "http://***", "http://***"),
            ("hooks:SECRET/x", "***", "***"),
            (
                "http://u:p@ss@host#SECRET",
                "http://host:80",
                "http://***@host:80/***",
            ),
        ] {
            assert_eq!(target_address(raw), address, "{raw}");
            assert_eq!(redact_target(raw), redacted, "{raw}");
        }
    }

    #[test]
    fn the_target_url_needs_the_feature_or_is_checked_by_it() {
        let url = "https://hooks.slack.com/services/T0/B0/SECRET";
        let read = crate::HealthConfig::from_pairs([("PLUGIN_HEALTH_NOTIFY_URL", url)]);
        if crate::NOTIFY_COMPILED {
            assert_eq!(read.map(|config| config.notify.targets.len()), Ok(1));
        } else {
            let error = read.unwrap_err();
            assert_eq!(error.variable, "PLUGIN_HEALTH_NOTIFY_URL");
            assert_eq!(error.value, "https://hooks.slack.com:443/***");
            assert!(error.problem.contains("`notify` feature"), "{error}");
        }
        assert!(crate::HealthConfig::from_pairs([("PLUGIN_HEALTH_NOTIFY_URL", "")]).is_ok());
    }
}
