//! The services go-plugin hosts call beside the plugin's own: `plugin.GRPCController` (the host
//! asks the plugin to stop), `plugin.GRPCStdio` (the plugin's stdout and stderr, mirrored on the
//! host) and `plugin.GRPCBroker` (extra connections between host and plugin).

use futures::StreamExt as _;
use futures::stream::BoxStream;
use tonic::{Request, Response, Status, Streaming};

use super::Stop;
use super::stdio::Captured;
use crate::pb::go_plugin::grpc_broker_server::GrpcBroker;
use crate::pb::go_plugin::grpc_controller_server::GrpcController;
use crate::pb::go_plugin::grpc_stdio_server::GrpcStdio;
use crate::pb::go_plugin::{ConnInfo, Empty, StdioData};
use crate::server::Drained;

/// `plugin.GRPCController`: `Shutdown` answers at once and starts the plugin's shutdown.
#[derive(Debug)]
pub(crate) struct Controller {
    pub(crate) stop: Stop,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::info!("plugin: the host asked the plugin to shut down");
        self.stop.trigger();
        Ok(Response::new(Empty {}))
    }
}

/// `plugin.GRPCStdio`: what the process writes to its standard output after the handshake line,
/// when it was captured; the stream ends, after whatever is still queued, once the plugin has
/// drained.
#[derive(Debug)]
pub(crate) struct Stdio {
    pub(crate) drained: Drained,
    pub(crate) captured: Captured,
}

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    type StreamStdioStream = BoxStream<'static, Result<StdioData, Status>>;

    async fn stream_stdio(
        &self,
        _request: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        // The first caller gets the captured output; go-plugin calls this once per process.
        let chunks = self.captured.take();
        let stream = futures::stream::unfold(
            (self.drained.clone(), chunks, false),
            |(drained, mut chunks, ending)| async move {
                if ending {
                    // Drained: what is still queued, then the end.
                    let chunk = chunks.as_mut()?.try_recv().ok()?;
                    return Some((Ok(chunk), (drained, chunks, true)));
                }
                let next = async {
                    match &mut chunks {
                        Some(receiver) => receiver.recv().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    chunk = next => match chunk {
                        Some(chunk) => Some((Ok(chunk), (drained, chunks, false))),
                        // Capture ended: hold the stream open until the drain is over.
                        None => {
                            drained.await;
                            None
                        }
                    },
                    () = drained.clone() => {
                        let chunk = chunks.as_mut()?.try_recv().ok()?;
                        Some((Ok(chunk), (drained, chunks, true)))
                    }
                }
            },
        );
        Ok(Response::new(Box::pin(stream)))
    }
}

/// `plugin.GRPCBroker`: the stream stays open and silent until the plugin has drained. Broker
/// connections are for plugins that dial back into their host, which this server never does;
/// offers from the host are read and logged once.
#[derive(Debug)]
pub(crate) struct Broker {
    pub(crate) drained: Drained,
}

#[tonic::async_trait]
impl GrpcBroker for Broker {
    type StartStreamStream = BoxStream<'static, Result<ConnInfo, Status>>;

    async fn start_stream(
        &self,
        request: Request<Streaming<ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut inbound = request.into_inner();
        let drained = self.drained.clone();
        let held = futures::stream::once(async move {
            let mut logged = false;
            loop {
                tokio::select! {
                    () = drained.clone() => return,
                    message = inbound.message() => match message {
                        Ok(Some(offer)) => {
                            if !logged {
                                tracing::debug!(
                                    service_id = offer.service_id,
                                    "plugin: the host offered a broker connection, which this plugin does not use"
                                );
                                logged = true;
                            }
                        }
                        // The host closed its side: stay open until the drain is over.
                        Ok(None) | Err(_) => {
                            drained.await;
                            return;
                        }
                    },
                }
            }
        })
        .filter_map(|()| std::future::ready(None));
        Ok(Response::new(Box::pin(held)))
    }
}
