//! The published state in `application/health+json`, the format of
//! [draft-inadarei-api-health-check-06][draft]: a probe's answer or the report as the draft's
//! document, with the checks' messages and values only where details may show. The HTTP surface
//! that serves it documents the fields.
//!
//! [draft]: https://datatracker.ietf.org/doc/html/draft-inadarei-api-health-check-06

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::Status;
use crate::state::report::{HealthMetric, HealthReport};

/// The media type of the format.
pub(crate) const MEDIA_TYPE: &str = "application/health+json";

/// A health check response in `application/health+json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HealthJson {
    status: HealthStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    release_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    checks: BTreeMap<String, Vec<Component>>,
}

/// The draft's three status words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HealthStatus {
    /// Healthy.
    Pass,
    /// Healthy, with some concerns.
    Warn,
    /// Unhealthy.
    Fail,
}

impl HealthStatus {
    /// A check's status: only `Healthy` passes and only `Warning` warns; `Critical` and
    /// `Unknown` (no result) fail, as they do not serve.
    fn of(status: Status) -> Self {
        match status {
            Status::Healthy => HealthStatus::Pass,
            Status::Warning => HealthStatus::Warn,
            Status::Critical | Status::Unknown => HealthStatus::Fail,
        }
    }
}

/// One object of a `checks` array: a "component details" object of the draft.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Component {
    #[serde(skip_serializing_if = "Option::is_none")]
    component_id: Option<String>,
    component_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_unit: Option<&'static str>,
    status: HealthStatus,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::state::timefmt::option"
    )]
    time: Option<SystemTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
}

/// Who the document is about.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    /// The version given to the builder.
    pub(crate) release: &'a str,
    /// The name of the service, if known.
    pub(crate) service: Option<&'a str>,
}

/// What keeps an answer from serving beside its checks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Hold {
    /// The runtime is shutting down.
    pub(crate) draining: bool,
    /// The application's runtime has run nothing for this long (the probe port's stall).
    pub(crate) stalled: Option<Duration>,
}

/// How a check shows: the component of its key and the measurement, its `componentType`, the
/// unit of its value, and whether its run time is a measurement of its own.
struct Shape<'a> {
    component: &'a str,
    measurement: &'static str,
    component_type: &'static str,
    unit: Option<&'static str>,
    timed: bool,
}

/// The built-in indicators by name, as the core names no indicator (tests/tests/health_json.rs
/// holds these names to the indicators' own); a check of one's own of such a name shows alike.
fn shape(name: &str) -> Shape<'_> {
    let system = |component| Shape {
        component,
        measurement: "utilization",
        component_type: "system",
        unit: Some("percent"),
        timed: false,
    };
    let request = |unit| Shape {
        component: name,
        measurement: "status",
        component_type: "component",
        unit: Some(unit),
        timed: false,
    };
    match name {
        "cpu_usage" => system("cpu"),
        "memory_usage" => system("memory"),
        "disk_usage" => system("disk"),
        "request_success_rate" => request("percent"),
        "avg_response_time" | "p99_response_time" => request("ms"),
        _ => Shape {
            component: name,
            measurement: "status",
            component_type: "component",
            unit: None,
            timed: true,
        },
    }
}

impl HealthJson {
    /// The answer of a probe that serves or not (`serving`, the HTTP status's verdict) for the
    /// checks behind it; their messages and values only with `details`.
    pub(crate) fn new(
        subject: Subject<'_>,
        serving: bool,
        hold: Hold,
        metrics: impl IntoIterator<Item = HealthMetric>,
        details: bool,
    ) -> Self {
        let metrics: Vec<HealthMetric> = metrics.into_iter().collect();
        let status = if !serving {
            HealthStatus::Fail
        } else if metrics.iter().all(|m| m.status == Status::Healthy) {
            HealthStatus::Pass
        } else {
            HealthStatus::Warn
        };
        let output = (status != HealthStatus::Pass).then(|| output(hold, &metrics));
        let mut checks = BTreeMap::<String, Vec<Component>>::new();
        for metric in metrics {
            for (key, component) in components(metric, details) {
                checks.entry(key).or_default().push(component);
            }
        }
        HealthJson {
            status,
            version: major(subject.release).map(str::to_owned),
            release_id: (!subject.release.is_empty()).then(|| subject.release.to_owned()),
            service_id: subject.service.map(str::to_owned),
            description: subject.service.map(|name| format!("health of {name}")),
            output,
            checks,
        }
    }

