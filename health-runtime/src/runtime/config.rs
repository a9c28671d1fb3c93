//! The configuration: [`HealthConfig`], read from `PLUGIN_*` variables, grouped by concern.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use health_rules::defaults;

/// Settings read from `PLUGIN_HEALTH_*` and `PLUGIN_RESOURCE_*` environment variables, grouped
/// by what they concern.
///
/// | variable | field | default |
/// |---|---|---|
/// | `PLUGIN_HEALTH_CHECK_INTERVAL` | [`checks.interval`](CheckDefaults::interval) | `30` (seconds; `30s`, `500ms`, `1m 30s` also) |
/// | `PLUGIN_HEALTH_DEFAULT_TIMEOUT` | [`checks.timeout`](CheckDefaults::timeout) | `5s` |
/// | `PLUGIN_HEALTH_CACHE_TTL` | [`checks.cache_ttl`](CheckDefaults::cache_ttl) | `1s` |
/// | `PLUGIN_HEALTH_DRAIN_DELAY` | [`checks.drain_delay`](CheckDefaults::drain_delay) | `5s` |
/// | `PLUGIN_RESOURCE_METRICS` | [`resources.enabled`](ResourceSettings::enabled) | `true` (`false` leaves out `cpu_usage`, `memory_usage`, `disk_usage`) |
/// | `PLUGIN_RESOURCE_CPU_THRESHOLD` | [`resources.cpu_threshold`](ResourceSettings::cpu_threshold) | `80` (percent) |
/// | `PLUGIN_RESOURCE_MEMORY_THRESHOLD` | [`resources.memory_threshold`](ResourceSettings::memory_threshold) | `85` |
/// | `PLUGIN_RESOURCE_DISK_THRESHOLD` | [`resources.disk_threshold`](ResourceSettings::disk_threshold) | `90` |
/// | `PLUGIN_RESOURCE_SAMPLE_INTERVAL` | [`resources.sample_interval`](ResourceSettings::sample_interval) | `5s` (> 0) |
/// | `PLUGIN_RESOURCE_DISK_PATH` | [`resources.disk_path`](ResourceSettings::disk_path) | the working directory (empty: the same) |
/// | `PLUGIN_HEALTH_REQUEST_METRICS` | [`requests.enabled`](RequestSettings::enabled) | `true` (`false` leaves out the request statistics checks) |
/// | `PLUGIN_HEALTH_HTTP_ADDR` | [`surfaces.http_addr`](SurfaceSettings::http_addr) | `0.0.0.0:8080` (empty: no HTTP) |
/// | `PLUGIN_HEALTH_HTTP_ALLOWED_HOSTS` | [`surfaces.allowed_hosts`](SurfaceSettings::allowed_hosts) | loopback names and IP addresses when HTTP is bound to loopback, any otherwise (`*`: any; else a comma list) |
/// | `PLUGIN_HEALTH_PROBE_ADDR` | [`surfaces.probe_addr`](SurfaceSettings::probe_addr) | unset (a plaintext listener for `grpc.health.v1` and the HTTP probe paths only) |
/// | `PLUGIN_HEALTH_TLS_CERT` | [`surfaces.tls`](SurfaceSettings::tls) ([`TlsFiles::cert`]) | unset (PEM certificate chain; TLS on gRPC and HTTP) |
/// | `PLUGIN_HEALTH_TLS_KEY` | [`surfaces.tls`](SurfaceSettings::tls) ([`TlsFiles::key`]) | unset (PEM private key; required with the certificate) |
/// | `PLUGIN_HEALTH_TLS_CLIENT_CA` | [`surfaces.tls`](SurfaceSettings::tls) ([`TlsFiles::client_ca`]) | unset (PEM CAs; set: clients must present a certificate they signed) |
/// | `PLUGIN_HEALTH_SHUTDOWN_GRACE` | [`surfaces.shutdown_grace`](SurfaceSettings::shutdown_grace) | `5s` (after the drain, how long open requests may finish before connections are cut) |
/// | `PLUGIN_HEALTH_FILE_PATH` | [`surfaces.health_file`](SurfaceSettings::health_file) | `/tmp/health` (empty: no file) |
/// | `PLUGIN_ENABLE_PROMETHEUS` | [`surfaces.prometheus`](SurfaceSettings::prometheus) | `false` |
/// | `PLUGIN_HEALTH_UI` | [`surfaces.status_page`](SurfaceSettings::status_page) | `true` (`false`: no status page at `/health/ui`) |
/// | `PLUGIN_HEALTH_SHOW_DETAILS` | [`details.level`](DetailSettings::level) | `when-authorized` |
/// | `PLUGIN_HEALTH_AUTH_TOKEN` | [`details.token`](DetailSettings::token) | unset |
/// | `PLUGIN_HEALTH_NOTIFY_URL` | [`notify.targets`](NotifySettings::targets) | unset (a comma list of http(s) URLs: webhooks on transitions; needs the `notify` feature) |
/// | `PLUGIN_HEALTH_NOTIFY_FORMAT` | each [target](Target)'s [format](Format) | `json` (`slack`: a Slack incoming webhook message) |
/// | `PLUGIN_HEALTH_NOTIFY_CHECKS` | [`notify.checks`](NotifySettings::checks) | every check (else a comma list of check names and probe groups) |
/// | `PLUGIN_HEALTH_NOTIFY_ON` | [`notify.on`](NotifySettings::on) | `warning,critical` |
/// | `PLUGIN_HEALTH_NOTIFY_RESTORED` | [`notify.restored`](NotifySettings::restored) | `true` |
/// | `PLUGIN_HEALTH_NOTIFY_MIN_INTERVAL` | [`notify.min_interval`](NotifySettings::min_interval) | `30s` (per check; `0`: no limit) |
/// | `PLUGIN_HEALTH_NOTIFY_FLAP_WINDOW` | [`notify.flap_window`](NotifySettings::flap_window) | `5m` |
/// | `PLUGIN_HEALTH_NOTIFY_FLAP_THRESHOLD` | [`notify.flap_threshold`](NotifySettings::flap_threshold) | `5` (transitions in the window; `0`: no flap damping) |
/// | `PLUGIN_HEALTH_NOTIFY_QUEUE` | [`notify.queue`](NotifySettings::queue) | `256` (per target, 1 to 65536) |
/// | `PLUGIN_HEALTH_NOTIFY_TIMEOUT` | [`notify.timeout`](NotifySettings::timeout) | `10s` (per request) |
/// | `PLUGIN_HEALTH_NOTIFY_RETRIES` | [`notify.retries`](NotifySettings::retries) | `5` (at most 100) |
/// | `PLUGIN_HEALTH_NOTIFY_SECRET` | [`notify.secret`](NotifySettings::secret) | unset (signs bodies per Standard Webhooks; `whsec_` + base64, or any bytes) |
/// | `PLUGIN_HEALTH_NOTIFY_SECRET_HEADER` | [`notify.secret`](NotifySettings::secret) | unset (set: the secret is sent as this header's value instead) |
/// | `PLUGIN_HEALTH_NOTIFY_DETAILS` | [`notify.details`](NotifySettings::details) | `true` (`false`: statuses and names only) |
/// | `PLUGIN_HEALTH_NOTIFY_SERVICE` | [`notify.service`](NotifySettings::service) | the program's name (the `service.name` of payloads) |
///
/// A malformed value is an error naming the variable and the value, never a silent default.
/// Durations take the one grammar of the whole project, the same strings `#[health_check]`
/// accepts. Variables of HashiCorp go-plugin (`PLUGIN_MIN_PORT`, `PLUGIN_PROTOCOL_VERSIONS`, ...)
/// are never read.
///
/// ```
/// use std::time::Duration;
/// use health_runtime::HealthConfig;
///
/// let config = HealthConfig::from_pairs([
///     ("PLUGIN_HEALTH_CHECK_INTERVAL", "1m 30s"),
///     ("PLUGIN_RESOURCE_CPU_THRESHOLD", "95"),
/// ])?;
/// assert_eq!(config.checks.interval, Duration::from_secs(90));
/// assert_eq!(config.resources.cpu_threshold, 95.0);
///
/// let error = HealthConfig::from_pairs([("PLUGIN_HEALTH_CACHE_TTL", "soon")]).unwrap_err();
/// assert!(error.to_string().starts_with("PLUGIN_HEALTH_CACHE_TTL=\"soon\""));
/// # Ok::<(), health_runtime::config::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct HealthConfig {
    /// How checks run: the defaults of those that set nothing, the cache, the drain.
    pub checks: CheckDefaults,
    /// The system resource indicators.
    pub resources: ResourceSettings,
    /// The request statistics indicators.
    pub requests: RequestSettings,
    /// Where the health surfaces are served.
    pub surfaces: SurfaceSettings,
    /// Who may see check details.
    pub details: DetailSettings,
    /// How much per-check history is kept ([`history`](crate::history)).
    pub history: HistorySettings,
    /// Transition notifications over webhooks (sent by the `notify` feature).
    pub notify: NotifySettings,
}

