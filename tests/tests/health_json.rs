//! `application/health+json` (draft-inadarei-api-health-check-06) on the HTTP probes and the
//! report, over loopback: every answer validated against `tests/data/health-json.schema.json`,
//! a JSON Schema written from the draft, for pass, warn and fail, with and without details, on
//! every probe path; the status codes through the lifecycle; the system indicators' keys;
//! negotiation by `Accept` and its q-values; the refused report; the probe port.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use health_runtime::config::DetailLevel;
use health_runtime::indicator::{
    REQUEST_CHECK_NAMES, RequestStats, ResourceReading, SYSTEM_CHECK_NAMES, SystemIndicators,
};
use health_runtime::{Check, CheckOutcome, Group, HealthConfig, HealthRuntime};
use serde_json::{Value, json};
use tests::{GrpcServer, builder, quiet_config};

const HEALTH_JSON: &str = "application/health+json";
const RELEASE: &str = "1.4.2";
const TOKEN: &str = "t0ken-for-details";
/// What only details may show: the messages and the values of `db`.
const WARN_MESSAGE: &str = "replica lag on db-7.internal";
const FAIL_MESSAGE: &str = "connection refused by 10.0.0.7:5432";
const VALUES: [f64; 3] = [4242.5, 4343.5, 4444.5];
const PROBES: [&str; 7] = [
    "/health",
    "/ready",
    "/readyz",
    "/live",
    "/livez",
    "/startup",
    "/startupz",
];

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(include_str!("../data/health-json.schema.json")).unwrap();
        jsonschema::meta::validate(&schema).expect("the schema is a valid 2020-12 schema");
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap()
    })
}

/// Asserts that `document` is valid `application/health+json`.
#[track_caller]
fn assert_valid(document: &Value, context: &str) {
    let errors: Vec<String> = validator()
        .iter_errors(document)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{context}: invalid health+json\n{}\n{document:#}",
        errors.join("\n")
    );
}

/// One HTTP answer.
#[derive(Debug)]
struct Answer {
    code: u16,
    content_type: String,
    vary: String,
    authenticate: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }

    /// The body as health+json: asserts the media type and `Vary`, and validates it.
    #[track_caller]
    fn health_json(&self, context: &str) -> Value {
        assert_eq!(self.content_type, HEALTH_JSON, "{context}: {self:?}");
        assert_eq!(self.vary.to_ascii_lowercase(), "accept", "{context}");
        let document = self.json();
        assert_valid(&document, context);
        document
    }
}

async fn get(url: &str, accept: &[&str], token: Option<&str>) -> Answer {
    let mut request = reqwest::Client::new().get(url);
    for value in accept {
        request = request.header("accept", *value);
    }
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    Answer {
        code: response.status().as_u16(),
        content_type: header("content-type").unwrap_or_default(),
        vary: header("vary").unwrap_or_default(),
        authenticate: header("www-authenticate"),
        body: response.text().await.unwrap(),
    }
}

async fn serve(runtime: &HealthRuntime) -> String {
    format!("http://{}", tests::serve_http(runtime).await)
}

fn config(level: DetailLevel) -> HealthConfig {
    let mut config = quiet_config();
    config.details.level = level;
    config.details.token = Some(TOKEN.to_owned());
    config
}

/// `db`, in the readiness and startup groups, answering whatever `outcome` holds; `loop`, in
/// liveness, always healthy.
fn runtime(level: DetailLevel, outcome: &Arc<Mutex<CheckOutcome>>) -> HealthRuntime {
    let outcome = outcome.clone();
    builder()
        .config(config(level))
        .version(RELEASE)
        .cache_ttl(Duration::ZERO)
        .with_check(
            Check::new("db", move || {
                let outcome = outcome.lock().unwrap().clone();
                async move { outcome }
            })
            .groups([Group::Readiness, Group::Startup]),
        )
        .with_check(Check::new("loop", || async { true }).groups([Group::Liveness]))
        .build()
        .unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    Pass,
    Warn,
    Fail,
}

impl Case {
    fn outcome(self) -> CheckOutcome {
        match self {
            Case::Pass => CheckOutcome::healthy().with_message("12 entries"),
            Case::Warn => CheckOutcome::warning(WARN_MESSAGE),
            Case::Fail => CheckOutcome::critical(FAIL_MESSAGE),
        }
        .with_value(self.value())
    }

    fn value(self) -> f64 {
        VALUES[self as usize]
    }

