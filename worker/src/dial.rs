//! Opens a gRPC channel to the control plane over our own rustls connection.
//!
//! tonic's built-in TLS cannot pin a CA by fingerprint, so the worker does the TLS
//! handshake itself (with a config from `claudeops-pki`, the one place TLS is
//! configured) and hands tonic the encrypted stream. The server name verified is
//! always the control plane's role name, not the host dialled, so NAT and changing
//! addresses do not matter.

use std::sync::Arc;
use std::time::Duration;

use claudeops_pki::CONTROL_PLANE_NAME;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("invalid control plane address {0}")]
    Address(String),
    #[error("cannot reach the control plane at {addr}: {source}")]
    Connect {
        addr: String,
        source: tonic::transport::Error,
    },
}

/// A lazily re-dialling channel would hide refusals; this one connects now, so a
/// TLS refusal (revoked, wrong CA) surfaces as an error with its reason.
pub async fn channel(
    host: &str,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Channel, DialError> {
    let addr = format!("{host}:{port}");
    let uri = format!("http://{}", authority(host, port));
    let endpoint = Endpoint::from_shared(uri)
        .map_err(|_| DialError::Address(addr.clone()))?
        .connect_timeout(CONNECT_TIMEOUT)
        // A link that went silent (a frozen NAT, a partition) is noticed on
        // this side too within about 15 s, as the control plane notices it
        // from the missing heartbeats.
        .http2_keep_alive_interval(Duration::from_secs(5))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    let connector = TlsConnector::from(tls);
    let target = addr.clone();
    let service = tower::service_fn(move |_uri: tonic::codegen::http::Uri| {
        let connector = connector.clone();
        let target = target.clone();
        async move {
            let tcp = TcpStream::connect(&target).await?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from(CONTROL_PLANE_NAME)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            let tls = connector.connect(name, tcp).await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    endpoint
        .connect_with_connector(service)
        .await
        .map_err(|source| DialError::Connect { addr, source })
}

fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The innermost cause of an error chain, where rustls puts the TLS alert.
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    let mut text = error.to_string();
    while let Some(source) = current.source() {
        text = source.to_string();
        current = source;
    }
    text
}

/// Why the control plane refused us, if it was TLS: with TLS 1.3 a refused client
/// certificate surfaces only as an alert on the first read, which gRPC reports as
/// a bare "transport error". This opens one connection of its own, sends the HTTP/2
/// preface and reads, to learn the alert (unknown CA, revoked, ...).
pub async fn diagnose(host: &str, port: u16, tls: Arc<rustls::ClientConfig>) -> Option<Diagnosis> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let attempt = async {
        let tcp = TcpStream::connect((host, port)).await?;
        let name = ServerName::try_from(CONTROL_PLANE_NAME)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let mut stream = TlsConnector::from(tls).connect(name, tcp).await?;
        stream
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await?;
        let mut buf = [0u8; 16];
        stream.read(&mut buf).await.map(|_| ())
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Err(error)) => {
            let alert = error
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>());
            Some(Diagnosis {
                reason: match error.get_ref() {
                    Some(inner) => inner.to_string(),
                    None => error.to_string(),
                },
                revoked: matches!(
                    alert,
                    Some(rustls::Error::AlertReceived(
                        rustls::AlertDescription::CertificateRevoked
                    ))
                ),
            })
        }
        _ => None,
    }
}

/// What [`diagnose`] learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub reason: String,
    /// The control plane said this worker's certificate is revoked.
    pub revoked: bool,
}
