//! Rows as both backends return them, and their conversion into domain types.
//!
//! Both schemas use the same column names and compatible types, so one set of
//! `FromRow` structs serves both. No SQL here: queries live in `sqlite.rs` and
//! `postgres.rs`. A row that does not convert is `StoreError::Corrupt`, never a panic.

use claudeops_core::event::{Event, EventLevel};
use claudeops_core::ledger::{ActionKind, ActionRecord, ActionStatus, LedgerEntry};
use claudeops_core::memory::Memory;
use claudeops_core::worker::WorkerRecord;
use claudeops_core::{Session, SessionOutcome, SessionStatus, SiteName, Tier, Trigger};

use crate::StoreError;
use crate::model::OutputLine;

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {error}"))
}

pub(crate) fn site(name: String) -> Result<SiteName, StoreError> {
    SiteName::new(name).map_err(|e| corrupt("site", e))
}

/// JSON text for a column, or `None`.
pub(crate) fn json_text(value: Option<&serde_json::Value>) -> Option<String> {
    value.map(serde_json::Value::to_string)
}

pub(crate) fn capabilities_text(capabilities: &[String]) -> String {
    serde_json::Value::from(capabilities.to_vec()).to_string()
}

/// Refuses an outcome that would leave the session running.
pub(crate) fn check_outcome(outcome: &SessionOutcome) -> Result<(), StoreError> {
    if outcome.status == SessionStatus::Running {
        return Err(StoreError::Conflict(
            "a session can only finish with a finished status".to_owned(),
        ));
    }
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SessionRow {
    id: i64,
    site: String,
    worker_id: Option<String>,
    tier: i32,
    model: String,
    triggered_by: String,
    status: String,
    prompt: Option<String>,
    parent_id: Option<i64>,
    started_at_ms: i64,
    ended_at_ms: Option<i64>,
    cost_usd: f64,
    turns: i64,
    exit_code: Option<i32>,
    response: Option<String>,
    structured: Option<String>,
    error: Option<String>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;

    fn try_from(row: SessionRow) -> Result<Self, StoreError> {
        let structured = row
            .structured
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| corrupt("session structured response", e))?;
        Ok(Session {
            id: row.id,
            site: site(row.site)?,
            worker_id: row.worker_id,
            tier: Tier::try_from(i64::from(row.tier)).map_err(|e| corrupt("session tier", e))?,
            model: row.model,
            trigger: row
                .triggered_by
                .parse::<Trigger>()
                .map_err(|e| corrupt("session trigger", e))?,
            status: row
                .status
                .parse::<SessionStatus>()
                .map_err(|e| corrupt("session status", e))?,
            prompt: row.prompt,
            parent_id: row.parent_id,
            started_at_ms: row.started_at_ms,
            ended_at_ms: row.ended_at_ms,
            cost_usd: row.cost_usd,
            turns: row.turns,
            exit_code: row.exit_code,
            response: row.response,
            structured,
            error: row.error,
        })
    }
}