    fn word(self) -> &'static str {
        ["pass", "warn", "fail"][self as usize]
    }

    fn message(self) -> &'static str {
        ["12 entries", WARN_MESSAGE, FAIL_MESSAGE][self as usize]
    }

    /// The status code and the status word of each path of [`PROBES`], and which checks it
    /// shows. Startup passed once in `Pass` (run first), so it serves for good, and warns while
    /// `db` does not pass.
    fn expected(self, path: &str) -> (u16, &'static str, &'static [&'static str]) {
        let group = path.trim_end_matches('z');
        let checks: &'static [&'static str] = match group {
            "/health" => &["db", "loop"],
            "/live" => &["loop"],
            _ => &["db"],
        };
        let (code, word) = match (self, group) {
            (_, "/live") | (Case::Pass, _) => (200, "pass"),
            (Case::Warn, _) | (Case::Fail, "/startup") => (200, "warn"),
            (Case::Fail, _) => (503, "fail"),
        };
        (code, word, checks)
    }
}

/// The document's fields that do not depend on the checks.
#[track_caller]
fn assert_service(document: &Value, context: &str) {
    assert_eq!(document["version"], "1", "{context}");
    assert_eq!(document["releaseId"], RELEASE, "{context}");
    let service = document["serviceId"].as_str().unwrap();
    assert!(service.starts_with("health_json"), "{context}: {service}");
    assert_eq!(
        document["description"],
        format!("health of {service}"),
        "{context}"
    );
}

/// Asserts what `document` shows of the checks `names` in `case`, with or without details.
#[track_caller]
fn assert_checks(document: &Value, case: Case, names: &[&str], details: bool, context: &str) {
    let checks = document["checks"].as_object().unwrap();
    let mut keys: Vec<&str> = checks.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected: Vec<String> = names.iter().map(|name| format!("{name}:status")).collect();
    if details {
        expected.extend(names.iter().map(|name| format!("{name}:responseTime")));
    }
    expected.sort_unstable();
    assert_eq!(keys, expected, "{context}");
    for (key, entries) in checks {
        let [entry] = entries.as_array().unwrap().as_slice() else {
            panic!("{context}: one object per check under {key}: {entries}");
        };
        let name = key.split(':').next().unwrap();
        assert_eq!(entry["componentId"], name, "{context} {key}");
        assert_eq!(entry["componentType"], "component", "{context} {key}");
        assert!(entry["time"].is_string(), "{context} {key}: the last run");
        let word = if name == "db" { case.word() } else { "pass" };
        assert_eq!(entry["status"], word, "{context} {key}");
        if !details {
            let mut fields: Vec<&str> = entry
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            fields.sort_unstable();
            assert_eq!(
                fields,
                ["componentId", "componentType", "status", "time"],
                "{context} {key}: statuses and times only"
            );
        } else if key.ends_with(":responseTime") {
            assert_eq!(entry["observedUnit"], "ms", "{context} {key}");
            assert!(
                entry["observedValue"].as_f64().unwrap() >= 0.0,
                "{context} {key}"
            );
            assert!(entry.get("output").is_none(), "{context} {key}");
        } else if name == "db" {
            assert_eq!(entry["observedValue"], case.value(), "{context} {key}");
            assert!(
                entry.get("observedUnit").is_none(),
                "{context} {key}: no known unit"
            );
            match case {
                Case::Pass => assert!(entry.get("output").is_none(), "{context} {key}"),
                _ => assert_eq!(entry["output"], case.message(), "{context} {key}"),
            }
        }
    }
}

