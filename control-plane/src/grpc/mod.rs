//! The control plane's two TLS listeners: the mTLS worker link and enrollment.
//!
//! TLS is done here with configs from `claudeops-pki` (the one place TLS is
//! configured); tonic receives finished TLS streams. A failed handshake (no client
//! certificate, a foreign CA, a revoked certificate) is logged with the peer's
//! address and rustls' reason; no gRPC exchange happens without a valid one.

pub mod enroll;
pub mod link;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use claudeops_proto::v1::enrollment_server::EnrollmentServer;
use claudeops_proto::v1::worker_link_server::WorkerLinkServer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the worker link (mutual TLS) on `listener` until `stopped`.
pub async fn serve_link(
    link: link::LinkService,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let incoming = tls_incoming(listener, tls, "grpc");
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .add_service(WorkerLinkServer::new(link))
        .serve_with_incoming_shutdown(incoming, stopped)
        .await
        .context("the gRPC listener")
}

/// Serves enrollment (server TLS) on `listener` until `stopped`.
pub async fn serve_enroll(
    service: enroll::EnrollService,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let incoming = tls_incoming(listener, tls, "enroll");
    tonic::transport::Server::builder()
        .add_service(EnrollmentServer::new(service))
        .serve_with_incoming_shutdown(incoming, stopped)
        .await
        .context("the enrollment listener")
}

/// Accepts TCP connections and completes TLS handshakes, yielding only the ones
/// that succeeded. Ends when the listener fails.
pub fn tls_incoming(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    what: &'static str,
) -> ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let (tx, rx) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(tls);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(conn) => conn,
                Err(error) => {
                    tracing::warn!(%error, listener = what, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if tx.is_closed() {
                return;
            }
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Some(stream) = handshake(acceptor, tcp, peer, what).await
                    && tx.send(Ok(stream)).await.is_err()
                {
                    tracing::debug!("listener closed while a handshake finished");
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    what: &'static str,
) -> Option<TlsStream<TcpStream>> {
    let _ = tcp.set_nodelay(true);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(error)) => {
            tracing::warn!(%peer, listener = what, reason = %error, "refused a TLS connection");
            None
        }
        Err(_) => {
            tracing::warn!(%peer, listener = what, "refused a TLS connection: handshake timed out");
            None
        }
    }
}
