//! The surfaces that show history and change: `/health/history` (JSON), `/health/events`
//! (Server-Sent Events) and the status page `/health/ui` that reads them.
//!
//! Every event stream of a runtime shares one feed: a task follows the published state and the
//! engine's events, and serialises each state and each transition once, in both forms (with
//! details, statuses only). A stream sends the form its request may see, by the same detail
//! decision as the report; a new state or transition costs the same however many streams are
//! open, and a stream holds only its position.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use super::{PROBE_GROUPS, access, error};
use crate::config::DetailLevel;
use crate::history::{History, TransitionEntry};
use crate::runtime::details::Withheld;
use crate::state::resolve::{Verdict, selector};
use crate::{HealthEvent, HealthReport, HealthRuntime, HealthSnapshot};

/// How often an otherwise quiet event stream sends a comment: proxies, and the connection's
/// own idle timeout, keep a stream that moves bytes.
pub(super) const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How many transitions a slow event stream may fall behind before it skips to the newest; its
/// next state frame still carries every status.
const TRANSITION_BACKLOG: usize = 256;

#[derive(Debug, Deserialize)]
pub(super) struct HistoryQuery {
    check: Option<String>,
}

/// `GET /health/history[?check=NAME]`: the kept transitions and uptime of every check (or one),
/// with messages and values only for a request the detail level allows.
pub(super) async fn history(
    State(runtime): State<HealthRuntime>,
    query: Result<axum::extract::Query<HistoryQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let check = match query {
        Ok(axum::extract::Query(query)) => query.check,
        Err(rejection) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("the query is not valid: {}", rejection.body_text()),
            );
        }
    };
    let details = access(&runtime, &headers, "http history").shows_details();
    let snapshot = runtime.snapshot();
    let names: Vec<&str> = snapshot
        .checks()
        .map(|check| check.info().name())
        .filter(|name| {
            check
                .as_deref()
                .is_none_or(|wanted| wanted.is_empty() || wanted == *name)
        })
        .collect();
    if let (Some(check), true) = (check.as_ref().filter(|c| !c.is_empty()), names.is_empty()) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("no check named `{}`", check.escape_debug()),
        );
    }
    axum::Json(crate::history::of(&runtime).report(names, details)).into_response()
}

/// The status page and its script and style sheet, embedded in the binary.
const PAGE: &str = include_str!("ui/index.html");
const SCRIPT: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/style.css");

/// What the page may load and reach: itself, nothing else. No inline script or style.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// `GET /health/ui` and its assets: `asset` is one of the three embedded files.
pub(super) fn page(runtime: &HealthRuntime, asset: Asset) -> Response {
    if !runtime.config().surfaces.status_page {
        return error(
            StatusCode::NOT_FOUND,
            "the status page is turned off (PLUGIN_HEALTH_UI=false)",
        );
    }
    let (content_type, body) = match asset {
        Asset::Page => ("text/html; charset=utf-8", PAGE),
        Asset::Script => ("text/javascript; charset=utf-8", SCRIPT),
        Asset::Style => ("text/css; charset=utf-8", STYLE),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

/// One of the status page's files.
#[derive(Debug, Clone, Copy)]
pub(super) enum Asset {
    Page,
    Script,
    Style,
}

/// `GET /health/events`: Server-Sent Events of the published state (`event: state`, first on
/// connect, then on every change) and of every transition (`event: transition`), until the
/// drain delay ends on shutdown or the server stops.
pub(super) async fn events(
    State(runtime): State<HealthRuntime>,
    stop: Option<axum::Extension<StopStreams>>,
    headers: HeaderMap,
) -> Response {
    let details = access(&runtime, &headers, "http events").shows_details();
    let feed = runtime.extension::<Feed>();
    let (state, transitions) = feed.subscribe(&runtime);
    // Quiet streams send a comment well within the connection's idle timeout.
    let idle = runtime.config().surfaces.limits.idle_timeout;
    let stream = EventStream {
        state,
        transitions,
        details,
        first: true,
        keep_alive: KEEP_ALIVE.min(idle / 2).max(Duration::from_millis(100)),
        stop: stop.map(|axum::Extension(StopStreams(stop))| stop),
    };
    let body = Body::from_stream(futures::stream::unfold(stream, EventStream::next));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            // Proxies such as nginx buffer responses unless told not to.
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        body,
    )
        .into_response()
}

/// When the server serving the event streams stops: they end then, drained or not.
#[derive(Clone)]
pub(crate) struct StopStreams(pub(crate) crate::listen::Drained);

/// One serialised frame in both forms.
#[derive(Debug)]
struct Frame {
    details: Bytes,
    statuses: Bytes,
}

impl Frame {
    fn form(&self, details: bool) -> Bytes {
        if details {
            self.details.clone()
        } else {
            self.statuses.clone()
        }
    }
}

/// The latest state frame, and when the streams end.
#[derive(Debug)]
struct StateFrame {
    frame: Frame,
    drain_deadline: Option<Instant>,
}

/// The fewest time between two state frames: a burst of runs makes one frame, not one per run.
/// Transitions are sent at once.
const STATE_GAP: Duration = Duration::from_millis(250);

/// The feed every event stream of one runtime reads. Its task starts with the first stream and
/// ends when the last one has closed (or the runtime is gone, or the tokio runtime it ran on
/// shut down); the next stream starts another.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    running: Mutex<Option<Channels>>,
}

