//! View models: what each page shows, as plain data the control plane fills.
//!
//! Why it exists: it is the whole API boundary between the control plane and the
//! pages. Types here are deliberately simple (strings, integers, unix milliseconds)
//! so this crate needs none of the control plane's or the core's types.
//!
//! What it must not do: carry secrets or anything a page does not show (the original
//! put its chat API key into the config page's HTML), or hold logic beyond trivial
//! constructors. Formatting lives in the template filters.

use serde::Serialize;

/// The part every page shares: navigation, version, login state, flash, CSRF token.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Layout {
    /// The product version shown in the sidebar, e.g. `"0.1.0"`.
    pub version: String,
    /// Whether the viewer holds a valid session cookie (shows Logout, else Login).
    pub logged_in: bool,
    /// The CSRF token that every POST form carries in its hidden `csrf` field.
    /// `None` still renders the field, empty, so the server rejects the post.
    pub csrf_token: Option<String>,
    /// A one-off message shown at the top of the page (after a redirect, say).
    pub flash: Option<Flash>,
    /// Which navigation entry is highlighted.
    pub nav: Nav,
    /// Who is logged in and as what, e.g. `("alice", "operator")`; shown by
    /// the logout button.
    pub user: Option<(String, String)>,
    /// The maintenance windows in effect, for the banner on every page.
    pub maintenance: Vec<MaintenanceView>,
}

/// A maintenance window, as the pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct MaintenanceView {
    pub id: i64,
    pub site: String,
    /// `None`: every service of the site.
    pub service: Option<String>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub reason: String,
    pub created_by: String,
    /// In effect now (else to come).
    pub active: bool,
}

/// The new-window form, as typed (kept after a refusal).
#[derive(Debug, Clone, Default, Serialize)]
pub struct MaintenanceForm {
    pub site: String,
    pub service: String,
    /// `YYYY-MM-DDTHH:MM`, UTC; empty: now.
    pub starts: String,
    pub duration: String,
    pub reason: String,
    pub error: Option<String>,
}

/// `GET /maintenance`.
#[derive(Debug, Clone, Serialize)]
pub struct MaintenancePage {
    pub layout: Layout,
    pub now_ms: i64,
    pub windows: Vec<MaintenanceView>,
    /// Known sites, offered in the form.
    pub sites: Vec<String>,
    pub form: MaintenanceForm,
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub at_ms: i64,
    /// `opened`, `session`, `action`, `event`, `notification`,
    /// `acknowledged`, `resolved`.
    pub kind: String,
    pub text: String,
    pub link: Option<String>,
}

/// `GET /incidents/{id}`.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentPage {
    pub layout: Layout,
    pub now_ms: i64,
    pub incident: IncidentView,
    /// Open for so long, or lasted so long.
    pub duration_ms: i64,
    pub timeline: Vec<TimelineEntry>,
    /// The window silencing its service now, if any.
    pub silenced_by: Option<MaintenanceView>,
}

impl Layout {
    /// A layout for a logged-in viewer, with the CSRF token their forms need.
    pub fn logged_in(version: impl Into<String>, csrf_token: impl Into<String>, nav: Nav) -> Self {
        Layout {
            version: version.into(),
            logged_in: true,
            csrf_token: Some(csrf_token.into()),
            flash: None,
            nav,
            user: None,
            maintenance: Vec::new(),
        }
    }

    /// Names the logged-in user and role.
    pub fn with_user(mut self, user: impl Into<String>, role: impl Into<String>) -> Self {
        self.user = Some((user.into(), role.into()));
        self
    }

    /// Adds a flash message.
    pub fn with_flash(mut self, level: FlashLevel, message: impl Into<String>) -> Self {
        self.flash = Some(Flash {
            level,
            message: message.into(),
        });
        self
    }
}

