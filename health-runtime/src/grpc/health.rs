use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::Stream;
use tokio::sync::watch;
use tonic::{Request, Response, Status as GrpcStatus};

use crate::pb::health::v1::health_check_response::ServingStatus;
use crate::pb::health::v1::health_server::Health;
use crate::pb::health::v1::{
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
};
use crate::state::resolve::{Verdict, selector};
use crate::{CheckInfo, HealthRuntime, HealthSnapshot, Status};

/// The most names `List` returns, from the protocol.
const LIST_LIMIT: usize = 100;

/// The standard `grpc.health.v1.Health` service, answering from a [`HealthRuntime`].
///
/// Mount it with [`routes`](super::routes), or wrap it yourself:
/// `HealthServer::new(HealthService::new(runtime))`, which is [`health_server`](super::health_server).
#[derive(Debug, Clone)]
pub struct HealthService {
    runtime: HealthRuntime,
    streams: Arc<WatchStreams>,
    /// Whether `Check` runs what is due first; otherwise it answers from the published state.
    fresh: bool,
}

impl HealthService {
    /// The service of `runtime`. Every service of one runtime shares one count of open
    /// `Watch` streams ([`watch_streams`](super::watch_streams)).
    pub fn new(runtime: HealthRuntime) -> Self {
        let streams = runtime.extension::<WatchStreams>();
        HealthService {
            runtime,
            streams,
            fresh: true,
        }
    }

    /// Whether this service answers from a published state that the application's runtime no
    /// longer keeps (the probe port, when that runtime has run nothing for a while).
    fn stalled(&self) -> bool {
        !self.fresh
            && self
                .runtime
                .extension::<crate::listen::Heartbeat>()
                .stalled(self.runtime.config().surfaces.probe_stall_timeout)
                .is_some()
    }

    /// The service of `runtime` answering only from the published state, which the monitor
    /// keeps: no call runs a check, so no call waits for one (the probe port). `Check` and
    /// `List` answer `NOT_SERVING` for every name once the runtime has stalled.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn published(runtime: HealthRuntime) -> Self {
        HealthService {
            fresh: false,
            ..HealthService::new(runtime)
        }
    }
}

/// How many `Watch` streams of one runtime are open, across all its services, and the most
/// open at once since they were last all closed.
#[derive(Debug, Default)]
pub(crate) struct WatchStreams(AtomicUsize, AtomicUsize);

