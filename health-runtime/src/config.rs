use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Settings read from `PLUGIN_HEALTH_*` and `PLUGIN_RESOURCE_*` environment variables.
///
/// | variable | field | default |
/// |---|---|---|
/// | `PLUGIN_HEALTH_CHECK_INTERVAL` | [`check_interval`](Self::check_interval) | `30` (seconds; `30s`, `500ms`, `1m` also) |
/// | `PLUGIN_HEALTH_CACHE_TTL` | [`cache_ttl`](Self::cache_ttl) | `1s` |
/// | `PLUGIN_HEALTH_DEFAULT_TIMEOUT` | [`default_timeout`](Self::default_timeout) | `5s` |
/// | `PLUGIN_HEALTH_DRAIN_DELAY` | [`drain_delay`](Self::drain_delay) | `5s` |
/// | `PLUGIN_RESOURCE_CPU_THRESHOLD` | [`cpu_threshold`](Self::cpu_threshold) | `80` (percent) |
/// | `PLUGIN_RESOURCE_MEMORY_THRESHOLD` | [`memory_threshold`](Self::memory_threshold) | `85` |
/// | `PLUGIN_RESOURCE_DISK_THRESHOLD` | [`disk_threshold`](Self::disk_threshold) | `90` |
/// | `PLUGIN_HEALTH_FILE_PATH` | [`health_file`](Self::health_file) | `/tmp/health` (empty: no file) |
/// | `PLUGIN_ENABLE_PROMETHEUS` | [`enable_prometheus`](Self::enable_prometheus) | `false` |
/// | `PLUGIN_HEALTH_HTTP_ADDR` | [`http_addr`](Self::http_addr) | `0.0.0.0:8080` (empty: no HTTP) |
/// | `PLUGIN_HEALTH_GRPC_ADDR` | [`grpc_addr`](Self::grpc_addr) | `127.0.0.1:50051` |
/// | `PLUGIN_HEALTH_SHOW_DETAILS` | [`show_details`](Self::show_details) | `when-authorized` |
/// | `PLUGIN_HEALTH_AUTH_TOKEN` | [`auth_token`](Self::auth_token) | unset |
/// | `PLUGIN_RESOURCE_METRICS` | [`resource_metrics`](Self::resource_metrics) | `true` (`false` leaves out `cpu_usage`, `memory_usage`, `disk_usage`) |
/// | `PLUGIN_RESOURCE_SAMPLE_INTERVAL` | [`resource_sample_interval`](Self::resource_sample_interval) | `5s` (> 0) |
/// | `PLUGIN_RESOURCE_DISK_PATH` | [`resource_disk_path`](Self::resource_disk_path) | the working directory (empty: the same) |
/// | `PLUGIN_HEALTH_REQUEST_METRICS` | [`request_metrics`](Self::request_metrics) | `true` (`false` leaves out the request statistics checks) |
///
/// A malformed value is an error naming the variable and the value, never a silent default.
/// Variables of HashiCorp go-plugin (`PLUGIN_MIN_PORT`, `PLUGIN_PROTOCOL_VERSIONS`, ...) are
/// never read.
///
/// ```
/// use std::time::Duration;
/// use health_runtime::HealthConfig;
///
/// let config = HealthConfig::from_lookup(|name| match name {
///     "PLUGIN_HEALTH_CHECK_INTERVAL" => Some("10".to_owned()),
///     "PLUGIN_RESOURCE_CPU_THRESHOLD" => Some("95".to_owned()),
///     _ => None,
/// })?;
/// assert_eq!(config.check_interval, Duration::from_secs(10));
/// assert_eq!(config.cpu_threshold, 95.0);
///
/// let error = HealthConfig::from_lookup(|name| {
///     (name == "PLUGIN_HEALTH_CACHE_TTL").then(|| "soon".to_owned())
/// })
/// .unwrap_err();
/// assert!(error.to_string().starts_with("PLUGIN_HEALTH_CACHE_TTL=\"soon\""));
/// # Ok::<(), health_runtime::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HealthConfig {
    /// The background re-run period of checks that set no `interval`.
    pub check_interval: Duration,
    /// How long a result is served from cache.
    pub cache_ttl: Duration,
    /// The deadline of checks that set no `timeout`.
    pub default_timeout: Duration,
    /// How long watchers see `NOT_SERVING` after shutdown before their streams end.
    pub drain_delay: Duration,
    /// CPU usage, in percent, above which `cpu_usage` is critical (warning above 80 % of it).
    pub cpu_threshold: f64,
    /// Memory usage, in percent, above which `memory_usage` is critical.
    pub memory_threshold: f64,
    /// Disk usage, in percent, above which `disk_usage` is critical.
    pub disk_threshold: f64,
    /// Where the health file for exec probes is written; `None` for no file.
    pub health_file: Option<PathBuf>,
    /// Whether `/metrics` serves Prometheus metrics.
    pub enable_prometheus: bool,
    /// Where the HTTP probes listen; `None` for no HTTP server.
    pub http_addr: Option<SocketAddr>,
    /// Where the example plugin server's gRPC listens.
    pub grpc_addr: SocketAddr,
    /// Who may see check details over HTTP.
    pub show_details: DetailLevel,
    /// The bearer token that authorizes details when `show_details` is `when-authorized`.
    pub auth_token: Option<String>,
    /// Whether the system resource metrics added with
    /// [`system_metrics`](crate::HealthRuntimeBuilder::system_metrics) are registered.
    pub resource_metrics: bool,
    /// How often system resources are sampled.
    pub resource_sample_interval: Duration,
    /// A path on the filesystem whose usage `disk_usage` reports; `None` for the working
    /// directory.
    pub resource_disk_path: Option<PathBuf>,
    /// Whether the request statistics checks added with
    /// [`request_stats`](crate::HealthRuntimeBuilder::request_stats) are registered.
    pub request_metrics: bool,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            check_interval: Duration::from_secs(30),
            cache_ttl: Duration::from_secs(1),
            default_timeout: Duration::from_secs(5),
            drain_delay: Duration::from_secs(5),
            cpu_threshold: 80.0,
            memory_threshold: 85.0,
            disk_threshold: 90.0,
            health_file: Some(PathBuf::from("/tmp/health")),
            enable_prometheus: false,
            http_addr: Some(SocketAddr::from(([0, 0, 0, 0], 8080))),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            show_details: DetailLevel::WhenAuthorized,
            auth_token: None,
            resource_metrics: true,
            resource_sample_interval: Duration::from_secs(5),
            resource_disk_path: None,
            request_metrics: true,
        }
    }
}

