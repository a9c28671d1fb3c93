//! The protobuf messages, clients and servers generated from `health-runtime/proto/`, as
//! tonic-health's `pb`: `grpc.health.v1` (the standard health checking protocol, with `List`),
//! `plugin.health.v1` (the detailed report) and, with the `go-plugin` feature, go-plugin's own
//! `plugin` services.
#![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]

/// `grpc.health.v1`: the standard health checking protocol, with `List`.
pub mod health {
    /// Version 1.
    pub mod v1 {
        include!("generated/grpc.health.v1.rs");
    }
}

/// `plugin`: HashiCorp go-plugin's own services (controller, stdio, broker).
#[cfg(feature = "go-plugin")]
#[cfg_attr(docsrs, doc(cfg(feature = "go-plugin")))]
pub mod go_plugin {
    include!("generated/plugin.rs");
}

/// `plugin.health.v1`: the detailed health report.
pub mod report {
    /// Version 1.
    pub mod v1 {
        include!("generated/plugin.health.v1.rs");
    }
}