#[tokio::test]
async fn pass_warn_and_fail_with_and_without_details_on_every_path() {
    for level in [DetailLevel::Always, DetailLevel::Never] {
        let details = level == DetailLevel::Always;
        let outcome = Arc::new(Mutex::new(Case::Pass.outcome()));
        let runtime = runtime(level, &outcome);
        let base = serve(&runtime).await;
        for case in [Case::Pass, Case::Warn, Case::Fail] {
            *outcome.lock().unwrap() = case.outcome();
            for path in PROBES {
                let context = format!("{level:?} {case:?} {path}");
                let answer = get(&format!("{base}{path}"), &[HEALTH_JSON], None).await;
                let document = answer.health_json(&context);
                let (code, word, checks) = case.expected(path);
                assert_eq!(
                    (answer.code, document["status"].as_str()),
                    (code, Some(word)),
                    "{context}: {document}"
                );
                assert_service(&document, &context);
                assert_checks(&document, case, checks, details, &context);
                match word {
                    "pass" => assert!(document.get("output").is_none(), "{context}"),
                    "warn" if case == Case::Warn => {
                        assert_eq!(document["output"], "db is warning", "{context}")
                    }
                    _ => assert_eq!(document["output"], "db is critical", "{context}"),
                }
                if !details {
                    for secret in [
                        WARN_MESSAGE,
                        FAIL_MESSAGE,
                        "12 entries",
                        "4242.5",
                        "4343.5",
                        "4444.5",
                    ] {
                        assert!(
                            !answer.body.contains(secret),
                            "{context}: `{secret}` shown: {}",
                            answer.body
                        );
                    }
                }
            }

            let context = format!("{level:?} {case:?} /health/report");
            let answer = get(&format!("{base}/health/report"), &[HEALTH_JSON], None).await;
            let document = answer.health_json(&context);
            if !details {
                assert_eq!(answer.code, 403, "{context}");
                continue;
            }
            // As the JSON report: 200 whatever it says (the probes carry the verdict).
            let code = 200;
            assert_eq!(
                (answer.code, document["status"].as_str()),
                (code, Some(case.word())),
                "{context}"
            );
            assert_service(&document, &context);
            let mut without_uptime = document.clone();
            let uptime = without_uptime["checks"]
                .as_object_mut()
                .unwrap()
                .remove("uptime")
                .unwrap();
            assert_eq!(uptime[0]["componentType"], "system", "{context}");
            assert_eq!(uptime[0]["observedUnit"], "s", "{context}");
            assert!(
                uptime[0]["observedValue"].as_f64().unwrap() >= 0.0,
                "{context}"
            );
            assert_checks(&without_uptime, case, &["db", "loop"], true, &context);
            let json = get(&format!("{base}/health/report"), &[], None).await;
            assert_eq!(
                (json.code, json.content_type.as_str()),
                (200, "application/json"),
                "{context}"
            );
        }
    }
}

#[tokio::test]
async fn status_codes_while_starting_and_draining() {
    let runtime = builder()
        .config(config(DetailLevel::Always))
        .version(RELEASE)
        .cache_ttl(Duration::ZERO)
        .drain_delay(Duration::from_secs(60))
        // Its failures are held back: until it passes it has no result to show (`unknown`).
        .with_check(
            Check::new("warmup", || async { false })
                .groups([Group::Readiness, Group::Startup])
                .failure_threshold(1000),
        )
        .with_check(Check::new("loop", || async { true }).groups([Group::Liveness]))
        .build()
        .unwrap();
    let base = serve(&runtime).await;
    for (path, code, word) in [
        ("/health", 503, "fail"),
        ("/ready", 503, "fail"),
        ("/startup", 503, "fail"),
        ("/live", 200, "pass"),
    ] {
        let answer = get(&format!("{base}{path}"), &[HEALTH_JSON], None).await;
        let document = answer.health_json(path);
        assert_eq!(
            (answer.code, document["status"].as_str()),
            (code, Some(word)),
            "{path}: {document}"
        );
        if word == "fail" {
            assert_eq!(document["output"], "warmup is unknown", "{path}");
            assert_eq!(
                document["checks"]["warmup:status"][0]["status"], "fail",
                "{path}"
            );
        }
    }

    runtime.shutdown();
    for path in PROBES.iter().chain(&["/health/report"]) {
        let answer = get(&format!("{base}{path}"), &[HEALTH_JSON], None).await;
        let document = answer.health_json(path);
        // The status codes of the JSON: the report answers 200 whatever it says.
        let code = if *path == "/health/report" { 200 } else { 503 };
        assert_eq!(
            (answer.code, document["status"].as_str()),
            (code, Some("fail")),
            "{path}: {document}"
        );
        let output = document["output"].as_str().unwrap();
        assert!(output.starts_with("shutting down"), "{path}: {output}");
        // The default JSON keeps its own status codes: the report is 200 while draining.
        let json = get(&format!("{base}{path}"), &[], None).await;
        let expected = if *path == "/health/report" { 200 } else { 503 };
        assert_eq!(json.code, expected, "{path}");
    }
}

