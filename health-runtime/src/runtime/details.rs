//! Who may see check details: the one decision every surface asks (the HTTP probes and report,
//! `/metrics`, the gRPC report), so that the policy cannot differ between them.
//!
//! Details are the parts of a check's state that may carry secrets: its message (an error text can
//! name a host, a path or a user), its value and its threshold. Statuses are never details.

use std::fmt;

use subtle::ConstantTimeEq as _;

use super::config::{DetailLevel, DetailSettings};

/// What a request may see, decided by [`access`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Statuses and details.
    Details,
    /// Statuses only, for this reason.
    StatusesOnly(Withheld),
}

impl Access {
    /// Whether details may be shown.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn shows_details(self) -> bool {
        self == Access::Details
    }
}

/// Why details are withheld. The reason is for the server's log; a client is only told what to
/// send ([`Withheld::hint`]), never whether a token is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Withheld {
    /// `PLUGIN_HEALTH_SHOW_DETAILS=never`.
    TurnedOff,
    /// `when-authorized`, but no `PLUGIN_HEALTH_AUTH_TOKEN` is configured: nobody is authorized.
    NoTokenConfigured,
    /// The request carries no `authorization`.
    NoCredentials,
    /// The request's `authorization` is not `Bearer <token>` with the configured token.
    WrongCredentials,
}

impl Withheld {
    /// What a client is told: how to get details, or that it cannot.
    pub(crate) fn hint(self) -> &'static str {
        match self {
            Withheld::TurnedOff => "details are turned off (PLUGIN_HEALTH_SHOW_DETAILS=never)",
            Withheld::NoTokenConfigured | Withheld::NoCredentials | Withheld::WrongCredentials => {
                "details need `authorization: Bearer <PLUGIN_HEALTH_AUTH_TOKEN>`"
            }
        }
    }
}

impl fmt::Display for Withheld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Withheld::TurnedOff => "details are turned off",
            Withheld::NoTokenConfigured => "no token is configured",
            Withheld::NoCredentials => "no authorization sent",
            Withheld::WrongCredentials => "the authorization does not match",
        })
    }
}

/// The decision for one request on `surface` (a short name for the log, such as `"grpc report"`)
/// that presented `authorization` (the raw header or metadata value, if any): details for
/// `always`, never for `never`, and for `when-authorized` only with `Bearer <token>` (the scheme
/// in any case, RFC 7235), the token compared in constant time.
///
/// A withheld request is logged at debug with the surface and the reason, never with what it
/// presented.
pub(crate) fn access(
    settings: &DetailSettings,
    authorization: Option<&[u8]>,
    surface: &'static str,
) -> Access {
    let access = decide(settings, authorization);
    if let Access::StatusesOnly(reason) = access {
        tracing::debug!(surface, %reason, "check details withheld");
    }
    access
}

fn decide(settings: &DetailSettings, authorization: Option<&[u8]>) -> Access {
    match settings.level {
        DetailLevel::Always => return Access::Details,
        DetailLevel::Never => return Access::StatusesOnly(Withheld::TurnedOff),
        DetailLevel::WhenAuthorized => {}
    }
    let Some(expected) = settings.token.as_deref() else {
        return Access::StatusesOnly(Withheld::NoTokenConfigured);
    };
    let Some(authorization) = authorization else {
        return Access::StatusesOnly(Withheld::NoCredentials);
    };
    match bearer(authorization) {
        Some(given) if same_token(expected.as_bytes(), given) => Access::Details,
        _ => Access::StatusesOnly(Withheld::WrongCredentials),
    }
}

/// Whether `given` is `expected`, in time that depends on neither's content nor on the
/// expected token's length (`ct_eq` on slices of different lengths returns at once): both are
/// compared over the longer length, padded with zeros, and the lengths are compared too.
fn same_token(expected: &[u8], given: &[u8]) -> bool {
    let len = expected.len().max(given.len());
    let padded = |bytes: &[u8]| {
        let mut padded = vec![0u8; len];
        padded[..bytes.len()].copy_from_slice(bytes);
        padded
    };
    let same_bytes = padded(expected).ct_eq(&padded(given));
    let same_len = (expected.len() as u64).ct_eq(&(given.len() as u64));
    bool::from(same_bytes & same_len)
}

/// The token of `Bearer <token>`, without surrounding blanks.
fn bearer(authorization: &[u8]) -> Option<&[u8]> {
    let authorization = authorization.trim_ascii();
    let split = authorization.iter().position(|&byte| byte == b' ')?;
    let (scheme, token) = authorization.split_at(split);
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| token.trim_ascii())
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_whole() {
        assert!(same_token(b"s3cret", b"s3cret"));
        for given in [&b""[..], b"s3cre", b"s3cret0", b"s3cret\0", b"S3cret"] {
            assert!(!same_token(b"s3cret", given), "{given:?}");
        }
    }

    fn settings(level: DetailLevel, token: Option<&str>) -> DetailSettings {
        DetailSettings {
            level,
            token: token.map(str::to_owned),
        }
    }

    #[test]
    fn every_level() {
        use Access::*;
        use DetailLevel::*;
        let cases: [(DetailLevel, Option<&str>, Option<&str>, Access); 11] = [
            (Always, None, None, Details),
            (Always, Some("t0k"), Some("Bearer wrong"), Details),
            (
                Never,
                Some("t0k"),
                Some("Bearer t0k"),
                StatusesOnly(Withheld::TurnedOff),
            ),
            (Never, None, None, StatusesOnly(Withheld::TurnedOff)),
            (
                WhenAuthorized,
                None,
                Some("Bearer t0k"),
                StatusesOnly(Withheld::NoTokenConfigured),
            ),
            (
                WhenAuthorized,
                Some("t0k"),
                None,
                StatusesOnly(Withheld::NoCredentials),
            ),
            (WhenAuthorized, Some("t0k"), Some("Bearer t0k"), Details),
            (WhenAuthorized, Some("t0k"), Some("bearer  t0k "), Details),
            (
                WhenAuthorized,
                Some("t0k"),
                Some("Bearer t0"),
                StatusesOnly(Withheld::WrongCredentials),
            ),
            (
                WhenAuthorized,
                Some("t0k"),
                Some("Basic t0k"),
                StatusesOnly(Withheld::WrongCredentials),
            ),
            (
                WhenAuthorized,
                Some("t0k"),
                Some("t0k"),
                StatusesOnly(Withheld::WrongCredentials),
            ),
        ];
        for (level, token, sent, expected) in cases {
            assert_eq!(
                decide(&settings(level, token), sent.map(str::as_bytes)),
                expected,
                "{level:?} {token:?} {sent:?}"
            );
        }
    }

    #[test]
    fn an_empty_bearer_is_no_token() {
        let settings = settings(DetailLevel::WhenAuthorized, Some("t0k"));
        assert_eq!(
            decide(&settings, Some(b"Bearer ")),
            Access::StatusesOnly(Withheld::WrongCredentials)
        );
    }
}
