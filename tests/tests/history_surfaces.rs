//! The surfaces of history and change over loopback: `GET /health/history`, gRPC
//! `GetHealthHistory` and `WatchHealthReport`, the `/health/events` stream, the uptime gauges
//! and the status page's routes, with and without details.

use std::time::{Duration, Instant};

use health_runtime::config::{DetailLevel, HistorySettings};
use health_runtime::pb::report::v1::health_report_client::HealthReportClient;
use health_runtime::pb::report::v1::watch_health_report_response::Update;
use health_runtime::pb::report::v1::{
    GetHealthHistoryRequest, HealthStatus, WatchHealthReportRequest, WatchHealthReportResponse,
};
use health_runtime::{HealthRuntime, Status};
use serde_json::Value;
use tests::history::Dial;
use tests::{GrpcServer, ServingStatus, builder, next_status, quiet_config, request, serve_http};

const TOKEN: &str = "s3cret-token";

/// A runtime with the dial's check `db`, no cache, a short drain, details at `level`.
fn runtime(dial: &Dial, level: DetailLevel) -> HealthRuntime {
    let mut config = quiet_config();
    config.details.level = level;
    config.details.token = Some(TOKEN.to_owned());
    config.checks.drain_delay = Duration::from_millis(200);
    config.history = HistorySettings::default();
    builder()
        .config(config)
        .version("1.2.3")
        .cache_ttl(Duration::ZERO)
        .with_check(dial.check("db"))
        .build()
        .unwrap()
}

