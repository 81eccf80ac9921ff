//! Enrollment: a one-time token and a CSR in, a worker certificate out.
//!
//! Served on its own listener with server-only TLS (the worker has no certificate
//! yet and pins our CA by the fingerprint in its token). The token is checked and
//! consumed atomically in the store; the certificate's identity (site, worker id)
//! comes from the token and from us, never from the CSR.

use std::sync::Arc;
use std::time::Duration;

use claudeops_core::SiteName;
use claudeops_core::worker::WorkerRecord;
use claudeops_pki::{Ca, WorkerIdentity, hash_secret};
use claudeops_proto::v1::enrollment_server::Enrollment;
use claudeops_proto::v1::{EnrollRequest, EnrollResponse};
use claudeops_store::{Store, StoreError};
use tonic::{Request, Response, Status};

use crate::clock::now_ms;

/// How long a worker certificate is valid.
pub const WORKER_CERT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

pub struct EnrollService {
    pub store: Arc<dyn Store>,
    pub ca: Arc<Ca>,
}

#[tonic::async_trait]
impl Enrollment for EnrollService {
    async fn enroll(
        &self,
        request: Request<EnrollRequest>,
    ) -> Result<Response<EnrollResponse>, Status> {
        let req = request.into_inner();
        let site =
            SiteName::new(req.site.clone()).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let worker_id = new_worker_id();
        let identity = WorkerIdentity::new(site.as_str(), worker_id.clone());
        // Sign first: a bad CSR must not burn the token.
        let issued = self
            .ca
            .sign_worker_csr(&req.csr_pem, &identity, WORKER_CERT_VALIDITY)
            .map_err(|e| Status::invalid_argument(format!("bad certificate request: {e}")))?;
        let token_site = self
            .store
            .consume_enroll_token(&req.token_id, &hash_secret(&req.token_secret), now_ms())
            .await
            .map_err(|e| token_refusal(&e, &site))?;
        if token_site != site {
            tracing::warn!(token_site = %token_site, worker_site = %site, "refused enrollment: site mismatch");
            return Err(Status::permission_denied(format!(
                "this enrollment token is for site {token_site}, but the worker is configured for site {site} (CLAUDEOPS_SITE)"
            )));
        }
        let record = WorkerRecord {
            id: worker_id.clone(),
            site: site.clone(),
            hostname: req.hostname.chars().take(255).collect(),
            version: String::new(),
            capabilities: Vec::new(),
            cert_serial: issued.serial_hex.clone(),
            cert_fingerprint: issued.fingerprint.clone(),
            cert_not_after_ms: issued.not_after.saturating_mul(1000),
            enrolled_at_ms: now_ms(),
            last_seen_ms: None,
            revoked_at_ms: None,
        };
        self.store.insert_worker(&record).await.map_err(|e| {
            tracing::error!(error = %e, "could not record an enrolled worker");
            Status::internal("could not record the worker")
        })?;
        tracing::info!(%site, worker = %worker_id, hostname = %record.hostname, "worker enrolled");
        Ok(Response::new(EnrollResponse {
            worker_id,
            site: site.to_string(),
            certificate_pem: issued.cert_pem,
            ca_pem: self.ca.cert_pem().to_owned(),
        }))
    }
}

fn token_refusal(error: &StoreError, site: &SiteName) -> Status {
    let again =
        format!("create a new one with `claudeops-control-plane enroll-token --site {site}`");
    let status = match error {
        StoreError::TokenUnknown => {
            Status::unauthenticated(format!("unknown enrollment token or wrong secret; {again}"))
        }
        StoreError::TokenUsed => {
            Status::unauthenticated(format!("this enrollment token was already used; {again}"))
        }
        StoreError::TokenExpired => {
            Status::unauthenticated(format!("this enrollment token has expired; {again}"))
        }
        other => {
            tracing::error!(error = %other, "enrollment store error");
            return Status::internal("could not check the enrollment token");
        }
    };
    tracing::warn!(reason = %status.message(), "refused enrollment");
    status
}

fn new_worker_id() -> String {
    let bytes: [u8; 6] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("w-{hex}")
}
