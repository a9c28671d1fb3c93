//! An OTLP receiver for the OTel tests, on 127.0.0.1: the protocol's own gRPC services
//! (`opentelemetry-proto`'s `MetricsService`, `LogsService`, `TraceService`) or OTLP/HTTP
//! (`/v1/metrics`, `/v1/logs`, `/v1/traces`, protobuf bodies), keeping every export it gets, with
//! readers for what the tests look at. Included by the `otel*.rs` test files with `#[path]`.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric, number_data_point};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;

/// Everything received so far, in arrival order.
#[derive(Debug, Default, Clone)]
pub struct Received {
    pub metrics: Vec<ExportMetricsServiceRequest>,
    pub logs: Vec<ExportLogsServiceRequest>,
    pub traces: Vec<ExportTraceServiceRequest>,
}

type Shared = Arc<Mutex<Received>>;

/// A receiver listening on a loopback port until dropped.
#[derive(Debug)]
pub struct Receiver {
    pub addr: SocketAddr,
    received: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Collector(Shared);

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().metrics.push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().logs.push(request.into_inner());
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().traces.push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Receiver {
    /// An OTLP/gRPC receiver.
    pub async fn grpc() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Shared::default();
        let collector = Collector(received.clone());
        let task = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(MetricsServiceServer::new(collector.clone()))
                .add_service(LogsServiceServer::new(collector.clone()))
                .add_service(TraceServiceServer::new(collector))
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .unwrap();
        });
        Receiver {
            addr,
            received,
            task,
        }
    }

    /// An OTLP/HTTP receiver of protobuf bodies.
    pub async fn http() -> Self {
        use axum::body::Bytes;
        use axum::extract::State;
        use axum::routing::post;

        fn answer(body: Vec<u8>) -> ([(&'static str, &'static str); 1], Vec<u8>) {
            ([("content-type", "application/x-protobuf")], body)
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Shared::default();
        let router = axum::Router::new()
            .route(
                "/v1/metrics",
                post(|State(shared): State<Shared>, body: Bytes| async move {
                    let request = ExportMetricsServiceRequest::decode(body).unwrap();
                    shared.lock().unwrap().metrics.push(request);
                    answer(ExportMetricsServiceResponse::default().encode_to_vec())
                }),
            )
            .route(
                "/v1/logs",
                post(|State(shared): State<Shared>, body: Bytes| async move {
                    let request = ExportLogsServiceRequest::decode(body).unwrap();
                    shared.lock().unwrap().logs.push(request);
                    answer(ExportLogsServiceResponse::default().encode_to_vec())
                }),
            )
            .route(
                "/v1/traces",
                post(|State(shared): State<Shared>, body: Bytes| async move {
                    let request = ExportTraceServiceRequest::decode(body).unwrap();
                    shared.lock().unwrap().traces.push(request);
                    answer(ExportTraceServiceResponse::default().encode_to_vec())
                }),
            )
            .with_state(received.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Receiver {
            addr,
            received,
            task,
        }
    }

    /// The base URL to give the exporters.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A copy of everything received so far.
    pub fn received(&self) -> Received {
        self.received.lock().unwrap().clone()
    }

    /// Waits, up to 20 s, until `done` holds for what was received; returns it, or panics
    /// with `what` and what came.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&Received) -> bool) -> Received {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("never received {what}; got {}", received.summary());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Attributes as strings by key (arrays joined with `,`), for comparisons.
pub fn attributes(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

/// A value as text: strings as they are, numbers with `{}`, arrays joined with `,`.
pub fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::DoubleValue(number)) => number.to_string(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        Some(any_value::Value::ArrayValue(array)) => array
            .values
            .iter()
            .map(|value| text(Some(value)))
            .collect::<Vec<_>>()
            .join(","),
        other => format!("{other:?}"),
    }
}

/// The double value of `key`, if it is one.
pub fn double(attributes: &[KeyValue], key: &str) -> Option<f64> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::DoubleValue(number) => Some(*number),
            _ => None,
        }
    })
}

