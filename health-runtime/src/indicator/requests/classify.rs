//! Whose doing a request's end was: the request statistics measure the server, so only the
//! server's failures count against it; what the client caused is counted apart.

use std::time::Duration;

use http::HeaderMap;

/// How one request ended, as the request statistics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestOutcome {
    /// Served as asked.
    Success,
    /// Answered, but the client's doing: a gRPC status about the request itself (`NOT_FOUND`,
    /// `INVALID_ARGUMENT`, ...), the client's own deadline or cancellation, an HTTP 4xx. Counted
    /// apart and never against the server.
    ClientError,
    /// The server failed: `INTERNAL`, `UNKNOWN`, `UNAVAILABLE`, `DATA_LOSS`, a
    /// `DEADLINE_EXCEEDED` the server set, a response that ended without a status, a panic, an
    /// HTTP 5xx.
    ServerError,
}

impl From<bool> for RequestOutcome {
    /// `true` is a success, `false` a server failure.
    fn from(success: bool) -> Self {
        if success {
            RequestOutcome::Success
        } else {
            RequestOutcome::ServerError
        }
    }
}

/// gRPC's status codes, 0 to 16.
const GRPC_CODES: usize = 17;
/// `DEADLINE_EXCEEDED`.
const DEADLINE_EXCEEDED: i32 = 4;

/// The outcome of each gRPC status code.
///
/// | outcome | codes |
/// |---|---|
/// | success | `OK` (0) |
/// | server failure | `CANCELLED` (1) when the server sends it, `UNKNOWN` (2), `DEADLINE_EXCEEDED` (4) unless the client's own deadline passed, `INTERNAL` (13) but for tonic's answers to undecodable requests, `UNAVAILABLE` (14), `DATA_LOSS` (15), any code above 16 |
/// | client outcome | `INVALID_ARGUMENT` (3), `NOT_FOUND` (5), `ALREADY_EXISTS` (6), `PERMISSION_DENIED` (7), `RESOURCE_EXHAUSTED` (8: a quota or rate limit the client ran into), `FAILED_PRECONDITION` (9), `ABORTED` (10), `OUT_OF_RANGE` (11), `UNIMPLEMENTED` (12: a method the server does not have), `UNAUTHENTICATED` (16) |
///
/// A client that cancels resets its stream: the request is then dropped or its body breaks, and
/// counts as the client's without any status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GrpcOutcomes([RequestOutcome; GRPC_CODES]);

impl Default for GrpcOutcomes {
    fn default() -> Self {
        use RequestOutcome::{ClientError as C, ServerError as S, Success as K};
        //                0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16
        GrpcOutcomes([K, S, S, C, S, C, C, C, C, C, C, C, C, S, S, S, C])
    }
}

impl GrpcOutcomes {
    /// Counts `code` as `outcome` from now on; codes outside 0–16 are ignored.
    pub(crate) fn set(&mut self, code: i32, outcome: RequestOutcome) {
        if let Some(slot) = usize::try_from(code)
            .ok()
            .and_then(|code| self.0.get_mut(code))
        {
            *slot = outcome;
        }
    }

    /// The outcome of a response with gRPC status `code`, `elapsed` after a request whose
    /// client allowed it `deadline` (`grpc-timeout`).
    pub(crate) fn of(
        &self,
        code: i32,
        elapsed: Duration,
        deadline: Option<Duration>,
    ) -> RequestOutcome {
        let outcome = usize::try_from(code)
            .ok()
            .and_then(|code| self.0.get(code))
            .copied()
            .unwrap_or(RequestOutcome::ServerError);
        // The client's own deadline passing is the client's choice, not slow serving.
        if code == DEADLINE_EXCEEDED
            && outcome == RequestOutcome::ServerError
            && deadline.is_some_and(|deadline| elapsed >= deadline.mul_f64(0.99))
        {
            return RequestOutcome::ClientError;
        }
        outcome
    }
}

/// The outcome of a plain HTTP status: 5xx is the server's failure, 4xx the client's.
pub(crate) fn http_outcome(status: http::StatusCode) -> RequestOutcome {
    if status.is_server_error() {
        RequestOutcome::ServerError
    } else if status.is_client_error() {
        RequestOutcome::ClientError
    } else {
        RequestOutcome::Success
    }
}

/// The `grpc-status` of a header or trailer map.
pub(crate) fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    let status = headers.get("grpc-status")?;
    // A status that is not a number is no status a client can read: a server failure.
    Some(
        std::str::from_utf8(status.as_bytes())
            .ok()
            .and_then(|status| status.parse().ok())
            .unwrap_or(2),
    )
}