    /// The report: every check with details, and the uptime; `fail` when the overall status
    /// does not serve or the runtime is shutting down, like `/health`.
    pub(crate) fn from_report(report: &HealthReport, subject: Subject<'_>, draining: bool) -> Self {
        let serving = report.overall_status.is_serving() && !draining;
        let hold = Hold {
            draining,
            stalled: None,
        };
        let mut document = Self::new(
            subject,
            serving,
            hold,
            report.metrics.values().cloned(),
            true,
        );
        document.checks.insert(
            "uptime".to_owned(),
            vec![Component {
                component_id: None,
                component_type: "system",
                observed_value: Some(report.uptime_seconds),
                observed_unit: Some("s"),
                status: HealthStatus::Pass,
                time: Some(report.timestamp),
                output: None,
            }],
        );
        document
    }

    /// The answer to a request refused for want of details: the draft has no error form, and
    /// its `fail` is the only status a 4xx answer may carry, so `fail` with what to send.
    pub(crate) fn refused(hint: &str) -> Self {
        HealthJson {
            status: HealthStatus::Fail,
            version: None,
            release_id: None,
            service_id: None,
            description: None,
            output: Some(hint.to_owned()),
            checks: BTreeMap::new(),
        }
    }

    /// The document's status.
    #[cfg(test)]
    pub(crate) fn status(&self) -> HealthStatus {
        self.status
    }
}

/// The `checks` entries of one check.
fn components(metric: HealthMetric, details: bool) -> Vec<(String, Component)> {
    let shape = shape(&metric.name);
    let status = HealthStatus::of(metric.status);
    let timing = (details && shape.timed)
        .then_some(metric.duration_ms)
        .flatten()
        .map(|ms| Component {
            component_id: Some(metric.name.clone()),
            component_type: shape.component_type,
            observed_value: Some(ms),
            observed_unit: Some("ms"),
            status,
            time: metric.last_updated,
            output: None,
        });
    let value = metric.value.filter(|_| details);
    let main = Component {
        component_id: Some(metric.name.clone()),
        component_type: shape.component_type,
        observed_value: value,
        observed_unit: value.and(shape.unit),
        status,
        time: metric.last_updated,
        output: Some(metric.message)
            .filter(|message| details && status != HealthStatus::Pass && !message.is_empty()),
    };
    let mut entries = vec![(format!("{}:{}", shape.component, shape.measurement), main)];
    if let Some(timing) = timing {
        entries.push((format!("{}:responseTime", metric.name), timing));
    }
    entries
}

/// The top-level `output` of a `warn` or `fail`: what holds the answer back and which checks do
/// not pass, never a check's message (that is a detail).
fn output(hold: Hold, metrics: &[HealthMetric]) -> String {
    let mut reasons = Vec::new();
    if hold.draining {
        reasons.push("shutting down".to_owned());
    }
    if let Some(stalled) = hold.stalled {
        reasons.push(format!(
            "the application's runtime has run nothing for {:.0} s",
            stalled.as_secs_f64()
        ));
    }
    for metric in metrics.iter().filter(|m| m.status != Status::Healthy) {
        reasons.push(format!("{} is {}", metric.name, metric.status.as_str()));
    }
    if reasons.is_empty() {
        reasons.push("not serving".to_owned());
    }
    reasons.join("; ")
}

