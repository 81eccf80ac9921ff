//! The `Store` impl shared by both databases: every statement outside the longer
//! transactions (`transactions`) and the probe and incident statements (`health`).
//!
//! One body per method for SQLite and PostgreSQL alike; a difference between the
//! databases goes through [`Dialect`], never through a branch on the backend here.

use async_trait::async_trait;
use claudeops_core::alert::{Alert, AlertRecord};
use claudeops_core::approval::{Approval, ApprovalStatus, NewApproval};
use claudeops_core::event::{Event, NewEvent};
use claudeops_core::health::{
    Incident, IncidentAck, IncidentId, InventoryRecord, MaintenanceWindow, NewIncident,
    NewMaintenance, ProbeAttempt, ProbeRecord, ProbeRollup, Resolution, RollupPeriod,
};
use claudeops_core::ledger::{
    self as core_ledger, ABANDONED_RESULT, ActionId, ActionRecord, ActionStatus, CooldownLimits,
    CooldownRow, NewAction, Slot,
};
use claudeops_core::memory::{DecayRule, Memory, MemoryId, NewMemory};
use claudeops_core::notification::DeliveryRecord;
use claudeops_core::worker::WorkerRecord;
use claudeops_core::{NewSession, Session, SessionId, SessionOutcome, SiteName, Tier, Trigger};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::alerts::Alerts;
use super::health::Health;
use super::memories::Memories;
use super::transactions::UPDATE_MEMORY;
use super::{Dialect, MEMORY_BY_KEY, SqlStore, retry_when_busy};
use crate::error::{conflict_on_duplicate, is_foreign_key_violation, is_unique_violation};
use crate::model::{
    ActionFilter, Backend, ConfigChange, DeliveryFilter, EnrollTokenRecord, EventFilter,
    IncidentFilter, MemoryFilter, MemoryListing, MemorySearch, OutputLine, RuntimeSettings,
    SessionFilter, Stats, UiProbe, UserRecord, WorkerSelector,
};
use crate::rows::{
    self, ActionRow, AlertRow, ConfigChangeRow, DeliveryRow, EventRow, HistoryRow, IncidentRow,
    InventoryRow, LedgerRow, MemoryListingRow, MemoryRow, OutputRow, ProbeRow, RuntimeRow,
    SessionRow, UiProbeRow, UserRow, WorkerRow,
};
use crate::token::{self, TokenRow};
use crate::{Store, StoreError, ledger, memory};

/// How often `create_session` retries when the running session it collided with
/// finished before it could be named.
const CREATE_ATTEMPTS: usize = 3;

