//! The OTLP/HTTP exporters' client: the tree's reqwest 0.12 with rustls (`opentelemetry-otlp`'s
//! own reqwest features would pull reqwest 0.13, a second client and TLS setup).
//!
//! The SDK's batch processors and periodic reader export from threads of their own, driving
//! the export future with a plain executor; reqwest's connections need Tokio's reactor, so each
//! request is spawned on the Tokio runtime the exporters were built in, and its result sent
//! back.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};

/// The largest response body read, as `opentelemetry-http`'s own clients (4 MiB).
const MAX_RESPONSE: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct ReqwestClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

/// Why an export request failed before an answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestError {
    #[error("the OTLP/HTTP request failed: {0}")]
    Send(#[from] reqwest::Error),
    #[error("the OTLP/HTTP response body is larger than {MAX_RESPONSE} bytes")]
    TooLarge,
    #[error("the Tokio runtime of the exporter is gone")]
    RuntimeGone,
}

impl ReqwestClient {
    /// A client whose requests end after `timeout`, answer included, spawned on `runtime`.
    pub(crate) fn new(
        timeout: Duration,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(ReqwestClient { client, runtime })
    }
}

async fn send(
    client: reqwest::Client,
    request: reqwest::Request,
) -> Result<Response<Bytes>, RequestError> {
    let mut response = client.execute(request).await?;
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_RESPONSE {
            return Err(RequestError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let mut answer = Response::new(Bytes::from(body));
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    Ok(answer)
}

impl HttpClient for ReqwestClient {
    // The shape `#[async_trait]` gives the trait's method.
    fn send_bytes<'client, 'future>(
        &'client self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'future>>
    where
        'client: 'future,
        Self: 'future,
    {
        let client = self.client.clone();
        let runtime = self.runtime.clone();
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)?;
            let task = runtime.spawn(send(client, request));
            match task.await {
                Ok(answer) => answer.map_err(HttpError::from),
                Err(_) => Err(HttpError::from(RequestError::RuntimeGone)),
            }
        })
    }
}
