//! The HTTP probes, on axum: `/health`, `/ready`, `/live`, `/startup` (and `/readyz`,
//! `/livez`), `/health/report` and `/metrics`.
//!
//! | path | answers |
//! |---|---|
//! | `/health` | every check: 200 when healthy or warning, 503 otherwise |
//! | `/ready`, `/readyz` | the readiness group: 503 until its checks have a result, and while draining |
//! | `/live`, `/livez` | the liveness group |
//! | `/startup` | the startup group, 200 for good once it has passed |
//! | `/health/report` | the full report as JSON, subject to the detail level |
//! | `/health/history` | each check's transitions and uptime ([`history`](crate::history)); `?check=name` for one |
//! | `/health/events` | Server-Sent Events: `state` on connect and on every change, `transition` per transition |
//! | `/health/ui` | the status page, reading the two above (off with `PLUGIN_HEALTH_UI=false`) |
//! | `/metrics` | Prometheus text exposition, when enabled |
//!
//! Probes run what is due first (cache and single-flight, as for gRPC `Check`). `?verbose`
//! answers in Kubernetes' `[+]name ok` lines. Details (messages, values, thresholds) show
//! according to [`DetailLevel`](crate::config::DetailLevel), by the same decision as the gRPC
//! report: to everyone, to requests with `Authorization: Bearer <PLUGIN_HEALTH_AUTH_TOKEN>`, or
//! never; statuses never need a token. Without details a probe answers with statuses only,
//! `/health/report` answers 401 (403 at `never`), and `/metrics` leaves out the
//! `health_check_value` and `health_check_threshold` gauges.
//! Every response carries `Cache-Control: no-store`.
//!
//! # `application/health+json`
//!
//! The probes and `/health/report` answer in `application/health+json`
//! ([draft-inadarei-api-health-check-06][draft]) to a request whose `Accept` weighs it above
//! `application/json`: `application/health+json`, or
//! `application/health+json;q=0.9, application/json;q=0.1`. Each type weighs what the most
//! specific range matching it says (RFC 9110), so `*/*`, `application/*`, a tie and no `Accept`
//! keep the JSON above, and `?verbose` keeps its lines. Both formats carry `Vary: Accept`.
//!
//! | field | holds |
//! |---|---|
//! | `status` | `fail`, with 503, when the answer does not serve; else, with 200, `pass` when every check shown is healthy and `warn` otherwise (a warning, or a check that only informs and does not pass) |
//! | `version`, `releaseId` | the major part of the version given to the builder (`1` of `1.4.2`), and that version |
//! | `serviceId`, `description` | the program's name, and `health of <name>` |
//! | `output` | for `warn` and `fail`: what holds the answer back (`db is critical; shutting down`), never a check's message |
//! | `checks` | for each check, an array of one object under `<name>:status`, or `cpu:utilization`, `memory:utilization` and `disk:utilization` for `cpu_usage`, `memory_usage` and `disk_usage` |
//!
//! A check's object holds `componentId` (its name), `componentType` (`system` for the three
//! system indicators, `component` otherwise), `status` (`pass` for healthy, `warn` for warning,
//! `fail` for critical and unknown) and `time` (its last run), and with details `observedValue`
//! (its value) with `observedUnit` where the unit is known (`percent` for the system indicators
//! and `request_success_rate`, `ms` for `avg_response_time` and `p99_response_time`; a value of
//! a check's own has none) and `output` (its message, unless it passes). With details, a check
//! other than the built-in system and request indicators (whose runs only read a sample) also
//! shows its last run's duration as `<name>:responseTime`, in `ms`, with the run's status; the
//! report adds `uptime`, in `s`. Without details, and always on the probe port, a check shows
//! its status and time only.
//!
//! The report in health+json answers 503 when it says `fail`, as the draft requires 4xx–5xx for
//! it (the JSON report answers 200 whatever it says). A report refused for want of details is
//! `{"status":"fail","output":"<what to send>"}` with its 401 or 403: the draft has no error
//! form, and `fail` is the one status it allows with a 4xx.
//!
//! [draft]: https://datatracker.ietf.org/doc/html/draft-inadarei-api-health-check-06

mod media;

use std::future::Future;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;

use crate::runtime::details::{self, Access, Withheld};
use crate::state::health_json::{HealthJson, Hold};
use crate::state::resolve::{Verdict, selector};
use crate::{HealthMetric, HealthRuntime};

mod live;

