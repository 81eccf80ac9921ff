//! Schema-only types: the shapes of the answers that handlers build with
//! `json!`, written down for the OpenAPI document, field by field as each
//! handler emits them (the handler is named on each type). They are never
//! built, only described; `control-plane/tests/inprocess/openapi.rs` checks
//! real answers against the document, so a handler that drifts from its type
//! fails a test.
//!
//! A field that is always sent but may be `null` is an `Option`; one that may
//! be left out is an `Option` marked `nullable = false`.

// Described, never constructed.
#![allow(dead_code)]

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// An error answer of the REST API (`{"error": "..."}`), also the Ollama
/// dialect's errors.
#[derive(ToSchema)]
#[schema(as = ApiError)]
pub struct ApiErrorBody {
    /// What went wrong and, where it can, what to do.
    pub error: String,
}

/// A session that was not started: why, and the running session of a busy
/// site (409).
#[derive(ToSchema)]
pub struct StartRefused {
    pub error: String,
    /// The session that keeps the site busy (only when that is the reason).
    #[schema(nullable = false)]
    pub running_session_id: Option<i64>,
}

/// A change refused: every problem at once.
#[derive(ToSchema)]
pub struct ChangeRefused {
    /// The problems joined with "; ".
    pub error: String,
    /// Each problem (only when the values were the problem).
    #[schema(nullable = false)]
    pub problems: Option<Vec<String>>,
}

// Built by `api::live`.
/// Liveness: the process answers.
#[derive(ToSchema)]
pub struct Liveness {
    #[schema(value_type = LiveStatus)]
    pub status: String,
    pub version: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum LiveStatus {
    Alive,
}

// Built by `api::health`.
/// Readiness: whether the control plane can serve (200) or not (503).
#[derive(ToSchema)]
pub struct Readiness {
    pub status: ReadinessStatus,
    pub version: String,
    /// `ok`, or what is wrong with the store.
    pub database: String,
    /// Since when the store has been failing, if it is.
    #[schema(format = DateTime)]
    pub database_fault_since: Option<String>,
    pub workers_connected: u64,
    /// Whether a model key or base URL is configured.
    pub llm_configured: bool,
}

#[derive(ToSchema)]
pub enum ReadinessStatus {
    #[schema(rename = "ok")]
    Ok,
    #[schema(rename = "degraded")]
    Degraded,
    #[schema(rename = "lost")]
    Lost,
    #[schema(rename = "shutting down")]
    ShuttingDown,
}

// Built by `api::list_sessions`.
/// The sessions, newest first.
#[derive(ToSchema)]
pub struct SessionList {
    pub sessions: Vec<crate::http::api::SessionJson>,
}

/// A session's status in the original's words (a stopped session is `failed`).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum LegacyStatus {
    Running,
    Completed,
    Failed,
    TimedOut,
}

/// A session's exact status.
#[derive(ToSchema)]
#[schema(as = SessionStatus, rename_all = "snake_case")]
pub enum SessionStatusWord {
    Running,
    Completed,
    Failed,
    TimedOut,
    Stopped,
}

/// What started a session, in the original's words.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum LegacyTrigger {
    Scheduled,
    Manual,
    Escalation,
}

/// What started a session, exactly.
#[derive(ToSchema)]
#[schema(as = Trigger, rename_all = "snake_case")]
pub enum TriggerWord {
    Scheduled,
    Manual,
    Api,
    Incident,
    Escalation,
    Webhook,
    Chat,
}

// Built by `api::list_events`.
/// The events, newest first.
#[derive(ToSchema)]
pub struct EventList {
    pub events: Vec<EventJson>,
}

#[derive(ToSchema)]
#[schema(as = Event)]
pub struct EventJson {
    pub id: i64,
    pub session_id: Option<i64>,
    pub level: EventLevelWord,
    pub service: Option<String>,
    pub message: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub site: String,
}

#[derive(ToSchema)]
#[schema(as = EventLevel, rename_all = "snake_case")]
pub enum EventLevelWord {
    Info,
    Warning,
    Critical,
}

