//! One detail policy on every surface: the gRPC report, the `health-probe` CLI, the HTTP probes
//! and report, and `/metrics` show a check's message, value and threshold only as
//! `PLUGIN_HEALTH_SHOW_DETAILS` allows (`always`; `when-authorized` with
//! `authorization: Bearer <PLUGIN_HEALTH_AUTH_TOKEN>`; `never`), and what is withheld appears
//! neither in the answer nor in the server's log.

use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use health_runtime::config::DetailLevel;
use health_runtime::grpc::WITHHELD_METADATA;
use health_runtime::pb::report::v1::health_report_client::HealthReportClient;
use health_runtime::pb::report::v1::{
    GetHealthReportRequest, GetHealthReportResponse, HealthStatus,
};
use health_runtime::{Check, CheckOutcome, HealthRuntime};
use reqwest::StatusCode;
use tests::{GrpcServer, builder, quiet_config};

/// The configured token.
const TOKEN: &str = "t0ken-9f3a61c2";
/// A token that is not it.
const WRONG: &str = "n0t-the-t0ken-77e1";
/// The failing check's message: what a leak would show.
const SECRET: &str = "login failed for admin:hunter2@db.internal";
/// The measuring check's message, value and threshold.
const DISK_SECRET: &str = "/srv/hunter2-exports 87.25 % full";
const VALUE: f64 = 87.25;
const THRESHOLD: f64 = 91.5;

/// What a request presents.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Presented {
    Nothing,
    Wrong,
    Right,
}

impl Presented {
    const ALL: [Presented; 3] = [Presented::Nothing, Presented::Wrong, Presented::Right];

    fn authorization(self) -> Option<String> {
        match self {
            Presented::Nothing => None,
            Presented::Wrong => Some(format!("Bearer {WRONG}")),
            Presented::Right => Some(format!("Bearer {TOKEN}")),
        }
    }
}

const LEVELS: [DetailLevel; 3] = [
    DetailLevel::Always,
    DetailLevel::WhenAuthorized,
    DetailLevel::Never,
];

/// Whether the policy shows details to `presented` at `level`.
fn shows(level: DetailLevel, presented: Presented) -> bool {
    match level {
        DetailLevel::Always => true,
        DetailLevel::WhenAuthorized => presented == Presented::Right,
        _ => false,
    }
}

/// A runtime with a critical check whose message is [`SECRET`] and a warning one with a value,
/// a threshold and [`DISK_SECRET`], `/metrics` on, and the token configured.
async fn runtime(level: DetailLevel) -> HealthRuntime {
    logs();
    let mut config = quiet_config();
    config.details.level = level;
    config.details.token = Some(TOKEN.to_owned());
    config.surfaces.prometheus = true;
    let runtime = builder()
        .config(config)
        .with_check(Check::new("db", || async { Err::<(), _>(SECRET) }).failure_threshold(1))
        .with_check(Check::new("disk", || async {
            CheckOutcome::by_threshold(VALUE, THRESHOLD).with_message(DISK_SECRET)
        }))
        .build()
        .unwrap();
    runtime.check("db").await.unwrap();
    runtime.check("disk").await.unwrap();
    runtime
}

/// Asserts that `text` holds nothing secret: no message, no value, no token.
#[track_caller]
fn assert_no_secret(text: &str, context: &str) {
    for secret in ["hunter2", "87.25", "91.5", TOKEN, WRONG] {
        assert!(
            !text.contains(secret),
            "`{secret}` crossed ({context}):\n{text}"
        );
    }
}

async fn grpc_report(
    server: &GrpcServer,
    presented: Presented,
) -> (GetHealthReportResponse, Option<String>) {
    let mut client = HealthReportClient::new(server.channel().await);
    let mut request = tonic::Request::new(GetHealthReportRequest {});
    if let Some(authorization) = presented.authorization() {
        request
            .metadata_mut()
            .insert("authorization", authorization.parse().unwrap());
    }
    let response = client.get_health_report(request).await.unwrap();
    let withheld = response
        .metadata()
        .get(WITHHELD_METADATA)
        .map(|value| value.to_str().unwrap().to_owned());
    (response.into_inner(), withheld)
}