#[tokio::test]
async fn the_built_in_indicators_show_with_their_units() {
    let metrics = SystemIndicators::new().source(|| ResourceReading::new(10.0, 70.0, 95.0));
    let monitor = metrics.monitor();
    let runtime = builder()
        .config(config(DetailLevel::WhenAuthorized))
        .cache_ttl(Duration::ZERO)
        .with_check(Check::new("db", || async { true }))
        .with_checks(metrics)
        .with_checks(RequestStats::new().indicators())
        .build()
        .unwrap();
    runtime.start();
    tokio::time::timeout(Duration::from_secs(10), monitor.settled())
        .await
        .expect("a sample within 10 s");
    let base = serve(&runtime).await;

    for token in [None, Some(TOKEN)] {
        let details = token.is_some();
        let answer = get(&format!("{base}/health"), &[HEALTH_JSON], token).await;
        let document = answer.health_json("/health");
        // They only inform: `/health` serves, and warns about them.
        assert_eq!(
            (answer.code, document["status"].as_str()),
            (200, Some("warn")),
            "{document}"
        );
        assert_eq!(
            document["output"],
            "disk_usage is critical; memory_usage is warning"
        );
        let checks = document["checks"].as_object().unwrap();
        for (name, (component, value, word)) in SYSTEM_CHECK_NAMES.iter().zip([
            ("cpu", 10.0, "pass"),
            ("memory", 70.0, "warn"),
            ("disk", 95.0, "fail"),
        ]) {
            let key = format!("{component}:utilization");
            let [entry] = checks[&key].as_array().unwrap().as_slice() else {
                panic!("one object under {key}");
            };
            assert_eq!(entry["componentId"], *name, "{key}");
            assert_eq!(entry["componentType"], "system", "{key}");
            assert_eq!(entry["status"], word, "{key}");
            assert!(entry["time"].is_string(), "{key}");
            if details {
                assert_eq!(entry["observedValue"], value, "{key}");
                assert_eq!(entry["observedUnit"], "percent", "{key}");
                assert_eq!(
                    entry.get("output").is_some(),
                    word != "pass",
                    "{key}: {entry}"
                );
            } else {
                assert_eq!(entry.as_object().unwrap().len(), 4, "{key}: {entry}");
            }
            assert!(
                !checks.contains_key(&format!("{name}:responseTime")),
                "{key}"
            );
            assert!(!checks.contains_key(&format!("{name}:status")), "{key}");
        }
        for (name, unit) in REQUEST_CHECK_NAMES.iter().zip(["percent", "ms", "ms"]) {
            let key = format!("{name}:status");
            let entry = &checks[&key][0];
            assert_eq!(entry["componentType"], "component", "{key}");
            assert_eq!(entry["status"], "pass", "{key}: too few requests to grade");
            if details {
                assert!(entry["observedValue"].is_number(), "{key}: {entry}");
                assert_eq!(entry["observedUnit"], unit, "{key}");
            } else {
                assert!(entry.get("observedUnit").is_none(), "{key}: {entry}");
            }
            assert!(
                !checks.contains_key(&format!("{name}:responseTime")),
                "{key}"
            );
        }
        assert_eq!(checks["db:status"][0]["status"], "pass");
        assert_eq!(checks.contains_key("db:responseTime"), details);
    }
}

#[tokio::test]
async fn accept_chooses_the_format() {
    let runtime = runtime(
        DetailLevel::Always,
        &Arc::new(Mutex::new(Case::Warn.outcome())),
    );
    let base = serve(&runtime).await;
    let cases: [(&[&str], bool); 14] = [
        (&[], false),
        (&["*/*"], false),
        (&["application/*"], false),
        (&["application/json"], false),
        (&["text/html"], false),
        (&[HEALTH_JSON], true),
        (&["Application/Health+JSON"], true),
        (
            &["application/health+json;q=0.9, application/json;q=0.1"],
            true,
        ),
        (
            &["application/json;q=0.9, application/health+json;q=0.1"],
            false,
        ),
        (&["application/json, application/health+json"], false),
        (&["application/health+json, */*;q=0.5"], true),
        (&["application/health+json;q=0"], false),
        (&["application/health+json;q=1.5"], false),
        (&["text/plain", "application/health+json;q=0.2"], true),
    ];
    for path in ["/health", "/ready", "/live", "/startup", "/health/report"] {
        for (accept, health_json) in cases {
            let context = format!("{path} {accept:?}");
            let answer = get(&format!("{base}{path}"), accept, None).await;
            assert_eq!(answer.code, 200, "{context}");
            assert_eq!(answer.vary.to_ascii_lowercase(), "accept", "{context}");
            if health_json {
                answer.health_json(&context);
                continue;
            }
            assert_eq!(answer.content_type, "application/json", "{context}");
            let body = answer.json();
            let own = if path == "/health/report" {
                "overall_status"
            } else {
                "serving"
            };
            assert!(
                body.get(own).is_some(),
                "{context}: the default JSON: {body}"
            );
            assert!(
                validator().iter_errors(&body).next().is_some(),
                "{context}: the default JSON is not health+json"
            );
        }
        let verbose = get(&format!("{base}{path}?verbose"), &[HEALTH_JSON], None).await;
        if path != "/health/report" {
            assert_eq!(
                verbose.content_type, "text/plain; charset=utf-8",
                "{path}?verbose"
            );
            assert!(
                verbose.body.ends_with(" check passed\n"),
                "{}",
                verbose.body
            );
        }
    }
}