// Built by `api::list_workers` (one row per enrolled worker).
#[derive(ToSchema)]
#[schema(as = Worker)]
pub struct WorkerJson {
    pub id: String,
    pub site: String,
    pub hostname: String,
    pub version: String,
    pub capabilities: Vec<String>,
    pub connected: bool,
    /// The last heartbeat of a connected worker, else when it was last seen.
    #[schema(format = DateTime)]
    pub last_heartbeat: Option<String>,
    #[schema(format = DateTime)]
    pub enrolled_at: String,
    pub revoked: bool,
}

// Built by `api::revoke_worker`.
/// The workers revoked.
#[derive(ToSchema)]
pub struct Revoked {
    pub revoked: Vec<String>,
}

// Built by `overview::stats`.
/// The original's shape, read by the Homepage widget.
#[derive(ToSchema)]
pub struct StatsAnswer {
    pub stats: StatsFigures,
    /// The newest session; `null` when there is none.
    pub last_session: Option<StatsSession>,
    /// When the next scheduled run is due; now when scheduled runs are off.
    #[schema(format = DateTime)]
    pub next_run: String,
    /// Whether any site has scheduled runs.
    pub scheduled_runs: bool,
    pub interval_seconds: u64,
}

/// The last 24 hours' figures (`active_memories`: now).
#[derive(ToSchema)]
pub struct StatsFigures {
    pub total_runs: i64,
    pub escalations: i64,
    pub remediations: i64,
    /// Completed over finished sessions, from 0 to 1.
    pub success_rate: f64,
    pub total_cost_usd: f64,
    pub active_memories: i64,
    pub critical_events: i64,
    pub avg_duration_ms: i64,
}

/// The original's `StatsSession`: absent fields rather than nulls.
#[derive(ToSchema)]
pub struct StatsSession {
    pub id: i64,
    pub tier: u8,
    pub status: LegacyStatus,
    #[schema(format = DateTime)]
    pub started_at: String,
    #[schema(format = DateTime, nullable = false)]
    pub ended_at: Option<String>,
    pub cost_usd: f64,
    pub duration_ms: i64,
    pub trigger: LegacyTrigger,
    #[schema(nullable = false)]
    pub summary: Option<String>,
    pub site: String,
    pub model: String,
    pub status_detail: SessionStatusWord,
    pub trigger_detail: TriggerWord,
}

// Built by `config_page::api`.
/// The fleet's runtime settings in effect (the original's
/// fields first), the overrides, and every `CLAUDEOPS_*` setting as text.
#[derive(ToSchema)]
pub struct ConfigAnswer {
    /// Seconds between scheduled runs; 0 when they are off.
    pub interval: u64,
    pub tier1_model: String,
    pub tier2_model: String,
    pub tier3_model: String,
    pub dry_run: bool,
    pub max_tier: u8,
    pub max_session_cost_usd: f64,
    pub max_daily_cost_usd: f64,
    pub max_chain_cost_usd: f64,
    /// Whether notification URLs are set (never the URLs).
    pub apprise_urls: bool,
    pub notify_reminder_interval: u64,
    pub notify_group_window: u64,
    pub notify_digest_time: String,
    pub state_dir: String,
    pub results_dir: String,
    pub repos_dir: String,
    /// The fleet's overrides of the environment's values.
    pub overrides: HashMap<String, Value>,
    /// Each site's overrides.
    pub site_overrides: HashMap<String, HashMap<String, Value>>,
    /// Every `CLAUDEOPS_*` setting of the control plane as text (secrets as
    /// "set" or "not set").
    pub settings: HashMap<String, String>,
}

