//! Keeping health out of the application's traces, as the `otel` module docs show: the
//! application's OpenTelemetry layer filtered with `otel::without_health()`, its request spans
//! made by a layer wrapped in `exempt::exempt` (or by tonic's `trace_fn`, none for health
//! paths), beside `Telemetry::tracing_layer` exporting the run spans to an OTLP receiver. 60
//! probes (gRPC `Check`, HTTP `/ready`) and a few application calls later, the application's
//! exporter has the application's spans and none of health, and the receiver has every run's,
//! and the spans the checks' own code made: an `async` check's as children of its run's, a
//! blocking one's on their own.

#[path = "../src/otel_receiver.rs"]
mod otel_receiver;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use health_runtime::exempt::{exempt, is_health_path};
use health_runtime::{Check, HealthEvent, HealthRuntime, otel};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tests::{HealthClient, ServingStatus, check_status};
use tonic::transport::Channel;
use tracing::Instrument as _;
use tracing_subscriber::prelude::*;

#[allow(missing_docs, unreachable_pub, clippy::all)]
mod kv {
    include!("../../examples/generated/kv.v1.rs");
}

use kv::kv_client::KvClient;
use kv::kv_server::{Kv, KvServer};
use kv::{GetRequest, GetResponse, PutRequest, PutResponse};

/// The application's service, with a span of its own in `get`.
struct Store;

#[tonic::async_trait]
impl Kv for Store {
    async fn get(
        &self,
        request: tonic::Request<GetRequest>,
    ) -> Result<tonic::Response<GetResponse>, tonic::Status> {
        let span = tracing::info_span!("kv.lookup", key = %request.get_ref().key);
        async {
            Ok(tonic::Response::new(GetResponse {
                value: b"value".to_vec(),
            }))
        }
        .instrument(span)
        .await
    }

    async fn put(
        &self,
        _: tonic::Request<PutRequest>,
    ) -> Result<tonic::Response<PutResponse>, tonic::Status> {
        Ok(tonic::Response::new(PutResponse {}))
    }
}

/// The application's request spans: one `request` span around every call it sees.
#[derive(Debug, Clone)]
struct RequestSpans;

impl<S> tower::Layer<S> for RequestSpans {
    type Service = RequestSpansService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestSpansService(inner)
    }
}

#[derive(Debug, Clone)]
struct RequestSpansService<S>(S);

impl<S, B> tower::Service<http::Request<B>> for RequestSpansService<S>
where
    S: tower::Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let span = tracing::info_span!("request", rpc.path = %request.uri().path());
        Box::pin(self.0.call(request).instrument(span))
    }
}

