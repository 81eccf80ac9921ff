//! The original Claude Ops's history (its SQLite database: sessions, events,
//! memories, cooldown actions) brought into this store, for `import-legacy`.
//!
//! Three steps, each in its own module: [`read`] opens the original's file
//! read-only and takes its rows as SQLite stored them (one snapshot, every
//! optional column of older or newer schemas tolerated); `map` decides, row by
//! row and without I/O, what each becomes here or why it cannot; the store's
//! `import_legacy` writes what was decided, in transactions that also record
//! each row in `legacy_imports`, so running it again adds nothing. What was
//! taken, skipped and adjusted comes back as a [`LegacyReport`].
//!
//! Nothing here writes to the original's file.

pub(crate) mod map;
mod read;

use std::fmt;
use std::path::{Path, PathBuf};

use claudeops_core::SiteName;

pub use read::read;

/// The newest schema version of the original this importer was written against
/// (its migration `00007_session_summary`).
pub const KNOWN_VERSION: i64 = 7;

/// What the original keeps that is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LegacyKind {
    Session,
    Event,
    Memory,
    CooldownAction,
}

impl LegacyKind {
    pub const ALL: [LegacyKind; 4] = [
        LegacyKind::Session,
        LegacyKind::Event,
        LegacyKind::Memory,
        LegacyKind::CooldownAction,
    ];

    /// The name in `legacy_imports.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            LegacyKind::Session => "session",
            LegacyKind::Event => "event",
            LegacyKind::Memory => "memory",
            LegacyKind::CooldownAction => "cooldown_action",
        }
    }

    /// The noun for a report: "sessions", "cooldown actions".
    pub fn plural(self) -> &'static str {
        match self {
            LegacyKind::Session => "sessions",
            LegacyKind::Event => "events",
            LegacyKind::Memory => "memories",
            LegacyKind::CooldownAction => "cooldown actions",
        }
    }

    /// The noun for one row: "session", "cooldown action".
    pub fn noun(self) -> &'static str {
        match self {
            LegacyKind::CooldownAction => "cooldown action",
            other => other.as_str(),
        }
    }
}

/// One value of the original's database, as SQLite stored it (SQLite keeps
/// whatever type was written, whatever the column says).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => f.write_str("NULL"),
            Cell::Int(v) => write!(f, "{v}"),
            Cell::Real(v) => write!(f, "{v}"),
            Cell::Text(v) => write!(f, "{v:?}"),
        }
    }
}

/// A row of the original's `sessions` (columns a schema lacks are `Null`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LegacySession {
    pub(crate) id: i64,
    pub(crate) tier: Cell,
    pub(crate) model: Cell,
    pub(crate) prompt_file: Cell,
    pub(crate) status: Cell,
    pub(crate) started_at: Cell,
    pub(crate) ended_at: Cell,
    pub(crate) exit_code: Cell,
    pub(crate) log_file: Cell,
    pub(crate) context: Cell,
    pub(crate) response: Cell,
    pub(crate) cost_usd: Cell,
    pub(crate) num_turns: Cell,
    pub(crate) duration_ms: Cell,
    pub(crate) trigger: Cell,
    pub(crate) prompt_text: Cell,
    pub(crate) parent_session_id: Cell,
    pub(crate) summary: Cell,
}

/// A row of the original's `events`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LegacyEvent {
    pub(crate) id: i64,
    pub(crate) session_id: Cell,
    pub(crate) level: Cell,
    pub(crate) service: Cell,
    pub(crate) message: Cell,
    pub(crate) created_at: Cell,
}

/// A row of the original's `memories`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LegacyMemory {
    pub(crate) id: i64,
    pub(crate) service: Cell,
    pub(crate) category: Cell,
    pub(crate) observation: Cell,
    pub(crate) confidence: Cell,
    pub(crate) active: Cell,
    pub(crate) created_at: Cell,
    pub(crate) updated_at: Cell,
    pub(crate) session_id: Cell,
}

/// A row of the original's `cooldown_actions`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LegacyCooldown {
    pub(crate) id: i64,
    pub(crate) service: Cell,
    pub(crate) action_type: Cell,
    pub(crate) timestamp: Cell,
    pub(crate) success: Cell,
    pub(crate) tier: Cell,
    pub(crate) error: Cell,
    pub(crate) session_id: Cell,
}

/// Everything read from one original database, in id order.
#[derive(Debug, Clone)]
pub struct LegacyDatabase {
    pub(crate) path: PathBuf,
    pub(crate) version: Option<i64>,
    pub(crate) sessions: Vec<LegacySession>,
    pub(crate) events: Vec<LegacyEvent>,
    pub(crate) memories: Vec<LegacyMemory>,
    pub(crate) cooldowns: Vec<LegacyCooldown>,
    /// What the schema lacked or held beyond what is imported.
    pub(crate) notes: Vec<String>,
}