#[derive(Debug)]
struct Channels {
    state: watch::Receiver<Option<Arc<StateFrame>>>,
    transitions: broadcast::Sender<Arc<Frame>>,
    task: tokio::task::AbortHandle,
}

type Subscription = (
    watch::Receiver<Option<Arc<StateFrame>>>,
    broadcast::Receiver<Arc<Frame>>,
);

impl Feed {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Channels>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The feed's receivers, starting its task if none runs.
    fn subscribe(self: &Arc<Self>, runtime: &HealthRuntime) -> Subscription {
        let mut running = self.lock();
        if let Some(channels) = running
            .as_ref()
            .filter(|channels| !channels.task.is_finished())
        {
            return (channels.state.clone(), channels.transitions.subscribe());
        }
        let (state_tx, state) = watch::channel(None);
        let (transitions, subscription) = broadcast::channel(TRANSITION_BACKLOG);
        let source = Source {
            snapshots: runtime.subscribe(),
            events: runtime.events(),
            history: crate::history::of(runtime),
            version: runtime.version().to_owned(),
            started: Instant::now() - runtime.uptime(),
            hint: match runtime.config().details.level {
                DetailLevel::Never => Withheld::TurnedOff.hint(),
                _ => Withheld::NoCredentials.hint(),
            },
        };
        let task = tokio::spawn(source.publish(self.clone(), state_tx, transitions.clone()));
        *running = Some(Channels {
            state: state.clone(),
            transitions,
            task: task.abort_handle(),
        });
        (state, subscription)
    }

    /// Whether no stream is open: if so, the feed stops, under the lock that streams subscribe
    /// under, so that none subscribes to a feed about to stop.
    fn stop_if_unused(&self, state: &watch::Sender<Option<Arc<StateFrame>>>) -> bool {
        let mut running = self.lock();
        let unused = running.as_ref().is_none_or(|channels| {
            // The one receiver left is the feed's own.
            state.receiver_count() <= 1 && channels.transitions.receiver_count() == 0
        });
        if unused {
            *running = None;
        }
        unused
    }
}

/// What the feed's task reads. It holds no [`HealthRuntime`]: it ends when the runtime is gone.
struct Source {
    snapshots: watch::Receiver<Arc<HealthSnapshot>>,
    events: broadcast::Receiver<HealthEvent>,
    history: Arc<History>,
    version: String,
    started: Instant,
    /// What a stream without details is told to send.
    hint: &'static str,
}