/// Who may see check details (messages, values) over HTTP. Probes never need a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetailLevel {
    /// Only statuses, to everyone.
    Never,
    /// Details to requests carrying the bearer token.
    WhenAuthorized,
    /// Details to everyone.
    Always,
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
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, which returns a variable's value if it is set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = HealthConfig::default();
        let vars = Vars(&lookup);
        vars.duration(
            "PLUGIN_HEALTH_CHECK_INTERVAL",
            &mut config.check_interval,
            true,
        )?;
        vars.duration("PLUGIN_HEALTH_CACHE_TTL", &mut config.cache_ttl, false)?;
        vars.duration(
            "PLUGIN_HEALTH_DEFAULT_TIMEOUT",
            &mut config.default_timeout,
            true,
        )?;
        vars.duration("PLUGIN_HEALTH_DRAIN_DELAY", &mut config.drain_delay, false)?;
        vars.percent("PLUGIN_RESOURCE_CPU_THRESHOLD", &mut config.cpu_threshold)?;
        vars.percent(
            "PLUGIN_RESOURCE_MEMORY_THRESHOLD",
            &mut config.memory_threshold,
        )?;
        vars.percent("PLUGIN_RESOURCE_DISK_THRESHOLD", &mut config.disk_threshold)?;
        if let Some(path) = vars.get("PLUGIN_HEALTH_FILE_PATH") {
            config.health_file = (!path.is_empty()).then(|| PathBuf::from(path));
        }
        vars.parse(
            "PLUGIN_ENABLE_PROMETHEUS",
            &mut config.enable_prometheus,
            parse_bool,
        )?;
        if let Some(addr) = vars.get("PLUGIN_HEALTH_HTTP_ADDR") {
            config.http_addr = if addr.is_empty() {
                None
            } else {
                Some(
                    parse_addr(&addr)
                        .map_err(|problem| vars.error("PLUGIN_HEALTH_HTTP_ADDR", &addr, problem))?,
                )
            };
        }
        vars.parse("PLUGIN_HEALTH_GRPC_ADDR", &mut config.grpc_addr, parse_addr)?;
        vars.parse(
            "PLUGIN_HEALTH_SHOW_DETAILS",
            &mut config.show_details,
            str::parse,
        )?;
        if let Some(token) = vars.get("PLUGIN_HEALTH_AUTH_TOKEN") {
            config.auth_token = (!token.is_empty()).then_some(token);
        }
        vars.parse(
            "PLUGIN_RESOURCE_METRICS",
            &mut config.resource_metrics,
            parse_bool,
        )?;
        vars.duration(
            "PLUGIN_RESOURCE_SAMPLE_INTERVAL",
            &mut config.resource_sample_interval,
            true,
        )?;
        if let Some(path) = vars.get("PLUGIN_RESOURCE_DISK_PATH") {
            config.resource_disk_path = (!path.is_empty()).then(|| PathBuf::from(path));
        }
        vars.parse(
            "PLUGIN_HEALTH_REQUEST_METRICS",
            &mut config.request_metrics,
            parse_bool,
        )?;
        Ok(config)
    }
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
            Ok(duration)
        })
    }

    fn percent(&self, variable: &'static str, slot: &mut f64) -> Result<(), ConfigError> {
        self.parse(variable, slot, |value| {
            let percent: f64 = value
                .trim_end_matches('%')
                .parse()
                .map_err(|_| "expected a percentage such as `80` or `92.5`".to_owned())?;
            if !(percent > 0.0 && percent <= 100.0) {
                return Err("a percentage must be above 0 and at most 100".to_owned());
            }
            Ok(percent)
        })
    }
}

