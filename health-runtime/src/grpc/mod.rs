//! The gRPC surfaces: the standard `grpc.health.v1.Health` service (`Check`, `List`, `Watch`)
//! and the detailed `plugin.health.v1.HealthReport` service, both served from the published
//! state of a [`HealthRuntime`](crate::HealthRuntime).
//!
//! ```no_run
//! use health_runtime::HealthRuntime;
//! use tonic::service::Routes;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let health = HealthRuntime::builder().version(env!("CARGO_PKG_VERSION")).build()?;
//! // Add your own services to `Routes`; the health services join them. Serves until SIGTERM or
//! // Ctrl-C, then reports NOT_SERVING for the drain delay and stops.
//! health.serve("127.0.0.1:50051".parse()?, Routes::default()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! With a server of your own (layers, TLS, ...), mount [`HealthRuntime::grpc_routes`](crate::HealthRuntime::grpc_routes) and hand
//! [`HealthRuntime::shutdown_signal`](crate::HealthRuntime::shutdown_signal) to its graceful shutdown:
//!
//! ```no_run
//! # use health_runtime::HealthRuntime;
//! # async fn run(health: HealthRuntime) -> Result<(), Box<dyn std::error::Error>> {
//! health.start();
//! tonic::transport::Server::builder()
//!     .add_routes(health.grpc_routes())
//!     .serve_with_shutdown("127.0.0.1:50051".parse()?, health.shutdown_signal())
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Service names
//!
//! | name | status |
//! |---|---|
//! | `""`, `plugin` | every check (`plugin` is what HashiCorp go-plugin hosts ask for) |
//! | `liveness`, `readiness`, `startup` | the checks of that probe group; `readiness` and `startup` are `NOT_SERVING` until their checks have a result, and `startup` stays `SERVING` once it has passed |
//! | a check's name | that check |
//! | a `service` value | every check naming it |
//!
//! `healthy` and `warning` are `SERVING`, `critical` is `NOT_SERVING`, and a check with no
//! result yet is `UNKNOWN`. After [`HealthRuntime::shutdown`](crate::HealthRuntime::shutdown) every name is `NOT_SERVING`.
//! A name that breaks the naming rules (longer than 128 bytes, or characters outside
//! `[A-Za-z0-9._/-]`) can never exist and is refused with `INVALID_ARGUMENT`.

mod health;
mod report;
mod serve;

pub use health::{HealthService, WatchStream};
pub use report::HealthReportService;
#[cfg(feature = "go-plugin")]
pub(crate) use serve::{Drained, grpc_server};
pub use serve::{ServeError, termination_signal};

/// The protobuf messages, clients and servers generated from `health-runtime/proto/`.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod proto {
    /// `grpc.health.v1`: the standard health checking protocol, with `List`.
    pub mod health {
        /// Version 1.
        pub mod v1 {
            include!("../generated/grpc.health.v1.rs");
        }
    }

    /// `plugin`: HashiCorp go-plugin's own services (controller, stdio, broker).
    #[cfg(feature = "go-plugin")]
    #[cfg_attr(docsrs, doc(cfg(feature = "go-plugin")))]
    pub mod go_plugin {
        include!("../generated/plugin.rs");
    }

    /// `plugin.health.v1`: the detailed health report.
    pub mod report {
        /// Version 1.
        pub mod v1 {
            include!("../generated/plugin.health.v1.rs");
        }
    }
}
