//! [`HealthAwareChannel`]: round robin over the endpoints in rotation, each with its own
//! connection and its own `Watch` on it.
//!
//! Why a balancer of our own rather than tonic's `Channel::balance_channel`: tonic connects the
//! endpoints it is given itself, so a `Watch` could not share an endpoint's connection with its
//! calls, as A17 requires (a `Watch` on a second connection can say `SERVING` while the calls'
//! connection is broken); and it balances by power of two choices, where the service config
//! asks for `round_robin`. Here each endpoint is one tonic `Channel`, shared by its `Watch` and
//! its calls, and the rotation is a list read without a lock on the call path.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tonic::transport::{Channel, Endpoint};
use tower::discover::Change;
use tower_service::Service;

use super::backoff::Backoff;
use super::config::ServiceConfig;
use super::endpoint::{EndpointHealth, follow};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A tonic channel over many endpoints that sends calls, round robin, only to those whose
/// health says `SERVING` ([gRFC A17](super)). Clone it freely: clones share the endpoints.
/// Use it wherever a `Channel` goes (`KvClient::new(channel)`).
///
/// Build it inside a tokio runtime: each endpoint's `Watch` runs on a task of its own, which
/// ends when the endpoint is removed or the last clone of the channel is dropped.
#[derive(Debug, Clone)]
pub struct HealthAwareChannel {
    shared: Arc<Shared>,
}

/// A change of one endpoint's health, as [`HealthAwareChannel::subscribe`] tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointChange {
    /// The endpoint's URI.
    pub endpoint: String,
    /// Its health before; `None` when it was just added.
    pub from: Option<EndpointHealth>,
    /// Its health now; `None` when it was removed.
    pub to: Option<EndpointHealth>,
}

/// The error of a call made while no endpoint is in rotation and none is still connecting:
/// `UNAVAILABLE`, naming each endpoint's state, as gRPC's round robin fails fast.
fn no_endpoint_ready(endpoints: &str) -> tonic::Status {
    tonic::Status::unavailable(format!("no endpoint is in rotation ({endpoints})"))
}

/// Settings of a [`HealthAwareChannel`]: which health service name to watch, whether to watch
/// at all, how to back off.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Builder {
    service: Option<String>,
    disabled: bool,
    backoff: Backoff,
    first_answer: Option<Duration>,
}

impl Builder {
    /// Watches health service `name` on every endpoint (`""` for the server as a whole), as
    /// `healthCheckConfig.serviceName` does. Without it (and without a service config that
    /// names one), health checking is off and every endpoint is in rotation.
    pub fn health_check_service(mut self, name: impl Into<String>) -> Self {
        self.service = Some(name.into());
        self
    }

    /// Takes the health-check service name from a parsed service config.
    pub fn service_config(mut self, config: &ServiceConfig) -> Self {
        self.service = config.health_check_service().map(str::to_owned);
        self
    }

    /// Turns health checking off on this client, whatever the service config asks (gRPC's
    /// `disable_health_check` channel option): every endpoint is in rotation.
    pub fn disable_health_checking(mut self) -> Self {
        self.disabled = true;
        self
    }

    /// How failed `Watch`es are retried (gRPC's connection backoff by default: 1 s, × 1.6,
    /// ± 20 %, at most 120 s).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How long a `Watch` may take to give its first answer (connection included) before it
    /// counts as failed and is retried with backoff: 20 s by default, gRPC's minimum connect
    /// timeout.
    pub fn first_answer_timeout(mut self, timeout: Duration) -> Self {
        self.first_answer = Some(timeout);
        self
    }

    /// The channel over `endpoints` (more can be added later). Must be called inside a tokio
    /// runtime; connections are made lazily.
    pub fn build(self, endpoints: impl IntoIterator<Item = Endpoint>) -> HealthAwareChannel {
        let service = if self.disabled { None } else { self.service };
        let (rotation, _) = watch::channel(Rotation::default());
        let (changes, _) = broadcast::channel(1024);
        let channel = HealthAwareChannel {
            shared: Arc::new(Shared {
                service,
                backoff: self.backoff,
                first_answer: self.first_answer.unwrap_or(Duration::from_secs(20)),
                members: Mutex::default(),
                rotation,
                changes,
                // Clients built at once do not all start with the same endpoint.
                next: AtomicUsize::new(fastrand::usize(..)),
                generations: std::sync::atomic::AtomicU64::new(0),
            }),
        };
        for endpoint in endpoints {
            channel.add(endpoint);
        }
        channel
    }
}

