//! [`RequestIndicators`]: the `request_success_rate`, `avg_response_time` and
//! `p99_response_time` checks, graded from a [`RequestStats`] window.

use std::sync::Arc;
use std::time::Duration;

use humantime::FormattedDuration;

use super::stats::RequestStats;
use super::window::RequestSummary;
use crate::indicator::Gating;
use crate::{Check, CheckOutcome, HealthConfig, Status};

/// The fewest answered requests `p99_response_time` is graded on.
const P99_MIN_REQUESTS: u64 = 100;

/// The names of the three request checks.
pub const REQUEST_CHECK_NAMES: [&str; 3] = [
    "request_success_rate",
    "avg_response_time",
    "p99_response_time",
];

/// The checks reading a [`RequestStats`]: `request_success_rate` (percent), `avg_response_time`
/// and `p99_response_time` (milliseconds), over its window.
///
/// | metric | warning | critical | threshold shown |
/// |---|---|---|---|
/// | `request_success_rate` | below 98 % | below 95 % | 95 |
/// | `avg_response_time` | above 2000 ms | above 5000 ms | 5000 |
/// | `p99_response_time` | above 2000 ms | above 5000 ms | 5000 |
///
/// With fewer than [`min_requests`](Self::min_requests) requests in the window (default 20;
/// `p99_response_time` needs at least 100 answered ones)
/// the metrics are healthy and say so: one failed request of two is not an outage. The checks
/// run every 5 s by default ([`interval`](Self::interval)); they only read the window. Clients
/// shape these figures, so by default they only inform: they show with their grades everywhere,
/// but no probe group, `""`, `plugin`, `/health` or health file turns not serving because of
/// them, unless [`groups`](Self::groups), [`service`](Self::service) or
/// [`informational(false)`](Self::informational) opts them in. `PLUGIN_HEALTH_REQUEST_METRICS=false`
/// leaves them out (the layer still records).
///
/// ```
/// use std::time::Duration;
/// use health_runtime::HealthRuntime;
/// use health_runtime::indicator::RequestStats;
///
/// let stats = RequestStats::new();
/// let runtime = HealthRuntime::builder()
///     .with_checks(
///         stats
///             .indicators()
///             .success_rate_levels(99.0, 97.0)
///             .response_time_levels(Duration::from_millis(500), Duration::from_secs(1)),
///     )
///     .build()?;
/// # Ok::<(), health_runtime::runtime::BuildError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RequestIndicators {
    stats: RequestStats,
    success_warning: f64,
    success_critical: f64,
    time_warning: Duration,
    time_critical: Duration,
    p99_warning: Duration,
    p99_critical: Duration,
    min_requests: u64,
    interval: Duration,
    gating: Gating,
}

impl From<&RequestStats> for RequestIndicators {
    fn from(stats: &RequestStats) -> Self {
        RequestIndicators::new(stats)
    }
}

impl From<RequestStats> for RequestIndicators {
    fn from(stats: RequestStats) -> Self {
        RequestIndicators::new(&stats)
    }
}

impl RequestIndicators {
    /// The metrics of `stats` with the default levels.
    pub fn new(stats: &RequestStats) -> Self {
        RequestIndicators {
            stats: stats.clone(),
            success_warning: 98.0,
            success_critical: 95.0,
            time_warning: Duration::from_millis(2000),
            time_critical: Duration::from_millis(5000),
            p99_warning: Duration::from_millis(2000),
            p99_critical: Duration::from_millis(5000),
            min_requests: 20,
            interval: Duration::from_secs(5),
            gating: Gating::default(),
        }
    }

    /// `request_success_rate` is a warning below `warning` percent and critical below
    /// `critical` (default 98 and 95).
    pub fn success_rate_levels(mut self, warning: f64, critical: f64) -> Self {
        self.success_warning = warning;
        self.success_critical = critical;
        self
    }

    /// `avg_response_time` and `p99_response_time` are warnings above `warning` and critical
    /// above `critical` (default 2 s and 5 s).
    pub fn response_time_levels(mut self, warning: Duration, critical: Duration) -> Self {
        self.time_warning = warning;
        self.time_critical = critical;
        self.p99_warning = warning;
        self.p99_critical = critical;
        self
    }

    /// Levels for `p99_response_time` alone (default: those of the average).
    pub fn p99_levels(mut self, warning: Duration, critical: Duration) -> Self {
        self.p99_warning = warning;
        self.p99_critical = critical;
        self
    }