/// The major part of a release, `1` of `1.4.2` or `v1.4`; `None` when it does not start with
/// one.
fn major(release: &str) -> Option<&str> {
    let release = release.strip_prefix(['v', 'V']).unwrap_or(release);
    let major = release.split(['.', '-', '+']).next()?;
    (!major.is_empty() && major.bytes().all(|byte| byte.is_ascii_digit())).then_some(major)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const SUBJECT: Subject<'static> = Subject {
        release: "1.4.2",
        service: Some("kv_server"),
    };

    fn metric(name: &str, status: Status, value: Option<f64>, message: &str) -> HealthMetric {
        HealthMetric {
            name: name.to_owned(),
            status,
            value,
            threshold: None,
            message: message.to_owned(),
            last_updated: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
            duration_ms: Some(1.5),
            last_success: None,
            consecutive_failures: 0,
            groups: Vec::new(),
            service: None,
            informational: false,
        }
    }

    fn json(document: &HealthJson) -> Value {
        serde_json::to_value(document).unwrap()
    }

    #[test]
    fn versions() {
        for (release, version) in [
            ("1.4.2", Some("1")),
            ("v2.0", Some("2")),
            ("10", Some("10")),
            ("0.0.0-rc.1", Some("0")),
            ("3+build", Some("3")),
            ("unknown", None),
            ("", None),
            ("v", None),
            ("1a.2", None),
        ] {
            assert_eq!(major(release), version, "{release:?}");
        }
        let document = HealthJson::new(
            Subject {
                release: "",
                service: None,
            },
            true,
            Hold::default(),
            [],
            false,
        );
        assert_eq!(json(&document), json!({ "status": "pass" }));
    }

    #[test]
    fn a_passing_document_with_details() {
        let document = HealthJson::new(
            SUBJECT,
            true,
            Hold::default(),
            [
                metric("kv_store", Status::Healthy, Some(12.0), "12 entries"),
                metric("cpu_usage", Status::Healthy, Some(3.5), "3.5 %"),
            ],
            true,
        );
        let time = "2027-01-15T08:00:00.000Z";
        assert_eq!(
            json(&document),
            json!({
                "status": "pass",
                "version": "1",
                "releaseId": "1.4.2",
                "serviceId": "kv_server",
                "description": "health of kv_server",
                "checks": {
                    "cpu:utilization": [{
                        "componentId": "cpu_usage", "componentType": "system",
                        "observedValue": 3.5, "observedUnit": "percent",
                        "status": "pass", "time": time,
                    }],
                    "kv_store:status": [{
                        "componentId": "kv_store", "componentType": "component",
                        "observedValue": 12.0, "status": "pass", "time": time,
                    }],
                    "kv_store:responseTime": [{
                        "componentId": "kv_store", "componentType": "component",
                        "observedValue": 1.5, "observedUnit": "ms",
                        "status": "pass", "time": time,
                    }],
                },
            })
        );
    }

    #[test]
    fn without_details_statuses_and_times_only() {
        let metrics = [
            metric("db", Status::Critical, Some(7.0), "connection refused"),
            metric("disk_usage", Status::Warning, Some(91.0), "91 % of / used"),
            metric("avg_response_time", Status::Unknown, None, ""),
        ];
        let document = HealthJson::new(SUBJECT, false, Hold::default(), metrics.clone(), false);
        let value = json(&document);
        assert_eq!(value["status"], "fail");
        assert_eq!(
            value["output"], "db is critical; disk_usage is warning; avg_response_time is unknown",
            "which checks do not pass, in the order given"
        );
        let checks = value["checks"].as_object().unwrap();
        let keys: Vec<&str> = checks.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["avg_response_time:status", "db:status", "disk:utilization"]
        );
        for entry in checks.values() {
            let [entry] = entry.as_array().unwrap().as_slice() else {
                panic!("one object per check: {entry}");
            };
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
                "{entry}"
            );
        }
        assert_eq!(checks["db:status"][0]["status"], "fail");
        assert_eq!(checks["disk:utilization"][0]["status"], "warn");
        assert_eq!(checks["avg_response_time:status"][0]["status"], "fail");
        for secret in ["connection refused", "91 %", "7.0"] {
            assert!(!value.to_string().contains(secret), "{secret}: {value}");
        }

        let detailed = json(&HealthJson::new(
            SUBJECT,
            false,
            Hold::default(),
            metrics,
            true,
        ));
        assert_eq!(
            detailed["output"], value["output"],
            "the top-level output holds no message"
        );
        assert_eq!(
            detailed["checks"]["db:status"][0]["output"],
            "connection refused"
        );
        assert_eq!(detailed["checks"]["db:status"][0]["observedValue"], 7.0);
        assert!(
            detailed["checks"]["db:status"][0]
                .get("observedUnit")
                .is_none(),
            "a value of the check's own has no unit"
        );
        assert_eq!(
            detailed["checks"]["disk:utilization"][0]["observedUnit"],
            "percent"
        );
        assert!(detailed["checks"].get("disk_usage:responseTime").is_none());
        assert!(
            detailed["checks"]
                .get("avg_response_time:responseTime")
                .is_none()
        );
        assert_eq!(detailed["checks"]["db:responseTime"][0]["status"], "fail");
    }

    #[test]
    fn serving_with_a_check_that_does_not_pass_warns() {
        let informs = metric("cpu_usage", Status::Critical, Some(99.0), "99 %");
        let document = HealthJson::new(SUBJECT, true, Hold::default(), [informs], false);
        assert_eq!(document.status(), HealthStatus::Warn);
        assert_eq!(json(&document)["output"], "cpu_usage is critical");

        let hold = Hold {
            draining: true,
            stalled: Some(Duration::from_secs(12)),
        };
        let ok = metric("db", Status::Healthy, None, "");
        let document = HealthJson::new(SUBJECT, false, hold, [ok], true);
        assert_eq!(document.status(), HealthStatus::Fail);
        assert_eq!(
            json(&document)["output"],
            "shutting down; the application's runtime has run nothing for 12 s"
        );
        assert!(
            json(&document)["checks"]["db:status"][0]
                .get("output")
                .is_none()
        );
    }

    #[test]
    fn a_check_named_like_a_component_keeps_a_key_of_its_own() {
        let document = HealthJson::new(
            SUBJECT,
            true,
            Hold::default(),
            [
                metric("disk_usage", Status::Healthy, Some(1.0), ""),
                metric("disk", Status::Healthy, None, ""),
            ],
            true,
        );
        let value = json(&document);
        assert_eq!(
            value["checks"]["disk:utilization"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(value["checks"]["disk:status"][0]["componentId"], "disk");
    }

    #[test]
    fn the_report_adds_uptime_and_fails_while_draining() {
        let report = HealthReport {
            overall_status: Status::Warning,
            timestamp: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            uptime_seconds: 42.5,
            version: "2.0.1".to_owned(),
            metrics: [("kv".to_owned(), metric("kv", Status::Warning, None, "slow"))].into(),
        };
        let subject = Subject {
            release: &report.version,
            service: None,
        };
        let value = json(&HealthJson::from_report(&report, subject, false));
        assert_eq!(value["status"], "warn");
        assert_eq!(value["version"], "2");
        assert_eq!(
            value["checks"]["uptime"],
            json!([{
                "componentType": "system", "observedValue": 42.5, "observedUnit": "s",
                "status": "pass", "time": "2027-01-15T08:00:00.000Z",
            }])
        );
        assert_eq!(value["checks"]["kv:status"][0]["output"], "slow");
        let draining = HealthJson::from_report(&report, subject, true);
        assert_eq!(draining.status(), HealthStatus::Fail);
        assert_eq!(json(&draining)["output"], "shutting down; kv is warning");
    }

    #[test]
    fn refused() {
        assert_eq!(
            json(&HealthJson::refused("send a token")),
            json!({ "status": "fail", "output": "send a token" })
        );
    }
}
