//! The instruments of every runtime: run counts and durations and transition records from the
//! engine's events, statuses and uptimes read by observable gauges from the published state.

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter};

use super::logs::{TransitionLogger, TransitionRecord};
use crate::runtime::WeakRuntime;
use crate::state::resolve::Verdict;
use crate::{HealthEvent, HealthObserver, Status};

/// The two results a run is counted under, as Prometheus' `health_checks_total{result}`.
const RESULTS: [&str; 2] = ["success", "failure"];

/// The states `health.check.status` has one series for, after the `hw.status` pattern.
const STATES: [Status; 4] = [
    Status::Healthy,
    Status::Warning,
    Status::Critical,
    Status::Unknown,
];

/// Bucket bounds of `health.check.duration`, in seconds: the Prometheus histogram's, from 1 ms
/// to 10 s (the SDK's default bounds are for milliseconds).
const DURATION_BOUNDS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The observer of one runtime: it only records into SDK instruments and hands records to the
/// logger's processor, never waiting on an export.
pub(crate) struct RunInstruments {
    runs: Counter<u64>,
    durations: Histogram<f64>,
    logger: Option<Arc<dyn TransitionLogger>>,
}

impl std::fmt::Debug for RunInstruments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunInstruments")
            .field("logs", &self.logger.is_some())
            .finish_non_exhaustive()
    }
}

impl RunInstruments {
    pub(crate) fn new(meter: &Meter, logger: Option<Arc<dyn TransitionLogger>>) -> Self {
        RunInstruments {
            runs: meter
                .u64_counter("health.check.runs")
                .with_unit("{run}")
                .with_description("Runs of each health check, by result")
                .build(),
            durations: meter
                .f64_histogram("health.check.duration")
                .with_unit("s")
                .with_description("Duration of health check runs")
                .with_boundaries(DURATION_BOUNDS.to_vec())
                .build(),
            logger,
        }
    }
}

impl HealthObserver for RunInstruments {
    fn on_event(&self, event: &HealthEvent) {
        match event {
            HealthEvent::Registered { check } => {
                // Both results show from the start, at zero.
                for result in RESULTS {
                    self.runs
                        .add(0, &run_attributes(check.name.clone(), result));
                }
            }
            HealthEvent::Ran {
                check,
                duration,
                failed,
            } => {
                let result = if *failed { RESULTS[1] } else { RESULTS[0] };
                let attributes = run_attributes(check.info.name.clone(), result);
                self.runs.add(1, &attributes);
                self.durations.record(duration.as_secs_f64(), &attributes);
            }
            HealthEvent::Transition {
                check,
                from,
                to,
                duration,
            } => {
                if let Some(logger) = &self.logger {
                    logger.emit(&TransitionRecord {
                        check,
                        from: *from,
                        to: *to,
                        duration: *duration,
                    });
                }
            }
            _ => {}
        }
    }
}

fn run_attributes(name: Arc<str>, result: &'static str) -> [KeyValue; 2] {
    [
        KeyValue::new("health.check.name", name),
        KeyValue::new("health.check.result", result),
    ]
}

/// Registers the observable gauges of one runtime on `meter`. Each callback holds the runtime
/// weakly and reports nothing once it is gone; the API has no way to unregister a callback, so
/// it stays with the meter provider, empty, until the provider goes.
pub(crate) fn register_gauges(meter: &Meter, runtime: WeakRuntime) {
    let statuses = runtime.clone();
    meter
        .i64_observable_gauge("health.status")
        .with_unit("1")
        .with_description(
            "Whether the health service name is serving (1) or not (0), as grpc.health.v1 answers",
        )
        .with_callback(move |observer| {
            let Some(runtime) = statuses.upgrade() else {
                return;
            };
            let snapshot = runtime.snapshot();
            for name in snapshot.statuses().keys() {
                let serving = Verdict::of(&snapshot, name) == Some(Verdict::Serving);
                observer.observe(
                    i64::from(serving),
                    &[KeyValue::new("health.service", name.clone())],
                );
            }
        })
        .build();
    let states = runtime.clone();
    meter
        .i64_observable_gauge("health.check.status")
        .with_unit("1")
        .with_description("1 for the state each health check is in, 0 for the others")
        .with_callback(move |observer| {
            let Some(runtime) = states.upgrade() else {
                return;
            };
            let snapshot = runtime.snapshot();
            for check in snapshot.checks() {
                let status = check.state().status();
                for state in STATES {
                    observer.observe(
                        i64::from(state == status),
                        &[
                            KeyValue::new("health.check.name", check.info.name.clone()),
                            KeyValue::new("health.check.state", state.as_str()),
                        ],
                    );
                }
            }
        })
        .build();
    meter
        .f64_observable_gauge("health.check.uptime")
        .with_unit("1")
        .with_description(
            "The share of the window the check spent serving (healthy or warning) rather than critical",
        )
        .with_callback(move |observer| {
            let Some(runtime) = runtime.upgrade() else {
                return;
            };
            let history = crate::history::of(&runtime);
            let snapshot = runtime.snapshot();
            for check in snapshot.checks() {
                for &(window, span) in crate::history::UPTIME_WINDOWS {
                    if let Some(ratio) = history.uptime(check.info().name(), span) {
                        observer.observe(
                            ratio,
                            &[
                                KeyValue::new("health.check.name", check.info.name.clone()),
                                KeyValue::new("health.window", window),
                            ],
                        );
                    }
                }
            }
        })
        .build();
}