/// A navigation entry; `None` highlights nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Nav {
    Overview,
    Sessions,
    Sites,
    Events,
    Memories,
    Cooldowns,
    Health,
    Incidents,
    Notifications,
    Maintenance,
    Config,
    RunNow,
    #[default]
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct Flash {
    pub level: FlashLevel,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlashLevel {
    Info,
    Success,
    Warning,
    Error,
}

/// `GET /login`: a form posting `token` and `csrf` to `/login`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoginPage {
    pub layout: Layout,
    /// Why the last attempt failed ("wrong token"), if it did.
    pub error: Option<String>,
    /// Where to go after logging in; sent back as the hidden field `next`.
    pub next: Option<String>,
    /// Where the control plane wrote the token, e.g. `/state/api-token`.
    pub token_path: String,
}

/// `GET /sessions`: newest first, a page at a time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionsPage {
    pub layout: Layout,
    /// In the order to show (newest first); the renderer groups escalation chains.
    pub sessions: Vec<SessionRow>,
    pub paging: Paging,
}

/// One session in the list. Times are unix milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionRow {
    pub id: i64,
    pub site: String,
    /// 1, 2 or 3.
    pub tier: u8,
    pub model: String,
    /// `running`, `completed`, `failed`, `timed_out` or `stopped`.
    pub status: String,
    /// `scheduled`, `manual`, `api`, `incident`, `escalation` or `webhook`.
    pub trigger: String,
    pub started_at_ms: i64,
    /// So far (running) or in total (finished).
    pub duration_ms: i64,
    pub cost_usd: f64,
    pub turns: i64,
    /// The session that escalated into this one.
    pub parent_id: Option<i64>,
}

/// Offset paging, as in `GET /sessions?offset=50&limit=50` (and `GET /events`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Paging {
    pub offset: u64,
    pub limit: u64,
    /// All rows (sessions, or events matching the filter), if known.
    pub total: Option<u64>,
    /// Whether a next page exists.
    pub has_more: bool,
}

/// `GET /sessions/{id}`: the metadata card and the live activity log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionPage {
    pub layout: Layout,
    pub session: SessionDetail,
    /// Every stdout line so far, for the `<noscript>` view; the script reads the stream.
    pub lines: Vec<LineView>,
    /// The remediation actions this session asked for, in the order to show; the
    /// card is shown only when there are some.
    pub actions: Vec<ActionView>,
    /// The one-line summary of the session's structured response, once it has one.
    pub summary: Option<String>,
    /// Typed actions of this session that waited for a human, newest first;
    /// pending ones carry Approve and Deny buttons.
    pub approvals: Vec<ApprovalView>,
    /// The session's browser actions, in order (the card is shown only when
    /// there are some).
    pub browser: Vec<BrowserCallView>,
}

/// One browser action of a session and its answer, from its output.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BrowserCallView {
    /// The output line of the call.
    pub seq: i64,
    /// The action without the MCP prefix (`browser_open`).
    pub action: String,
    /// Its main argument: the URL, the element reference or the credential's name.
    pub target: Option<String>,
    /// `ok`, `refused` or `pending`.
    pub outcome: String,
    /// The first line of the answer.
    pub result: String,
}

/// A typed action held by an approval gate, and its decision once made.
/// Times are unix milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApprovalView {
    pub id: i64,
    pub session_id: i64,
    pub site: String,
    pub service: String,
    /// `restart` or `redeploy`.
    pub kind: String,
    /// What would be done, target included ("restart of web (container web-1)").
    pub what: String,
    /// The action's arguments as JSON text.
    pub args: String,
    /// `pending`, `approved`, `denied` or `expired`.
    pub status: String,
    pub requested_at_ms: i64,
    pub expires_at_ms: i64,
    pub decided_at_ms: Option<i64>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
}

