//! The one implementation of [`Store`](crate::Store) for both databases.
//!
//! SQL that reads the same on SQLite and PostgreSQL is written once, in the
//! submodules, with `$N` placeholders (SQLite binds `$N` to the N-th argument as
//! PostgreSQL does; the test below holds it to that) and run through sqlx's generic
//! `Database` API by [`SqlStore`]. What truly differs between the two is a
//! [`Dialect`], implemented in the `sqlite` and `postgres` modules: connecting and
//! migrating, how a write transaction begins (SQLite takes the write lock up front
//! with `BEGIN IMMEDIATE`), row and advisory locks (PostgreSQL), bulk inserts
//! (PostgreSQL binds arrays) and JSON functions.
//!
//! Each generic impl (`store`, `transactions`, `health`) states the sqlx bounds its
//! statements need (a value type that encodes, a row that decodes): Rust does not
//! carry a trait's where-clauses to its users, so `Dialect` cannot hold them once.
//! Both `sqlx::Sqlite` and `sqlx::Postgres` meet them, checked at compile time where
//! `open` turns each store into a `dyn Store`.
//!
//! SQL is static text only: values are always bound, never formatted into a
//! statement. This module must not hold business rules beyond what SQL enforces.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use claudeops_core::SessionId;
use claudeops_core::SiteName;
use claudeops_core::health::ProbeAttempt;
use sqlx::{Database, Pool, Transaction};

use crate::StoreError;
use crate::model::{Backend, OutputLine};

/// The columns `SessionRow` reads, in one place for every statement that returns them.
macro_rules! session_columns {
    () => {
        "id, site, worker_id, tier, model, triggered_by, status, prompt, parent_id, \
         started_at_ms, ended_at_ms, cost_usd, turns, exit_code, response, structured, error, \
         traceparent, chain_span_id"
    };
}

macro_rules! worker_columns {
    () => {
        "id, site, hostname, version, capabilities, cert_serial, cert_fingerprint, \
         cert_not_after_ms, enrolled_at_ms, last_seen_ms, revoked_at_ms"
    };
}

macro_rules! event_columns {
    () => {
        "id, ts_ms, site, session_id, level, service, message"
    };
}

macro_rules! memory_columns {
    () => {
        "id, site, key, value, confidence, active, session_id, created_at_ms, updated_at_ms"
    };
}

macro_rules! action_columns {
    () => {
        "id, site, service, kind, session_id, status, args, result, reserved_at_ms, \
         finished_at_ms, duration_ms"
    };
}

macro_rules! probe_columns {
    () => {
        "site, probe, service, kind, state, ok, latency_ms, message, last_at_ms, since_ms"
    };
}

macro_rules! incident_columns {
    () => {
        "id, site, service, status, probes, evidence, opened_at_ms, resolved_at_ms, \
         resolution, session_id"
    };
}

macro_rules! delivery_columns {
    () => {
        "notification_id, kind, title, sites, url_index, attempt, ok, error, at_ms"
    };
}

// For the PostgreSQL dialect's locking reads.
pub(crate) use {incident_columns, memory_columns};

/// The memory of (`$1` site, `$2` key).
pub(crate) const MEMORY_BY_KEY: &str = concat!(
    "SELECT ",
    memory_columns!(),
    " FROM memories WHERE site = $1 AND key = $2"
);

/// The open incident of (`$1` site, `$2` service).
pub(crate) const OPEN_INCIDENT: &str = concat!(
    "SELECT ",
    incident_columns!(),
    " FROM incidents WHERE site = $1 AND service = $2 AND status = 'open'"
);

mod alerts;
mod approvals;
mod health;
mod legacy;
mod maintenance;
mod memories;
mod runtime;
mod store;
mod transactions;
mod ui_probes;
mod users;

/// What differs between the databases. Implemented for `sqlx::Sqlite` in the `sqlite`
/// module and for `sqlx::Postgres` in the `postgres` module.
#[async_trait]
pub(crate) trait Dialect: Database {
    const BACKEND: Backend;

    /// How a transaction that will write begins; `None` for the database's default.
    const BEGIN_WRITE: Option<&'static str>;

    /// Reads the memory of (`$1` site, `$2` key) and keeps it from changing until
    /// the transaction ends.
    const MEMORY_TO_REWRITE: &'static str;

    /// Reads the open incident of (`$1` site, `$2` service) and keeps it from changing
    /// until the transaction ends.
    const OPEN_INCIDENT_TO_MERGE: &'static str;

    /// Serialises the reservations of (`$1` site, `$2` service, `$3` kind) until the
    /// transaction ends, when [`BEGIN_WRITE`](Dialect::BEGIN_WRITE) does not already
    /// serialise every write.
    const LEDGER_KEY_LOCK: Option<&'static str>;

    /// How many rows a statement inserted, updated or deleted (sqlx has no trait for
    /// it).
    fn rows_affected(done: &Self::QueryResult) -> u64;

    /// The migrations embedded in this binary.
    fn migrator() -> &'static sqlx::migrate::Migrator;