mod notify_settings;

pub use notify_settings::{Format, NotifySettings, Secret, Target};
// For the `notify` surface, when it is compiled in.
#[allow(unused_imports)]
pub(crate) use notify_settings::{
    MAX_FLAP_THRESHOLD, MAX_QUEUE, MAX_RETRIES, check_selection, redact_target,
};

/// How much per-check history ([`history`](crate::history)) is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistorySettings {
    /// The most transitions kept per check; `0` keeps no history at all (no uptime either).
    pub per_check: usize,
    /// The most transitions kept over every check; `0` keeps no history at all.
    pub total: usize,
    /// Whether a removed check's history is kept for a check registered again under its name.
    pub keep_removed: bool,
}

impl Default for HistorySettings {
    fn default() -> Self {
        HistorySettings {
            per_check: 128,
            total: 16_384,
            keep_removed: false,
        }
    }
}

/// How checks run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CheckDefaults {
    /// The background re-run period of checks that set no `interval`.
    pub interval: Duration,
    /// The deadline of checks that set no `timeout`.
    pub timeout: Duration,
    /// How long a result is served from cache.
    pub cache_ttl: Duration,
    /// How long watchers see `NOT_SERVING` after shutdown before their streams end.
    pub drain_delay: Duration,
}

impl Default for CheckDefaults {
    fn default() -> Self {
        CheckDefaults {
            interval: defaults::INTERVAL,
            timeout: defaults::TIMEOUT,
            cache_ttl: defaults::CACHE_TTL,
            drain_delay: defaults::DRAIN_DELAY,
        }
    }
}

