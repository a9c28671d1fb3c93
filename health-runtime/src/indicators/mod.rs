//! Built-in indicators: system resources, request statistics, and ready-made dependency checks.
//!
//! Every indicator is an ordinary [`Check`] whose run only reads the latest sample or the
//! request window, so it returns at once and shows up wherever checks do: the report, the gRPC
//! health names, the published snapshot. Add them with
//! [`HealthRuntimeBuilder::system_metrics`] and [`HealthRuntimeBuilder::request_stats`], or
//! build the checks yourself ([`SystemMetrics::checks`], [`RequestMetrics::checks`]) and
//! [`register`](crate::HealthRuntime::register) them on a running runtime.
//!
//! | metric | value | graded |
//! |---|---|---|
//! | `cpu_usage`, `memory_usage`, `disk_usage` | percent | warning above 80 % of the threshold, critical above it |
//! | `request_success_rate` | percent | warning below 98, critical below 95 |
//! | `avg_response_time`, `p99_response_time` | milliseconds | warning above 2000, critical above 5000 |
//!
//! The system and request indicators only inform by default
//! ([`Check::informational`]): they show in the report, the metrics and the published state with
//! their warning and critical grades, and answer under their own names, but they never restart a
//! pod, take it out of rotation or make `""`, `plugin`, `/health` or the health file say not
//! serving: the machine's load is not this process's fault, and clients shape the request
//! figures. Opt them in with `groups`, `service` or `informational(false)` on
//! [`SystemMetrics`] and [`RequestMetrics`].
//!
//! Configuration turns them off: `PLUGIN_RESOURCE_METRICS=false`,
//! `PLUGIN_HEALTH_REQUEST_METRICS=false` (see [`HealthConfig`]).
//!
//! [`HealthRuntimeBuilder::system_metrics`]: crate::HealthRuntimeBuilder::system_metrics
//! [`HealthRuntimeBuilder::request_stats`]: crate::HealthRuntimeBuilder::request_stats
//! [`HealthConfig`]: crate::HealthConfig

mod classify;
pub mod deps;
mod requests;
mod system;

pub use classify::RequestOutcome;
pub use requests::{
    REQUEST_METRIC_NAMES, RequestMetrics, RequestStats, RequestStatsLayer, RequestStatsService,
    RequestSummary, ResponseFuture, StatsBody, StatsRequestBody,
};
pub use system::{
    ProbeError, ResourceMonitor, ResourceReading, ResourceSample, ResourceSource,
    SYSTEM_METRIC_NAMES, SysinfoSource, SystemMetrics,
};

use crate::{Check, HealthConfig};

use crate::engine::panic_message;

/// What an indicator's checks gate: by default nothing but their own names (informational).
#[derive(Debug, Clone)]
pub(crate) struct Gating {
    pub(crate) groups: Vec<crate::Group>,
    pub(crate) service: Option<String>,
    pub(crate) informational: bool,
}

impl Default for Gating {
    fn default() -> Self {
        Gating {
            groups: Vec::new(),
            service: None,
            informational: true,
        }
    }
}

impl Gating {
    /// `check` with these settings.
    pub(crate) fn apply(&self, check: Check) -> Check {
        let check = check
            .groups(self.groups.clone())
            .informational(self.informational);
        match &self.service {
            Some(service) => check.service(service.clone()),
            None => check,
        }
    }
}

impl crate::CheckSource for SystemMetrics {
    fn checks(self, config: &HealthConfig) -> Vec<Check> {
        SystemMetrics::checks(self, config)
    }
}

impl crate::CheckSource for RequestMetrics {
    fn checks(self, config: &HealthConfig) -> Vec<Check> {
        RequestMetrics::checks(self, config)
    }
}

impl crate::CheckSource for RequestStats {
    fn checks(self, config: &HealthConfig) -> Vec<Check> {
        RequestMetrics::from(&self).checks(config)
    }
}
