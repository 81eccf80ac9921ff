//! Who a fake worker is: a key of its own, a CSR, a certificate signed by the
//! control plane's CA (directly, or through the enrollment listener with a
//! one-time token), and the client TLS config built from them.
//!
//! It must not depend on the worker crate: [`dial`] does what
//! `worker/src/dial.rs` does (our own rustls handshake with the pki crate's
//! config, the server name always the control plane's role name) in a few lines.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use claudeops_core::SiteName;
use claudeops_core::worker::WorkerRecord;
use claudeops_pki::{
    CONTROL_PLANE_NAME, Ca, EnrollToken, WorkerIdentity, WorkerKey, make_csr, tls,
};
use claudeops_proto::v1 as pb;
use claudeops_proto::v1::enrollment_client::EnrollmentClient;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint};

use crate::support::{DEADLINE, TestApp};

/// A worker's identity: its record in the store and its client TLS config.
#[derive(Clone)]
pub struct Identity {
    pub worker_id: String,
    pub site: String,
    pub tls: Arc<rustls::ClientConfig>,
}

impl Identity {
    /// Enrolls a worker of `site` the way enrollment does (CSR signed by the
    /// control plane's CA, the record inserted in the store), without the
    /// enrollment listener.
    pub async fn enroll(app: &TestApp, site: &str, worker_id: &str) -> Identity {
        let ca = Ca::load_or_create(&app.state_dir())
            .unwrap_or_else(|e| panic!("the control plane's CA: {e}"));
        let key = WorkerKey::generate().unwrap_or_else(|e| panic!("a worker key: {e}"));
        let csr = make_csr(&key, "fake-worker").unwrap_or_else(|e| panic!("a CSR: {e}"));
        let issued = ca
            .sign_worker_csr(
                &csr,
                &WorkerIdentity::new(site, worker_id),
                Duration::from_secs(3600),
            )
            .unwrap_or_else(|e| panic!("signing the worker's CSR: {e}"));
        let record = WorkerRecord {
            id: worker_id.to_owned(),
            site: SiteName::new(site).unwrap_or_else(|e| panic!("site {site:?}: {e}")),
            hostname: "fake-worker".to_owned(),
            version: String::new(),
            capabilities: Vec::new(),
            cert_serial: issued.serial_hex.clone(),
            cert_fingerprint: issued.fingerprint.clone(),
            cert_not_after_ms: issued.not_after.saturating_mul(1000),
            enrolled_at_ms: 0,
            last_seen_ms: None,
            revoked_at_ms: None,
        };
        app.state
            .context
            .store
            .insert_worker(&record)
            .await
            .unwrap_or_else(|e| panic!("recording the worker: {e}"));
        let tls = tls::grpc_client_config(ca.cert_pem(), &issued.cert_pem, &key)
            .unwrap_or_else(|e| panic!("the worker's TLS config: {e}"));
        Identity {
            worker_id: worker_id.to_owned(),
            site: site.to_owned(),
            tls,
        }
    }

    /// Enrolls the way a new worker does: a one-time token from
    /// `create_enroll_token`, the CA pinned by the token's fingerprint, a CSR
    /// to the enrollment listener. Errors are the listener's refusals.
    pub async fn enroll_with_token(
        enroll_addr: SocketAddr,
        token: &str,
        site: &str,
    ) -> Result<Identity, tonic::Status> {
        let token = EnrollToken::parse(token).unwrap_or_else(|e| panic!("the token: {e}"));
        let pinned = tls::pinned_client_config(&token.ca_fingerprint)
            .unwrap_or_else(|e| panic!("the pinned TLS config: {e}"));
        let key = WorkerKey::generate().unwrap_or_else(|e| panic!("a worker key: {e}"));
        let csr = make_csr(&key, "fake-worker").unwrap_or_else(|e| panic!("a CSR: {e}"));
        let answer = EnrollmentClient::new(dial(enroll_addr, pinned).await)
            .enroll(pb::EnrollRequest {
                token_id: token.id.clone(),
                token_secret: token.secret.clone(),
                csr_pem: csr,
                hostname: "fake-worker".to_owned(),
                site: site.to_owned(),
            })
            .await?
            .into_inner();
        assert_eq!(answer.site, site);
        let tls = tls::grpc_client_config(&answer.ca_pem, &answer.certificate_pem, &key)
            .unwrap_or_else(|e| panic!("the worker's TLS config: {e}"));
        Ok(Identity {
            worker_id: answer.worker_id,
            site: answer.site,
            tls,
        })
    }
}

/// A gRPC channel over our own TLS connection, verifying the control plane's
/// role name whatever address is dialled (as `worker/src/dial.rs` does).
pub async fn dial(addr: SocketAddr, tls: Arc<rustls::ClientConfig>) -> Channel {
    let connector = TlsConnector::from(tls);
    let service = tower::service_fn(move |_uri: tonic::codegen::http::Uri| {
        let connector = connector.clone();
        async move {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from(CONTROL_PLANE_NAME)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            let stream = connector.connect(name, tcp).await?;
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        }
    });
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap_or_else(|e| panic!("the address {addr}: {e}"))
        .connect_timeout(DEADLINE)
        .connect_with_connector(service)
        .await
        .unwrap_or_else(|e| panic!("dialling {addr}: {e}"))
}
