//! Keeps the protocol channel clean: once the handshake line is out, the process's standard
//! output is a pipe whose data goes to the host over `plugin.GRPCStdio`, as go-plugin's own
//! plugins do. A stray `println!` then never reaches the host's handshake reader.

use std::io::Read as _;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use crate::pb::go_plugin::StdioData;
use crate::pb::go_plugin::stdio_data::Channel;

/// Chunks kept for the host while it has not read them; more are dropped, so that writing to
/// stdout never blocks the plugin.
const BACKLOG: usize = 256;
/// The largest chunk read at once.
const CHUNK: usize = 16 << 10;

/// The captured standard output, for the first `StreamStdio` caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Option<mpsc::Receiver<StdioData>>>>);

impl Captured {
    /// The captured chunks, once; `None` when nothing is captured or they were taken.
    pub(crate) fn take(&self) -> Option<mpsc::Receiver<StdioData>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Points file descriptor 1 at a pipe read by a thread of its own, whose chunks `into` then
/// holds. On failure stdout stays as it is, which is logged.
pub(crate) fn capture_stdout(into: &Captured) {
    match redirect() {
        Ok(receiver) => *into.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(receiver),
        Err(error) => {
            tracing::warn!(%error, "plugin: cannot capture stdout; what is written there reaches the host's handshake reader");
        }
    }
}

fn redirect() -> std::io::Result<mpsc::Receiver<StdioData>> {
    use std::io::Write as _;
    std::io::stdout().flush()?;
    // Close-on-exec: child processes of the plugin must not hold the pipe's read end.
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    nix::unistd::dup2_stdout(&write)?;
    drop(write);
    let (sender, receiver) = mpsc::channel(BACKLOG);
    let mut pipe = std::fs::File::from(read);
    std::thread::Builder::new()
        .name("plugin-stdout".to_owned())
        .spawn(move || {
            forward(&mut pipe, &sender);
            // Nothing reads the pipe any more: point stdout at /dev/null rather than let writes
            // fail (`println!` panics on a broken pipe).
            if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
                let _ = nix::unistd::dup2_stdout(&null);
            }
        })?;
    Ok(receiver)
}

/// Reads `pipe` until it ends, sending each chunk while the host keeps up and dropping the
/// rest, so that writing to stdout never blocks the plugin.
fn forward(pipe: &mut std::fs::File, sender: &mpsc::Sender<StdioData>) {
    let mut buffer = vec![0; CHUNK];
    let mut dropped = false;
    loop {
        let read = match pipe.read(&mut buffer) {
            Ok(0) => return,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                tracing::warn!(%error, "plugin: reading the captured stdout failed");
                return;
            }
        };
        let chunk = StdioData {
            channel: Channel::Stdout.into(),
            data: buffer[..read].to_vec(),
        };
        match sender.try_send(chunk) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !dropped {
                    tracing::warn!(
                        "plugin: the host is not reading stdout (plugin.GRPCStdio); dropping what the plugin writes there"
                    );
                    dropped = true;
                }
            }
            // Nobody will read it: keep draining so that writers never block.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}