#[tokio::test]
async fn the_grpc_report_shows_details_only_as_the_level_allows() {
    for level in LEVELS {
        let runtime = runtime(level).await;
        let server = GrpcServer::start(&runtime).await;
        for presented in Presented::ALL {
            let context = format!("{level:?}, {presented:?}");
            let (report, withheld) = grpc_report(&server, presented).await;
            // Statuses always cross: go-plugin hosts read them without a token.
            assert_eq!(report.overall_status(), HealthStatus::Critical, "{context}");
            let (db, disk) = (&report.metrics["db"], &report.metrics["disk"]);
            assert_eq!(db.status(), HealthStatus::Critical, "{context}");
            assert_eq!(disk.status(), HealthStatus::Warning, "{context}");
            assert_eq!(db.consecutive_failures, 1, "{context}");
            if shows(level, presented) {
                assert_eq!(withheld, None, "{context}");
                assert_eq!(db.message, SECRET, "{context}");
                assert_eq!(disk.message, DISK_SECRET, "{context}");
                assert_eq!(
                    (disk.value, disk.threshold),
                    (Some(VALUE), Some(THRESHOLD)),
                    "{context}"
                );
            } else {
                assert_no_secret(&format!("{report:?}"), &context);
                assert_eq!((disk.value, disk.threshold), (None, None), "{context}");
                let withheld = withheld.unwrap_or_else(|| panic!("no hint ({context})"));
                let expected = if level == DetailLevel::Never {
                    "PLUGIN_HEALTH_SHOW_DETAILS=never"
                } else {
                    "authorization: Bearer <PLUGIN_HEALTH_AUTH_TOKEN>"
                };
                assert!(withheld.contains(expected), "{context}: {withheld}");
                assert_no_secret(&withheld, &context);
            }
        }
    }
}

async fn serve_http(runtime: &HealthRuntime) -> String {
    format!("http://{}", tests::serve_http(runtime).await)
}

