//! The record of one request: when it was fully received, how its response is judged, and the
//! [`Recorder`] that counts it once, whether it ends, fails, panics or is dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use http::Response;
use tokio::time::Instant;

use super::classify::{self, RequestOutcome};
use super::stats::RequestStats;

/// When the request was fully received: latency counts from then, so a client that sends its
/// request slowly does not make the server look slow.
pub(super) struct Received {
    started: Instant,
    /// Nanoseconds from `started` to the request's end, plus one; 0 until then.
    at: AtomicU64,
    /// Whether the request body failed: the client reset its stream or the connection broke.
    /// Whatever the server answers then (tonic answers `INTERNAL`), the client caused it.
    broken: AtomicBool,
}

impl Received {
    /// A request that begins now.
    pub(super) fn new() -> Self {
        Received {
            started: Instant::now(),
            at: AtomicU64::new(0),
            broken: AtomicBool::new(false),
        }
    }

    /// The request has been fully received (its body ended), if it had not been yet.
    pub(super) fn mark(&self) {
        let nanos = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        let _ = self
            .at
            .compare_exchange(0, nanos + 1, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The request body failed, or ended inside a gRPC message: whatever the server answers,
    /// the client caused it.
    pub(super) fn break_off(&self) {
        self.broken.store(true, Ordering::Release);
    }

    /// The time since the request was fully received (since it began, if it never was).
    fn latency(&self) -> Duration {
        let elapsed = self.started.elapsed();
        match self.at.load(Ordering::Acquire) {
            0 => elapsed,
            at => elapsed.saturating_sub(Duration::from_nanos(at - 1)),
        }
    }
}

/// Records one request once. Dropped before it was finished, it is a server failure while
/// panicking (the handler panicked) and the client's doing otherwise (it went away).
pub(super) struct Recorder {
    stats: RequestStats,
    received: Arc<Received>,
    deadline: Option<Duration>,
    done: bool,
}

impl Recorder {
    pub(super) fn new(
        stats: RequestStats,
        received: Arc<Received>,
        deadline: Option<Duration>,
    ) -> Self {
        Recorder {
            stats,
            received,
            deadline,
            done: false,
        }
    }

    /// Records the request with the outcome of `verdict`, once.
    pub(super) fn finish(&mut self, verdict: Verdict) {
        if self.done {
            return;
        }
        self.done = true;
        let outcome = match verdict {
            _ if self.received.broken.load(Ordering::Acquire) => RequestOutcome::ClientError,
            Verdict::Outcome(outcome) => outcome,
            // tonic's own answer to a request it could not decode: the client's.
            Verdict::Grpc {
                request_error: true,
                ..
            } => RequestOutcome::ClientError,
            Verdict::Grpc { code, .. } => {
                let since_start = self.received.started.elapsed();
                self.stats.grpc.of(code, since_start, self.deadline)
            }
            // A gRPC response that ended without a status.
            Verdict::FromTrailers => RequestOutcome::ServerError,
        };
        self.stats.count(Some(self.received.latency()), outcome);
    }

    /// The request was dropped before its answer ended: a client that went away (no latency:
    /// it got no answer), unless the server's own timeout passed.
    fn abandon(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let elapsed = self.received.started.elapsed();
        let timed_out = self
            .stats
            .server_timeout
            .is_some_and(|timeout| elapsed >= timeout.mul_f64(0.99))
            && self.deadline.is_none_or(|deadline| deadline > elapsed);
        if timed_out {
            self.stats
                .count(Some(self.received.latency()), RequestOutcome::ServerError);
        } else {
            self.stats.count(None, RequestOutcome::ClientError);
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.abandon();
    }
}

/// Finishes the request as a server failure if dropped while armed: set around every poll of
/// the service and its body, it fires only when that poll panicked.
pub(super) struct Unwinding<'a>(Option<&'a mut Option<Recorder>>);

impl<'a> Unwinding<'a> {
    /// Armed around one poll of the request's future or body.
    pub(super) fn arm(recorder: &'a mut Option<Recorder>) -> Self {
        Unwinding(Some(recorder))
    }

    pub(super) fn disarm(mut self) -> &'a mut Option<Recorder> {
        self.0.take().expect("armed once")
    }
}

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        if let Some(Some(recorder)) = self.0.as_mut().map(|recorder| recorder.as_mut()) {
            recorder.finish(Verdict::Outcome(RequestOutcome::ServerError));
        }
    }
}

/// How a response is judged once its body ends.
#[derive(Debug, Clone, Copy)]
pub(super) enum Verdict {
    Outcome(RequestOutcome),
    /// A gRPC status; `request_error` when it is tonic's answer to a request it could not
    /// decode.
    Grpc {
        code: i32,
        request_error: bool,
    },
    /// A gRPC response whose `grpc-status` comes in the trailers.
    FromTrailers,
}

impl Verdict {
    /// The verdict of a gRPC status in headers or trailers; `None` without one.
    pub(super) fn of_grpc(headers: &http::HeaderMap) -> Option<Verdict> {
        let code = classify::grpc_status(headers)?;
        Some(Verdict::Grpc {
            code,
            request_error: classify::is_request_error(code, headers),
        })
    }
}

/// gRPC over HTTP/2 (`application/grpc`, `application/grpc+proto`, ...), not gRPC-Web, whose
/// status travels in the body: that one is judged as plain HTTP.
pub(super) fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.as_bytes().strip_prefix(b"application/grpc"))
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'+' || rest[0] == b';')
}

/// How `response` is judged, from its headers.
pub(super) fn verdict<B>(response: &Response<B>) -> Verdict {
    if !is_grpc(response.headers()) {
        return Verdict::Outcome(classify::http_outcome(response.status()));
    }
    if response.status() != http::StatusCode::OK {
        return Verdict::Outcome(match classify::http_outcome(response.status()) {
            RequestOutcome::ClientError => RequestOutcome::ClientError,
            _ => RequestOutcome::ServerError,
        });
    }
    match Verdict::of_grpc(response.headers()) {
        Some(verdict) => verdict,
        None => Verdict::FromTrailers,
    }
}
