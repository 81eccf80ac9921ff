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

/// (variable, value, meaning, secret): one row per control-plane setting of
/// the one catalogue (`claudeops_config::SETTINGS`), in its order, so this page,
/// the README and the configuration cannot drift apart.
fn entries(c: &Config) -> Vec<(&'static str, String, &'static str, bool)> {
    let values = serde_json::to_value(c).unwrap_or_default();
    claudeops_config::SETTINGS
        .iter()
        .filter(|s| s.scope.control_plane())
        .map(|s| {
            let field = claudeops_config::catalogue::field_of_var(s.var);
            let value = values.get(&field).unwrap_or(&Value::Null);
            let shown = if s.secret {
                secret_value(s.var, value)
            } else {
                plain_value(value)
            };
            (s.var, shown, s.doc, s.secret)
        })
        .collect()
}

/// A secret as "set" or "not set"; for Apprise, how many URLs.
fn secret_value(var: &str, value: &Value) -> String {
    match value.as_str().filter(|v| !v.trim().is_empty()) {
        Some(urls) if var == "CLAUDEOPS_APPRISE_URLS" => {
            let n = urls.split(',').filter(|u| !u.trim().is_empty()).count();
            format!("{n} URL(s) set")
        }
        Some(_) => "set".to_owned(),
        None if var == "CLAUDEOPS_API_TOKEN" => "generated into the state dir".to_owned(),
        None => "not set".to_owned(),
    }
}

fn plain_value(value: &Value) -> String {
    match value {
        Value::Null => "not set".to_owned(),
        Value::String(s) if s.is_empty() => "(none)".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The config page's view of the upstream's model list.
pub fn models_view(state: &AppState, list: &crate::upstream::ModelList) -> ui::UpstreamModels {
    let config = &state.context.config;
    ui::UpstreamModels {
        upstream: list.upstream.clone(),
        fetched_at: list
            .fetched_at_ms
            .map(crate::clock::rfc3339)
            .unwrap_or_default(),
        error: list.error.clone(),
        ids: list.models.iter().map(|m| m.id.clone()).collect(),
        tiers: [
            (1, &config.tier1_model),
            (2, &config.tier2_model),
            (3, &config.tier3_model),
        ]
        .into_iter()
        .map(|(tier, model)| ui::TierModel {
            tier,
            model: model.clone(),
            listed: list.models.iter().any(|m| &m.id == model),
        })
        .collect(),
    }
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let list = state.upstream.cached().await;
    render(&state, &headers, &list, None)
}

/// `POST /config/models/refresh`: reads the list again (logged in, with the
/// form's CSRF token), then shows the page.
pub async fn refresh_models(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<crate::http::dashboard::CsrfForm>,
) -> Response {
    if !state
        .auth
        .form_ok(&headers, &form.csrf, crate::clock::now_ms())
    {
        return axum::response::IntoResponse::into_response(axum::response::Redirect::to("/login"));
    }
    let list = state.upstream.models(true).await;
    let flash = match &list.error {
        Some(error) => (
            ui::FlashLevel::Warning,
            format!("The list could not be read: {error}"),
        ),
        None => (
            ui::FlashLevel::Success,
            format!("{} models listed upstream.", list.models.len()),
        ),
    };
    render(&state, &headers, &list, Some(flash))
}

fn render(
    state: &AppState,
    headers: &HeaderMap,
    list: &crate::upstream::ModelList,
    flash: Option<(ui::FlashLevel, String)>,
) -> Response {
    let mut layout = layout(state, headers, ui::Nav::Config);
    if let Some((level, message)) = flash {
        layout = layout.with_flash(level, message);
    }
    let page = ui::ConfigPage {
        models: models_view(state, list),
        layout,
        entries: entries(&state.context.config)
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
    let map: Map<String, Value> = entries(&state.context.config)
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

    #[test]
    fn every_control_plane_setting_is_on_the_page_with_its_value() {
        let config = Config {
            interval: std::time::Duration::from_secs(600),
            apprise_urls: Some("json://127.0.0.1:9/a, json://127.0.0.1:9/b".into()),
            ..Config::default()
        };
        let rows = entries(&config);
        let wanted = claudeops_config::SETTINGS
            .iter()
            .filter(|s| s.scope.control_plane())
            .count();
        assert_eq!(rows.len(), wanted);
        let value = |var: &str| {
            rows.iter()
                .find(|r| r.0 == var)
                .map(|r| r.1.clone())
                .unwrap_or_default()
        };
        assert_eq!(value("CLAUDEOPS_INTERVAL"), "10m");
        assert_eq!(value("CLAUDEOPS_MAX_TIER"), "3");
        assert_eq!(value("CLAUDEOPS_COOLDOWN_RESTART_WINDOW"), "4h");
        assert_eq!(
            value("CLAUDEOPS_ALLOWED_TOOLS"),
            "Bash,Read,Grep,Glob,WebFetch"
        );
        assert_eq!(value("CLAUDEOPS_APPRISE_URLS"), "2 URL(s) set");
        assert_eq!(value("CLAUDEOPS_DATABASE_URL"), "not set");
        assert_eq!(value("CLAUDEOPS_API_TOKEN"), "generated into the state dir");
        // Every row has a value read from the configuration, not a blank.
        for (var, shown, _, _) in &rows {
            assert!(!shown.is_empty(), "{var}");
        }
    }
}