async fn http_get(base: &str, path: &str, presented: Presented) -> (StatusCode, String) {
    let mut request = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(authorization) = presented.authorization() {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn http_probes_and_the_report_show_details_only_as_the_level_allows() {
    for level in LEVELS {
        let runtime = runtime(level).await;
        let base = serve_http(&runtime).await;
        for presented in Presented::ALL {
            let context = format!("{level:?}, {presented:?}");
            let details = shows(level, presented);

            let (code, body) = http_get(&base, "/health", presented).await;
            assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{context}");
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(json["status"], "critical", "{context}");
            if details {
                assert_eq!(json["checks"]["db"]["message"], SECRET, "{context}");
                assert_eq!(json["checks"]["disk"]["value"], VALUE, "{context}");
            } else {
                assert_no_secret(&body, &context);
            }

            let (_, verbose) = http_get(&base, "/health?verbose", presented).await;
            if details {
                assert!(
                    verbose.contains(&format!("[-]db failed: {SECRET}")),
                    "{verbose}"
                );
            } else {
                assert!(
                    verbose.contains("[-]db failed: reason withheld"),
                    "{verbose}"
                );
                assert_no_secret(&verbose, &context);
            }

            let (code, body) = http_get(&base, "/health/report", presented).await;
            let expected = match (details, level) {
                (true, _) => StatusCode::OK,
                (false, DetailLevel::Never) => StatusCode::FORBIDDEN,
                (false, _) => StatusCode::UNAUTHORIZED,
            };
            assert_eq!(code, expected, "{context}");
            if details {
                let report: health_runtime::HealthReport = serde_json::from_str(&body).unwrap();
                assert_eq!(report.metrics["db"].message, SECRET, "{context}");
            } else {
                assert_no_secret(&body, &context);
            }
        }
    }
}

#[tokio::test]
async fn metrics_leave_out_values_and_thresholds_without_details() {
    for level in LEVELS {
        let runtime = runtime(level).await;
        let base = serve_http(&runtime).await;
        for presented in Presented::ALL {
            let context = format!("{level:?}, {presented:?}");
            let (code, text) = http_get(&base, "/metrics", presented).await;
            assert_eq!(code, StatusCode::OK, "{context}");
            // Statuses, runs and failures in a row are always there.
            for line in [
                r#"health_status{service="db"} 0"#,
                r#"health_status{service="disk"} 1"#,
                r#"health_checks_total{service="db",result="failure"} 1"#,
                r#"health_check_consecutive_failures{service="db"} 1.0"#,
            ] {
                assert!(
                    text.lines().any(|l| l == line),
                    "{context}: no `{line}` in\n{text}"
                );
            }
            if shows(level, presented) {
                for line in [
                    r#"health_check_value{service="disk"} 87.25"#,
                    r#"health_check_threshold{service="disk"} 91.5"#,
                ] {
                    assert!(text.lines().any(|l| l == line), "{context}: no `{line}`");
                }
            } else {
                assert!(!text.contains("health_check_value"), "{context}:\n{text}");
                assert!(
                    !text.contains("health_check_threshold"),
                    "{context}:\n{text}"
                );
                assert_no_secret(&text, &context);
            }
            // A message never becomes a label value.
            assert!(!text.contains("hunter2"), "{context}:\n{text}");
        }
    }
}

/// What one run of `health-probe` did.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `health-probe` against `server` with `args` and, if given, `PLUGIN_HEALTH_AUTH_TOKEN`.
async fn probe(server: &GrpcServer, args: &[&str], env_token: Option<&str>) -> Run {
    let mut command = Command::new(tests::cli::health_probe_built().await);
    command
        .arg("--addr")
        .arg(server.addr.to_string())
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("PLUGIN_HEALTH_AUTH_TOKEN");
    if let Some(token) = env_token {
        command.env("PLUGIN_HEALTH_AUTH_TOKEN", token);
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_probe_sends_the_token_from_each_source() {
    let runtime = runtime(DetailLevel::WhenAuthorized).await;
    let server = GrpcServer::start(&runtime).await;
    let right_header = format!("authorization:Bearer {TOKEN}");
    let wrong_header = format!("authorization:Bearer {WRONG}");
    let cases: [(&str, Vec<&str>, Option<&str>, bool); 6] = [
        ("no token", vec![], None, false),
        ("--token", vec!["--token", TOKEN], None, true),
        ("--token, wrong", vec!["--token", WRONG], None, false),
        (
            "--rpc-header",
            vec!["--rpc-header", &right_header],
            None,
            true,
        ),
        ("environment", vec![], Some(TOKEN), true),
        // An explicit header replaces the token from the environment.
        (
            "--rpc-header over the environment",
            vec!["--rpc-header", &wrong_header],
            Some(TOKEN),
            false,
        ),
    ];
    for (context, options, env_token, details) in cases {
        let mut args = options.clone();
        args.extend(["report", "--json"]);
        let run = probe(&server, &args, env_token).await;
        assert_eq!(run.code, Some(4), "a critical report ({context}): {run:?}");
        let report: health_runtime::HealthReport = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|error| panic!("{context}: {error}: {run:?}"));
        assert_eq!(
            report.metrics["db"].status,
            health_runtime::Status::Critical
        );
        if details {
            assert_eq!(report.metrics["db"].message, SECRET, "{context}");
            assert_eq!(report.metrics["disk"].value, Some(VALUE), "{context}");
            assert!(run.stderr.is_empty(), "{context}: {}", run.stderr);
        } else {
            assert_no_secret(&run.stdout, context);
            assert!(
                run.stderr.contains("statuses only")
                    && run
                        .stderr
                        .contains("authorization: Bearer <PLUGIN_HEALTH_AUTH_TOKEN>"),
                "{context}: {}",
                run.stderr
            );
        }
        // The probe never prints a token, right or wrong.
        for token in [TOKEN, WRONG] {
            assert!(
                !run.stderr.contains(token) && !run.stdout.contains(token),
                "{context}"
            );
        }
    }

    // Every RPC carries the metadata; other commands are not disturbed by it.
    let run = probe(
        &server,
        &[
            "--token",
            TOKEN,
            "--rpc-header",
            "x-trace:abc",
            "check",
            "--service",
            "disk",
        ],
        None,
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "status: SERVING\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_probe_refuses_a_malformed_header_without_echoing_it() {
    let runtime = runtime(DetailLevel::WhenAuthorized).await;
    let server = GrpcServer::start(&runtime).await;
    let no_colon = format!("authorization Bearer {TOKEN}");
    let bad_value = format!("authorization:Bearer {TOKEN}\u{7f}");
    for (header, expected) in [
        (no_colon.as_str(), "takes `name:value`"),
        ("bad name:value", "`bad name`: not a metadata name"),
        ("x-data-bin:AAAA", "no `-bin` suffix"),
        (
            bad_value.as_str(),
            "`authorization`: the value must be visible ASCII",
        ),
    ] {
        let run = probe(&server, &["--rpc-header", header, "report"], None).await;
        assert_eq!(run.code, Some(1), "{header:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{run:?}");
        assert!(run.stderr.contains("--rpc-header"), "{run:?}");
        assert!(run.stderr.contains(expected), "{header:?}: {}", run.stderr);
        assert!(!run.stderr.contains(TOKEN), "{header:?}: {}", run.stderr);
    }

    // `--help` names the variable but never shows its value.
    let run = probe(&server, &["--help"], Some(TOKEN)).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("PLUGIN_HEALTH_AUTH_TOKEN"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(TOKEN), "{}", run.stdout);
}

/// Everything `health_runtime` logs at debug and above in this test process, every test's
/// requests included (each test installs it first). The engine's own `health check ran` lines
/// are the operator's log of each run and carry the check's message by design; they are left
/// out, as they are not about requests.
///
/// One process-wide subscriber rather than one per test: tracing caches per call site whether
/// anyone listens, which a thread's scoped subscriber does not reliably override while other
/// tests run.
fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "health_runtime=debug,health_runtime::engine=off",
            ))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        logs
    })
}

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

