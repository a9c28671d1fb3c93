//! [`ResponseFuture`]: the wrapped service's future, recording the request when it fails, when
//! it panics, or when its response has no body to wait for.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;

use super::body::StatsBody;
use super::classify::RequestOutcome;
use super::recorder::{Recorder, Unwinding, Verdict, verdict};

pin_project_lite::pin_project! {
    /// The response future of [`RequestStatsService`](super::RequestStatsService).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        recorder: Option<Recorder>,
    }
}

impl<F> ResponseFuture<F> {
    /// The future of the wrapped service, with the request's recorder.
    pub(super) fn new(inner: F, recorder: Recorder) -> Self {
        ResponseFuture {
            inner,
            recorder: Some(recorder),
        }
    }
}

impl<F> ResponseFuture<F> {
    /// The future of the wrapped service, for a request that is not counted.
    pub(super) fn unrecorded(inner: F) -> Self {
        ResponseFuture {
            inner,
            recorder: None,
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<StatsBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let unwinding = Unwinding::arm(this.recorder);
        let result = this.inner.poll(cx);
        let recorder = unwinding.disarm();
        let result = ready!(result);
        let mut recorder = recorder.take();
        Poll::Ready(match result {
            Ok(response) => {
                let verdict = verdict(&response);
                if let Some(recorder) = recorder
                    .as_mut()
                    .filter(|_| response.body().is_end_stream())
                {
                    recorder.finish(verdict);
                }
                Ok(response.map(|inner| StatsBody::new(inner, recorder, verdict)))
            }
            Err(error) => {
                if let Some(recorder) = &mut recorder {
                    recorder.finish(Verdict::Outcome(RequestOutcome::ServerError));
                }
                Err(error)
            }
        })
    }
}