impl WatchStreams {
    pub(crate) fn open(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// The stream of a `Watch` call.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, GrpcStatus>> + Send>>;

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, GrpcStatus> {
        let name = request.into_inner().service;
        check_request_name(&name)?;
        let snapshot = if self.fresh {
            self.runtime.resolved(&name).await
        } else {
            self.runtime.snapshot()
        };
        match serving_status(&snapshot, &name) {
            Some(_) if self.stalled() => Ok(Response::new(response(ServingStatus::NotServing))),
            Some(status) => Ok(Response::new(response(status))),
            None => Err(GrpcStatus::not_found(format!(
                "no health service named `{name}`"
            ))),
        }
    }

    async fn list(
        &self,
        _request: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, GrpcStatus> {
        let snapshot = self.runtime.snapshot();
        let stalled = self.stalled();
        let names = snapshot.statuses();
        if names.len() > LIST_LIMIT {
            return Err(GrpcStatus::resource_exhausted(format!(
                "{} health services exceed the {LIST_LIMIT} that List may return; use Check or Watch on each",
                names.len()
            )));
        }
        let statuses = names
            .keys()
            .filter_map(|name| {
                let status = serving_status(&snapshot, name)?;
                let status = if stalled {
                    ServingStatus::NotServing
                } else {
                    status
                };
                Some((name.to_string(), response(status)))
            })
            .collect();
        Ok(Response::new(HealthListResponse { statuses }))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<WatchStream>, GrpcStatus> {
        let name = request.into_inner().service;
        check_request_name(&name)?;
        // When nothing has run the checks behind the name yet, run them so that a real status
        // follows soon; otherwise watchers only read the published state.
        if self.fresh && self.runtime.snapshot().status_of(&name) == Some(Status::Unknown) {
            tokio::spawn(run_first(self.runtime.clone(), name.clone()));
        }

        let state = WatchState {
            updates: self.runtime.subscribe(),
            name,
            last: None,
            _stream: StreamGuard::new(self.streams.clone()),
        };
        Ok(Response::new(Box::pin(futures::stream::unfold(
            state,
            next_change,
        ))))
    }
}

struct WatchState {
    updates: watch::Receiver<Arc<HealthSnapshot>>,
    name: String,
    last: Option<ServingStatus>,
    _stream: StreamGuard,
}

/// The next status to send: the current one first, then only changes. While draining, the
/// stream ends once the drain delay has passed, unless `resume()` comes first.
async fn next_change(
    mut state: WatchState,
) -> Option<(Result<HealthCheckResponse, GrpcStatus>, WatchState)> {
    loop {
        // Only the status and the deadline are kept while waiting, not the snapshot.
        let (status, drain_deadline) = {
            let snapshot = state.updates.borrow_and_update();
            let status =
                serving_status(&snapshot, &state.name).unwrap_or(ServingStatus::ServiceUnknown);
            (status, snapshot.drain_deadline())
        };
        if state.last != Some(status) {
            state.last = Some(status);
            return Some((Ok(response(status)), state));
        }
        match drain_deadline {
            Some(deadline) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => return None,
                    changed = state.updates.changed() => changed.ok()?,
                }
            }
            // The runtime is gone when the sender is: the stream ends.
            None => state.updates.changed().await.ok()?,
        }
    }
}

/// Runs the checks behind `name` that have never run.
async fn run_first(runtime: HealthRuntime, name: String) {
    let snapshot = runtime.snapshot();
    let never_ran = |info: &CheckInfo| {
        snapshot
            .check(info.name())
            .is_some_and(|check| check.state().runs() == 0)
    };
    let behind_name = selector(&name);
    runtime
        .refresh(|info| behind_name(info) && never_ran(info))
        .await;
}

/// Counts a live `Watch` stream while it lives.
struct StreamGuard(Arc<WatchStreams>);

impl StreamGuard {
    fn new(streams: Arc<WatchStreams>) -> Self {
        let open = streams.0.fetch_add(1, Ordering::Relaxed) + 1;
        streams.1.fetch_max(open, Ordering::Relaxed);
        StreamGuard(streams)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let streams = &self.0;
        // The last stream of a burst (a storm of watchers, a killed client's thousands):
        // hand the memory they held back to the system.
        if streams.0.fetch_sub(1, Ordering::Relaxed) == 1
            && streams.1.swap(0, Ordering::Relaxed) >= crate::memory::BURST
        {
            crate::memory::release_after_burst();
        }
    }
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status.into(),
    }
}

/// The serving status of a name, or `None` when nothing answers to it.
fn serving_status(snapshot: &HealthSnapshot, name: &str) -> Option<ServingStatus> {
    Verdict::of(snapshot, name).map(|verdict| match verdict {
        Verdict::Serving => ServingStatus::Serving,
        Verdict::NotServing => ServingStatus::NotServing,
        Verdict::Unknown => ServingStatus::Unknown,
    })
}

/// Refuses names that can never exist, without echoing them back.
fn check_request_name(name: &str) -> Result<(), GrpcStatus> {
    use health_rules::name::NameProblem;
    match health_rules::name::check(name) {
        Ok(()) | Err(NameProblem::Empty | NameProblem::Reserved { .. }) => Ok(()),
        // The name itself is left out: it is the client's, and may be long or unprintable.
        Err(problem) => Err(GrpcStatus::invalid_argument(format!(
            "the service name {problem}"
        ))),
    }
}
