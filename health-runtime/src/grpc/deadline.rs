//! A deadline for the request message of a health RPC: a client that opens a stream and never
//! sends its message is answered `DEADLINE_EXCEEDED` instead of holding the stream forever.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::server::NamedService;

/// A health service whose calls end with `DEADLINE_EXCEEDED` when their request (a single
/// message for every health RPC) has not fully arrived within `limit`.
#[derive(Debug, Clone)]
pub struct RequestDeadline<S> {
    inner: S,
    limit: Duration,
}

/// `service`, with a deadline of `limit` for each call's request message.
pub(crate) fn deadline<S>(service: S, limit: Duration) -> RequestDeadline<S> {
    RequestDeadline {
        inner: service,
        limit,
    }
}

impl<S: NamedService> NamedService for RequestDeadline<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower_service::Service<http::Request<tonic::body::Body>> for RequestDeadline<S>
where
    S: tower_service::Service<http::Request<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let limit = self.limit;
        self.inner.call(request.map(|body| {
            tonic::body::Body::new(Timed {
                inner: body,
                timer: Some(Box::pin(tokio::time::sleep(limit))),
                limit,
            })
        }))
    }
}

pin_project_lite::pin_project! {
    /// A request body that fails when it has not ended within `limit`.
    struct Timed {
        #[pin]
        inner: tonic::body::Body,
        timer: Option<Pin<Box<tokio::time::Sleep>>>,
        limit: Duration,
    }
}

impl http_body::Body for Timed {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Pending => {
                if let Some(timer) = this.timer
                    && timer.as_mut().poll(cx).is_ready()
                {
                    *this.timer = None;
                    return Poll::Ready(Some(Err(tonic::Status::deadline_exceeded(format!(
                        "the request message did not arrive within {:?}",
                        this.limit
                    )))));
                }
                Poll::Pending
            }
            Poll::Ready(frame) => {
                // The deadline holds until the whole message is in: a client that sends one
                // byte and stops is ended as one that sends none.
                let data = matches!(&frame, Some(Ok(frame)) if frame.is_data());
                if !data {
                    *this.timer = None;
                }
                Poll::Ready(frame)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
