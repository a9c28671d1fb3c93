//! A webhook receiver on loopback for the notification tests: it records every request (headers
//! and body) and answers as told: a status, a closed connection, or nothing at all.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use health_runtime::{Check, CheckOutcome, Status};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// How the sink answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// This status, with an empty body.
    Status(u16),
    /// This status, with this body (`text/plain`).
    StatusBody(u16, &'static str),
    /// `429 Too Many Requests` with `Retry-After` in seconds.
    RetryAfter(u64),
    /// The connection closed before any answer.
    Close,
    /// No answer, ever: the connection stays open.
    Hang,
}

/// One request as the sink received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request target (path and query).
    pub path: String,
    /// Header names, lowercase, with their values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// What the sink answered.
    pub answer: Answer,
}

impl Received {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Whether the sink accepted it (2xx).
    pub fn accepted(&self) -> bool {
        matches!(
            self.answer,
            Answer::Status(status) | Answer::StatusBody(status, _) if (200..300).contains(&status)
        )
    }
}

#[derive(Debug)]
struct Script {
    /// Answers for the next requests, in order; then `default`.
    next: VecDeque<Answer>,
    default: Answer,
    received: Vec<Received>,
    /// Connections left unanswered that the client has closed since.
    hangs_ended: usize,
}

/// A webhook receiver on 127.0.0.1; it stops with the test's runtime.
#[derive(Debug, Clone)]
pub struct Sink {
    /// Where it listens.
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl Sink {
    /// A sink answering `204 No Content`.
    pub async fn start() -> Sink {
        Sink::answering(Answer::Status(204)).await
    }

    /// A sink giving `answer` to every request.
    pub async fn answering(answer: Answer) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let script = Arc::new(Mutex::new(Script {
            next: VecDeque::new(),
            default: answer,
            received: Vec::new(),
            hangs_ended: 0,
        }));
        let serving = script.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(stream, serving.clone()));
            }
        });
        Sink { addr, script }
    }

    /// Answers the next requests with `answers`, in order, then as before.
    pub fn then(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.lock().unwrap().next.extend(answers);
    }

    /// Answers every request from now on with `answer`.
    pub fn answer(&self, answer: Answer) {
        let mut script = self.script.lock().unwrap();
        script.next.clear();
        script.default = answer;
    }

    /// A URL of the sink with `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How the sink's address shows in logs and metrics.
    pub fn address(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, answered or not.
    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    /// How many connections left unanswered the client has closed.
    pub fn hangs_ended(&self) -> usize {
        self.script.lock().unwrap().hangs_ended
    }

    /// The requests accepted so far.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(Received::accepted)
            .collect()
    }

    /// Waits (up to 20 s) until `count` requests were accepted; those requests.
    pub async fn wait_accepted(&self, count: usize) -> Vec<Received> {
        eventually(&format!("{count} notifications accepted"), || {
            self.accepted().len() >= count
        })
        .await;
        self.accepted()
    }

    /// Waits (up to 20 s) until `count` requests were received.
    pub async fn wait_received(&self, count: usize) -> Vec<Received> {
        eventually(&format!("{count} requests received"), || {
            self.received().len() >= count
        })
        .await;
        self.received()
    }
}

/// Polls `condition` every 20 ms until it holds; panics naming `what` after 20 s.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn serve(mut stream: TcpStream, script: Arc<Mutex<Script>>) {
    loop {
        let Some((path, headers, body)) = read_request(&mut stream).await else {
            return;
        };
        let answer = {
            let mut script = script.lock().unwrap();
            let answer = script.next.pop_front().unwrap_or(script.default);
            script.received.push(Received {
                path,
                headers,
                body,
                answer,
            });
            answer
        };
        let head = match answer {
            Answer::Status(status) => {
                format!("HTTP/1.1 {status} Sink\r\ncontent-length: 0\r\n\r\n")
            }
            Answer::StatusBody(status, body) => format!(
                "HTTP/1.1 {status} Sink\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            ),
            Answer::RetryAfter(seconds) => format!(
                "HTTP/1.1 429 Too Many Requests\r\nretry-after: {seconds}\r\ncontent-length: 0\r\n\r\n"
            ),
            Answer::Close => return,
            Answer::Hang => {
                // Keeps the connection open, reading nothing more, until the client leaves.
                let mut rest = [0u8; 64];
                while matches!(stream.read(&mut rest).await, Ok(read) if read > 0) {}
                script.lock().unwrap().hangs_ended += 1;
                return;
            }
        };
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// One HTTP/1.1 request with a `content-length` body: (target, headers, body).
async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<(String, String)>, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    body.truncate(length);
    Some((path, headers, body))
}

/// A check whose status the test sets: `warning` and `critical` with a message and a value.
#[derive(Debug, Clone)]
pub struct Switch(Arc<AtomicU8>);

impl Default for Switch {
    fn default() -> Self {
        Switch(Arc::new(AtomicU8::new(0)))
    }
}

impl Switch {
    /// Sets the status the next runs report.
    pub fn set(&self, status: Status) {
        let code = match status {
            Status::Healthy | Status::Unknown => 0,
            Status::Warning => 1,
            Status::Critical => 2,
        };
        self.0.store(code, Ordering::SeqCst);
    }

    /// The check `name`, reporting what was set.
    pub fn check(&self, name: &str) -> Check {
        let state = self.0.clone();
        Check::new(name, move || {
            let state = state.clone();
            async move {
                match state.load(Ordering::SeqCst) {
                    0 => CheckOutcome::healthy().with_value(12.5),
                    1 => CheckOutcome::warning("disk 93.1 % full")
                        .with_value(93.1)
                        .with_threshold(90.0),
                    _ => CheckOutcome::critical("disk 99.9 % full")
                        .with_value(99.9)
                        .with_threshold(90.0),
                }
            }
        })
    }
}
