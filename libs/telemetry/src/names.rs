//! Every metric's name, in one place: the parts that record them, the
//! shipped dashboard and the alert rules all use these.

use metrics::{describe_counter, describe_gauge, describe_histogram};

// The control plane's (one scrape target for the fleet).
pub const SESSIONS_STARTED: &str = "claudeops_sessions_started_total";
pub const SESSIONS_FINISHED: &str = "claudeops_sessions_finished_total";
pub const SESSION_DURATION: &str = "claudeops_session_duration_seconds";
pub const SESSION_COST: &str = "claudeops_session_cost_usd";
pub const SESSION_TURNS: &str = "claudeops_session_turns";
pub const MODEL_TOKENS: &str = "claudeops_model_tokens_total";
pub const ESCALATIONS: &str = "claudeops_escalations_total";
pub const NEEDS_HUMAN: &str = "claudeops_needs_human_total";
pub const LEDGER_DECISIONS: &str = "claudeops_ledger_decisions_total";
pub const APPROVALS: &str = "claudeops_approvals_total";
pub const ACTIONS: &str = "claudeops_actions_total";
pub const PROBE_ATTEMPTS: &str = "claudeops_probe_attempts_total";
pub const PROBE_LATENCY: &str = "claudeops_probe_latency_seconds";
pub const INCIDENTS_OPEN: &str = "claudeops_incidents_open";
pub const TIME_TO_DETECT: &str = "claudeops_time_to_detect_seconds";
pub const TIME_TO_FIX: &str = "claudeops_time_to_verified_fix_seconds";
pub const WORKERS_CONNECTED: &str = "claudeops_workers_connected";
pub const HEARTBEAT_AGE: &str = "claudeops_worker_heartbeat_age_seconds";
pub const SSE_VIEWERS: &str = "claudeops_sse_viewers";
pub const NOTIFICATIONS: &str = "claudeops_notifications_total";
pub const STORE_QUERY: &str = "claudeops_store_query_seconds";
pub const DAILY_COST: &str = "claudeops_daily_cost_usd";
pub const DAILY_BUDGET: &str = "claudeops_daily_cost_budget_usd";
pub const WEBHOOK_ALERTS: &str = "claudeops_webhook_alerts_total";
pub const CHAT_QUESTIONS: &str = "claudeops_chat_questions_total";
pub const SWEEPS: &str = "claudeops_sweeps_total";

// A worker's (sent over the link, labelled with its site and id).
pub const WORKER_TOOL_CALLS: &str = "claudeops_worker_tool_calls_total";
pub const WORKER_MODEL_TURNS: &str = "claudeops_worker_model_turns_total";
pub const WORKER_SESSIONS_RUNNING: &str = "claudeops_worker_sessions_running";
pub const WORKER_PROBE_CYCLE: &str = "claudeops_worker_probe_cycle_seconds";
pub const WORKER_PROBES: &str = "claudeops_worker_probes";

pub(crate) fn describe_common() {
    describe_counter!(
        crate::trace::DROPPED,
        "Spans that never reached the OTLP collector, by reason (queue_full, export_failed, export_timeout)"
    );
    describe_counter!(crate::trace::EXPORTED, "Spans the OTLP collector accepted");
}

/// The control plane's metrics, described.
pub fn describe_control_plane() {
    describe_counter!(
        WEBHOOK_ALERTS,
        "Alerts received on the webhook, by source and what became of them (triggered, queued, joined, duplicate, resolving, unknown, not_started)"
    );
    describe_counter!(
        CHAT_QUESTIONS,
        "Chat questions, by dialect (openai, ollama) and outcome (started, busy, refused)"
    );
    describe_counter!(
        SESSIONS_STARTED,
        "Sessions started, by site, tier and trigger"
    );
    describe_counter!(
        SESSIONS_FINISHED,
        "Sessions ended, by site, tier, trigger and status"
    );
    describe_histogram!(SESSION_DURATION, "How long a session ran, by site and tier");
    describe_histogram!(
        SESSION_COST,
        "What a session cost in US dollars, by site and tier"
    );
    describe_histogram!(SESSION_TURNS, "Model turns per session, by site and tier");
    describe_counter!(
        MODEL_TOKENS,
        "Tokens through the workers' model proxies, by model and direction (input, output, cache_read, cache_creation)"
    );
    describe_counter!(
        ESCALATIONS,
        "Escalations to a higher tier, by site and tier reached"
    );
    describe_counter!(NEEDS_HUMAN, "Chains that asked for a human, by site");
    describe_counter!(
        SWEEPS,
        "Scheduled sweeps that fell due, by site and decision (ran, skipped)"
    );
    describe_counter!(
        LEDGER_DECISIONS,
        "Cooldown ledger answers, by action kind and result (granted, refused)"
    );
    describe_counter!(
        APPROVALS,
        "Approval requests, by result (requested, approved, denied, expired)"
    );
    describe_counter!(
        ACTIONS,
        "Typed remediation actions ended, by kind and result"
    );
    describe_counter!(
        PROBE_ATTEMPTS,
        "Probe attempts reported, by site, kind and result"
    );
    describe_histogram!(PROBE_LATENCY, "Probe attempt latency, by site and kind");
    describe_gauge!(INCIDENTS_OPEN, "Open incidents, by site");
    describe_histogram!(
        TIME_TO_DETECT,
        "From a service's first failed attempt to its incident, by site"
    );
    describe_histogram!(
        TIME_TO_FIX,
        "From an incident's start to its verified fix, by site"
    );
    describe_gauge!(WORKERS_CONNECTED, "Workers connected, by site");
    describe_gauge!(
        HEARTBEAT_AGE,
        "Seconds since a connected worker was last heard, by site and worker"
    );
    describe_gauge!(SSE_VIEWERS, "Browsers following a session live");
    describe_counter!(NOTIFICATIONS, "Notification deliveries, by result");
    describe_histogram!(STORE_QUERY, "Store call latency, by operation");
    describe_gauge!(
        DAILY_COST,
        "What sessions started today (UTC) cost, in US dollars"
    );
    describe_gauge!(
        DAILY_BUDGET,
        "CLAUDEOPS_MAX_DAILY_COST_USD; absent when there is no cap"
    );
}

/// A worker's metrics, described.
pub fn describe_worker() {
    describe_counter!(
        WORKER_TOOL_CALLS,
        "Tool calls of the CLI, by tool, decision (allowed, refused) and the layer that refused"
    );
    describe_counter!(WORKER_MODEL_TURNS, "Model turns, by model");
    describe_gauge!(WORKER_SESSIONS_RUNNING, "Sessions running on this worker");
    describe_histogram!(WORKER_PROBE_CYCLE, "How long a probe cycle took");
    describe_gauge!(WORKER_PROBES, "Probes this worker runs");
}
