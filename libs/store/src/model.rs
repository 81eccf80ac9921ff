//! The store's own argument and record types: filters, selectors, output lines and
//! enrollment tokens. Domain types (sessions, workers, events, memories) come from
//! `claudeops-core`.
//!
//! Plain data only; nothing here knows SQL or which backend is in use.

use claudeops_core::SiteName;
use claudeops_core::event::EventLevel;

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