/// A probe group as the status page shows it: the health service name it answers for, and the
/// gRPC names and HTTP paths that ask for it.
struct ProbeGroup {
    group: &'static str,
    service: &'static str,
    grpc: &'static [&'static str],
    http: &'static [&'static str],
}

const PROBE_GROUPS: [ProbeGroup; 4] = [
    ProbeGroup {
        group: "overall",
        service: "",
        grpc: &["", crate::state::snapshot::PLUGIN_SERVICE],
        http: &["/health"],
    },
    ProbeGroup {
        group: "liveness",
        service: "liveness",
        grpc: &["liveness"],
        http: &["/live", "/livez"],
    },
    ProbeGroup {
        group: "readiness",
        service: "readiness",
        grpc: &["readiness"],
        http: &["/ready", "/readyz"],
    },
    ProbeGroup {
        group: "startup",
        service: "startup",
        grpc: &["startup"],
        http: &["/startup", "/startupz"],
    },
];

/// The probe paths and the health service name each answers for.
const PROBES: [(&str, &str); 7] = [
    ("/health", ""),
    ("/ready", "readiness"),
    ("/readyz", "readiness"),
    ("/live", "liveness"),
    ("/livez", "liveness"),
    ("/startup", "startup"),
    ("/startupz", "startup"),
];

/// The HTTP probe routes of `runtime`, to serve alone ([`serve`]) or to merge into an axum
/// application.
///
/// ```
/// use health_runtime::HealthRuntime;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let health = HealthRuntime::builder().build()?;
/// let app: axum::Router = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "hello" }))
///     .merge(health_runtime::http::router(&health));
/// # let _ = app; Ok(())
/// # }
/// ```
pub fn router(runtime: &HealthRuntime) -> Router {
    probes(ProbeMode::Main)
        .route("/health/report", get(report))
        .route("/health/history", get(live::history))
        .route("/health/events", get(live::events))
        .route(
            "/health/ui",
            get(|State(runtime): State<HealthRuntime>| async move {
                live::page(&runtime, live::Asset::Page)
            }),
        )
        .route(
            "/health/ui/app.js",
            get(|State(runtime): State<HealthRuntime>| async move {
                live::page(&runtime, live::Asset::Script)
            }),
        )
        .route(
            "/health/ui/style.css",
            get(|State(runtime): State<HealthRuntime>| async move {
                live::page(&runtime, live::Asset::Style)
            }),
        )
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(no_store))
        .with_state(runtime.clone())
}

/// The routes of the probe port: the probe paths only, answered from the published state and
/// never with details (the port is plaintext, and a token must not cross it).
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
pub(crate) fn probe_router(runtime: &HealthRuntime) -> Router {
    probes(ProbeMode::ProbePort)
        .fallback(probe_port_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(no_store))
        .with_state(runtime.clone())
}

/// Where a probe is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeMode {
    /// The HTTP surface: what is due runs first; details as the detail level allows.
    Main,
    /// The probe port: the published state, statuses only.
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    ProbePort,
}

fn probes(mode: ProbeMode) -> Router<HealthRuntime> {
    let mut router = Router::new();
    for (path, name) in PROBES {
        router = router.route(
            path,
            get(
                move |State(runtime): State<HealthRuntime>, uri: Uri, headers: HeaderMap| async move {
                    probe(&runtime, name, &uri, &headers, mode).await
                },
            ),
        );
    }
    router
}

/// Serves the HTTP probes of `runtime` on `listener` until `shutdown` resolves, with the
/// connection limits, the `Host` allowlist and the TLS of its configuration (the TLS files are
/// read here: an unusable one is an error of kind `InvalidInput` naming it). Connections still
/// open [`shutdown_grace`](crate::config::SurfaceSettings::shutdown_grace) after `shutdown` are
/// cut.
pub async fn serve(
    runtime: &HealthRuntime,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use futures::FutureExt as _;
    crate::listen::fd::raise_limit();
    let stop = shutdown.boxed().shared();
    let grace = runtime.config().surfaces.shutdown_grace;
    let closed = {
        let stop = stop.clone();
        async move {
            stop.await;
            tokio::time::sleep(grace).await;
        }
        .boxed()
        .shared()
    };
    #[cfg(feature = "tls")]
    let tls = match &runtime.config().surfaces.tls {
        Some(files) => {
            let acceptors = crate::listen::tls::load(files)
                .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
            acceptors.reload_on_hangup();
            Some(acceptors.http)
        }
        None => None,
    };
    #[cfg(not(feature = "tls"))]
    if runtime.config().surfaces.tls.is_some() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "TLS is configured (PLUGIN_HEALTH_TLS_CERT) but this build has no TLS (feature `tls`)",
        ));
    }
    serve_surface(
        runtime,
        listener,
        #[cfg(feature = "tls")]
        tls,
        stop,
        closed,
    )
    .await;
    Ok(())
}

