//! [`Otlp`]: where and how the OTLP exporters send, from the standard `OTEL_*` variables or set
//! in code, validated before anything is installed.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::ConfigError;

/// The wire protocol of the OTLP exporters (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP/gRPC (`grpc`), on tonic; the endpoint is used as it is given.
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`http/protobuf`), the specification's default; the
    /// generic endpoint gets `/v1/traces`, `/v1/metrics` or `/v1/logs` appended.
    #[default]
    HttpProtobuf,
}

impl Protocol {
    /// The variable's spelling: `grpc` or `http/protobuf`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three signals, each with its own exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metrics.
    Metrics,
    /// Log records.
    Logs,
}

impl Signal {
    pub(crate) const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    /// `traces`, `metrics` or `logs`, as in the variables and the OTLP/HTTP paths.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }

    /// The OTLP/HTTP path appended to the generic endpoint.
    fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }

    /// The signal's own variables, which win over the generic ones.
    fn vars(self) -> SignalVars {
        match self {
            Signal::Traces => SignalVars {
                endpoint: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                protocol: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                headers: "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                timeout: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            },
            Signal::Metrics => SignalVars {
                endpoint: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                protocol: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
                headers: "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                timeout: "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
            },
            Signal::Logs => SignalVars {
                endpoint: "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                protocol: "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
                headers: "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
                timeout: "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
            },
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

struct SignalVars {
    endpoint: &'static str,
    protocol: &'static str,
    headers: &'static str,
    timeout: &'static str,
}

const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
const HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
const TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
const SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
const RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
const SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
const METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";

/// Every variable [`Otlp::from_env`] reads.
pub const VARIABLES: &[&str] = &[
    SDK_DISABLED,
    ENDPOINT,
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    PROTOCOL,
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    HEADERS,
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    TIMEOUT,
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
    SERVICE_NAME,
    RESOURCE_ATTRIBUTES,
    METRIC_EXPORT_INTERVAL,
];

/// The exporters' timeout when none is set (the specification's 10 s).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The metric export interval when none is set (the specification's 60 s).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Where one signal goes.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Destination {
    /// The full URL: for OTLP/HTTP with the signal's path.
    pub(crate) endpoint: String,
    pub(crate) protocol: Protocol,
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) timeout: Duration,
}

/// The OTLP export settings: endpoints, protocol, headers, timeout, the resource and the metric
/// export interval. Read them from the environment with [`from_env`](Self::from_env), or set
/// them in code starting from [`new`](Self::new); [`install`](Self::install) builds the
/// exporters and installs the global providers.
///
/// | variable | meaning | accepted |
/// |---|---|---|
/// | `OTEL_SDK_DISABLED` | `true`: nothing is installed | `true`, `false` (any other value is refused, where the specification reads it as `false`: a typo must not turn export on) |
/// | `OTEL_EXPORTER_OTLP_ENDPOINT` | the collector, for every signal (OTLP/HTTP appends `/v1/<signal>`) | an `http://` or `https://` URL, without query or fragment |
/// | `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT` | one signal's endpoint, used as it is | the same |
/// | `OTEL_EXPORTER_OTLP_PROTOCOL` (and `_{SIGNAL}_PROTOCOL`) | the wire protocol | `grpc`, `http/protobuf` (default) |
/// | `OTEL_EXPORTER_OTLP_HEADERS` (and `_{SIGNAL}_HEADERS`, which replace them for that signal) | headers (gRPC metadata) on every export | `key=value,key2=value2`, values percent-encoded |
/// | `OTEL_EXPORTER_OTLP_TIMEOUT` (and `_{SIGNAL}_TIMEOUT`) | the deadline of one export | milliseconds > 0 (default 10000; `0` is refused rather than read as no deadline) |
/// | `OTEL_SERVICE_NAME` | resource `service.name` | any; default the program's file name |
/// | `OTEL_RESOURCE_ATTRIBUTES` | more resource attributes | `key=value,...`, values percent-encoded |
/// | `OTEL_METRIC_EXPORT_INTERVAL` | the periodic metric reader's interval | milliseconds > 0 (default 60000) |
///
/// A malformed value is an error naming the variable and the value, as for every variable of
/// the crate. With no endpoint variable set, or with the SDK disabled, there is nothing to
/// install: `from_env` answers `None`. A signal with no endpoint of its own uses the generic
/// one; a signal with neither goes to the specification's default, `localhost`. All three
/// signals are exported: `OTEL_{TRACES,METRICS,LOGS}_EXPORTER` are not read. The exporters read
/// the variables they know (`OTEL_EXPORTER_OTLP_COMPRESSION`, `OTEL_EXPORTER_OTLP_INSECURE`,
/// ...) themselves; the ones above are validated here and handed to them.
///
/// ```
/// use std::time::Duration;
/// use health_runtime::otel::{Otlp, Protocol};
///
/// let otlp = Otlp::from_pairs([
///     ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
///     ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
///     ("OTEL_METRIC_EXPORT_INTERVAL", "5000"),
/// ])?
/// .expect("an endpoint is set");
/// assert_eq!(otlp.protocol(), Protocol::Grpc);
/// assert_eq!(otlp.metric_interval(), Duration::from_secs(5));
///
/// let error = Otlp::from_pairs([
///     ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
///     ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
/// ])
/// .unwrap_err();
/// assert!(error.to_string().starts_with("OTEL_EXPORTER_OTLP_PROTOCOL=\"carrier-pigeon\""));
///
/// assert!(Otlp::from_pairs([("OTEL_SERVICE_NAME", "kv")])?.is_none());
/// # Ok::<(), health_runtime::config::ConfigError>(())
/// ```
#[derive(Clone, PartialEq)]
#[must_use]
pub struct Otlp {
    endpoint: Option<String>,
    signal_endpoints: BTreeMap<Signal, String>,
    protocol: Protocol,
    signal_protocols: BTreeMap<Signal, Protocol>,
    headers: BTreeMap<String, String>,
    signal_headers: BTreeMap<Signal, BTreeMap<String, String>>,
    timeout: Duration,
    signal_timeouts: BTreeMap<Signal, Duration>,
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) resource: Vec<(String, String)>,
    metric_interval: Duration,
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("endpoint", &shown(&self.endpoint))
            .field("protocol", &self.protocol)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Header values carry credentials (API keys): only their names are shown.
impl fmt::Debug for Otlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoints: BTreeMap<_, _> = self
            .signal_endpoints
            .iter()
            .map(|(signal, endpoint)| (signal, shown(endpoint)))
            .collect();
        f.debug_struct("Otlp")
            .field("endpoint", &self.endpoint.as_deref().map(shown))
            .field("signal_endpoints", &endpoints)
            .field("protocol", &self.protocol)
            .field("signal_protocols", &self.signal_protocols)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field(
                "signal_headers",
                &self
                    .signal_headers
                    .iter()
                    .map(|(signal, headers)| (signal, headers.keys().collect::<Vec<_>>()))
                    .collect::<BTreeMap<_, _>>(),
            )
            .field("timeout", &self.timeout)
            .field("signal_timeouts", &self.signal_timeouts)
            .field("service_name", &self.service_name)
            .field("service_version", &self.service_version)
            .field("resource", &self.resource)
            .field("metric_interval", &self.metric_interval)
            .finish()
    }
}