pub(crate) fn sessions(rows: Vec<SessionRow>) -> Result<Vec<Session>, StoreError> {
    rows.into_iter().map(Session::try_from).collect()
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct OutputRow {
    seq: i64,
    ts_ms: i64,
    line: String,
    malformed: bool,
}

impl From<OutputRow> for OutputLine {
    fn from(row: OutputRow) -> Self {
        OutputLine {
            seq: row.seq,
            ts_ms: row.ts_ms,
            line: row.line,
            malformed: row.malformed,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct WorkerRow {
    id: String,
    site: String,
    hostname: String,
    version: String,
    capabilities: String,
    cert_serial: String,
    cert_fingerprint: String,
    cert_not_after_ms: i64,
    enrolled_at_ms: i64,
    last_seen_ms: Option<i64>,
    revoked_at_ms: Option<i64>,
}

impl TryFrom<WorkerRow> for WorkerRecord {
    type Error = StoreError;

    fn try_from(row: WorkerRow) -> Result<Self, StoreError> {
        Ok(WorkerRecord {
            capabilities: serde_json::from_str(&row.capabilities)
                .map_err(|e| corrupt("worker capabilities", e))?,
            id: row.id,
            site: site(row.site)?,
            hostname: row.hostname,
            version: row.version,
            cert_serial: row.cert_serial,
            cert_fingerprint: row.cert_fingerprint,
            cert_not_after_ms: row.cert_not_after_ms,
            enrolled_at_ms: row.enrolled_at_ms,
            last_seen_ms: row.last_seen_ms,
            revoked_at_ms: row.revoked_at_ms,
        })
    }
}

/// Workers sorted by site, then id, whatever order the database returned them in.
pub(crate) fn workers(rows: Vec<WorkerRow>) -> Result<Vec<WorkerRecord>, StoreError> {
    let mut workers = rows
        .into_iter()
        .map(WorkerRecord::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    workers.sort_by(|a, b| (&a.site, &a.id).cmp(&(&b.site, &b.id)));
    Ok(workers)
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EventRow {
    id: i64,
    ts_ms: i64,
    site: String,
    session_id: Option<i64>,
    level: String,
    service: Option<String>,
    message: String,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(Event {
            id: row.id,
            ts_ms: row.ts_ms,
            site: site(row.site)?,
            session_id: row.session_id,
            level: row
                .level
                .parse::<EventLevel>()
                .map_err(|e| corrupt("event level", e))?,
            service: row.service,
            message: row.message,
        })
    }
}

pub(crate) fn events(rows: Vec<EventRow>) -> Result<Vec<Event>, StoreError> {
    rows.into_iter().map(Event::try_from).collect()
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MemoryRow {
    id: i64,
    site: String,
    key: String,
    value: String,
    confidence: f64,
    active: bool,
    session_id: Option<i64>,
    created_at_ms: i64,
    updated_at_ms: i64,
}

impl TryFrom<MemoryRow> for Memory {
    type Error = StoreError;

    fn try_from(row: MemoryRow) -> Result<Self, StoreError> {
        if !(0.0..=1.0).contains(&row.confidence) {
            return Err(corrupt("memory confidence", row.confidence));
        }
        Ok(Memory {
            id: row.id,
            site: site(row.site)?,
            key: row.key,
            value: row.value,
            confidence: row.confidence,
            active: row.active,
            session_id: row.session_id,
            created_at_ms: row.created_at_ms,
            updated_at_ms: row.updated_at_ms,
        })
    }
}

pub(crate) fn memories(rows: Vec<MemoryRow>) -> Result<Vec<Memory>, StoreError> {
    rows.into_iter().map(Memory::try_from).collect()
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ActionRow {
    id: i64,
    site: String,
    service: String,
    kind: String,
    session_id: Option<i64>,
    status: String,
    args: String,
    result: Option<String>,
    reserved_at_ms: i64,
    finished_at_ms: Option<i64>,
    duration_ms: Option<i64>,
}

fn action_kind(kind: &str) -> Result<ActionKind, StoreError> {
    kind.parse::<ActionKind>()
        .map_err(|e| corrupt("action kind", e))
}

fn action_status(status: &str) -> Result<ActionStatus, StoreError> {
    status
        .parse::<ActionStatus>()
        .map_err(|e| corrupt("action status", e))
}

impl TryFrom<ActionRow> for ActionRecord {
    type Error = StoreError;

    fn try_from(row: ActionRow) -> Result<Self, StoreError> {
        Ok(ActionRecord {
            id: row.id,
            site: site(row.site)?,
            service: row.service,
            kind: action_kind(&row.kind)?,
            session_id: row.session_id,
            status: action_status(&row.status)?,
            args: serde_json::from_str(&row.args).map_err(|e| corrupt("action args", e))?,
            result: row.result,
            reserved_at_ms: row.reserved_at_ms,
            finished_at_ms: row.finished_at_ms,
            duration_ms: row.duration_ms,
        })
    }
}

pub(crate) fn actions(rows: Vec<ActionRow>) -> Result<Vec<ActionRecord>, StoreError> {
    rows.into_iter().map(ActionRecord::try_from).collect()
}

/// The columns of a ledger entry that `cooldowns` needs.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct LedgerRow {
    site: String,
    service: String,
    kind: String,
    status: String,
    reserved_at_ms: i64,
}

impl TryFrom<LedgerRow> for LedgerEntry {
    type Error = StoreError;

    fn try_from(row: LedgerRow) -> Result<Self, StoreError> {
        Ok(LedgerEntry {
            site: site(row.site)?,
            service: row.service,
            kind: action_kind(&row.kind)?,
            status: action_status(&row.status)?,
            reserved_at_ms: row.reserved_at_ms,
        })
    }
}

pub(crate) fn ledger_entries(rows: Vec<LedgerRow>) -> Result<Vec<LedgerEntry>, StoreError> {
    rows.into_iter().map(LedgerEntry::try_from).collect()
}
