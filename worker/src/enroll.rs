//! The worker's identity: a client certificate from the control plane's CA, got
//! once with a one-time enrollment token and kept in the worker's state dir.
//!
//! Enrollment talks to the control plane's enrollment listener (never the mTLS
//! gRPC port) and pins the CA by the fingerprint carried in the token, as
//! `kubeadm join` does, so a man in the middle cannot hand out certificates.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use claudeops_core::SiteName;
use claudeops_pki::{EnrollToken, WorkerKey, fingerprint, make_csr, tls};
use claudeops_proto::v1::EnrollRequest;
use claudeops_proto::v1::enrollment_client::EnrollmentClient;
use serde::{Deserialize, Serialize};

use crate::dial;

const KEY_FILE: &str = "worker.key";
const CERT_FILE: &str = "worker.pem";
const CA_FILE: &str = "ca.pem";
const IDENTITY_FILE: &str = "identity.json";

/// What the worker proves itself with.
#[derive(Debug, Clone)]
pub struct Identity {
    pub site: SiteName,
    pub worker_id: String,
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

#[derive(Serialize, Deserialize)]
struct IdentityFile {
    site: SiteName,
    worker_id: String,
}

impl Identity {
    /// The mTLS client configuration for the gRPC link.
    pub fn client_tls(&self) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        tls::grpc_client_config(&self.ca_pem, &self.cert_pem, &self.key_pem)
            .context("building the worker's TLS configuration")
    }
}

/// Loads the identity kept in `state_dir`, if there is one.
pub fn load(state_dir: &Path) -> anyhow::Result<Option<Identity>> {
    let path = |name: &str| state_dir.join(name);
    if !path(CERT_FILE).exists() {
        return Ok(None);
    }
    let read = |name: &str| -> anyhow::Result<String> {
        std::fs::read_to_string(path(name)).with_context(|| format!("reading {:?}", path(name)))
    };
    let ids: IdentityFile = serde_json::from_str(&read(IDENTITY_FILE)?)
        .with_context(|| format!("parsing {:?}", path(IDENTITY_FILE)))?;
    Ok(Some(Identity {
        site: ids.site,
        worker_id: ids.worker_id,
        ca_pem: read(CA_FILE)?,
        cert_pem: read(CERT_FILE)?,
        key_pem: read(KEY_FILE)?,
    }))
}

/// Removes a kept identity so the next start enrolls again.
pub fn forget(state_dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(state_dir.join(CERT_FILE)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing the identity in {state_dir:?}")),
    }
}

/// Reuses the kept identity, or enrolls with the token.
pub async fn load_or_enroll(
    state_dir: &Path,
    control_plane_host: &str,
    site: &SiteName,
    token: Option<&str>,
) -> anyhow::Result<Identity> {
    if let Some(identity) = load(state_dir)? {
        if &identity.site != site {
            bail!(
                "this worker is enrolled for site {:?} but CLAUDEOPS_SITE is {:?}; \
                 remove {:?} to enroll again",
                identity.site.as_str(),
                site.as_str(),
                state_dir
            );
        }
        return Ok(identity);
    }
    let token = token.ok_or_else(|| {
        anyhow!(
            "this worker has no certificate yet: set CLAUDEOPS_ENROLL_TOKEN to a token from \
             `claudeops-control-plane enroll-token --site {site}`"
        )
    })?;
    let token = EnrollToken::parse(token).context("CLAUDEOPS_ENROLL_TOKEN")?;
    let identity = enroll(control_plane_host, site, &token).await?;
    save(state_dir, &identity)?;
    Ok(identity)
}

async fn enroll(host: &str, site: &SiteName, token: &EnrollToken) -> anyhow::Result<Identity> {
    let key_pem = WorkerKey::generate()?;
    let hostname = hostname();
    let csr_pem = make_csr(&key_pem, &hostname)?;
    let tls = tls::pinned_client_config(&token.ca_fingerprint)?;
    let channel = dial::channel(host, token.enroll_port, tls).await.map_err(|e| {
        anyhow!(
            "enrollment failed: {} (is the control plane's enrollment listener at {host}:{} and is the CA fingerprint in the token right?)",
            dial::root_cause(&e),
            token.enroll_port
        )
    })?;
    let response = EnrollmentClient::new(channel)
        .enroll(EnrollRequest {
            token_id: token.id.clone(),
            token_secret: token.secret.clone(),
            csr_pem,
            hostname,
            site: site.to_string(),
        })
        .await
        .map_err(|status| anyhow!("enrollment refused: {}", status.message()))?
        .into_inner();
    let ca_der = tls::certs_from_pem(&response.ca_pem)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("enrollment answered without a CA certificate"))?;
    if fingerprint(&ca_der) != token.ca_fingerprint {
        bail!("enrollment answered with a CA that does not match the token's fingerprint");
    }
    Ok(Identity {
        site: SiteName::new(response.site).context("site in the enrollment answer")?,
        worker_id: response.worker_id,
        ca_pem: response.ca_pem,
        cert_pem: response.certificate_pem,
        key_pem,
    })
}

fn save(state_dir: &Path, identity: &Identity) -> anyhow::Result<()> {
    std::fs::create_dir_all(state_dir).with_context(|| format!("creating {state_dir:?}"))?;
    let ids = serde_json::to_string_pretty(&IdentityFile {
        site: identity.site.clone(),
        worker_id: identity.worker_id.clone(),
    })?;
    let key_path = state_dir.join(KEY_FILE);
    claudeops_pki::write_secret_file(&key_path, identity.key_pem.as_bytes())
        .with_context(|| format!("writing {key_path:?}"))?;
    std::fs::write(state_dir.join(CA_FILE), &identity.ca_pem)?;
    std::fs::write(state_dir.join(IDENTITY_FILE), ids)?;
    // The certificate last: its presence means the identity is complete.
    std::fs::write(state_dir.join(CERT_FILE), &identity.cert_pem)?;
    Ok(())
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".to_owned())
}
