//! The worker's loopback Messages API proxy.
//!
//! Each `claude` CLI session runs in a sandbox that holds no secret, so the
//! model key must never enter the CLI's environment. The worker starts one
//! [`ModelProxy`] on `127.0.0.1` and opens a session on it per CLI run; the CLI
//! gets `ANTHROPIC_BASE_URL` = [`ModelProxy::base_url`] and
//! `ANTHROPIC_API_KEY` = [`SessionKey::token`]. The proxy checks the token,
//! swaps in the real credentials of the [`Upstream`], and passes the answer back
//! byte for byte as it arrives. Because every request passes through it, it
//! also meters tokens and cost live ([`Meter`]), stops a session whose cost
//! reaches its cap ([`SessionKey::capped`]), and refuses models the session's
//! tier was not granted ([`Grant`]).
//!
//! Only `POST /v1/messages` (any query) and `POST /v1/messages/count_tokens`
//! are forwarded. The proxy must not log, forward to the client or put in an
//! error the model key or a session token, and must not buffer a whole answer.
//!
//! The server side is hyper's HTTP/1 server (all the CLI speaks to a plain
//! `http://` base URL). The client side is reqwest rather than hyper's bare
//! client: it already does what a forwarder needs (connection pooling, HTTP/2
//! by ALPN, connect and read timeouts, streaming bodies) and the workspace
//! builds it anyway; its rustls config (ring, Mozilla roots) is built here, so
//! nothing depends on a process-wide crypto provider.
//!
//! Cost is metered from the usage the answers report, at the prices of
//! [`pricing`]; a session is stopped as soon as a usage event takes it to its
//! cap, mid-stream included: the rest of that answer is not forwarded and the
//! upstream request is dropped. Tokens an event reports were already spent,
//! so the cost can end above the cap by what the answers in flight reported
//! last. The Messages API sends `message_delta` (the output count) near the
//! end of each answer, so in practice the check falls between the input count
//! (`message_start`) and the end of an answer; content deltas are not counted.

mod forward;
pub mod pricing;
mod reply;
mod session;
mod stream;
mod upstream;
mod usage;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use forward::MAX_REQUEST_BYTES;
pub use session::{Grant, Meter, SessionKey, TOKEN_PREFIX};
pub use upstream::{ANTHROPIC_BASE_URL, Upstream, UpstreamClient, describe as describe_error};

use forward::Shared;
use session::Registry;

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("the model proxy cannot listen on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    #[error("the upstream base URL is not usable: {reason}")]
    BaseUrl { reason: String },
    #[error("the upstream {what} is not a valid HTTP header value")]
    Credential { what: String },
    #[error("cannot build the upstream http client: {0}")]
    Client(String),
}

/// A running proxy. Clones share it; it stops accepting connections when the
/// last clone is dropped.
#[derive(Clone)]
pub struct ModelProxy {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    registry: Arc<Registry>,
    accept: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl ModelProxy {
    /// Binds `127.0.0.1` on an ephemeral port and starts serving.
    pub async fn start(upstream: Upstream) -> Result<ModelProxy, ProxyError> {
        let client = UpstreamClient::new(&upstream)?;
        let origin = client.origin.clone();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(ProxyError::Bind)?;
        let addr = listener.local_addr().map_err(ProxyError::Bind)?;
        let registry = Arc::new(Registry::default());
        let shared = Arc::new(Shared {
            registry: registry.clone(),
            upstream: client,
        });
        let accept = tokio::spawn(accept_loop(listener, shared));
        tracing::info!(%addr, upstream = %origin, "the model proxy is listening");
        Ok(ModelProxy {
            inner: Arc::new(Inner {
                addr,
                registry,
                accept,
            }),
        })
    }

    /// The base URL for the CLI's `ANTHROPIC_BASE_URL`: `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The address the proxy listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Registers a session; its token is valid until the key is dropped.
    pub fn open(&self, grant: Grant) -> SessionKey {
        self.inner.registry.open(grant)
    }
}

impl std::fmt::Debug for ModelProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelProxy")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

/// Serves one client connection; closes it after the current answer when that
/// answer was cut short, so the client sees the stream end and the connection
/// close.
async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let hang_up = Arc::new(Notify::new());
    let service = {
        let hang_up = hang_up.clone();
        service_fn(move |req| forward::handle(shared.clone(), hang_up.clone(), req))
    };
    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = hang_up.notified() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "a model proxy connection ended with an error");
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "the model proxy could not accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        tokio::spawn(serve_connection(stream, shared.clone()));
    }
}