/// Seconds (`30`, `0.5`) or a number with a unit (`30s`, `500ms`, `1m`, `1h`).
pub(crate) fn parse_duration(value: &str) -> Result<Duration, String> {
    const HINT: &str =
        "expected seconds (`30`, `0.5`) or a duration such as `30s`, `500ms` or `1m`";
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).map_err(|_| HINT.to_owned());
    }
    if value.is_empty() || !value.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(HINT.to_owned());
    }
    humantime::parse_duration(value).map_err(|error| format!("{error}; {HINT}"))
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err("expected `true` or `false`".to_owned()),
    }
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
        HealthConfig::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
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
            ("PLUGIN_HEALTH_HTTP_ADDR", "127.0.0.1:9090"),
            ("PLUGIN_HEALTH_GRPC_ADDR", "[::1]:7000"),
            ("PLUGIN_HEALTH_SHOW_DETAILS", "always"),
            ("PLUGIN_HEALTH_AUTH_TOKEN", "s3cret"),
            ("PLUGIN_MIN_PORT", "not ours"),
        ])
        .unwrap();
        assert_eq!(config.check_interval, Duration::from_millis(500));
        assert_eq!(config.cache_ttl, Duration::from_millis(250));
        assert_eq!(config.default_timeout, Duration::from_secs(2));
        assert_eq!(config.drain_delay, Duration::ZERO);
        assert_eq!(config.cpu_threshold, 70.0);
        assert_eq!(config.memory_threshold, 75.5);
        assert_eq!(config.disk_threshold, 95.0);
        assert_eq!(config.health_file, None);
        assert!(config.enable_prometheus);
        assert_eq!(config.http_addr, Some("127.0.0.1:9090".parse().unwrap()));
        assert_eq!(config.grpc_addr, "[::1]:7000".parse().unwrap());
        assert_eq!(config.show_details, DetailLevel::Always);
        assert_eq!(config.auth_token.as_deref(), Some("s3cret"));
    }

    #[test]
    fn durations_take_seconds_or_units() {
        for (text, expected) in [
            ("30", Duration::from_secs(30)),
            ("0.5", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            ("500ms", Duration::from_millis(500)),
            ("1m", Duration::from_secs(60)),
            ("1h 30m", Duration::from_secs(5400)),
        ] {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
        for text in ["", "soon", "-1", "s30", "NaN", "inf", "30 parsecs"] {
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
            ("PLUGIN_HEALTH_CHECK_INTERVAL", "often", "expected seconds"),
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
            ("PLUGIN_RESOURCE_DISK_THRESHOLD", "0", "above 0"),
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
            ("PLUGIN_HEALTH_GRPC_ADDR", ":50051", "expected an address"),
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
}
