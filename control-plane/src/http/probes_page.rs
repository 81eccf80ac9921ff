//! `/sites/{site}/probes`: a site's probes page. Repo-defined probes are shown
//! read-only with where they come from; dashboard probes can be added, edited,
//! paused, resumed and deleted with CSRF-checked forms (delete asks again in a
//! `<details>`). The work is `crate::ui_probes`'s.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use claudeops_core::SiteName;
use claudeops_web_ui as ui;
use serde::Deserialize;

use crate::app::AppState;
use crate::clock::now_ms;
use crate::http::openapi::answers;
use crate::http::pages::{html, layout};
use crate::ui_probes::{KINDS, ProbeError, ProbeInput, ProbeView, UiProbes, input_of};

const SITE_PARAM: &str = "The site's name: 1-63 of a-z, 0-9 and `-`, not starting with `-`.";

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Fill the form with this dashboard probe, to edit it.
    edit: Option<String>,
}

/// The form's fields, as typed.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ProbeFormBody {
    csrf: String,
    name: Option<String>,
    kind: Option<String>,
    target: Option<String>,
    interval: Option<String>,
    /// One condition per line.
    conditions: Option<String>,
    service: Option<String>,
}

/// Pause (`true`) or resume (`false`).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PauseFormBody {
    csrf: String,
    paused: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeleteFormBody {
    csrf: String,
}

fn probe_row(p: &ProbeView) -> ui::SiteProbeView {
    ui::SiteProbeView {
        name: p.name.clone(),
        kind: p.kind.clone(),
        source: p.source.clone(),
        target: p.target.clone(),
        interval_secs: p.interval_secs,
        conditions: p.conditions.clone(),
        paused: p.paused,
        editable: p.editable,
        updated_by: p.updated_by.clone().unwrap_or_default(),
        updated_at_ms: p.updated_at_ms.unwrap_or(0),
    }
}

fn form_of(site: &SiteName, editing: Option<&str>, input: &ProbeInput) -> ui::ProbeForm {
    let action = match editing {
        Some(name) => format!("/sites/{site}/probes/{}", url_segment(name)),
        None => format!("/sites/{site}/probes"),
    };
    ui::ProbeForm {
        action,
        editing: editing.unwrap_or_default().to_owned(),
        name: input.name.clone(),
        kind: if input.kind.is_empty() {
            "http".to_owned()
        } else {
            input.kind.clone()
        },
        target: input.target.clone(),
        interval: input.interval.clone(),
        conditions: input.conditions.join("\n"),
        service: input.service.clone(),
        errors: Default::default(),
    }
}

/// A probe name as one path segment.
fn url_segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    site: &SiteName,
    form: ui::ProbeForm,
    flash: Option<(ui::FlashLevel, String)>,
) -> Response {
    let probes = match UiProbes::new(&state.context).list(site).await {
        Ok(p) => p,
        Err(error) => {
            tracing::error!(%error, "could not list a site's probes");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable",
            )
                .into_response();
        }
    };
    // Not a live page: a refresh would wipe what is being typed in its forms.
    let mut layout = layout(state, headers, ui::Nav::None);
    if let Some((level, message)) = flash {
        layout = layout.with_flash(level, message);
    }
    let page = ui::SiteProbesPage {
        layout,
        site: site.to_string(),
        probes: probes.iter().map(probe_row).collect(),
        form,
        kinds: KINDS.iter().map(|k| (*k).to_owned()).collect(),
    };
    html(state.ui.site_probes(&page))
}

/// `GET /sites/{site}/probes`: the page (with `?edit=NAME`, the edit form).
#[utoipa::path(
    get,
    path = "/sites/{site}/probes",
    operation_id = "site_probes_page",
    tag = "dashboard",
    summary = "A site's probes page: repo and dashboard probes, and the add form",
    params(("site" = String, Path, description = SITE_PARAM, pattern = "^[a-z0-9][a-z0-9-]{0,62}$"), PageQuery),
    responses(
        answers::Page,
        (status = 400, description = "The path or query cannot be read.", content_type = "text/plain", body = String),
        (status = 404, description = "Not a site's name.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/plain", body = String),
    )
)]
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(site): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let Ok(site) = SiteName::new(site) else {
        return crate::http::pages::not_found(State(state), headers).await;
    };
    let service = UiProbes::new(&state.context);
    let form = match q.edit.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => match service.get(&site, name).await {
            Ok(probe) => form_of(&site, Some(name), &input_of(&probe)),
            Err(_) => form_of(&site, None, &ProbeInput::default()),
        },
        None => form_of(&site, None, &ProbeInput::default()),
    };
    render(&state, &headers, &site, form, None).await
}

