//! One notification and its bodies: the generic JSON payload and a Slack message.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::policy::{Flapping, Kind};
use super::settings::Format;
use crate::{Group, Status};

/// The service notifications are about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Service {
    pub(crate) name: String,
    pub(crate) version: String,
}

/// One notification, the same for every target; each renders it in its format.
#[derive(Debug, Clone)]
pub(crate) struct Notification {
    pub(crate) id: String,
    pub(crate) kind: Kind,
    pub(crate) check: Arc<str>,
    pub(crate) status: Status,
    pub(crate) previous_status: Status,
    /// Message, value and threshold, when details are sent.
    pub(crate) details: Option<Details>,
    pub(crate) groups: Vec<Group>,
    pub(crate) at: SystemTime,
    pub(crate) duration: Duration,
    pub(crate) overall_status: Status,
    pub(crate) service: Arc<Service>,
}

/// What a notification carries with details.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Details {
    pub(crate) message: Option<String>,
    pub(crate) value: Option<f64>,
    pub(crate) threshold: Option<f64>,
}

#[derive(Serialize)]
struct Json<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    check: &'a str,
    status: Status,
    previous_status: Status,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    details: Option<&'a Details>,
    groups: &'a [Group],
    #[serde(with = "crate::state::timefmt")]
    at: SystemTime,
    duration_ms: f64,
    overall_status: Status,
    service: &'a Service,
    #[serde(skip_serializing_if = "Option::is_none")]
    flapping: Option<FlapJson<'a>>,
}

#[derive(Serialize)]
struct FlapJson<'a> {
    transitions: usize,
    window_s: u64,
    statuses: &'a [Status],
}

impl Notification {
    /// The payload's `type`.
    pub(crate) fn kind_word(&self) -> &'static str {
        match self.kind {
            Kind::Transition => "transition",
            Kind::Restored => "restored",
            Kind::Flapping(_) => "flapping",
        }
    }

    fn flapping(&self) -> Option<&Flapping> {
        match &self.kind {
            Kind::Flapping(flapping) => Some(flapping),
            _ => None,
        }
    }

    /// The body in `format`.
    pub(crate) fn body(&self, format: Format) -> Result<Vec<u8>, serde_json::Error> {
        match format {
            Format::Json => serde_json::to_vec(&self.json()),
            Format::Slack => serde_json::to_vec(&self.slack()),
        }
    }

    fn json(&self) -> Json<'_> {
        Json {
            id: &self.id,
            kind: self.kind_word(),
            check: &self.check,
            status: self.status,
            previous_status: self.previous_status,
            details: self.details.as_ref(),
            groups: &self.groups,
            at: self.at,
            duration_ms: self.duration.as_secs_f64() * 1000.0,
            overall_status: self.overall_status,
            service: &self.service,
            flapping: self.flapping().map(|flapping| FlapJson {
                transitions: flapping.transitions,
                window_s: flapping.window.as_secs(),
                statuses: &flapping.statuses,
            }),
        }
    }

    /// One line saying what happened, in plain text.
    fn headline(&self) -> String {
        let check = &*self.check;
        match &self.kind {
            Kind::Transition => {
                format!("{check} is {} (was {})", self.status, self.previous_status)
            }
            Kind::Restored => format!(
                "{check} is restored: {} (was {})",
                self.status, self.previous_status
            ),
            Kind::Flapping(flapping) => format!(
                "{check} is flapping: {} transitions in {} ({}), now {}",
                flapping.transitions,
                humantime::format_duration(flapping.window),
                join(&flapping.statuses),
                self.status
            ),
        }
    }

    /// A Slack incoming webhook message: the headline as `text` (what notifications show), and
    /// blocks with the headline, the details and the service.
    fn slack(&self) -> serde_json::Value {
        let check = escape(&self.check);
        let status = self.status;
        let summary = match &self.kind {
            Kind::Transition => format!("*{check}* is *{status}* (was {})", self.previous_status),
            Kind::Restored => format!(
                "*{check}* is restored: *{status}* (was {})",
                self.previous_status
            ),
            Kind::Flapping(flapping) => format!(
                "*{check}* is flapping: {} transitions in {} ({}), now *{status}*",
                flapping.transitions,
                humantime::format_duration(flapping.window),
                join(&flapping.statuses),
            ),
        };
        let mut blocks = vec![section(summary)];
        if let Some(details) = &self.details {
            let mut text = String::new();
            if let Some(message) = &details.message {
                text.push_str(&escape(message));
            }
            for (what, figure) in [("value", details.value), ("threshold", details.threshold)] {
                if let Some(figure) = figure {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    let _ = write!(text, "{what}: {figure}");
                }
            }
            if !text.is_empty() {
                blocks.push(section(text));
            }
        }
        let context = format!(
            "{} {} · overall {} · {}",
            escape(&self.service.name),
            escape(&self.service.version),
            self.overall_status,
            humantime::format_rfc3339_millis(self.at),
        );
        blocks.push(serde_json::json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": context }],
        }));
        serde_json::json!({ "text": self.headline(), "blocks": blocks })
    }
}

