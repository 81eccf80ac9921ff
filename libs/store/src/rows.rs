//! Rows as both backends return them, and their conversion into domain types.
//!
//! Both schemas use the same column names and compatible types, so one set of
//! `FromRow` structs serves both. No SQL here: queries live in the `sql` module (and
//! in `sqlite` and `postgres` where the databases differ). A row that does not
//! convert is `StoreError::Corrupt`, never a panic.

use std::collections::HashMap;

use claudeops_core::event::{Event, EventLevel};
use claudeops_core::health::{
    HistoryPoint, Incident, IncidentStatus, InventoryRecord, ProbeRecord, ProbeState, Resolution,
};
use claudeops_core::ledger::{ActionKind, ActionRecord, ActionStatus, LedgerEntry};
use claudeops_core::memory::Memory;
use claudeops_core::notification::DeliveryRecord;
use claudeops_core::worker::WorkerRecord;
use claudeops_core::{
    Session, SessionOutcome, SessionStatus, SessionTrace, SiteName, Tier, Trigger,
};

use crate::StoreError;
use crate::model::{MemoryListing, OutputLine};

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
    traceparent: Option<String>,
    chain_span_id: Option<String>,
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
            trace: match (row.traceparent, row.chain_span_id) {
                (Some(traceparent), Some(chain_span_id)) => Some(SessionTrace {
                    traceparent,
                    chain_span_id,
                }),
                _ => None,
            },
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

/// A memory with the tier of its session (`NULL` without one), as searched.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MemoryListingRow {
    #[sqlx(flatten)]
    memory: MemoryRow,
    tier: Option<i32>,
}

impl TryFrom<MemoryListingRow> for MemoryListing {
    type Error = StoreError;

    fn try_from(row: MemoryListingRow) -> Result<Self, StoreError> {
        Ok(MemoryListing {
            memory: Memory::try_from(row.memory)?,
            tier: row
                .tier
                .map(|t| Tier::try_from(i64::from(t)).map_err(|e| corrupt("session tier", e)))
                .transpose()?,
        })
    }
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

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ProbeRow {
    site: String,
    probe: String,
    service: String,
    kind: String,
    state: String,
    ok: bool,
    latency_ms: i64,
    message: String,
    last_at_ms: i64,
    since_ms: i64,
}

impl TryFrom<ProbeRow> for ProbeRecord {
    type Error = StoreError;

    fn try_from(row: ProbeRow) -> Result<Self, StoreError> {
        Ok(ProbeRecord {
            site: site(row.site)?,
            probe: row.probe,
            service: row.service,
            kind: row.kind,
            state: row
                .state
                .parse::<ProbeState>()
                .map_err(|e| corrupt("probe state", e))?,
            ok: row.ok,
            latency_ms: row.latency_ms,
            message: row.message,
            last_at_ms: row.last_at_ms,
            since_ms: row.since_ms,
            history: Vec::new(),
        })
    }
}

/// One attempt of a probe's history, as `list_probes` reads it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MaintenanceRow {
    id: i64,
    site: String,
    service: Option<String>,
    starts_at_ms: i64,
    ends_at_ms: i64,
    reason: String,
    created_by: String,
    created_at_ms: i64,
}

