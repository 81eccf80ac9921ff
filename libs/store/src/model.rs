//! The store's own argument and record types: filters, selectors, output lines and
//! enrollment tokens. Domain types (sessions, workers, events, memories, ledger
//! entries) come from `claudeops-core`.
//!
//! Plain data only; nothing here knows SQL or which backend is in use.

use claudeops_core::event::EventLevel;
use claudeops_core::health::IncidentStatus;
use claudeops_core::{SessionId, SiteName};

/// Page size used by the filters' `Default`.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// One stdout line of a session's CLI, numbered by the worker from 1 up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub seq: i64,
    pub ts_ms: i64,
    pub line: String,
    /// The line did not parse as stream-json; kept raw.
    pub malformed: bool,
}

/// Which sessions `list_sessions` returns: newest first, one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFilter {
    pub site: Option<SiteName>,
    pub limit: u32,
    pub offset: u32,
}

impl Default for SessionFilter {
    fn default() -> Self {
        SessionFilter {
            site: None,
            limit: DEFAULT_PAGE_SIZE,
            offset: 0,
        }
    }
}

/// Which events `list_events` returns: newest first, one page. Every set field must
/// match exactly (`level: Some(Warning)` lists warnings only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    pub site: Option<SiteName>,
    pub level: Option<EventLevel>,
    pub service: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

impl Default for EventFilter {
    fn default() -> Self {
        EventFilter {
            site: None,
            level: None,
            service: None,
            limit: DEFAULT_PAGE_SIZE,
            offset: 0,
        }
    }
}

/// Which memories `list_memories` returns: highest confidence first, then most
/// recently updated (then newest), one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryFilter {
    pub site: Option<SiteName>,
    /// Only memories whose `active` flag is set.
    pub active_only: bool,
    pub limit: u32,
    pub offset: u32,
}

impl Default for MemoryFilter {
    fn default() -> Self {
        MemoryFilter {
            site: None,
            active_only: false,
            limit: DEFAULT_PAGE_SIZE,
            offset: 0,
        }
    }
}

/// Which memories `search_memories` returns, in `list_memories`' order: every set
/// field must match. `service` and `category` are the parts of the key
/// (`claudeops_core::memory::split_key`) and compared trimmed and lower-cased;
/// `text` is a case-insensitive substring of the key or the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemorySearch {
    pub site: Option<SiteName>,
    pub service: Option<String>,
    pub category: Option<String>,
    pub text: Option<String>,
    /// `Some(true)`: only active memories; `Some(false)`: only inactive ones.
    pub active: Option<bool>,
    pub limit: u32,
    pub offset: u32,
}

impl Default for MemorySearch {
    fn default() -> Self {
        MemorySearch {
            site: None,
            service: None,
            category: None,
            text: None,
            active: None,
            limit: DEFAULT_PAGE_SIZE,
            offset: 0,
        }
    }
}

/// A memory as `search_memories` lists it: with the tier of the session that
/// wrote it (`None`: an operator's, or its session is gone).
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryListing {
    pub memory: claudeops_core::memory::Memory,
    pub tier: Option<claudeops_core::Tier>,
}

/// Which ledger entries `list_actions` returns: newest first (by reservation time,
/// then id), one page. Every set field must match exactly; `service` is normalised
/// first (trimmed, lower-cased), and an invalid one matches nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionFilter {
    pub site: Option<SiteName>,
    pub session_id: Option<SessionId>,
    pub service: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

impl Default for ActionFilter {
    fn default() -> Self {
        ActionFilter {
            site: None,
            session_id: None,
            service: None,
            limit: DEFAULT_PAGE_SIZE,
            offset: 0,
        }
    }
}

/// Which workers `revoke_workers` revokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerSelector {
    /// Every worker of the site.
    Site(SiteName),
    /// One worker.
    Id(String),
}

/// A one-time enrollment token as stored: the secret itself never is, only its hash
/// (computed by the caller, for example hex SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollTokenRecord {
    pub id: String,
    pub secret_hash: String,
    pub site: SiteName,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// Totals over every session, for the dashboard and `/api/v1/stats`.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct Stats {
    pub total_runs: i64,
    pub escalations: i64,
    pub completed: i64,
    pub finished: i64,
    pub total_cost_usd: f64,
    /// Mean duration of finished sessions, in milliseconds.
    pub avg_duration_ms: f64,
    /// Remediation actions that succeeded.
    pub remediations: i64,
    /// Critical events since the given time.
    pub critical_events: i64,
}

/// Which incidents `list_incidents` returns: newest first, one page. Every set field
/// must match exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentFilter {
    pub site: Option<SiteName>,
    pub service: Option<String>,
    pub status: Option<IncidentStatus>,
    pub session_id: Option<SessionId>,
    pub limit: u32,
    pub offset: u32,
}

impl Default for IncidentFilter {
    fn default() -> Self {
        IncidentFilter {
            site: None,
            service: None,
            status: None,
            session_id: None,
            limit: DEFAULT_PAGE_SIZE,
            offset: 0,
        }
    }
}

/// Which delivery attempts `list_deliveries` returns: newest first, one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Only the attempts of this notification.
    pub notification_id: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

impl Default for DeliveryFilter {
    fn default() -> Self {
        DeliveryFilter {
            notification_id: None,
            limit: DEFAULT_PAGE_SIZE,
            offset: 0,
        }
    }
}

/// A named dashboard user. `role` is the control plane's word (viewer,
/// operator, admin); `password_hash` an argon2 PHC string, never a password.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("created_at_ms", &self.created_at_ms)
            .field("updated_at_ms", &self.updated_at_ms)
            .finish_non_exhaustive()
    }
}

/// One scope's runtime overrides as stored: `global` or `site:NAME`, and a JSON
/// object of the settings changed there (the control plane reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSettings {
    pub scope: String,
    pub overrides: String,
    pub updated_at_ms: i64,
}

/// A probe added from the dashboard or the API, as stored: the site's workers run
/// it beside the probes their repos define. `spec` is the full spec as JSON (the
/// same form a repo's probe file writes), checked by the control plane before it
/// is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiProbe {
    pub site: String,
    pub name: String,
    pub kind: String,
    pub spec: String,
    pub interval_secs: i64,
    pub paused: bool,
    pub created_by: String,
    pub created_at_ms: i64,
    pub updated_by: String,
    pub updated_at_ms: i64,
}

/// One change of a runtime setting, for the audit trail. A secret's `before`
/// and `after` are "set" or "not set", never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    /// Given by the store; ignored when appending.
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub scope: String,
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}
