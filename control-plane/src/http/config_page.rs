//! `GET /config` and `GET /api/v1/config`: the configuration the control plane
//! runs with. Secrets (the API token, the Anthropic key, a database URL that may
//! hold a password) appear only as "set" or "not set"; the original put its chat
//! API key into this page's HTML.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use claudeops_core::SiteName;
use claudeops_web_ui::model as ui;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::app::AppState;
use crate::config::Config;
use crate::http::api::{
    ApiError, ApiPath, ApiQuery, json_body, page_limit, page_offset, require_auth,
};
use crate::http::openapi::answers;
use crate::http::openapi::schemas;
use crate::http::pages::{html, layout};
use crate::runtime;

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
    let config = state.context.runtime.global();
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

#[utoipa::path(
    get,
    path = "/config",
    operation_id = "config_page",
    tag = "dashboard",
    summary = "The configuration page",
    description = "Every setting in effect (secrets as \"set\" or \"not set\"), the runtime form, the upstream's models and the audit trail.",
    responses((status = 200, description = "The page.", content_type = "text/html", body = String))
)]
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let list = state.upstream.cached().await;
    render(&state, &headers, &list, None, Vec::new()).await
}

/// `POST /config/models/refresh`: reads the list again (logged in, with the
/// form's CSRF token), then shows the page.
#[utoipa::path(
    post,
    path = "/config/models/refresh",
    operation_id = "refresh_models_form",
    tag = "forms",
    summary = "Read the upstream's model list again",
    request_body(content = crate::http::pages::CsrfForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        (status = 200, description = "The configuration page with the outcome.", content_type = "text/html", body = String),
        answers::ToLogin,
        answers::FormRejections,
    )
)]
pub async fn refresh_models(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<crate::http::pages::CsrfForm>,
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
    render(&state, &headers, &list, Some(flash), Vec::new()).await
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    list: &crate::upstream::ModelList,
    flash: Option<(ui::FlashLevel, String)>,
    problems: Vec<String>,
) -> Response {
    let mut layout = layout(state, headers, ui::Nav::Config);
    if let Some((level, message)) = flash {
        layout = layout.with_flash(level, message);
    }
    let runtime = &state.context.runtime;
    let page = ui::ConfigPage {
        models: models_view(state, list),
        layout,
        runtime: ui::RuntimeForm {
            problems,
            ..runtime_form(state, None)
        },
        site_overrides: runtime
            .site_overrides()
            .keys()
            .map(ToString::to_string)
            .collect(),
        changes: change_views(state).await,
        entries: entries(&runtime.global())
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

/// A value as the form shows it.
fn form_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The runtime form of the fleet (`site` `None`) or of a site.
fn runtime_form(state: &AppState, site: Option<&SiteName>) -> ui::RuntimeForm {
    let runtime = &state.context.runtime;
    let global = runtime.global();
    let (action, overrides): (String, Map<String, Value>) = match site {
        None => ("/config".to_owned(), Map::new()),
        Some(site) => (
            format!("/sites/{site}/settings"),
            runtime.site_overrides().remove(site).unwrap_or_default(),
        ),
    };
    let fields = runtime::fields(site.is_some())
        .map(|f| {
            let name = f.name;
            let effective = runtime::shown(&global, name);
            let (value, inherited) = if f.kind == runtime::Kind::Secret {
                let set = effective.as_bool().unwrap_or(false);
                (
                    String::new(),
                    if set { "set" } else { "not set" }.to_owned(),
                )
            } else if site.is_some() {
                (
                    overrides.get(name).map(form_value).unwrap_or_default(),
                    form_value(&effective),
                )
            } else {
                (form_value(&effective), String::new())
            };
            ui::RuntimeField {
                name: name.to_owned(),
                label: f.label.to_owned(),
                kind: f.kind.as_str().to_owned(),
                value,
                inherited,
                help: f.help.to_owned(),
            }
        })
        .collect();
    ui::RuntimeForm {
        action,
        per_site: site.is_some(),
        fields,
        problems: Vec::new(),
    }
}

/// The latest changes of the audit trail, for the pages.
async fn change_views(state: &AppState) -> Vec<ui::ConfigChangeView> {
    match state.context.store.config_changes(50, 0).await {
        Ok(changes) => changes
            .into_iter()
            .map(|c| ui::ConfigChangeView {
                at: crate::clock::rfc3339(c.at_ms),
                actor: c.actor,
                scope: c.scope,
                field: c.field,
                before: c.before.unwrap_or_default(),
                after: c.after.unwrap_or_default(),
            })
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "could not read the runtime settings' changes");
            Vec::new()
        }
    }
}