/// A change of runtime settings: only the fields sent change; `null` removes
/// an override. Durations are seconds or text such as "30m". A site takes
/// `interval`, the tier models, `dry_run` and `max_tier`.
#[derive(ToSchema)]
pub struct RuntimePatch {
    #[schema(value_type = Option<Object>)]
    pub interval: Option<Value>,
    pub tier1_model: Option<String>,
    pub tier2_model: Option<String>,
    pub tier3_model: Option<String>,
    pub dry_run: Option<bool>,
    pub max_tier: Option<u8>,
    pub max_session_cost_usd: Option<f64>,
    pub max_daily_cost_usd: Option<f64>,
    pub max_chain_cost_usd: Option<f64>,
    /// Comma-separated Apprise URLs; "" clears them. Write-only.
    pub apprise_urls: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub notify_reminder_interval: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub notify_group_window: Option<Value>,
    /// "HH:MM" UTC, or "off".
    pub notify_digest_time: Option<String>,
}

// Built by `config_page::site_api`.
/// A site's settings in effect and its overrides.
#[derive(ToSchema)]
pub struct SiteConfigAnswer {
    pub site: String,
    pub interval: u64,
    pub tier1_model: String,
    pub tier2_model: String,
    pub tier3_model: String,
    pub dry_run: bool,
    pub max_tier: u8,
    pub overrides: HashMap<String, Value>,
}

// Built by `config_page::changes_api`.
/// The audit trail, newest first.
#[derive(ToSchema)]
pub struct ConfigChanges {
    pub changes: Vec<ConfigChangeJson>,
}

#[derive(ToSchema)]
#[schema(as = ConfigChange)]
pub struct ConfigChangeJson {
    pub id: i64,
    #[schema(format = DateTime)]
    pub at: String,
    pub actor: String,
    /// `global` or `site:NAME`.
    pub scope: String,
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

// Built by `cooldowns::cooldowns`.
/// The counted actions of the cooldown ledger.
#[derive(ToSchema)]
pub struct CooldownList {
    pub cooldowns: Vec<CooldownJson>,
}

#[derive(ToSchema)]
#[schema(as = Cooldown)]
pub struct CooldownJson {
    pub service: String,
    pub action_type: ActionType,
    /// Counted actions in the window.
    pub count: u32,
    #[schema(format = DateTime)]
    pub last_action: String,
    pub site: String,
    pub limit: u32,
    /// When a slot frees up; `null` when one is free now.
    #[schema(format = DateTime)]
    pub next_allowed_at: Option<String>,
}

/// The original's word for an action kind.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ActionType {
    Restart,
    Redeployment,
}

// Built by `cooldowns::action_json`.
/// One entry of the remediation audit trail.
#[derive(ToSchema)]
#[schema(as = Action)]
pub struct ActionJson {
    pub id: i64,
    pub site: String,
    pub service: String,
    pub action_type: ActionType,
    pub session_id: Option<i64>,
    pub status: ActionStatusWord,
    /// The action's arguments as the worker sent them.
    pub args: Value,
    pub result: Option<String>,
    #[schema(format = DateTime)]
    pub reserved_at: String,
    #[schema(format = DateTime)]
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
}

#[derive(ToSchema)]
#[schema(as = ActionStatus, rename_all = "snake_case")]
pub enum ActionStatusWord {
    Reserved,
    Succeeded,
    Failed,
    Released,
    Denied,
}

// Built by `health::probe_json`.
/// A probe's state and its latest attempts.
#[derive(ToSchema)]
#[schema(as = Probe)]
pub struct ProbeJson {
    pub site: String,
    pub name: String,
    pub service: String,
    pub kind: String,
    pub state: ProbeStateWord,
    pub ok: bool,
    pub latency_ms: i64,
    pub message: String,
    #[schema(format = DateTime)]
    pub last_at: String,
    /// When the state last changed.
    #[schema(format = DateTime)]
    pub since: String,
    /// Oldest first.
    pub history: Vec<ProbePoint>,
}

#[derive(ToSchema)]
#[schema(as = ProbeState, rename_all = "snake_case")]
pub enum ProbeStateWord {
    Unknown,
    Up,
    Down,
}

#[derive(ToSchema)]
pub struct ProbePoint {
    #[schema(format = DateTime)]
    pub at: String,
    pub latency_ms: i64,
    pub ok: bool,
}