impl TryFrom<MaintenanceRow> for claudeops_core::health::MaintenanceWindow {
    type Error = StoreError;
    fn try_from(row: MaintenanceRow) -> Result<Self, StoreError> {
        Ok(claudeops_core::health::MaintenanceWindow {
            id: row.id,
            site: SiteName::new(row.site)
                .map_err(|e| StoreError::Corrupt(format!("maintenance window {}: {e}", row.id)))?,
            service: row.service,
            starts_at_ms: row.starts_at_ms,
            ends_at_ms: row.ends_at_ms,
            reason: row.reason,
            created_by: row.created_by,
            created_at_ms: row.created_at_ms,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AckRow {
    incident_id: i64,
    by_whom: String,
    at_ms: i64,
}

impl From<AckRow> for claudeops_core::health::IncidentAck {
    fn from(row: AckRow) -> Self {
        claudeops_core::health::IncidentAck {
            incident_id: row.incident_id,
            by: row.by_whom,
            at_ms: row.at_ms,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RollupRow {
    start_ms: i64,
    attempts: i64,
    successes: i64,
    latency_sum_ms: i64,
    latency_min_ms: i64,
    latency_max_ms: i64,
}

impl From<RollupRow> for claudeops_core::health::ProbeRollup {
    fn from(row: RollupRow) -> Self {
        claudeops_core::health::ProbeRollup {
            start_ms: row.start_ms,
            attempts: row.attempts,
            successes: row.successes,
            latency_sum_ms: row.latency_sum_ms,
            latency_min_ms: row.latency_min_ms,
            latency_max_ms: row.latency_max_ms,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct HistoryRow {
    site: String,
    probe: String,
    at_ms: i64,
    latency_ms: i64,
    ok: bool,
}

/// Probes sorted by site, service, probe (whatever order the database returned them
/// in), each with its history: the history rows of its (site, probe), in the order
/// given (oldest first).
pub(crate) fn probes(
    rows: Vec<ProbeRow>,
    history: Vec<HistoryRow>,
) -> Result<Vec<ProbeRecord>, StoreError> {
    let mut points: HashMap<(String, String), Vec<HistoryPoint>> = HashMap::new();
    for row in history {
        points
            .entry((row.site, row.probe))
            .or_default()
            .push(HistoryPoint {
                at_ms: row.at_ms,
                latency_ms: row.latency_ms,
                ok: row.ok,
            });
    }
    let mut probes = Vec::with_capacity(rows.len());
    for row in rows {
        let key = (row.site.clone(), row.probe.clone());
        let mut record = ProbeRecord::try_from(row)?;
        record.history = points.remove(&key).unwrap_or_default();
        probes.push(record);
    }
    probes.sort_by(|a, b| (&a.site, &a.service, &a.probe).cmp(&(&b.site, &b.service, &b.probe)));
    Ok(probes)
}

fn names(what: &str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct IncidentRow {
    id: i64,
    site: String,
    service: String,
    status: String,
    probes: String,
    evidence: String,
    opened_at_ms: i64,
    resolved_at_ms: Option<i64>,
    resolution: Option<String>,
    session_id: Option<i64>,
}

impl TryFrom<IncidentRow> for Incident {
    type Error = StoreError;

    fn try_from(row: IncidentRow) -> Result<Self, StoreError> {
        Ok(Incident {
            id: row.id,
            site: site(row.site)?,
            service: row.service,
            status: row
                .status
                .parse::<IncidentStatus>()
                .map_err(|e| corrupt("incident status", e))?,
            probes: names("incident probes", &row.probes)?,
            evidence: row.evidence,
            opened_at_ms: row.opened_at_ms,
            resolved_at_ms: row.resolved_at_ms,
            resolution: row
                .resolution
                .map(|r| r.parse::<Resolution>())
                .transpose()
                .map_err(|e| corrupt("incident resolution", e))?,
            session_id: row.session_id,
        })
    }
}

pub(crate) fn incidents(rows: Vec<IncidentRow>) -> Result<Vec<Incident>, StoreError> {
    rows.into_iter().map(Incident::try_from).collect()
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AlertRow {
    incident_id: i64,
    fingerprint: String,
    source: String,
    status: String,
    severity: String,
    summary: String,
    evidence: String,
    labels: String,
    tier: Option<i64>,
    first_seen_ms: i64,
    last_seen_ms: i64,
    resolved_at_ms: Option<i64>,
    received: i64,
}

impl TryFrom<AlertRow> for claudeops_core::alert::AlertRecord {
    type Error = StoreError;

    fn try_from(row: AlertRow) -> Result<Self, StoreError> {
        Ok(claudeops_core::alert::AlertRecord {
            incident_id: row.incident_id,
            fingerprint: row.fingerprint,
            source: row.source,
            firing: match row.status.as_str() {
                "firing" => true,
                "resolved" => false,
                other => return Err(corrupt("alert status", other)),
            },
            severity: row.severity,
            summary: row.summary,
            evidence: row.evidence,
            labels: serde_json::from_str(&row.labels).map_err(|e| corrupt("alert labels", e))?,
            tier: row
                .tier
                .map(Tier::try_from)
                .transpose()
                .map_err(|e| corrupt("alert tier", e))?,
            first_seen_ms: row.first_seen_ms,
            last_seen_ms: row.last_seen_ms,
            resolved_at_ms: row.resolved_at_ms,
            received: row.received,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct InventoryRow {
    site: String,
    worker_id: String,
    inventory: String,
    reported_at_ms: i64,
}

impl TryFrom<InventoryRow> for InventoryRecord {
    type Error = StoreError;

    fn try_from(row: InventoryRow) -> Result<Self, StoreError> {
        Ok(InventoryRecord {
            site: site(row.site)?,
            worker_id: row.worker_id,
            inventory: serde_json::from_str(&row.inventory).map_err(|e| corrupt("inventory", e))?,
            reported_at_ms: row.reported_at_ms,
        })
    }
}

/// Inventories sorted by site, then worker id, whatever order the database returned
/// them in.
pub(crate) fn inventories(rows: Vec<InventoryRow>) -> Result<Vec<InventoryRecord>, StoreError> {
    let mut inventories = rows
        .into_iter()
        .map(InventoryRecord::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    inventories.sort_by(|a, b| (&a.site, &a.worker_id).cmp(&(&b.site, &b.worker_id)));
    Ok(inventories)
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    notification_id: String,
    kind: String,
    title: String,
    sites: String,
    url_index: i64,
    attempt: i64,
    ok: bool,
    error: Option<String>,
    at_ms: i64,
}

impl TryFrom<DeliveryRow> for DeliveryRecord {
    type Error = StoreError;

    fn try_from(row: DeliveryRow) -> Result<Self, StoreError> {
        Ok(DeliveryRecord {
            notification_id: row.notification_id,
            kind: row.kind,
            title: row.title,
            sites: names("delivery sites", &row.sites)?,
            url_index: u32::try_from(row.url_index)
                .map_err(|e| corrupt("delivery url index", e))?,
            attempt: u32::try_from(row.attempt).map_err(|e| corrupt("delivery attempt", e))?,
            ok: row.ok,
            error: row.error,
            at_ms: row.at_ms,
        })
    }
}

pub(crate) fn deliveries(rows: Vec<DeliveryRow>) -> Result<Vec<DeliveryRecord>, StoreError> {
    rows.into_iter().map(DeliveryRecord::try_from).collect()
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    name: String,
    role: String,
    password_hash: String,
    created_at_ms: i64,
    updated_at_ms: i64,
}

impl From<UserRow> for crate::UserRecord {
    fn from(row: UserRow) -> Self {
        crate::UserRecord {
            name: row.name,
            role: row.role,
            password_hash: row.password_hash,
            created_at_ms: row.created_at_ms,
            updated_at_ms: row.updated_at_ms,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RuntimeRow {
    scope: String,
    overrides: String,
    updated_at_ms: i64,
}

impl From<RuntimeRow> for crate::RuntimeSettings {
    fn from(row: RuntimeRow) -> Self {
        crate::RuntimeSettings {
            scope: row.scope,
            overrides: row.overrides,
            updated_at_ms: row.updated_at_ms,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ConfigChangeRow {
    id: i64,
    at_ms: i64,
    actor: String,
    scope: String,
    field: String,
    before: Option<String>,
    after: Option<String>,
}

impl From<ConfigChangeRow> for crate::ConfigChange {
    fn from(row: ConfigChangeRow) -> Self {
        crate::ConfigChange {
            id: row.id,
            at_ms: row.at_ms,
            actor: row.actor,
            scope: row.scope,
            field: row.field,
            before: row.before,
            after: row.after,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UiProbeRow {
    site: String,
    name: String,
    kind: String,
    spec: String,
    interval_secs: i64,
    paused: bool,
    created_by: String,
    created_at_ms: i64,
    updated_by: String,
    updated_at_ms: i64,
}

impl From<UiProbeRow> for crate::UiProbe {
    fn from(row: UiProbeRow) -> Self {
        crate::UiProbe {
            site: row.site,
            name: row.name,
            kind: row.kind,
            spec: row.spec,
            interval_secs: row.interval_secs,
            paused: row.paused,
            created_by: row.created_by,
            created_at_ms: row.created_at_ms,
            updated_by: row.updated_by,
            updated_at_ms: row.updated_at_ms,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ApprovalRow {
    id: i64,
    action_id: i64,
    session_id: i64,
    site: String,
    service: String,
    kind: String,
    args: String,
    status: String,
    requested_at_ms: i64,
    expires_at_ms: i64,
    decided_at_ms: Option<i64>,
    decided_by: Option<String>,
    reason: Option<String>,
}

impl TryFrom<ApprovalRow> for claudeops_core::approval::Approval {
    type Error = StoreError;
    fn try_from(row: ApprovalRow) -> Result<Self, StoreError> {
        let corrupt = |what: String| StoreError::Corrupt(format!("approval {}: {what}", row.id));
        Ok(claudeops_core::approval::Approval {
            id: row.id,
            action_id: row.action_id,
            session_id: row.session_id,
            site: SiteName::new(row.site.clone()).map_err(|e| corrupt(e.to_string()))?,
            service: row.service.clone(),
            kind: row.kind.parse().map_err(|e| corrupt(format!("{e}")))?,
            args: serde_json::from_str(&row.args).unwrap_or(serde_json::Value::Null),
            status: row.status.parse().map_err(|e| corrupt(format!("{e}")))?,
            requested_at_ms: row.requested_at_ms,
            expires_at_ms: row.expires_at_ms,
            decided_at_ms: row.decided_at_ms,
            decided_by: row.decided_by,
            reason: row.reason,
        })
    }
}
