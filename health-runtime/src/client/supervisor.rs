//! [`Supervisor`]: a plugin host's view of one server's health, pushed by `Watch`, polled by
//! `Check` where the server has no `Watch`.

use std::time::Duration;

use tokio::sync::watch;
use tonic::transport::Channel;

use super::backoff::Backoff;
use crate::pb::health::v1::HealthCheckRequest;
use crate::pb::health::v1::health_check_response::ServingStatus;
use crate::pb::health::v1::health_client::HealthClient;

/// What a [`Supervisor`] last saw of the server's health.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Observed {
    /// `SERVING`.
    Serving,
    /// Any other answer: `NOT_SERVING`, `SERVICE_UNKNOWN` (a name not registered yet, or an
    /// unknown name to `Check`), `UNKNOWN`.
    NotServing(ServingStatus),
    /// No answer: the server is down, or the call failed (the reason as the call ended).
    Unreachable(String),
}

impl Observed {
    /// Whether the server serves.
    pub fn is_serving(&self) -> bool {
        *self == Observed::Serving
    }
}

/// Follows `grpc.health.v1.Health` of one server under one name (`plugin` for a go-plugin
/// plugin, `""` for the whole server) and calls back on every change: `Watch` pushes them as
/// they happen; against a server whose `Watch` is `UNIMPLEMENTED` it polls `Check` instead. A
/// `Watch` that ends after answering is opened again at once; one that gets no answer (refused,
/// failed, or silent past [`first_answer`](SupervisorSettings::first_answer)) is reported as
/// [`Observed::Unreachable`] (once, however many retries fail) and retried with backoff, reset
/// by any answer. Set HTTP/2 keepalive on the channel's endpoint
/// (`Endpoint::http2_keep_alive_interval`) to notice a server that stops answering on an open
/// connection. Stops when dropped.
///
/// ```no_run
/// use health_runtime::client::{Observed, Supervisor};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let supervisor = Supervisor::spawn(channel, "plugin", |observed: &Observed| {
///     if !observed.is_serving() {
///         eprintln!("the plugin is unhealthy: {observed:?}; restarting it");
///     }
/// });
/// let mut states = supervisor.subscribe();
/// states.changed().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Supervisor {
    task: tokio::task::JoinHandle<()>,
    state: watch::Receiver<Option<Observed>>,
    polling: watch::Receiver<bool>,
}

/// How a [`Supervisor`] retries and polls.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SupervisorSettings {
    /// How failed `Watch`es are retried.
    pub backoff: Backoff,
    /// How often `Check` is called where `Watch` is `UNIMPLEMENTED`; also each `Check`'s
    /// deadline.
    pub poll_interval: Duration,
    /// How long a `Watch` may take to give its first answer before the server counts as
    /// unreachable (20 s).
    pub first_answer: Duration,
}

impl Default for SupervisorSettings {
    fn default() -> Self {
        SupervisorSettings {
            backoff: Backoff::default(),
            poll_interval: Duration::from_secs(5),
            first_answer: Duration::from_secs(20),
        }
    }
}

impl Supervisor {
    /// Follows `service` on `channel` with the default settings, calling `on_change` with each
    /// new state (the first answer included). Must be called inside a tokio runtime.
    pub fn spawn(
        channel: Channel,
        service: impl Into<String>,
        on_change: impl FnMut(&Observed) + Send + 'static,
    ) -> Self {
        Supervisor::spawn_with(channel, service, SupervisorSettings::default(), on_change)
    }

    /// As [`spawn`](Self::spawn), with `settings`.
    pub fn spawn_with(
        channel: Channel,
        service: impl Into<String>,
        settings: SupervisorSettings,
        on_change: impl FnMut(&Observed) + Send + 'static,
    ) -> Self {
        let (state_tx, state) = watch::channel(None);
        let (polling_tx, polling) = watch::channel(false);
        let follower = Follower {
            client: HealthClient::new(channel),
            service: service.into(),
            settings,
            state: state_tx,
            polling: polling_tx,
            on_change: Box::new(on_change),
        };
        Supervisor {
            task: tokio::spawn(follower.run()),
            state,
            polling,
        }
    }

    /// What was last seen; `None` before the first answer or failure.
    pub fn current(&self) -> Option<Observed> {
        self.state.borrow().clone()
    }

