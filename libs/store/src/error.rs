//! The one error type of the store, with the variants callers branch on.
//!
//! Backends translate database errors into these variants here and nowhere else;
//! this module must not decide policy (retry, HTTP status): that is the caller's.

use claudeops_core::SessionId;
use sqlx::error::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed row does not exist.
    #[error("not found")]
    NotFound,
    /// The site already has a running session.
    #[error("site already has a running session ({running})")]
    SiteBusy { running: SessionId },
    /// No enrollment token with that id, or the secret does not match.
    #[error("unknown enrollment token")]
    TokenUnknown,
    #[error("enrollment token already used")]
    TokenUsed,
    #[error("enrollment token expired")]
    TokenExpired,
    /// The write contradicts what is stored (a duplicate key, a missing referenced row,
    /// an invalid argument).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored row does not decode into the domain types.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database URL names no backend we have, or is malformed.
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The store cannot serve now (it does not answer, cannot write, or its
    /// schema is not the one this binary knows); it may recover by itself.
    #[error("the database is not ready: {0}")]
    NotReady(String),
    /// The database file was deleted or replaced while in use: the store
    /// refuses everything from then on rather than write into another file.
    #[error("the database is lost: {0}")]
    Lost(String),
}

impl StoreError {
    /// The database is away, locked past its timeout, read-only or lost: a
    /// fault of the store rather than of the request.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::NotReady(_) | StoreError::Lost(_) => true,
            StoreError::Database(error) => {
                is_busy(error)
                    || is_read_only(error)
                    || matches!(
                        error,
                        sqlx::Error::PoolClosed
                            | sqlx::Error::PoolTimedOut
                            | sqlx::Error::Io(_)
                            | sqlx::Error::Tls(_)
                            | sqlx::Error::Protocol(_)
                    )
            }
            _ => false,
        }
    }
}

/// SQLite's "attempt to write a readonly database" (`SQLITE_READONLY` and its
/// extended codes).
pub(crate) fn is_read_only(error: &sqlx::Error) -> bool {
    const SQLITE_READONLY: i32 = 8;
    sqlite_primary_code(error) == Some(SQLITE_READONLY)
}

/// An SQLite error's primary result code (the low byte of an extended code).
fn sqlite_primary_code(error: &sqlx::Error) -> Option<i32> {
    match error {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .map(|code| code & 0xff),
        _ => None,
    }
}

fn kind(error: &sqlx::Error) -> Option<ErrorKind> {
    match error {
        sqlx::Error::Database(db) => Some(db.kind()),
        _ => None,
    }
}

pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    kind(error) == Some(ErrorKind::UniqueViolation)
}

pub(crate) fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    kind(error) == Some(ErrorKind::ForeignKeyViolation)
}

/// Maps a unique-key violation to `Conflict(what)`, anything else to `Database`.
pub(crate) fn conflict_on_duplicate(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| {
        if is_unique_violation(&error) {
            StoreError::Conflict(what.to_owned())
        } else {
            StoreError::Database(error)
        }
    }
}

/// SQLite's "database is locked" (`SQLITE_BUSY`, `SQLITE_LOCKED` and their extended
/// codes): the busy timeout ran out while another connection held the write lock.
pub(crate) fn is_busy(error: &sqlx::Error) -> bool {
    const SQLITE_BUSY: i32 = 5;
    const SQLITE_LOCKED: i32 = 6;
    matches!(
        sqlite_primary_code(error),
        Some(SQLITE_BUSY | SQLITE_LOCKED)
    )
}
