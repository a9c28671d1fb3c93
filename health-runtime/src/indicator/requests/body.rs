//! The bodies: [`StatsRequestBody`] notes when a request has been fully received (and whether
//! it broke or ended inside a gRPC message); [`StatsBody`] records the request when its
//! response ends.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Buf as _;

use super::classify::RequestOutcome;
use super::recorder::{Received, Recorder, Unwinding, Verdict};

pin_project_lite::pin_project! {
    /// A request body that notes when the request has been fully received, and whether it
    /// broke or ended in the middle of a gRPC message. From [`RequestStatsService`](super::RequestStatsService), which hands
    /// it to the service it wraps.
    pub struct StatsRequestBody<B> {
        #[pin]
        inner: B,
        received: Arc<Received>,
        framing: Option<Framing>,
    }
}

/// Where a gRPC request body is in its length-prefixed messages (gRPC over HTTP/2: a flag byte
/// and a 4-byte big-endian length before each message).
#[derive(Debug, Default)]
struct Framing {
    /// Bytes of the current 5-byte prefix seen so far.
    prefix: usize,
    length: [u8; 4],
    /// Bytes of the current message still to come.
    remaining: u64,
    /// A message's flag byte was neither 0 nor 1.
    bad_flag: bool,
}

impl Framing {
    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.remaining > 0 {
                let taken = data
                    .len()
                    .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                self.remaining -= taken as u64;
                data = &data[taken..];
                continue;
            }
            if self.prefix == 0 {
                // The compressed flag: 0 or 1, nothing else.
                self.bad_flag |= data[0] > 1;
            } else {
                self.length[self.prefix - 1] = data[0];
            }
            self.prefix += 1;
            data = &data[1..];
            if self.prefix == 5 {
                self.prefix = 0;
                self.remaining = u64::from(u32::from_be_bytes(self.length));
            }
        }
    }

    /// Whether the body ended between well-formed messages, not in one.
    fn complete(&self) -> bool {
        self.prefix == 0 && self.remaining == 0 && !self.bad_flag
    }
}

impl<B> StatsRequestBody<B> {
    /// `inner`, noting into `received`; its gRPC messages are followed when `grpc`.
    pub(super) fn new(inner: B, received: Arc<Received>, grpc: bool) -> Self {
        StatsRequestBody {
            inner,
            received,
            framing: grpc.then(Framing::default),
        }
    }
}

impl<B> fmt::Debug for StatsRequestBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatsRequestBody").finish_non_exhaustive()
    }
}

impl<B: http_body::Body> http_body::Body for StatsRequestBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let polled = ready!(this.inner.as_mut().poll_frame(cx));
        let ended = match &polled {
            None => true,
            Some(Ok(frame)) => {
                if let (Some(framing), Some(data)) = (this.framing.as_mut(), frame.data_ref()) {
                    // Hyper's chunks are contiguous; a body in pieces is not followed further.
                    if data.chunk().len() == data.remaining() {
                        framing.feed(data.chunk());
                    } else {
                        *this.framing = None;
                    }
                }
                this.inner.is_end_stream()
            }
            Some(Err(_)) => {
                this.received.break_off();
                false
            }
        };
        if ended {
            this.received.mark();
            // A request cut off inside a message is the client's doing, whatever the server
            // answers (tonic answers `INTERNAL`).
            if this
                .framing
                .as_ref()
                .is_some_and(|framing| !framing.complete())
            {
                this.received.break_off();
            }
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// A response body that records its request when it ends.
    pub struct StatsBody<B> {
        #[pin]
        inner: B,
        recorder: Option<Recorder>,
        verdict: Verdict,
    }
}

impl<B> StatsBody<B> {
    /// `inner`, recorded by `recorder` (if not yet recorded) with `verdict` when it ends.
    pub(super) fn new(inner: B, recorder: Option<Recorder>, verdict: Verdict) -> Self {
        StatsBody {
            inner,
            recorder,
            verdict,
        }
    }
}

impl<B> fmt::Debug for StatsBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatsBody")
            .field("verdict", &self.verdict)
            .finish_non_exhaustive()
    }
}

impl<B: http_body::Body> http_body::Body for StatsBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let unwinding = Unwinding::arm(this.recorder);
        let polled = this.inner.as_mut().poll_frame(cx);
        let recorder = unwinding.disarm();
        let polled = ready!(polled);
        let Some(recorder) = recorder.as_mut() else {
            return Poll::Ready(polled);
        };
        match &polled {
            Some(Ok(frame)) => {
                if let (Some(trailers), Verdict::FromTrailers) =
                    (frame.trailers_ref(), *this.verdict)
                {
                    *this.verdict = Verdict::of_grpc(trailers)
                        .unwrap_or(Verdict::Outcome(RequestOutcome::ServerError));
                }
                if this.inner.is_end_stream() {
                    recorder.finish(*this.verdict);
                }
            }
            Some(Err(_)) => recorder.finish(Verdict::Outcome(RequestOutcome::ServerError)),
            None => recorder.finish(*this.verdict),
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_follows_length_prefixed_messages() {
        let mut framing = Framing::default();
        assert!(framing.complete());
        // Two messages of 3 and 0 bytes, fed in awkward pieces.
        let bytes = [0, 0, 0, 0, 3, b'a', b'b', b'c', 0, 0, 0, 0, 0];
        for piece in [&bytes[..2], &bytes[2..6], &bytes[6..9]] {
            framing.feed(piece);
            assert!(!framing.complete());
        }
        framing.feed(&bytes[9..]);
        assert!(framing.complete());
        framing.feed(&[0, 0, 0, 1, 0]);
        assert!(!framing.complete(), "a 256-byte message has only begun");
        let mut flagged = Framing::default();
        flagged.feed(&[7, 0, 0, 0, 0]);
        assert!(!flagged.complete(), "7 is no compressed flag");
    }
}