/// An endpoint as logs and `Debug` show it: without user info, query or fragment, where a
/// credential could sit.
pub(crate) fn shown(endpoint: &str) -> String {
    match endpoint.parse::<http::Uri>() {
        Ok(uri) => {
            let authority = uri.authority().map_or("", |authority| {
                let text = authority.as_str();
                text.rsplit_once('@').map_or(text, |(_, host)| host)
            });
            format!(
                "{}://{authority}{}",
                uri.scheme_str().unwrap_or("?"),
                uri.path()
            )
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

impl Otlp {
    /// Settings that send every signal to `endpoint` over OTLP/HTTP (switch with
    /// [`with_protocol`](Self::with_protocol)), none of the variables above read. The
    /// exporters still read the variables they know themselves when they are built: the
    /// `*_HEADERS` (a header of the same name set there wins over one set here),
    /// `*_COMPRESSION`, and the batch processors' `OTEL_BSP_*` and `OTEL_BLRP_*`.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Otlp {
            endpoint: Some(endpoint.into()),
            signal_endpoints: BTreeMap::new(),
            protocol: Protocol::default(),
            signal_protocols: BTreeMap::new(),
            headers: BTreeMap::new(),
            signal_headers: BTreeMap::new(),
            timeout: DEFAULT_TIMEOUT,
            signal_timeouts: BTreeMap::new(),
            service_name: None,
            service_version: None,
            resource: Vec::new(),
            metric_interval: DEFAULT_INTERVAL,
        }
    }

    /// The settings from the process environment; `None` when no endpoint variable is set or
    /// `OTEL_SDK_DISABLED=true`. A value that is not UTF-8 is an error naming the variable.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        for &variable in VARIABLES {
            if let Err(std::env::VarError::NotUnicode(value)) = std::env::var(variable) {
                // Headers carry credentials: none of theirs is shown.
                let value = if variable.ends_with("_HEADERS") {
                    "***".to_owned()
                } else {
                    value.to_string_lossy().into_owned()
                };
                return Err(ConfigError {
                    variable,
                    value,
                    problem: "the value is not valid UTF-8".to_owned(),
                });
            }
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings from `(variable, value)` pairs, as if they were the environment.
    pub fn from_pairs<K, V>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Option<Self>, ConfigError>
    where
        K: AsRef<str>,
        V: Into<String>,
    {
        Self::from_lookup(crate::config::pairs_lookup(pairs))
    }

    /// The settings read through `lookup`, which returns a variable's value if it is set. An
    /// empty value counts as unset, as the specification says.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        if let Some(value) = get(SDK_DISABLED)
            && parse_bool(SDK_DISABLED, &value)?
        {
            return Ok(None);
        }
        let endpoint = get(ENDPOINT)
            .map(|value| check_endpoint(ENDPOINT, value))
            .transpose()?;
        let mut otlp = Otlp {
            endpoint,
            ..Otlp::new("")
        };
        for signal in Signal::ALL {
            let vars = signal.vars();
            if let Some(value) = get(vars.endpoint) {
                otlp.signal_endpoints
                    .insert(signal, check_endpoint(vars.endpoint, value)?);
            }
            if let Some(value) = get(vars.protocol) {
                otlp.signal_protocols
                    .insert(signal, parse_protocol(vars.protocol, &value)?);
            }
            if let Some(value) = get(vars.headers) {
                otlp.signal_headers
                    .insert(signal, parse_headers(vars.headers, &value)?);
            }
            if let Some(value) = get(vars.timeout) {
                otlp.signal_timeouts
                    .insert(signal, parse_millis(vars.timeout, &value)?);
            }
        }
        if let Some(value) = get(PROTOCOL) {
            otlp.protocol = parse_protocol(PROTOCOL, &value)?;
        }
        if let Some(value) = get(HEADERS) {
            otlp.headers = parse_headers(HEADERS, &value)?;
        }
        if let Some(value) = get(TIMEOUT) {
            otlp.timeout = parse_millis(TIMEOUT, &value)?;
        }
        if let Some(value) = get(METRIC_EXPORT_INTERVAL) {
            otlp.metric_interval = parse_millis(METRIC_EXPORT_INTERVAL, &value)?;
        }
        if let Some(value) = get(RESOURCE_ATTRIBUTES) {
            otlp.resource = parse_pairs(RESOURCE_ATTRIBUTES, &value, &value, |_| Ok(()))?;
        }
        otlp.service_name = get(SERVICE_NAME);
        // Everything is validated first: a malformed value is an error even with no endpoint.
        if otlp.endpoint.is_none() && otlp.signal_endpoints.is_empty() {
            return Ok(None);
        }
        Ok(Some(otlp))
    }

    /// The wire protocol of every signal that does not set its own.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Sends every signal over `protocol`.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self.signal_protocols.clear();
        self
    }

    /// The periodic metric reader's interval.
    pub fn metric_interval(&self) -> Duration {
        self.metric_interval
    }

    /// Exports metrics every `interval` (default 60 s, `OTEL_METRIC_EXPORT_INTERVAL`).
    pub fn with_metric_interval(mut self, interval: Duration) -> Self {
        self.metric_interval = interval;
        self
    }

    /// The deadline of one export for every signal (default 10 s, `OTEL_EXPORTER_OTLP_TIMEOUT`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.signal_timeouts.clear();
        self
    }

    /// Adds a header (gRPC metadata) to every export, such as an API key.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Resource `service.name` (default `OTEL_SERVICE_NAME`, else the program's file name).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Resource `service.version`, usually `env!("CARGO_PKG_VERSION")` of the application.
    pub fn with_service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// Adds a resource attribute, as `OTEL_RESOURCE_ATTRIBUTES` does.
    pub fn with_resource_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.resource.push((key.into(), value.into()));
        self
    }

    /// Where `signal` goes, validated (settings made in code are checked here).
    pub(crate) fn destination(&self, signal: Signal) -> Result<Destination, ConfigError> {
        let protocol = self
            .signal_protocols
            .get(&signal)
            .copied()
            .unwrap_or(self.protocol);
        let endpoint = match (self.signal_endpoints.get(&signal), &self.endpoint) {
            (Some(own), _) => own.clone(),
            (None, Some(generic)) => {
                let generic = check_endpoint(ENDPOINT, generic.clone())?;
                match protocol {
                    Protocol::Grpc => generic,
                    Protocol::HttpProtobuf => {
                        format!("{}{}", generic.trim_end_matches('/'), signal.http_path())
                    }
                }
            }
            (None, None) => {
                // The specification's defaults, for a signal without an endpoint of its own
                // beside one that has.
                match protocol {
                    Protocol::Grpc => "http://localhost:4317".to_owned(),
                    Protocol::HttpProtobuf => {
                        format!("http://localhost:4318{}", signal.http_path())
                    }
                }
            }
        };
        // A signal's own headers replace the generic ones, as the exporters and the other
        // SDKs read them: another collector must not get the generic credentials.
        let (variable, headers) = match self.signal_headers.get(&signal) {
            Some(own) => (signal.vars().headers, own.clone()),
            None => (HEADERS, self.headers.clone()),
        };
        for (name, value) in &headers {
            check_header(variable, &format!("{name}=***"), name, value)?;
        }
        let timeout = self
            .signal_timeouts
            .get(&signal)
            .copied()
            .unwrap_or(self.timeout);
        Ok(Destination {
            endpoint,
            protocol,
            headers,
            timeout,
        })
    }
}