/// The system resource indicators (`cpu_usage`, `memory_usage`, `disk_usage`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ResourceSettings {
    /// Whether the system resource indicators added to the builder are registered.
    pub enabled: bool,
    /// CPU usage, in percent, above which `cpu_usage` is critical (warning above 80 % of it).
    pub cpu_threshold: f64,
    /// Memory usage, in percent, above which `memory_usage` is critical.
    pub memory_threshold: f64,
    /// Disk usage, in percent, above which `disk_usage` is critical.
    pub disk_threshold: f64,
    /// How often system resources are sampled.
    pub sample_interval: Duration,
    /// A path on the filesystem whose usage `disk_usage` reports; `None` for the working
    /// directory.
    pub disk_path: Option<PathBuf>,
}

impl Default for ResourceSettings {
    fn default() -> Self {
        ResourceSettings {
            enabled: true,
            cpu_threshold: 80.0,
            memory_threshold: 85.0,
            disk_threshold: 90.0,
            sample_interval: Duration::from_secs(5),
            disk_path: None,
        }
    }
}

/// The request statistics indicators (`request_success_rate`, `avg_response_time`,
/// `p99_response_time`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RequestSettings {
    /// Whether the request statistics indicators added to the builder are registered.
    pub enabled: bool,
}

impl Default for RequestSettings {
    fn default() -> Self {
        RequestSettings { enabled: true }
    }
}

/// Where the health surfaces are served.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SurfaceSettings {
    /// Where the HTTP probes listen; `None` for no HTTP server.
    pub http_addr: Option<SocketAddr>,
    /// Where the health file for exec probes is written; `None` for no file.
    pub health_file: Option<PathBuf>,
    /// Whether `/metrics` serves Prometheus metrics.
    pub prometheus: bool,
    /// Whether the HTTP surface serves the status page at `/health/ui`. The JSON and event
    /// endpoints it reads (`/health/history`, `/health/events`) stay either way.
    pub status_page: bool,
    /// Which `Host` header values the HTTP surface answers, against DNS rebinding.
    pub allowed_hosts: AllowedHosts,
    /// Where a plaintext listener serves `grpc.health.v1` (`Check`, `Watch`, `List`) and the
    /// HTTP probe paths, and nothing else, for kubelets and load balancers when the main ports
    /// use TLS; `None` for none.
    pub probe_addr: Option<SocketAddr>,
    /// TLS (and mutual TLS) for gRPC and the HTTP surface; `None` for plaintext.
    pub tls: Option<TlsFiles>,
    /// After the drain delay, how long open requests may finish before every connection is cut,
    /// whatever its client does.
    pub shutdown_grace: Duration,
    /// What one client may hold of the servers: connections, streams, time.
    pub limits: ConnectionLimits,
    /// How long the application's runtime may run no task before the probe port answers
    /// `NOT_SERVING` to `Check`, `List` and the HTTP probes: its published state would no
    /// longer be the process's.
    pub probe_stall_timeout: Duration,
}

impl Default for SurfaceSettings {
    fn default() -> Self {
        SurfaceSettings {
            http_addr: Some(SocketAddr::from(([0, 0, 0, 0], 8080))),
            health_file: Some(PathBuf::from("/tmp/health")),
            prometheus: false,
            status_page: true,
            allowed_hosts: AllowedHosts::default(),
            probe_addr: None,
            tls: None,
            shutdown_grace: Duration::from_secs(5),
            limits: ConnectionLimits::default(),
            probe_stall_timeout: Duration::from_secs(10),
        }
    }
}

/// Which `Host` header values the HTTP surface answers. A page on another site that resolves its
/// own name to this server (DNS rebinding) sends its own name as `Host`, and is refused with
/// `421 Misdirected Request`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AllowedHosts {
    /// When the HTTP surface is bound to a loopback address: `localhost`, names ending in
    /// `.localhost` and IP addresses (which no rebinding can forge); any host otherwise.
    #[default]
    Default,
    /// Any host.
    Any,
    /// Only these host names or addresses (lowercase, without port), and IP addresses bound.
    Only(Vec<String>),
}