/// Whether an `INTERNAL` status is tonic's (or prost's) own answer to a request it could not
/// decode: a message cut off, a bad compressed flag, bytes that are no protobuf, no message at
/// all. The client sent that, whatever the code says.
pub(crate) fn is_request_error(code: i32, headers: &HeaderMap) -> bool {
    const INTERNAL: i32 = 13;
    const TONIC_DECODING: [&str; 5] = [
        "Missing request message.",
        "Unexpected EOF decoding stream.",
        "protocol error: received message with",
        "Error decompressing: ",
        "failed to decode Protobuf message: ",
    ];
    if code != INTERNAL {
        return false;
    }
    let Some(message) = headers.get("grpc-message") else {
        return false;
    };
    let message = percent_decoded(message.as_bytes());
    TONIC_DECODING
        .iter()
        .any(|prefix| message.starts_with(prefix.as_bytes()))
}

/// `grpc-message` is percent-encoded (gRPC over HTTP/2).
fn percent_decoded(bytes: &[u8]) -> Vec<u8> {
    let hex = |byte: u8| (byte as char).to_digit(16);
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(index + 1).and_then(|byte| hex(*byte)),
                bytes.get(index + 2).and_then(|byte| hex(*byte)),
            )
        {
            decoded.push((high * 16 + low) as u8);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    decoded
}

/// The client's deadline from `grpc-timeout` (gRPC over HTTP/2: up to 8 digits and a unit,
/// `H`, `M`, `S`, `m`, `u` or `n`).
pub(crate) fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.checked_mul(3600)?),
        "M" => Duration::from_secs(amount.checked_mul(60)?),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_failures_and_client_outcomes_by_default() {
        let outcomes = GrpcOutcomes::default();
        let of = |code| outcomes.of(code, Duration::ZERO, None);
        assert_eq!(of(0), RequestOutcome::Success);
        for code in [1, 2, 4, 13, 14, 15, 17, -1] {
            assert_eq!(of(code), RequestOutcome::ServerError, "code {code}");
        }
        for code in [3, 5, 6, 7, 8, 9, 10, 11, 12, 16] {
            assert_eq!(of(code), RequestOutcome::ClientError, "code {code}");
        }
    }

    #[test]
    fn deadline_exceeded_is_the_clients_only_when_its_deadline_passed() {
        let outcomes = GrpcOutcomes::default();
        let deadline = Some(Duration::from_millis(100));
        assert_eq!(
            outcomes.of(4, Duration::from_millis(100), deadline),
            RequestOutcome::ClientError
        );
        assert_eq!(
            outcomes.of(4, Duration::from_millis(10), deadline),
            RequestOutcome::ServerError
        );
        assert_eq!(
            outcomes.of(4, Duration::from_secs(10), None),
            RequestOutcome::ServerError
        );
    }

    #[test]
    fn the_split_is_configurable() {
        let mut outcomes = GrpcOutcomes::default();
        outcomes.set(5, RequestOutcome::ServerError);
        outcomes.set(13, RequestOutcome::ClientError);
        outcomes.set(99, RequestOutcome::Success);
        assert_eq!(
            outcomes.of(5, Duration::ZERO, None),
            RequestOutcome::ServerError
        );
        assert_eq!(
            outcomes.of(13, Duration::ZERO, None),
            RequestOutcome::ClientError
        );
        assert_eq!(
            outcomes.of(99, Duration::ZERO, None),
            RequestOutcome::ServerError
        );
    }

    #[test]
    fn http_classes() {
        assert_eq!(http_outcome(http::StatusCode::OK), RequestOutcome::Success);
        assert_eq!(
            http_outcome(http::StatusCode::FOUND),
            RequestOutcome::Success
        );
        assert_eq!(
            http_outcome(http::StatusCode::NOT_FOUND),
            RequestOutcome::ClientError
        );
        assert_eq!(
            http_outcome(http::StatusCode::BAD_GATEWAY),
            RequestOutcome::ServerError
        );
    }

    #[test]
    fn recognises_tonics_answers_to_undecodable_requests() {
        let with = |message: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("grpc-message", message.parse().unwrap());
            headers
        };
        let decode = with("failed%20to%20decode%20Protobuf%20message:%20invalid%20wire%20type");
        assert!(is_request_error(13, &decode));
        assert!(!is_request_error(2, &decode));
        assert!(is_request_error(13, &with("Missing%20request%20message.")));
        assert!(!is_request_error(13, &with("database%20is%20locked")));
        assert!(!is_request_error(13, &HeaderMap::new()));
    }

    #[test]
    fn reads_grpc_timeout() {
        let timeout = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("grpc-timeout", value.parse().unwrap());
            grpc_timeout(&headers)
        };
        assert_eq!(timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(timeout("5u"), Some(Duration::from_micros(5)));
        assert_eq!(timeout("m"), None);
        assert_eq!(timeout("123456789m"), None);
        assert_eq!(timeout("10x"), None);
    }
}