    /// Whether a write transaction that failed with `error` should start over: the
    /// database was locked for longer than the busy timeout.
    fn is_busy(error: &sqlx::Error) -> bool;

    /// Stores output lines, ignoring those whose `(session, seq)` is stored, and
    /// returns how many were new. `NotFound` if the session does not exist.
    async fn append_output(
        pool: &Pool<Self>,
        session_id: SessionId,
        lines: &[OutputLine],
    ) -> Result<u64, StoreError>;

    /// Appends the attempts to their probes' history, inside the transaction that
    /// updated the probes' latest rows.
    async fn insert_probe_attempts(
        tx: &mut Transaction<'static, Self>,
        site: &SiteName,
        attempts: &[ProbeAttempt],
    ) -> Result<(), sqlx::Error>;

    /// Deletes the probes of a site whose names are not in `keep`; returns how many.
    async fn retire_probes(
        pool: &Pool<Self>,
        site: &SiteName,
        keep: &[String],
    ) -> Result<u64, StoreError>;
}

/// A store over one connection pool of either database.
#[derive(Debug)]
pub(crate) struct SqlStore<DB: Database> {
    pool: Pool<DB>,
    /// The database file, for a database that is one (SQLite).
    file: Option<FileIdentity>,
    /// Why the store refuses everything, once its file was lost.
    lost: std::sync::OnceLock<String>,
}

impl<DB: Dialect> SqlStore<DB> {
    /// A store over a pool whose database is migrated.
    pub(crate) fn new(pool: Pool<DB>) -> Self {
        SqlStore {
            pool,
            file: None,
            lost: std::sync::OnceLock::new(),
        }
    }

    /// The same store, watching that its database file stays the one at `path`.
    pub(crate) fn with_file(mut self, path: &Path) -> std::io::Result<Self> {
        self.file = Some(FileIdentity::of(path)?);
        Ok(self)
    }

    /// Refuses everything from now on: closes the pool, so that no
    /// connection still holding the old file (or a new one made in its
    /// place) serves a call. Returns why.
    async fn lose(&self, reason: String) -> String {
        let reason = self.lost.get_or_init(|| reason).clone();
        self.pool.close().await;
        reason
    }
}

/// Which file a database is: its device and inode when opened.
#[derive(Debug)]
pub(crate) struct FileIdentity {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl FileIdentity {
    fn of(path: &Path) -> std::io::Result<FileIdentity> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        Ok(FileIdentity {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// `Err` with the story when the path no longer names the file opened.
    fn check(&self) -> Result<(), String> {
        let path = self.path.display();
        match FileIdentity::of(&self.path) {
            Ok(now) if now.dev == self.dev && now.ino == self.ino => Ok(()),
            Ok(_) => Err(format!(
                "the database file {path} was replaced by another file while in use; restore it and restart"
            )),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(format!(
                "the database file {path} was deleted while in use; restore it and restart"
            )),
            // Unreadable for a moment (permissions): not proof of a new file.
            Err(_) => Ok(()),
        }
    }
}

/// Begins a transaction that will write, as the dialect wants it begun.
async fn begin_write<DB: Dialect>(
    pool: &Pool<DB>,
) -> Result<Transaction<'static, DB>, sqlx::Error> {
    match DB::BEGIN_WRITE {
        Some(statement) => pool.begin_with(statement).await,
        None => pool.begin().await,
    }
}

/// Runs `attempt` again while it fails because the database stayed locked for longer
/// than the busy timeout ([`Dialect::is_busy`]), at most `times` times in all.
async fn retry_when_busy<DB: Dialect, T, F>(
    times: usize,
    mut attempt: impl FnMut() -> F,
) -> Result<T, StoreError>
where
    F: Future<Output = Result<T, StoreError>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(StoreError::Database(e)) if DB::is_busy(&e) && tries < times => tries += 1,
            done => return done,
        }
    }
}

/// Maps a failed output insert: a missing session is `NotFound`.
pub(crate) fn output_write_error(error: sqlx::Error) -> StoreError {
    if crate::error::is_foreign_key_violation(&error) {
        StoreError::NotFound
    } else {
        StoreError::Database(error)
    }
}

#[cfg(test)]
mod tests {
    /// The shared statements rely on SQLite binding `$N` by its number, like
    /// PostgreSQL: out of order and more than once.
    #[tokio::test]
    async fn sqlite_binds_numbered_dollar_parameters() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:")
            .await
            .expect("open");
        let (text, number): (String, i64) =
            sqlx::query_as("SELECT $2 || $1 || $2, $3 + $3 WHERE $1 IS NOT NULL")
                .bind("a")
                .bind("b")
                .bind(20_i64)
                .fetch_one(&pool)
                .await
                .expect("query");
        assert_eq!((text.as_str(), number), ("bab", 40));
        let none: Option<(i64,)> = sqlx::query_as("SELECT 1 WHERE $1 IS NOT NULL")
            .bind(None::<&str>)
            .fetch_optional(&pool)
            .await
            .expect("query");
        assert_eq!(none, None);
    }
}
