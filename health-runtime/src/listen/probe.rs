//! The probe port: a plaintext listener serving only `grpc.health.v1` (`Check`, `Watch`, `List`)
//! and the HTTP probe paths, from the published state, on a thread and runtime of its own, so
//! that an application that keeps every worker busy cannot make a probe miss its deadline.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use hyper::body::Incoming;
use tokio::sync::watch;

use super::Drained;
use super::accept::{self, Listen};
use super::http::{Protocols, builder};
use crate::HealthRuntime;

/// How often the application's runtime shows the probe port that it still runs tasks.
const BEAT: std::time::Duration = std::time::Duration::from_millis(500);

/// The probe port's thread, which ends once shutdown's grace has passed.
#[derive(Debug)]
pub(crate) struct ProbePort {
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProbePort {
    /// Binds `addr` and starts serving on a thread of its own, until `closed`; new connections
    /// are taken until `stop`.
    pub(crate) fn start(
        runtime: &HealthRuntime,
        addr: SocketAddr,
        stop: Drained,
        closed: Drained,
    ) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        tracing::info!(addr = %listener.local_addr()?, "serving the probe port (grpc.health.v1 and HTTP probes, plaintext)");
        // The moments of shutdown are futures of the main runtime; the probe thread learns of
        // them through a channel, so that no timer crosses runtimes.
        let (phase, phases) = watch::channel(0u8);
        let heartbeat = runtime.extension::<super::Heartbeat>();
        {
            let closed = closed.clone();
            tokio::spawn(async move {
                loop {
                    heartbeat.beat();
                    tokio::select! {
                        () = tokio::time::sleep(BEAT) => {}
                        () = closed.clone() => return,
                    }
                }
            });
        }
        tokio::spawn(async move {
            stop.await;
            phase.send_replace(1);
            closed.await;
            phase.send_replace(2);
        });
        let runtime = runtime.clone();
        let thread = std::thread::Builder::new()
            .name("health-probe-port".to_owned())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(error) => {
                        tracing::error!(%error, "the probe port cannot start its runtime");
                        return;
                    }
                };
                rt.block_on(serve(runtime, listener, phases));
            })?;
        Ok(ProbePort {
            thread: Some(thread),
        })
    }

    /// Waits for the thread to end.
    pub(crate) async fn finish(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn reached(mut phases: watch::Receiver<u8>, at: u8) -> Drained {
    async move {
        // A dropped sender (the main runtime gone) counts as every phase reached.
        let _ = phases.wait_for(|phase| *phase >= at).await;
    }
    .boxed()
    .shared()
}

async fn serve(
    runtime: HealthRuntime,
    listener: std::net::TcpListener,
    phases: watch::Receiver<u8>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, "the probe port cannot listen");
            return;
        }
    };
    let (stop, closed) = (reached(phases.clone(), 1), reached(phases, 2));
    let limits = runtime.config().surfaces.limits.clone();
    let listen = Listen {
        surface: "probe",
        cap: accept::cap(limits.http_connections, 8),
        idle: Some(limits.idle_timeout),
        #[cfg(feature = "tls")]
        tls: None,
        #[cfg(feature = "tls")]
        handshake_timeout: limits.tls_handshake_timeout,
    };
    let (incoming, _) = accept::incoming(listener, listen, stop.clone(), closed.clone());
    let service = ProbeService {
        grpc: tonic::service::Routes::new(crate::grpc::deadline(
            crate::pb::health::v1::health_server::HealthServer::new(
                crate::grpc::HealthService::published(runtime.clone()),
            ),
            limits.request_timeout,
        )),
        http: crate::http::probe_router(&runtime),
    };
    super::http::serve(
        incoming,
        service,
        builder(Protocols::Http1AndH2c, &limits),
        stop,
        closed,
    )
    .await;
}

/// gRPC requests to the health service, everything else to the HTTP probe routes.
#[derive(Clone)]
struct ProbeService {
    grpc: tonic::service::Routes,
    http: axum::Router,
}

impl tower_service::Service<http::Request<Incoming>> for ProbeService {
    type Response = http::Response<axum::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Incoming>) -> Self::Future {
        let grpc = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"));
        if grpc {
            let mut routes = self.grpc.clone();
            async move {
                let response = tower_service::Service::call(&mut routes, request).await?;
                Ok(response.map(axum::body::Body::new))
            }
            .boxed()
        } else {
            let mut router = self.http.clone();
            async move { tower_service::Service::call(&mut router, request).await }.boxed()
        }
    }
}