/// The files of the TLS configuration, read when serving starts; a missing, unreadable or
/// malformed file is an error naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsFiles {
    /// The PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// The PEM private key of the certificate (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM certificate authorities; when set, clients must present a certificate one of them
    /// signed (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    /// TLS with the certificate chain at `cert` and its key at `key`.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        TlsFiles {
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
        }
    }

    /// Requires clients to present a certificate signed by one of the CAs at `path`.
    pub fn client_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.client_ca = Some(path.into());
        self
    }
}

/// What one client may hold of the servers started by [`serve`](crate::serve). The defaults
/// suit probes, scrapers and dashboards; none of them is reachable by a well-behaved client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionLimits {
    /// The most connections the HTTP surface (and, separately, the probe port) holds at once.
    /// One more is still accepted, and the connection with no request under way that moved a
    /// byte longest ago is closed for it. Never more than an eighth of the file descriptor
    /// limit, so that the three listeners together hold at most half of it.
    pub http_connections: usize,
    /// The most connections the gRPC server holds at once, kept the same way. Never more than a
    /// quarter of the file descriptor limit.
    pub grpc_connections: usize,
    /// How long an HTTP/1 client may take to send a request's headers, counted from when the
    /// server starts waiting for them (so it also bounds an idle keep-alive connection).
    pub header_timeout: Duration,
    /// How long an HTTP connection may stay without a byte either way before it is closed.
    pub idle_timeout: Duration,
    /// The most concurrent HTTP/2 streams one gRPC connection may open
    /// (`SETTINGS_MAX_CONCURRENT_STREAMS`); more are refused.
    pub max_concurrent_streams: u32,
    /// How long a health RPC's request message may take to arrive before the call ends with
    /// `DEADLINE_EXCEEDED`. Application services are not affected.
    pub request_timeout: Duration,
    /// How long a TLS handshake may take.
    pub tls_handshake_timeout: Duration,
    /// The interval of HTTP/2 keepalive pings on gRPC connections (and h2c ones on the probe
    /// port); a peer that does not answer one within the same time is disconnected. Keep it
    /// below `idle_timeout`: the pings are what keeps a quiet probe-port `Watch` from counting
    /// as idle.
    pub keepalive: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            http_connections: 512,
            grpc_connections: 4096,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_concurrent_streams: 1024,
            request_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(30),
        }
    }
}

/// Who may see check details (messages, values). Probes never need a token. Its `Debug` shows
/// whether a token is set, never the token.
#[derive(Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct DetailSettings {
    /// Who may see details.
    pub level: DetailLevel,
    /// The bearer token that authorizes details when `level` is `when-authorized`.
    pub token: Option<String>,
}

/// Who may see check details (messages, values, thresholds) on every surface: the HTTP probes
/// and report, the gRPC report, `/metrics`. Probes never need a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DetailLevel {
    /// Only statuses, to everyone.
    Never,
    /// Details to requests carrying the bearer token.
    #[default]
    WhenAuthorized,
    /// Details to everyone.
    Always,
}

impl std::fmt::Debug for DetailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetailSettings")
            .field("level", &self.level)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl FromStr for DetailLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "never" => Ok(DetailLevel::Never),
            "when-authorized" => Ok(DetailLevel::WhenAuthorized),
            "always" => Ok(DetailLevel::Always),
            _ => Err("expected `never`, `when-authorized` or `always`".to_owned()),
        }
    }
}

/// A configuration variable with a value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?} is not valid: {problem}")]
pub struct ConfigError {
    /// The variable.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
}

