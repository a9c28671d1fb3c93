//! The detailed report: from its protobuf form to the library's [`HealthReport`] (so `--json`
//! prints exactly the JSON the HTTP endpoint and the library serve), and as a table.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use health_runtime::pb::report::v1 as proto;
use health_runtime::state::HealthMetric;
use health_runtime::{Group, HealthReport, Status};

use crate::style::Style;

/// The report in the library's shape. Fields a newer server may send that this client does not
/// know (a group name, a status number) are dropped or shown as `unknown`.
pub(crate) fn from_proto(response: proto::GetHealthReportResponse) -> HealthReport {
    HealthReport {
        overall_status: status(response.overall_status),
        timestamp: response
            .timestamp
            .and_then(time)
            .unwrap_or_else(SystemTime::now),
        uptime_seconds: response.uptime_seconds,
        version: response.version,
        metrics: response
            .metrics
            .into_iter()
            .map(|(name, metric)| (name, metric_from_proto(metric)))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// One check's entry in the library's shape; an empty `service` is none.
fn metric_from_proto(metric: proto::HealthMetric) -> HealthMetric {
    HealthMetric {
        status: status(metric.status),
        name: metric.name,
        value: metric.value,
        threshold: metric.threshold,
        message: metric.message,
        last_updated: metric.last_updated.and_then(time),
        duration_ms: metric
            .duration
            .and_then(|duration| Duration::try_from(duration).ok())
            .map(|duration| duration.as_secs_f64() * 1000.0),
        last_success: metric.last_success.and_then(time),
        consecutive_failures: metric.consecutive_failures,
        groups: metric
            .groups
            .iter()
            .filter_map(|group| group.parse::<Group>().ok())
            .collect(),
        service: Some(metric.service).filter(|service| !service.is_empty()),
        informational: metric.informational,
    }
}

/// The library status for a protobuf status number; unknown numbers are `unknown`.
fn status(value: i32) -> Status {
    match proto::HealthStatus::try_from(value) {
        Ok(proto::HealthStatus::Healthy) => Status::Healthy,
        Ok(proto::HealthStatus::Warning) => Status::Warning,
        Ok(proto::HealthStatus::Critical) => Status::Critical,
        Ok(proto::HealthStatus::Unknown) | Err(_) => Status::Unknown,
    }
}

/// A protobuf timestamp as a `SystemTime`, if it is a valid one.
fn time(timestamp: prost_types::Timestamp) -> Option<SystemTime> {
    SystemTime::try_from(timestamp).ok()
}

/// The report as a table: a summary line, then one row per check, sorted by name.
///
/// ```text
/// overall: warning   version 1.4.2   uptime 42s   at 2026-11-25T16:03:26.123Z
///
/// NAME      STATUS    VALUE / THRESHOLD  LAST RUN  MESSAGE
/// disk      warning   85.1 / 90          1s ago    85.1 % of /var/lib/app used
/// kv_store  healthy   0.42               1s ago
/// ```
pub(crate) fn table(report: &HealthReport, style: Style) -> String {
    let mut out = format!(
        "overall: {}   version {}   uptime {}   at {}\n",
        paint(style, report.overall_status, report.overall_status.as_str()),
        if report.version.is_empty() {
            "-"
        } else {
            &report.version
        },
        humantime::format_duration(crate::file::whole_seconds(report.uptime_seconds)),
        humantime::format_rfc3339_millis(report.timestamp),
    );
    if report.metrics.is_empty() {
        out.push_str("\nno checks registered\n");
        return out;
    }
    let rows: Vec<[String; 5]> = report
        .metrics
        .values()
        .map(|metric| {
            [
                metric.name.clone(),
                metric.status.as_str().to_owned(),
                value(metric),
                last_run(report.timestamp, metric.last_updated),
                if metric.informational {
                    // Its status does not count toward the overall one.
                    format!("(informational) {}", metric.message.replace('\n', " "))
                } else {
                    metric.message.replace('\n', " ")
                },
            ]
        })
        .collect();
    let headers = ["NAME", "STATUS", "VALUE / THRESHOLD", "LAST RUN", "MESSAGE"];
    let mut widths = headers.map(|header| header.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    out.push('\n');
    let header_line = join(&headers.map(str::to_owned), &widths);
    out.push_str(&style.header(&header_line));
    out.push('\n');
    for (row, metric) in rows.iter().zip(report.metrics.values()) {
        let mut cells = row.clone();
        // Pad before painting so that escape codes do not count toward the width.
        cells[1] = paint(
            style,
            metric.status,
            &format!("{:width$}", cells[1], width = widths[1]),
        );
        let mut line = join(&cells, &widths);
        line.truncate(line.trim_end().len());
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// One table line: cells padded to their column width, the last one as it is.
fn join(cells: &[String; 5], widths: &[usize; 5]) -> String {
    let mut line = String::new();
    for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
        if index > 0 {
            line.push_str("  ");
        }
        if index == cells.len() - 1 {
            line.push_str(cell);
        } else {
            let pad = width.saturating_sub(visible_len(cell));
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', pad));
        }
    }
    line
}

/// The width of `text` on screen, without ANSI escape sequences.
fn visible_len(text: &str) -> usize {
    let mut len = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => len += 1,
        }
    }
    len
}

/// `text` in the colour of `status`.
fn paint(style: Style, status: Status, text: &str) -> String {
    match status {
        Status::Healthy => style.good(text),
        Status::Warning => style.warn(text),
        Status::Critical => style.bad(text),
        Status::Unknown => style.unknown(text),
    }
}

/// The `VALUE / THRESHOLD` cell: `85.1 / 90`, `0.42`, or `-`.
fn value(metric: &HealthMetric) -> String {
    match (metric.value, metric.threshold) {
        (Some(value), Some(threshold)) => format!("{} / {}", number(value), number(threshold)),
        (Some(value), None) => number(value),
        (None, Some(threshold)) => format!("- / {}", number(threshold)),
        (None, None) => "-".to_owned(),
    }
}

/// At most two decimals, without trailing zeros: `85.1`, `90`, `0.42`.
fn number(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// How long before the report the check ran, by the server's clock: `3s ago`, `never`.
fn last_run(now: SystemTime, last: Option<SystemTime>) -> String {
    match last {
        None => "never".to_owned(),
        Some(last) => {
            let ago = now.duration_since(last).unwrap_or_default();
            if ago < Duration::from_secs(1) {
                "just now".to_owned()
            } else {
                format!(
                    "{} ago",
                    humantime::format_duration(Duration::from_secs(ago.as_secs()))
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(85.1), "85.1");
        assert_eq!(number(90.0), "90");
        assert_eq!(number(0.4231), "0.42");
        assert_eq!(number(-0.001), "0");
    }

    #[test]
    fn escape_codes_take_no_room() {
        assert_eq!(visible_len("\x1b[1;31mcritical\x1b[0m"), 8);
    }
}