impl HealthAwareChannel {
    /// The settings to build one with.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Adds `endpoint` (keyed by its URI; an endpoint already there is replaced), with its own
    /// connection and `Watch`.
    pub fn add(&self, endpoint: Endpoint) {
        let key = endpoint.uri().to_string();
        let channel = endpoint.connect_lazy();
        let health = match self.shared.service {
            Some(_) => EndpointHealth::Connecting,
            None => EndpointHealth::NotChecked,
        };
        let generation = self.shared.generations.fetch_add(1, Ordering::Relaxed);
        // The task is spawned under the lock, after its member is in: its first report finds
        // the member (and a replaced member's task, by its generation, cannot touch the new).
        let mut members = self.shared.lock();
        let task = self.shared.service.clone().map(|service| {
            tokio::spawn(follow(
                Arc::downgrade(&self.shared),
                (key.clone(), generation),
                channel.clone(),
                service,
                self.shared.backoff.clone(),
                self.shared.first_answer,
            ))
            .abort_handle()
        });
        let previous = members.insert(
            key.clone(),
            Member {
                channel,
                health: health.clone(),
                task,
                generation,
            },
        );
        let from = previous.map(|previous| {
            previous.stop();
            previous.health
        });
        self.shared.publish(&members);
        // Announced under the lock, so that changes of one endpoint come in order.
        self.shared.announce(key, from, Some(health));
        drop(members);
    }

    /// Removes the endpoint with URI `uri`; whether there was one.
    pub fn remove(&self, uri: &str) -> bool {
        let mut members = self.shared.lock();
        let Some(member) = members.remove(uri) else {
            return false;
        };
        member.stop();
        self.shared.publish(&members);
        self.shared
            .announce(uri.to_owned(), Some(member.health), None);
        drop(members);
        true
    }

    /// Applies every change of `changes` (a `tower::discover` stream: `Insert(key, endpoint)`,
    /// `Remove(key)`, the key being anything; endpoints are known by their URI) until it ends,
    /// or until every clone of the channel is dropped. Spawns a task; dropping the returned
    /// handle does not stop it, aborting it does.
    pub fn discover<K, S>(&self, changes: S) -> tokio::task::JoinHandle<()>
    where
        K: Eq + std::hash::Hash + Send + 'static,
        S: futures::Stream<Item = Change<K, Endpoint>> + Send + 'static,
    {
        use futures::StreamExt as _;
        // Weak: the stream does not keep the channel alive once its users dropped it.
        let shared = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            let mut uris = std::collections::HashMap::new();
            let mut changes = std::pin::pin!(changes);
            while let Some(change) = changes.next().await {
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                let channel = HealthAwareChannel { shared };
                match change {
                    Change::Insert(key, endpoint) => {
                        let uri = endpoint.uri().to_string();
                        if let Some(old) = uris.insert(key, uri.clone())
                            && old != uri
                        {
                            channel.remove(&old);
                        }
                        channel.add(endpoint);
                    }
                    Change::Remove(key) => {
                        if let Some(uri) = uris.remove(&key) {
                            channel.remove(&uri);
                        }
                    }
                }
            }
        })
    }

    /// Every endpoint and its health, by URI.
    pub fn endpoints(&self) -> Vec<(String, EndpointHealth)> {
        self.shared
            .lock()
            .iter()
            .map(|(key, member)| (key.clone(), member.health.clone()))
            .collect()
    }

    /// How many endpoints are in rotation now.
    pub fn in_rotation(&self) -> usize {
        self.shared.rotation.borrow().ready.len()
    }

    /// Every change of an endpoint's health from now on (additions and removals included). A
    /// receiver more than 1,024 changes behind is told how many it missed.
    pub fn subscribe(&self) -> broadcast::Receiver<EndpointChange> {
        self.shared.changes.subscribe()
    }

    /// Whether calls are health checked: a service name is watched.
    pub fn is_health_checked(&self) -> bool {
        self.shared.service.is_some()
    }
}

/// Which endpoint a task follows: its URI and the `add` that made it.
pub(super) type MemberId = (String, u64);

/// A [`HealthAwareChannel`] that does not keep it alive.
#[derive(Debug, Clone)]
pub(super) struct WeakChannel(std::sync::Weak<Shared>);

impl WeakChannel {
    pub(super) fn upgrade(&self) -> Option<HealthAwareChannel> {
        self.0.upgrade().map(|shared| HealthAwareChannel { shared })
    }
}

impl HealthAwareChannel {
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(super) fn downgrade(&self) -> WeakChannel {
        WeakChannel(Arc::downgrade(&self.shared))
    }
}

/// One endpoint: its connection, its health, the task following it.
#[derive(Debug)]
struct Member {
    channel: Channel,
    health: EndpointHealth,
    task: Option<tokio::task::AbortHandle>,
    /// Which `add` made it.
    generation: u64,
}