// Built by `health::incidents`.
/// An incident, with the trace of its session when it is traced.
#[derive(ToSchema)]
#[schema(as = Incident)]
pub struct IncidentJson {
    pub id: i64,
    pub site: String,
    pub service: String,
    pub status: IncidentStatusWord,
    pub probes: Vec<String>,
    pub evidence: String,
    #[schema(format = DateTime)]
    pub opened_at: String,
    #[schema(format = DateTime)]
    pub resolved_at: Option<String>,
    pub resolution: Option<ResolutionWord>,
    pub session_id: Option<i64>,
    /// The session's trace id, when traced.
    #[schema(nullable = false)]
    pub trace_id: Option<String>,
    /// The trace's link, when traced (`null` without a link template).
    pub trace_url: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = IncidentStatus, rename_all = "snake_case")]
pub enum IncidentStatusWord {
    Open,
    Resolved,
}

#[derive(ToSchema)]
#[schema(as = Resolution, rename_all = "snake_case")]
pub enum ResolutionWord {
    Recovered,
    VerifiedFixed,
    Dismissed,
}

// Built by `health::inventory`.
/// What each worker of a site discovered.
#[derive(ToSchema)]
pub struct InventoryAnswer {
    pub site: String,
    pub workers: Vec<WorkerInventory>,
}

#[derive(ToSchema)]
pub struct WorkerInventory {
    pub worker_id: String,
    #[schema(format = DateTime)]
    pub reported_at: String,
    /// The worker's discovery inventory (repos, services, probes, problems).
    pub inventory: Value,
}

// Built by `notifications::delivery_json`.
/// One delivery attempt to one URL.
#[derive(ToSchema)]
#[schema(as = Delivery)]
pub struct DeliveryJson {
    pub notification_id: String,
    pub kind: String,
    pub title: String,
    pub sites: Vec<String>,
    /// `#N`: the URL by its position only.
    pub url: String,
    pub url_index: u32,
    pub attempt: u32,
    pub ok: bool,
    pub error: Option<String>,
    #[schema(format = DateTime)]
    pub at: String,
}

// Built by `notifications::test`.
/// The outcome per URL.
#[derive(ToSchema)]
pub struct TestResults {
    pub results: Vec<TestResult>,
}

#[derive(ToSchema)]
pub struct TestResult {
    /// `#N`: the URL by its position only.
    pub url: String,
    pub ok: bool,
    pub error: Option<String>,
}

// Built by `models::respond`.
/// The upstream's model list and whether each tier's model
/// is in it.
#[derive(ToSchema)]
pub struct ModelsAvailable {
    pub models: Vec<UpstreamModelJson>,
    /// When the list was read (unix ms); `null` if never.
    pub fetched_at_ms: Option<i64>,
    /// Scheme, host and port of the upstream.
    pub upstream: String,
    pub cached: bool,
    /// Why the last read failed, if it did.
    pub error: Option<String>,
    pub tiers: Vec<TierModel>,
}

#[derive(ToSchema)]
#[schema(as = UpstreamModel)]
pub struct UpstreamModelJson {
    pub id: String,
    pub display_name: Option<String>,
    pub created_at: Option<String>,
}

#[derive(ToSchema)]
pub struct TierModel {
    pub tier: u8,
    pub model: String,
    pub listed: bool,
}