fn problem(variable: &'static str, value: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        value: value.to_owned(),
        problem: problem.into(),
    }
}

fn parse_bool(variable: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(problem(variable, value, "expected `true` or `false`")),
    }
}

fn parse_protocol(variable: &'static str, value: &str) -> Result<Protocol, ConfigError> {
    match value.trim() {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Err(problem(
            variable,
            value,
            "`http/json` is not supported; expected `grpc` or `http/protobuf`",
        )),
        _ => Err(problem(
            variable,
            value,
            "expected `grpc` or `http/protobuf`",
        )),
    }
}

/// Milliseconds, as the specification writes timeouts and intervals, more than zero.
fn parse_millis(variable: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let millis: u64 = value
        .trim()
        .parse()
        .map_err(|_| problem(variable, value, "expected a whole number of milliseconds"))?;
    if millis == 0 {
        return Err(problem(variable, value, "must be greater than zero"));
    }
    Ok(Duration::from_millis(millis))
}

/// `endpoint` with any user info (`user:password@`) as `***@`, for an error message.
fn hide_user_info(endpoint: &str) -> String {
    let start = endpoint.find("://").map_or(0, |at| at + 3);
    let end = endpoint[start..]
        .find(['/', '?', '#'])
        .map_or(endpoint.len(), |at| start + at);
    match endpoint[start..end].rfind('@') {
        Some(at) => format!("{}***{}", &endpoint[..start], &endpoint[start + at..]),
        None => endpoint.to_owned(),
    }
}