    /// How many requests the window needs before the metrics are graded (default 20), so that a
    /// handful of calls cannot swing them.
    pub fn min_requests(mut self, requests: u64) -> Self {
        self.min_requests = requests;
        self
    }

    /// How often the checks re-read the window for the published state (default 5 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    super::super::gating_setters!();

    /// The three checks; none when `config.requests.enabled` is off.
    /// [`HealthRuntimeBuilder::with_checks`](crate::HealthRuntimeBuilder::with_checks) calls it;
    /// call it yourself to register them on a running runtime.
    pub fn checks(self, config: &HealthConfig) -> Vec<Check> {
        if !config.requests.enabled {
            return Vec::new();
        }
        let metrics = Arc::new(self);
        [Metric::SuccessRate, Metric::Average, Metric::P99]
            .into_iter()
            .map(|metric| {
                let settings = metrics.clone();
                let check = Check::new(REQUEST_CHECK_NAMES[metric as usize], move || {
                    std::future::ready(settings.grade(metric))
                })
                .interval(metrics.interval);
                metrics.gating.apply(check)
            })
            .collect()
    }

    fn grade(&self, metric: Metric) -> CheckOutcome {
        let summary = self.stats.summary();
        let window = humantime::format_duration(summary.window());
        let graded = match metric {
            Metric::SuccessRate => self.grade_success_rate(&summary, &window),
            Metric::Average | Metric::P99 => self.grade_latency(metric, &summary, &window),
        };
        // A 99th percentile of fewer than 100 latencies is the slowest one: one call would
        // decide it.
        let (counted, needed) = match metric {
            Metric::SuccessRate => (summary.requests(), self.min_requests),
            Metric::Average => (summary.answered(), self.min_requests),
            Metric::P99 => (summary.answered(), self.min_requests.max(P99_MIN_REQUESTS)),
        };
        if counted < needed {
            return CheckOutcome::healthy()
                .with_value(graded.value)
                .with_threshold(graded.threshold)
                .with_message(format!(
                    "{counted} requests in the last {window}; not graded below {needed}"
                ));
        }
        CheckOutcome::new(graded.status)
            .with_value(graded.value)
            .with_threshold(graded.threshold)
            .with_message(graded.message)
    }

    fn grade_success_rate(&self, summary: &RequestSummary, window: &FormattedDuration) -> Graded {
        let rate = summary.success_rate().unwrap_or(100.0);
        let status = if rate < self.success_critical {
            Status::Critical
        } else if rate < self.success_warning {
            Status::Warning
        } else {
            Status::Healthy
        };
        let message = format!(
            "{rate:.1} % of {} requests in the last {window} served without a server failure, {} of them ended by the client (warning below {} %, critical below {} %)",
            summary.requests(),
            summary.client_errors(),
            self.success_warning,
            self.success_critical
        );
        Graded {
            threshold: self.success_critical,
            status,
            value: rate,
            message,
        }
    }

    fn grade_latency(
        &self,
        metric: Metric,
        summary: &RequestSummary,
        window: &FormattedDuration,
    ) -> Graded {
        let (label, latency, warning, critical) = if matches!(metric, Metric::Average) {
            (
                "average",
                summary.average(),
                self.time_warning,
                self.time_critical,
            )
        } else {
            (
                "99th percentile",
                summary.percentile(0.99),
                self.p99_warning,
                self.p99_critical,
            )
        };
        let millis = latency.unwrap_or_default().as_secs_f64() * 1000.0;
        let status = if latency > Some(critical) {
            Status::Critical
        } else if latency > Some(warning) {
            Status::Warning
        } else {
            Status::Healthy
        };
        let message = format!(
            "{label} response time {millis:.1} ms over {} requests in the last {window} (warning above {} ms, critical above {} ms)",
            summary.requests(),
            warning.as_millis(),
            critical.as_millis()
        );
        Graded {
            threshold: critical.as_secs_f64() * 1000.0,
            status,
            value: millis,
            message,
        }
    }
}

impl crate::CheckSource for RequestIndicators {
    fn checks(self, config: &HealthConfig) -> Vec<Check> {
        RequestIndicators::checks(self, config)
    }
}

impl crate::CheckSource for RequestStats {
    fn checks(self, config: &HealthConfig) -> Vec<Check> {
        RequestIndicators::from(&self).checks(config)
    }
}

/// One metric graded, before the check for too few requests.
struct Graded {
    threshold: f64,
    status: Status,
    value: f64,
    message: String,
}

#[derive(Debug, Clone, Copy)]
enum Metric {
    SuccessRate,
    Average,
    P99,
}
