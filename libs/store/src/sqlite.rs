//! The SQLite backend: the default for a single control plane.
//!
//! What SQLite does its own way; the statements both databases share are in the
//! `sql` module. WAL journal, 5 s busy timeout and foreign keys on every connection.
//! SQLite has one writer at a time: every write is a single statement or an
//! `IMMEDIATE` transaction, never a read that is later upgraded to a write (which
//! would fail with "database is locked" instead of waiting); `remember`,
//! `reserve_action`, `open_incident`, `append_output` and `record_probe_attempts`
//! run in one. The write lock serialises reservations and incident openings across
//! connections and processes; when the busy timeout runs out under heavy contention
//! they start over (a bounded number of times) rather than failing. This module must
//! not hold business rules beyond what SQL enforces.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use claudeops_core::health::ProbeAttempt;
use claudeops_core::{SessionId, SiteName};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::StoreError;
use crate::health;
use crate::model::{Backend, OutputLine};
use crate::sql::{Dialect, MEMORY_BY_KEY, OPEN_INCIDENT, SqlStore, output_write_error};

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Sets [`BUSY_TIMEOUT`] again on a connection (PRAGMA takes no parameters).
const RESTORE_BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 5000";

/// How long a call waits for a connection before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub(crate) type SqliteStore = SqlStore<Sqlite>;

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite://PATH` URL and migrates it.
    pub(crate) async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool_options = if in_memory {
            // An in-memory database lives as long as its one connection.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            if let Some(dir) = options.get_filename().parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
            }
            SqlitePoolOptions::new()
                .max_connections(8)
                // A call fails (and says why) rather than hang while no
                // connection can be opened: the file unwritable, say.
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .after_connect(refuse_read_only)
        };
        let path = options.get_filename().to_path_buf();
        let pool: SqlitePool = pool_options.connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        let store = SqlStore::new(pool);
        if in_memory {
            return Ok(store);
        }
        Ok(store.with_file(&path).map_err(sqlx::Error::Io)?)
    }
}

/// Refuses a connection SQLite opened read-only. SQLite does that silently
/// when the file is not writable at that moment (made read-only, immutable,
/// on a read-only mount), and the connection stays read-only for its whole
/// life: once pooled, it would fail every write long after the file is
/// writable again. Refused, it is never pooled, and the pool opens a
/// writable one when it can.
fn refuse_read_only(
    conn: &mut sqlx::SqliteConnection,
    _: sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        // Without waiting for another connection's write lock: locked, it
        // cannot tell, and the connection is taken.
        sqlx::query("PRAGMA busy_timeout = 0")
            .execute(&mut *conn)
            .await?;
        // Writes nothing, but only a writable connection may run it. (On a
        // file not yet migrated the table is missing: a file just created
        // is writable.)
        let checked = sqlx::query("DELETE FROM _sqlx_migrations WHERE 0")
            .execute(&mut *conn)
            .await;
        sqlx::query(RESTORE_BUSY_TIMEOUT)
            .execute(&mut *conn)
            .await?;
        match checked {
            Err(error) if crate::error::is_read_only(&error) => Err(error),
            _ => Ok(()),
        }
    })
}

#[async_trait]
impl Dialect for Sqlite {
    const BACKEND: Backend = Backend::Sqlite;

    // IMMEDIATE takes the write lock first: what the transaction reads cannot change
    // before it writes.
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");

    // The write lock already keeps the rows read from changing.
    const MEMORY_TO_REWRITE: &'static str = MEMORY_BY_KEY;
    const OPEN_INCIDENT_TO_MERGE: &'static str = OPEN_INCIDENT;

    // The write lock serialises every reservation.
    const LEDGER_KEY_LOCK: Option<&'static str> = None;

    fn rows_affected(done: &Self::QueryResult) -> u64 {
        done.rows_affected()
    }

    fn migrator() -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }

    fn is_busy(error: &sqlx::Error) -> bool {
        crate::error::is_busy(error)
    }

    async fn append_output(
        pool: &SqlitePool,
        session_id: SessionId,
        lines: &[OutputLine],
    ) -> Result<u64, StoreError> {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut added = 0;
        for line in lines {
            let done = sqlx::query(
                "INSERT INTO session_output (session_id, seq, ts_ms, line, malformed) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id, seq) DO NOTHING",
            )
            .bind(session_id)
            .bind(line.seq)
            .bind(line.ts_ms)
            .bind(line.line.as_str())
            .bind(line.malformed)
            .execute(&mut *tx)
            .await
            .map_err(output_write_error)?;
            added += done.rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    async fn insert_probe_attempts(
        tx: &mut Transaction<'static, Sqlite>,
        site: &SiteName,
        attempts: &[ProbeAttempt],
    ) -> Result<(), sqlx::Error> {
        for attempt in health::lock_order(attempts) {
            sqlx::query(
                "INSERT INTO probe_attempts (site, probe, ok, latency_ms, message, at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(site.as_str())
            .bind(attempt.probe.as_str())
            .bind(attempt.ok)
            .bind(attempt.latency_ms)
            .bind(attempt.message.as_str())
            .bind(attempt.at_ms)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    async fn retire_probes(
        pool: &SqlitePool,
        site: &SiteName,
        keep: &[String],
    ) -> Result<u64, StoreError> {
        // The attempts of a removed probe go with it (ON DELETE CASCADE).
        let done = sqlx::query(
            "DELETE FROM probes WHERE site = $1 \
             AND probe NOT IN (SELECT value FROM json_each($2))",
        )
        .bind(site.as_str())
        .bind(health::names_text(keep))
        .execute(pool)
        .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_busy_timeout_is_restored_to_its_value() {
        let ms = super::BUSY_TIMEOUT.as_millis().to_string();
        assert_eq!(
            super::RESTORE_BUSY_TIMEOUT,
            format!("PRAGMA busy_timeout = {ms}")
        );
    }

    use claudeops_core::ledger::{ActionKind, CooldownLimits, NewAction};
    use sqlx::Connection;

    use super::*;
    use crate::Store;

    /// A reservation that meets "database is locked" after the busy timeout starts
    /// over instead of failing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reserve_retries_when_the_database_stays_locked() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        let store = SqliteStore::connect(&url).await.expect("open");

        // Another connection holds the write lock for longer than the busy timeout.
        let mut other = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("connect");
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .expect("lock");
        let holder = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(6_500)).await;
            sqlx::query("COMMIT")
                .execute(&mut other)
                .await
                .expect("unlock");
            other
        });

        let new = NewAction {
            site: SiteName::new("home").expect("site"),
            service: "web".into(),
            kind: ActionKind::Restart,
            session_id: None,
            args: serde_json::Value::Null,
            now_ms: 1_000,
        };
        let decision = store
            .reserve_action(&new, &CooldownLimits::default())
            .await
            .expect("reserve after a retry");
        assert!(decision.is_granted(), "{decision:?}");
        drop(holder.await.expect("holder"));
        store.close().await;
    }
}