/// The page a signed approve or deny link opens: what the action is, and a
/// button that makes the decision (a link alone never does).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApprovalPage {
    pub version: String,
    pub approval: ApprovalView,
    /// `approve` or `deny`: what the link's button does.
    pub decision: String,
    /// The link's signature, posted back with the button.
    pub sig: String,
    /// After the button: what happened.
    pub outcome: Option<String>,
    /// A refused link or button: why.
    pub error: Option<String>,
    pub now_ms: i64,
}

/// One session in full. Times are unix milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionDetail {
    pub id: i64,
    pub site: String,
    pub worker_id: Option<String>,
    pub tier: u8,
    pub model: String,
    pub status: String,
    pub trigger: String,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    /// So far (running) or in total (finished).
    pub duration_ms: i64,
    pub cost_usd: f64,
    pub turns: i64,
    pub exit_code: Option<i32>,
    /// Why it failed, timed out or was stopped, for the operator.
    pub error: Option<String>,
    /// The operator's prompt, if the run was started with one.
    pub prompt: Option<String>,
    pub parent: Option<RelatedSession>,
    pub children: Vec<RelatedSession>,
    /// The escalation chain's trace id (OpenTelemetry), when traced.
    pub trace_id: Option<String>,
    /// Where the trace opens (`CLAUDEOPS_TRACE_URL_TEMPLATE`), when set.
    pub trace_url: Option<String>,
}

/// A link to a session in the same escalation chain.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RelatedSession {
    pub id: i64,
    pub tier: u8,
    pub status: String,
}

/// One stdout line of the CLI, as stored.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LineView {
    pub seq: i64,
    pub ts_ms: i64,
    pub raw: String,
    /// The line was not the JSON the CLI should print.
    pub malformed: bool,
}

/// `GET /sites`: each site with its workers and a Run Now form.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SitesPage {
    pub layout: Layout,
    pub sites: Vec<SiteView>,
    /// The render time, for "12s ago".
    pub now_ms: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteView {
    pub name: String,
    pub workers: Vec<WorkerView>,
    /// The session running on this site, if any.
    pub running_session_id: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkerView {
    pub id: String,
    pub hostname: String,
    pub version: String,
    pub connected: bool,
    pub last_heartbeat_ms: Option<i64>,
    pub capabilities: Vec<String>,
    pub revoked: bool,
    /// How a connected worker confines its sessions: `bwrap`, `off`,
    /// `unavailable`; empty when not connected (or too old to say).
    pub sandbox: String,
    /// The worker's sentence about it.
    pub sandbox_detail: String,
}

/// `GET /run`: start a session on a site, posting to `/sessions/trigger`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunNowPage {
    pub layout: Layout,
    /// Site names to choose from.
    pub sites: Vec<String>,
    /// Preselected site (from `?site=`), if any.
    pub site: Option<String>,
    /// Preselected tier; `None` is auto (start at Tier 1, escalate as needed).
    pub tier: Option<u8>,
    /// The prompt to refill after a rejected post.
    pub prompt: String,
    /// The highest tier the configuration allows; higher options are disabled.
    pub max_tier: u8,
    /// Dry run is on: the page says that no changes will be made.
    pub dry_run: bool,
}

/// `GET /`: the TL;DR page. Stat cards, the latest session's summary, the critical
/// events that need a human, and each site with a Run Now button.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OverviewPage {
    pub layout: Layout,
    pub stats: StatsView,
    /// The most recent session, if there has been one.
    pub latest: Option<LatestView>,
    /// Recent critical events ("needs human attention"); shown newest first.
    pub attention: Vec<EventRow>,
    pub sites: Vec<SiteHealth>,
}

/// The overview's numbers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatsView {
    /// Sessions ever started.
    pub total_runs: i64,
    /// Sessions started by an escalation.
    pub escalations: i64,
    /// Remediation actions carried out.
    pub remediations: i64,
    /// Finished sessions that completed, as a fraction from 0 to 1.
    pub success_rate: f64,
    pub total_cost_usd: f64,
    /// Memories the agent currently keeps.
    pub active_memories: i64,
    /// Critical events in the last 24 hours.
    pub critical_events_24h: i64,
    /// Mean session duration.
    pub avg_duration_ms: i64,
    /// When the scheduler starts the next run, if it is scheduled.
    pub next_run_ms: Option<i64>,
    /// The schedule's interval; 0 when nothing is scheduled.
    pub interval_seconds: u64,
}