impl HealthConfig {
    /// Reads the configuration from the process environment. A variable whose value is not
    /// UTF-8 is an error naming it, not a variable left unset.
    pub fn from_env() -> Result<Self, ConfigError> {
        for variable in VARIABLES {
            if let Err(std::env::VarError::NotUnicode(value)) = std::env::var(variable) {
                return Err(ConfigError {
                    variable,
                    value: value.to_string_lossy().into_owned(),
                    problem: "the value is not valid UTF-8".to_owned(),
                });
            }
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from `(variable, value)` pairs, as if they were the environment:
    /// for tests, and for settings kept elsewhere than in the environment.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, ConfigError>
    where
        K: AsRef<str>,
        V: Into<String>,
    {
        Self::from_lookup(pairs_lookup(pairs))
    }

    /// Reads the configuration through `lookup`, which returns a variable's value if it is set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(&lookup);
        Ok(HealthConfig {
            checks: CheckDefaults::read(&vars)?,
            resources: ResourceSettings::read(&vars)?,
            requests: RequestSettings::read(&vars)?,
            surfaces: SurfaceSettings::read(&vars)?,
            details: DetailSettings::read(&vars)?,
            history: HistorySettings::default(),
            notify: NotifySettings::read(&vars)?,
        })
    }
}

/// A lookup over `(variable, value)` pairs, as if they were the environment; the last pair of
/// a variable wins.
pub(crate) fn pairs_lookup<K, V>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> impl Fn(&str) -> Option<String>
where
    K: AsRef<str>,
    V: Into<String>,
{
    let pairs: Vec<(K, String)> = pairs.into_iter().map(|(k, v)| (k, v.into())).collect();
    move |name| {
        pairs
            .iter()
            .rev()
            .find(|(key, _)| key.as_ref() == name)
            .map(|(_, value)| value.clone())
    }
}

impl CheckDefaults {
    fn read(vars: &Vars<'_, impl Fn(&str) -> Option<String>>) -> Result<Self, ConfigError> {
        let mut checks = CheckDefaults::default();
        vars.duration("PLUGIN_HEALTH_CHECK_INTERVAL", &mut checks.interval, true)?;
        vars.duration("PLUGIN_HEALTH_CACHE_TTL", &mut checks.cache_ttl, false)?;
        vars.duration("PLUGIN_HEALTH_DEFAULT_TIMEOUT", &mut checks.timeout, true)?;
        vars.duration("PLUGIN_HEALTH_DRAIN_DELAY", &mut checks.drain_delay, false)?;
        Ok(checks)
    }
}

impl ResourceSettings {
    fn read(vars: &Vars<'_, impl Fn(&str) -> Option<String>>) -> Result<Self, ConfigError> {
        let mut resources = ResourceSettings::default();
        vars.parse(
            "PLUGIN_RESOURCE_METRICS",
            &mut resources.enabled,
            parse_bool,
        )?;
        vars.percent(
            "PLUGIN_RESOURCE_CPU_THRESHOLD",
            &mut resources.cpu_threshold,
        )?;
        vars.percent(
            "PLUGIN_RESOURCE_MEMORY_THRESHOLD",
            &mut resources.memory_threshold,
        )?;
        vars.percent(
            "PLUGIN_RESOURCE_DISK_THRESHOLD",
            &mut resources.disk_threshold,
        )?;
        vars.duration(
            "PLUGIN_RESOURCE_SAMPLE_INTERVAL",
            &mut resources.sample_interval,
            true,
        )?;
        if let Some(path) = vars.get("PLUGIN_RESOURCE_DISK_PATH") {
            resources.disk_path = (!path.is_empty()).then(|| PathBuf::from(path));
        }
        Ok(resources)
    }
}

impl RequestSettings {
    fn read(vars: &Vars<'_, impl Fn(&str) -> Option<String>>) -> Result<Self, ConfigError> {
        let mut requests = RequestSettings::default();
        vars.parse(
            "PLUGIN_HEALTH_REQUEST_METRICS",
            &mut requests.enabled,
            parse_bool,
        )?;
        Ok(requests)
    }
}

impl SurfaceSettings {
    fn read(vars: &Vars<'_, impl Fn(&str) -> Option<String>>) -> Result<Self, ConfigError> {
        let mut surfaces = SurfaceSettings::default();
        if let Some(addr) = vars.get("PLUGIN_HEALTH_HTTP_ADDR") {
            surfaces.http_addr = if addr.is_empty() {
                None
            } else {
                let addr = parse_addr(&addr)
                    .map_err(|problem| vars.error("PLUGIN_HEALTH_HTTP_ADDR", &addr, problem))?;
                Some(addr)
            };
        }
        if let Some(path) = vars.get("PLUGIN_HEALTH_FILE_PATH") {
            surfaces.health_file = (!path.is_empty()).then(|| PathBuf::from(path));
        }
        vars.parse(
            "PLUGIN_ENABLE_PROMETHEUS",
            &mut surfaces.prometheus,
            parse_bool,
        )?;
        vars.parse("PLUGIN_HEALTH_UI", &mut surfaces.status_page, parse_bool)?;
        vars.parse(
            "PLUGIN_HEALTH_HTTP_ALLOWED_HOSTS",
            &mut surfaces.allowed_hosts,
            parse_hosts,
        )?;
        if let Some(addr) = vars.get("PLUGIN_HEALTH_PROBE_ADDR") {
            surfaces.probe_addr = if addr.is_empty() {
                None
            } else {
                let addr = parse_addr(&addr)
                    .map_err(|problem| vars.error("PLUGIN_HEALTH_PROBE_ADDR", &addr, problem))?;
                Some(addr)
            };
        }
        let path = |variable| vars.get(variable).filter(|path| !path.is_empty());
        match (
            path("PLUGIN_HEALTH_TLS_CERT"),
            path("PLUGIN_HEALTH_TLS_KEY"),
            path("PLUGIN_HEALTH_TLS_CLIENT_CA"),
        ) {
            (None, None, None) => {}
            (Some(cert), Some(key), client_ca) => {
                surfaces.tls = Some(TlsFiles {
                    cert: cert.into(),
                    key: key.into(),
                    client_ca: client_ca.map(PathBuf::from),
                });
            }
            (None, _, client_ca) => {
                let (variable, value) = match (path("PLUGIN_HEALTH_TLS_KEY"), client_ca) {
                    (Some(key), _) => ("PLUGIN_HEALTH_TLS_KEY", key),
                    (None, ca) => ("PLUGIN_HEALTH_TLS_CLIENT_CA", ca.unwrap_or_default()),
                };
                return Err(vars.error(
                    variable,
                    &value,
                    "TLS needs a certificate too: set PLUGIN_HEALTH_TLS_CERT".to_owned(),
                ));
            }
            (Some(cert), None, _) => {
                return Err(vars.error(
                    "PLUGIN_HEALTH_TLS_CERT",
                    &cert,
                    "TLS needs the certificate's private key too: set PLUGIN_HEALTH_TLS_KEY"
                        .to_owned(),
                ));
            }
        }
        vars.duration(
            "PLUGIN_HEALTH_SHUTDOWN_GRACE",
            &mut surfaces.shutdown_grace,
            false,
        )?;
        Ok(surfaces)
    }
}

impl DetailSettings {
    fn read(vars: &Vars<'_, impl Fn(&str) -> Option<String>>) -> Result<Self, ConfigError> {
        let mut details = DetailSettings::default();
        vars.parse("PLUGIN_HEALTH_SHOW_DETAILS", &mut details.level, str::parse)?;
        if let Some(token) = vars.get("PLUGIN_HEALTH_AUTH_TOKEN") {
            if let Some(bad) = token.chars().find(|&c| !is_token_char(c)) {
                // The value is a secret: the error names the character, never the token.
                return Err(ConfigError {
                    variable: "PLUGIN_HEALTH_AUTH_TOKEN",
                    value: "<redacted>".to_owned(),
                    problem: format!(
                        "contains {bad:?}, which no `Authorization: Bearer` header can carry; use \
                         letters, digits and `-._~+/=` (RFC 6750)"
                    ),
                });
            }
            details.token = (!token.is_empty()).then_some(token);
        }
        Ok(details)
    }
}

/// The longest duration any variable takes: a day. Longer ones make no sense for a health check
/// and would overflow the clock arithmetic of timers.
const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// The smallest threshold percentage taken.
const MIN_PERCENT: f64 = 0.01;

/// Every variable [`HealthConfig::from_env`] reads, in the order of the table on
/// [`HealthConfig`].
pub const VARIABLES: &[&str] = &[
    "PLUGIN_HEALTH_CHECK_INTERVAL",
    "PLUGIN_HEALTH_CACHE_TTL",
    "PLUGIN_HEALTH_DEFAULT_TIMEOUT",
    "PLUGIN_HEALTH_DRAIN_DELAY",
    "PLUGIN_RESOURCE_METRICS",
    "PLUGIN_RESOURCE_CPU_THRESHOLD",
    "PLUGIN_RESOURCE_MEMORY_THRESHOLD",
    "PLUGIN_RESOURCE_DISK_THRESHOLD",
    "PLUGIN_RESOURCE_SAMPLE_INTERVAL",
    "PLUGIN_RESOURCE_DISK_PATH",
    "PLUGIN_HEALTH_REQUEST_METRICS",
    "PLUGIN_HEALTH_HTTP_ADDR",
    "PLUGIN_HEALTH_HTTP_ALLOWED_HOSTS",
    "PLUGIN_HEALTH_PROBE_ADDR",
    "PLUGIN_HEALTH_TLS_CERT",
    "PLUGIN_HEALTH_TLS_KEY",
    "PLUGIN_HEALTH_TLS_CLIENT_CA",
    "PLUGIN_HEALTH_SHUTDOWN_GRACE",
    "PLUGIN_HEALTH_FILE_PATH",
    "PLUGIN_ENABLE_PROMETHEUS",
    "PLUGIN_HEALTH_UI",
    "PLUGIN_HEALTH_SHOW_DETAILS",
    "PLUGIN_HEALTH_AUTH_TOKEN",
    "PLUGIN_HEALTH_NOTIFY_URL",
    "PLUGIN_HEALTH_NOTIFY_FORMAT",
    "PLUGIN_HEALTH_NOTIFY_CHECKS",
    "PLUGIN_HEALTH_NOTIFY_ON",
    "PLUGIN_HEALTH_NOTIFY_RESTORED",
    "PLUGIN_HEALTH_NOTIFY_MIN_INTERVAL",
    "PLUGIN_HEALTH_NOTIFY_FLAP_WINDOW",
    "PLUGIN_HEALTH_NOTIFY_FLAP_THRESHOLD",
    "PLUGIN_HEALTH_NOTIFY_QUEUE",
    "PLUGIN_HEALTH_NOTIFY_TIMEOUT",
    "PLUGIN_HEALTH_NOTIFY_RETRIES",
    "PLUGIN_HEALTH_NOTIFY_SECRET",
    "PLUGIN_HEALTH_NOTIFY_SECRET_HEADER",
    "PLUGIN_HEALTH_NOTIFY_DETAILS",
    "PLUGIN_HEALTH_NOTIFY_SERVICE",
];

/// A character a bearer token may hold (RFC 6750, `b64token`).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '+' | '/' | '=')
}

