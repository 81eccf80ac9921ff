//! `GET /config` and `GET /api/v1/config`: the configuration the control plane
//! runs with. Secrets (the API token, the Anthropic key, a database URL that may
//! hold a password) appear only as "set" or "not set"; the original put its chat
//! API key into this page's HTML.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use claudeops_web_ui::model as ui;
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::config::Config;
use crate::http::pages::{html, layout};

/// (variable, value, meaning, secret)
fn entries(c: &Config) -> Vec<(&'static str, String, &'static str, bool)> {
    let set = |v: bool| if v { "set" } else { "not set" }.to_owned();
    vec![
        (
            "CLAUDEOPS_INTERVAL",
            c.interval.to_string(),
            "seconds between scheduled runs per site (0: off)",
            false,
        ),
        (
            "CLAUDEOPS_TIER1_MODEL",
            c.tier1_model.clone(),
            "model of tier 1 (observe)",
            false,
        ),
        (
            "CLAUDEOPS_TIER2_MODEL",
            c.tier2_model.clone(),
            "model of tier 2 (investigate, safe fixes)",
            false,
        ),
        (
            "CLAUDEOPS_TIER3_MODEL",
            c.tier3_model.clone(),
            "model of tier 3 (redeployments)",
            false,
        ),
        (
            "CLAUDEOPS_MAX_TIER",
            c.max_tier.to_string(),
            "highest tier a run may reach",
            false,
        ),
        (
            "CLAUDEOPS_DRY_RUN",
            c.dry_run.to_string(),
            "observe only: no tier 2 or 3 session starts",
            false,
        ),
        (
            "CLAUDEOPS_SESSION_TIMEOUT",
            c.session_timeout.to_string(),
            "seconds before a session's CLI is killed",
            false,
        ),
        (
            "CLAUDEOPS_MAX_SESSION_COST_USD",
            c.max_session_cost_usd.to_string(),
            "dollar cap per session (0: none)",
            false,
        ),
        (
            "CLAUDEOPS_MAX_CHAIN_COST_USD",
            c.max_chain_cost_usd.to_string(),
            "dollar cap per escalation chain (0: none)",
            false,
        ),
        (
            "CLAUDEOPS_MEMORY_BUDGET",
            c.memory_budget.to_string(),
            "tokens of memories per prompt",
            false,
        ),
        (
            "CLAUDEOPS_COOLDOWN_MAX_RESTARTS",
            c.cooldown_max_restarts.to_string(),
            "restarts per service per window",
            false,
        ),
        (
            "CLAUDEOPS_COOLDOWN_RESTART_WINDOW",
            c.cooldown_restart_window.clone(),
            "restart window",
            false,
        ),
        (
            "CLAUDEOPS_COOLDOWN_MAX_REDEPLOYS",
            c.cooldown_max_redeploys.to_string(),
            "redeploys per service per window",
            false,
        ),
        (
            "CLAUDEOPS_COOLDOWN_REDEPLOY_WINDOW",
            c.cooldown_redeploy_window.clone(),
            "redeploy window",
            false,
        ),
        (
            "CLAUDEOPS_ALLOWED_TOOLS",
            c.allowed_tools.clone(),
            "built-in tools that exist in a session",
            false,
        ),
        (
            "CLAUDEOPS_STATE_DIR",
            c.state_dir.display().to_string(),
            "state: database, CA, API token",
            false,
        ),
        (
            "CLAUDEOPS_REPOS_DIR",
            c.repos_dir.display().to_string(),
            "infrastructure repos (local worker)",
            false,
        ),
        (
            "CLAUDEOPS_DASHBOARD_PORT",
            c.dashboard_port.to_string(),
            "dashboard and REST API",
            false,
        ),
        (
            "CLAUDEOPS_GRPC_PORT",
            c.grpc_port.to_string(),
            "worker link (mutual TLS)",
            false,
        ),
        (
            "CLAUDEOPS_ENROLL_PORT",
            c.enroll_port.to_string(),
            "worker enrollment",
            false,
        ),
        (
            "CLAUDEOPS_DATABASE_URL",
            if c.database_url.is_some() {
                "set (PostgreSQL)".to_owned()
            } else {
                "not set (SQLite)".to_owned()
            },
            "the store",
            true,
        ),
        (
            "CLAUDEOPS_API_TOKEN",
            set(c.api_token.is_some()),
            "set, or generated into the state dir",
            true,
        ),
        (
            "ANTHROPIC_API_KEY",
            set(c.anthropic_api_key.is_some()),
            "the local worker's model key",
            true,
        ),
        (
            "ANTHROPIC_BASE_URL",
            set(c.anthropic_base_url.is_some()),
            "an Anthropic-compatible proxy",
            true,
        ),
        (
            "CLAUDEOPS_INCIDENT_TIER",
            c.incident_tier.to_string(),
            "the tier a session starts at when probes open an incident",
            false,
        ),
        (
            "CLAUDEOPS_PROBE_RETENTION",
            c.probe_retention.clone(),
            "how long probe attempts are kept",
            false,
        ),
        (
            "CLAUDEOPS_APPRISE_URLS",
            match c
                .apprise_urls
                .as_deref()
                .map(|u| u.split(',').filter(|x| !x.trim().is_empty()).count())
            {
                Some(n) if n > 0 => format!("{n} URL(s) set"),
                _ => "not set (notifications off)".to_owned(),
            },
            "where notifications go (secrets: never shown)",
            true,
        ),
        (
            "CLAUDEOPS_NOTIFY_REMINDER_INTERVAL",
            c.notify_reminder_interval.clone(),
            "how often an open incident is notified again",
            false,
        ),
        (
            "CLAUDEOPS_NOTIFY_GROUP_WINDOW",
            c.notify_group_window.clone(),
            "events within this window go out as one message",
            false,
        ),
        (
            "CLAUDEOPS_NOTIFY_DIGEST_TIME",
            c.notify_digest_time.clone(),
            "when the daily digest goes out (UTC), or off",
            false,
        ),
    ]
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let page = ui::ConfigPage {
        layout: layout(&state, &headers, ui::Nav::Config),
        entries: entries(&state.sessions.config)
            .into_iter()
            .map(|(name, value, description, secret)| ui::ConfigEntry {
                name: name.to_owned(),
                value,
                description: description.to_owned(),
                secret,
            })
            .collect(),
    };
    html(state.ui.config(&page))
}

pub async fn api(State(state): State<AppState>) -> Json<Value> {
    let map: Map<String, Value> = entries(&state.sessions.config)
        .into_iter()
        .map(|(name, value, _, _)| (name.to_owned(), Value::String(value)))
        .collect();
    Json(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_appear() {
        let config = Config {
            api_token: Some("super-secret-token-123456".into()),
            anthropic_api_key: Some("sk-ant-secret".into()),
            apprise_urls: Some("json://hunter3.example/hook-token-xyz".into()),
            database_url: Some("postgres://u:hunter2@db/x".into()),
            ..Config::default()
        };
        let text = format!("{:?}", entries(&config));
        for secret in [
            "super-secret-token-123456",
            "sk-ant-secret",
            "hunter2",
            "hunter3.example",
            "hook-token-xyz",
        ] {
            assert!(!text.contains(secret), "{secret} leaked");
        }
    }
}