/// The most recent session, for the overview's TL;DR.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LatestView {
    pub session_id: i64,
    pub site: String,
    pub tier: u8,
    /// As in [`SessionRow::status`].
    pub status: String,
    pub started_at_ms: i64,
    /// The one-line summary of its structured response, if it gave one.
    pub summary: Option<String>,
}

/// One site on the overview.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteHealth {
    pub name: String,
    /// Connected, not revoked workers; 0 disables Run Now.
    pub workers_connected: u32,
    /// The session running on this site, if any.
    pub running_session_id: Option<i64>,
}

/// `GET /events?level=&site=&service=&offset=&limit=`: events the agent reported.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventsPage {
    pub layout: Layout,
    /// One page of events; shown newest first.
    pub events: Vec<EventRow>,
    /// The filter this page was asked for; the paging links keep it.
    pub filter: EventFilterView,
    pub paging: Paging,
}

/// One event from a session's structured response. Times are unix milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventRow {
    pub id: i64,
    pub ts_ms: i64,
    pub site: String,
    /// The session that reported it.
    pub session_id: Option<i64>,
    /// `info`, `warning` or `critical` (critical: needs human attention).
    pub level: String,
    pub service: Option<String>,
    pub message: String,
}

/// The events filter as asked for; `None` or empty matches everything.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventFilterView {
    /// `info`, `warning` or `critical`.
    pub level: Option<String>,
    pub service: Option<String>,
    pub site: Option<String>,
}

/// `GET /cooldowns`: the remediation limits, where each (site, service, kind) stands
/// against them, and the audit trail of recent actions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CooldownsPage {
    pub layout: Layout,
    /// The render time, for "next allowed in 2h 13m" and "5m ago".
    pub now_ms: i64,
    /// One per action kind, in the order to state them.
    pub limits: Vec<LimitView>,
    pub rows: Vec<CooldownView>,
    /// Recent remediation actions, newest first.
    pub actions: Vec<ActionView>,
}

/// A remediation limit: at most `max` actions of `kind` per service per `window`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LimitView {
    /// `restart` or `redeploy`.
    pub kind: String,
    pub max: u32,
    /// The window in words, e.g. `"4h"`.
    pub window: String,
}

/// Where one (site, service, kind) stands against its limit. Times are unix ms.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CooldownView {
    pub site: String,
    pub service: String,
    /// `restart` or `redeploy`.
    pub kind: String,
    /// Actions that count toward the limit within the window.
    pub count_in_window: u32,
    pub limit: u32,
    pub last_action_ms: Option<i64>,
    /// When the next action of this kind is allowed, if it is not now; `i64::MAX`
    /// (the ledger's "never", for a limit of 0) reads "never".
    pub next_allowed_ms: Option<i64>,
}

/// One remediation action from the ledger (the audit trail). Times are unix ms.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActionView {
    pub id: i64,
    pub site: String,
    pub service: String,
    /// `restart` or `redeploy`.
    pub kind: String,
    /// The session that asked for it.
    pub session_id: Option<i64>,
    /// `reserved`, `succeeded`, `failed`, `released` or `denied`.
    pub status: String,
    /// The action's arguments as JSON text, shown folded.
    pub args: String,
    /// What carrying it out reported.
    pub result: Option<String>,
    pub reserved_at_ms: i64,
    /// From reservation to finish, once finished.
    pub duration_ms: Option<i64>,
}

/// Any error: 403, 404, 500 and so on.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    pub title: String,
    pub message: String,
    /// Where to go about it (e.g. the session that keeps a site busy), with its label.
    pub next: Option<(String, String)>,
}