struct Vars<'a, F>(&'a F);

impl<F: Fn(&str) -> Option<String>> Vars<'_, F> {
    fn get(&self, variable: &str) -> Option<String> {
        (self.0)(variable).map(|value| value.trim().to_owned())
    }

    fn error(&self, variable: &'static str, value: &str, problem: String) -> ConfigError {
        ConfigError {
            variable,
            value: value.to_owned(),
            problem,
        }
    }

    fn parse<T>(
        &self,
        variable: &'static str,
        slot: &mut T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<(), ConfigError> {
        if let Some(value) = self.get(variable) {
            *slot = parse(&value).map_err(|problem| self.error(variable, &value, problem))?;
        }
        Ok(())
    }

    fn duration(
        &self,
        variable: &'static str,
        slot: &mut Duration,
        positive: bool,
    ) -> Result<(), ConfigError> {
        self.parse(variable, slot, |value| {
            let duration = parse_duration(value)?;
            if positive && duration.is_zero() {
                return Err("it must be greater than zero".to_owned());
            }
            if duration > MAX_DURATION {
                return Err("it must be at most a day (`24h`)".to_owned());
            }
            Ok(duration)
        })
    }

    fn percent(&self, variable: &'static str, slot: &mut f64) -> Result<(), ConfigError> {
        self.parse(variable, slot, |value| {
            let percent: f64 = value
                .trim_end_matches('%')
                .parse()
                .map_err(|_| "expected a percentage such as `80` or `92.5`".to_owned())?;
            if !(MIN_PERCENT..=100.0).contains(&percent) {
                return Err("a percentage must be at least 0.01 and at most 100".to_owned());
            }
            Ok(percent)
        })
    }
}