/// Who made a change (`Auth::actor`).
fn actor(state: &AppState, headers: &HeaderMap) -> String {
    state
        .auth
        .actor(headers, crate::clock::now_ms())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Applies a change and, when it touches notifications, rebuilds the notifier.
async fn change(
    state: &AppState,
    headers: &HeaderMap,
    site: Option<&SiteName>,
    patch: &Map<String, Value>,
) -> Result<(), ApiError> {
    let who = actor(state, headers);
    let runtime = &state.context.runtime;
    match runtime
        .change(
            state.context.store.as_ref(),
            &who,
            site,
            patch,
            crate::clock::now_ms(),
        )
        .await
    {
        Ok(_) => {}
        Err(runtime::ChangeError::Invalid(runtime::Invalid(problems))) => {
            return Err(ApiError::with_details(
                StatusCode::BAD_REQUEST,
                problems.join("; "),
                json!({ "problems": problems }),
            ));
        }
        Err(runtime::ChangeError::Store(error)) => return Err(error.into()),
    }
    if patch
        .keys()
        .any(|k| k == "apprise_urls" || k.starts_with("notify_"))
        && let Err(error) = state.notifications.reconfigure(&runtime.global()).await
    {
        tracing::warn!(%error, "notifications could not be restarted with the new settings");
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("saved, but notifications could not restart: {error}"),
        ));
    }
    tracing::info!(actor = %who, scope = ?site.map(ToString::to_string), fields = ?patch.keys().collect::<Vec<_>>(), "runtime settings changed");
    Ok(())
}

/// `GET /api/v1/config`: the original's fields (interval in seconds, tier
/// models, dry run, max tier, the three directories), then the other runtime
/// settings, the overrides of the fleet and of each site, and every
/// `CLAUDEOPS_*` setting in effect (secrets as "set" or "not set").
#[utoipa::path(
    get,
    path = "/api/v1/config",
    operation_id = "get_config",
    tag = "config",
    summary = "The fleet's configuration",
    description = "The original's fields (interval in seconds, tier models, dry run, max tier, the directories), the other runtime settings, the overrides of the fleet and of each site, and every `CLAUDEOPS_*` setting in effect (secrets as \"set\" or \"not set\").",
    responses((status = 200, description = "The configuration.", body = schemas::ConfigAnswer))
)]
pub async fn api(State(state): State<AppState>) -> Json<Value> {
    Json(config_json(&state))
}

fn config_json(state: &AppState) -> Value {
    let runtime = &state.context.runtime;
    let config = runtime.global();
    let mut out = Map::new();
    for name in runtime::global_fields() {
        out.insert(name.to_owned(), runtime::shown(&config, name));
    }
    out.insert(
        "state_dir".into(),
        json!(config.state_dir.display().to_string()),
    );
    out.insert(
        "results_dir".into(),
        json!(config.results_dir.display().to_string()),
    );
    out.insert(
        "repos_dir".into(),
        json!(config.repos_dir.display().to_string()),
    );
    out.insert(
        "overrides".into(),
        Value::Object(runtime.global_overrides()),
    );
    let sites: Map<String, Value> = runtime
        .site_overrides()
        .into_iter()
        .map(|(site, overrides)| (site.to_string(), Value::Object(overrides)))
        .collect();
    out.insert("site_overrides".into(), Value::Object(sites));
    let settings: Map<String, Value> = entries(&config)
        .into_iter()
        .map(|(name, value, _, _)| (name.to_owned(), Value::String(value)))
        .collect();
    out.insert("settings".into(), Value::Object(settings));
    Value::Object(out)
}

