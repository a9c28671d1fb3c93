//! The README's table of which signals gate what, walked row by row: for each row, a runtime
//! whose only failing signal is that row's, asked over gRPC (`Check` of each group, `""`,
//! `plugin` and the signal's own name), over HTTP (`GET /health`) and through the health file.
//! The README's section must also be, word for word, the crate docs' (`status_semantics.md`).

use std::time::Duration;

use health_runtime::indicator::{RequestOutcome, RequestStats, ResourceReading, SystemIndicators};
use health_runtime::{Check, Group, HealthRuntime, HealthRuntimeBuilder};
use tests::process::workspace;
use tests::{GrpcServer, ServingStatus, builder, check_status};

const START: &str = "<!-- status-semantics:";
const END: &str = "<!-- status-semantics end -->";

/// The README's section, without its markers.
fn readme_section() -> String {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let start = readme
        .find(START)
        .expect("the README's status-semantics marker");
    let body = &readme[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find(END).expect("the end marker")].to_owned()
}

#[test]
fn the_readme_and_the_crate_docs_say_the_same() {
    let docs = std::fs::read_to_string(workspace().join("health-runtime/src/status_semantics.md"))
        .unwrap();
    assert_eq!(readme_section(), docs);
}

/// The table's rows: the signal, then one cell per column.
fn rows() -> (Vec<String>, Vec<Vec<String>>) {
    let section = readme_section();
    let mut lines = section
        .lines()
        .skip_while(|line| !line.starts_with("| signal"))
        .take_while(|line| line.starts_with('|'));
    let cells = |line: &str| -> Vec<String> {
        line.trim_matches('|')
            .split(" | ")
            .map(|cell| cell.trim().to_owned())
            .collect()
    };
    let header = cells(lines.next().expect("the table's header"));
    lines.next(); // |---|
    let rows: Vec<Vec<String>> = lines.map(cells).collect();
    (header, rows)
}

/// A failing signal, as each row describes it.
enum Signal {
    Declared(Vec<Group>),
    DeclaredDefault,
    Informational,
    System(Option<Vec<Group>>),
    Requests { informational: bool },
    ShuttingDown,
}

fn signal(row: &str) -> (Signal, &'static str) {
    match row {
        "a declared check, default groups (`readiness`)" => (Signal::DeclaredDefault, "subject"),
        "a declared check in `liveness`" => (Signal::Declared(vec![Group::Liveness]), "subject"),
        "a declared check in `startup`" => (Signal::Declared(vec![Group::Startup]), "subject"),
        "a declared check with `groups = []`" => (Signal::Declared(vec![]), "subject"),
        "a declared check with `.informational(true)`" => (Signal::Informational, "subject"),
        "system metrics (`cpu_usage`, `memory_usage`, `disk_usage`)" => {
            (Signal::System(None), "cpu_usage")
        }
        "system metrics with `.groups([Group::Readiness])`" => {
            (Signal::System(Some(vec![Group::Readiness])), "cpu_usage")
        }
        "request statistics (`request_success_rate`, `avg_response_time`, `p99_response_time`)" => {
            (
                Signal::Requests {
                    informational: true,
                },
                "request_success_rate",
            )
        }
        "request statistics with `.informational(false)`" => (
            Signal::Requests {
                informational: false,
            },
            "request_success_rate",
        ),
        "shutting down (SIGTERM, `shutdown()`)" => (Signal::ShuttingDown, "subject"),
        other => panic!("the README's row {other:?} has no case in this test"),
    }
}

fn failing() -> Check {
    Check::new("subject", || async { Err::<(), _>("broken on purpose") })
}