fn get(url: String, token: Option<&str>) -> reqwest::RequestBuilder {
    let request = reqwest::Client::new().get(url);
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

async fn history_json(addr: std::net::SocketAddr, query: &str, token: Option<&str>) -> Value {
    let response = get(format!("http://{addr}/health/history{query}"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// healthy → critical "down" (value 7) → healthy: three transitions from unknown.
async fn flip(runtime: &HealthRuntime, dial: &Dial) {
    runtime.check("db").await.unwrap();
    dial.set(Status::Critical, "down: connection refused", 7.0);
    runtime.check("db").await.unwrap();
    dial.set(Status::Healthy, "ok", 1.0);
    runtime.check("db").await.unwrap();
}

#[tokio::test]
async fn http_history_shows_transitions_with_details_only_to_the_token() {
    let dial = Dial::new();
    let runtime = runtime(&dial, DetailLevel::WhenAuthorized);
    flip(&runtime, &dial).await;
    let addr = serve_http(&runtime).await;

    let shown = history_json(addr, "", Some(TOKEN)).await;
    assert_eq!(shown["details"], true);
    let transitions = shown["checks"]["db"]["transitions"].as_array().unwrap();
    let steps: Vec<(&str, &str, &str)> = transitions
        .iter()
        .map(|t| {
            (
                t["from"].as_str().unwrap(),
                t["to"].as_str().unwrap(),
                t["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("unknown", "healthy", "ok"),
            ("healthy", "critical", "down: connection refused"),
            ("critical", "healthy", "ok"),
        ]
    );
    assert_eq!(transitions[1]["value"], 7.0);
    assert!(transitions[1]["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(transitions[1]["at"].as_str().unwrap().ends_with('Z'));
    let uptime = shown["checks"]["db"]["uptime"]["1h"].as_f64().unwrap();
    assert!(uptime > 0.0 && uptime < 1.0, "{uptime}");
    assert!(shown["checks"]["db"]["uptime"]["24h"].is_number());

    // Without the token, and with a wrong one: statuses and times, nothing else.
    for token in [None, Some("wrong")] {
        let withheld = history_json(addr, "", token).await;
        assert_eq!(withheld["details"], false);
        let transitions = withheld["checks"]["db"]["transitions"].as_array().unwrap();
        assert_eq!(transitions.len(), 3);
        for transition in transitions {
            let keys: Vec<&str> = transition
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, ["at", "duration_ms", "from", "to"], "{token:?}");
        }
        assert!(!withheld.to_string().contains("connection refused"));
    }
}

#[tokio::test]
async fn http_history_filters_by_check_and_names_an_unknown_one() {
    let (dial, other) = (Dial::new(), Dial::new());
    let mut config = tests::details_config();
    config.history = HistorySettings::default();
    let runtime = builder()
        .config(config)
        .cache_ttl(Duration::ZERO)
        .with_check(dial.check("db"))
        .with_check(other.check("cache"))
        .build()
        .unwrap();
    runtime.check("db").await.unwrap();
    let addr = serve_http(&runtime).await;

    let all = history_json(addr, "", None).await;
    let names: Vec<&String> = all["checks"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["cache", "db"]);
    // `cache` has not run: an entry with no transitions and no uptime.
    assert_eq!(all["checks"]["cache"]["transitions"], serde_json::json!([]));
    assert!(all["checks"]["cache"]["uptime"]["1h"].is_null());

    let one = history_json(addr, "?check=db", None).await;
    let names: Vec<&String> = one["checks"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["db"]);

    let response = get(format!("http://{addr}/health/history?check=nope"), None)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "no check named `nope`");
}

#[tokio::test]
async fn grpc_history_follows_the_detail_level() {
    let dial = Dial::new();
    let runtime = runtime(&dial, DetailLevel::WhenAuthorized);
    flip(&runtime, &dial).await;
    let server = GrpcServer::start(&runtime).await;
    let mut client = HealthReportClient::new(server.channel().await);

    let mut authorized = tonic::Request::new(GetHealthHistoryRequest { check: "db".into() });
    authorized
        .metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let shown = client.get_health_history(authorized).await.unwrap();
    assert!(
        shown
            .metadata()
            .get(health_runtime::grpc::WITHHELD_METADATA)
            .is_none()
    );
    let shown = shown.into_inner();
    assert!(shown.details);
    let db = &shown.checks["db"];
    let steps: Vec<(HealthStatus, HealthStatus, &str, Option<f64>)> = db
        .transitions
        .iter()
        .map(|t| (t.from_status(), t.to_status(), t.message.as_str(), t.value))
        .collect();
    assert_eq!(
        steps,
        [
            (
                HealthStatus::Unknown,
                HealthStatus::Healthy,
                "ok",
                Some(1.0)
            ),
            (
                HealthStatus::Healthy,
                HealthStatus::Critical,
                "down: connection refused",
                Some(7.0)
            ),
            (
                HealthStatus::Critical,
                HealthStatus::Healthy,
                "ok",
                Some(1.0)
            ),
        ]
    );
    assert!(
        db.uptime
            .get("1h")
            .is_some_and(|ratio| *ratio > 0.0 && *ratio < 1.0)
    );
    assert!(
        db.transitions
            .iter()
            .all(|t| t.at.is_some() && t.duration.is_some())
    );

    let withheld = client
        .get_health_history(GetHealthHistoryRequest::default())
        .await
        .unwrap();
    assert!(
        withheld
            .metadata()
            .get(health_runtime::grpc::WITHHELD_METADATA)
            .is_some()
    );
    let withheld = withheld.into_inner();
    assert!(!withheld.details);
    assert!(
        withheld.checks["db"]
            .transitions
            .iter()
            .all(|t| t.message.is_empty() && t.value.is_none())
    );
    assert_eq!(withheld.checks["db"].transitions.len(), 3);

    let unknown = client
        .get_health_history(GetHealthHistoryRequest {
            check: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
}

/// Serves `runtime` over gRPC and opens a `WatchHealthReport` stream on it, without a token.
async fn watch_report(
    runtime: &HealthRuntime,
) -> (GrpcServer, tonic::Streaming<WatchHealthReportResponse>) {
    let server = GrpcServer::start(runtime).await;
    let mut client = HealthReportClient::new(server.channel().await);
    let stream = client
        .watch_health_report(WatchHealthReportRequest {})
        .await
        .unwrap()
        .into_inner();
    (server, stream)
}

async fn next_update(
    stream: &mut tonic::Streaming<WatchHealthReportResponse>,
    wait: Duration,
) -> Option<WatchHealthReportResponse> {
    match tokio::time::timeout(wait, stream.message()).await {
        Ok(Ok(Some(update))) => Some(update),
        _ => None,
    }
}

fn changed(update: &WatchHealthReportResponse) -> (String, HealthStatus, String, Option<f64>) {
    match &update.update {
        Some(Update::Changed(metric)) => (
            metric.name.clone(),
            metric.status(),
            metric.message.clone(),
            metric.value,
        ),
        other => panic!("expected a change, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_health_report_streams_warning_which_watch_cannot_show() {
    let dial = Dial::new();
    let runtime = runtime(&dial, DetailLevel::Always);
    runtime.check("db").await.unwrap();
    let (server, mut stream) = watch_report(&runtime).await;
    let first = next_update(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    match &first.update {
        Some(Update::Report(report)) => {
            assert_eq!(report.metrics["db"].status(), HealthStatus::Healthy);
            assert_eq!(report.version, "1.2.3");
        }
        other => panic!("expected the report first, got {other:?}"),
    }
    let mut health = server.health().await;
    let mut watch = health.watch(request("db")).await.unwrap().into_inner();
    assert_eq!(
        next_status(&mut watch, Duration::from_secs(5)).await,
        Some(ServingStatus::Serving)
    );

    dial.set(Status::Warning, "replica lag 4 s", 4.0);
    runtime.check("db").await.unwrap();
    let published = Instant::now();
    let update = next_update(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    let latency = published.elapsed();
    assert_eq!(
        changed(&update),
        (
            "db".into(),
            HealthStatus::Warning,
            "replica lag 4 s".into(),
            Some(4.0)
        )
    );
    assert_eq!(update.overall_status(), HealthStatus::Warning);
    println!("warning seen on WatchHealthReport {latency:?} after it was published");
    // grpc.health.v1.Watch says SERVING for warning: it sends nothing.
    assert_eq!(
        next_status(&mut watch, Duration::from_millis(300)).await,
        None
    );

    // The same outcome again is no change: nothing is sent.
    runtime.check("db").await.unwrap();
    assert!(
        next_update(&mut stream, Duration::from_millis(300))
            .await
            .is_none()
    );
    // A new value is.
    dial.set(Status::Warning, "replica lag 4 s", 9.0);
    runtime.check("db").await.unwrap();
    let update = next_update(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(changed(&update).3, Some(9.0));
    dial.set(Status::Critical, "replica gone", 0.0);
    runtime.check("db").await.unwrap();
    let update = next_update(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(changed(&update).1, HealthStatus::Critical);
    assert!(
        next_update(&mut stream, Duration::from_millis(300))
            .await
            .is_none()
    );

    // Shutdown: a drain message, then the stream ends with the drain delay, as Watch does.
    let stopping = tokio::spawn(server.stop());
    let drain = tokio::time::timeout(Duration::from_secs(5), stream.message()).await;
    let drain = drain.unwrap().unwrap().unwrap();
    assert!(drain.draining && drain.update.is_none(), "{drain:?}");
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.message()).await;
    assert!(
        matches!(ended, Ok(Ok(None)) | Ok(Err(_))),
        "the stream did not end: {ended:?}"
    );
    stopping.await.unwrap().unwrap();
}

#[tokio::test]
async fn watch_health_report_without_details_sends_status_changes_only() {
    let dial = Dial::new();
    let runtime = runtime(&dial, DetailLevel::WhenAuthorized);
    runtime.check("db").await.unwrap();
    let server = GrpcServer::start(&runtime).await;
    let mut client = HealthReportClient::new(server.channel().await);
    let response = client
        .watch_health_report(WatchHealthReportRequest {})
        .await
        .unwrap();
    assert!(
        response
            .metadata()
            .get(health_runtime::grpc::WITHHELD_METADATA)
            .is_some()
    );
    let mut stream = response.into_inner();
    match next_update(&mut stream, Duration::from_secs(5))
        .await
        .unwrap()
        .update
    {
        Some(Update::Report(report)) => {
            assert_eq!(report.metrics["db"].message, "");
            assert_eq!(report.metrics["db"].value, None);
        }
        other => panic!("expected the report first, got {other:?}"),
    }
    // A message and a value are details: a change of them alone is not sent.
    dial.set(Status::Healthy, "still fine", 2.0);
    runtime.check("db").await.unwrap();
    assert!(
        next_update(&mut stream, Duration::from_millis(300))
            .await
            .is_none()
    );
    dial.set(Status::Warning, "secret host db-7.internal slow", 3.0);
    runtime.check("db").await.unwrap();
    let update = next_update(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        changed(&update),
        ("db".into(), HealthStatus::Warning, String::new(), None)
    );
}

/// The SSE frames of a `/health/events` response, as (event, data) pairs.
struct Frames {
    body: reqwest::Response,
    buffer: String,
}

impl Frames {
    async fn open(addr: std::net::SocketAddr, token: Option<&str>) -> Self {
        let response = get(format!("http://{addr}/health/events"), token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Frames {
            body: response,
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped), `None` when the stream ended or `wait` passed.
    async fn next(&mut self, wait: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut data) = (String::new(), String::new());
                for line in frame.lines() {
                    if let Some(name) = line.strip_prefix("event: ") {
                        event = name.to_owned();
                    } else if let Some(line) = line.strip_prefix("data: ") {
                        data.push_str(line);
                    }
                }
                if !event.is_empty() {
                    return Some((event, serde_json::from_str(&data).unwrap()));
                }
            }
            match tokio::time::timeout_at(deadline, self.body.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(std::str::from_utf8(&chunk).unwrap()),
                _ => return None,
            }
        }
    }
}

#[tokio::test]
async fn the_event_stream_sends_the_state_then_every_transition_and_ends_on_shutdown() {
    let dial = Dial::new();
    let runtime = runtime(&dial, DetailLevel::WhenAuthorized);
    runtime.check("db").await.unwrap();
    let addr = serve_http(&runtime).await;
    let mut shown = Frames::open(addr, Some(TOKEN)).await;
    let mut withheld = Frames::open(addr, None).await;

    let (event, state) = shown.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(event, "state");
    assert_eq!(state["details"], true);
    assert_eq!(state["withheld"], Value::Null);
    assert_eq!(state["report"]["metrics"]["db"]["message"], "ok");
    assert_eq!(state["report"]["version"], "1.2.3");
    assert_eq!(state["uptime"]["db"]["1h"], 1.0);
    let overall = &state["probes"][0];
    assert_eq!(overall["group"], "overall");
    assert_eq!(overall["grpc"], serde_json::json!(["", "plugin"]));
    assert_eq!(overall["checks"], serde_json::json!(["db"]));
    assert_eq!(overall["serving"], true);
    let (_, state) = withheld.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(state["details"], false);
    assert!(state["withheld"].as_str().unwrap().contains("Bearer"));
    assert_eq!(state["report"]["metrics"]["db"]["message"], "");

    dial.set(Status::Critical, "disk /var full", 99.0);
    runtime.check("db").await.unwrap();
    let mut seen = Vec::new();
    while let Some((event, data)) = shown.next(Duration::from_millis(500)).await {
        seen.push((event, data));
    }
    let transition = seen
        .iter()
        .find(|(event, _)| event == "transition")
        .map(|(_, data)| data)
        .unwrap_or_else(|| panic!("no transition in {seen:?}"));
    assert_eq!(transition["check"], "db");
    assert_eq!(
        (&transition["from"], &transition["to"]),
        (&Value::from("healthy"), &Value::from("critical"))
    );
    assert_eq!(transition["message"], "disk /var full");
    assert_eq!(transition["value"], 99.0);
    let last_state = seen
        .iter()
        .rev()
        .find(|(event, _)| event == "state")
        .map(|(_, data)| data)
        .unwrap();
    assert_eq!(last_state["report"]["metrics"]["db"]["status"], "critical");
    assert_eq!(last_state["probes"][0]["serving"], false);
    assert_eq!(
        seen.iter()
            .filter(|(event, _)| event == "transition")
            .count(),
        1
    );

    let mut hidden = Vec::new();
    while let Some(frame) = withheld.next(Duration::from_millis(500)).await {
        hidden.push(frame);
    }
    let text = format!("{hidden:?}");
    assert!(
        text.contains("critical") && !text.contains("disk /var full"),
        "{text}"
    );
    let transition = hidden
        .iter()
        .find(|(event, _)| event == "transition")
        .map(|(_, data)| data)
        .unwrap();
    assert!(transition.get("message").is_none() && transition.get("value").is_none());

    runtime.shutdown();
    let (event, draining) = shown.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (event.as_str(), &draining["draining"]),
        ("state", &Value::Bool(true))
    );
    // The drain delay is 200 ms: then the stream ends.
    let started = Instant::now();
    assert!(shown.next(Duration::from_secs(5)).await.is_none());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn prometheus_shows_the_uptime_ratios() {
    let dial = Dial::new();
    let runtime = runtime(&dial, DetailLevel::Never);
    let text = health_runtime::prometheus::render_with(&runtime, false).unwrap();
    // No known status yet: no ratio.
    assert!(!text.contains("health_check_uptime_ratio{"), "{text}");
    runtime.check("db").await.unwrap();
    let text = health_runtime::prometheus::render_with(&runtime, false).unwrap();
    for window in ["1h", "24h"] {
        let line = format!("health_check_uptime_ratio{{service=\"db\",window=\"{window}\"}} 1");
        assert!(
            text.lines().any(|l| l.starts_with(&line)),
            "{line} in {text}"
        );
    }
    dial.set(Status::Critical, "down", 0.0);
    runtime.check("db").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let text = health_runtime::prometheus::render_with(&runtime, false).unwrap();
    let ratio: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("health_check_uptime_ratio{service=\"db\",window=\"1h\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(ratio < 1.0 && ratio > 0.0, "{ratio}");
}

#[tokio::test]
async fn the_status_page_is_served_with_a_strict_policy_and_can_be_turned_off() {
    let dial = Dial::new();
    let runtime = runtime(&dial, DetailLevel::WhenAuthorized);
    let addr = serve_http(&runtime).await;
    for (path, kind) in [
        ("/health/ui", "text/html"),
        ("/health/ui/app.js", "text/javascript"),
        ("/health/ui/style.css", "text/css"),
    ] {
        let response = get(format!("http://{addr}{path}"), None)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert!(headers["content-type"].to_str().unwrap().starts_with(kind));
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.starts_with("default-src 'none'"), "{policy}");
        assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe"));
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
    let page = get(format!("http://{addr}/health/ui"), None)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("/health/ui/app.js")
            && !page.contains("http://")
            && !page.contains("https://")
    );

    let mut config = quiet_config();
    config.surfaces.status_page = false;
    let off = builder().config(config).build().unwrap();
    let addr = serve_http(&off).await;
    for path in ["/health/ui", "/health/ui/app.js", "/health/ui/style.css"] {
        let response = get(format!("http://{addr}{path}"), None)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("PLUGIN_HEALTH_UI=false")
        );
    }
    // The data the page reads stays.
    let response = get(format!("http://{addr}/health/history"), None)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_new_value_sends_a_state_frame_and_a_removed_check_leaves_the_report_stream() {
    let (dial, other) = (Dial::new(), Dial::new());
    let runtime = runtime(&dial, DetailLevel::Always);
    runtime.register(other.check("cache")).unwrap();
    runtime.check("db").await.unwrap();
    runtime.check("cache").await.unwrap();
    let addr = serve_http(&runtime).await;
    let mut frames = Frames::open(addr, None).await;
    let (_, first) = frames.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(first["report"]["metrics"]["db"]["value"], 1.0);
    let (_server, mut stream) = watch_report(&runtime).await;
    next_update(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();

    // The status stays healthy: the published state does not wake its receivers, the run's
    // event does.
    dial.set(Status::Healthy, "ok", 42.0);
    runtime.check("db").await.unwrap();
    // (The gRPC server's monitor may have run the checks meanwhile: their frames come first.)
    let mut values = Vec::new();
    while let Some((event, state)) = frames.next(Duration::from_secs(5)).await {
        assert_eq!(event, "state");
        values.push(state["report"]["metrics"]["db"]["value"].clone());
        if values.last() == Some(&Value::from(42.0)) {
            break;
        }
    }
    assert_eq!(values.last(), Some(&Value::from(42.0)), "{values:?}");
    assert_eq!(
        changed(
            &next_update(&mut stream, Duration::from_secs(5))
                .await
                .unwrap()
        )
        .3,
        Some(42.0)
    );

    assert!(runtime.deregister("cache"));
    let update = next_update(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(update.update, Some(Update::Removed("cache".into())));
    let mut gone = false;
    while let Some((_, state)) = frames.next(Duration::from_secs(5)).await {
        if state["report"]["metrics"].get("cache").is_none() {
            gone = true;
            break;
        }
    }
    assert!(gone, "`cache` stayed in the state frames");
}

#[tokio::test]
async fn watch_health_report_sends_every_change_however_fast() {
    let dial = Dial::new();
    let runtime = runtime(&dial, DetailLevel::Always);
    runtime.check("db").await.unwrap();
    let (_server, mut stream) = watch_report(&runtime).await;
    next_update(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    // Twenty runs back to back, each a change: twenty messages in order, none folded.
    for flip in 0..20 {
        let status = if flip % 2 == 0 {
            Status::Critical
        } else {
            Status::Healthy
        };
        dial.set(status, &format!("run {flip}"), f64::from(flip));
        runtime.check("db").await.unwrap();
    }
    let mut seen = Vec::new();
    while let Some(update) = next_update(&mut stream, Duration::from_millis(500)).await {
        let (_, status, message, _) = changed(&update);
        seen.push((status, message));
    }
    let expected: Vec<(HealthStatus, String)> = (0..20)
        .map(|flip| {
            let status = if flip % 2 == 0 {
                HealthStatus::Critical
            } else {
                HealthStatus::Healthy
            };
            (status, format!("run {flip}"))
        })
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn event_streams_end_when_the_server_stops_and_keep_alive_within_the_idle_timeout() {
    let dial = Dial::new();
    let mut config = quiet_config();
    config.details.level = DetailLevel::Always;
    config.surfaces.limits.idle_timeout = Duration::from_secs(1);
    config.surfaces.shutdown_grace = Duration::from_secs(30);
    let runtime = builder()
        .config(config)
        .cache_ttl(Duration::ZERO)
        .with_check(dial.check("db"))
        .build()
        .unwrap();
    runtime.check("db").await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = runtime.clone();
    let server = tokio::spawn(async move {
        health_runtime::http::serve(&served, listener, async {
            let _ = stopped.await;
        })
        .await
    });
    let mut frames = Frames::open(addr, None).await;
    assert_eq!(
        frames.next(Duration::from_secs(5)).await.unwrap().0,
        "state"
    );
    // Nothing happens for 2.5 idle timeouts: the keep-alive comments hold the stream open.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    dial.set(Status::Critical, "down", 0.0);
    runtime.check("db").await.unwrap();
    let mut events = Vec::new();
    while let Some((event, _)) = frames.next(Duration::from_millis(600)).await {
        events.push(event);
    }
    assert!(
        events.iter().any(|event| event == "transition"),
        "{events:?}"
    );

    // No drain (the runtime is not shut down): the stream still ends with the server, which
    // then returns long before its 30 s grace would cut it.
    stop.send(()).unwrap();
    assert!(frames.next(Duration::from_secs(10)).await.is_none());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stopped without waiting out its grace")
        .unwrap()
        .unwrap();
}

#[test]
fn the_event_feed_starts_again_on_another_tokio_runtime() {
    let dial = Dial::new();
    let runtime = runtime(&dial, DetailLevel::Always);
    for round in 0..2 {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        tokio.block_on(async {
            let addr = serve_http(&runtime).await;
            let mut frames = Frames::open(addr, None).await;
            assert_eq!(
                frames.next(Duration::from_secs(5)).await.unwrap().0,
                "state"
            );
            let status = if round == 0 {
                Status::Critical
            } else {
                Status::Healthy
            };
            dial.set(status, "flipped", 0.0);
            runtime.check("db").await.unwrap();
            let mut transitions = 0;
            while let Some((event, _)) = frames.next(Duration::from_millis(800)).await {
                transitions += usize::from(event == "transition");
            }
            assert_eq!(transitions, 1, "round {round}");
        });
        // The first tokio runtime, and the feed's task on it, are gone.
        drop(tokio);
    }
}