/// `PUT /api/v1/config`: changes the fleet's runtime settings. Only the fields
/// sent change; `null` removes an override. Answers as `GET`.
#[utoipa::path(
    put,
    path = "/api/v1/config",
    operation_id = "put_config",
    tag = "config",
    summary = "Change the fleet's runtime settings",
    description = "Only the fields sent change; `null` removes an override. Recorded in the audit trail. Answers as `GET`.",
    request_body(content = schemas::RuntimePatch, content_type = "application/json"),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "The configuration after the change.", body = schemas::ConfigAnswer),
        (status = 400, description = "Not a JSON object, or values refused (each in `problems`).", body = schemas::ChangeRefused),
        answers::NoValidToken,
        (status = 415, description = "The body is not `application/json`.", body = schemas::ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn put_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    require_auth(&state, &headers)?;
    let patch = json_body(body)?;
    change(&state, &headers, None, &patch).await?;
    Ok(Json(config_json(&state)))
}

fn site_of(site: &str) -> Result<SiteName, ApiError> {
    SiteName::new(site).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
}

fn site_json(state: &AppState, site: &SiteName) -> Value {
    let runtime = &state.context.runtime;
    let config = runtime.site(site);
    let mut out = Map::new();
    out.insert("site".into(), json!(site.as_str()));
    for name in runtime::site_fields() {
        out.insert(name.to_owned(), runtime::shown(&config, name));
    }
    out.insert(
        "overrides".into(),
        Value::Object(runtime.site_overrides().remove(site).unwrap_or_default()),
    );
    Value::Object(out)
}

/// `GET /api/v1/sites/{site}/config`: the settings in effect for a site and
/// its own overrides.
#[utoipa::path(
    get,
    path = "/api/v1/sites/{site}/config",
    operation_id = "get_site_config",
    tag = "config",
    summary = "A site's settings in effect and its overrides",
    params(("site" = String, Path, description = "The site's name: 1-63 of a-z, 0-9 and `-`, not starting with `-`.", pattern = "^[a-z0-9][a-z0-9-]{0,62}$")),
    responses(
        (status = 200, description = "The site's settings.", body = schemas::SiteConfigAnswer),
        (status = 400, description = "Not a site's name.", body = schemas::ApiErrorBody),
    )
)]
pub async fn site_api(
    State(state): State<AppState>,
    ApiPath(site): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let site = site_of(&site)?;
    Ok(Json(site_json(&state, &site)))
}

/// `PUT /api/v1/sites/{site}/config`: changes a site's overrides (interval,
/// tier models, dry run, max tier); `null` returns a field to the fleet's.
#[utoipa::path(
    put,
    path = "/api/v1/sites/{site}/config",
    operation_id = "put_site_config",
    tag = "config",
    summary = "Change a site's overrides",
    description = "`interval`, the tier models, `dry_run` and `max_tier`; `null` returns a field to the fleet's. Answers as `GET`.",
    params(("site" = String, Path, description = "The site's name: 1-63 of a-z, 0-9 and `-`, not starting with `-`.", pattern = "^[a-z0-9][a-z0-9-]{0,62}$")),
    request_body(content = schemas::RuntimePatch, content_type = "application/json"),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "The site's settings after the change.", body = schemas::SiteConfigAnswer),
        (status = 400, description = "Not a site's name, not a JSON object, or values refused (each in `problems`).", body = schemas::ChangeRefused),
        answers::NoValidToken,
        (status = 415, description = "The body is not `application/json`.", body = schemas::ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn put_site_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(site): ApiPath<String>,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    require_auth(&state, &headers)?;
    let site = site_of(&site)?;
    let patch = json_body(body)?;
    change(&state, &headers, Some(&site), &patch).await?;
    Ok(Json(site_json(&state, &site)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    limit: Option<u64>,
    offset: Option<u64>,
}

/// `GET /api/v1/config/changes`: the audit trail, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/config/changes",
    operation_id = "config_changes",
    tag = "config",
    summary = "The audit trail of runtime settings, newest first",
    params(ChangesQuery),
    responses(
        (status = 200, description = "The changes.", body = schemas::ConfigChanges),
        answers::ApiReadErrors,
    )
)]
pub async fn changes_api(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ChangesQuery>,
) -> Result<Json<Value>, ApiError> {
    let changes = state
        .context
        .store
        .config_changes(page_limit(q.limit, 100, 1000), page_offset(q.offset))
        .await?;
    let changes: Vec<Value> = changes
        .into_iter()
        .map(|c| {
            json!({
                "id": c.id, "at": crate::clock::rfc3339(c.at_ms), "actor": c.actor,
                "scope": c.scope, "field": c.field, "before": c.before, "after": c.after,
            })
        })
        .collect();
    Ok(Json(json!({ "changes": changes })))
}