/// One point of a gauge or sum, with its attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub attributes: BTreeMap<String, String>,
    pub value: f64,
}

/// A histogram point: its attributes, count and sum.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPoint {
    pub attributes: BTreeMap<String, String>,
    pub count: u64,
    pub sum: f64,
}

impl Received {
    /// Counts, for a panic message.
    pub fn summary(&self) -> String {
        let names: std::collections::BTreeSet<&str> = self
            .all_metrics()
            .map(|(_, metric)| metric.name.as_str())
            .collect();
        format!(
            "{} metric exports ({names:?}), {} log records, {} spans",
            self.metrics.len(),
            self.log_records().len(),
            self.spans().len()
        )
    }

    /// Every metric of every export with the scope it came under, in arrival order.
    pub fn all_metrics(&self) -> impl Iterator<Item = (&str, &Metric)> {
        self.metrics
            .iter()
            .flat_map(|export| &export.resource_metrics)
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| {
                let name = scope.scope.as_ref().map_or("", |scope| scope.name.as_str());
                scope.metrics.iter().map(move |metric| (name, metric))
            })
    }

    /// Metric `name` in the last export, if that export has it.
    fn last_metric(&self, name: &str) -> Option<&Metric> {
        self.metrics
            .last()?
            .resource_metrics
            .iter()
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| &scope.metrics)
            .find(|metric| metric.name == name)
    }

    /// The points of metric `name` (gauge or sum) in the last export: none when the last
    /// export does not have it.
    pub fn last_points(&self, name: &str) -> Vec<Point> {
        let Some(metric) = self.last_metric(name) else {
            return Vec::new();
        };
        let points = match &metric.data {
            Some(metric::Data::Gauge(gauge)) => &gauge.data_points,
            Some(metric::Data::Sum(sum)) => &sum.data_points,
            _ => return Vec::new(),
        };
        points
            .iter()
            .map(|point| Point {
                attributes: attributes(&point.attributes),
                value: match point.value {
                    Some(number_data_point::Value::AsInt(value)) => value as f64,
                    Some(number_data_point::Value::AsDouble(value)) => value,
                    None => f64::NAN,
                },
            })
            .collect()
    }

    /// The value of the point of metric `name` in the last export whose attributes include
    /// `with`.
    pub fn last_value(&self, name: &str, with: &[(&str, &str)]) -> Option<f64> {
        self.last_points(name)
            .into_iter()
            .find(|point| {
                with.iter().all(|(key, value)| {
                    point.attributes.get(*key).map(String::as_str) == Some(*value)
                })
            })
            .map(|point| point.value)
    }

    /// The points of histogram `name` in the last export.
    pub fn last_histogram(&self, name: &str) -> Vec<HistogramPoint> {
        let Some(metric) = self.last_metric(name) else {
            return Vec::new();
        };
        match &metric.data {
            Some(metric::Data::Histogram(histogram)) => histogram
                .data_points
                .iter()
                .map(|point| HistogramPoint {
                    attributes: attributes(&point.attributes),
                    count: point.count,
                    sum: point.sum.unwrap_or(f64::NAN),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Every log record received.
    pub fn log_records(&self) -> Vec<&LogRecord> {
        self.logs
            .iter()
            .flat_map(|export| &export.resource_logs)
            .flat_map(|resource| &resource.scope_logs)
            .flat_map(|scope| &scope.log_records)
            .collect()
    }

    /// Every span received.
    pub fn spans(&self) -> Vec<&Span> {
        self.traces
            .iter()
            .flat_map(|export| &export.resource_spans)
            .flat_map(|resource| &resource.scope_spans)
            .flat_map(|scope| &scope.spans)
            .collect()
    }

    /// The resource attributes of the first metric export.
    pub fn metric_resource(&self) -> BTreeMap<String, String> {
        self.metrics
            .iter()
            .flat_map(|export| &export.resource_metrics)
            .find_map(|resource| resource.resource.as_ref())
            .map(|resource| attributes(&resource.attributes))
            .unwrap_or_default()
    }
}
