//! Webhooks on transitions, against a real receiver on loopback: what is sent and when (once per
//! status, restored, only-critical, flap damping), delivery (retries with one id, a hanging
//! target that holds back neither checks nor other targets, the drain deadline), signatures,
//! Slack messages, the counters, the configuration, and secrets kept out of logs and errors.

use std::time::Duration;

use base64::Engine as _;
use health_runtime::notify::{NotifySettings, Secret, Target};
use health_runtime::{HealthConfig, HealthRuntime, Status};
use tests::logs::Captured;
use tests::notify::{Answer, Received, Sink, Switch, eventually};
use tracing_subscriber::util::SubscriberInitExt as _;

/// Settings for a test: no interval between notifications, no flap damping, quick retries.
fn settings(target: Target) -> NotifySettings {
    NotifySettings::new()
        .target(target)
        .min_interval(Duration::ZERO)
        .flap(Duration::from_secs(300), 0)
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .service("notify-test")
}

/// A runtime with one switchable check, `kv_store`, notifying with `settings`.
fn runtime(switch: &Switch, settings: NotifySettings) -> HealthRuntime {
    tests::builder()
        .version("9.9.9")
        .cache_ttl(Duration::ZERO)
        .with_check(switch.check("kv_store"))
        .notify(settings)
        .build()
        .unwrap()
}

/// Sets the check's status and runs it.
async fn run(runtime: &HealthRuntime, switch: &Switch, status: Status) {
    switch.set(status);
    let checked = runtime.recheck("kv_store").await.unwrap();
    assert_eq!(checked.state().status(), status);
}