#[async_trait]
impl<DB> Store for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> i32: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> f64: Encode<'a, DB> + Type<DB>,
    for<'a> bool: Encode<'a, DB> + Type<DB>,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> Option<i32>: Encode<'a, DB> + Type<DB>,
    for<'a> Option<i64>: Encode<'a, DB> + Type<DB>,
    for<'a> Option<String>: Encode<'a, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    for<'a> Option<bool>: Encode<'a, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    (f64,): for<'r> FromRow<'r, DB::Row>,
    (Option<i64>,): for<'r> FromRow<'r, DB::Row>,
    (String,): for<'r> FromRow<'r, DB::Row>,
    SessionRow: for<'r> FromRow<'r, DB::Row>,
    UserRow: for<'r> FromRow<'r, DB::Row>,
    OutputRow: for<'r> FromRow<'r, DB::Row>,
    WorkerRow: for<'r> FromRow<'r, DB::Row>,
    TokenRow: for<'r> FromRow<'r, DB::Row>,
    EventRow: for<'r> FromRow<'r, DB::Row>,
    MemoryRow: for<'r> FromRow<'r, DB::Row>,
    MemoryListingRow: for<'r> FromRow<'r, DB::Row>,
    Stats: for<'r> FromRow<'r, DB::Row>,
    ActionRow: for<'r> FromRow<'r, DB::Row>,
    LedgerRow: for<'r> FromRow<'r, DB::Row>,
    ProbeRow: for<'r> FromRow<'r, DB::Row>,
    HistoryRow: for<'r> FromRow<'r, DB::Row>,
    crate::rows::RollupRow: for<'r> FromRow<'r, DB::Row>,
    crate::rows::MaintenanceRow: for<'r> FromRow<'r, DB::Row>,
    crate::rows::AckRow: for<'r> FromRow<'r, DB::Row>,
    IncidentRow: for<'r> FromRow<'r, DB::Row>,
    InventoryRow: for<'r> FromRow<'r, DB::Row>,
    UiProbeRow: for<'r> FromRow<'r, DB::Row>,
    crate::rows::ApprovalRow: for<'r> FromRow<'r, DB::Row>,
    DeliveryRow: for<'r> FromRow<'r, DB::Row>,
    AlertRow: for<'r> FromRow<'r, DB::Row>,
    super::legacy::ImportedRow: for<'r> FromRow<'r, DB::Row>,
    RuntimeRow: for<'r> FromRow<'r, DB::Row>,
    ConfigChangeRow: for<'r> FromRow<'r, DB::Row>,
{
    fn backend(&self) -> Backend {
        DB::BACKEND
    }

    async fn health(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn readiness(&self, now_ms: i64) -> Result<(), StoreError> {
        if let Some(reason) = self.lost.get() {
            return Err(StoreError::Lost(reason.clone()));
        }
        if let Some(Err(reason)) = self.file.as_ref().map(super::FileIdentity::check) {
            return Err(StoreError::Lost(self.lose(reason).await));
        }
        let not_ready = |what: &str, e: sqlx::Error| StoreError::NotReady(format!("{what}: {e}"));
        let failed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE NOT success")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| not_ready("it does not answer", e))?;
        let applied: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| not_ready("it does not answer", e))?;
        let known = DB::migrator().iter().map(|m| m.version).max().unwrap_or(0);
        if failed > 0 {
            return Err(StoreError::NotReady(
                "a schema migration failed part-way; see the control plane's log from its start"
                    .to_owned(),
            ));
        }
        if applied != known {
            let which = if applied < known { "older" } else { "newer" };
            return Err(StoreError::NotReady(format!(
                "the schema is at version {applied}, {which} than this binary's {known}"
            )));
        }
        sqlx::query(
            "INSERT INTO readiness (id, checked_at_ms) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET checked_at_ms = $1",
        )
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| not_ready("it takes no write", e))?;
        Ok(())
    }

    async fn create_session(&self, new: &NewSession) -> Result<Session, StoreError> {
        for _ in 0..CREATE_ATTEMPTS {
            let inserted: Result<SessionRow, sqlx::Error> = sqlx::query_as(concat!(
                "INSERT INTO sessions (site, worker_id, tier, model, triggered_by, status, \
                 prompt, parent_id, started_at_ms, traceparent, chain_span_id) \
                 VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9, $10) RETURNING ",
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
            .bind(new.trace.as_ref().map(|t| t.traceparent.as_str()))
            .bind(new.trace.as_ref().map(|t| t.chain_span_id.as_str()))
            .fetch_one(&self.pool)
            .await;
            match inserted {
                Ok(row) => return Session::try_from(row),
                Err(e) if is_unique_violation(&e) => {
                    let running: Option<SessionId> = sqlx::query_scalar(
                        "SELECT id FROM sessions WHERE site = $1 AND status = 'running'",
                    )
                    .bind(new.site.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                    if let Some(running) = running {
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
            "UPDATE sessions SET status = $2, ended_at_ms = $3, cost_usd = $4, turns = $5, \
             exit_code = $6, response = $7, structured = $8, error = $9 \
             WHERE id = $1 AND status = 'running' RETURNING ",
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
        let Some(row) = updated else {
            let found: Option<SessionId> =
                sqlx::query_scalar("SELECT id FROM sessions WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
            return found.map(|_| None).ok_or(StoreError::NotFound);
        };
        Ok(Some(Session::try_from(row)?))
    }

    async fn get_session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = $1"
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
            " FROM sessions WHERE ($1 IS NULL OR site = $1) \
             ORDER BY started_at_ms DESC, id DESC LIMIT $2 OFFSET $3"
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
            " FROM sessions WHERE parent_id = $1 ORDER BY started_at_ms, id"
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
            "SELECT MAX(started_at_ms) FROM sessions WHERE site = $1 AND triggered_by = $2 \
             AND (confirmed_at_ms IS NOT NULL OR status = 'running')",
        )
        .bind(site.as_str())
        .bind(trigger.as_str())
        .fetch_one(&self.pool)
        .await?)
    }

    async fn set_session_worker(&self, id: SessionId, worker_id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE sessions SET worker_id = $2 WHERE id = $1")
            .bind(id)
            .bind(worker_id)
            .execute(&self.pool)
            .await?;
        if DB::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn confirm_session(&self, id: SessionId, at_ms: i64) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET confirmed_at_ms = COALESCE(confirmed_at_ms, $2) WHERE id = $1",
        )
        .bind(id)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        if DB::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn request_stop(&self, id: SessionId, reason: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET stop_reason = $2 WHERE id = $1 AND status = 'running'",
        )
        .bind(id)
        .bind(if reason.is_empty() { "stopped" } else { reason })
        .execute(&self.pool)
        .await?;
        Ok(DB::rows_affected(&done) > 0)
    }

    async fn stop_requested(&self, id: SessionId) -> Result<Option<String>, StoreError> {
        // `request_stop` never records an empty reason: empty means none.
        let reason: Option<String> = sqlx::query_scalar(
            "SELECT COALESCE(stop_reason, '') FROM sessions WHERE id = $1 AND status = 'running'",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(reason.filter(|r| !r.is_empty()))
    }

    async fn append_output(
        &self,
        session_id: SessionId,
        lines: &[OutputLine],
    ) -> Result<usize, StoreError> {
        if lines.is_empty() {
            return Ok(0);
        }
        let added = DB::append_output(&self.pool, session_id, lines).await?;
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
             WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
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
            sqlx::query_scalar("SELECT MAX(seq) FROM session_output WHERE session_id = $1")
                .bind(session_id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn contiguous_output(&self, session_id: SessionId) -> Result<i64, StoreError> {
        // The end of the first run of consecutive seqs, if that run starts at 1.
        Ok(sqlx::query_scalar(
            "SELECT CASE WHEN EXISTS \
               (SELECT 1 FROM session_output WHERE session_id = $1 AND seq = 1) \
             THEN (SELECT MIN(o.seq) FROM session_output o WHERE o.session_id = $1 \
               AND NOT EXISTS (SELECT 1 FROM session_output p \
                 WHERE p.session_id = $1 AND p.seq = o.seq + 1)) \
             ELSE 0 END",
        )
        .bind(session_id)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn insert_worker(&self, worker: &WorkerRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO workers (id, site, hostname, version, capabilities, cert_serial, \
             cert_fingerprint, cert_not_after_ms, enrolled_at_ms, last_seen_ms, revoked_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
            " FROM workers WHERE id = $1"
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
            " FROM workers WHERE ($1 IS NULL OR site = $1)"
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
            "UPDATE workers SET hostname = $2, version = $3, capabilities = $4, \
             last_seen_ms = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(hostname)
        .bind(version)
        .bind(rows::capabilities_text(capabilities))
        .bind(seen_ms)
        .execute(&self.pool)
        .await?;
        if DB::rows_affected(&done) == 0 {
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
                    "UPDATE workers SET revoked_at_ms = $2 \
                     WHERE site = $1 AND revoked_at_ms IS NULL RETURNING ",
                    worker_columns!()
                ))
                .bind(site.as_str())
                .bind(now_ms)
                .fetch_all(&self.pool)
                .await?
            }
            WorkerSelector::Id(id) => {
                let revoked = sqlx::query_as(concat!(
                    "UPDATE workers SET revoked_at_ms = $2 \
                     WHERE id = $1 AND revoked_at_ms IS NULL RETURNING ",
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
             VALUES ($1, $2, $3, $4, $5)",
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
        let token_row = || {
            sqlx::query_as::<DB, TokenRow>(
                "SELECT secret_hash, site, expires_at_ms, used_at_ms FROM enroll_tokens \
                 WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
        };
        let row = token_row().await?.ok_or(StoreError::TokenUnknown)?;
        token::check(&row, secret_hash, now_ms)?;
        let done = sqlx::query(
            "UPDATE enroll_tokens SET used_at_ms = $3 WHERE id = $1 AND secret_hash = $2 \
             AND used_at_ms IS NULL AND expires_at_ms > $3",
        )
        .bind(id)
        .bind(secret_hash)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        if DB::rows_affected(&done) == 0 {
            return Err(token::lost_race(token_row().await?.as_ref()));
        }
        rows::site(row.site)
    }

    async fn insert_event(&self, event: &NewEvent) -> Result<Event, StoreError> {
        let row: EventRow = sqlx::query_as(concat!(
            "INSERT INTO events (ts_ms, site, session_id, level, service, message) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
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
            " FROM events WHERE ($1 IS NULL OR site = $1) AND ($2 IS NULL OR level = $2) \
             AND ($3 IS NULL OR service = $3) ORDER BY ts_ms DESC, id DESC LIMIT $4 OFFSET $5"
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
        let row: Option<MemoryRow> = sqlx::query_as(MEMORY_BY_KEY)
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
            " FROM memories WHERE id = $1"
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
             created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING ",
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
        let row: Option<MemoryRow> = sqlx::query_as(UPDATE_MEMORY)
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
        let done = sqlx::query("DELETE FROM memories WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) > 0)
    }

    async fn list_memories(&self, filter: &MemoryFilter) -> Result<Vec<Memory>, StoreError> {
        let found: Vec<MemoryRow> = sqlx::query_as(concat!(
            "SELECT ",
            memory_columns!(),
            " FROM memories WHERE ($1 IS NULL OR site = $1) AND (NOT $2 OR active) \
             ORDER BY confidence DESC, updated_at_ms DESC, id DESC LIMIT $3 OFFSET $4"
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
        self.merge_memory(site, key, value, session_id, now_ms)
            .await
    }

    async fn stats(&self, critical_since_ms: i64) -> Result<Stats, StoreError> {
        Ok(sqlx::query_as(
            "SELECT COUNT(*) AS total_runs, \
             COALESCE(SUM(CASE WHEN triggered_by = 'escalation' THEN 1 ELSE 0 END), 0) AS escalations, \
             COALESCE(SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0) AS completed, \
             COALESCE(SUM(CASE WHEN status <> 'running' THEN 1 ELSE 0 END), 0) AS finished, \
             COALESCE(SUM(cost_usd), 0.0) AS total_cost_usd, \
             COALESCE(CAST(AVG(CASE WHEN ended_at_ms IS NOT NULL THEN ended_at_ms - started_at_ms END) AS DOUBLE PRECISION), 0.0) AS avg_duration_ms, \
             (SELECT COUNT(*) FROM actions WHERE status = 'succeeded') AS remediations, \
             (SELECT COUNT(*) FROM events WHERE level = 'critical' AND ts_ms >= $1) AS critical_events \
             FROM sessions",
        )
        .bind(critical_since_ms)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn cost_since(&self, since_ms: i64) -> Result<f64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(cost_usd), 0.0) AS DOUBLE PRECISION) FROM sessions WHERE started_at_ms >= $1",
        )
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn search_memories(
        &self,
        search: &MemorySearch,
    ) -> Result<Vec<MemoryListing>, StoreError> {
        Memories(&self.pool).search(search).await
    }

    async fn decay_memories(&self, rule: &DecayRule, now_ms: i64) -> Result<u64, StoreError> {
        Memories(&self.pool).decay(rule, now_ms).await
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
        limits: &CooldownLimits,
    ) -> Result<Slot, StoreError> {
        let service = ledger::service(&new.service)?;
        retry_when_busy::<DB, _, _>(ledger::RESERVE_ATTEMPTS, || {
            self.try_reserve(new, &service, limits)
        })
        .await
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
            "UPDATE actions SET status = $2, result = $3, finished_at_ms = $4, \
             duration_ms = $4 - reserved_at_ms WHERE id = $1 AND status = 'reserved' RETURNING ",
            action_columns!()
        ))
        .bind(id)
        .bind(status.as_str())
        .bind(core_ledger::normalize_result(result))
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = updated else {
            let found: Option<ActionId> =
                sqlx::query_scalar("SELECT id FROM actions WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
            return found.map(|_| None).ok_or(StoreError::NotFound);
        };
        Ok(Some(ActionRecord::try_from(row)?))
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
            " FROM actions WHERE ($1 IS NULL OR site = $1) AND ($2 IS NULL OR session_id = $2) \
             AND ($3 IS NULL OR service = $3) \
             ORDER BY reserved_at_ms DESC, id DESC LIMIT $4 OFFSET $5"
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
        limits: &CooldownLimits,
        now_ms: i64,
    ) -> Result<Vec<CooldownRow>, StoreError> {
        let found: Vec<LedgerRow> = sqlx::query_as(
            "SELECT site, service, kind, status, reserved_at_ms FROM actions \
             WHERE reserved_at_ms > $1",
        )
        .bind(now_ms.saturating_sub(limits.horizon_ms()))
        .fetch_all(&self.pool)
        .await?;
        let entries = rows::ledger_entries(found)?;
        Ok(core_ledger::cooldowns(&entries, limits, now_ms))
    }

    async fn release_stale_reservations(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE actions SET status = 'failed', result = $2 \
             WHERE status = 'reserved' AND reserved_at_ms < $1",
        )
        .bind(older_than_ms)
        .bind(ABANDONED_RESULT)
        .execute(&self.pool)
        .await?;
        Ok(DB::rows_affected(&done))
    }

    async fn record_probe_attempts(
        &self,
        site: &SiteName,
        attempts: &[ProbeAttempt],
    ) -> Result<(), StoreError> {
        Health(&self.pool)
            .record_probe_attempts(site, attempts)
            .await
    }

    async fn list_probes(
        &self,
        site: Option<&SiteName>,
        history: u32,
    ) -> Result<Vec<ProbeRecord>, StoreError> {
        Health(&self.pool).list_probes(site, history).await
    }

    async fn retire_probes(&self, site: &SiteName, keep: &[String]) -> Result<u64, StoreError> {
        DB::retire_probes(&self.pool, site, keep).await
    }

    async fn prune_probe_attempts(&self, before_ms: i64) -> Result<u64, StoreError> {
        Health(&self.pool).prune_probe_attempts(before_ms).await
    }

    async fn probe_rollups(
        &self,
        site: &SiteName,
        probe: &str,
        period: RollupPeriod,
        since_ms: i64,
    ) -> Result<Vec<ProbeRollup>, StoreError> {
        Health(&self.pool)
            .probe_rollups(site, probe, period, since_ms)
            .await
    }

    async fn prune_probe_rollups(
        &self,
        period: RollupPeriod,
        before_ms: i64,
    ) -> Result<u64, StoreError> {
        Health(&self.pool)
            .prune_probe_rollups(period, before_ms)
            .await
    }

    async fn open_incident(&self, new: &NewIncident) -> Result<(Incident, bool), StoreError> {
        Health(&self.pool).open_incident(new).await
    }

    async fn get_incident(&self, id: IncidentId) -> Result<Option<Incident>, StoreError> {
        Health(&self.pool).get_incident(id).await
    }

    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        Health(&self.pool).list_incidents(filter).await
    }

    async fn set_incident_session(
        &self,
        id: IncidentId,
        session_id: SessionId,
    ) -> Result<(), StoreError> {
        Health(&self.pool)
            .set_incident_session(id, session_id)
            .await
    }

    async fn resolve_incident(
        &self,
        id: IncidentId,
        resolution: Resolution,
        now_ms: i64,
    ) -> Result<Option<Incident>, StoreError> {
        Health(&self.pool)
            .resolve_incident(id, resolution, now_ms)
            .await
    }

    async fn alert_incident(
        &self,
        site: &SiteName,
        fingerprint: &str,
    ) -> Result<Option<IncidentId>, StoreError> {
        Alerts(&self.pool).alert_incident(site, fingerprint).await
    }

    async fn record_alert(
        &self,
        incident: IncidentId,
        alert: &Alert,
        tier: Option<Tier>,
        at_ms: i64,
    ) -> Result<AlertRecord, StoreError> {
        let tier = tier.map(|t| i64::from(t.number()));
        Alerts(&self.pool)
            .record_alert(incident, alert, tier, at_ms)
            .await
    }

    async fn resolve_alert(
        &self,
        incident: IncidentId,
        fingerprint: &str,
        at_ms: i64,
    ) -> Result<Option<AlertRecord>, StoreError> {
        Alerts(&self.pool)
            .resolve_alert(incident, fingerprint, at_ms)
            .await
    }

    async fn incident_alerts(&self, incident: IncidentId) -> Result<Vec<AlertRecord>, StoreError> {
        Alerts(&self.pool).incident_alerts(incident).await
    }

    async fn import_legacy(
        &self,
        legacy: &crate::legacy::LegacyDatabase,
        site: &SiteName,
        now_ms: i64,
    ) -> Result<crate::legacy::LegacyReport, StoreError> {
        self.import_legacy_rows(legacy, site, now_ms).await
    }

    async fn put_inventory(&self, record: &InventoryRecord) -> Result<(), StoreError> {
        Health(&self.pool).put_inventory(record).await
    }

    async fn inventories(&self, site: &SiteName) -> Result<Vec<InventoryRecord>, StoreError> {
        Health(&self.pool).inventories(site).await
    }

    async fn record_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        Health(&self.pool).record_delivery(record).await
    }

    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        Health(&self.pool).list_deliveries(filter).await
    }

    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn prune_output(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM session_output WHERE session_id IN \
             (SELECT id FROM sessions WHERE ended_at_ms IS NOT NULL AND ended_at_ms < $1)",
        )
        .bind(before_ms)
        .execute(&self.pool)
        .await?;
        Ok(DB::rows_affected(&done))
    }

    async fn add_maintenance(&self, new: &NewMaintenance) -> Result<MaintenanceWindow, StoreError> {
        self.insert_maintenance(new).await
    }

    async fn list_maintenance(&self, after_ms: i64) -> Result<Vec<MaintenanceWindow>, StoreError> {
        self.maintenance_ending_after(after_ms).await
    }

    async fn end_maintenance(&self, id: i64, at_ms: i64) -> Result<bool, StoreError> {
        self.stop_maintenance(id, at_ms).await
    }

    async fn acknowledge_incident(&self, ack: &IncidentAck) -> Result<bool, StoreError> {
        self.insert_ack(ack).await
    }

    async fn incident_ack(&self, id: IncidentId) -> Result<Option<IncidentAck>, StoreError> {
        self.ack_of(id).await
    }

    async fn recent_incident_acks(&self, limit: u32) -> Result<Vec<IncidentAck>, StoreError> {
        self.recent_acks(limit).await
    }

    async fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        self.upsert_user(user).await
    }

    async fn get_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        self.user_named(name).await
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.all_users().await
    }

    async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        self.remove_user(name).await
    }

    async fn runtime_settings(&self) -> Result<Vec<RuntimeSettings>, StoreError> {
        self.all_runtime_settings().await
    }

    async fn put_runtime_settings(
        &self,
        settings: &RuntimeSettings,
        changes: &[ConfigChange],
    ) -> Result<(), StoreError> {
        self.replace_runtime_settings(settings, changes).await
    }

    async fn config_changes(
        &self,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<ConfigChange>, StoreError> {
        self.list_config_changes(limit, offset).await
    }

    async fn request_approval(&self, new: &NewApproval) -> Result<Approval, StoreError> {
        self.insert_approval(new).await
    }

    async fn get_approval(&self, id: i64) -> Result<Option<Approval>, StoreError> {
        self.approval(id).await
    }

    async fn list_approvals(
        &self,
        session_id: Option<SessionId>,
        status: Option<ApprovalStatus>,
        limit: u32,
    ) -> Result<Vec<Approval>, StoreError> {
        self.approvals(session_id, status, limit).await
    }

    async fn settle_approval(
        &self,
        id: i64,
        status: ApprovalStatus,
        by: Option<&str>,
        reason: &str,
        now_ms: i64,
    ) -> Result<Option<Approval>, StoreError> {
        SqlStore::settle_approval(self, id, status, by, reason, now_ms).await
    }

    async fn ui_probes(&self, site: Option<&str>) -> Result<Vec<UiProbe>, StoreError> {
        self.list_ui_probes(site).await
    }

    async fn insert_ui_probe(&self, probe: &UiProbe) -> Result<(), StoreError> {
        self.add_ui_probe(probe).await
    }

    async fn update_ui_probe(&self, probe: &UiProbe) -> Result<bool, StoreError> {
        self.change_ui_probe(probe).await
    }

    async fn delete_ui_probe(&self, site: &str, name: &str) -> Result<bool, StoreError> {
        self.remove_ui_probe(site, name).await
    }
}
