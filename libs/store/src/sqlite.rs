//! The SQLite backend: the default for a single control plane.
//!
//! All SQLite SQL of the workspace lives here (probes, incidents, inventories and
//! deliveries in the `health` submodule). WAL journal, 5 s busy timeout and foreign
//! keys on every connection. SQLite has one writer at a time: every write here is a
//! single statement or an `IMMEDIATE` transaction, never a read that is later
//! upgraded to a write (which would fail with "database is locked" instead of
//! waiting); `remember`, which reads the memory it rewrites, `reserve_action`, which
//! counts the ledger entries it adds to, and `open_incident`, which reads the open
//! incident it merges into, run in one, as does each `record_probe_attempts` report.
//! The write lock serialises reservations and incident openings across connections
//! and processes; when the busy timeout runs out under heavy contention they start
//! over (a bounded number of times) rather than failing. This module must not hold
//! business rules beyond what SQL enforces.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use claudeops_core::event::{Event, NewEvent};
use claudeops_core::health::{
    Incident, IncidentId, InventoryRecord, NewIncident, ProbeAttempt, ProbeRecord, Resolution,
};
use claudeops_core::ledger::{
    self as core_ledger, ABANDONED_RESULT, ActionId, ActionRecord, ActionStatus, CooldownRow,
    Decision, Limits, NewAction,
};
use claudeops_core::memory::{Memory, MemoryId, NewMemory, merge};
use claudeops_core::notification::DeliveryRecord;
use claudeops_core::worker::WorkerRecord;
use claudeops_core::{NewSession, Session, SessionId, SessionOutcome, SiteName, Trigger};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::{conflict_on_duplicate, is_busy, is_foreign_key_violation, is_unique_violation};
use crate::model::{
    ActionFilter, Backend, DeliveryFilter, EnrollTokenRecord, EventFilter, IncidentFilter,
    MemoryFilter, OutputLine, SessionFilter, Stats, WorkerSelector,
};
use crate::rows::{
    self, ActionRow, EventRow, LedgerRow, MemoryRow, OutputRow, SessionRow, WorkerRow,
};
use crate::token::{self, TokenRow};
use crate::{Store, StoreError};
use crate::{ledger, memory};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How often `create_session` retries when the running session it collided with
/// finished before it could be named.
const CREATE_ATTEMPTS: usize = 3;

