//! The Kubernetes manifests of `examples/kubernetes/` validate against Kubernetes' own OpenAPI
//! schemas (`kubernetes-validate --strict`, from PyPI), and every probe follows its own group:
//! liveness probes only the liveness group, readiness the readiness group, startup the startup
//! group, whether by gRPC, HTTP or the health file.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tests::process::{manifest_dir, python_env, run, workspace};

fn manifests() -> Vec<PathBuf> {
    let dir = workspace().join("examples/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_manifests_validate_and_each_probe_follows_its_group() {
    let python = python_env(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")));
    let validate = python.with_file_name("kubernetes-validate");
    // The ServiceMonitor is a Prometheus Operator resource, outside Kubernetes' schemas.
    let core: Vec<PathBuf> = manifests()
        .into_iter()
        .filter(|path| !path.ends_with("servicemonitor.yaml"))
        .collect();
    assert!(core.len() >= 4, "{core:?}");
    let ran = run(
        "kubernetes-validate",
        std::process::Command::new(&validate)
            .args(["--strict", "--kubernetes-version", "1.34"])
            .args(&core),
        Duration::from_secs(120),
    );
    assert!(
        ran.status.success(),
        "kubernetes-validate failed:\n{}{}",
        ran.stdout,
        ran.stderr
    );

    let ran = run(
        "the manifest reader",
        std::process::Command::new(&python)
            .arg(manifest_dir().join("python/manifest_probes.py"))
            .args(manifests()),
        Duration::from_secs(60),
    );
    assert!(ran.status.success(), "{}", ran.stderr);
    let containers: serde_json::Map<String, Value> = serde_json::from_str(&ran.stdout).unwrap();
    assert!(containers.len() >= 3, "{containers:?}");
    for (container, probes) in &containers {
        for (kind, group, path) in [
            ("livenessProbe", "liveness", "/live"),
            ("readinessProbe", "readiness", "/ready"),
            ("startupProbe", "startup", "/startup"),
        ] {
            let probe = &probes[kind];
            assert!(probe.is_object(), "{container}: no {kind}");
            let follows = if let Some(grpc) = probe.get("grpc") {
                grpc["service"] == group
            } else if let Some(http) = probe.get("httpGet") {
                http["path"] == path
            } else if let Some(exec) = probe.get("exec") {
                let command: Vec<&str> = exec["command"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|arg| arg.as_str().unwrap())
                    .collect();
                let joined = command.join(" ");
                joined.contains(&format!("--group {group}"))
                    || joined.contains(&format!("--service {group}"))
            } else {
                false
            };
            assert!(
                follows,
                "{container}: the {kind} does not follow `{group}`: {probe}"
            );
        }
    }
}