fn types(received: &[Received]) -> Vec<(String, String)> {
    received
        .iter()
        .map(|request| {
            let json = request.json();
            (
                json["type"].as_str().unwrap_or_default().to_owned(),
                json["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warning_is_sent_once_and_its_recovery_once() {
    let sink = Sink::start().await;
    let switch = Switch::default();
    let runtime = runtime(&switch, settings(Target::json(sink.url("/hooks/health"))));
    run(&runtime, &switch, Status::Healthy).await;
    run(&runtime, &switch, Status::Warning).await;
    let first = sink.wait_accepted(1).await;
    let json = first[0].json();
    assert_eq!(json["type"], "transition", "{json}");
    assert_eq!(json["check"], "kv_store");
    assert_eq!(json["status"], "warning");
    assert_eq!(json["previous_status"], "healthy");
    assert_eq!(json["message"], "disk 93.1 % full");
    assert_eq!(json["value"], 93.1);
    assert_eq!(json["threshold"], 90.0);
    assert_eq!(json["groups"], serde_json::json!(["readiness"]));
    assert_eq!(json["overall_status"], "warning");
    assert_eq!(
        json["service"],
        serde_json::json!({ "name": "notify-test", "version": "9.9.9" })
    );
    assert!(json["at"].as_str().unwrap().ends_with('Z'), "{json}");
    assert!(json["duration_ms"].as_f64().is_some(), "{json}");
    assert!(json.get("flapping").is_none(), "{json}");
    assert_eq!(first[0].path, "/hooks/health");
    assert_eq!(first[0].header("content-type"), Some("application/json"));
    assert_eq!(first[0].header("webhook-id"), json["id"].as_str());
    assert!(first[0].header("webhook-signature").is_none());

    // Staying warning sends nothing; the recovery comes next, in order.
    for _ in 0..5 {
        run(&runtime, &switch, Status::Warning).await;
    }
    run(&runtime, &switch, Status::Healthy).await;
    let both = sink.wait_accepted(2).await;
    assert_eq!(
        types(&both),
        [
            ("transition".to_owned(), "warning".to_owned()),
            ("restored".to_owned(), "healthy".to_owned())
        ]
    );
    let restored = both[1].json();
    assert_eq!(restored["previous_status"], "warning");
    assert_ne!(restored["id"], json["id"]);
    assert_eq!(sink.received().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_flaps_make_at_most_two_posts_the_second_a_summary() {
    let sink = Sink::start().await;
    let switch = Switch::default();
    let interval = Duration::from_secs(4);
    let runtime = runtime(
        &switch,
        settings(Target::json(sink.url("/")))
            .min_interval(interval)
            .flap(Duration::from_secs(120), 5),
    );
    run(&runtime, &switch, Status::Healthy).await;
    for _ in 0..5 {
        run(&runtime, &switch, Status::Critical).await;
        run(&runtime, &switch, Status::Healthy).await;
    }
    let posts = sink.wait_accepted(2).await;
    let first = posts[0].json();
    assert_eq!(
        (&first["type"], &first["status"]),
        (&"transition".into(), &"critical".into())
    );
    let summary = posts[1].json();
    assert_eq!(summary["type"], "flapping", "{summary}");
    assert_eq!(summary["status"], "healthy");
    assert_eq!(
        summary["flapping"],
        serde_json::json!({ "transitions": 10, "window_s": 120, "statuses": ["healthy", "critical"] })
    );
    // Past another interval, still flapping inside the window: nothing more.
    tokio::time::sleep(interval + Duration::from_secs(1)).await;
    assert_eq!(sink.received().len(), 2, "{:?}", types(&sink.received()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_critical_from_the_environment() {
    let sink = Sink::start().await;
    let switch = Switch::default();
    let mut config = HealthConfig::from_pairs([
        (
            "PLUGIN_HEALTH_NOTIFY_URL",
            sink.url("/critical-only").as_str(),
        ),
        ("PLUGIN_HEALTH_NOTIFY_ON", "critical"),
        ("PLUGIN_HEALTH_NOTIFY_MIN_INTERVAL", "0"),
        ("PLUGIN_HEALTH_NOTIFY_CHECKS", "kv_store"),
        ("PLUGIN_HEALTH_HTTP_ADDR", ""),
        ("PLUGIN_HEALTH_FILE_PATH", ""),
    ])
    .unwrap();
    config.notify.flap_threshold = 0;
    let other = Switch::default();
    other.set(Status::Critical);
    let runtime = HealthRuntime::builder()
        .config(config)
        .without_declared_checks()
        .cache_ttl(Duration::ZERO)
        .with_check(switch.check("kv_store"))
        .with_check(other.check("other"))
        .build()
        .unwrap();
    run(&runtime, &switch, Status::Healthy).await;
    run(&runtime, &switch, Status::Warning).await;
    run(&runtime, &switch, Status::Critical).await;
    run(&runtime, &switch, Status::Healthy).await;
    // `other`, not selected, goes critical too: nothing is sent for it.
    let checked = runtime.recheck("other").await.unwrap();
    assert_eq!(checked.state().status(), Status::Critical);
    // A last notification of `kv_store`, queued after anything `other` could have caused: once
    // it is in, a notification of `other` would be in before it (a target gets them in order).
    run(&runtime, &switch, Status::Critical).await;
    sink.wait_accepted(3).await;
    let stats = health_runtime::notify::stats(&runtime);
    eventually("the deliveries counted", || {
        stats.targets()[0].delivered >= 3
    })
    .await;
    let posts = sink.received();
    // Had the warning been sent, it would have come first.
    assert_eq!(
        types(&posts),
        [
            ("transition".to_owned(), "critical".to_owned()),
            ("restored".to_owned(), "healthy".to_owned()),
            ("transition".to_owned(), "critical".to_owned())
        ]
    );
    assert_eq!(posts[0].json()["previous_status"], "warning");
    let checks: Vec<_> = posts
        .iter()
        .map(|post| post.json()["check"].clone())
        .collect();
    assert_eq!(checks, ["kv_store", "kv_store", "kv_store"]);
    let counts = stats.targets()[0].clone();
    assert_eq!((counts.failed, counts.dropped), (0, 0), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_down_at_first_gets_the_notification_once_under_one_id() {
    let sink = Sink::start().await;
    sink.then([Answer::Close, Answer::Status(503), Answer::RetryAfter(0)]);
    let switch = Switch::default();
    let runtime = runtime(&switch, settings(Target::json(sink.url("/"))));
    run(&runtime, &switch, Status::Critical).await;
    let delivered = sink.wait_accepted(1).await;
    let attempts = sink.received();
    assert_eq!(attempts.len(), 4, "{attempts:?}");
    let id = delivered[0].header("webhook-id").unwrap().to_owned();
    for attempt in &attempts {
        assert_eq!(attempt.header("webhook-id"), Some(id.as_str()));
        assert_eq!(attempt.json()["id"], id.as_str());
    }
    let stats = health_runtime::notify::stats(&runtime);
    // Counted once the worker has read the answer.
    eventually("the delivery counted", || {
        stats.target(&sink.address()).unwrap().delivered == 1
    })
    .await;
    let counts = stats.target(&sink.address()).unwrap();
    assert_eq!(
        (
            counts.delivered,
            counts.retried,
            counts.failed,
            counts.dropped
        ),
        (1, 3, 0, 0)
    );
    let metrics = health_runtime::prometheus::render(&runtime).unwrap();
    for (result, count) in [
        ("delivered", 1),
        ("retried", 3),
        ("failed", 0),
        ("dropped", 0),
    ] {
        let line = format!(
            "health_notifications_total{{target=\"{}\",index=\"0\",result=\"{result}\"}} {count}",
            sink.address()
        );
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    // Delivered: no attempt follows, however long the backoff would have been.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.received().len(), 4);
}

/// The samples of a Prometheus text exposition, as the official Python client's parser reads
/// them (tests/python/parse_metrics.py): (name, labels, value).
fn parse_metrics(text: &str) -> Vec<(String, serde_json::Value, f64)> {
    let families = tests::process::prometheus_families(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
        text,
    );
    families
        .iter()
        .flat_map(|family| family["samples"].as_array().unwrap().clone())
        .map(|sample| {
            (
                sample["name"].as_str().unwrap().to_owned(),
                sample["labels"].clone(),
                sample["value"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_targets_on_one_host_are_two_series() {
    let sink = Sink::start().await;
    let switch = Switch::default();
    let runtime = runtime(
        &switch,
        settings(Target::json(sink.url("/first/SECRET")))
            .target(Target::json(sink.url("/second/SECRET"))),
    );
    // The second target refuses: its counts differ from the first's.
    sink.then([Answer::Status(204), Answer::Status(404)]);
    run(&runtime, &switch, Status::Critical).await;
    let stats = health_runtime::notify::stats(&runtime);
    eventually("both targets counted", || {
        stats
            .targets()
            .iter()
            .all(|target| target.delivered + target.failed == 1)
    })
    .await;
    let (first, second) = (stats.index(0).unwrap(), stats.index(1).unwrap());
    assert_eq!((first.index, second.index), (0, 1));
    assert_eq!(first.target, second.target);
    assert_eq!(first.delivered + second.delivered, 1);
    assert_eq!(first.failed + second.failed, 1);
    assert!(stats.index(2).is_none());
    // By address: the first of them.
    assert_eq!(stats.target(&sink.address()), Some(first.clone()));

    let text = health_runtime::prometheus::render(&runtime).unwrap();
    assert!(!text.contains("SECRET"), "{text}");
    let samples: Vec<_> = parse_metrics(&text)
        .into_iter()
        .filter(|(name, ..)| name == "health_notifications_total")
        .collect();
    assert_eq!(samples.len(), 8, "{samples:?}");
    let mut label_sets: Vec<String> = samples
        .iter()
        .map(|(_, labels, _)| labels.to_string())
        .collect();
    label_sets.sort();
    label_sets.dedup();
    assert_eq!(label_sets.len(), 8, "duplicate series: {samples:?}");
    for counts in [&first, &second] {
        let index = counts.index.to_string();
        for (result, count) in [("delivered", counts.delivered), ("failed", counts.failed)] {
            let value = samples.iter().find(|(_, labels, _)| {
                labels["target"] == sink.address().as_str()
                    && labels["index"] == index.as_str()
                    && labels["result"] == result
            });
            assert_eq!(
                value.map(|(.., value)| *value),
                Some(count as f64),
                "{samples:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_given_up_at_once_and_retries_run_out() {
    let refusing = Sink::answering(Answer::Status(404)).await;
    let failing = Sink::answering(Answer::Status(500)).await;
    let switch = Switch::default();
    let runtime = runtime(
        &switch,
        settings(Target::json(refusing.url("/gone")))
            .target(Target::json(failing.url("/down")))
            .retries(2),
    );
    run(&runtime, &switch, Status::Warning).await;
    let stats = health_runtime::notify::stats(&runtime);
    eventually("both targets given up", || {
        stats.targets().iter().all(|target| target.failed == 1)
    })
    .await;
    assert_eq!(refusing.received().len(), 1);
    assert_eq!(failing.received().len(), 3);
    let refused = stats.target(&refusing.address()).unwrap();
    let failed = stats.target(&failing.address()).unwrap();
    assert_eq!((refused.retried, refused.delivered), (0, 0));
    assert_eq!((failed.retried, failed.delivered), (2, 0));
    let metrics = health_runtime::prometheus::render(&runtime).unwrap();
    let line = format!(
        "health_notifications_total{{target=\"{}\",index=\"0\",result=\"failed\"}} 1",
        refusing.address()
    );
    assert!(metrics.contains(&line), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_signed_as_standard_webhooks_say() {
    let sink = Sink::start().await;
    let key = b"a key of thirty-two bytes, exact";
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    );
    let switch = Switch::default();
    let runtime = runtime(
        &switch,
        settings(Target::json(sink.url("/signed"))).secret(Secret::signing(&secret)),
    );
    run(&runtime, &switch, Status::Critical).await;
    let request = &sink.wait_accepted(1).await[0];
    let id = request.header("webhook-id").unwrap();
    let timestamp = request.header("webhook-timestamp").unwrap();
    let signature = request.header("webhook-signature").unwrap();
    let signed = [
        id.as_bytes(),
        b".",
        timestamp.as_bytes(),
        b".",
        &request.body,
    ]
    .concat();
    let expected = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), &signed);
    assert_eq!(
        signature,
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(expected.as_ref())
        )
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sent: u64 = timestamp.parse().unwrap();
    assert!(sent <= now && now - sent < 600, "{sent} vs {now}");
    assert!(!String::from_utf8_lossy(&request.body).contains(&secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_header_carries_the_secret() {
    let sink = Sink::start().await;
    let switch = Switch::default();
    let mut config = HealthConfig::from_pairs([
        ("PLUGIN_HEALTH_NOTIFY_URL", sink.url("/token").as_str()),
        ("PLUGIN_HEALTH_NOTIFY_SECRET", "s3cret-token"),
        ("PLUGIN_HEALTH_NOTIFY_SECRET_HEADER", "X-Hook-Token"),
        ("PLUGIN_HEALTH_NOTIFY_MIN_INTERVAL", "0"),
    ])
    .unwrap();
    assert!(!format!("{config:?}").contains("s3cret-token"));
    config.surfaces = tests::quiet_config().surfaces;
    let runtime = tests::builder()
        .config(config)
        .cache_ttl(Duration::ZERO)
        .with_check(switch.check("kv_store"))
        .build()
        .unwrap();
    run(&runtime, &switch, Status::Critical).await;
    let request = &sink.wait_accepted(1).await[0];
    assert_eq!(request.header("x-hook-token"), Some("s3cret-token"));
    assert!(request.header("webhook-signature").is_none());
    assert!(request.header("webhook-id").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_gets_text_and_blocks_naming_the_check_and_status() {
    let sink = Sink::start().await;
    let switch = Switch::default();
    let runtime = runtime(
        &switch,
        settings(Target::slack(sink.url("/services/T000/B000/XXXX"))),
    );
    run(&runtime, &switch, Status::Critical).await;
    let json = sink.wait_accepted(1).await[0].json();
    let text = json["text"].as_str().unwrap();
    assert!(
        text.contains("kv_store") && text.contains("critical"),
        "{text}"
    );
    let blocks = json["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "section");
    assert_eq!(blocks[0]["text"]["type"], "mrkdwn");
    let section = blocks[0]["text"]["text"].as_str().unwrap();
    assert!(
        section.contains("*kv_store*") && section.contains("*critical*"),
        "{section}"
    );
    assert!(
        blocks.iter().any(|block| block["text"]["text"]
            .as_str()
            .is_some_and(|text| text.contains("disk 99.9 % full"))),
        "{json}"
    );
    assert!(
        json.get("check").is_none(),
        "a Slack body is a Slack message: {json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_details_payloads_carry_statuses_and_names_only() {
    let sink = Sink::start().await;
    let switch = Switch::default();
    let runtime = runtime(
        &switch,
        settings(Target::json(sink.url("/"))).details(false),
    );
    run(&runtime, &switch, Status::Warning).await;
    let json = sink.wait_accepted(1).await[0].json();
    for absent in ["message", "value", "threshold"] {
        assert!(json.get(absent).is_none(), "{json}");
    }
    assert_eq!(
        (&json["check"], &json["status"]),
        (&"kv_store".into(), &"warning".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_target_holds_back_neither_the_checks_nor_another_target() {
    let hanging = Sink::answering(Answer::Hang).await;
    let working = Sink::start().await;
    let switch = Switch::default();
    let queue = 4;
    let runtime = runtime(
        &switch,
        settings(Target::json(hanging.url("/")))
            .target(Target::json(working.url("/")))
            .timeout(Duration::from_secs(3600))
            .queue(queue),
    );
    run(&runtime, &switch, Status::Warning).await;
    working.wait_accepted(1).await;
    hanging.wait_received(1).await;

    // Every run completes while the hanging target's queue fills; the rest is dropped.
    let runs = 200;
    for index in 0..runs {
        let status = if index % 2 == 0 {
            Status::Healthy
        } else {
            Status::Warning
        };
        run(&runtime, &switch, status).await;
    }
    let stats = health_runtime::notify::stats(&runtime);
    let hung = stats.target(&hanging.address()).unwrap();
    assert_eq!(hung.delivered, 0);
    assert!(
        hung.dropped >= runs - queue as u64 - 1,
        "{hung:?}: {runs} notifications, a queue of {queue}"
    );
    assert_eq!(hanging.received().len(), 1);
    let metrics = health_runtime::prometheus::render(&runtime).unwrap();
    let line = format!(
        "health_notifications_total{{target=\"{}\",index=\"0\",result=\"dropped\"}} {}",
        hanging.address(),
        hung.dropped
    );
    assert!(metrics.contains(&line), "{line} in\n{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_notifications_get_the_drain_delay_and_no_more() {
    let hanging = Sink::answering(Answer::Hang).await;
    let switch = Switch::default();
    let runtime = tests::builder()
        .cache_ttl(Duration::ZERO)
        .drain_delay(Duration::from_millis(300))
        .with_check(switch.check("kv_store"))
        .notify(settings(Target::json(hanging.url("/"))).timeout(Duration::from_secs(3600)))
        .build()
        .unwrap();
    run(&runtime, &switch, Status::Critical).await;
    hanging.wait_received(1).await;
    runtime.shutdown();
    let stats = health_runtime::notify::stats(&runtime);
    eventually(
        "the hanging notification given up after the drain delay",
        || stats.target(&hanging.address()).unwrap().failed == 1,
    )
    .await;
    let counts = stats.target(&hanging.address()).unwrap();
    assert_eq!((counts.delivered, counts.retried), (0, 0));
}

#[tokio::test(flavor = "current_thread")]
async fn a_refusal_logs_the_start_of_the_answer() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _guard = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish()
        .set_default();
    let long: &'static str = "x".repeat(2000).leak();
    let sink = Sink::answering(Answer::StatusBody(400, "invalid_blocks")).await;
    let long_sink = Sink::answering(Answer::StatusBody(400, long)).await;
    let switch = Switch::default();
    let runtime = runtime(
        &switch,
        settings(Target::slack(sink.url("/services/SECRET")))
            .target(Target::json(long_sink.url("/"))),
    );
    run(&runtime, &switch, Status::Critical).await;
    let stats = health_runtime::notify::stats(&runtime);
    eventually("both refusals counted", || {
        stats.targets().iter().all(|target| target.failed == 1)
    })
    .await;
    let text = logs.text();
    let refused: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("giving up"))
        .collect();
    assert_eq!(refused.len(), 2, "{text}");
    assert!(
        refused
            .iter()
            .any(|line| line.contains("answered 400 Bad Request: \"invalid_blocks\"")),
        "{text}"
    );
    let cut = refused
        .iter()
        .find(|line| line.contains("xxx"))
        .unwrap_or_else(|| panic!("{text}"));
    let longest_run = cut
        .split(|c| c != 'x')
        .map(str::len)
        .max()
        .unwrap_or_default();
    assert_eq!(longest_run, 512, "{cut}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_sends_what_the_interval_holds_back() {
    let sink = Sink::start().await;
    let switch = Switch::default();
    let runtime = tests::builder()
        .cache_ttl(Duration::ZERO)
        .drain_delay(Duration::from_secs(20))
        .with_check(switch.check("kv_store"))
        .notify(settings(Target::json(sink.url("/"))).min_interval(Duration::from_secs(3600)))
        .build()
        .unwrap();
    run(&runtime, &switch, Status::Critical).await;
    sink.wait_accepted(1).await;
    // Held back by the interval, an hour long.
    run(&runtime, &switch, Status::Healthy).await;
    runtime.shutdown();
    let posts = sink.wait_accepted(2).await;
    assert_eq!(
        types(&posts),
        [
            ("transition".to_owned(), "critical".to_owned()),
            ("restored".to_owned(), "healthy".to_owned())
        ]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn every_drop_is_logged_by_the_time_the_runtime_is_gone() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _guard = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish()
        .set_default();
    let hanging = Sink::answering(Answer::Hang).await;
    let switch = Switch::default();
    let runtime = tests::builder()
        .cache_ttl(Duration::ZERO)
        .drain_delay(Duration::from_millis(100))
        .with_check(switch.check("kv_store"))
        .notify(
            settings(Target::json(hanging.url("/")))
                .timeout(Duration::from_secs(3600))
                .queue(1),
        )
        .build()
        .unwrap();
    run(&runtime, &switch, Status::Critical).await;
    hanging.wait_received(1).await;
    for index in 0..20 {
        let status = if index % 2 == 0 {
            Status::Healthy
        } else {
            Status::Critical
        };
        run(&runtime, &switch, status).await;
    }
    let stats = health_runtime::notify::stats(&runtime);
    let dropped = stats.targets()[0].dropped;
    assert_eq!(dropped, 19, "{:?}", stats.targets());
    runtime.shutdown();
    drop(runtime);
    let text = logs.text();
    let logged: u64 = text
        .lines()
        .filter(|line| line.contains("notification queue full"))
        .map(|line| {
            let count = line.split("dropped=").nth(1).unwrap_or_default();
            let count: String = count.chars().take_while(char::is_ascii_digit).collect();
            count.parse::<u64>().unwrap()
        })
        .sum();
    assert_eq!(logged, dropped, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_runtime_ends_its_workers_after_the_drain_delay() {
    let hanging = Sink::answering(Answer::Hang).await;
    let switch = Switch::default();
    let runtime = tests::builder()
        .cache_ttl(Duration::ZERO)
        .drain_delay(Duration::from_millis(200))
        .with_check(switch.check("kv_store"))
        .notify(settings(Target::json(hanging.url("/"))).timeout(Duration::from_secs(3600)))
        .build()
        .unwrap();
    let stats = health_runtime::notify::stats(&runtime);
    run(&runtime, &switch, Status::Critical).await;
    hanging.wait_received(1).await;
    drop(runtime);
    // The request under way is abandoned and its connection closed: the worker is gone.
    eventually(
        "the worker's connection closed, its notification given up",
        || hanging.hangs_ended() == 1 && stats.targets()[0].failed == 1,
    )
    .await;
    assert_eq!(stats.targets()[0].delivered, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_starts_again_on_another_tokio_runtime() {
    let sink = Sink::start().await;
    let switch = Switch::default();
    let (url, first_switch) = (sink.url("/"), switch.clone());
    let first = sink.clone();
    // The first notification goes out from a tokio runtime of its own, gone afterwards, and its
    // worker with it.
    let runtime = tokio::task::spawn_blocking(move || {
        let tokio = tokio::runtime::Runtime::new().unwrap();
        let runtime = tokio.block_on(async {
            let runtime = runtime(&first_switch, settings(Target::json(url)));
            run(&runtime, &first_switch, Status::Critical).await;
            first.wait_accepted(1).await;
            // Counted by the worker before its runtime goes: the sink's answer comes first.
            let stats = health_runtime::notify::stats(&runtime);
            eventually("the first delivery counted", || {
                stats.targets()[0].delivered == 1
            })
            .await;
            runtime
        });
        drop(tokio);
        runtime
    })
    .await
    .unwrap();
    run(&runtime, &switch, Status::Healthy).await;
    let posts = sink.wait_accepted(2).await;
    assert_eq!(posts[1].json()["type"], "restored");
    let stats = health_runtime::notify::stats(&runtime);
    eventually("both deliveries counted", || {
        stats.targets()[0].delivered == 2
    })
    .await;
    assert_eq!(stats.targets()[0].dropped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_lost_with_a_workers_runtime_are_counted_as_failed() {
    let sink = Sink::start().await;
    // The first request never gets an answer; later ones are accepted.
    sink.then([Answer::Hang]);
    let switch = Switch::default();
    let (url, first_switch) = (sink.url("/"), switch.clone());
    let first = sink.clone();
    let runtime = tokio::task::spawn_blocking(move || {
        let tokio = tokio::runtime::Runtime::new().unwrap();
        let runtime = tokio.block_on(async {
            let settings = settings(Target::json(url)).timeout(Duration::from_secs(3600));
            let runtime = runtime(&first_switch, settings);
            // One notification under way (hanging), one queued behind it.
            run(&runtime, &first_switch, Status::Critical).await;
            first.wait_received(1).await;
            run(&runtime, &first_switch, Status::Healthy).await;
            runtime
        });
        // The worker goes with its runtime, both notifications unsent.
        drop(tokio);
        runtime
    })
    .await
    .unwrap();
    run(&runtime, &switch, Status::Critical).await;
    let stats = health_runtime::notify::stats(&runtime);
    eventually("the new worker's delivery counted", || {
        stats.targets()[0].delivered == 1
    })
    .await;
    let counts = stats.targets()[0].clone();
    assert_eq!(
        (counts.delivered, counts.failed, counts.dropped),
        (1, 2, 0),
        "{counts:?}"
    );
    assert_eq!(sink.accepted().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_gone_with_its_runtime_starts_again_on_a_run() {
    let sink = Sink::start().await;
    let switch = Switch::default();
    let (url, first_switch) = (sink.url("/"), switch.clone());
    let first = sink.clone();
    let interval = Duration::from_secs(5);
    let runtime = tokio::task::spawn_blocking(move || {
        let tokio = tokio::runtime::Runtime::new().unwrap();
        let runtime = tokio.block_on(async {
            let runtime = runtime(
                &first_switch,
                settings(Target::json(url)).min_interval(interval),
            );
            run(&runtime, &first_switch, Status::Critical).await;
            first.wait_accepted(1).await;
            let stats = health_runtime::notify::stats(&runtime);
            eventually("the first delivery counted", || {
                stats.targets()[0].delivered == 1
            })
            .await;
            // Held back by the interval: the scheduler, on this runtime, is to send it.
            run(&runtime, &first_switch, Status::Healthy).await;
            runtime
        });
        drop(tokio);
        runtime
    })
    .await
    .unwrap();
    // No transition, only a run: the scheduler starts again here and sends the recovery.
    run(&runtime, &switch, Status::Healthy).await;
    let posts = sink.wait_accepted(2).await;
    assert_eq!(
        types(&posts),
        [
            ("transition".to_owned(), "critical".to_owned()),
            ("restored".to_owned(), "healthy".to_owned())
        ]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_target_url_and_secrets_stay_out_of_logs_errors_and_debug_output() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _guard = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish()
        .set_default();
    let sink = Sink::answering(Answer::Status(503)).await;
    let url = format!(
        "http://user:PASSWORD@{}/services/T000/B000/PATHSECRET?token=QUERYSECRET",
        sink.addr
    );
    let switch = Switch::default();
    let runtime = runtime(
        &switch,
        settings(Target::slack(&url))
            .retries(1)
            .secret(Secret::signing("SIGNINGSECRET")),
    );
    run(&runtime, &switch, Status::Critical).await;
    let stats = health_runtime::notify::stats(&runtime);
    eventually("the notification given up", || {
        stats.targets()[0].failed == 1
    })
    .await;
    assert_eq!(
        sink.received()[0].path,
        "/services/T000/B000/PATHSECRET?token=QUERYSECRET"
    );
    let metrics = health_runtime::prometheus::render(&runtime).unwrap();
    let shown = [
        ("the log", logs.bytes()),
        ("the metrics", metrics.into_bytes()),
        (
            "Debug",
            format!("{runtime:?} {:?} {stats:?}", runtime.config()).into_bytes(),
        ),
    ];
    for (what, text) in shown {
        let text = String::from_utf8_lossy(&text);
        for secret in [
            "PASSWORD",
            "PATHSECRET",
            "QUERYSECRET",
            "SIGNINGSECRET",
            "T000",
        ] {
            assert!(!text.contains(secret), "{what} shows {secret}: {text}");
        }
    }
    let failures = logs.text();
    assert!(
        failures.contains(&sink.address()),
        "the failures were logged: {failures}"
    );
    assert!(failures.contains("503"), "{failures}");

    // A selected name that matches no check is worth a warning, not an error.
    tests::builder()
        .with_check(Switch::default().check("kv_store"))
        .notify(settings(Target::json(sink.url("/"))).checks(["kv_store", "kv_stroe", "liveness"]))
        .build()
        .unwrap();
    let logs = logs.text();
    assert!(
        logs.contains("WARN") && logs.contains("kv_stroe") && !logs.contains("check=liveness"),
        "{logs}"
    );

    // The builder refuses a bad URL naming it, redacted.
    let error = tests::builder()
        .notify(NotifySettings::new().target(Target::json("ftp://user:PASSWORD@host/PATHSECRET")))
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("ftp://***@host") && error.contains("http or https"),
        "{error}"
    );
    assert!(
        !error.contains("PASSWORD") && !error.contains("PATHSECRET"),
        "{error}"
    );
}

#[test]
fn malformed_variables_name_the_variable_and_the_value() {
    for (variable, value, shown, problem) in [
        (
            "PLUGIN_HEALTH_NOTIFY_URL",
            "https://hooks.slack.com/services/T0/B0/SECRET,ftp://files.example/SECRET",
            "ftp://files.example/***",
            "not http or https",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_URL",
            "hooks.slack.com/services/SECRET",
            "hooks.slack.com/***",
            "expected an http(s) URL",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_FORMAT",
            "teams",
            "teams",
            "expected `json` or `slack`",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_MIN_INTERVAL",
            "soon",
            "soon",
            "expected a number",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_TIMEOUT",
            "0s",
            "0s",
            "greater than zero",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_FLAP_WINDOW",
            "25h",
            "25h",
            "at most a day",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_QUEUE",
            "many",
            "many",
            "from 1 to 65536",
        ),
        ("PLUGIN_HEALTH_NOTIFY_QUEUE", "0", "0", "from 1 to 65536"),
        ("PLUGIN_HEALTH_NOTIFY_RETRIES", "-1", "-1", "from 0 to 100"),
        (
            "PLUGIN_HEALTH_NOTIFY_FLAP_THRESHOLD",
            "1",
            "1",
            "from 2 to 1000",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_ON",
            "healthy",
            "healthy",
            "not a problem status",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_ON",
            "warning,sometimes",
            "warning,sometimes",
            "not a problem status",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_RESTORED",
            "maybe",
            "maybe",
            "expected `true` or `false`",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_DETAILS",
            "perhaps",
            "perhaps",
            "expected `true` or `false`",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_CHECKS",
            "kv store",
            "kv store",
            "cannot name a check",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_SECRET_HEADER",
            "bad header",
            "bad header",
            "header name",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_SECRET_HEADER",
            "X-Hook-Token",
            "X-Hook-Token",
            "PLUGIN_HEALTH_NOTIFY_SECRET, which is not set",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_SECRET_HEADER",
            "Webhook-Signature",
            "Webhook-Signature",
            "every notification sets",
        ),
        (
            "PLUGIN_HEALTH_NOTIFY_SECRET_HEADER",
            "content-type",
            "content-type",
            "every notification sets",
        ),
    ] {
        let error = HealthConfig::from_pairs([(variable, value)]).unwrap_err();
        assert_eq!(error.variable, variable, "{error}");
        assert_eq!(error.value, shown, "{error}");
        assert!(
            error.problem.contains(problem),
            "{variable}={value}: {error}"
        );
        assert!(!error.value.contains("SECRET"), "{error}");
    }
    let error = HealthConfig::from_pairs([("PLUGIN_HEALTH_NOTIFY_SECRET", "whsec_not*base64")])
        .unwrap_err();
    assert_eq!(error.variable, "PLUGIN_HEALTH_NOTIFY_SECRET");
    assert!(!error.to_string().contains("not*base64"), "{error}");
}

#[test]
fn secrets_that_may_not_do_what_is_meant_are_warned_about_at_build() {
    let build = |settings: NotifySettings| {
        let logs = Captured::default();
        let writer = logs.clone();
        let _guard = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
            .set_default();
        let runtime = tests::builder().notify(settings).build().unwrap();
        drop(runtime);
        logs.text()
    };
    let raw = build(
        NotifySettings::new()
            .target(Target::json("https://hooks.example/a"))
            .secret(Secret::signing("RAWSECRET")),
    );
    assert_eq!(raw.matches("no `whsec_` prefix").count(), 1, "{raw}");
    assert!(!raw.contains("RAWSECRET"), "{raw}");
    let prefixed = build(
        NotifySettings::new()
            .target(Target::json("https://hooks.example/a"))
            .target(Target::json("http://hooks.example/b"))
            .secret(Secret::signing("whsec_c2VjcmV0")),
    );
    assert!(!prefixed.contains("whsec_` prefix"), "{prefixed}");
    assert!(!prefixed.contains("clear text"), "{prefixed}");
    // Two http:// targets with a header secret: one warning.
    let header = build(
        NotifySettings::new()
            .target(Target::json("http://hooks.example/a"))
            .target(Target::json("http://hooks.example/b"))
            .target(Target::json("https://hooks.example/c"))
            .secret(Secret::header("X-Token", "HEADERSECRET")),
    );
    assert_eq!(header.matches("clear text").count(), 1, "{header}");
    assert!(!header.contains("HEADERSECRET"), "{header}");
    let https = build(
        NotifySettings::new()
            .target(Target::json("https://hooks.example/c"))
            .secret(Secret::header("X-Token", "HEADERSECRET")),
    );
    assert!(!https.contains("clear text"), "{https}");
}

#[test]
fn unset_is_off_and_every_variable_is_read() {
    let config = HealthConfig::from_pairs::<&str, &str>([]).unwrap();
    assert!(config.notify.targets.is_empty());
    let runtime = tests::builder().build().unwrap();
    assert!(health_runtime::notify::stats(&runtime).targets().is_empty());
    let metrics = health_runtime::prometheus::render(&runtime).unwrap();
    assert!(!metrics.contains("health_notifications"), "{metrics}");
    let empty = HealthConfig::from_pairs([("PLUGIN_HEALTH_NOTIFY_URL", "")]).unwrap();
    assert!(empty.notify.targets.is_empty());

    let config = HealthConfig::from_pairs([
        (
            "PLUGIN_HEALTH_NOTIFY_URL",
            " https://a.example/hook , http://127.0.0.1:9000/x ",
        ),
        ("PLUGIN_HEALTH_NOTIFY_FORMAT", "slack"),
        ("PLUGIN_HEALTH_NOTIFY_CHECKS", "kv_store, liveness"),
        ("PLUGIN_HEALTH_NOTIFY_ON", "critical"),
        ("PLUGIN_HEALTH_NOTIFY_RESTORED", "false"),
        ("PLUGIN_HEALTH_NOTIFY_MIN_INTERVAL", "1m"),
        ("PLUGIN_HEALTH_NOTIFY_FLAP_WINDOW", "10m"),
        ("PLUGIN_HEALTH_NOTIFY_FLAP_THRESHOLD", "8"),
        ("PLUGIN_HEALTH_NOTIFY_QUEUE", "16"),
        ("PLUGIN_HEALTH_NOTIFY_TIMEOUT", "2s"),
        ("PLUGIN_HEALTH_NOTIFY_RETRIES", "0"),
        ("PLUGIN_HEALTH_NOTIFY_SECRET", "whsec_c2VjcmV0"),
        ("PLUGIN_HEALTH_NOTIFY_DETAILS", "false"),
        ("PLUGIN_HEALTH_NOTIFY_SERVICE", "kv"),
    ])
    .unwrap();
    let notify = &config.notify;
    let addresses: Vec<String> = notify.targets.iter().map(Target::address).collect();
    assert_eq!(
        addresses,
        ["https://a.example:443", "http://127.0.0.1:9000"]
    );
    assert!(
        notify
            .targets
            .iter()
            .all(|target| target.format() == health_runtime::notify::Format::Slack)
    );
    assert_eq!(notify.checks, ["kv_store", "liveness"]);
    assert_eq!(notify.on, [Status::Critical]);
    assert!(!notify.restored && !notify.details);
    assert_eq!(notify.min_interval, Duration::from_secs(60));
    assert_eq!(notify.flap_window, Duration::from_secs(600));
    assert_eq!(notify.flap_threshold, 8);
    assert_eq!(notify.queue, 16);
    assert_eq!(notify.timeout, Duration::from_secs(2));
    assert_eq!(notify.retries, 0);
    assert_eq!(notify.secret, Some(Secret::signing("whsec_c2VjcmV0")));
    assert_eq!(notify.service.as_deref(), Some("kv"));
}

#[test]
fn settings_built_in_code_are_checked_when_the_runtime_is_built() {
    let url = "https://hooks.example/services/SECRET";
    for (settings, problem) in [
        (NotifySettings::new().queue(0), "`queue`"),
        (
            NotifySettings::new().on([Status::Healthy]),
            "not a problem status",
        ),
        (
            NotifySettings::new().flap(Duration::from_secs(60), 1),
            "between 2 and 1000",
        ),
        (
            NotifySettings::new().checks(["kv store"]),
            "cannot name a check",
        ),
        (NotifySettings::new().timeout(Duration::ZERO), "`timeout`"),
        (
            NotifySettings::new().min_interval(Duration::MAX),
            "`min_interval` is not valid: it must be at most a day",
        ),
        (
            NotifySettings::new().flap(Duration::from_secs(86_401), 5),
            "`flap_window` is not valid: it must be at most a day",
        ),
        (
            NotifySettings::new().timeout(Duration::MAX),
            "`timeout` is not valid: it must be at most a day",
        ),
        (
            NotifySettings::new().backoff(Duration::MAX, Duration::MAX),
            "`backoff` is not valid: it must be at most a day",
        ),
        (
            NotifySettings::new().backoff(Duration::from_secs(1), Duration::MAX),
            "`max_backoff` is not valid: it must be at most a day",
        ),
        (
            NotifySettings::new().secret(Secret::signing("whsec_***")),
            "base64",
        ),
        (
            NotifySettings::new().secret(Secret::header("X-Token", "line\nbreak SECRET")),
            "header value",
        ),
        (
            NotifySettings::new().secret(Secret::header("Host", "SECRET")),
            "every notification sets",
        ),
        (
            NotifySettings::new().secret(Secret::header("webhook-id", "SECRET")),
            "every notification sets",
        ),
    ] {
        let error = tests::builder()
            .notify(settings.target(Target::json(url)))
            .build()
            .unwrap_err()
            .to_string();
        assert!(error.contains(problem), "{problem}: {error}");
        assert!(!error.contains("SECRET"), "{error}");
    }
    // Off (no target), nothing is checked.
    assert!(
        tests::builder()
            .notify(NotifySettings::new().queue(0))
            .build()
            .is_ok()
    );
    // Fields of the configuration set in code are checked as well.
    let mut config = tests::quiet_config();
    config.notify = NotifySettings::new().target(Target::json("mailto:SECRET@example.com"));
    let error = tests::builder()
        .config(config)
        .build()
        .unwrap_err()
        .to_string();
    assert!(error.contains("not http or https"), "{error}");
    assert!(!error.contains("SECRET"), "{error}");
}