/// The patch a form asks for: only what differs from what is in effect (the
/// fleet's form), or from the site's overrides (a blank field inherits).
fn form_patch(
    state: &AppState,
    site: Option<&SiteName>,
    form: &std::collections::HashMap<String, String>,
) -> Map<String, Value> {
    let runtime = &state.context.runtime;
    let mut patch = Map::new();
    let (current, overrides) = match site {
        None => (runtime.global(), Map::new()),
        Some(s) => (
            runtime.site(s),
            runtime.site_overrides().remove(s).unwrap_or_default(),
        ),
    };
    for field in runtime::fields(site.is_some()) {
        let (name, kind) = (field.name, field.kind);
        if kind == runtime::Kind::Secret {
            let submitted = form
                .get(name)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default();
            if form.contains_key(&format!("clear_{name}")) {
                patch.insert(name.to_owned(), json!(""));
            } else if !submitted.is_empty() {
                patch.insert(name.to_owned(), json!(submitted));
            }
            continue;
        }
        // A field the form did not send is left alone.
        let Some(submitted) = form.get(name).map(|v| v.trim().to_owned()) else {
            continue;
        };
        let value = match kind {
            runtime::Kind::Bool => match submitted.as_str() {
                "true" => json!(true),
                "false" => json!(false),
                _ => json!(submitted),
            },
            runtime::Kind::Tier | runtime::Kind::Dollars => {
                serde_json::from_str::<Value>(&submitted).unwrap_or(json!(submitted))
            }
            runtime::Kind::Seconds => submitted
                .parse::<u64>()
                .map_or_else(|_| json!(submitted), |n| json!(n)),
            runtime::Kind::Text | runtime::Kind::Secret => json!(submitted),
        };
        if site.is_some() {
            match (submitted.is_empty(), overrides.get(name)) {
                (true, Some(_)) => {
                    patch.insert(name.to_owned(), Value::Null);
                }
                (true, None) => {}
                (false, Some(old)) if form_value(old) == submitted => {}
                (false, _) => {
                    patch.insert(name.to_owned(), value);
                }
            }
        } else if form_value(&runtime::shown(&current, name)) != submitted {
            patch.insert(name.to_owned(), value);
        }
    }
    patch
}

/// `POST /config`: the fleet's runtime form (logged in, CSRF-checked).
#[utoipa::path(
    post,
    path = "/config",
    operation_id = "config_form",
    tag = "forms",
    summary = "Change the fleet's runtime settings",
    request_body(content = schemas::RuntimeForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        (status = 200, description = "The page, with what changed.", content_type = "text/html", body = String),
        answers::ToLogin,
        (status = 400, description = "Values refused: the page with each problem.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable: the page with the reason.", content_type = "text/html", body = String),
        answers::FormRejections,
    )
)]
pub async fn post_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Response {
    submit(&state, &headers, None, &form).await
}

