//! One target's worker: takes notifications from its queue in order and delivers each, signed,
//! with retries, within the drain deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::payload::Notification;
use super::settings::{Key, Resolved};
use super::stats::Counters;
use crate::indicator::chain;

/// The `User-Agent` of notification requests.
const USER_AGENT: &str = concat!("health-runtime/", env!("CARGO_PKG_VERSION"));

/// A wait that any clock can add: what a longer one is cut to (a year).
const MAX_GRACE: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// How one target is delivered to.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) target: Resolved,
    pub(crate) counters: Arc<Counters>,
    pub(crate) timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) backoff: Duration,
    pub(crate) max_backoff: Duration,
}

/// Why an attempt failed, and whether another may succeed.
struct Failure {
    error: String,
    retry: bool,
    /// What the target asked for with `Retry-After`.
    after: Option<Duration>,
}

/// The worker's end of the drain deadline: set while the runtime drains, closed once the runtime
/// is gone.
struct Deadline {
    drain: watch::Receiver<Option<Instant>>,
    closed: Option<Instant>,
    grace: Duration,
}

impl Deadline {
    /// When the worker must stop sending, if it must.
    fn limit(&mut self) -> Option<Instant> {
        if self.closed.is_none() && self.drain.has_changed().is_err() {
            // A grace beyond what the clock can count: the deadline is as far as it can be.
            let now = Instant::now();
            self.closed = Some(
                now.checked_add(self.grace)
                    .or_else(|| now.checked_add(MAX_GRACE))
                    .unwrap_or(now),
            );
        }
        let draining = *self.drain.borrow();
        match (draining, self.closed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Waits until the deadline has passed.
    async fn reached(&mut self) {
        loop {
            let limit = self.limit();
            if limit.is_some_and(|limit| Instant::now() >= limit) {
                return;
            }
            let until_limit = async {
                match limit {
                    Some(limit) => tokio::time::sleep_until(limit).await,
                    None => std::future::pending().await,
                }
            };
            if self.closed.is_some() {
                until_limit.await;
                return;
            }
            tokio::select! {
                () = until_limit => return,
                _ = self.drain.changed() => {}
            }
        }
    }

    /// Waits until `wake`; `false` when the deadline comes first.
    async fn sleep_until(&mut self, wake: Instant) -> bool {
        loop {
            if self.limit().is_some_and(|limit| limit <= wake) {
                return false;
            }
            if self.closed.is_some() {
                tokio::time::sleep_until(wake).await;
                return true;
            }
            tokio::select! {
                () = tokio::time::sleep_until(wake) => return true,
                // A drain began or ended, or the runtime is gone: look at the deadline again.
                _ = self.drain.changed() => {}
            }
        }
    }
}

/// Delivers what `queue` holds until it is closed and empty; once the runtime is gone, what is
/// left has `grace` to go out.
pub(crate) async fn run(
    delivery: Arc<Delivery>,
    mut queue: mpsc::Receiver<Arc<Notification>>,
    pending: Arc<AtomicU64>,
    drain: watch::Receiver<Option<Instant>>,
    grace: Duration,
) {
    let mut deadline = Deadline {
        drain,
        closed: None,
        grace,
    };
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(USER_AGENT)
        // A redirect could carry the secret header to another host; a webhook answers itself.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(delivery.timeout)
        .build();
    let client = match client {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(
                webhook = %delivery.target.address,
                error = %chain(&error.without_url()),
                "cannot build the HTTP client for notifications; none will be delivered"
            );
            while queue.recv().await.is_some() {
                Counters::add(&delivery.counters.failed, 1);
                pending.fetch_sub(1, Ordering::Relaxed);
            }
            return;
        }
    };
    let mut missed = 0u64;
    while let Some(notification) = queue.recv().await {
        if deadline
            .limit()
            .is_some_and(|limit| Instant::now() >= limit)
        {
            // Shutting down: what is still queued stays unsent; counted, logged once per
            // batch.
            Counters::add(&delivery.counters.failed, 1);
            missed += 1;
            if queue.is_empty() {
                tracing::warn!(
                    webhook = %delivery.target.address,
                    notifications = missed,
                    "notifications left unsent: the drain delay ran out"
                );
                missed = 0;
            }
            pending.fetch_sub(1, Ordering::Relaxed);
            continue;
        }
        deliver(&delivery, &client, &notification, &mut deadline).await;
        // Counted (delivered or failed) by now.
        pending.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn deliver(
    delivery: &Delivery,
    client: &reqwest::Client,
    notification: &Notification,
    deadline: &mut Deadline,
) {
    let counters = &delivery.counters;
    let address = &delivery.target.address;
    let body = match notification.body(delivery.target.format) {
        Ok(body) => Bytes::from(body),
        Err(error) => {
            Counters::add(&counters.failed, 1);
            tracing::error!(webhook = %address, %error, "cannot serialise a notification");
            return;
        }
    };
    for attempt in 0..=delivery.retries {
        let timeout = match deadline.limit() {
            Some(limit) => match limit.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => delivery.timeout.min(left),
                _ => {
                    give_up(delivery, notification, attempt, "the drain delay ran out");
                    return;
                }
            },
            None => delivery.timeout,
        };
        let attempt_result = tokio::select! {
            result = attempt_once(delivery, client, notification, &body, timeout) => result,
            // A request under way when the drain delay ends is abandoned with it.
            () = deadline.reached() => {
                give_up(delivery, notification, attempt, "the drain delay ran out");
                return;
            }
        };
        let failure = match attempt_result {
            Ok(()) => {
                Counters::add(&counters.delivered, 1);
                tracing::debug!(
                    webhook = %address,
                    id = %notification.id,
                    check = %notification.check,
                    attempt = attempt + 1,
                    "notification delivered"
                );
                return;
            }
            Err(failure) => failure,
        };
        if !failure.retry || attempt == delivery.retries {
            give_up(delivery, notification, attempt, &failure.error);
            return;
        }
        let wait = failure
            .after
            .unwrap_or_else(|| backoff(delivery, attempt))
            .min(delivery.max_backoff);
        tracing::warn!(
            webhook = %address,
            id = %notification.id,
            check = %notification.check,
            attempt = attempt + 1,
            error = %failure.error,
            retry_in_ms = wait.as_millis() as u64,
            "notification not delivered; trying again"
        );
        Counters::add(&counters.retried, 1);
        let now = Instant::now();
        let wake = now
            .checked_add(wait)
            .or_else(|| now.checked_add(MAX_GRACE))
            .unwrap_or(now);
        if !deadline.sleep_until(wake).await {
            give_up(delivery, notification, attempt, "the drain delay ran out");
            return;
        }
    }
}

fn give_up(delivery: &Delivery, notification: &Notification, attempt: u32, error: &str) {
    Counters::add(&delivery.counters.failed, 1);
    tracing::warn!(
        webhook = %delivery.target.address,
        id = %notification.id,
        check = %notification.check,
        attempt = attempt + 1,
        %error,
        "notification not delivered; giving up"
    );
}

/// The backoff before retry `attempt + 1`: the first backoff doubled `attempt` times, capped,
/// with jitter (a random half to all of it), so that many senders do not come back together.
fn backoff(delivery: &Delivery, attempt: u32) -> Duration {
    let base = delivery
        .backoff
        .saturating_mul(1u32 << attempt.min(20))
        .min(delivery.max_backoff);
    base.mul_f64(0.5 + fastrand::f64() / 2.0)
}

async fn attempt_once(
    delivery: &Delivery,
    client: &reqwest::Client,
    notification: &Notification,
    body: &Bytes,
    timeout: Duration,
) -> Result<(), Failure> {
    let timestamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        .to_string();
    let mut request = client
        .post(delivery.target.url.clone())
        .timeout(timeout)
        .header(CONTENT_TYPE, "application/json")
        .header("webhook-id", &notification.id)
        .header("webhook-timestamp", &timestamp);
    match &delivery.target.secret {
        Some(Key::Signing(key)) => {
            request = request.header(
                "webhook-signature",
                super::sign::signature(key, &notification.id, &timestamp, body),
            );
        }
        Some(Key::Header(name, value)) => request = request.header(name, value),
        None => {}
    }
    let response = request
        .body(body.clone())
        .send()
        .await
        .map_err(|error| Failure {
            // Connection errors, timeouts: the request may go through on another try. The URL
            // holds the secret of some targets (Slack's path): it stays out of the message.
            retry: true,
            error: if error.is_timeout() {
                format!("no answer within {}", humantime::format_duration(timeout))
            } else {
                chain(&error.without_url())
            },
            after: None,
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry = status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error();
    let after = retry_after(response.headers());
    // What the target says is wrong (Slack answers `invalid_blocks`, `no_text`, ...): the start
    // of the body, read within the request's deadline.
    let said = start_of_body(response).await;
    Err(Failure {
        error: if said.is_empty() {
            format!("answered {status}")
        } else {
            format!("answered {status}: {said:?}")
        },
        retry,
        after,
    })
}

/// The most of an answer's body that goes into a log line.
const MAX_ANSWER: usize = 512;

/// Up to [`MAX_ANSWER`] bytes of `response`'s body, as text (what does not decode replaced);
/// empty when it cannot be read (the request's deadline covers the body too).
async fn start_of_body(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_ANSWER {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk[..chunk.len().min(MAX_ANSWER - body.len())])
            }
            Ok(None) | Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&body);
    text.trim().to_owned()
}

/// A `Retry-After` given in seconds (RFC 9110 §10.2.3); an HTTP date is left to the backoff.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}
