//! Per-layer filters: [`WithoutHealth`] keeps health-runtime's check runs out of an
//! application's layers; `HealthSpans` keeps a layer to them.

use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

/// The engine's span around each check run.
const RUN_SPAN: &str = "health_check";

/// The most verbose level the run spans' layer takes: a check's code, and the libraries it
/// calls, may log at `DEBUG` and `TRACE` without it costing every callsite of the process a
/// lookup, or filling the health traces.
const HEALTH_SPANS_LEVEL: Level = Level::INFO;

/// Whether `target` is this crate's (`health_runtime`, `health_runtime::...`).
fn is_ours(target: &str) -> bool {
    target
        .strip_prefix("health_runtime")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// A per-layer filter dropping the spans and events of health-runtime (target
/// `health_runtime::*`): the `health_check` span of every check run and what the engine logs
/// inside it, and the spans and events a check's own code makes while the engine runs it (a
/// database client's query span in a check that pings the database, say). Add it to the
/// application's own tracing-opentelemetry layer (or any layer) with
/// [`Layer::with_filter`](tracing_subscriber::Layer::with_filter); the other layers still see
/// everything. Made by [`without_health`].
///
/// A check's code is recognised while the engine runs it: on the check's task (an `async`
/// check) or its blocking-pool thread (a plain `fn` check). Work the check hands to a task of
/// its own (`tokio::spawn`), or to a connection pool's background task, is the application's.
/// The crate's own callsites are decided once, by tracing's callsite cache; any other costs a
/// task-local lookup per span or event.
#[derive(Debug, Clone, Copy, Default)]
pub struct WithoutHealth {
    _private: (),
}

/// The filter that keeps health-runtime's check runs out of a layer: see [`WithoutHealth`] and
/// the [module docs](super#keeping-health-out-of-the-applications-traces).
pub fn without_health() -> WithoutHealth {
    WithoutHealth::default()
}

impl<S> Filter<S> for WithoutHealth {
    fn enabled(&self, metadata: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        !is_ours(metadata.target()) && !crate::engine::in_check_run()
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if is_ours(metadata.target()) {
            Interest::never()
        } else {
            // Whether it is in a check's code is known only when it happens.
            Interest::sometimes()
        }
    }
}

/// The filter of [`Telemetry::tracing_layer`](super::Telemetry::tracing_layer): the engine's
/// `health_check` spans, the crate's events inside them, and the spans and events of a check's
/// own code while the engine runs it, at `INFO` and above, nothing else.
///
/// Nothing it enables is enabled by [`WithoutHealth`] (both go by the crate's targets and
/// [`in_check_run`](crate::engine::in_check_run)): a span
/// must never reach two tracing-opentelemetry layers of one subscriber, which would both store
/// their data in its extensions (and tracing-subscriber panics on the second).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HealthSpans;

impl<S> Filter<S> for HealthSpans
where
    S: tracing::Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn enabled(&self, metadata: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        if *metadata.level() > HEALTH_SPANS_LEVEL {
            return false;
        }
        if !is_ours(metadata.target()) {
            return crate::engine::in_check_run();
        }
        if metadata.is_span() && metadata.name() == RUN_SPAN {
            return true;
        }
        // The context only shows the spans this filter enabled: a current span means a run's.
        cx.lookup_current().is_some()
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if *metadata.level() > HEALTH_SPANS_LEVEL {
            Interest::never()
        } else if metadata.is_span() && is_ours(metadata.target()) && metadata.name() == RUN_SPAN {
            Interest::always()
        } else {
            Interest::sometimes()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(HEALTH_SPANS_LEVEL))
    }
}

#[cfg(test)]
mod tests {
    use super::is_ours;

    #[test]
    fn only_the_crates_targets_are_ours() {
        assert!(is_ours("health_runtime"));
        assert!(is_ours("health_runtime::engine"));
        assert!(!is_ours("health_runtime_ext"));
        assert!(!is_ours("my_app::health_runtime"));
    }
}