/// `GET /config`: the active configuration. Secrets never reach this model as
/// values: the control plane sends "set" or "not set" with `secret: true`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigPage {
    pub layout: Layout,
    pub entries: Vec<ConfigEntry>,
    /// What the model upstream serves, to pick tier models from.
    pub models: UpstreamModels,
    /// The settings that change at runtime, as a form.
    pub runtime: RuntimeForm,
    /// Sites with overrides of their own, linked to their settings page.
    pub site_overrides: Vec<String>,
    /// The latest runtime changes (the audit trail).
    pub changes: Vec<ConfigChangeView>,
}

/// `GET /sites/{site}/settings`: a site's overrides.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteSettingsPage {
    pub layout: Layout,
    pub site: String,
    pub runtime: RuntimeForm,
    pub changes: Vec<ConfigChangeView>,
}

/// A form of runtime settings: the fleet's (every field) or a site's (blank
/// means "as the fleet").
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuntimeForm {
    /// Where it posts.
    pub action: String,
    /// A site's form: a blank field inherits.
    pub per_site: bool,
    pub fields: Vec<RuntimeField>,
    /// Every problem of the last submission.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RuntimeField {
    pub name: String,
    pub label: String,
    /// `seconds`, `text`, `bool`, `tier`, `dollars`, `secret`.
    pub kind: String,
    /// The value in the field: the override (site form) or the effective value;
    /// a secret's is always empty.
    pub value: String,
    /// What applies when the field is blank (site form), or a secret's state.
    pub inherited: String,
    pub help: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigChangeView {
    pub at: String,
    pub actor: String,
    pub scope: String,
    pub field: String,
    pub before: String,
    pub after: String,
}

/// The models the upstream (`ANTHROPIC_BASE_URL`) lists, as last read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpstreamModels {
    /// Scheme, host and port only.
    pub upstream: String,
    /// When the list was read ("2026-12-04T19:20:03Z"); empty when never.
    pub fetched_at: String,
    /// Why the last read failed, if it did.
    pub error: Option<String>,
    /// Every model id listed, sorted.
    pub ids: Vec<String>,
    /// Each tier's configured model and whether the upstream lists it.
    pub tiers: Vec<TierModel>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TierModel {
    pub tier: u8,
    pub model: String,
    pub listed: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigEntry {
    pub name: String,
    pub value: String,
    pub description: String,
    pub secret: bool,
}

/// `GET /health`: the open incidents, then every probe's latest state, grouped by
/// site and service, each with a latency sparkline.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HealthPage {
    pub layout: Layout,
    /// The render time, for "since 5m ago".
    pub now_ms: i64,
    /// Open incidents, shown at the top.
    pub open_incidents: Vec<IncidentView>,
    /// In any order: the renderer groups them by site, then service, then name.
    pub probes: Vec<ProbeView>,
}

/// A probe's latest state. Times are unix milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProbeView {
    pub site: String,
    pub name: String,
    pub service: String,
    /// `http`, `tcp`, `tls`, `dns`, `docker`, `postgres`, `redis`, `mysql`.
    pub kind: String,
    /// `up`, `down` or `unknown`.
    pub state: String,
    /// Whether the latest attempt passed.
    pub ok: bool,
    pub latency_ms: i64,
    pub message: String,
    pub last_at_ms: i64,
    /// When the state last changed.
    pub since_ms: i64,
    /// The latest attempts, oldest first.
    pub history: Vec<HistoryView>,
    /// Added from the dashboard (else defined in a repo or found by discovery).
    pub from_dashboard: bool,
}

/// One attempt in a probe's latency history.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct HistoryView {
    pub at_ms: i64,
    pub latency_ms: i64,
    pub ok: bool,
}