/// Serves the HTTP surface on `listener` until `stop`, cutting what is open at `closed`.
pub(crate) async fn serve_surface(
    runtime: &HealthRuntime,
    listener: TcpListener,
    #[cfg(feature = "tls")] tls: Option<crate::listen::tls::Reloadable>,
    stop: crate::listen::Drained,
    closed: crate::listen::Drained,
) {
    use crate::listen::accept::{self, Listen};
    let bound = listener.local_addr().ok();
    let surfaces = &runtime.config().surfaces;
    if let Some(addr) = bound {
        tracing::info!(%addr, "serving HTTP health probes");
        if surfaces.status_page {
            let scheme = if surfaces.tls.is_some() {
                "https"
            } else {
                "http"
            };
            tracing::info!("status page at {scheme}://{addr}/health/ui");
        }
    }
    let limits = surfaces.limits.clone();
    let listen = Listen {
        surface: "HTTP",
        cap: accept::cap(limits.http_connections, 8),
        idle: Some(limits.idle_timeout),
        #[cfg(feature = "tls")]
        tls,
        #[cfg(feature = "tls")]
        handshake_timeout: limits.tls_handshake_timeout,
    };
    let (incoming, _) = accept::incoming(listener, listen, stop.clone(), closed.clone());
    let app = router(runtime).layer(axum::Extension(live::StopStreams(stop.clone())));
    let app = crate::listen::hosts::allow(app, &surfaces.allowed_hosts, bound);
    crate::listen::http::serve(
        incoming,
        app,
        crate::listen::http::builder(crate::listen::http::Protocols::Http1, &limits),
        stop,
        closed,
    )
    .await;
}

