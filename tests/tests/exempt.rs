//! Health calls around the application's own layers: an authentication layer wrapped with
//! `exempt` lets `Check` and `GetHealthReport` through and still refuses the application's RPC;
//! a layer that is never ready holds back application calls only; and the request statistics
//! leave health calls out unless told to count them.

use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{Either, Ready};
use health_runtime::exempt::exempt;
use health_runtime::indicator::RequestStats;
use health_runtime::pb::report::v1::GetHealthReportRequest;
use health_runtime::pb::report::v1::health_report_client::HealthReportClient;
use health_runtime::{Check, HealthRuntime};
use tests::{HealthClient, ServingStatus, builder, check_status};
use tonic::transport::Channel;

#[allow(missing_docs, unreachable_pub, clippy::all)]
mod kv {
    include!("../../examples/generated/kv.v1.rs");
}

use kv::kv_client::KvClient;
use kv::kv_server::{Kv, KvServer};
use kv::{GetRequest, GetResponse, PutRequest, PutResponse};

const TOKEN: &str = "Bearer app-token";

/// The application's service: every key holds `value`.
struct Store;

#[tonic::async_trait]
impl Kv for Store {
    async fn get(
        &self,
        _: tonic::Request<GetRequest>,
    ) -> Result<tonic::Response<GetResponse>, tonic::Status> {
        Ok(tonic::Response::new(GetResponse {
            value: b"value".to_vec(),
        }))
    }

    async fn put(
        &self,
        _: tonic::Request<PutRequest>,
    ) -> Result<tonic::Response<PutResponse>, tonic::Status> {
        Ok(tonic::Response::new(PutResponse {}))
    }
}

/// The application's authentication: `UNAUTHENTICATED` without `authorization: Bearer
/// app-token`.
#[derive(Debug, Clone)]
struct Auth;

impl<S> tower::Layer<S> for Auth {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService(inner)
    }
}

#[derive(Debug, Clone)]
struct AuthService<S>(S);

type Response = http::Response<tonic::body::Body>;

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request
            .headers()
            .get("authorization")
            .is_some_and(|v| v == TOKEN)
        {
            Either::Right(self.0.call(request))
        } else {
            let refused = tonic::Status::unauthenticated("no application token").into_http();
            Either::Left(futures::future::ready(Ok(refused)))
        }
    }
}

/// A limit that is exhausted for good: never ready.
#[derive(Debug, Clone)]
struct Exhausted;

impl<S> tower::Layer<S> for Exhausted {
    type Service = ExhaustedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ExhaustedService(inner)
    }
}

#[derive(Debug, Clone)]
struct ExhaustedService<S>(S);

impl<S, B> tower::Service<http::Request<B>> for ExhaustedService<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Pending
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        self.0.call(request)
    }
}

fn runtime() -> HealthRuntime {
    builder()
        .with_check(Check::new("db", || async { true }))
        .build()
        .unwrap()
}

/// Serves the health services and `Store` behind `layer` on a loopback port.
async fn serve<L, ResBody>(runtime: &HealthRuntime, layer: L) -> Channel
where
    L: tower::Layer<tonic::service::Routes> + Clone + Send + Sync + 'static,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    L::Service: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as tower::Service<http::Request<tonic::body::Body>>>::Future: Send + 'static,
    <L::Service as tower::Service<http::Request<tonic::body::Body>>>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = health_runtime::grpc::routes(runtime);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(layer)
            .add_routes(routes)
            .add_service(KvServer::new(Store))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
    });
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn get(token: Option<&str>) -> tonic::Request<GetRequest> {
    let mut request = tonic::Request::new(GetRequest { key: "k".into() });
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", token.parse().unwrap());
    }
    request
}

#[tokio::test]
async fn health_calls_pass_by_authentication_and_application_calls_do_not() {
    let runtime = runtime();
    let channel = serve(&runtime, exempt(Auth)).await;

    let mut health = HealthClient::new(channel.clone());
    assert_eq!(
        check_status(&mut health, "").await,
        Ok(ServingStatus::Serving)
    );
    assert_eq!(
        check_status(&mut health, "db").await,
        Ok(ServingStatus::Serving)
    );
    let report = HealthReportClient::new(channel.clone())
        .get_health_report(GetHealthReportRequest {})
        .await
        .expect("the report passes by the authentication");
    drop(report);

    let mut kv = KvClient::new(channel);
    let refused = kv.get(get(None)).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    let refused = kv.get(get(Some("Bearer wrong"))).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let answered = kv.get(get(Some(TOKEN))).await.unwrap().into_inner();
    assert_eq!(answered.value, b"value");
}

#[tokio::test]
async fn without_the_exemption_the_layer_refuses_health_calls_too() {
    let runtime = runtime();
    let channel = serve(&runtime, Auth).await;
    let mut health = HealthClient::new(channel);
    assert_eq!(
        check_status(&mut health, "").await,
        Err(tonic::Code::Unauthenticated)
    );
}

#[tokio::test]
async fn an_exhausted_limit_holds_back_application_calls_only() {
    let runtime = runtime();
    let channel = serve(&runtime, exempt(Exhausted)).await;
    let mut health = HealthClient::new(channel.clone());
    let answered = tokio::time::timeout(Duration::from_secs(10), check_status(&mut health, ""))
        .await
        .expect("a health call does not wait for the application's limit");
    assert_eq!(answered, Ok(ServingStatus::Serving));
    let mut kv = KvClient::new(channel);
    let held = tokio::time::timeout(Duration::from_millis(300), kv.get(get(Some(TOKEN)))).await;
    assert!(held.is_err(), "the application call waits for the limit");
    // Health calls still pass while an application call waits.
    assert_eq!(
        check_status(&mut health, "").await,
        Ok(ServingStatus::Serving)
    );
}

/// The requests `stats` holds once it stops changing.
async fn settled(stats: &RequestStats, want: u64) -> u64 {
    for _ in 0..200 {
        if stats.summary().requests() >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Anything recorded late would show now.
    tokio::time::sleep(Duration::from_millis(100)).await;
    stats.summary().requests()
}

/// Three `Check`s, one `GetHealthReport` and two application calls through `stats`' layer.
async fn traffic(stats: &RequestStats) {
    let runtime = runtime();
    let channel = serve(&runtime, stats.layer()).await;
    let mut health = HealthClient::new(channel.clone());
    for _ in 0..3 {
        assert_eq!(
            check_status(&mut health, "").await,
            Ok(ServingStatus::Serving)
        );
    }
    HealthReportClient::new(channel.clone())
        .get_health_report(GetHealthReportRequest {})
        .await
        .unwrap();
    let mut kv = KvClient::new(channel);
    for _ in 0..2 {
        kv.get(get(None)).await.unwrap();
    }
}

#[tokio::test]
async fn request_statistics_leave_health_calls_out_by_default() {
    let stats = RequestStats::new();
    traffic(&stats).await;
    assert_eq!(settled(&stats, 2).await, 2, "only the application's calls");
}

#[tokio::test]
async fn request_statistics_count_health_calls_when_told_to() {
    let stats = RequestStats::new().count_health_calls(true);
    traffic(&stats).await;
    assert_eq!(settled(&stats, 6).await, 6, "every call");
}
