use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status as GrpcStatus};

use crate::pb::report::v1::health_report_server::HealthReport as HealthReportRpc;
use crate::pb::report::v1::{
    CheckHistory as ProtoHistory, GetHealthHistoryRequest, GetHealthHistoryResponse,
    GetHealthReportRequest, GetHealthReportResponse, HealthMetric as ProtoMetric, HealthStatus,
    HealthTransition, WatchHealthReportRequest,
};
use crate::runtime::details::{self, Access};
use crate::{AwareHandle, HealthMetric, HealthReport, HealthRuntime, Status};

/// The `plugin.health.v1.HealthReport` service: the full report over gRPC.
///
/// Mount it with [`routes`](super::routes), or with [`report_server`](super::report_server).
///
/// # Details
///
/// The report follows the detail level ([`DetailSettings`](crate::config::DetailSettings)), as
/// every HTTP surface does: `always` shows every check's message, value and threshold;
/// `when-authorized` shows them to requests with `authorization: Bearer <PLUGIN_HEALTH_AUTH_TOKEN>`
/// metadata (compared in constant time); `never` to no one. A request without details is not
/// refused: it gets the report with statuses only (every `message` empty, no `value` or
/// `threshold`), so go-plugin hosts and dashboards that read statuses keep working without a
/// token, and the response carries [`WITHHELD_METADATA`](super::WITHHELD_METADATA) saying what
/// to send.
///
/// `GetHealthHistory` answers each check's kept transitions ([`history`](crate::history)) and
/// its uptime over the last hour and day, with messages and values only with details.
/// `WatchHealthReport` streams the full report, then every change of a check's status, message
/// or value as the runtime publishes it ([`ReportStream`]).
#[derive(Debug, Clone)]
pub struct HealthReportService {
    runtime: HealthRuntime,
    /// Only these checks, for a `HealthAware` handler's own report.
    only: Option<std::sync::Arc<[String]>>,
}

impl HealthReportService {
    /// The service of `runtime`: every check.
    pub fn new(runtime: HealthRuntime) -> Self {
        HealthReportService {
            runtime,
            only: None,
        }
    }

    /// The service of one [`HealthAware`](crate::HealthAware) handler: its own checks only, as
    /// [`AwareHandle::report`](crate::AwareHandle::report) reports them.
    pub fn for_handler(handle: &AwareHandle) -> Self {
        HealthReportService {
            runtime: handle.runtime().clone(),
            only: Some(handle.names_shared()),
        }
    }
}

impl HealthReportService {
    fn access<T>(&self, request: &Request<T>, surface: &'static str) -> Access {
        details::access(
            &self.runtime.config().details,
            request
                .metadata()
                .get("authorization")
                .map(|value| value.as_bytes()),
            surface,
        )
    }

    fn shows(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|names| names.iter().any(|wanted| wanted == name))
    }
}

/// Marks `response` as answered without details, saying why.
fn mark_withheld<T>(response: &mut Response<T>, access: Access) {
    if let Access::StatusesOnly(withheld) = access {
        response.metadata_mut().insert(
            super::WITHHELD_METADATA,
            MetadataValue::from_static(withheld.hint()),
        );
    }
}

#[tonic::async_trait]
impl HealthReportRpc for HealthReportService {
    async fn get_health_report(
        &self,
        request: Request<GetHealthReportRequest>,
    ) -> Result<Response<GetHealthReportResponse>, GrpcStatus> {
        let access = self.access(&request, "grpc report");
        let report = match &self.only {
            Some(names) => crate::runtime::aware::report_of(&self.runtime, names).await,
            None => self.runtime.report().await,
        };
        let report = match access {
            Access::Details => report,
            Access::StatusesOnly(_) => report.without_details(),
        };
        let mut response = to_proto(&report).map(Response::new).map_err(|problem| {
            tracing::error!(%problem, "health report not converted");
            GrpcStatus::internal(format!("the health report could not be encoded: {problem}"))
        })?;
        mark_withheld(&mut response, access);
        Ok(response)
    }

    async fn get_health_history(
        &self,
        request: Request<GetHealthHistoryRequest>,
    ) -> Result<Response<GetHealthHistoryResponse>, GrpcStatus> {
        let access = self.access(&request, "grpc history");
        let check = &request.get_ref().check;
        let snapshot = self.runtime.snapshot();
        let names: Vec<&str> = snapshot
            .checks()
            .map(|check| check.info().name())
            .filter(|name| self.shows(name))
            .filter(|name| check.is_empty() || name == check)
            .collect();
        if !check.is_empty() && names.is_empty() {
            return Err(GrpcStatus::not_found(format!(
                "no check named `{}`",
                check.escape_debug()
            )));
        }
        let history = crate::history::of(&self.runtime).report(names, access.shows_details());
        let mut response = Response::new(history_to_proto(&history));
        mark_withheld(&mut response, access);
        Ok(response)
    }

