//! The generic HTTP/1.1 accept loop, shared by the sandbox and the harness's
//! Runtime API (as `rollee_sandbox::spawn_server`).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Serves HTTP/1.1 on `listener`, each request through `handle` with `shared`,
/// until the returned task is aborted. Shared by the sandbox and the Runtime API.
pub fn spawn_server<S, F, E>(
    listener: TcpListener,
    shared: Arc<S>,
    handle: fn(Arc<S>, Request<Incoming>) -> F,
) -> JoinHandle<()>
where
    S: Send + Sync + 'static,
    F: Future<Output = Result<Response<Full<Bytes>>, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| handle(shared.clone(), request));
                // An error here is a dropped connection, wanted or not: nothing to do.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
