//! Transition log records through the OpenTelemetry Logs bridge API. `opentelemetry` 0.33 has
//! no global logger provider (only tracer and meter providers are global), so the crate keeps
//! one, set with [`set_logger_provider`] ([`Otlp::install`](super::Otlp::install) sets it).

use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger, LoggerProvider, Severity};
use opentelemetry::{Key, StringValue};

use crate::{CheckSnapshot, Status};

/// The event name of every transition record.
pub(crate) const TRANSITION_EVENT: &str = "health.check.transition";

/// A logger of any provider, type-erased: the bridge API's traits have associated types.
pub(crate) trait TransitionLogger: Send + Sync {
    fn emit(&self, transition: &TransitionRecord<'_>);
}

/// What one transition record says.
#[derive(Debug)]
pub(crate) struct TransitionRecord<'a> {
    pub(crate) check: &'a CheckSnapshot,
    pub(crate) from: Status,
    pub(crate) to: Status,
    pub(crate) duration: std::time::Duration,
}

struct Bridge<L>(L);

impl<L> TransitionLogger for Bridge<L>
where
    L: Logger + Send + Sync,
{
    fn emit(&self, transition: &TransitionRecord<'_>) {
        let (severity, text) = severity(transition.to);
        if !self
            .0
            .event_enabled(severity, "health_runtime", Some(TRANSITION_EVENT))
        {
            return;
        }
        let check = transition.check;
        let name = check.info().name();
        let state = check.state();
        let mut record = self.0.create_log_record();
        record.set_event_name(TRANSITION_EVENT);
        record.set_target("health_runtime");
        record.set_severity_number(severity);
        record.set_severity_text(text);
        let now = SystemTime::now();
        record.set_timestamp(state.last_run().unwrap_or(now));
        record.set_observed_timestamp(now);
        record.set_body(AnyValue::from(format!(
            "health check {name}: {} -> {}",
            transition.from, transition.to
        )));
        record.add_attribute(
            "health.check.name",
            StringValue::from(check.info.name.clone()),
        );
        record.add_attribute("health.check.from", transition.from.as_str());
        record.add_attribute("health.check.to", transition.to.as_str());
        if let Some(message) = state.message() {
            record.add_attribute("health.check.message", message.to_owned());
        }
        if let Some(value) = state.value() {
            record.add_attribute("health.check.value", value);
        }
        record.add_attribute("health.check.duration", transition.duration.as_secs_f64());
        let groups: Vec<AnyValue> = check
            .info()
            .groups()
            .iter()
            .map(|group| AnyValue::from(group.as_str()))
            .collect();
        record.add_attribute(
            Key::from_static_str("health.check.groups"),
            AnyValue::ListAny(Box::new(groups)),
        );
        self.0.emit(record);
    }
}

/// INFO into healthy (and unknown), WARN into warning, ERROR into critical.
fn severity(to: Status) -> (Severity, &'static str) {
    match to {
        Status::Warning => (Severity::Warn, "WARN"),
        Status::Critical => (Severity::Error, "ERROR"),
        Status::Healthy | Status::Unknown => (Severity::Info, "INFO"),
    }
}

static PROVIDER: RwLock<Option<Arc<dyn TransitionLogger>>> = RwLock::new(None);

/// Sets the logger provider the transition records of runtimes built from now on go to: the
/// crate's stand-in for a global logger provider, which `opentelemetry` 0.33 lacks. The
/// logger gets the instrumentation scope `health-runtime` with the crate's version.
///
/// Give it a provider whose processor batches (the SDK's `with_batch_exporter`): the record is
/// emitted inside the engine, and a simple processor would export it there, on the run's task.
///
/// ```
/// let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder().build();
/// health_runtime::otel::set_logger_provider(&provider);
/// ```
pub fn set_logger_provider<P>(provider: &P)
where
    P: LoggerProvider,
    P::Logger: Send + Sync + 'static,
{
    *PROVIDER.write().unwrap_or_else(PoisonError::into_inner) = Some(bridge(provider));
}

/// A logger of `provider` with the crate's scope, type-erased.
pub(crate) fn bridge<P>(provider: &P) -> Arc<dyn TransitionLogger>
where
    P: LoggerProvider,
    P::Logger: Send + Sync + 'static,
{
    Arc::new(Bridge(provider.logger_with_scope(super::scope())))
}

/// The logger of the provider set last, if any.
pub(crate) fn logger() -> Option<Arc<dyn TransitionLogger>> {
    PROVIDER
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}
