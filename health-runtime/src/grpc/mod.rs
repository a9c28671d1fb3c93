//! The gRPC surfaces: the standard `grpc.health.v1.Health` service (`Check`, `List`, `Watch`)
//! and the detailed `plugin.health.v1.HealthReport` service, both served from the published
//! state of a [`HealthRuntime`].
//!
//! ```no_run
//! use health_runtime::HealthRuntime;
//! use tonic::service::Routes;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let health = HealthRuntime::builder().version(env!("CARGO_PKG_VERSION")).build()?;
//! // Add your own services to `Routes`; the health services join them. Serves until SIGTERM or
//! // Ctrl-C, then reports NOT_SERVING for the drain delay and stops.
//! health_runtime::serve(&health, "127.0.0.1:50051".parse()?, Routes::default()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! With a server of your own (layers, TLS, ...), mount [`routes`] and hand
//! [`shutdown_signal`](crate::server::shutdown_signal) to its graceful shutdown:
//!
//! ```no_run
//! # use health_runtime::HealthRuntime;
//! # async fn run(health: HealthRuntime) -> Result<(), Box<dyn std::error::Error>> {
//! health.start();
//! tonic::transport::Server::builder()
//!     .add_routes(health_runtime::grpc::routes(&health))
//!     .serve_with_shutdown(
//!         "127.0.0.1:50051".parse()?,
//!         health_runtime::server::shutdown_signal(&health),
//!     )
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

mod deadline;
mod health;
mod report;
mod watch_report;

use tonic::service::Routes;

pub use deadline::RequestDeadline;
pub(crate) use deadline::deadline;
pub(crate) use health::WatchStreams;
pub use health::{HealthService, WatchStream};
pub use report::{HealthReportService, ReportStream};

use crate::HealthRuntime;
use crate::pb::health::v1::health_server::HealthServer;
use crate::pb::report::v1::health_report_server::HealthReportServer;

/// The response metadata key of a `GetHealthReport` answered with statuses only: its value says
/// why, and what to send for details (`authorization: Bearer <PLUGIN_HEALTH_AUTH_TOKEN>`). See
/// [`HealthReportService`].
pub const WITHHELD_METADATA: &str = "health-details-withheld";

/// The `grpc.health.v1.Health` service of `runtime`, ready to add to a tonic server.
pub fn health_server(runtime: &HealthRuntime) -> HealthServer<HealthService> {
    HealthServer::new(HealthService::new(runtime.clone()))
}

/// The `plugin.health.v1.HealthReport` service of `runtime`, ready to add to a tonic server.
pub fn report_server(runtime: &HealthRuntime) -> HealthReportServer<HealthReportService> {
    HealthReportServer::new(HealthReportService::new(runtime.clone()))
}

/// Both health services of `runtime`, to add to a tonic server with `Server::add_routes`, or to
/// extend with your own services (`routes(&health).add_service(...)`).
pub fn routes(runtime: &HealthRuntime) -> Routes {
    Routes::new(health_server(runtime)).add_service(report_server(runtime))
}

/// How many `Watch` streams of `runtime` are open now, over every health service made from it.
pub fn watch_streams(runtime: &HealthRuntime) -> usize {
    runtime.extension::<WatchStreams>().open()
}
