//! Logs in hclog's JSON format, which go-plugin hosts parse from a plugin's stderr and re-log at
//! the line's own level (`log_entry.go` and `Client.logStderr` in go-plugin).

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// A [`tracing_subscriber::fmt`](mod@tracing_subscriber::fmt) event format that writes each event as one line of hclog JSON:
/// `@level` (`trace`, `debug`, `info`, `warn`, `error`), `@message`, `@timestamp` (UTC, RFC 3339
/// with microseconds, the precision go-plugin parses), `target` (the event's target), and each
/// field of the event as a key of its own. The fields of enclosing spans are not written.
/// `@module` is left to the host, which names each plugin's lines after its binary.
///
/// A go-plugin host re-logs every such line through its own logger at that level; a line that is
/// not hclog JSON is re-logged verbatim at debug level.
///
/// ```
/// use health_runtime::plugin::HclogFormat;
///
/// tracing_subscriber::fmt()
///     .event_format(HclogFormat::new())
///     .with_writer(std::io::stderr)
///     .init();
/// tracing::info!(port = 8080, "listening");
/// // {"@level":"info","@message":"listening","@timestamp":"2026-12-01T09:30:00.123456Z","port":8080,"target":"rust_out"}
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct HclogFormat {
    _private: (),
}

impl HclogFormat {
    /// The format.
    pub fn new() -> Self {
        HclogFormat::default()
    }

    /// One event's line, without the newline.
    fn line(event: &Event<'_>) -> String {
        let metadata = event.metadata();
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        let mut line = fields.0;
        // go-plugin reads `@message` as a string and nothing else (a number would crash the host's
        // parser), and the `@` keys are hclog's own.
        let message = match line.remove("message") {
            Some(Value::String(message)) => message,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        line.insert("@level".to_owned(), Value::from(level(*metadata.level())));
        line.insert("@message".to_owned(), Value::from(message));
        line.insert("target".to_owned(), Value::from(metadata.target()));
        line.insert(
            "@timestamp".to_owned(),
            Value::from(humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()),
        );
        Value::Object(line).to_string()
    }
}

impl<S, N> FormatEvent<S, N> for HclogFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writeln!(writer, "{}", HclogFormat::line(event))
    }
}

/// hclog's names of the levels.
fn level(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// Collects an event's fields as JSON values.
struct Fields(Map<String, Value>);

impl Fields {
    /// Keeps `value` under the field's name; names starting with `@` are hclog's, so a field of
    /// that name is kept as `_@name`.
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        let key = if name.starts_with('@') {
            format!("_{name}")
        } else {
            name.to_owned()
        };
        self.0.insert(key, value);
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::from(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_one_hclog_json_object_per_line() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(HclogFormat::new())
            .with_max_level(Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(message = 42, "@level" = "mine");
            tracing::warn!(
                port = 8080_u16,
                ratio = 0.5,
                ok = true,
                name = "db",
                "check \"failed\"\nagain"
            );
            tracing::trace!(error = %std::io::Error::other("boom"), "second");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let odd: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(odd["@message"], "42");
        assert_eq!(odd["@level"], "info");
        assert_eq!(odd["_@level"], "mine");
        let lines = &lines[1..];
        let first: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first["@level"], "warn");
        assert_eq!(first["@message"], "check \"failed\"\nagain");
        assert_eq!(first["port"], 8080);
        assert_eq!(first["ratio"], 0.5);
        assert_eq!(first["ok"], true);
        assert_eq!(first["name"], "db");
        assert!(first["target"].as_str().unwrap().contains("log"));
        assert!(first.get("@module").is_none());
        let second: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["@level"], "trace");
        assert_eq!(second["error"], "boom");
        // go-plugin parses `2006-01-02T15:04:05.000000Z07:00`.
        let stamp = first["@timestamp"].as_str().unwrap();
        assert_eq!(stamp.len(), "2026-12-01T09:30:00.123456Z".len(), "{stamp}");
        assert_eq!(&stamp[19..20], ".");
        assert!(stamp.ends_with('Z'));
        assert!(humantime::parse_rfc3339(stamp).is_ok());
    }
}
