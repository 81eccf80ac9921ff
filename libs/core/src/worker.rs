//! Workers as the control plane knows them: an enrolled host serving one site,
//! identified by its client certificate.
//!
//! Plain data only: enrollment, certificate checks and persistence live elsewhere.

use serde::{Deserialize, Serialize};

use crate::SiteName;

/// The capability a worker reports in its hello when it can call a model (it has
/// an API key or a base URL); sessions go only to workers that have it.
pub const LLM_CAPABILITY: &str = "llm";

/// An enrolled worker. Times are unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRecord {
    pub id: String,
    pub site: SiteName,
    pub hostname: String,
    /// The worker binary's version, as it reported it last.
    pub version: String,
    /// What the worker can do (for example `docker`, `ssh`), as it reported it last.
    pub capabilities: Vec<String>,
    /// Serial number of the client certificate issued at enrollment, as hex.
    pub cert_serial: String,
    /// SHA-256 fingerprint of that certificate, as hex.
    pub cert_fingerprint: String,
    pub cert_not_after_ms: i64,
    pub enrolled_at_ms: i64,
    pub last_seen_ms: Option<i64>,
    /// Set once the worker is revoked; a revoked worker never comes back.
    pub revoked_at_ms: Option<i64>,
}

impl WorkerRecord {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at_ms.is_some()
    }
}