/// An `http://` or `https://` URL with a host. An error shows it without its user info.
fn check_endpoint(variable: &'static str, value: String) -> Result<String, ConfigError> {
    let bad = |what: String| problem(variable, &hide_user_info(&value), what);
    let uri: http::Uri = value
        .trim()
        .parse()
        .map_err(|error| bad(format!("not a URL: {error}")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(bad("expected an `http://` or `https://` URL".to_owned()));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("the URL has no host".to_owned()));
    }
    // The specification: an endpoint MUST NOT contain a query or a fragment.
    if uri.query().is_some() || value.contains('#') {
        return Err(problem(
            variable,
            &shown(&value),
            "an endpoint has no query or fragment",
        ));
    }
    Ok(value.trim().to_owned())
}

/// Headers carry credentials: an error shows the value with every header value, and every
/// entry that is not `key=value`, as `***`.
fn parse_headers(
    variable: &'static str,
    value: &str,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let shown = hide_values(value);
    let pairs = parse_pairs(variable, value, &shown, |(name, value)| {
        check_header(variable, &shown, name, value)
    })?;
    Ok(pairs.into_iter().collect())
}

/// `value` with each pair's value (and each entry without `=`) as `***`.
fn hide_values(value: &str) -> String {
    let entries: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.split_once('=') {
            Some((key, _)) => format!("{}=***", key.trim()),
            None => "***".to_owned(),
        })
        .collect();
    entries.join(",")
}