async fn probe(
    runtime: &HealthRuntime,
    name: &str,
    uri: &Uri,
    headers: &HeaderMap,
    mode: ProbeMode,
) -> Response {
    let snapshot = match mode {
        ProbeMode::Main => runtime.resolved(name).await,
        ProbeMode::ProbePort => runtime.snapshot(),
    };
    // On the probe port, the published state counts only while the runtime that keeps it runs.
    let stalled = match mode {
        ProbeMode::Main => None,
        ProbeMode::ProbePort => runtime
            .extension::<crate::listen::Heartbeat>()
            .stalled(runtime.config().surfaces.probe_stall_timeout),
    };
    let serving = Verdict::of(&snapshot, name) == Some(Verdict::Serving) && stalled.is_none();
    let code = if serving {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    // The probe port never shows details: it is plaintext, and a token must not cross it.
    let details = mode == ProbeMode::Main && access(runtime, headers, "http probe").shows_details();
    let members = snapshot
        .checks()
        .filter(|check| selector(name)(check.info()));

    if query_has(uri, "verbose") {
        let mut body = String::new();
        // `""` and `plugin` leave informational checks out of their verdict.
        let overall = name.is_empty() || name == crate::state::snapshot::PLUGIN_SERVICE;
        for check in members {
            let state = check.state();
            let ok = state.status().is_serving();
            let informs = !ok && overall && check.info().is_informational();
            body.push_str(match (ok, informs) {
                (true, _) => "[+]",
                (false, true) => "[~]",
                (false, false) => "[-]",
            });
            body.push_str(check.info().name());
            body.push_str(match (ok, informs) {
                (true, _) => " ok",
                (false, true) => " failed (informational)",
                (false, false) => " failed",
            });
            match state.message() {
                Some(message) if details && !message.is_empty() => {
                    body.push_str(": ");
                    body.push_str(&message.replace('\n', " "));
                }
                _ if !ok && !details => body.push_str(": reason withheld"),
                _ => {}
            }
            body.push('\n');
        }
        if snapshot.is_draining() {
            body.push_str("[-]shutdown failed: draining\n");
        }
        if let Some(stalled) = stalled {
            body.push_str(&format!(
                "[-]runtime failed: the application's runtime has run nothing for {:.0} s\n",
                stalled.as_secs_f64()
            ));
        }
        let path = uri.path().trim_start_matches('/');
        body.push_str(&format!(
            "{path} check {}\n",
            if serving { "passed" } else { "failed" }
        ));
        return (
            code,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response();
    }

    if media::Format::of(headers) == media::Format::HealthJson {
        let hold = Hold {
            draining: snapshot.is_draining(),
            stalled,
        };
        let metrics = members.map(HealthMetric::from_check);
        let document = HealthJson::new(media::subject(runtime), serving, hold, metrics, details);
        return media::vary(media::health_json(code, &document));
    }

    let status = snapshot.status_of(name).unwrap_or_default();
    let mut body = json!({
        "status": status,
        "serving": serving,
        "draining": snapshot.is_draining(),
    });
    if let Some(stalled) = stalled {
        body["stalled_seconds"] = json!(stalled.as_secs());
    }
    if details {
        body["checks"] = members
            .map(|check| {
                let metric = HealthMetric::from_check(check);
                (metric.name.clone(), json!(metric))
            })
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    media::vary((code, axum::Json(body)).into_response())
}

async fn report(State(runtime): State<HealthRuntime>, headers: HeaderMap) -> Response {
    let format = media::Format::of(&headers);
    let refuse = |code, hint| match format {
        media::Format::Json => error(code, hint),
        media::Format::HealthJson => media::health_json(code, &HealthJson::refused(hint)),
    };
    let response = match access(&runtime, &headers, "http report") {
        Access::StatusesOnly(withheld @ Withheld::TurnedOff) => {
            refuse(StatusCode::FORBIDDEN, withheld.hint())
        }
        Access::StatusesOnly(withheld) => {
            let mut response = refuse(StatusCode::UNAUTHORIZED, withheld.hint());
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        Access::Details if format == media::Format::HealthJson => {
            let report = runtime.report().await;
            let draining = runtime.snapshot().is_draining();
            let document = HealthJson::from_report(&report, media::subject(&runtime), draining);
            // The status codes as for the JSON report: a report answers 200, whatever it says;
            // the probes carry the verdict in theirs.
            media::health_json(StatusCode::OK, &document)
        }
        Access::Details => axum::Json(runtime.report().await).into_response(),
    };
    media::vary(response)
}

async fn metrics(State(runtime): State<HealthRuntime>, headers: HeaderMap) -> Response {
    if !runtime.config().surfaces.prometheus {
        return error(
            StatusCode::NOT_FOUND,
            "metrics are turned off; set PLUGIN_ENABLE_PROMETHEUS=true",
        );
    }
    #[cfg(feature = "prometheus")]
    {
        let details = access(&runtime, &headers, "http metrics").shows_details();
        match crate::prometheus::render_with(&runtime, details) {
            Ok(text) => (
                [(header::CONTENT_TYPE, crate::prometheus::CONTENT_TYPE)],
                text,
            )
                .into_response(),
            Err(problem) => {
                tracing::error!(%problem, "metrics not rendered");
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "metrics could not be rendered",
                )
            }
        }
    }
    #[cfg(not(feature = "prometheus"))]
    let _ = headers;
    #[cfg(not(feature = "prometheus"))]
    error(
        StatusCode::NOT_FOUND,
        "this build has no Prometheus support (feature `prometheus`)",
    )
}

async fn not_found(uri: Uri) -> Response {
    let body = json!({
        "error": "no such endpoint",
        "path": uri.path(),
        "endpoints": [
            "/health", "/ready", "/live", "/startup", "/health/report", "/health/history",
            "/health/events", "/health/ui", "/metrics",
        ],
    });
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
async fn probe_port_not_found(uri: Uri) -> Response {
    let body = json!({
        "error": "the probe port serves only the probe paths and grpc.health.v1",
        "path": uri.path(),
        "endpoints": PROBES.map(|(path, _)| path),
    });
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    let body = json!({
        "error": "method not allowed; the health endpoints answer GET and HEAD",
        "method": request.method().as_str(),
    });
    let mut response = (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error(code: StatusCode, message: &str) -> Response {
    (code, axum::Json(json!({ "error": message }))).into_response()
}

/// What the request may see, by the policy every surface shares.
fn access(runtime: &HealthRuntime, headers: &HeaderMap, surface: &'static str) -> Access {
    details::access(
        &runtime.config().details,
        headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
        surface,
    )
}

fn query_has(uri: &Uri, key: &str) -> bool {
    uri.query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(key))
    })
}
