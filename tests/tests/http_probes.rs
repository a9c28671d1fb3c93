//! The HTTP probes over loopback with a real HTTP client: status codes in every lifecycle state,
//! detail levels, verbose lines, headers, unknown paths and methods, and shared runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use health_runtime::config::DetailLevel;
use health_runtime::{Check, Group, HealthRuntime, Status};
use reqwest::StatusCode;
use serde_json::Value;
use tests::{Runs, builder, quiet_config};

/// Serves `runtime`'s HTTP probes on a loopback port until the test ends.
async fn serve(runtime: &HealthRuntime) -> String {
    format!("http://{}", tests::serve_http(runtime).await)
}

async fn get(client: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "every response carries Cache-Control: no-store ({url})"
    );
    (response.status(), response.text().await.unwrap())
}

/// The status code of every probe path, in order.
async fn codes(client: &reqwest::Client, base: &str) -> Vec<u16> {
    let mut codes = Vec::new();
    for path in [
        "/health", "/ready", "/readyz", "/live", "/livez", "/startup",
    ] {
        codes.push(get(client, &format!("{base}{path}")).await.0.as_u16());
    }
    codes
}

fn flag(name: &str, up: &Arc<AtomicBool>) -> Check {
    let up = up.clone();
    Check::new(name.to_owned(), move || {
        std::future::ready(up.load(Ordering::SeqCst))
    })
}

#[tokio::test]
async fn status_codes_follow_the_lifecycle() {
    let (warm, db) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(true)),
    );
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .drain_delay(Duration::from_secs(60))
        // Until `warmup` passes it has no result to show: its failures are held back.
        .with_check(
            flag("warmup", &warm)
                .groups([Group::Readiness, Group::Startup])
                .failure_threshold(1000),
        )
        .with_check(flag("db", &db))
        .with_check(Check::new("loop", || async { true }).groups([Group::Liveness]))
        .build()
        .unwrap();
    let base = serve(&runtime).await;
    let client = reqwest::Client::new();
    //                                     /health /ready /readyz /live /livez /startup
    assert_eq!(
        codes(&client, &base).await,
        [503, 503, 503, 200, 200, 503],
        "starting"
    );

    warm.store(true, Ordering::SeqCst);
    assert_eq!(
        codes(&client, &base).await,
        [200, 200, 200, 200, 200, 200],
        "serving"
    );

    // Readiness and overall fail; liveness (other checks) and startup (latched) pass.
    db.store(false, Ordering::SeqCst);
    assert_eq!(
        codes(&client, &base).await,
        [503, 503, 503, 200, 200, 200],
        "critical"
    );

    db.store(true, Ordering::SeqCst);
    runtime.shutdown();
    assert_eq!(
        codes(&client, &base).await,
        [503, 503, 503, 503, 503, 503],
        "draining"
    );
    let (_, body) = get(&client, &format!("{base}/ready")).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["draining"], true);
    assert_eq!(body["serving"], false);
    let (_, verbose) = get(&client, &format!("{base}/livez?verbose")).await;
    assert_eq!(
        verbose,
        "[+]loop ok\n[-]shutdown failed: draining\nlivez check failed\n"
    );
}

#[tokio::test]
async fn details_need_the_token_when_authorized_only() {
    let mut config = quiet_config();
    config.details.level = DetailLevel::WhenAuthorized;
    config.details.token = Some("s3cret-token".to_owned());
    let runtime = HealthRuntime::builder()
        .config(config)
        .without_declared_checks()
        .with_check(Check::new("db", || async {
            Err::<(), _>("connection refused")
        }))
        .build()
        .unwrap();
    let base = serve(&runtime).await;
    let client = reqwest::Client::new();

    let (code, body) = get(&client, &format!("{base}/ready")).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "critical");
    assert!(body.get("checks").is_none(), "no details without the token");
    assert!(!body.to_string().contains("connection refused"));

    for wrong in [
        "Bearer nope",
        "Bearer s3cret-token-and-more",
        "s3cret-token",
        "Basic s3cret-token",
    ] {
        let response = client
            .get(format!("{base}/ready"))
            .header("authorization", wrong)
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        assert!(body.get("checks").is_none(), "{wrong:?}");
    }

    let response = client
        .get(format!("{base}/ready"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["db"]["message"], "connection refused");

    let response = client
        .get(format!("{base}/health/report"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let response = client
        .get(format!("{base}/health/report"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let report: health_runtime::HealthReport = response.json().await.unwrap();
    assert_eq!(report.metrics["db"].message, "connection refused");

    let (code, verbose) = get(&client, &format!("{base}/readyz?verbose")).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        verbose,
        "[-]db failed: reason withheld\nreadyz check failed\n"
    );
}

#[tokio::test]
async fn details_always_and_never() {
    for (level, shown) in [(DetailLevel::Always, true), (DetailLevel::Never, false)] {
        let mut config = quiet_config();
        config.details.level = level;
        config.details.token = Some("token".to_owned());
        let runtime = HealthRuntime::builder()
            .config(config)
            .without_declared_checks()
            .with_check(Check::new("db", || async { Ok::<u32, String>(42) }))
            .with_check(
                Check::new("cache", || async { Err::<(), _>("evicted") }).on_error(Status::Warning),
            )
            .build()
            .unwrap();
        let base = serve(&runtime).await;
        let client = reqwest::Client::new();
        let response = client
            .get(format!("{base}/health"))
            .bearer_auth("token")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "warning still serves");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "warning");
        assert_eq!(body.get("checks").is_some(), shown, "{level:?}");
        if shown {
            assert_eq!(body["checks"]["db"]["value"], 42.0);
        }
        let (_, verbose) = get(&client, &format!("{base}/health?verbose")).await;
        let expected = if shown {
            "[+]cache ok: evicted\n[+]db ok\nhealth check passed\n"
        } else {
            "[+]cache ok\n[+]db ok\nhealth check passed\n"
        };
        assert_eq!(verbose, expected, "{level:?}");
        let report = client
            .get(format!("{base}/health/report"))
            .bearer_auth("token")
            .send()
            .await
            .unwrap();
        let expected = if shown {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(report.status(), expected, "{level:?}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let runtime = builder().build().unwrap();
    let base = serve(&runtime).await;
    let client = reqwest::Client::new();

    let response = client.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "no such endpoint");
    assert_eq!(body["path"], "/nope");

    let response = client.post(format!("{base}/health")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["method"], "POST");

    let response = client.head(format!("{base}/health")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let response = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "metrics are off by default"
    );
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("PLUGIN_ENABLE_PROMETHEUS")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_cause_one_run() {
    let runs = Runs::default();
    let counter = runs.clone();
    let runtime = builder()
        .with_check(Check::new("slow", move || {
            counter.hit();
            async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                true
            }
        }))
        .build()
        .unwrap();
    let base = serve(&runtime).await;
    let client = reqwest::Client::new();
    let requests = (0..1000).map(|_| {
        let client = client.clone();
        let url = format!("{base}/health");
        tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) })
    });
    for response in futures::future::join_all(requests).await {
        assert_eq!(response.unwrap().unwrap(), StatusCode::OK);
    }
    assert_eq!(runs.count(), 1);
}
