//! What one attempt saw, before conditions judge it. Each kind fills the fields it
//! can; a field left empty makes conditions that read it fail with a reason.

use std::sync::OnceLock;
use std::time::Duration;

/// The facts of one attempt.
#[derive(Debug, Default)]
pub struct Observation {
    /// The connection (and the kind's basic exchange) succeeded.
    pub connected: bool,
    pub status: Option<u16>,
    pub body: Option<String>,
    pub ip: Option<String>,
    /// Milliseconds left on the peer's certificate (negative once expired).
    pub certificate_expiration_ms: Option<f64>,
    pub dns_rcode: Option<String>,
    pub container: Option<ContainerFacts>,
    pub response_time: Duration,
    /// Why the kind could not finish, e.g. `connection refused`.
    pub error: Option<String>,
    /// A failure the kind itself found (a health API's error entries), which fails
    /// the attempt whatever the conditions say.
    pub fault: Option<String>,
    /// What it saw, one line, e.g. `HTTP 200` or `PostgreSQL 15.4; connections 3/100`.
    pub summary: String,
    /// Supporting text: a body excerpt, container state and log lines.
    pub evidence: String,
    pub(crate) json: OnceLock<Option<serde_json::Value>>,
}

/// A container's state as the Docker kind reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerFacts {
    pub running: bool,
    pub state: String,
    pub health: String,
    pub restart_count: i64,
    pub oom_killed: bool,
    pub exit_code: i64,
    pub crash_loop: bool,
}

impl Observation {
    /// A failed attempt: nothing connected.
    pub fn failed(error: impl Into<String>) -> Observation {
        Observation {
            error: Some(error.into()),
            ..Observation::default()
        }
    }

    /// The body parsed as JSON, once.
    pub fn json(&self) -> Option<&serde_json::Value> {
        self.json
            .get_or_init(|| {
                self.body
                    .as_deref()
                    .and_then(|b| serde_json::from_str(b).ok())
            })
            .as_ref()
    }
}