#[tokio::test]
async fn withheld_requests_are_logged_without_the_token_or_the_details() {
    let logs = logs();
    let runtime = runtime(DetailLevel::WhenAuthorized).await;
    let server = GrpcServer::start(&runtime).await;
    let base = serve_http(&runtime).await;
    for presented in [Presented::Nothing, Presented::Wrong] {
        grpc_report(&server, presented).await;
        for path in ["/health", "/health?verbose", "/health/report", "/metrics"] {
            http_get(&base, path, presented).await;
        }
    }
    let mut text = logs.text();
    for surface in ["grpc report", "http probe", "http report", "http metrics"] {
        for reason in ["no authorization sent", "the authorization does not match"] {
            assert!(
                text.lines()
                    .any(|line| line.contains("check details withheld")
                        && line.contains(&format!("surface=\"{surface}\""))
                        && line.contains(reason)),
                "no debug line for {surface}, {reason}:\n{text}"
            );
        }
    }
    assert_no_secret(&text, "the log");

    // At `never` the log says why, and still shows nothing secret, the right token included.
    let runtime = self::runtime(DetailLevel::Never).await;
    let server = GrpcServer::start(&runtime).await;
    grpc_report(&server, Presented::Right).await;
    text = logs.text();
    assert!(text.contains("details are turned off"), "{text}");
    assert_no_secret(&text, "the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_probe_sends_the_token_with_report_only() {
    use health_runtime::pb::health::v1::health_server::HealthServer;
    // A health service that records the authorization metadata of every call.
    let seen: Arc<Mutex<Vec<bool>>> = Arc::default();
    let runtime = runtime(DetailLevel::WhenAuthorized).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let recorder = seen.clone();
    let service = tonic::service::interceptor::InterceptedService::new(
        HealthServer::new(health_runtime::grpc::HealthService::new(runtime.clone())),
        move |request: tonic::Request<()>| {
            recorder
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(request.metadata().contains_key("authorization"));
            Ok(request)
        },
    );
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream_of(listener)),
    );
    for command in [vec!["check"], vec!["list"]] {
        let mut args = vec!["--addr".to_owned(), addr.to_string()];
        args.extend(command.iter().map(|arg| (*arg).to_owned()));
        let mut run = Command::new(tests::cli::health_probe_built().await);
        run.args(&args).env("PLUGIN_HEALTH_AUTH_TOKEN", TOKEN);
        let output = tokio::task::spawn_blocking(move || run.output().unwrap())
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&output.stdout).contains(TOKEN));
    }
    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert!(seen.len() >= 2, "{seen:?}");
    assert!(
        seen.iter().all(|sent| !sent),
        "a probe sent the token: {seen:?}"
    );
    server.abort();
}

/// The connections of `listener`, for a tonic server of the test's own.
fn tokio_stream_of(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| stream);
        Some((accepted, listener))
    })
}