/// A runtime whose only failing signal is `signal`, with its checks run.
async fn runtime(signal: &Signal) -> HealthRuntime {
    let base: HealthRuntimeBuilder = builder().cache_ttl(Duration::ZERO);
    let mut monitor = None;
    let runtime = match signal {
        Signal::DeclaredDefault => base.with_check(failing()),
        Signal::Informational => base.with_check(failing().informational(true)),
        Signal::Declared(groups) => base.with_check(failing().groups(groups.clone())),
        Signal::System(groups) => {
            let mut metrics =
                SystemIndicators::new().source(|| ResourceReading::new(99.0, 1.0, 1.0));
            if let Some(groups) = groups {
                metrics = metrics.groups(groups.clone());
            }
            monitor = Some(metrics.monitor());
            base.with_checks(metrics)
        }
        Signal::Requests { informational } => {
            let stats = RequestStats::new();
            for _ in 0..100 {
                stats.record(Duration::from_millis(1), RequestOutcome::ServerError);
            }
            base.with_checks(stats.indicators().informational(*informational))
        }
        Signal::ShuttingDown => {
            base.with_check(Check::new("subject", || async { Ok::<(), String>(()) }))
        }
    }
    .build()
    .unwrap();
    runtime.start();
    if let Some(monitor) = monitor {
        tokio::time::timeout(Duration::from_secs(10), monitor.settled())
            .await
            .expect("a sample within 10 s");
    }
    runtime.report().await;
    if matches!(signal, Signal::ShuttingDown) {
        runtime.shutdown();
    }
    runtime
}

/// `true` when the surface says serving.
async fn serving(grpc: &GrpcServer, name: &str) -> bool {
    let mut client = grpc.health().await;
    check_status(&mut client, name).await == Ok(ServingStatus::Serving)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_of_the_readme_table_holds() {
    let (header, rows) = rows();
    assert_eq!(
        header,
        [
            "signal (critical)",
            "`liveness`",
            "`readiness`",
            "`startup`",
            "`\"\"`, `plugin`, `/health`, health file `healthy`",
            "its own name"
        ]
    );
    assert!(rows.len() >= 10, "{rows:?}");
    for row in rows {
        row_holds(&row).await;
    }
}

/// One row of the table, on every surface of a runtime with that row's signal critical.
async fn row_holds(row: &[String]) {
    let (signal, subject) = signal(&row[0]);
    let runtime = runtime(&signal).await;
    let grpc = GrpcServer::start(&runtime).await;
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_addr = http.local_addr().unwrap();
    let served = runtime.clone();
    let http_task = tokio::spawn(async move {
        health_runtime::http::serve(&served, http, std::future::pending()).await
    });

    let gates = |cell: &str| match cell {
        "gates" => true,
        "–" => false,
        other => panic!("{:?}: a cell says {other:?}, not `gates` or `–`", row[0]),
    };
    for (column, name) in [(1, "liveness"), (2, "readiness"), (3, "startup")] {
        assert_eq!(
            !serving(&grpc, name).await,
            gates(&row[column]),
            "{:?}: Check({name:?})",
            row[0]
        );
    }
    let overall = gates(&row[4]);
    for name in ["", "plugin"] {
        assert_eq!(
            !serving(&grpc, name).await,
            overall,
            "{:?}: Check({name:?})",
            row[0]
        );
    }
    let health = reqwest::get(format!("http://{http_addr}/health"))
        .await
        .unwrap();
    assert_eq!(
        health.status().as_u16() == 503,
        overall,
        "{:?}: GET /health answered {}",
        row[0],
        health.status()
    );
    let file = health_runtime::health_file::content(&runtime);
    assert_eq!(
        !file.healthy, overall,
        "{:?}: the health file {file:?}",
        row[0]
    );
    for (group, column) in [
        (Group::Liveness, 1),
        (Group::Readiness, 2),
        (Group::Startup, 3),
    ] {
        assert_eq!(
            !file.groups.of(group),
            gates(&row[column]),
            "{:?}: the health file's {group} verdict",
            row[0]
        );
    }
    assert_eq!(file.draining, matches!(signal, Signal::ShuttingDown));
    assert_eq!(
        !serving(&grpc, subject).await,
        gates(&row[5]),
        "{:?}: Check({subject:?})",
        row[0]
    );
    // Informational signals still show their grade in the report, and its overall status
    // follows the overall column.
    let report = runtime.cached_report();
    assert_eq!(
        report.overall_status == health_runtime::Status::Critical,
        overall && !matches!(signal, Signal::ShuttingDown),
        "{:?}: the report's overall status {:?}",
        row[0],
        report.overall_status
    );
    if !matches!(signal, Signal::ShuttingDown) {
        assert_eq!(
            report.metrics[subject].status,
            health_runtime::Status::Critical,
            "{:?}",
            row[0]
        );
    }
    http_task.abort();
    drop(grpc);
}
