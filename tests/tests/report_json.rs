//! The report serialises to the documented JSON and back.

use std::time::Duration;

use health_runtime::{Check, CheckOutcome, HealthReport, Status};
use tests::builder;

#[tokio::test]
async fn report_json_has_the_documented_fields_and_round_trips() {
    let runtime = builder()
        .version("1.4.2")
        .with_check(
            Check::new("disk", || async {
                CheckOutcome::by_threshold(85.0, 90.0).with_message("85 % used")
            })
            .service("storage"),
        )
        .with_check(Check::new("never_run", || async { true }).interval(Duration::from_secs(1)))
        .build()
        .unwrap();
    runtime.check("disk").await.unwrap();
    let report = runtime.cached_report();
    let json = serde_json::to_value(&report).unwrap();

    assert_eq!(json["overall_status"], "unknown");
    assert_eq!(json["version"], "1.4.2");
    let uptime = json["uptime_seconds"].as_f64().unwrap();
    assert!(
        (0.0..=runtime.uptime().as_secs_f64()).contains(&uptime),
        "the uptime so far: {uptime}"
    );
    let timestamp = json["timestamp"].as_str().unwrap();
    assert!(
        timestamp.ends_with('Z') && timestamp.contains('T'),
        "{timestamp}"
    );

    let disk = &json["metrics"]["disk"];
    assert_eq!(disk["name"], "disk");
    assert_eq!(disk["status"], "warning");
    assert_eq!(disk["value"], 85.0);
    assert_eq!(disk["threshold"], 90.0);
    assert_eq!(disk["message"], "85 % used");
    assert_eq!(disk["consecutive_failures"], 1);
    assert_eq!(disk["groups"], serde_json::json!(["readiness"]));
    assert_eq!(disk["service"], "storage");
    assert!(disk["last_updated"].is_string());
    assert!(disk["duration_ms"].is_number());
    assert!(disk["last_success"].is_null(), "a warning is not a success");

    let never = &json["metrics"]["never_run"];
    assert_eq!(never["status"], "unknown");
    assert!(never["last_updated"].is_null() && never["value"].is_null());

    let back: HealthReport = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back.overall_status, Status::Unknown);
    assert_eq!(back.metrics["disk"].status, Status::Warning);
    assert_eq!(serde_json::to_value(&back).unwrap(), json);
}
