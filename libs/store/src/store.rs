//! The `Store` trait: every read and write of the control plane's durable state.
//!
//! Callers hold an `Arc<dyn Store>` and never learn which database is behind it.
//! The trait must not grow methods that take SQL or expose backend types; rules
//! that must hold under concurrency (one running session per site, one use per
//! token, at most the limit of remediations per window) are enforced by the
//! database inside the backends, not by callers.

use crate::Stats;
use async_trait::async_trait;
use claudeops_core::alert::{Alert, AlertRecord};
use claudeops_core::approval::{Approval, ApprovalStatus, NewApproval};
use claudeops_core::event::{Event, NewEvent};
use claudeops_core::health::{
    Incident, IncidentAck, IncidentId, InventoryRecord, MaintenanceWindow, NewIncident,
    NewMaintenance, ProbeAttempt, ProbeRecord, ProbeRollup, Resolution, RollupPeriod,
};
use claudeops_core::ledger::{
    ActionId, ActionRecord, ActionStatus, CooldownLimits, CooldownRow, NewAction, Slot,
};
use claudeops_core::memory::{DecayRule, Memory, MemoryId, NewMemory};
use claudeops_core::notification::DeliveryRecord;
use claudeops_core::worker::WorkerRecord;
use claudeops_core::{NewSession, Session, SessionId, SessionOutcome, SiteName, Tier, Trigger};

use crate::StoreError;
use crate::model::{
    ActionFilter, Backend, ConfigChange, DeliveryFilter, EnrollTokenRecord, EventFilter,
    IncidentFilter, MemoryFilter, MemoryListing, MemorySearch, OutputLine, RuntimeSettings,
    SessionFilter, UiProbe, UserRecord, WorkerSelector,
};