macro_rules! session_columns {
    () => {
        "id, site, worker_id, tier, model, triggered_by, status, prompt, parent_id, \
         started_at_ms, ended_at_ms, cost_usd, turns, exit_code, response, structured, error"
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

/// Probes, incidents, inventories and notification deliveries.
mod health;

#[derive(Debug)]
pub(crate) struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite://PATH` URL and migrates it.
    pub(crate) async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
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
            SqlitePoolOptions::new().max_connections(8)
        };
        let pool = pool_options.connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    async fn running_id(&self, site: &SiteName) -> Result<Option<SessionId>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM sessions WHERE site = ?1 AND status = 'running'")
                .bind(site.as_str())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn session_exists(&self, id: SessionId) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM sessions WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    /// One attempt of `reserve_action`: count and insert under the write lock.
    async fn try_reserve(
        &self,
        new: &NewAction,
        service: &str,
        limits: &Limits,
    ) -> Result<Decision, StoreError> {
        // IMMEDIATE takes the write lock first: no other reservation can count or
        // insert between our count and our insert.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let counted: Vec<i64> = sqlx::query_scalar(
            "SELECT reserved_at_ms FROM actions WHERE site = ?1 AND service = ?2 AND kind = ?3 \
             AND status IN ('reserved', 'succeeded', 'failed') AND reserved_at_ms > ?4",
        )
        .bind(new.site.as_str())
        .bind(service)
        .bind(new.kind.as_str())
        .bind(ledger::window_start(new, limits))
        .fetch_all(&mut *tx)
        .await?;
        let verdict = ledger::judge(new, service, limits, &counted);
        let id: ActionId = sqlx::query_scalar(
            "INSERT INTO actions (site, service, kind, session_id, status, args, result, \
             reserved_at_ms, finished_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             RETURNING id",
        )
        .bind(new.site.as_str())
        .bind(service)
        .bind(new.kind.as_str())
        .bind(new.session_id)
        .bind(verdict.status.as_str())
        .bind(ledger::args_text(&new.args))
        .bind(verdict.result.as_deref())
        .bind(new.now_ms)
        .bind(verdict.finished_at_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(ledger::write_error)?;
        tx.commit().await?;
        Ok(verdict.decision(id))
    }

    async fn action_exists(&self, id: ActionId) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM actions WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn token_row(&self, id: &str) -> Result<Option<TokenRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT secret_hash, site, expires_at_ms, used_at_ms FROM enroll_tokens WHERE id = ?1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn health(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn create_session(&self, new: &NewSession) -> Result<Session, StoreError> {
        for _ in 0..CREATE_ATTEMPTS {
            let inserted: Result<SessionRow, sqlx::Error> = sqlx::query_as(concat!(
                "INSERT INTO sessions (site, worker_id, tier, model, triggered_by, status, \
                 prompt, parent_id, started_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?8) RETURNING ",
                session_columns!()
            ))
            .bind(new.site.as_str())
            .bind(new.worker_id.as_deref())
            .bind(i32::from(new.tier.number()))
            .bind(new.model.as_str())
            .bind(new.trigger.as_str())
            .bind(new.prompt.as_deref())
            .bind(new.parent_id)
            .bind(new.started_at_ms)
            .fetch_one(&self.pool)
            .await;
            match inserted {
                Ok(row) => return Session::try_from(row),
                Err(e) if is_unique_violation(&e) => {
                    if let Some(running) = self.running_id(&new.site).await? {
                        return Err(StoreError::SiteBusy { running });
                    }
                    // The running session finished in between: try again.
                }
                Err(e) if is_foreign_key_violation(&e) => {
                    return Err(StoreError::Conflict("parent session does not exist".into()));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict(
            "the site's running session kept changing".into(),
        ))
    }

    async fn finish_session(
        &self,
        id: SessionId,
        outcome: &SessionOutcome,
    ) -> Result<Option<Session>, StoreError> {
        rows::check_outcome(outcome)?;
        let updated: Option<SessionRow> = sqlx::query_as(concat!(
            "UPDATE sessions SET status = ?2, ended_at_ms = ?3, cost_usd = ?4, turns = ?5, \
             exit_code = ?6, response = ?7, structured = ?8, error = ?9 \
             WHERE id = ?1 AND status = 'running' RETURNING ",
            session_columns!()
        ))
        .bind(id)
        .bind(outcome.status.as_str())
        .bind(outcome.ended_at_ms)
        .bind(outcome.cost_usd)
        .bind(outcome.turns)
        .bind(outcome.exit_code)
        .bind(outcome.response.as_deref())
        .bind(rows::json_text(outcome.structured.as_ref()))
        .bind(outcome.error.as_deref())
        .fetch_optional(&self.pool)
        .await?;
        match updated {
            Some(row) => Ok(Some(Session::try_from(row)?)),
            None if self.session_exists(id).await? => Ok(None),
            None => Err(StoreError::NotFound),
        }
    }

    async fn get_session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = ?1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Session::try_from).transpose()
    }

    async fn list_sessions(&self, filter: &SessionFilter) -> Result<Vec<Session>, StoreError> {
        let found: Vec<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE (?1 IS NULL OR site = ?1) \
             ORDER BY started_at_ms DESC, id DESC LIMIT ?2 OFFSET ?3"
        ))
        .bind(filter.site.as_ref().map(SiteName::as_str))
        .bind(i64::from(filter.limit))
        .bind(i64::from(filter.offset))
        .fetch_all(&self.pool)
        .await?;
        rows::sessions(found)
    }

    async fn running_sessions(&self) -> Result<Vec<Session>, StoreError> {
        let found: Vec<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE status = 'running' ORDER BY started_at_ms, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows::sessions(found)
    }

    async fn child_sessions(&self, parent: SessionId) -> Result<Vec<Session>, StoreError> {
        let found: Vec<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE parent_id = ? ORDER BY started_at_ms, id"
        ))
        .bind(parent)
        .fetch_all(&self.pool)
        .await?;
        rows::sessions(found)
    }

    async fn last_session_started(
        &self,
        site: &SiteName,
        trigger: Trigger,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MAX(started_at_ms) FROM sessions WHERE site = ?1 AND triggered_by = ?2",
        )
        .bind(site.as_str())
        .bind(trigger.as_str())
        .fetch_one(&self.pool)
        .await?)
    }

    async fn set_session_worker(&self, id: SessionId, worker_id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE sessions SET worker_id = ?2 WHERE id = ?1")
            .bind(id)
            .bind(worker_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn append_output(
        &self,
        session_id: SessionId,
        lines: &[OutputLine],
    ) -> Result<usize, StoreError> {
        if lines.is_empty() {
            return Ok(0);
        }
        let not_found = |e: sqlx::Error| {
            if is_foreign_key_violation(&e) {
                StoreError::NotFound
            } else {
                StoreError::Database(e)
            }
        };
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut added = 0;
        for line in lines {
            let done = sqlx::query(
                "INSERT INTO session_output (session_id, seq, ts_ms, line, malformed) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (session_id, seq) DO NOTHING",
            )
            .bind(session_id)
            .bind(line.seq)
            .bind(line.ts_ms)
            .bind(line.line.as_str())
            .bind(line.malformed)
            .execute(&mut *tx)
            .await
            .map_err(not_found)?;
            added += done.rows_affected();
        }
        tx.commit().await?;
        Ok(usize::try_from(added).unwrap_or(usize::MAX))
    }

    async fn output(
        &self,
        session_id: SessionId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<OutputLine>, StoreError> {
        let found: Vec<OutputRow> = sqlx::query_as(
            "SELECT seq, ts_ms, line, malformed FROM session_output \
             WHERE session_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .bind(session_id)
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(found.into_iter().map(OutputLine::from).collect())
    }

    async fn max_output_seq(&self, session_id: SessionId) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT MAX(seq) FROM session_output WHERE session_id = ?1")
                .bind(session_id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn insert_worker(&self, worker: &WorkerRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO workers (id, site, hostname, version, capabilities, cert_serial, \
             cert_fingerprint, cert_not_after_ms, enrolled_at_ms, last_seen_ms, revoked_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .bind(worker.id.as_str())
        .bind(worker.site.as_str())
        .bind(worker.hostname.as_str())
        .bind(worker.version.as_str())
        .bind(rows::capabilities_text(&worker.capabilities))
        .bind(worker.cert_serial.as_str())
        .bind(worker.cert_fingerprint.as_str())
        .bind(worker.cert_not_after_ms)
        .bind(worker.enrolled_at_ms)
        .bind(worker.last_seen_ms)
        .bind(worker.revoked_at_ms)
        .execute(&self.pool)
        .await
        .map_err(conflict_on_duplicate(
            "worker id or certificate serial already exists",
        ))?;
        Ok(())
    }

    async fn get_worker(&self, id: &str) -> Result<Option<WorkerRecord>, StoreError> {
        let row: Option<WorkerRow> = sqlx::query_as(concat!(
            "SELECT ",
            worker_columns!(),
            " FROM workers WHERE id = ?1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(WorkerRecord::try_from).transpose()
    }

    async fn list_workers(&self, site: Option<&SiteName>) -> Result<Vec<WorkerRecord>, StoreError> {
        let found: Vec<WorkerRow> = sqlx::query_as(concat!(
            "SELECT ",
            worker_columns!(),
            " FROM workers WHERE (?1 IS NULL OR site = ?1)"
        ))
        .bind(site.map(SiteName::as_str))
        .fetch_all(&self.pool)
        .await?;
        rows::workers(found)
    }

    async fn touch_worker(
        &self,
        id: &str,
        hostname: &str,
        version: &str,
        capabilities: &[String],
        seen_ms: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE workers SET hostname = ?2, version = ?3, capabilities = ?4, \
             last_seen_ms = ?5 WHERE id = ?1",
        )
        .bind(id)
        .bind(hostname)
        .bind(version)
        .bind(rows::capabilities_text(capabilities))
        .bind(seen_ms)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn revoke_workers(
        &self,
        selector: &WorkerSelector,
        now_ms: i64,
    ) -> Result<Vec<WorkerRecord>, StoreError> {
        let revoked: Vec<WorkerRow> = match selector {
            WorkerSelector::Site(site) => {
                sqlx::query_as(concat!(
                    "UPDATE workers SET revoked_at_ms = ?2 \
                     WHERE site = ?1 AND revoked_at_ms IS NULL RETURNING ",
                    worker_columns!()
                ))
                .bind(site.as_str())
                .bind(now_ms)
                .fetch_all(&self.pool)
                .await?
            }
            WorkerSelector::Id(id) => {
                let revoked = sqlx::query_as(concat!(
                    "UPDATE workers SET revoked_at_ms = ?2 \
                     WHERE id = ?1 AND revoked_at_ms IS NULL RETURNING ",
                    worker_columns!()
                ))
                .bind(id.as_str())
                .bind(now_ms)
                .fetch_all(&self.pool)
                .await?;
                if revoked.is_empty() && self.get_worker(id).await?.is_none() {
                    return Err(StoreError::NotFound);
                }
                revoked
            }
        };
        rows::workers(revoked)
    }

    async fn revoked_serials(&self) -> Result<Vec<String>, StoreError> {
        let mut serials: Vec<String> =
            sqlx::query_scalar("SELECT cert_serial FROM workers WHERE revoked_at_ms IS NOT NULL")
                .fetch_all(&self.pool)
                .await?;
        serials.sort();
        Ok(serials)
    }

    async fn insert_enroll_token(&self, token: &EnrollTokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO enroll_tokens (id, secret_hash, site, created_at_ms, expires_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(token.id.as_str())
        .bind(token.secret_hash.as_str())
        .bind(token.site.as_str())
        .bind(token.created_at_ms)
        .bind(token.expires_at_ms)
        .execute(&self.pool)
        .await
        .map_err(conflict_on_duplicate("enrollment token id already exists"))?;
        Ok(())
    }

    async fn consume_enroll_token(
        &self,
        id: &str,
        secret_hash: &str,
        now_ms: i64,
    ) -> Result<SiteName, StoreError> {
        let row = self.token_row(id).await?.ok_or(StoreError::TokenUnknown)?;
        token::check(&row, secret_hash, now_ms)?;
        let done = sqlx::query(
            "UPDATE enroll_tokens SET used_at_ms = ?3 WHERE id = ?1 AND secret_hash = ?2 \
             AND used_at_ms IS NULL AND expires_at_ms > ?3",
        )
        .bind(id)
        .bind(secret_hash)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(token::lost_race(self.token_row(id).await?.as_ref()));
        }
        rows::site(row.site)
    }

    async fn insert_event(&self, event: &NewEvent) -> Result<Event, StoreError> {
        let row: EventRow = sqlx::query_as(concat!(
            "INSERT INTO events (ts_ms, site, session_id, level, service, message) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING ",
            event_columns!()
        ))
        .bind(event.ts_ms)
        .bind(event.site.as_str())
        .bind(event.session_id)
        .bind(event.level.as_str())
        .bind(event.service.as_deref())
        .bind(event.message.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                StoreError::Conflict("event names a session that does not exist".into())
            } else {
                StoreError::Database(e)
            }
        })?;
        Event::try_from(row)
    }

    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let found: Vec<EventRow> = sqlx::query_as(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE (?1 IS NULL OR site = ?1) AND (?2 IS NULL OR level = ?2) \
             AND (?3 IS NULL OR service = ?3) ORDER BY ts_ms DESC, id DESC LIMIT ?4 OFFSET ?5"
        ))
        .bind(filter.site.as_ref().map(SiteName::as_str))
        .bind(filter.level.map(|level| level.as_str()))
        .bind(filter.service.as_deref())
        .bind(i64::from(filter.limit))
        .bind(i64::from(filter.offset))
        .fetch_all(&self.pool)
        .await?;
        rows::events(found)
    }

    async fn get_memory_by_key(
        &self,
        site: &SiteName,
        key: &str,
    ) -> Result<Option<Memory>, StoreError> {
        let Ok(key) = memory::key(key) else {
            return Ok(None);
        };
        let row: Option<MemoryRow> = sqlx::query_as(concat!(
            "SELECT ",
            memory_columns!(),
            " FROM memories WHERE site = ?1 AND key = ?2"
        ))
        .bind(site.as_str())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Memory::try_from).transpose()
    }

    async fn get_memory(&self, id: MemoryId) -> Result<Option<Memory>, StoreError> {
        let row: Option<MemoryRow> = sqlx::query_as(concat!(
            "SELECT ",
            memory_columns!(),
            " FROM memories WHERE id = ?1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Memory::try_from).transpose()
    }

    async fn insert_memory(&self, new: &NewMemory) -> Result<Memory, StoreError> {
        let key = memory::key(&new.key)?;
        let value = memory::value(&new.value)?;
        let confidence = memory::confidence(new.confidence)?;
        let row: MemoryRow = sqlx::query_as(concat!(
            "INSERT INTO memories (site, key, value, confidence, active, session_id, \
             created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) RETURNING ",
            memory_columns!()
        ))
        .bind(new.site.as_str())
        .bind(key)
        .bind(value)
        .bind(confidence)
        .bind(new.active)
        .bind(new.session_id)
        .bind(new.created_at_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(memory::write_error)?;
        Memory::try_from(row)
    }

    async fn update_memory(
        &self,
        id: MemoryId,
        value: &str,
        confidence: f64,
        active: bool,
        session_id: Option<SessionId>,
        now_ms: i64,
    ) -> Result<Option<Memory>, StoreError> {
        let value = memory::value(value)?;
        let confidence = memory::confidence(confidence)?;
        let row: Option<MemoryRow> = sqlx::query_as(concat!(
            "UPDATE memories SET value = ?2, confidence = ?3, active = ?4, session_id = ?5, \
             updated_at_ms = ?6 WHERE id = ?1 RETURNING ",
            memory_columns!()
        ))
        .bind(id)
        .bind(value)
        .bind(confidence)
        .bind(active)
        .bind(session_id)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await
        .map_err(memory::write_error)?;
        row.map(Memory::try_from).transpose()
    }

    async fn delete_memory(&self, id: MemoryId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM memories WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_memories(&self, filter: &MemoryFilter) -> Result<Vec<Memory>, StoreError> {
        let found: Vec<MemoryRow> = sqlx::query_as(concat!(
            "SELECT ",
            memory_columns!(),
            " FROM memories WHERE (?1 IS NULL OR site = ?1) AND (NOT ?2 OR active) \
             ORDER BY confidence DESC, updated_at_ms DESC, id DESC LIMIT ?3 OFFSET ?4"
        ))
        .bind(filter.site.as_ref().map(SiteName::as_str))
        .bind(filter.active_only)
        .bind(i64::from(filter.limit))
        .bind(i64::from(filter.offset))
        .fetch_all(&self.pool)
        .await?;
        rows::memories(found)
    }

    async fn remember(
        &self,
        site: &SiteName,
        key: &str,
        value: &str,
        session_id: Option<SessionId>,
        now_ms: i64,
    ) -> Result<Memory, StoreError> {
        let key = memory::key(key)?;
        let value = memory::value(value)?;
        // IMMEDIATE takes the write lock first, so the read below cannot go stale.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for _ in 0..memory::REMEMBER_ATTEMPTS {
            let existing: Option<MemoryRow> = sqlx::query_as(concat!(
                "SELECT ",
                memory_columns!(),
                " FROM memories WHERE site = ?1 AND key = ?2"
            ))
            .bind(site.as_str())
            .bind(key.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let written: Option<MemoryRow> = match existing {
                Some(row) => {
                    let current = Memory::try_from(row)?;
                    let outcome = merge(Some(&current), &value);
                    sqlx::query_as(concat!(
                        "UPDATE memories SET value = ?2, confidence = ?3, active = ?4, \
                         session_id = ?5, updated_at_ms = ?6 WHERE id = ?1 RETURNING ",
                        memory_columns!()
                    ))
                    .bind(current.id)
                    .bind(outcome.value.as_str())
                    .bind(outcome.confidence)
                    .bind(outcome.active)
                    .bind(outcome.session_id(Some(&current), session_id))
                    .bind(now_ms)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(memory::write_error)?
                }
                None => {
                    let outcome = merge(None, &value);
                    sqlx::query_as(concat!(
                        "INSERT INTO memories (site, key, value, confidence, active, \
                         session_id, created_at_ms, updated_at_ms) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) \
                         ON CONFLICT (site, key) DO NOTHING RETURNING ",
                        memory_columns!()
                    ))
                    .bind(site.as_str())
                    .bind(key.as_str())
                    .bind(outcome.value.as_str())
                    .bind(outcome.confidence)
                    .bind(outcome.active)
                    .bind(outcome.session_id(None, session_id))
                    .bind(now_ms)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(memory::write_error)?
                }
            };
            if let Some(row) = written {
                tx.commit().await?;
                return Memory::try_from(row);
            }
            // The row appeared or vanished between the read and the write: look again.
        }
        Err(StoreError::Conflict("the memory kept changing".into()))
    }

    async fn stats(&self, critical_since_ms: i64) -> Result<Stats, StoreError> {
        Ok(sqlx::query_as(
            "SELECT COUNT(*) AS total_runs, \
             COALESCE(SUM(CASE WHEN triggered_by = 'escalation' THEN 1 ELSE 0 END), 0) AS escalations, \
             COALESCE(SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0) AS completed, \
             COALESCE(SUM(CASE WHEN status <> 'running' THEN 1 ELSE 0 END), 0) AS finished, \
             COALESCE(SUM(cost_usd), 0.0) AS total_cost_usd, \
             COALESCE(AVG(CASE WHEN ended_at_ms IS NOT NULL THEN ended_at_ms - started_at_ms END), 0.0) AS avg_duration_ms, \
             (SELECT COUNT(*) FROM actions WHERE status = 'succeeded') AS remediations, \
             (SELECT COUNT(*) FROM events WHERE level = 'critical' AND ts_ms >= ?1) AS critical_events \
             FROM sessions",
        )
        .bind(critical_since_ms)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn count_active_memories(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM memories WHERE active")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn reserve_action(
        &self,
        new: &NewAction,
        limits: &Limits,
    ) -> Result<Decision, StoreError> {
        let service = ledger::service(&new.service)?;
        let mut attempt = 1;
        loop {
            match self.try_reserve(new, &service, limits).await {
                Err(StoreError::Database(e))
                    if is_busy(&e) && attempt < ledger::RESERVE_ATTEMPTS =>
                {
                    attempt += 1;
                }
                done => return done,
            }
        }
    }

    async fn finish_action(
        &self,
        id: ActionId,
        status: ActionStatus,
        result: &str,
        now_ms: i64,
    ) -> Result<Option<ActionRecord>, StoreError> {
        ledger::finish_status(status)?;
        let updated: Option<ActionRow> = sqlx::query_as(concat!(
            "UPDATE actions SET status = ?2, result = ?3, finished_at_ms = ?4, \
             duration_ms = ?4 - reserved_at_ms WHERE id = ?1 AND status = 'reserved' RETURNING ",
            action_columns!()
        ))
        .bind(id)
        .bind(status.as_str())
        .bind(core_ledger::normalize_result(result))
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        match updated {
            Some(row) => Ok(Some(ActionRecord::try_from(row)?)),
            None if self.action_exists(id).await? => Ok(None),
            None => Err(StoreError::NotFound),
        }
    }

    async fn list_actions(&self, filter: &ActionFilter) -> Result<Vec<ActionRecord>, StoreError> {
        let service = match filter.service.as_deref().map(ledger::service) {
            Some(Err(_)) => return Ok(Vec::new()),
            Some(Ok(service)) => Some(service),
            None => None,
        };
        let found: Vec<ActionRow> = sqlx::query_as(concat!(
            "SELECT ",
            action_columns!(),
            " FROM actions WHERE (?1 IS NULL OR site = ?1) AND (?2 IS NULL OR session_id = ?2) \
             AND (?3 IS NULL OR service = ?3) \
             ORDER BY reserved_at_ms DESC, id DESC LIMIT ?4 OFFSET ?5"
        ))
        .bind(filter.site.as_ref().map(SiteName::as_str))
        .bind(filter.session_id)
        .bind(service)
        .bind(i64::from(filter.limit))
        .bind(i64::from(filter.offset))
        .fetch_all(&self.pool)
        .await?;
        rows::actions(found)
    }

    async fn cooldowns(
        &self,
        limits: &Limits,
        now_ms: i64,
    ) -> Result<Vec<CooldownRow>, StoreError> {
        let found: Vec<LedgerRow> = sqlx::query_as(
            "SELECT site, service, kind, status, reserved_at_ms FROM actions \
             WHERE reserved_at_ms > ?1",
        )
        .bind(now_ms.saturating_sub(limits.horizon_ms()))
        .fetch_all(&self.pool)
        .await?;
        let entries = rows::ledger_entries(found)?;
        Ok(core_ledger::cooldowns(&entries, limits, now_ms))
    }

    async fn release_stale_reservations(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE actions SET status = 'failed', result = ?2 \
             WHERE status = 'reserved' AND reserved_at_ms < ?1",
        )
        .bind(older_than_ms)
        .bind(ABANDONED_RESULT)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn record_probe_attempts(
        &self,
        site: &SiteName,
        attempts: &[ProbeAttempt],
    ) -> Result<(), StoreError> {
        health::record_probe_attempts(&self.pool, site, attempts).await
    }

    async fn list_probes(
        &self,
        site: Option<&SiteName>,
        history: u32,
    ) -> Result<Vec<ProbeRecord>, StoreError> {
        health::list_probes(&self.pool, site, history).await
    }

    async fn retire_probes(&self, site: &SiteName, keep: &[String]) -> Result<u64, StoreError> {
        health::retire_probes(&self.pool, site, keep).await
    }

    async fn prune_probe_attempts(&self, before_ms: i64) -> Result<u64, StoreError> {
        health::prune_probe_attempts(&self.pool, before_ms).await
    }

    async fn open_incident(&self, new: &NewIncident) -> Result<(Incident, bool), StoreError> {
        health::open_incident(&self.pool, new).await
    }

    async fn get_incident(&self, id: IncidentId) -> Result<Option<Incident>, StoreError> {
        health::get_incident(&self.pool, id).await
    }

    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        health::list_incidents(&self.pool, filter).await
    }

    async fn set_incident_session(
        &self,
        id: IncidentId,
        session_id: SessionId,
    ) -> Result<(), StoreError> {
        health::set_incident_session(&self.pool, id, session_id).await
    }

    async fn resolve_incident(
        &self,
        id: IncidentId,
        resolution: Resolution,
        now_ms: i64,
    ) -> Result<Option<Incident>, StoreError> {
        health::resolve_incident(&self.pool, id, resolution, now_ms).await
    }

    async fn put_inventory(&self, record: &InventoryRecord) -> Result<(), StoreError> {
        health::put_inventory(&self.pool, record).await
    }

    async fn inventories(&self, site: &SiteName) -> Result<Vec<InventoryRecord>, StoreError> {
        health::inventories(&self.pool, site).await
    }

    async fn record_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        health::record_delivery(&self.pool, record).await
    }

    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        health::list_deliveries(&self.pool, filter).await
    }

    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use claudeops_core::ledger::ActionKind;
    use sqlx::Connection;

    use super::*;

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
            .reserve_action(&new, &Limits::default())
            .await
            .expect("reserve after a retry");
        assert!(decision.is_granted(), "{decision:?}");
        drop(holder.await.expect("holder"));
        store.close().await;
    }
}