impl Member {
    fn stop(&self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The endpoints in rotation, and how many are still connecting.
#[derive(Debug, Default)]
struct Rotation {
    ready: Arc<[Channel]>,
    connecting: usize,
}

#[derive(Debug)]
pub(super) struct Shared {
    /// The health service name watched; `None` when health checking is off.
    service: Option<String>,
    backoff: Backoff,
    first_answer: Duration,
    members: Mutex<BTreeMap<String, Member>>,
    rotation: watch::Sender<Rotation>,
    changes: broadcast::Sender<EndpointChange>,
    next: AtomicUsize,
    generations: std::sync::atomic::AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Member>> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the new health of the endpoint `key` of `generation`; whether it is still there
    /// (its task ends if not).
    pub(super) fn set_health(&self, (key, generation): &MemberId, health: EndpointHealth) -> bool {
        let mut members = self.lock();
        let Some(member) = members
            .get_mut(key)
            .filter(|member| member.generation == *generation)
        else {
            return false;
        };
        if member.health == health {
            return true;
        }
        let from = std::mem::replace(&mut member.health, health.clone());
        if from.in_rotation() != health.in_rotation() || from == EndpointHealth::Connecting {
            self.publish(&members);
        }
        if health.in_rotation() {
            tracing::info!(endpoint = %key, %from, to = %health, "endpoint health changed");
        } else {
            tracing::warn!(endpoint = %key, %from, to = %health, "endpoint health changed");
        }
        // Under the lock, so that changes of one endpoint come in order.
        self.announce(key.to_owned(), Some(from), Some(health));
        drop(members);
        true
    }

    fn publish(&self, members: &BTreeMap<String, Member>) {
        let ready: Arc<[Channel]> = members
            .values()
            .filter(|member| member.health.in_rotation())
            .map(|member| member.channel.clone())
            .collect();
        let connecting = members
            .values()
            .filter(|member| member.health == EndpointHealth::Connecting)
            .count();
        self.rotation.send_replace(Rotation { ready, connecting });
    }

    fn announce(&self, endpoint: String, from: Option<EndpointHealth>, to: Option<EndpointHealth>) {
        // Nobody subscribed: nothing to do.
        let _ = self.changes.send(EndpointChange { endpoint, from, to });
    }

    /// The next endpoint in rotation, if any.
    fn pick(&self) -> Option<Channel> {
        let rotation = self.rotation.borrow();
        let ready = &rotation.ready;
        if ready.is_empty() {
            return None;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % ready.len();
        Some(ready[index].clone())
    }

    /// The next endpoint in rotation, waiting while none is but some are still connecting.
    async fn pick_or_wait(&self) -> Result<Channel, tonic::Status> {
        let mut rotation = self.rotation.subscribe();
        loop {
            if let Some(channel) = self.pick() {
                return Ok(channel);
            }
            if rotation.borrow_and_update().connecting == 0 {
                let states: Vec<String> = self
                    .lock()
                    .iter()
                    .map(|(key, member)| format!("{key}: {}", member.health))
                    .collect();
                return Err(no_endpoint_ready(&states.join(", ")));
            }
            if rotation.changed().await.is_err() {
                return Err(no_endpoint_ready("the channel is gone"));
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        for member in self.lock().values() {
            member.stop();
        }
    }
}

/// A `grpc-timeout` header's value (`<digits><unit>`, units `H M S m u n`), as the gRPC over
/// HTTP/2 protocol defines it.
fn grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// `poll_ready` is always ready: the endpoint is chosen, and its readiness awaited, in `call`.
/// Layers that shed load on readiness (`LoadShed`) therefore do not see an endpoint's buffer
/// filling; limits that hold a permit for the call (`ConcurrencyLimit`) work as usual.
impl Service<http::Request<tonic::body::Body>> for HealthAwareChannel {
    type Response = http::Response<tonic::body::Body>;
    type Error = BoxError;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is the chosen endpoint's, awaited in the call.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let picked = self.shared.pick().ok_or_else(|| {
            // Waiting for an endpoint counts against the call's deadline, which the endpoint's
            // own channel would apply only once the call reached it.
            let deadline = request
                .headers()
                .get("grpc-timeout")
                .and_then(|value| grpc_timeout(value.to_str().ok()?));
            (self.shared.clone(), deadline)
        });
        Box::pin(async move {
            let mut channel = match picked {
                Ok(channel) => channel,
                Err((shared, None)) => shared.pick_or_wait().await?,
                Err((shared, Some(deadline))) => {
                    match tokio::time::timeout(deadline, shared.pick_or_wait()).await {
                        Ok(picked) => picked?,
                        Err(_) => {
                            return Err(tonic::Status::deadline_exceeded(
                                "the deadline passed while waiting for an endpoint to answer \
                                 its health check",
                            )
                            .into());
                        }
                    }
                }
            };
            std::future::poll_fn(|cx| channel.poll_ready(cx)).await?;
            Ok(channel.call(request).await?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_as_the_protocol_writes_them() {
        assert_eq!(grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(grpc_timeout("300m"), Some(Duration::from_millis(300)));
        assert_eq!(grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(grpc_timeout("10n"), Some(Duration::from_nanos(10)));
        for bad in ["", "S", "5", "5s", "123456789S", "-1S", "1.5S", "+1S"] {
            assert_eq!(grpc_timeout(bad), None, "{bad}");
        }
    }
}