impl Source {
    async fn publish(
        mut self,
        feed: Arc<Feed>,
        state: watch::Sender<Option<Arc<StateFrame>>>,
        transitions: broadcast::Sender<Arc<Frame>>,
    ) {
        // Every publication of the state is followed by an event (a run, a registration, a
        // drain): the events say when to build a frame, at most one per `STATE_GAP`.
        let mut built = self.build(&state);
        let mut dirty = false;
        loop {
            let event = if dirty {
                tokio::select! {
                    () = tokio::time::sleep_until(built + STATE_GAP) => {
                        built = self.build(&state);
                        dirty = false;
                        continue;
                    }
                    event = self.events.recv() => event,
                }
            } else {
                self.events.recv().await
            };
            // This event and every one already queued.
            let mut event = event;
            loop {
                match event {
                    Ok(HealthEvent::Transition {
                        check,
                        from,
                        to,
                        duration,
                    }) if transitions.receiver_count() > 0 => {
                        let frame = transition_frame(&check, from, to, duration);
                        // Every stream may have closed since: nothing to do then.
                        let _ = transitions.send(Arc::new(frame));
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
                event = match self.events.try_recv() {
                    Ok(event) => Ok(event),
                    Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                        Err(broadcast::error::RecvError::Lagged(missed))
                    }
                    Err(broadcast::error::TryRecvError::Empty) => break,
                    Err(broadcast::error::TryRecvError::Closed) => return,
                };
            }
            if feed.stop_if_unused(&state) {
                return;
            }
            dirty = true;
            if built.elapsed() >= STATE_GAP {
                built = self.build(&state);
                dirty = false;
            }
        }
    }

    /// Sends the frame of the published state now; returns when.
    fn build(&self, state: &watch::Sender<Option<Arc<StateFrame>>>) -> Instant {
        let snapshot = self.snapshots.borrow().clone();
        state.send_replace(Some(Arc::new(self.state_frame(&snapshot))));
        Instant::now()
    }

    fn state_frame(&self, snapshot: &HealthSnapshot) -> StateFrame {
        let report = HealthReport::from_snapshot(snapshot, self.started.elapsed(), &self.version);
        let uptime: BTreeMap<&str, _> = snapshot
            .checks()
            .map(|check| {
                let name = check.info().name();
                (name, self.history.uptimes(name))
            })
            .collect();
        let probes: Vec<_> = PROBE_GROUPS
            .iter()
            .map(|group| {
                let members = selector(group.service);
                json!({
                    "group": group.group,
                    "grpc": group.grpc,
                    "http": group.http,
                    "status": snapshot.status_of(group.service).unwrap_or_default(),
                    "serving": Verdict::of(snapshot, group.service) == Some(Verdict::Serving),
                    "checks": snapshot
                        .checks()
                        .filter(|check| members(check.info()))
                        .map(|check| check.info().name())
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut services: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for check in snapshot.checks() {
            if let Some(service) = check.info().service() {
                services
                    .entry(service)
                    .or_default()
                    .push(check.info().name());
            }
        }
        let body = |report: &HealthReport, details: bool| {
            json!({
                "report": report,
                "details": details,
                "withheld": (!details).then_some(self.hint),
                "draining": snapshot.is_draining(),
                "uptime": uptime,
                "probes": probes,
                "services": services,
            })
        };
        let details = sse("state", &body(&report, true));
        let statuses = sse("state", &body(&report.without_details(), false));
        StateFrame {
            frame: Frame { details, statuses },
            drain_deadline: snapshot.drain_deadline(),
        }
    }
}

fn transition_frame(
    check: &crate::CheckSnapshot,
    from: crate::Status,
    to: crate::Status,
    duration: Duration,
) -> Frame {
    #[derive(Serialize)]
    struct Entry<'a> {
        check: &'a str,
        #[serde(flatten)]
        transition: TransitionEntry,
    }
    let transition = crate::history::Transition::of_run(check, from, to, duration);
    let entry = |details| Entry {
        check: check.info().name(),
        transition: TransitionEntry::new(&transition, details),
    };
    Frame {
        details: sse("transition", &entry(true)),
        statuses: sse("transition", &entry(false)),
    }
}

/// One SSE frame: `event: <name>` and the JSON on one `data:` line (JSON holds no raw newline).
fn sse(event: &str, data: &impl Serialize) -> Bytes {
    let mut frame = format!("event: {event}\ndata: ").into_bytes();
    // A frame holds strings, numbers and maps with string keys: it always serialises.
    if let Err(problem) = serde_json::to_writer(&mut frame, data) {
        tracing::error!(%problem, "event not serialised");
    }
    frame.extend_from_slice(b"\n\n");
    Bytes::from(frame)
}

/// One open event stream: where it is in the feed.
struct EventStream {
    state: watch::Receiver<Option<Arc<StateFrame>>>,
    transitions: broadcast::Receiver<Arc<Frame>>,
    details: bool,
    first: bool,
    keep_alive: Duration,
    stop: Option<crate::listen::Drained>,
}

impl EventStream {
    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Self)> {
        if self.first {
            self.first = false;
            let frame = self.state.wait_for(Option::is_some).await.ok()?.clone()?;
            return Some((Ok(frame.frame.form(self.details)), self));
        }
        let deadline = self
            .state
            .borrow()
            .as_ref()
            .and_then(|frame| frame.drain_deadline);
        let drained = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        let stopped = {
            let stop = self.stop.clone();
            async move {
                match stop {
                    Some(stop) => stop.await,
                    None => std::future::pending().await,
                }
            }
        };
        let bytes = tokio::select! {
            () = drained => return None,
            () = stopped => return None,
            changed = self.state.changed() => {
                changed.ok()?;
                let frame = self.state.borrow_and_update().clone()?;
                frame.frame.form(self.details)
            }
            transition = self.transitions.recv() => match transition {
                Ok(frame) => frame.form(self.details),
                // Behind: the next frames carry on; the state frame has every status.
                Err(broadcast::error::RecvError::Lagged(_)) => Bytes::from_static(b": lagged\n\n"),
                Err(broadcast::error::RecvError::Closed) => return None,
            },
            () = tokio::time::sleep(self.keep_alive) => Bytes::from_static(b": keep-alive\n\n"),
        };
        Some((Ok(bytes), self))
    }
}