#[tokio::test]
async fn a_refused_report_says_what_to_send() {
    let runtime = runtime(
        DetailLevel::WhenAuthorized,
        &Arc::new(Mutex::new(Case::Fail.outcome())),
    );
    let base = serve(&runtime).await;
    let report = format!("{base}/health/report");
    for token in [None, Some("wrong")] {
        let answer = get(&report, &[HEALTH_JSON], token).await;
        let document = answer.health_json("refused");
        assert_eq!(answer.code, 401, "{token:?}");
        assert_eq!(answer.authenticate.as_deref(), Some("Bearer"));
        assert_eq!(
            document,
            json!({
                "status": "fail",
                "output": "details need `authorization: Bearer <PLUGIN_HEALTH_AUTH_TOKEN>`",
            })
        );
        let json = get(&report, &[], token).await;
        assert_eq!(
            (json.code, json.content_type.as_str()),
            (401, "application/json")
        );
        assert!(json.json()["error"].is_string());

        // The probes answer with statuses only.
        let probe = get(&format!("{base}/ready"), &[HEALTH_JSON], token).await;
        assert!(!probe.body.contains(FAIL_MESSAGE), "{}", probe.body);
        assert!(!probe.body.contains("observedValue"), "{}", probe.body);
    }
    let answer = get(&report, &[HEALTH_JSON], Some(TOKEN)).await;
    let document = answer.health_json("authorized");
    assert_eq!(answer.code, 200);
    assert_eq!(document["status"], "fail");
    assert_eq!(document["checks"]["db:status"][0]["output"], FAIL_MESSAGE);
    let probe = get(&format!("{base}/ready"), &[HEALTH_JSON], Some(TOKEN)).await;
    assert_eq!(
        probe.health_json("authorized probe")["checks"]["db:status"][0]["output"],
        FAIL_MESSAGE
    );

    let never = builder()
        .config(config(DetailLevel::Never))
        .build()
        .unwrap();
    let base = serve(&never).await;
    let answer = get(
        &format!("{base}/health/report"),
        &[HEALTH_JSON],
        Some(TOKEN),
    )
    .await;
    let document = answer.health_json("never");
    assert_eq!(answer.code, 403);
    assert_eq!(answer.authenticate, None);
    assert_eq!(document["status"], "fail");
    assert!(
        document["output"]
            .as_str()
            .unwrap()
            .contains("PLUGIN_HEALTH_SHOW_DETAILS=never")
    );
}