/// An incident: a service of a site whose probes went down. Times are unix ms.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IncidentView {
    pub id: i64,
    pub site: String,
    pub service: String,
    /// `open` or `resolved`.
    pub status: String,
    /// `recovered`, `verified_fixed` or `dismissed`, once resolved.
    pub resolution: Option<String>,
    pub probes: Vec<String>,
    /// What the failing probes reported; shown folded.
    pub evidence: String,
    pub opened_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    /// The session started for it, if one was.
    pub session_id: Option<i64>,
    /// Who acknowledged it, if someone did.
    pub acknowledged_by: Option<String>,
}

/// `GET /incidents?offset=&limit=`: every incident, newest first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IncidentsPage {
    pub layout: Layout,
    pub now_ms: i64,
    pub incidents: Vec<IncidentView>,
    pub paging: Paging,
}

/// `GET /sites/{site}/inventory`: what each worker of a site discovered.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InventoryPage {
    pub layout: Layout,
    pub now_ms: i64,
    pub site: String,
    pub workers: Vec<WorkerInventoryView>,
}

/// One worker's latest inventory report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkerInventoryView {
    pub worker_id: String,
    pub reported_at_ms: i64,
    /// The report could not be read as an inventory (shown instead of the lists).
    pub unreadable: Option<String>,
    pub problems: Vec<ProblemView>,
    pub repos: Vec<RepoView>,
    pub services: Vec<InventoryServiceView>,
    pub probes: Vec<InventoryProbeView>,
}

/// Something discovery could not read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProblemView {
    /// Relative to the repos directory, or `container:NAME`.
    pub path: String,
    /// 1-based, when known.
    pub line: Option<u32>,
    pub message: String,
}

/// A repository under the worker's repos directory.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepoView {
    pub name: String,
    pub path: String,
    pub has_manifest: bool,
    /// The manifest's title and kind, when it has them.
    pub title: Option<String>,
    pub kind: Option<String>,
    /// Check documents, by title (or file name).
    pub checks: Vec<String>,
    pub playbooks: Vec<PlaybookView>,
    pub skills: Vec<String>,
    /// MCP server names (never their definitions).
    pub mcp_servers: Vec<String>,
    pub probe_files: Vec<String>,
    pub compose_files: Vec<ComposeFileView>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PlaybookView {
    pub file: String,
    pub title: String,
    /// The lowest tier that may use it.
    pub min_tier: u8,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ComposeFileView {
    pub path: String,
    pub project: String,
    pub services: Vec<String>,
}

/// A service as discovery put it together.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InventoryServiceView {
    pub name: String,
    pub host: Option<String>,
    pub project: Option<String>,
    pub url: Option<String>,
    pub image: Option<String>,
    /// `8080:80/tcp`, `443/tcp`.
    pub ports: Vec<String>,
    pub healthcheck: bool,
    /// `NAME (state)`.
    pub containers: Vec<String>,
    /// Where its facts came from: `path:line` or `container NAME`.
    pub sources: Vec<String>,
    pub probes_disabled: bool,
}

/// A probe discovery derived, with where it was found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InventoryProbeView {
    pub name: String,
    pub service: String,
    /// Without credentials: the control plane strips a password from it.
    pub url: String,
    /// `path:line`, `container NAME` or `built in`.
    pub source: String,
}

/// `GET /notifications?offset=&limit=`: the delivery log and a test button that
/// posts to `/notifications/test`. Notification URLs never reach this model: a
/// URL is only ever its 1-based position in the configured list.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NotificationsPage {
    pub layout: Layout,
    pub now_ms: i64,
    /// Notifications are configured (`CLAUDEOPS_APPRISE_URLS` is set).
    pub enabled: bool,
    /// How many URLs are configured.
    pub url_count: u32,
    /// Delivery attempts, newest first.
    pub deliveries: Vec<DeliveryView>,
    pub paging: Paging,
}