/// A header's name and value as HTTP (and gRPC metadata) can carry them; an error names the
/// header, never its value.
fn check_header(
    variable: &'static str,
    shown: &str,
    name: &str,
    value: &str,
) -> Result<(), ConfigError> {
    http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| problem(variable, shown, format!("`{name}` is not a header name")))?;
    http::HeaderValue::from_str(value).map(drop).map_err(|_| {
        problem(
            variable,
            shown,
            format!("the value of `{name}` cannot be sent in a header"),
        )
    })
}

/// `key=value` pairs separated by commas, the W3C Baggage form the specification uses for
/// headers and resource attributes, values percent-decoded. Errors show `shown` as the value
/// and name the entry by its position, not its text (it may be a credential).
fn parse_pairs(
    variable: &'static str,
    value: &str,
    shown: &str,
    check: impl Fn((&str, &str)) -> Result<(), ConfigError>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    let entries = value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty());
    for (index, entry) in entries.enumerate() {
        let position = index + 1;
        let Some((key, raw)) = entry.split_once('=') else {
            return Err(problem(
                variable,
                shown,
                format!("entry {position} is not `key=value`"),
            ));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(problem(
                variable,
                shown,
                format!("entry {position} has no key"),
            ));
        }
        let decoded = percent_decode(raw.trim()).ok_or_else(|| {
            problem(
                variable,
                shown,
                format!("the value of `{key}` is not percent-encoded UTF-8"),
            )
        })?;
        check((key, &decoded))?;
        pairs.push((key.to_owned(), decoded));
    }
    Ok(pairs)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_errors_hide_the_user_info() {
        let error = check_endpoint("X", "ftp://user:pw@collector/v1".to_owned()).unwrap_err();
        assert_eq!(error.value, "ftp://***@collector/v1");
        assert_eq!(
            hide_user_info("http://collector:4318/a@b"),
            "http://collector:4318/a@b"
        );
    }

    #[test]
    fn debug_shows_no_credential() {
        let otlp = Otlp::new("https://user:pw@collector:4318/otlp?token=t")
            .with_header("api-key", "s3cret");
        let shown = format!("{otlp:?}");
        assert!(shown.contains("https://collector:4318/otlp"), "{shown}");
        assert!(shown.contains("api-key"), "{shown}");
        for secret in ["s3cret", "pw", "token"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn pairs_are_percent_decoded_and_malformed_ones_named() {
        let pairs = parse_pairs("X", "a=1, b=x%20y,", "", |_| Ok(())).unwrap();
        assert_eq!(
            pairs,
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x y".to_owned())
            ]
        );
        for bad in ["a", "=1", "a=%zz", "a=%e2%28"] {
            let error = parse_pairs("X", bad, bad, |_| Ok(())).unwrap_err();
            assert_eq!((error.variable, error.value.as_str()), ("X", bad));
        }
    }

    #[test]
    fn http_endpoints_get_the_signal_path_and_grpc_ones_do_not() {
        let otlp = Otlp::new("http://collector:4318/");
        assert_eq!(
            otlp.destination(Signal::Logs).unwrap().endpoint,
            "http://collector:4318/v1/logs"
        );
        let otlp = otlp.with_protocol(Protocol::Grpc);
        assert_eq!(
            otlp.destination(Signal::Logs).unwrap().endpoint,
            "http://collector:4318/"
        );
        let error = Otlp::new("collector:4317")
            .destination(Signal::Traces)
            .unwrap_err();
        assert_eq!(error.variable, "OTEL_EXPORTER_OTLP_ENDPOINT");
    }
}
