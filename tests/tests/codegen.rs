//! The checked-in Rust generated from the protos matches what the protos generate now.
//!
//! After changing a `.proto`, regenerate with
//! `HEALTH_CODEGEN=overwrite cargo test -p tests --test codegen` and commit the result.

use std::path::{Path, PathBuf};

struct Target {
    protos: &'static [&'static str],
    include: &'static str,
    out: &'static str,
}

const TARGETS: &[Target] = &[
    Target {
        protos: &[
            "grpc/health/v1/health.proto",
            "plugin/health/v1/report.proto",
            "plugin/grpc_broker.proto",
            "plugin/grpc_controller.proto",
            "plugin/grpc_stdio.proto",
        ],
        include: "health-runtime/proto",
        out: "health-runtime/src/generated",
    },
    Target {
        protos: &["kv/v1/kv.proto"],
        include: "examples/proto",
        out: "examples/generated",
    },
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn generated_code_is_up_to_date() {
    let overwrite = std::env::var("HEALTH_CODEGEN").as_deref() == Ok("overwrite");
    let mut stale = Vec::new();
    for target in TARGETS {
        let include = workspace().join(target.include);
        let descriptors = protox::compile(target.protos, [&include])
            .unwrap_or_else(|error| panic!("{}: {error}", target.include));
        let scratch = std::env::temp_dir().join(format!(
            "health-codegen-{}-{}",
            std::process::id(),
            target.out.replace('/', "_")
        ));
        std::fs::create_dir_all(&scratch).unwrap();
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            .emit_rerun_if_changed(false)
            .out_dir(&scratch)
            .compile_fds(descriptors)
            .unwrap();

        let out = workspace().join(target.out);
        let mut generated: Vec<_> = std::fs::read_dir(&scratch)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        generated.sort();
        for file in generated {
            let name = file.file_name().unwrap();
            let fresh = std::fs::read_to_string(&file).unwrap();
            let checked_in = out.join(name);
            if std::fs::read_to_string(&checked_in).ok().as_deref() != Some(fresh.as_str()) {
                if overwrite {
                    std::fs::create_dir_all(&out).unwrap();
                    std::fs::write(&checked_in, &fresh).unwrap();
                } else {
                    stale.push(checked_in.display().to_string());
                }
            }
        }
        std::fs::remove_dir_all(&scratch).unwrap();
    }
    assert!(
        stale.is_empty(),
        "generated code is out of date: {stale:?}; run `HEALTH_CODEGEN=overwrite cargo test -p tests --test codegen`"
    );
}