/// One delivery attempt of one notification to one URL.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliveryView {
    pub notification_id: String,
    /// `incident_opened`, `needs_human_attention`, `daily_digest`, `test`, ...
    pub kind: String,
    pub title: String,
    pub sites: Vec<String>,
    /// 1-based position of the URL in the configured list, shown as `#N`.
    pub url_index: u32,
    pub attempt: u32,
    pub ok: bool,
    /// Why it failed (already redacted).
    pub error: Option<String>,
    pub at_ms: i64,
}

/// `GET /memories`: what the agent remembers about each site, searchable, with the
/// operator's add, edit, deactivate and delete forms (logged in only).
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemoriesPage {
    pub layout: Layout,
    /// In the store's order: highest confidence first.
    pub memories: Vec<MemoryView>,
    pub filter: MemoryFilterView,
    /// The known sites, offered by the add form (one site needs no choice).
    pub sites: Vec<String>,
    /// The add form's values: the defaults, or what a refused add sent.
    pub form: MemoryForm,
    /// A refused edit: shown open in its memory's row with the values sent.
    pub editing: Option<MemoryEdit>,
    pub paging: Paging,
    /// How stale memories decay, as a sentence; `None` when decay is off.
    pub decay: Option<String>,
}

/// One memory. `service` and `category` are its key's parts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemoryView {
    pub id: i64,
    pub site: String,
    pub service: Option<String>,
    pub category: String,
    pub observation: String,
    /// In `[0, 1]`.
    pub confidence: f64,
    pub active: bool,
    /// The tier of the session that wrote it; 0 for an operator's.
    pub tier: u8,
    pub session_id: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// The memories page's search (a GET form); `None` or blank means "any".
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct MemoryFilterView {
    /// Text in the key or the observation.
    pub q: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
    pub site: Option<String>,
    /// `active` or `inactive`.
    pub active: Option<String>,
}

/// The add form. `confidence` is text so a refused value is shown as typed.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryForm {
    pub site: String,
    pub service: String,
    pub category: String,
    pub observation: String,
    pub confidence: String,
    pub active: bool,
}

impl Default for MemoryForm {
    /// An empty form: confidence 0.7 (a new memory's), active.
    fn default() -> Self {
        MemoryForm {
            site: String::new(),
            service: String::new(),
            category: String::new(),
            observation: String::new(),
            confidence: "0.7".to_owned(),
            active: true,
        }
    }
}

/// A memory's edit form as sent, when it was refused.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemoryEdit {
    pub id: i64,
    pub observation: String,
    pub confidence: String,
    pub active: bool,
}

/// A site's probes page: its repo-defined probes (read-only) and the ones added
/// from the dashboard (edit, pause, resume, delete), and the add or edit form.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteProbesPage {
    pub layout: Layout,
    pub site: String,
    pub probes: Vec<SiteProbeView>,
    pub form: ProbeForm,
    /// The kinds the form offers.
    pub kinds: Vec<String>,
}

/// One probe of a site, with where it comes from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteProbeView {
    pub name: String,
    pub kind: String,
    /// `dashboard`, or `repo: PATH:LINE` (or `container: NAME`).
    pub source: String,
    pub target: String,
    pub interval_secs: i64,
    pub conditions: Vec<String>,
    pub paused: bool,
    /// A dashboard probe: it can be edited, paused and deleted here.
    pub editable: bool,
    /// Who changed it last, and when (unix ms); dashboard probes only.
    pub updated_by: String,
    pub updated_at_ms: i64,
}

/// The add (or edit) form, with what was typed and each field's problem.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProbeForm {
    /// Where it posts.
    pub action: String,
    /// Editing this probe (its name cannot change); empty when adding.
    pub editing: String,
    pub name: String,
    pub kind: String,
    pub target: String,
    pub interval: String,
    /// One condition per line.
    pub conditions: String,
    pub service: String,
    /// Problems by field: `name`, `kind`, `target`, `interval`, `conditions`.
    pub errors: std::collections::BTreeMap<String, String>,
}
