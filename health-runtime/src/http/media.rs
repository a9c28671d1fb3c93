//! What the probes and the report answer in: their own JSON by default, or
//! `application/health+json` when the request's `Accept` prefers it.

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::HealthRuntime;
use crate::state::health_json::{HealthJson, MEDIA_TYPE, Subject};

/// The body a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// The JSON the endpoints have always answered in.
    Json,
    /// `application/health+json`.
    HealthJson,
}

impl Format {
    /// `HealthJson` when `Accept` gives `application/health+json` a greater weight than
    /// `application/json`, each weighed by the most specific media range that matches it
    /// (RFC 9110 §12.5.1); `Json` otherwise, so that `*/*`, `application/*`, a tie, no match
    /// and no `Accept` keep the default. Parameters other than `q` are not compared, and a
    /// range that does not parse is skipped.
    pub(super) fn of(headers: &HeaderMap) -> Format {
        let (mut health, mut json) = (Weight::default(), Weight::default());
        let values = headers.get_all(header::ACCEPT).into_iter();
        for range in values
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(MediaRange::parse)
        {
            health.consider(&range, "application", "health+json");
            json.consider(&range, "application", "json");
        }
        if health.q > json.q {
            Format::HealthJson
        } else {
            Format::Json
        }
    }
}

/// The weight of one media type: the `q` of the most specific range matching it, the greatest
/// where several are as specific.
#[derive(Debug, Default)]
struct Weight {
    /// 0: nothing matched; 1: `*/*`; 2: `type/*`; 3: `type/subtype`.
    specificity: u8,
    /// In thousandths.
    q: u16,
}

impl Weight {
    fn consider(&mut self, range: &MediaRange<'_>, kind: &str, subtype: &str) {
        let specificity = match (range.kind, range.subtype) {
            ("*", "*") => 1,
            (k, "*") if k.eq_ignore_ascii_case(kind) => 2,
            (k, s) if k.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(subtype) => 3,
            _ => return,
        };
        if specificity > self.specificity {
            *self = Weight {
                specificity,
                q: range.q,
            };
        } else if specificity == self.specificity {
            self.q = self.q.max(range.q);
        }
    }
}

/// One element of `Accept`: `type/subtype` with its weight.
#[derive(Debug)]
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    /// In thousandths.
    q: u16,
}

impl<'a> MediaRange<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let token = |part: &str| !part.is_empty() && !part.contains(char::is_whitespace);
        if !token(kind) || !token(subtype) || (kind == "*" && subtype != "*") {
            return None;
        }
        let mut q = 1000;
        for parameter in parts {
            if let Some((name, value)) = parameter.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                q = qvalue(value.trim())?;
            }
        }
        Some(MediaRange { kind, subtype, q })
    }
}

/// A qvalue (RFC 9110 §12.4.2: `0`, `0.5`, `1`, `1.000`) in thousandths.
fn qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |sum, digit| sum * 10 + u16::from(digit - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// `document` as an `application/health+json` response with status `code`.
pub(super) fn health_json(code: StatusCode, document: &HealthJson) -> Response {
    let mut response = (code, axum::Json(document)).into_response();
    // Only a body that serialised is health+json (axum answers 500 in plain text otherwise).
    if response.status() == code {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    }
    response
}

/// `response` marked as chosen by `Accept`.
pub(super) fn vary(mut response: Response) -> Response {
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// Who a document is about: the version given to the builder and the program's name.
pub(super) fn subject(runtime: &HealthRuntime) -> Subject<'_> {
    Subject {
        release: runtime.version(),
        service: program(),
    }
}

/// The name of the running program, without a path or `.exe`.
fn program() -> Option<&'static str> {
    static NAME: OnceLock<Option<String>> = OnceLock::new();
    NAME.get_or_init(|| {
        let exe = std::env::current_exe().ok()?;
        let name = exe.file_name()?.to_str()?;
        // Linux shows a binary replaced while it runs as `<name> (deleted)`.
        let name = name.strip_suffix(" (deleted)").unwrap_or(name);
        let name = name
            .strip_suffix(std::env::consts::EXE_SUFFIX)
            .filter(|name| !name.is_empty())
            .unwrap_or(name);
        Some(name.to_owned())
    })
    .as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(accept: &[&str]) -> Format {
        let mut headers = HeaderMap::new();
        for value in accept {
            headers.append(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        }
        Format::of(&headers)
    }

    #[test]
    fn accept_chooses_by_weight_and_specificity() {
        use Format::*;
        let cases: &[(&[&str], Format)] = &[
            (&[], Json),
            (&["*/*"], Json),
            (&["application/*"], Json),
            (&["application/json"], Json),
            (&["text/html"], Json),
            (&["application/health+json"], HealthJson),
            (&["APPLICATION/Health+JSON"], HealthJson),
            (&["application/health+json; charset=utf-8"], HealthJson),
            (
                &["application/health+json;q=0.9, application/json;q=0.1"],
                HealthJson,
            ),
            (
                &["application/json;q=0.1, application/health+json;q=0.9"],
                HealthJson,
            ),
            (
                &["application/json;q=0.9, application/health+json;q=0.1"],
                Json,
            ),
            (&["application/health+json, application/json"], Json),
            (&["application/health+json, */*;q=0.1"], HealthJson),
            (&["application/health+json;q=0.5, */*"], Json),
            // `application/*` is more specific than `*/*` for `application/json`.
            (
                &["application/health+json;q=0.5, application/*;q=0.4, */*"],
                HealthJson,
            ),
            (&["application/health+json;q=0"], Json),
            (&["application/health+json ; Q=0.001"], HealthJson),
            (&["application/health+json;q=0, */*"], Json),
            // The most specific range decides, whatever `*/*` says.
            (&["*/*;q=0.1, application/health+json;q=0.2"], HealthJson),
            (&["text/plain", "application/health+json"], HealthJson),
            // Ranges that do not parse are skipped.
            (&["application/health+json;q=2"], Json),
            (&["application/health+json;q=0.0001"], Json),
            (&["application/health+json;q=x"], Json),
            (&["*/health+json"], Json),
            (
                &["application/health+json;q=1.5, application/health+json;q=0.3"],
                HealthJson,
            ),
            (&[",,application/health+json,,"], HealthJson),
        ];
        for (accept, expected) in cases {
            assert_eq!(format(accept), *expected, "{accept:?}");
        }
    }

    #[test]
    fn qvalues() {
        for (text, q) in [
            ("0", Some(0)),
            ("0.", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.123", Some(123)),
            ("1", Some(1000)),
            ("1.000", Some(1000)),
            ("1.001", None),
            ("0.1234", None),
            ("", None),
            ("2", None),
            ("-0", None),
            (".5", None),
            ("0.5a", None),
        ] {
            assert_eq!(qvalue(text), q, "{text:?}");
        }
    }

    #[test]
    fn the_program_has_a_name() {
        let name = program().unwrap();
        assert!(!name.is_empty() && !name.contains('/'), "{name}");
    }
}