fn section(text: String) -> serde_json::Value {
    serde_json::json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

fn join(statuses: &[Status]) -> String {
    let words: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
    words.join(", ")
}

/// Slack's mrkdwn escapes: `&`, `<` and `>` are control characters there.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(kind: Kind, details: bool) -> Notification {
        Notification {
            id: "0b6f1e4a-5c1d-4f7a-9d2e-3b8c7a6f5e4d".to_owned(),
            kind,
            check: "kv_store".into(),
            status: Status::Warning,
            previous_status: Status::Healthy,
            details: details.then(|| Details {
                message: Some("disk <93.1%> & rising".to_owned()),
                value: Some(93.1),
                threshold: Some(90.0),
            }),
            groups: vec![Group::Readiness],
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_151_600_123),
            duration: Duration::from_micros(1200),
            overall_status: Status::Warning,
            service: Arc::new(Service {
                name: "plugin_server".to_owned(),
                version: "0.1.0".to_owned(),
            }),
        }
    }

    #[test]
    fn the_json_payload() {
        let body = sample(Kind::Transition, true).body(Format::Json).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": "0b6f1e4a-5c1d-4f7a-9d2e-3b8c7a6f5e4d",
                "type": "transition",
                "check": "kv_store",
                "status": "warning",
                "previous_status": "healthy",
                "message": "disk <93.1%> & rising",
                "value": 93.1,
                "threshold": 90.0,
                "groups": ["readiness"],
                "at": "2026-12-01T19:00:00.123Z",
                "duration_ms": 1.2,
                "overall_status": "warning",
                "service": { "name": "plugin_server", "version": "0.1.0" },
            })
        );
    }

    #[test]
    fn without_details_and_flapping() {
        let flapping = Kind::Flapping(Flapping {
            transitions: 10,
            statuses: vec![Status::Healthy, Status::Critical],
            window: Duration::from_secs(300),
        });
        let body = sample(flapping, false).body(Format::Json).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for absent in ["message", "value", "threshold"] {
            assert!(json.get(absent).is_none(), "{json}");
        }
        assert_eq!(json["type"], "flapping");
        assert_eq!(
            json["flapping"],
            serde_json::json!({ "transitions": 10, "window_s": 300, "statuses": ["healthy", "critical"] })
        );
    }

    #[test]
    fn the_slack_message_escapes_mrkdwn() {
        let body = sample(Kind::Transition, true).body(Format::Slack).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["text"], "kv_store is warning (was healthy)");
        assert_eq!(json["blocks"][0]["type"], "section");
        assert_eq!(json["blocks"][0]["text"]["type"], "mrkdwn");
        let details = json["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(
            details.contains("disk &lt;93.1%&gt; &amp; rising"),
            "{details}"
        );
        assert_eq!(json["blocks"][2]["type"], "context");
    }
}
