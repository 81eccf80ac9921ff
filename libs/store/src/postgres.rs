//! The PostgreSQL backend: for a fleet, or when the control plane's state must live
//! on a managed database server.
//!
//! What PostgreSQL does its own way; the statements both databases share are in the
//! `sql` module. Every rule that must hold under concurrency is one statement (a
//! unique index, a conditional UPDATE), so it holds across connections and across
//! control-plane processes at READ COMMITTED; the read-then-writes, `remember` and
//! `open_incident`, insert with `ON CONFLICT DO NOTHING` against a unique index and
//! otherwise lock the row they read (`SELECT ... FOR UPDATE`) before rewriting it,
//! looking again when it changed in between. `reserve_action` counts and inserts in
//! one transaction that first takes a transaction-level advisory lock on its (site,
//! service, kind), so reservations of one key run one after the other (each count, a
//! new snapshot at READ COMMITTED, sees every earlier reservation) while different
//! keys do not wait for each other. Batches (output lines, probe attempts) are one
//! statement over bound arrays. This module must not hold business rules beyond what
//! SQL enforces.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use claudeops_core::health::ProbeAttempt;
use claudeops_core::{SessionId, SiteName};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::StoreError;
use crate::model::{Backend, OutputLine};
use crate::sql::{Dialect, SqlStore, incident_columns, memory_columns, output_write_error};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub(crate) type PgStore = SqlStore<Postgres>;

impl PgStore {
    /// Connects to a `postgres://` URL and migrates the database (migrations take an
    /// advisory lock, so control planes starting together do not race).
    pub(crate) async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            // A call fails (and says why) rather than hang while the server
            // is away.
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqlStore::new(pool))
    }
}

#[async_trait]
impl Dialect for Postgres {
    const BACKEND: Backend = Backend::Postgres;

    const BEGIN_WRITE: Option<&'static str> = None;

    const MEMORY_TO_REWRITE: &'static str = concat!(
        "SELECT ",
        memory_columns!(),
        " FROM memories WHERE site = $1 AND key = $2 FOR UPDATE"
    );

    const OPEN_INCIDENT_TO_MERGE: &'static str = concat!(
        "SELECT ",
        incident_columns!(),
        " FROM incidents WHERE site = $1 AND service = $2 AND status = 'open' FOR UPDATE"
    );

    const LEDGER_KEY_LOCK: Option<&'static str> = Some(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2::text \
         || '/' || $3::text, 0))",
    );

    fn rows_affected(done: &Self::QueryResult) -> u64 {
        done.rows_affected()
    }

    fn migrator() -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }

    // Transactions wait for locks instead of failing.
    fn is_busy(_error: &sqlx::Error) -> bool {
        false
    }

    async fn append_output(
        pool: &PgPool,
        session_id: SessionId,
        lines: &[OutputLine],
    ) -> Result<u64, StoreError> {
        let seqs: Vec<i64> = lines.iter().map(|l| l.seq).collect();
        let times: Vec<i64> = lines.iter().map(|l| l.ts_ms).collect();
        let texts: Vec<&str> = lines.iter().map(|l| l.line.as_str()).collect();
        let malformed: Vec<bool> = lines.iter().map(|l| l.malformed).collect();
        let done = sqlx::query(
            "INSERT INTO session_output (session_id, seq, ts_ms, line, malformed) \
             SELECT $1, t.seq, t.ts_ms, t.line, t.malformed \
             FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::boolean[]) \
             AS t (seq, ts_ms, line, malformed) \
             ON CONFLICT (session_id, seq) DO NOTHING",
        )
        .bind(session_id)
        .bind(seqs)
        .bind(times)
        .bind(texts)
        .bind(malformed)
        .execute(pool)
        .await
        .map_err(output_write_error)?;
        Ok(done.rows_affected())
    }

    async fn insert_probe_attempts(
        tx: &mut Transaction<'static, Postgres>,
        site: &SiteName,
        attempts: &[ProbeAttempt],
    ) -> Result<(), sqlx::Error> {
        let probes: Vec<&str> = attempts.iter().map(|a| a.probe.as_str()).collect();
        let oks: Vec<bool> = attempts.iter().map(|a| a.ok).collect();
        let latencies: Vec<i64> = attempts.iter().map(|a| a.latency_ms).collect();
        let messages: Vec<&str> = attempts.iter().map(|a| a.message.as_str()).collect();
        let times: Vec<i64> = attempts.iter().map(|a| a.at_ms).collect();
        sqlx::query(
            "INSERT INTO probe_attempts (site, probe, ok, latency_ms, message, at_ms) \
             SELECT $1, t.probe, t.ok, t.latency_ms, t.message, t.at_ms \
             FROM UNNEST($2::text[], $3::boolean[], $4::bigint[], $5::text[], $6::bigint[]) \
             AS t (probe, ok, latency_ms, message, at_ms)",
        )
        .bind(site.as_str())
        .bind(probes)
        .bind(oks)
        .bind(latencies)
        .bind(messages)
        .bind(times)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn retire_probes(
        pool: &PgPool,
        site: &SiteName,
        keep: &[String],
    ) -> Result<u64, StoreError> {
        // The attempts of a removed probe go with it (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM probes WHERE site = $1 AND probe <> ALL($2::text[])")
            .bind(site.as_str())
            .bind(keep)
            .execute(pool)
            .await?;
        Ok(done.rows_affected())
    }
}