#[tokio::test]
async fn the_probe_port_never_shows_details() {
    let probe = tests::process::free_port();
    let mut config = config(DetailLevel::Always);
    config.surfaces.probe_addr = Some(probe);
    let runtime = builder()
        .config(config)
        .version(RELEASE)
        .with_check(Check::new("db", || async {
            CheckOutcome::critical(FAIL_MESSAGE).with_value(VALUES[2])
        }))
        .build()
        .unwrap();
    let _server = GrpcServer::start(&runtime).await;
    runtime.check("db").await.unwrap();
    let url = format!("http://{probe}/health");
    let mut answer = None;
    for _ in 0..100 {
        if let Ok(response) = reqwest::Client::new().get(&url).send().await {
            drop(response);
            answer = Some(get(&url, &[HEALTH_JSON], Some(TOKEN)).await);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answer = answer.expect("the probe port never listened");
    let document = answer.health_json("probe port");
    assert_eq!(
        (answer.code, document["status"].as_str()),
        (503, Some("fail"))
    );
    assert_eq!(document["output"], "db is critical");
    assert_checks(&document, Case::Fail, &["db"], false, "probe port");

    // The main surface, at `always`, shows them.
    let main = get(
        &format!("{}/health", serve(&runtime).await),
        &[HEALTH_JSON],
        None,
    )
    .await;
    assert_checks(&main.health_json("main"), Case::Fail, &["db"], true, "main");
}

#[test]
fn the_schema_holds_the_draft_and_rejects_what_it_does_not_allow() {
    // The draft's own example (section 5), without the empty `output`s and the
    // `affectedEndpoints` it gives for `pass`, which its sections 3.5, 4.6 and 4.8 say to omit
    // (the endpoints moved to the `warn` entry).
    let example = json!({
        "status": "pass",
        "version": "1",
        "releaseId": "1.2.2",
        "notes": [""],
        "serviceId": "f03e522f-1f44-4062-9b55-9587f91c9c41",
        "description": "health of authz service",
        "checks": {
            "cassandra:responseTime": [{
                "componentId": "dfd6cf2b-1b6e-4412-a0b8-f6f7797a60d2",
                "componentType": "datastore",
                "observedValue": 250,
                "observedUnit": "ms",
                "status": "pass",
                "time": "2018-01-17T03:36:48Z",
            }],
            "cassandra:connections": [{
                "componentId": "dfd6cf2b-1b6e-4412-a0b8-f6f7797a60d2",
                "componentType": "datastore",
                "observedValue": 75,
                "affectedEndpoints": ["/users/{userId}", "/customers/{customerId}/status"],
                "status": "warn",
                "time": "2018-01-17T03:36:48Z",
                "output": "",
                "links": { "self": "http://api.example.com/dbnode/dfd6cf2b/health" },
            }],
            "uptime": [{
                "componentType": "system",
                "observedValue": 1209600.245,
                "observedUnit": "s",
                "status": "pass",
                "time": "2018-01-17T03:36:48Z",
            }],
            "cpu:utilization": [
                { "componentId": "6fd416e0", "node": 1, "componentType": "system",
                  "observedValue": 85, "observedUnit": "percent", "status": "warn",
                  "time": "2018-01-17T03:36:48Z", "output": "" },
                { "componentId": "6fd416e0", "node": 2, "componentType": "system",
                  "observedValue": 85, "observedUnit": "percent", "status": "warn",
                  "time": "2018-01-17T03:36:48Z", "output": "" },
            ],
        },
        "links": {
            "about": "http://api.example.com/about/authz",
            "http://api.x.io/rel/thresholds": "http://api.x.io/about/authz/thresholds",
        },
    });
    assert_valid(&example, "the draft's example");

    let check = |entry: Value| json!({ "status": "warn", "output": "x", "checks": { "db:status": [entry] } });
    assert_valid(
        &check(json!({ "status": "warn" })),
        "the frame of the cases below",
    );
    let invalid = [
        ("no status", json!({})),
        ("an unknown status", json!({ "status": "green" })),
        ("an alias", json!({ "status": "up" })),
        (
            "output for pass",
            json!({ "status": "pass", "output": "all good" }),
        ),
        (
            "a field of its own at the root",
            json!({ "status": "pass", "serving": true }),
        ),
        (
            "a version that is a number",
            json!({ "status": "pass", "version": 1 }),
        ),
        (
            "a check that is not an array",
            json!({ "status": "pass", "checks": { "db:status": { "status": "pass" } } }),
        ),
        (
            "an empty array",
            json!({ "status": "pass", "checks": { "db:status": [] } }),
        ),
        ("an empty object", check(json!({}))),
        (
            "a check's unknown status",
            check(json!({ "status": "ok?" })),
        ),
        (
            "a time that is not a date-time",
            check(json!({ "status": "warn", "time": "yesterday" })),
        ),
        (
            "a check's output for pass",
            check(json!({ "status": "pass", "output": "fine" })),
        ),
        (
            "a unit without a value",
            check(json!({ "status": "warn", "observedUnit": "ms" })),
        ),
        (
            "affected endpoints for pass",
            check(json!({ "status": "pass", "affectedEndpoints": ["/"] })),
        ),
        (
            "a link that is not a string",
            check(json!({ "status": "warn", "links": { "self": 1 } })),
        ),
    ];
    for (case, document) in invalid {
        assert!(
            !validator().is_valid(&document),
            "{case}: accepted {document}"
        );
    }
}
