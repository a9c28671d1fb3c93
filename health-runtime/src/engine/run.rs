//! One run of a check: under its timeout, on its own task so that a panic is contained, and the
//! state it leaves behind, with `failure_threshold` damping.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tracing::Instrument as _;

use super::Entry;
use crate::check::Runner;
use crate::{CheckError, CheckInfo, CheckOutcome, CheckState, Status};

/// How one run ended.
pub(super) enum RunResult {
    Completed(Result<CheckOutcome, CheckError>),
    Panicked(String),
    TimedOut,
    StillRunning,
}

tokio::task_local! {
    /// Set on the task of an `async` check's code while it runs.
    static IN_ASYNC_RUN: ();
}

thread_local! {
    /// Set on the blocking-pool thread of a plain `fn` check while its code runs.
    static IN_BLOCKING_RUN: Cell<bool> = const { Cell::new(false) };
}

/// Whether the caller is a check's own code, run by the engine (directly, not on a task the
/// check spawned itself): what tracing filters use to tell the spans and events of check runs
/// (a database client's, say) from the application's.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
pub(crate) fn in_check_run() -> bool {
    IN_ASYNC_RUN.try_with(|()| ()).is_ok() || IN_BLOCKING_RUN.with(Cell::get)
}

/// Marks the current thread as running a blocking check's code until dropped.
struct BlockingRun {
    was: bool,
}

impl BlockingRun {
    fn enter() -> Self {
        BlockingRun {
            was: IN_BLOCKING_RUN.with(|flag| flag.replace(true)),
        }
    }
}

impl Drop for BlockingRun {
    fn drop(&mut self) {
        IN_BLOCKING_RUN.with(|flag| flag.set(self.was));
    }
}

/// Runs the check once under its timeout, on its own task so that a panic is contained. An
/// `async` check's code runs inside the run's span (the caller's current span), so that the
/// spans it makes are children of the run's; it is dropped at its timeout.
pub(super) async fn execute(entry: &Entry) -> RunResult {
    if entry.busy.swap(true, Ordering::AcqRel) {
        return RunResult::StillRunning;
    }
    let busy = BusyGuard(entry.busy.clone());
    let mut task = match &entry.runner {
        Runner::Async(run) => {
            let run = run.clone();
            let code = async move {
                let _busy = busy;
                run().await
            };
            tokio::spawn(IN_ASYNC_RUN.scope((), code).in_current_span())
        }
        Runner::Blocking(run) => {
            let run = run.clone();
            // The blocking pool's threads have no subscriber of their own: the run's (a
            // scoped one, `tracing::subscriber::set_default`, included) goes along. The run's
            // span does not: a blocking check runs on past its timeout, and would hold the
            // span open, and unexported, as long as it hangs; what its code makes has no parent.
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            tokio::task::spawn_blocking(move || {
                let _busy = busy;
                tracing::dispatcher::with_default(&dispatch, || {
                    let _marked = BlockingRun::enter();
                    run()
                })
            })
        }
    };
    match tokio::time::timeout(entry.info.timeout, &mut task).await {
        Ok(Ok(outcome)) => RunResult::Completed(outcome),
        Ok(Err(error)) if error.is_panic() => {
            RunResult::Panicked(panic_message(&*error.into_panic()))
        }
        Ok(Err(_)) => RunResult::Completed(Err(CheckError::new("the check's task was cancelled"))),
        Err(_) => {
            // Dropping an async check at its next await; a blocking one runs on until it returns.
            task.abort();
            RunResult::TimedOut
        }
    }
}

/// Clears the busy flag when the run's task ends, however it ends.
struct BusyGuard(Arc<AtomicBool>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// The state after one more run, with `failure_threshold` damping.
pub(super) fn next_state(
    previous: &CheckState,
    info: &CheckInfo,
    result: RunResult,
    duration: Duration,
) -> CheckState {
    let timeout = || humantime::format_duration(info.timeout);
    // A timeout shown as healthy (`on_timeout = "healthy"`) is still a failed run.
    let completed_healthy =
        matches!(&result, RunResult::Completed(Ok(outcome)) if outcome.status() == Status::Healthy);
    let (raw, value, threshold, message) = match result {
        RunResult::Completed(Ok(outcome)) => outcome.into_parts(),
        RunResult::Completed(Err(error)) => (info.on_error, None, None, Some(error.to_string())),
        RunResult::Panicked(message) => (
            info.on_error,
            None,
            None,
            Some(format!("check panicked: {message}")),
        ),
        RunResult::TimedOut => (
            info.on_timeout,
            None,
            None,
            Some(format!("timed out after {}", timeout())),
        ),
        RunResult::StillRunning => (
            info.on_timeout,
            None,
            None,
            Some(format!(
                "an earlier run timed out after {} and has not returned yet",
                timeout()
            )),
        ),
    };
    let now = SystemTime::now();
    let failed = !completed_healthy;
    let consecutive_failures = if failed {
        previous.consecutive_failures.saturating_add(1)
    } else {
        0
    };
    let held_back = failed && consecutive_failures < info.failure_threshold;
    let (status, message) = if held_back {
        let detail = message.unwrap_or_else(|| format!("status {raw}"));
        (
            previous.status,
            Some(format!(
                "{detail} (failure {consecutive_failures} of {} before it shows)",
                info.failure_threshold
            )),
        )
    } else {
        (raw, message)
    };
    CheckState {
        status,
        last_run_status: raw,
        message,
        value,
        threshold,
        duration: Some(duration),
        last_run: Some(now),
        last_success: if failed {
            previous.last_success
        } else {
            Some(now)
        },
        finished_at: Some(Instant::now()),
        consecutive_failures,
        runs: previous.runs + 1,
        failures: previous.failures + u64::from(failed),
    }
}