/// Serves the health services and `Store` on a loopback port: behind `exempt(RequestSpans)`,
/// or with tonic's `trace_fn` making the request spans.
async fn serve(health: &HealthRuntime, with_trace_fn: bool) -> Channel {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = health_runtime::grpc::routes(health);
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    if with_trace_fn {
        tokio::spawn(
            tonic::transport::Server::builder()
                .trace_fn(|request| {
                    let path = request.uri().path();
                    if is_health_path(path) {
                        tracing::Span::none()
                    } else {
                        tracing::info_span!("request", rpc.path = %path)
                    }
                })
                .add_routes(routes)
                .add_service(KvServer::new(Store))
                .serve_with_incoming(incoming),
        );
    } else {
        tokio::spawn(
            tonic::transport::Server::builder()
                .layer(exempt(RequestSpans))
                .add_routes(routes)
                .add_service(KvServer::new(Store))
                .serve_with_incoming(incoming),
        );
    }
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// The spans the checks' own code makes, as a database or a file system client would.
const CHECK_CODE_SPANS: [&str; 2] = ["db.ping", "disk.stat"];

/// A span of health-runtime (by name, attributes or module), a span of a check's own code, or
/// a request span of a probe.
fn is_health_span(span: &SpanData) -> bool {
    let ours =
        |key: &str| attribute(span, key).is_some_and(|module| module.starts_with("health_runtime"));
    span.name == "health_check"
        || CHECK_CODE_SPANS.contains(&&*span.name)
        || span
            .attributes
            .iter()
            .any(|kv| kv.key.as_str().starts_with("health."))
        || ours("code.module.name")
        || ours("target")
        || attribute(span, "rpc.path").is_some_and(|path| is_health_path(&path))
}

#[tokio::test]
async fn the_application_exporter_gets_no_health_spans() {
    // The health spans to an OTLP receiver, installed before the runtime is built.
    let receiver = otel_receiver::Receiver::grpc().await;
    let telemetry = Arc::new(
        otel::Otlp::new(receiver.endpoint())
            .with_protocol(otel::Protocol::Grpc)
            .install()
            .unwrap(),
    );
    // The application's own traces, filtered.
    let app = InMemorySpanExporter::default();
    let app_provider = SdkTracerProvider::builder()
        .with_simple_exporter(app.clone())
        .build();
    // Current-thread test runtime: the servers, the runs and the calls all run on this thread.
    let _subscriber = tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(app_provider.tracer("app"))
                .with_filter(otel::without_health()),
        )
        .with(telemetry.tracing_layer())
        .set_default();

    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let health = tests::builder()
        .with_check(Check::new("db", || {
            async {
                // A span and an event of the check's own code, on the check's task.
                tracing::info!("pinging");
                async { true }
                    .instrument(tracing::info_span!("db.ping"))
                    .await
            }
        }))
        .with_check(Check::blocking("disk", || {
            // On the blocking pool's thread.
            let _stat = tracing::info_span!("disk.stat").entered();
            std::env::temp_dir().is_dir()
        }))
        // Every probe runs the check: each is a run span to keep out.
        .cache_ttl(std::time::Duration::ZERO)
        .observe(move |event: &HealthEvent| {
            if let HealthEvent::Ran { .. } = event {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();

    let mut app_calls = 0;
    let mut probes = 0;
    for with_trace_fn in [false, true] {
        let channel = serve(&health, with_trace_fn).await;
        let mut probe = HealthClient::new(channel.clone());
        let mut client = KvClient::new(channel);
        for round in 0..25 {
            assert_eq!(
                check_status(&mut probe, "").await,
                Ok(ServingStatus::Serving)
            );
            probes += 1;
            if round % 10 == 0 {
                let value = client
                    .get(GetRequest {
                        key: format!("k{round}"),
                    })
                    .await
                    .unwrap();
                assert_eq!(value.into_inner().value, b"value");
                app_calls += 1;
            }
        }
    }
    let http = tests::serve_http(&health).await;
    let http_client = reqwest::Client::new();
    for _ in 0..10 {
        let response = http_client
            .get(format!("http://{http}/ready"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        probes += 1;
    }
    assert_eq!(probes, 60);

    let app_spans = app.get_finished_spans().unwrap();
    let requests: Vec<_> = app_spans
        .iter()
        .filter(|span| span.name == "request")
        .collect();
    assert_eq!(requests.len(), app_calls, "{app_spans:#?}");
    for request in &requests {
        assert_eq!(
            attribute(request, "rpc.path").as_deref(),
            Some("/kv.v1.KV/Get"),
            "{request:#?}"
        );
    }
    let lookups = app_spans
        .iter()
        .filter(|span| span.name == "kv.lookup")
        .count();
    assert_eq!(lookups, app_calls);
    let leaked: Vec<_> = app_spans
        .iter()
        .filter(|span| is_health_span(span))
        .collect();
    let leaked: Vec<_> = leaked
        .iter()
        .map(|span| (&span.name, &span.attributes))
        .collect();
    assert!(
        leaked.is_empty(),
        "health spans in the application's traces: {leaked:?}"
    );

    // The run spans went to the health layer instead, one per run.
    let runs = runs.load(Ordering::SeqCst);
    assert!(runs >= probes, "{runs} runs for {probes} probes");
    let flushing = telemetry.clone();
    tokio::task::spawn_blocking(move || flushing.force_flush())
        .await
        .unwrap()
        .unwrap();
    // Each run of `db` and `disk` made one span of the check's code besides the run's.
    let received = receiver
        .wait_for("a span per run, and the checks' own", |received| {
            received.spans().len() >= 2 * runs
        })
        .await;
    let spans = received.spans();
    let runs_seen: Vec<_> = spans
        .iter()
        .filter(|span| span.name == "health_check")
        .collect();
    assert_eq!(runs_seen.len(), runs);
    let children: Vec<_> = spans
        .iter()
        .filter(|span| span.name != "health_check")
        .collect();
    assert_eq!(children.len(), runs, "{spans:#?}");
    for child in children {
        assert!(CHECK_CODE_SPANS.contains(&&*child.name), "{child:#?}");
        if child.name == "disk.stat" {
            // A blocking check's code may outlive its run: it holds no run span open.
            assert!(child.parent_span_id.is_empty(), "{child:#?}");
            continue;
        }
        let parent = runs_seen
            .iter()
            .find(|run| run.span_id == child.parent_span_id)
            .unwrap_or_else(|| panic!("{} has no run span as its parent", child.name));
        assert_eq!(parent.trace_id, child.trace_id);
        let checked = if child.name == "db.ping" {
            "db"
        } else {
            "disk"
        };
        let name = parent
            .attributes
            .iter()
            .find(|kv| kv.key == "health.check.name")
            .and_then(|kv| kv.value.as_ref())
            .and_then(|value| value.value.as_ref());
        assert!(
            matches!(name, Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(value)) if value == checked),
            "{parent:#?}"
        );
    }
}
