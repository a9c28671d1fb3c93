//! The layering the crate docs state: no module of the core (the check model, the engine, the
//! runtime and its builder, the published state) nor the support of the macros it calls names a
//! surface or an indicator, reaches outside its layer through `super::super`, or compiles
//! differently with a surface's feature. The surfaces and indicators build on the core, never
//! the reverse; the one place that names both is `attach_surfaces` in `lib.rs`.

use std::path::{Path, PathBuf};

const CORE: [&str; 4] = ["check", "engine", "runtime", "state"];

/// The modules above the core.
const OUTSIDE: [&str; 14] = [
    "grpc",
    "notify",
    "otel",
    "exempt",
    "http",
    "prometheus",
    "health_file",
    "server",
    "plugin",
    "pb",
    "indicator",
    "indicators",
    "deps",
    // The root's re-export of `server::serve`.
    "serve",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../health-runtime/src")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// Every statement-ish line of code of the core (comments left out), with its file and line
/// number; a `use` spread over several lines is joined into the line it starts on.
fn core_lines() -> Vec<(PathBuf, usize, String)> {
    let mut files = vec![src().join("private.rs")];
    for module in CORE {
        rust_files(&src().join(module), &mut files);
    }
    assert!(files.len() >= 10, "the core's files: {files:?}");
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // In a module at the top of the crate (`engine/mod.rs`, `private.rs`, ...), `super` is
        // the crate root.
        let top = file.ends_with("private.rs")
            || (file.ends_with("mod.rs")
                && file.parent().and_then(Path::parent) == Some(src().as_path()));
        let text = if top {
            text.replace("super::", "crate::")
        } else {
            text
        };
        let mut open: Option<(usize, String)> = None;
        for (number, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if let Some((start, joined)) = &mut open {
                joined.push(' ');
                joined.push_str(code);
                if code.contains(';') {
                    lines.push((file.clone(), *start, std::mem::take(joined)));
                    open = None;
                }
                continue;
            }
            let is_use = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
                .iter()
                .any(|start| code.starts_with(start));
            if is_use && code.contains('{') && !code.contains(';') {
                open = Some((number + 1, code.to_owned()));
                continue;
            }
            lines.push((file.clone(), number + 1, code.to_owned()));
        }
    }
    lines
}

/// Whether `line` names `crate::<module>` or `crate::{... <module> ...}`.
fn names_module(line: &str, module: &str) -> bool {
    let direct = format!("crate::{module}::");
    let direct_end = format!("crate::{module};");
    let root_item = matches!(module, "deps") && line.contains("crate::deps");
    let in_braces = line.contains("crate::{")
        && line
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|word| word == module);
    line.contains(&direct) || line.contains(&direct_end) || root_item || in_braces
}

#[test]
fn the_core_names_no_surface_and_no_indicator() {
    let mut offences = Vec::new();
    for (file, number, line) in core_lines() {
        for module in OUTSIDE {
            if names_module(&line, module) {
                offences.push(format!("{}:{number}: {line}", file.display()));
            }
        }
        if line.contains("super::super") {
            offences.push(format!("{}:{number}: {line}", file.display()));
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

#[test]
fn the_core_compiles_the_same_whatever_the_surfaces() {
    let offences: Vec<String> = core_lines()
        .into_iter()
        .filter(|(_, _, line)| {
            let conditional = line.starts_with("#[cfg(")
                || line.contains("cfg!(")
                || (line.starts_with("#[cfg_attr(") && !line.ends_with("allow(dead_code))]"));
            conditional && line.contains("feature")
        })
        .map(|(file, number, line)| format!("{}:{number}: {line}", file.display()))
        .collect();
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

#[test]
fn the_check_finds_what_it_looks_for() {
    assert!(names_module("use crate::grpc::HealthService;", "grpc"));
    assert!(names_module(
        "use crate::{Check, prometheus};",
        "prometheus"
    ));
    assert!(names_module("crate::deps::tcp_check(name, addr)", "deps"));
    assert!(!names_module("use crate::{Check, HealthRuntime};", "http"));
    assert!(!names_module("let grpc = 1;", "grpc"));
    let joined = "use crate::{ Check, indicator::TcpEndpoint, };";
    assert!(names_module(joined, "indicator"));
}