    /// The state as it changes.
    pub fn subscribe(&self) -> watch::Receiver<Option<Observed>> {
        self.state.clone()
    }

    /// Whether the server's `Watch` is `UNIMPLEMENTED` and `Check` is polled instead.
    pub fn is_polling(&self) -> bool {
        *self.polling.borrow()
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Follower {
    client: HealthClient<Channel>,
    service: String,
    settings: SupervisorSettings,
    state: watch::Sender<Option<Observed>>,
    polling: watch::Sender<bool>,
    on_change: Box<dyn FnMut(&Observed) + Send>,
}

impl Follower {
    fn request(&self) -> HealthCheckRequest {
        HealthCheckRequest {
            service: self.service.clone(),
        }
    }

    fn see(&mut self, observed: Observed) {
        let unchanged = match (self.state.borrow().as_ref(), &observed) {
            // Still down, for whatever reason now: not a change.
            (Some(Observed::Unreachable(_)), Observed::Unreachable(_)) => true,
            (last, observed) => last == Some(observed),
        };
        if unchanged {
            return;
        }
        if observed.is_serving() {
            tracing::info!(service = %self.service, ?observed, "supervised server health changed");
        } else {
            tracing::warn!(service = %self.service, ?observed, "supervised server health changed");
        }
        self.state.send_replace(Some(observed.clone()));
        (self.on_change)(&observed);
    }

    async fn run(mut self) {
        let mut attempt = 0u32;
        loop {
            let request = self.request();
            let mut client = self.client.clone();
            let first_answer = self.settings.first_answer;
            // A server that accepts the connection and never answers is unreachable too.
            let opened = tokio::time::timeout(first_answer, async move {
                let mut stream = client.watch(request).await?.into_inner();
                let first = stream.message().await?;
                Ok::<_, tonic::Status>((stream, first))
            })
            .await;
            let (reason, answered) = match opened {
                Err(_) => (format!("no answer within {first_answer:?}"), false),
                Ok(Err(status)) if status.code() == tonic::Code::Unimplemented => {
                    return self.poll().await;
                }
                Ok(Err(status)) => (status.to_string(), false),
                Ok(Ok((_, None))) => ("the Watch stream ended".to_owned(), false),
                Ok(Ok((mut stream, Some(first)))) => {
                    attempt = 0;
                    self.see(observed(first.status()));
                    let reason = loop {
                        match stream.message().await {
                            Ok(Some(message)) => self.see(observed(message.status())),
                            Ok(None) => break "the Watch stream ended".to_owned(),
                            Err(status) => break status.to_string(),
                        }
                    };
                    (reason, true)
                }
            };
            if answered {
                // A stream that had answered is opened again at once; only a failure to get
                // an answer counts as unreachable.
                continue;
            }
            self.see(Observed::Unreachable(reason));
            attempt = attempt.saturating_add(1);
            tokio::time::sleep(self.settings.backoff.wait(attempt)).await;
        }
    }

    /// `Check` every poll interval, for a server without `Watch`.
    async fn poll(mut self) {
        tracing::info!(
            service = %self.service,
            "the server's Watch is UNIMPLEMENTED: polling Check instead"
        );
        self.polling.send_replace(true);
        let mut ticks = tokio::time::interval(self.settings.poll_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let mut request = tonic::Request::new(self.request());
            // A check that outlasts the interval is a server that does not answer.
            request.set_timeout(self.settings.poll_interval);
            let seen = match self.client.check(request).await {
                Ok(response) => observed(response.into_inner().status()),
                Err(status) if status.code() == tonic::Code::NotFound => {
                    Observed::NotServing(ServingStatus::ServiceUnknown)
                }
                Err(status) if status.code() == tonic::Code::Unimplemented => {
                    Observed::Unreachable(
                        "the server has no grpc.health.v1.Health service (UNIMPLEMENTED)".into(),
                    )
                }
                Err(status) => Observed::Unreachable(status.to_string()),
            };
            self.see(seen);
        }
    }
}

fn observed(status: ServingStatus) -> Observed {
    match status {
        ServingStatus::Serving => Observed::Serving,
        other => Observed::NotServing(other),
    }
}