    type WatchHealthReportStream = ReportStream;

    async fn watch_health_report(
        &self,
        request: Request<WatchHealthReportRequest>,
    ) -> Result<Response<ReportStream>, GrpcStatus> {
        let access = self.access(&request, "grpc report watch");
        // Subscribed before the report is taken: nothing published after it is missed.
        let (updates, events) = (self.runtime.subscribe(), self.runtime.events());
        match &self.only {
            Some(names) => {
                self.runtime
                    .refresh(|info| names.iter().any(|name| name == info.name()))
                    .await;
            }
            None => self.runtime.refresh(|_| true).await,
        }
        let stream = super::watch_report::stream(super::watch_report::Start {
            updates,
            events,
            snapshot: self.runtime.snapshot(),
            uptime: self.runtime.uptime(),
            version: self.runtime.version().to_owned(),
            details: access.shows_details(),
            only: self.only.clone(),
        })
        .map_err(|problem| {
            tracing::error!(%problem, "health report not converted");
            GrpcStatus::internal(format!("the health report could not be encoded: {problem}"))
        })?;
        let mut response = Response::new(stream);
        mark_withheld(&mut response, access);
        Ok(response)
    }
}

/// The stream of a `WatchHealthReport` call.
pub type ReportStream = std::pin::Pin<
    Box<
        dyn futures::Stream<
                Item = Result<crate::pb::report::v1::WatchHealthReportResponse, GrpcStatus>,
            > + Send,
    >,
>;

fn history_to_proto(history: &crate::history::HistoryReport) -> GetHealthHistoryResponse {
    GetHealthHistoryResponse {
        timestamp: Some(history.timestamp.into()),
        details: history.details,
        checks: history
            .checks
            .iter()
            .map(|(name, check)| {
                let transitions = check
                    .transitions
                    .iter()
                    .map(|transition| {
                        let details = transition.details.as_ref();
                        HealthTransition {
                            at: Some(transition.at.into()),
                            from_status: status(transition.from).into(),
                            to_status: status(transition.to).into(),
                            message: details
                                .and_then(|details| details.message.clone())
                                .unwrap_or_default(),
                            value: details.and_then(|details| details.value),
                            duration: std::time::Duration::try_from_secs_f64(
                                transition.duration_ms / 1000.0,
                            )
                            .ok()
                            .and_then(|duration| prost_types::Duration::try_from(duration).ok()),
                        }
                    })
                    .collect();
                (
                    name.clone(),
                    ProtoHistory {
                        transitions,
                        uptime: check
                            .uptime
                            .iter()
                            .filter_map(|(window, ratio)| Some(((*window).to_owned(), (*ratio)?)))
                            .collect(),
                    },
                )
            })
            .collect(),
    }
}

pub(super) fn to_proto(report: &HealthReport) -> Result<GetHealthReportResponse, String> {
    Ok(GetHealthReportResponse {
        overall_status: status(report.overall_status).into(),
        uptime_seconds: report.uptime_seconds,
        timestamp: Some(report.timestamp.into()),
        version: report.version.clone(),
        metrics: report
            .metrics
            .iter()
            .map(|(name, metric)| Ok((name.clone(), metric_to_proto(metric)?)))
            .collect::<Result<_, String>>()?,
    })
}

pub(super) fn metric_to_proto(metric: &HealthMetric) -> Result<ProtoMetric, String> {
    let duration = metric
        .duration_ms
        .map(|ms| {
            std::time::Duration::try_from_secs_f64(ms / 1000.0)
                .map_err(|error| error.to_string())
                .and_then(|duration| {
                    prost_types::Duration::try_from(duration).map_err(|error| error.to_string())
                })
        })
        .transpose()
        .map_err(|problem| format!("duration of `{}`: {problem}", metric.name))?;
    Ok(ProtoMetric {
        name: metric.name.clone(),
        value: metric.value,
        status: status(metric.status).into(),
        message: metric.message.clone(),
        threshold: metric.threshold,
        last_updated: metric.last_updated.map(Into::into),
        duration,
        last_success: metric.last_success.map(Into::into),
        consecutive_failures: metric.consecutive_failures,
        groups: metric.groups.iter().map(ToString::to_string).collect(),
        service: metric.service.clone().unwrap_or_default(),
        informational: metric.informational,
    })
}

pub(super) fn status(status: Status) -> HealthStatus {
    match status {
        Status::Unknown => HealthStatus::Unknown,
        Status::Healthy => HealthStatus::Healthy,
        Status::Warning => HealthStatus::Warning,
        Status::Critical => HealthStatus::Critical,
    }
}