/// A runtime form, the fleet's or a site's: the login's CSRF token checked,
/// only what differs from what is in effect applied, then the page again with
/// what was saved, or (400) every problem and nothing changed.
async fn submit(
    state: &AppState,
    headers: &HeaderMap,
    site: Option<&SiteName>,
    form: &std::collections::HashMap<String, String>,
) -> Response {
    let csrf = form.get("csrf").cloned().unwrap_or_default();
    if !state.auth.form_ok(headers, &csrf, crate::clock::now_ms()) {
        return axum::response::IntoResponse::into_response(axum::response::Redirect::to("/login"));
    }
    let patch = form_patch(state, site, form);
    let (flash, problems, status) = if patch.is_empty() {
        let flash = (ui::FlashLevel::Info, "Nothing changed.".to_owned());
        (Some(flash), Vec::new(), StatusCode::OK)
    } else {
        match change(state, headers, site, &patch).await {
            Ok(()) => (
                Some((ui::FlashLevel::Success, saved(&patch))),
                Vec::new(),
                StatusCode::OK,
            ),
            Err(error) => (None, problems_of(&error), error.status()),
        }
    };
    let mut response = match site {
        Some(site) => render_site(state, headers, site, flash, problems).await,
        None => {
            let list = state.upstream.cached().await;
            render(state, headers, &list, flash, problems).await
        }
    };
    *response.status_mut() = status;
    response
}

/// "Saved: a, b." with the changed settings in name order.
fn saved(patch: &Map<String, Value>) -> String {
    let mut names: Vec<&str> = patch.keys().map(String::as_str).collect();
    names.sort_unstable();
    format!("Saved: {}.", names.join(", "))
}

fn problems_of(error: &ApiError) -> Vec<String> {
    error.details()["problems"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_else(|| vec![error.message()])
}

async fn render_site(
    state: &AppState,
    headers: &HeaderMap,
    site: &SiteName,
    flash: Option<(ui::FlashLevel, String)>,
    problems: Vec<String>,
) -> Response {
    let mut layout = layout(state, headers, ui::Nav::Sites);
    if let Some((level, message)) = flash {
        layout = layout.with_flash(level, message);
    }
    let scope = runtime::site_scope(site);
    let page = ui::SiteSettingsPage {
        layout,
        site: site.to_string(),
        runtime: ui::RuntimeForm {
            problems,
            ..runtime_form(state, Some(site))
        },
        changes: change_views(state)
            .await
            .into_iter()
            .filter(|c| c.scope == scope)
            .collect(),
    };
    html(state.ui.site_settings(&page))
}

/// `GET /sites/{site}/settings`: a site's overrides.
#[utoipa::path(
    get,
    path = "/sites/{site}/settings",
    operation_id = "site_settings_page",
    tag = "dashboard",
    summary = "A site's settings page",
    params(("site" = String, Path, description = "The site's name: 1-63 of a-z, 0-9 and `-`, not starting with `-`.", pattern = "^[a-z0-9][a-z0-9-]{0,62}$")),
    responses(
        answers::Page,
        (status = 400, description = "The path cannot be read.", content_type = "text/plain", body = String),
        (status = 404, description = "Not a site's name.", content_type = "text/html", body = String),
    )
)]
pub async fn site_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(site): axum::extract::Path<String>,
) -> Response {
    match SiteName::new(site) {
        Ok(site) => render_site(&state, &headers, &site, None, Vec::new()).await,
        Err(_) => crate::http::pages::not_found(State(state), headers).await,
    }
}

/// `POST /sites/{site}/settings`: a site's form (logged in, CSRF-checked).
#[utoipa::path(
    post,
    path = "/sites/{site}/settings",
    operation_id = "site_settings_form",
    tag = "forms",
    summary = "Change a site's overrides",
    params(("site" = String, Path, description = "The site's name: 1-63 of a-z, 0-9 and `-`, not starting with `-`.", pattern = "^[a-z0-9][a-z0-9-]{0,62}$")),
    request_body(content = schemas::RuntimeForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        (status = 200, description = "The page, with what changed.", content_type = "text/html", body = String),
        answers::ToLogin,
        (status = 400, description = "Values refused: the page with each problem.", content_type = "text/html", body = String),
        (status = 404, description = "Not a site's name.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable: the page with the reason.", content_type = "text/html", body = String),
        answers::FormRejections,
    )
)]
pub async fn post_site_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(site): axum::extract::Path<String>,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Response {
    match SiteName::new(site) {
        Ok(site) => submit(&state, &headers, Some(&site), &form).await,
        Err(_) => crate::http::pages::not_found(State(state), headers).await,
    }
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