impl LegacyDatabase {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The original's schema version (its migration tracking table), if it has one.
    pub fn schema_version(&self) -> Option<i64> {
        self.version
    }

    /// How many rows of a kind were read.
    pub fn rows(&self, kind: LegacyKind) -> usize {
        match kind {
            LegacyKind::Session => self.sessions.len(),
            LegacyKind::Event => self.events.len(),
            LegacyKind::Memory => self.memories.len(),
            LegacyKind::CooldownAction => self.cooldowns.len(),
        }
    }
}

/// Why the original's file cannot be read. Nothing was imported.
#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    #[error(
        "{path}: no such file; give the path of the original's database (claudeops.db in its state dir)"
    )]
    Missing { path: String },
    #[error("{path} is not a SQLite database ({detail})")]
    NotSqlite { path: String, detail: String },
    #[error("{path} is not the original Claude Ops's database: {what}")]
    NotOriginal { path: String, what: String },
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: sqlx::Error,
    },
}

/// How the rows of one kind went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub kind: LegacyKind,
    /// Rows of the original.
    pub read: usize,
    /// Written here by this import.
    pub taken: usize,
    /// Skipped: written by an earlier import.
    pub already: usize,
    /// Skipped: cannot be imported (see each one's reason).
    pub refused: usize,
}

/// Why a row was not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// An earlier import wrote it, as `our_id`.
    AlreadyImported { our_id: i64 },
    /// An earlier import into this site wrote a different row with this id (made
    /// at `stamp`): another original database was imported here.
    OtherDatabase { stamp: String },
    /// The row cannot be read as ours; why.
    Unusable(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::AlreadyImported { our_id } => write!(f, "already imported as #{our_id}"),
            SkipReason::OtherDatabase { stamp } => write!(
                f,
                "a different row with this id (from {stamp}) was imported into this site \
                 before: another original database; import it into another site"
            ),
            SkipReason::Unusable(why) => f.write_str(why),
        }
    }
}

/// One row not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub kind: LegacyKind,
    pub legacy_id: i64,
    pub reason: SkipReason,
}

/// Something imported differently from how the original had it, or a fact about
/// the original's database; `kind` and `legacy_id` name the row, if one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub kind: Option<LegacyKind>,
    pub legacy_id: Option<i64>,
    pub text: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyReport {
    pub site: SiteName,
    /// One per kind, in [`LegacyKind::ALL`] order.
    pub tallies: Vec<Tally>,
    /// In the order the rows were met.
    pub skipped: Vec<Skipped>,
    pub notes: Vec<Note>,
}

impl LegacyReport {
    pub(crate) fn new(database: &LegacyDatabase, site: &SiteName) -> LegacyReport {
        LegacyReport {
            site: site.clone(),
            tallies: LegacyKind::ALL
                .iter()
                .map(|&kind| Tally {
                    kind,
                    read: database.rows(kind),
                    taken: 0,
                    already: 0,
                    refused: 0,
                })
                .collect(),
            skipped: Vec::new(),
            notes: database
                .notes
                .iter()
                .map(|text| Note {
                    kind: None,
                    legacy_id: None,
                    text: text.clone(),
                })
                .collect(),
        }
    }

    /// The tally of a kind.
    pub fn tally(&self, kind: LegacyKind) -> Tally {
        self.tallies
            .iter()
            .copied()
            .find(|t| t.kind == kind)
            .unwrap_or(Tally {
                kind,
                read: 0,
                taken: 0,
                already: 0,
                refused: 0,
            })
    }

    /// Rows written by this import, of every kind.
    pub fn taken(&self) -> usize {
        self.tallies.iter().map(|t| t.taken).sum()
    }

    fn tally_mut(&mut self, kind: LegacyKind) -> Option<&mut Tally> {
        self.tallies.iter_mut().find(|t| t.kind == kind)
    }

    pub(crate) fn took(&mut self, kind: LegacyKind, count: usize) {
        if let Some(t) = self.tally_mut(kind) {
            t.taken += count;
        }
    }

    pub(crate) fn skip(&mut self, kind: LegacyKind, legacy_id: i64, reason: SkipReason) {
        if let Some(t) = self.tally_mut(kind) {
            match reason {
                SkipReason::AlreadyImported { .. } => t.already += 1,
                _ => t.refused += 1,
            }
        }
        self.skipped.push(Skipped {
            kind,
            legacy_id,
            reason,
        });
    }

    pub(crate) fn note(&mut self, kind: LegacyKind, legacy_id: i64, text: impl Into<String>) {
        self.notes.push(Note {
            kind: Some(kind),
            legacy_id: Some(legacy_id),
            text: text.into(),
        });
    }
}