fn input_from(form: &ProbeFormBody, name: Option<&str>) -> ProbeInput {
    ProbeInput {
        name: name
            .map(str::to_owned)
            .or_else(|| form.name.clone())
            .unwrap_or_default(),
        kind: form.kind.clone().unwrap_or_default(),
        target: form.target.clone().unwrap_or_default(),
        interval: form.interval.clone().unwrap_or_default(),
        conditions: form
            .conditions
            .as_deref()
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        service: form.service.clone().unwrap_or_default(),
    }
}

fn actor(state: &AppState, headers: &HeaderMap) -> String {
    state
        .auth
        .actor(headers, now_ms())
        .unwrap_or_else(|| "dashboard".to_owned())
}

fn back(site: &SiteName) -> Response {
    Redirect::to(&format!("/sites/{site}/probes")).into_response()
}

/// A refused form: the page again, with what was typed and each field's problem.
async fn refused(
    state: &AppState,
    headers: &HeaderMap,
    site: &SiteName,
    editing: Option<&str>,
    input: &ProbeInput,
    error: ProbeError,
) -> Response {
    let (status, errors) = match error {
        ProbeError::Invalid(fields) => (StatusCode::BAD_REQUEST, fields),
        ProbeError::NotFound(..) => {
            let flash = (ui::FlashLevel::Error, error.to_string());
            let mut r = render(
                state,
                headers,
                site,
                form_of(site, None, &ProbeInput::default()),
                Some(flash),
            )
            .await;
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        }
        ProbeError::Store(e) => {
            tracing::error!(error = %e, "could not change a dashboard probe");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable",
            )
                .into_response();
        }
    };
    let mut form = form_of(site, editing, input);
    form.errors = errors;
    let mut response = render(state, headers, site, form, None).await;
    *response.status_mut() = status;
    response
}

/// `POST /sites/{site}/probes`: adds a probe (logged in, CSRF-checked).
#[utoipa::path(
    post,
    path = "/sites/{site}/probes",
    operation_id = "site_probes_add_form",
    tag = "forms",
    summary = "Add a probe to a site",
    params(("site" = String, Path, description = SITE_PARAM, pattern = "^[a-z0-9][a-z0-9-]{0,62}$")),
    request_body(content = ProbeFormBody, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        (status = 303, description = "Added: back to the page; no login or a wrong CSRF token: to `/login`.", headers(("location" = String, description = "Where to go."))),
        (status = 400, description = "Refused: the page with what was typed and each field's problem.", content_type = "text/html", body = String),
        (status = 404, description = "Not a site's name.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/plain", body = String),
        answers::FormRejections,
    )
)]
pub async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(site): Path<String>,
    axum::Form(form): axum::Form<ProbeFormBody>,
) -> Response {
    if !state.auth.form_ok(&headers, &form.csrf, now_ms()) {
        return Redirect::to("/login").into_response();
    }
    let Ok(site) = SiteName::new(site) else {
        return crate::http::pages::not_found(State(state), headers).await;
    };
    let input = input_from(&form, None);
    match UiProbes::new(&state.context)
        .add(&site, &input, &actor(&state, &headers))
        .await
    {
        Ok(_) => back(&site),
        Err(error) => refused(&state, &headers, &site, None, &input, error).await,
    }
}

