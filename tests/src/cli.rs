//! The `health-probe` binary, for the tests that run it as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Builds the binary once (with the `cli` feature) and returns its path, as cargo reports it.
pub fn health_probe() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the tests package lives in the workspace");
        let mut cargo = Command::new(env!("CARGO"));
        // Drop what cargo sets for running this test: build scripts that watch these variables
        // (ring watches CARGO_MANIFEST_DIR) would otherwise rebuild on every run, and the next
        // plain `cargo build` rebuild them again.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_BIN_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_CRATE_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                    "OUT_DIR",
                ]
                .contains(&&*name)
            {
                cargo.env_remove(&*name);
            }
        }
        let output = cargo
            .current_dir(workspace)
            .args([
                "build",
                "--quiet",
                "-p",
                "health-runtime",
                "--features",
                "cli",
                "--bin",
                "health-probe",
                "--message-format=json-render-diagnostics",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "building health-probe failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| {
                message["reason"] == "compiler-artifact"
                    && message["target"]["name"] == "health-probe"
            })
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the health-probe executable")
    })
}

/// [`health_probe`], built off the async runtime so that servers on it keep serving.
pub async fn health_probe_built() -> &'static Path {
    tokio::task::spawn_blocking(health_probe).await.unwrap()
}