// Built by `webhook::summary`.
/// The original's fields for the alert that did most,
/// then every alert's own answer. A payload with no alert answers `ignored`
/// without `incident_id` and `tier`.
#[derive(ToSchema)]
pub struct WebhookAnswer {
    pub status: WebhookStatus,
    pub session_id: Option<i64>,
    pub incident_id: Option<i64>,
    pub tier: Option<u8>,
    pub message: String,
    pub alerts: Vec<AlertAnswerJson>,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum WebhookStatus {
    Triggered,
    Queued,
    Joined,
    Duplicate,
    Resolving,
    Unknown,
    NotStarted,
    Ignored,
}

/// What became of one alert.
#[derive(ToSchema)]
#[schema(as = AlertAnswer)]
pub struct AlertAnswerJson {
    pub status: AlertOutcomeWord,
    /// The parser that read it (`alertmanager`, `grafana`, ...).
    pub source: String,
    pub site: String,
    pub service: String,
    pub fingerprint: String,
    pub incident_id: Option<i64>,
    pub session_id: Option<i64>,
    /// The tier its session starts at (after the caps).
    pub tier: Option<u8>,
    /// The tier the payload asked for, if it did.
    pub tier_requested: Option<u8>,
    pub message: String,
}

#[derive(ToSchema)]
#[schema(as = AlertOutcome, rename_all = "snake_case")]
pub enum AlertOutcomeWord {
    Triggered,
    Queued,
    Joined,
    Duplicate,
    Resolving,
    Unknown,
    NotStarted,
}

/// The webhook refused: `error`, and `message` when it is off.
#[derive(ToSchema)]
pub struct WebhookError {
    pub error: String,
    #[schema(nullable = false)]
    pub message: Option<String>,
}

/// A `line` event's data on `/sessions/{id}/stream` (`id:` is `seq`).
#[derive(ToSchema)]
pub struct StreamLine {
    pub seq: i64,
    pub ts_ms: i64,
    /// The CLI's stream-json line as it was printed.
    pub raw: String,
    /// Whether the line could not be read.
    pub malformed: bool,
    /// What the line means (text, tool calls, the result...).
    pub events: Vec<Value>,
}

/// The `status` event's data on `/sessions/{id}/stream`: the session ended.
#[derive(ToSchema)]
pub struct StreamStatus {
    pub status: SessionStatusWord,
    pub cost_usd: f64,
    pub turns: i64,
    pub ended_at_ms: Option<i64>,
    pub error: Option<String>,
    /// The CLI's exit code, when it gave one.
    pub exit_code: Option<i32>,
    /// The structured response's summary, when the session gave one.
    pub summary: Option<String>,
}

/// The `change` event's data on `/api/v1/changes`: something a page shows changed.
#[derive(ToSchema)]
pub struct StreamChange {
    /// Increases by one per notice.
    pub seq: i64,
    /// What changed: `session`, `event`, `probes`, `worker`, or `all` (the
    /// viewer missed notices: refresh everything).
    pub kind: String,
    /// The site it happened at, when it belongs to one.
    pub site: Option<String>,
}

/// The fleet's runtime settings form (`POST /config`) and a site's
/// (`POST /sites/{site}/settings`): the form's fields as text; a field left
/// out is left alone, a blank one inherits (a site's).
#[derive(ToSchema)]
pub struct RuntimeForm {
    /// The login's CSRF token.
    pub csrf: Option<String>,
    pub interval: Option<String>,
    pub tier1_model: Option<String>,
    pub tier2_model: Option<String>,
    pub tier3_model: Option<String>,
    pub dry_run: Option<String>,
    pub max_tier: Option<String>,
    pub max_session_cost_usd: Option<String>,
    pub max_daily_cost_usd: Option<String>,
    pub max_chain_cost_usd: Option<String>,
    pub apprise_urls: Option<String>,
    /// Present to clear the Apprise URLs.
    pub clear_apprise_urls: Option<String>,
    pub notify_reminder_interval: Option<String>,
    pub notify_group_window: Option<String>,
    pub notify_digest_time: Option<String>,
}

// Built by `memories::list`.
/// The memories, highest confidence first.
#[derive(ToSchema)]
pub struct MemoryList {
    pub memories: Vec<crate::http::memories::MemoryJson>,
}

/// A webhook source, by its parser's name.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
pub enum AlertSource {
    Alertmanager,
    Grafana,
    UptimeKuma,
    Healthchecks,
    Gatus,
    Generic,
}

/// The name of an embedded static file: the web UI's list.
pub struct AssetName;

impl PartialSchema for AssetName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(claudeops_web_ui::ASSET_PATHS.iter().copied()))
            .into()
    }
}

impl ToSchema for AssetName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AssetName")
    }
}