/// A duration in the one grammar of [`health_rules::duration`]: `30` (seconds), `0.5`, `30s`,
/// `500ms`, `1m 30s`, the same strings `#[health_check]` accepts.
pub(crate) fn parse_duration(value: &str) -> Result<Duration, String> {
    health_rules::duration::parse(value).map_err(|error| error.to_string())
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err("expected `true` or `false`".to_owned()),
    }
}

fn parse_hosts(value: &str) -> Result<AllowedHosts, String> {
    if value.is_empty() {
        return Ok(AllowedHosts::Default);
    }
    if value == "*" {
        return Ok(AllowedHosts::Any);
    }
    let mut hosts = Vec::new();
    for host in value
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
    {
        let valid = host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '[' | ']'));
        if !valid || host.contains("]:") || (host.contains(':') && !host.starts_with('[')) {
            return Err(format!(
                "{host:?} is not a host name or address without port; expected `*` or a comma \
                 list such as `health.example.com,localhost,[::1]`"
            ));
        }
        hosts.push(host.to_ascii_lowercase());
    }
    Ok(AllowedHosts::Only(hosts))
}

fn parse_addr(value: &str) -> Result<SocketAddr, String> {
    value
        .parse()
        .map_err(|_| "expected an address such as `0.0.0.0:8080` or `[::1]:8080`".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<HealthConfig, ConfigError> {
        HealthConfig::from_pairs(vars.iter().copied())
    }

    #[test]
    fn defaults_without_variables() {
        assert_eq!(config(&[]).unwrap(), HealthConfig::default());
    }

    #[test]
    fn every_variable_is_applied() {
        let config = config(&[
            ("PLUGIN_HEALTH_CHECK_INTERVAL", "0.5"),
            ("PLUGIN_HEALTH_CACHE_TTL", "250ms"),
            ("PLUGIN_HEALTH_DEFAULT_TIMEOUT", "2s"),
            ("PLUGIN_HEALTH_DRAIN_DELAY", "0"),
            ("PLUGIN_RESOURCE_CPU_THRESHOLD", "70"),
            ("PLUGIN_RESOURCE_MEMORY_THRESHOLD", "75.5"),
            ("PLUGIN_RESOURCE_DISK_THRESHOLD", "95%"),
            ("PLUGIN_HEALTH_FILE_PATH", ""),
            ("PLUGIN_ENABLE_PROMETHEUS", "true"),
            ("PLUGIN_HEALTH_UI", "false"),
            ("PLUGIN_HEALTH_HTTP_ADDR", "127.0.0.1:9090"),
            ("PLUGIN_HEALTH_SHOW_DETAILS", "always"),
            ("PLUGIN_HEALTH_AUTH_TOKEN", "s3cret"),
            ("PLUGIN_MIN_PORT", "not ours"),
        ])
        .unwrap();
        assert_eq!(config.checks.interval, Duration::from_millis(500));
        assert_eq!(config.checks.cache_ttl, Duration::from_millis(250));
        assert_eq!(config.checks.timeout, Duration::from_secs(2));
        assert_eq!(config.checks.drain_delay, Duration::ZERO);
        assert_eq!(config.resources.cpu_threshold, 70.0);
        assert_eq!(config.resources.memory_threshold, 75.5);
        assert_eq!(config.resources.disk_threshold, 95.0);
        assert_eq!(config.surfaces.health_file, None);
        assert!(config.surfaces.prometheus);
        assert!(!config.surfaces.status_page);
        assert_eq!(
            config.surfaces.http_addr,
            Some("127.0.0.1:9090".parse().unwrap())
        );
        assert_eq!(config.details.level, DetailLevel::Always);
        assert_eq!(config.details.token.as_deref(), Some("s3cret"));
    }

    #[test]
    fn durations_take_the_one_grammar() {
        for (text, expected) in [
            ("30", Duration::from_secs(30)),
            ("0.5", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            ("500ms", Duration::from_millis(500)),
            ("1m", Duration::from_secs(60)),
            ("1h 30m", Duration::from_secs(5400)),
            ("1m 30s", Duration::from_secs(90)),
        ] {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
        assert_eq!(parse_duration("30sec"), Ok(Duration::from_secs(30)));
        for text in ["", "soon", "-1", "s30", "NaN", "inf", "30 parsecs", "30y"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }

    #[test]
    fn malformed_values_name_the_variable_and_the_value() {
        for (variable, value, problem) in [
            (
                "PLUGIN_HEALTH_CHECK_INTERVAL",
                "0",
                "it must be greater than zero",
            ),
            ("PLUGIN_HEALTH_CHECK_INTERVAL", "often", "expected a number"),
            (
                "PLUGIN_HEALTH_DEFAULT_TIMEOUT",
                "0s",
                "it must be greater than zero",
            ),
            (
                "PLUGIN_RESOURCE_CPU_THRESHOLD",
                "high",
                "expected a percentage",
            ),
            ("PLUGIN_RESOURCE_MEMORY_THRESHOLD", "120", "at most 100"),
            ("PLUGIN_RESOURCE_DISK_THRESHOLD", "0", "at least 0.01"),
            ("PLUGIN_RESOURCE_CPU_THRESHOLD", "1e-320", "at least 0.01"),
            (
                "PLUGIN_RESOURCE_SAMPLE_INTERVAL",
                "5124095576030431h",
                "at most a day",
            ),
            ("PLUGIN_HEALTH_CHECK_INTERVAL", "25h", "at most a day"),
            (
                "PLUGIN_ENABLE_PROMETHEUS",
                "maybe",
                "expected `true` or `false`",
            ),
            (
                "PLUGIN_HEALTH_HTTP_ADDR",
                "localhost",
                "expected an address",
            ),
            (
                "PLUGIN_HEALTH_SHOW_DETAILS",
                "sometimes",
                "expected `never`",
            ),
        ] {
            let error = config(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable);
            assert_eq!(error.value, value);
            let text = error.to_string();
            assert!(
                text.starts_with(&format!("{variable}={value:?} is not valid: ")),
                "{text}"
            );
            assert!(text.contains(problem), "{text}");
        }
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let config = config(&[("PLUGIN_HEALTH_AUTH_TOKEN", "s3cret-token")]).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret-token"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn a_later_pair_wins() {
        let config = config(&[
            ("PLUGIN_HEALTH_CACHE_TTL", "1s"),
            ("PLUGIN_HEALTH_CACHE_TTL", "2s"),
        ])
        .unwrap();
        assert_eq!(config.checks.cache_ttl, Duration::from_secs(2));
    }

    #[test]
    fn a_token_no_client_can_send_is_refused_without_showing_it() {
        for token in ["pässwörd", "two words", "tab\there", "emoji🙂"] {
            let error = config(&[("PLUGIN_HEALTH_AUTH_TOKEN", token)]).unwrap_err();
            assert_eq!(error.variable, "PLUGIN_HEALTH_AUTH_TOKEN");
            assert!(!error.to_string().contains(token), "{error}");
            assert!(error.problem.contains("RFC 6750"), "{error}");
        }
        let config = config(&[("PLUGIN_HEALTH_AUTH_TOKEN", "abc-DEF_123.~+/==")]).unwrap();
        assert_eq!(config.details.token.as_deref(), Some("abc-DEF_123.~+/=="));
    }

    #[test]
    fn every_variable_read_is_listed() {
        let read = std::cell::RefCell::new(Vec::new());
        let _ = HealthConfig::from_lookup(|name| {
            read.borrow_mut().push(name.to_owned());
            None
        });
        let mut read = read.into_inner();
        read.sort();
        let mut listed: Vec<String> = VARIABLES.iter().map(|v| (*v).to_owned()).collect();
        listed.sort();
        assert_eq!(read, listed);
    }
}
