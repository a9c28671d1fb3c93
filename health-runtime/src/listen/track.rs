//! Counting the requests under way on each connection, so that the connection limit closes an
//! idle connection rather than one that is quietly waiting for its answer (a `Check` running a
//! slow check, a `Watch` with nothing new to say).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::FutureExt as _;
use futures::future::BoxFuture;

#[cfg(feature = "http")]
use super::conn::Activity;
use super::conn::InFlight;

/// Where a request's connection is found.
#[derive(Debug, Clone)]
enum Source {
    /// The connection itself: the service is made per connection (hyper).
    #[cfg(feature = "http")]
    Conn(Arc<Activity>),
    /// The listener's connections by peer address (tonic, which makes one service for all).
    #[cfg(feature = "grpc")]
    Peers(Arc<super::accept::Slots>),
}

/// `S`, counting each request as under way on its connection until its response body ends.
#[derive(Debug, Clone)]
pub(crate) struct Tracked<S> {
    inner: S,
    source: Source,
}

impl<S> Tracked<S> {
    /// `inner`, serving the one connection `activity` belongs to.
    #[cfg(feature = "http")]
    pub(crate) fn on(inner: S, activity: Arc<Activity>) -> Self {
        Tracked {
            inner,
            source: Source::Conn(activity),
        }
    }
}

/// The layer of [`Tracked`] for a tonic server over the connections of `slots`.
#[cfg(feature = "grpc")]
#[derive(Debug, Clone)]
pub(crate) struct TrackLayer(pub(crate) Arc<super::accept::Slots>);

#[cfg(feature = "grpc")]
impl<S> tower_layer::Layer<S> for TrackLayer {
    type Service = Tracked<S>;

    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked {
            inner,
            source: Source::Peers(self.0.clone()),
        }
    }
}

impl<S, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>> for Tracked<S>
where
    S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<TrackedBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let under_way = match &self.source {
            #[cfg(feature = "http")]
            Source::Conn(activity) => Some(activity.begin()),
            #[cfg(feature = "grpc")]
            Source::Peers(slots) => request
                .extensions()
                .get::<tonic::transport::server::TcpConnectInfo>()
                .and_then(tonic::transport::server::TcpConnectInfo::remote_addr)
                .and_then(|peer| slots.of(peer))
                .map(|activity| activity.begin()),
        };
        let response = self.inner.call(request);
        async move {
            let response = response.await?;
            Ok(response.map(|inner| TrackedBody {
                inner,
                _under_way: under_way,
            }))
        }
        .boxed()
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request counted as under way until it ends.
    #[derive(Debug)]
    pub(crate) struct TrackedBody<B> {
        #[pin]
        inner: B,
        _under_way: Option<InFlight>,
    }
}

impl<B: http_body::Body> http_body::Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