/// `POST /sites/{site}/probes/{name}`: saves an edit of a dashboard probe.
#[utoipa::path(
    post,
    path = "/sites/{site}/probes/{name}",
    operation_id = "site_probes_edit_form",
    tag = "forms",
    summary = "Change a probe added from the dashboard",
    params(
        ("site" = String, Path, description = SITE_PARAM, pattern = "^[a-z0-9][a-z0-9-]{0,62}$"),
        ("name" = String, Path, description = "The probe's name."),
    ),
    request_body(content = ProbeFormBody, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        (status = 303, description = "Saved: back to the page; no login or a wrong CSRF token: to `/login`.", headers(("location" = String, description = "Where to go."))),
        (status = 400, description = "Refused: the page with what was typed and each field's problem.", content_type = "text/html", body = String),
        (status = 404, description = "Not a site's name, or no dashboard probe of that name.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/plain", body = String),
        answers::FormRejections,
    )
)]
pub async fn edit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((site, name)): Path<(String, String)>,
    axum::Form(form): axum::Form<ProbeFormBody>,
) -> Response {
    if !state.auth.form_ok(&headers, &form.csrf, now_ms()) {
        return Redirect::to("/login").into_response();
    }
    let Ok(site) = SiteName::new(site) else {
        return crate::http::pages::not_found(State(state), headers).await;
    };
    let input = input_from(&form, Some(&name));
    match UiProbes::new(&state.context)
        .edit(&site, &name, &input, &actor(&state, &headers))
        .await
    {
        Ok(_) => back(&site),
        Err(error) => refused(&state, &headers, &site, Some(&name), &input, error).await,
    }
}

/// `POST /sites/{site}/probes/{name}/paused`: pauses or resumes it.
#[utoipa::path(
    post,
    path = "/sites/{site}/probes/{name}/paused",
    operation_id = "site_probes_pause_form",
    tag = "forms",
    summary = "Pause or resume a probe added from the dashboard",
    params(
        ("site" = String, Path, description = SITE_PARAM, pattern = "^[a-z0-9][a-z0-9-]{0,62}$"),
        ("name" = String, Path, description = "The probe's name."),
    ),
    request_body(content = PauseFormBody, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        (status = 303, description = "Done: back to the page; no login or a wrong CSRF token: to `/login`.", headers(("location" = String, description = "Where to go."))),
        (status = 404, description = "Not a site's name, or no dashboard probe of that name.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/plain", body = String),
        answers::FormRejections,
    )
)]
pub async fn pause(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((site, name)): Path<(String, String)>,
    axum::Form(form): axum::Form<PauseFormBody>,
) -> Response {
    if !state.auth.form_ok(&headers, &form.csrf, now_ms()) {
        return Redirect::to("/login").into_response();
    }
    let Ok(site) = SiteName::new(site) else {
        return crate::http::pages::not_found(State(state), headers).await;
    };
    let paused = form.paused.as_deref() != Some("false");
    match UiProbes::new(&state.context)
        .set_paused(&site, &name, paused, &actor(&state, &headers))
        .await
    {
        Ok(_) => back(&site),
        Err(error) => refused(&state, &headers, &site, None, &ProbeInput::default(), error).await,
    }
}

/// `POST /sites/{site}/probes/{name}/delete`: deletes it (the page asks first).
#[utoipa::path(
    post,
    path = "/sites/{site}/probes/{name}/delete",
    operation_id = "site_probes_delete_form",
    tag = "forms",
    summary = "Delete a probe added from the dashboard",
    params(
        ("site" = String, Path, description = SITE_PARAM, pattern = "^[a-z0-9][a-z0-9-]{0,62}$"),
        ("name" = String, Path, description = "The probe's name."),
    ),
    request_body(content = DeleteFormBody, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        (status = 303, description = "Deleted: back to the page; no login or a wrong CSRF token: to `/login`.", headers(("location" = String, description = "Where to go."))),
        (status = 404, description = "Not a site's name, or no dashboard probe of that name.", content_type = "text/html", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/plain", body = String),
        answers::FormRejections,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((site, name)): Path<(String, String)>,
    axum::Form(form): axum::Form<DeleteFormBody>,
) -> Response {
    if !state.auth.form_ok(&headers, &form.csrf, now_ms()) {
        return Redirect::to("/login").into_response();
    }
    let Ok(site) = SiteName::new(site) else {
        return crate::http::pages::not_found(State(state), headers).await;
    };
    match UiProbes::new(&state.context)
        .delete(&site, &name, &actor(&state, &headers))
        .await
    {
        Ok(()) => back(&site),
        Err(error) => refused(&state, &headers, &site, None, &ProbeInput::default(), error).await,
    }
}