/// Durable state of the control plane. Times are unix milliseconds throughout.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which database this store talks to.
    fn backend(&self) -> Backend;

    /// A trivial query: `Ok` when the database answers.
    async fn health(&self) -> Result<(), StoreError>;

    /// Whether the store can serve: it answers, takes a write (`now_ms` is
    /// written), its schema is the newest this binary knows, and, for SQLite,
    /// its file is still the one opened. `NotReady` with the reason otherwise;
    /// `Lost` once the file was deleted or replaced, after which the store
    /// refuses every call (its pool is closed) instead of writing into a new,
    /// empty file.
    async fn readiness(&self, now_ms: i64) -> Result<(), StoreError>;

    /// Closes the connection pool; later calls fail. For shutdown and tests.
    async fn close(&self);

    // --- sessions ---

    /// Records a new running session. `SiteBusy` if the site already has one; the
    /// database decides, so of any number of concurrent calls for a site one wins.
    /// `Conflict` if `parent_id` names no session.
    async fn create_session(&self, new: &NewSession) -> Result<Session, StoreError>;

    /// Ends a running session with its outcome and returns the updated row; `None`
    /// if it had already finished (the stored outcome is left alone). `NotFound` for
    /// an unknown id, `Conflict` if the outcome's status is `Running`.
    async fn finish_session(
        &self,
        id: SessionId,
        outcome: &SessionOutcome,
    ) -> Result<Option<Session>, StoreError>;

    async fn get_session(&self, id: SessionId) -> Result<Option<Session>, StoreError>;

    /// One page of sessions, newest first.
    async fn list_sessions(&self, filter: &SessionFilter) -> Result<Vec<Session>, StoreError>;

    /// Every running session, oldest first.
    async fn running_sessions(&self) -> Result<Vec<Session>, StoreError>;

    /// The sessions that escalated from `parent`, oldest first.
    async fn child_sessions(&self, parent: SessionId) -> Result<Vec<Session>, StoreError>;

    /// When the site's latest session with this trigger started, counting only
    /// sessions still running or confirmed by their worker: a job that never
    /// reached a worker did not run.
    async fn last_session_started(
        &self,
        site: &SiteName,
        trigger: Trigger,
    ) -> Result<Option<i64>, StoreError>;

    /// Records which worker runs the session. `NotFound` for an unknown id.
    async fn set_session_worker(&self, id: SessionId, worker_id: &str) -> Result<(), StoreError>;

    /// Records that the session's worker confirmed it holds the job; the first
    /// confirmation's time is kept. `NotFound` for an unknown id.
    async fn confirm_session(&self, id: SessionId, at_ms: i64) -> Result<(), StoreError>;

    /// Records a stop asked for a running session, so that it is sent again on
    /// every reconnect of its worker, even after a restart. `false` when the
    /// session is not running (nothing recorded).
    async fn request_stop(&self, id: SessionId, reason: &str) -> Result<bool, StoreError>;

    /// The stop asked for a running session, if any.
    async fn stop_requested(&self, id: SessionId) -> Result<Option<String>, StoreError>;

    // --- session output ---

    /// Stores output lines; a line whose `(session, seq)` is already stored is
    /// ignored, so replays are harmless. Returns how many lines were new.
    /// `NotFound` if the session does not exist.
    async fn append_output(
        &self,
        session_id: SessionId,
        lines: &[OutputLine],
    ) -> Result<usize, StoreError>;

    /// Up to `limit` lines with `seq > after_seq`, in `seq` order.
    async fn output(
        &self,
        session_id: SessionId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<OutputLine>, StoreError>;

    /// Deletes the stored output of sessions that ended before `before_ms`
    /// (output retention); the sessions themselves and their summaries stay.
    /// Returns how many lines went.
    async fn prune_output(&self, before_ms: i64) -> Result<u64, StoreError>;

    /// The highest stored `seq` of the session, `None` if it has no output.
    async fn max_output_seq(&self, session_id: SessionId) -> Result<Option<i64>, StoreError>;

    /// The highest `n` such that every line `1..=n` of the session is stored
    /// (0 when line 1 is missing): what a worker may forget.
    async fn contiguous_output(&self, session_id: SessionId) -> Result<i64, StoreError>;

    // --- workers ---

    /// `Conflict` if the id or the certificate serial is already stored.
    async fn insert_worker(&self, worker: &WorkerRecord) -> Result<(), StoreError>;

    async fn get_worker(&self, id: &str) -> Result<Option<WorkerRecord>, StoreError>;

    /// Workers (revoked ones included), sorted by site, then id.
    async fn list_workers(&self, site: Option<&SiteName>) -> Result<Vec<WorkerRecord>, StoreError>;

    /// Records what a worker reported when it connected. `NotFound` for an unknown id.
    async fn touch_worker(
        &self,
        id: &str,
        hostname: &str,
        version: &str,
        capabilities: &[String],
        seen_ms: i64,
    ) -> Result<(), StoreError>;

    /// Revokes the selected workers that are not revoked yet and returns those, sorted
    /// by id. `NotFound` if `WorkerSelector::Id` names no worker.
    async fn revoke_workers(
        &self,
        selector: &WorkerSelector,
        now_ms: i64,
    ) -> Result<Vec<WorkerRecord>, StoreError>;

    /// Certificate serials of every revoked worker, sorted.
    async fn revoked_serials(&self) -> Result<Vec<String>, StoreError>;

    // --- enrollment tokens ---

    /// `Conflict` if the id is already stored.
    async fn insert_enroll_token(&self, token: &EnrollTokenRecord) -> Result<(), StoreError>;

    /// Uses a token once and returns its site. `TokenUnknown` for an unknown id or a
    /// wrong secret hash, `TokenUsed`, `TokenExpired` (at `now_ms >= expires_at_ms`).
    /// Of concurrent uses of one token exactly one succeeds.
    async fn consume_enroll_token(
        &self,
        id: &str,
        secret_hash: &str,
        now_ms: i64,
    ) -> Result<SiteName, StoreError>;

    // --- events ---

    /// `Conflict` if `session_id` names no session.
    async fn insert_event(&self, event: &NewEvent) -> Result<Event, StoreError>;

    /// One page of events, newest first.
    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError>;

    // --- memories ---
    //
    // Keys are normalised (trimmed, lower-cased) and values trimmed and cut to
    // `claudeops_core::memory::MAX_VALUE_CHARS` before they are stored or looked up;
    // an invalid key, an empty value or a NaN confidence is `Conflict`, and a
    // confidence outside `[0, 1]` is clamped. A `session_id` naming no session is
    // `Conflict`; deleting a session clears it from its memories.

    /// The memory of `site` with this key, if any (`None` for an invalid key).
    async fn get_memory_by_key(
        &self,
        site: &SiteName,
        key: &str,
    ) -> Result<Option<Memory>, StoreError>;

    async fn get_memory(&self, id: MemoryId) -> Result<Option<Memory>, StoreError>;

    /// Stores a memory as given (an operator's). `Conflict` if the site already has
    /// a memory with this key.
    async fn insert_memory(&self, new: &NewMemory) -> Result<Memory, StoreError>;

    /// Overwrites a memory's value, confidence, active flag and source session (an
    /// operator's edit) and sets `updated_at_ms = now_ms`; `None` for an unknown id.
    async fn update_memory(
        &self,
        id: MemoryId,
        value: &str,
        confidence: f64,
        active: bool,
        session_id: Option<SessionId>,
        now_ms: i64,
    ) -> Result<Option<Memory>, StoreError>;

    /// `true` if the memory existed.
    async fn delete_memory(&self, id: MemoryId) -> Result<bool, StoreError>;

    /// One page of memories, highest confidence first, then most recently updated,
    /// then newest.
    async fn list_memories(&self, filter: &MemoryFilter) -> Result<Vec<Memory>, StoreError>;

    /// Records one reported memory: reads the site's memory with this key and writes
    /// what `claudeops_core::memory::merge` decides (new, confirmed, contradicted or
    /// replaced) in one transaction, so concurrent reports of one key each count
    /// once. Returns the stored memory.
    async fn remember(
        &self,
        site: &SiteName,
        key: &str,
        value: &str,
        session_id: Option<SessionId>,
        now_ms: i64,
    ) -> Result<Memory, StoreError>;

    /// Totals over all sessions; `critical_since_ms` bounds the critical-event count.
    async fn stats(&self, critical_since_ms: i64) -> Result<Stats, StoreError>;

    /// What every session started at or after `since_ms` cost, in dollars
    /// (the fleet's daily cost cap counts it).
    async fn cost_since(&self, since_ms: i64) -> Result<f64, StoreError>;

    /// How many memories (of every site) have the active flag set.
    async fn count_active_memories(&self) -> Result<i64, StoreError>;

    /// One page of memories matching `search`, in `list_memories`' order, each
    /// with the tier of the session that wrote it.
    async fn search_memories(
        &self,
        search: &MemorySearch,
    ) -> Result<Vec<MemoryListing>, StoreError>;

    /// Applies `claudeops_core::memory::decay` to every active memory with a step
    /// due at `now_ms`; a memory confirmed or edited meanwhile is left alone.
    /// Returns how many memories lost confidence.
    async fn decay_memories(&self, rule: &DecayRule, now_ms: i64) -> Result<u64, StoreError>;

    // --- the cooldown ledger ---
    //
    // Remediations (restarts, redeploys) are reserved before they are carried out
    // and finished afterwards; `claudeops_core::ledger` holds the rules. Service
    // names are normalised (trimmed, lower-cased) before they are stored or looked
    // up; an invalid one is `Conflict`, as is a `session_id` naming no session.
    // Deleting a session clears it from its ledger entries.

    /// Asks for one action: counts the Reserved, Succeeded and Failed entries of the
    /// same (site, service, kind) within the kind's window and, in the same
    /// transaction, records a Reserved entry (`Slot::Granted` with its id) or,
    /// over the limit, a Denied one whose result is the reason
    /// (`Slot::Denied`). The transaction is serialised per (site, service,
    /// kind), so of any number of concurrent calls no more than the limit are
    /// granted.
    async fn reserve_action(
        &self,
        new: &NewAction,
        limits: &CooldownLimits,
    ) -> Result<Slot, StoreError>;

    /// Finishes a Reserved entry as Succeeded, Failed or Released (`Conflict` for
    /// another status) with the action's result, `finished_at_ms = now_ms` and
    /// `duration_ms = now_ms - reserved_at_ms`, and returns it; `None` if the entry
    /// was not Reserved any more (it is left alone). `NotFound` for an unknown id.
    async fn finish_action(
        &self,
        id: ActionId,
        status: ActionStatus,
        result: &str,
        now_ms: i64,
    ) -> Result<Option<ActionRecord>, StoreError>;

    /// One page of ledger entries, newest first.
    async fn list_actions(&self, filter: &ActionFilter) -> Result<Vec<ActionRecord>, StoreError>;

    /// The cooldown of every (site, service, kind) with an entry (of any status)
    /// reserved within the longest window of `limits` before `now_ms`, sorted by
    /// site, service, kind.
    async fn cooldowns(
        &self,
        limits: &CooldownLimits,
        now_ms: i64,
    ) -> Result<Vec<CooldownRow>, StoreError>;

    /// Marks the Reserved entries reserved before `older_than_ms` (left behind by a
    /// crashed worker) Failed with the result `"abandoned"`; they keep counting,
    /// since the action may have happened. Returns how many there were.
    async fn release_stale_reservations(&self, older_than_ms: i64) -> Result<u64, StoreError>;

    // --- probes and incidents ---
    //
    // Workers run the probes and report every attempt; the store keeps each probe's
    // latest state and its recent attempts. Service names are kept as reported.

    /// Records a worker's attempts in one transaction: each is appended to the
    /// probe's history, and the probe's latest row is replaced by it when it is not
    /// older than what is stored (`since_ms` moves when the state changes).
    async fn record_probe_attempts(
        &self,
        site: &SiteName,
        attempts: &[ProbeAttempt],
    ) -> Result<(), StoreError>;

    /// Every probe's latest state (of one site or all), sorted by site, service,
    /// probe, each with up to `history` of its latest attempts, oldest first.
    async fn list_probes(
        &self,
        site: Option<&SiteName>,
        history: u32,
    ) -> Result<Vec<ProbeRecord>, StoreError>;

    /// Forgets the probes of a site that are not in `keep` (after rediscovery
    /// dropped them). Returns how many were removed.
    async fn retire_probes(&self, site: &SiteName, keep: &[String]) -> Result<u64, StoreError>;

    /// Deletes attempts older than `before_ms`; returns how many.
    async fn prune_probe_attempts(&self, before_ms: i64) -> Result<u64, StoreError>;

    /// A probe's hourly or daily rollups starting at or after `since_ms`,
    /// oldest first: its history beyond the raw attempts' retention.
    async fn probe_rollups(
        &self,
        site: &SiteName,
        probe: &str,
        period: RollupPeriod,
        since_ms: i64,
    ) -> Result<Vec<ProbeRollup>, StoreError>;

    /// Deletes the rollups of `period` that start before `before_ms`.
    async fn prune_probe_rollups(
        &self,
        period: RollupPeriod,
        before_ms: i64,
    ) -> Result<u64, StoreError>;

    /// Opens an incident for (site, service), or returns the one already open (its
    /// probe list gains the new probes, its evidence is kept). `true` when it was
    /// opened by this call; the database decides, so of concurrent calls one opens.
    async fn open_incident(&self, new: &NewIncident) -> Result<(Incident, bool), StoreError>;

    async fn get_incident(&self, id: IncidentId) -> Result<Option<Incident>, StoreError>;

    /// One page of incidents, newest first.
    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError>;

    /// Records the session started for an open incident. `NotFound` for an unknown
    /// incident, `Conflict` for an unknown session.
    async fn set_incident_session(
        &self,
        id: IncidentId,
        session_id: SessionId,
    ) -> Result<(), StoreError>;

    /// Resolves an open incident and returns it; `None` if it was resolved already
    /// (left alone). `NotFound` for an unknown id.
    async fn resolve_incident(
        &self,
        id: IncidentId,
        resolution: Resolution,
        now_ms: i64,
    ) -> Result<Option<Incident>, StoreError>;

    // --- alerts (the webhook) ---

    /// The open incident of the site that carries the alert with this fingerprint.
    async fn alert_incident(
        &self,
        site: &SiteName,
        fingerprint: &str,
    ) -> Result<Option<IncidentId>, StoreError>;

    /// Records a firing alert on an open incident: a new row the first time
    /// (`received == 1`), else the row's count and last sight move on. Of
    /// concurrent copies of one alert, exactly one sees `received == 1`.
    /// `NotFound` for an unknown incident.
    async fn record_alert(
        &self,
        incident: IncidentId,
        alert: &Alert,
        tier: Option<Tier>,
        at_ms: i64,
    ) -> Result<AlertRecord, StoreError>;

    /// Marks an incident's alert resolved; `None` when the incident has no such alert.
    async fn resolve_alert(
        &self,
        incident: IncidentId,
        fingerprint: &str,
        at_ms: i64,
    ) -> Result<Option<AlertRecord>, StoreError>;

    /// The alerts of an incident, oldest first.
    async fn incident_alerts(&self, incident: IncidentId) -> Result<Vec<AlertRecord>, StoreError>;

    // --- the original's history ---

    /// Writes into `site` the rows of the original Claude Ops's database (read by
    /// `legacy::read`) that no earlier import into `site` wrote, in transactions
    /// that record each row's origin with it: a second import adds nothing, and
    /// one that stopped part-way is finished by the next. Returns what was taken,
    /// skipped (with why) and adjusted. `Conflict` when another import into the
    /// site wrote at the same time (run it again).
    async fn import_legacy(
        &self,
        legacy: &crate::legacy::LegacyDatabase,
        site: &SiteName,
        now_ms: i64,
    ) -> Result<crate::legacy::LegacyReport, StoreError>;

    // --- inventories ---

    /// Replaces what a worker reported it found on its host.
    async fn put_inventory(&self, record: &InventoryRecord) -> Result<(), StoreError>;

    /// The latest report of each worker of the site, sorted by worker id.
    async fn inventories(&self, site: &SiteName) -> Result<Vec<InventoryRecord>, StoreError>;

    // --- notifications ---

    /// Appends one delivery attempt.
    async fn record_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError>;

    /// One page of delivery attempts, newest first.
    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;

    // --- settings ---

    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Inserts or replaces.
    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;

    // --- maintenance windows and acknowledgements ---

    async fn add_maintenance(&self, new: &NewMaintenance) -> Result<MaintenanceWindow, StoreError>;

    /// Windows that end after `after_ms` (running and upcoming), by start.
    async fn list_maintenance(&self, after_ms: i64) -> Result<Vec<MaintenanceWindow>, StoreError>;

    /// Ends a running window at `at_ms`, or removes one not yet begun. False
    /// if there was no such window in effect or to come.
    async fn end_maintenance(&self, id: i64, at_ms: i64) -> Result<bool, StoreError>;

    /// Records who acknowledged the incident; false if it already was
    /// (the first acknowledgement stays). `NotFound` without the incident.
    async fn acknowledge_incident(&self, ack: &IncidentAck) -> Result<bool, StoreError>;

    async fn incident_ack(&self, id: IncidentId) -> Result<Option<IncidentAck>, StoreError>;

    /// The latest acknowledgements, newest incident first.
    async fn recent_incident_acks(&self, limit: u32) -> Result<Vec<IncidentAck>, StoreError>;

    // --- named dashboard users ---

    /// Adds the user, or replaces the role and password of the one so named
    /// (keeping when it was created).
    async fn put_user(&self, user: &UserRecord) -> Result<(), StoreError>;

    async fn get_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError>;

    /// Every user, by name.
    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;

    /// False if there was no such user.
    async fn delete_user(&self, name: &str) -> Result<bool, StoreError>;

    // --- runtime settings (the config page, PUT /api/v1/config) ---

    /// Every scope's stored overrides.
    async fn runtime_settings(&self) -> Result<Vec<RuntimeSettings>, StoreError>;

    /// Replaces one scope's overrides and appends the changes to the audit
    /// trail, in one transaction: both happen or neither.
    async fn put_runtime_settings(
        &self,
        settings: &RuntimeSettings,
        changes: &[ConfigChange],
    ) -> Result<(), StoreError>;

    /// The audit trail of runtime settings, newest first.
    async fn config_changes(
        &self,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<ConfigChange>, StoreError>;

    // --- approval gates ---

    /// Records a request for a human's decision about the reserved ledger
    /// entry `new.action_id` (which stays reserved meanwhile).
    async fn request_approval(&self, new: &NewApproval) -> Result<Approval, StoreError>;

    async fn get_approval(&self, id: i64) -> Result<Option<Approval>, StoreError>;

    /// Requests, newest first: of one session, in one status, or all.
    async fn list_approvals(
        &self,
        session_id: Option<SessionId>,
        status: Option<ApprovalStatus>,
        limit: u32,
    ) -> Result<Vec<Approval>, StoreError>;

    /// Decides a pending request, once (single use): `None` when it was
    /// already decided or expired, or when an approval comes after the
    /// request's deadline (`now_ms` at or past it); `NotFound` without it. Anything but an
    /// approval gives the ledger slot back (`denied`, with `reason`).
    async fn settle_approval(
        &self,
        id: i64,
        status: ApprovalStatus,
        by: Option<&str>,
        reason: &str,
        now_ms: i64,
    ) -> Result<Option<Approval>, StoreError>;

    /// The probes added from the dashboard, of one site or of all, by site and name.
    async fn ui_probes(&self, site: Option<&str>) -> Result<Vec<UiProbe>, StoreError>;

    /// Adds a dashboard probe; `Conflict` when the site already has one of that name.
    async fn insert_ui_probe(&self, probe: &UiProbe) -> Result<(), StoreError>;

    /// Replaces a dashboard probe's kind, spec, interval, paused flag and who
    /// updated it when (not its creation); false when there is none of that name.
    async fn update_ui_probe(&self, probe: &UiProbe) -> Result<bool, StoreError>;

    /// Deletes a dashboard probe; false when there was none of that name.
    async fn delete_ui_probe(&self, site: &str, name: &str) -> Result<bool, StoreError>;
}
