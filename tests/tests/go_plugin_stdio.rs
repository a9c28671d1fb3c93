//! What a plugin writes to stdout after the handshake line reaches the host over
//! `plugin.GRPCStdio`, never the host's handshake reader.
//!
//! Capturing stdout redirects this process's file descriptor 1, so the plugin runs in a child
//! process: this binary again, with `GO_PLUGIN_STDIO_CHILD` set. The parent plays the host.

#![cfg(unix)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use health_runtime::pb::go_plugin::Empty;
use health_runtime::pb::go_plugin::grpc_controller_client::GrpcControllerClient;
use health_runtime::pb::go_plugin::grpc_stdio_client::GrpcStdioClient;
use health_runtime::pb::go_plugin::stdio_data::Channel;
use health_runtime::plugin::{Handshake, PluginServer};
use tests::plugin::{channel, fields};

const CHILD: &str = "GO_PLUGIN_STDIO_CHILD";

fn main() {
    if std::env::var_os(CHILD).is_some() {
        plugin();
    } else {
        host();
        println!("go_plugin_stdio: ok");
    }
}

/// The plugin: serves, and writes to stdout every 50 ms once serving.
fn plugin() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let health = tests::builder().build().unwrap();
        tokio::spawn(async {
            // The host says when: once it has read the line and opened StreamStdio, stdout is
            // captured for sure. (The test's own stdin; the plugin never reads stdin.)
            let mut go = String::new();
            let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut go)).await;
            for n in 0.. {
                {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "line {n} from the plugin");
                    let _ = out.flush();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        PluginServer::new(Handshake::new("BASIC_PLUGIN", "hello"))
            .serve(&health, tonic::service::Routes::default())
            .await
            .unwrap();
    });
}

/// The host: reads the line, then the plugin's output over StreamStdio, and stops it.
fn host() {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("stdio-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, "1")
        .env("BASIC_PLUGIN", "hello")
        .env("PLUGIN_UNIX_SOCKET_DIR", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let fields = fields(&line);
    assert_eq!(fields[..3], ["1", "1", "unix"], "{line:?}");
    let path = PathBuf::from(fields[3]);
    let mut go = child.stdin.take().unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seen = runtime.block_on(async {
        let connection = channel(path.clone(), None);
        let mut stdio = GrpcStdioClient::new(connection.clone())
            .stream_stdio(())
            .await
            .unwrap()
            .into_inner();
        go.write_all(b"go\n").unwrap();
        go.flush().unwrap();
        let mut seen = String::new();
        while !seen.contains("line 3 from the plugin") {
            let chunk = tokio::time::timeout(Duration::from_secs(10), stdio.message())
                .await
                .expect("the plugin's output within 10 s")
                .unwrap()
                .expect("the stream stays open");
            assert_eq!(chunk.channel(), Channel::Stdout);
            seen.push_str(&String::from_utf8_lossy(&chunk.data));
        }
        GrpcControllerClient::new(connection)
            .shutdown(Empty {})
            .await
            .unwrap();
        let end = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(chunk) = stdio.message().await.transpose() {
                chunk.unwrap();
            }
        })
        .await;
        assert!(end.is_ok(), "StreamStdio did not end after Shutdown");
        seen
    });
    assert!(seen.starts_with("line 0 from the plugin\n"), "{seen:?}");

    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    // Nothing after the handshake line reached the real stdout.
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "stdout after the handshake line");
    assert!(!path.exists());
}
