//! Maintenance windows (page, forms, API) and an incident's own page: its
//! timeline and the acknowledgement (form and API).

use axum::Form;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use claudeops_core::health::{IncidentAck, MaintenanceWindow};
use claudeops_store::StoreError;
use claudeops_web_ui::model as ui;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::clock::{now_ms, rfc3339};
use crate::http::api::{ApiError, ApiPath, json_body, require_auth, who};
use crate::http::dashboard::incident_view;
use crate::http::openapi::answers;
use crate::http::openapi::schemas::ApiErrorBody;
use crate::http::pages::{CsrfForm, error_page, html, layout, maintenance_view};
use crate::incidents::TimelineItem;
use crate::maintenance::{MaintenanceError, WindowRequest};

/// A maintenance window, as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WindowJson {
    pub id: i64,
    pub site: String,
    /// `null`: every service of the site.
    pub service: Option<String>,
    pub starts_at: String,
    pub ends_at: String,
    pub reason: String,
    pub created_by: String,
    /// In effect now (else to come).
    pub active: bool,
}

impl WindowJson {
    fn new(w: &MaintenanceWindow, now_ms: i64) -> WindowJson {
        WindowJson {
            id: w.id,
            site: w.site.to_string(),
            service: w.service.clone(),
            starts_at: rfc3339(w.starts_at_ms),
            ends_at: rfc3339(w.ends_at_ms),
            reason: w.reason.clone(),
            created_by: w.created_by.clone(),
            active: w.active(now_ms),
        }
    }
}

/// `{"windows": [...]}`: the windows in effect and to come.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WindowsJson {
    pub windows: Vec<WindowJson>,
}

/// A window to add: from `starts_at` (default now) until `ends_at`, or for
/// `duration` ("1h", "30m").
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowBody {
    pub site: String,
    /// Empty or absent: every service of the site.
    pub service: Option<String>,
    /// RFC 3339; default now.
    pub starts_at: Option<String>,
    /// RFC 3339; or give `duration`.
    pub ends_at: Option<String>,
    /// "1h", "30m", "2h30m"; or give `ends_at`.
    pub duration: Option<String>,
    pub reason: String,
}

fn millis(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn parse_time(field: &str, text: &str) -> Result<i64, String> {
    humantime::parse_rfc3339_weak(text.trim())
        .map(millis)
        .map_err(|e| format!("{field}: {e} (use RFC 3339, e.g. 2026-12-05T10:00:00Z)"))
}

fn parse_duration(text: &str) -> Result<i64, String> {
    humantime::parse_duration(text.trim())
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .map_err(|e| format!("duration: {e} (e.g. 1h, 30m, 2h30m)"))
}

fn request_of(body: WindowBody, now: i64) -> Result<WindowRequest, String> {
    let starts_at_ms = match body.starts_at.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(text) => parse_time("starts_at", text)?,
        None => now,
    };
    let ends_at_ms = match (body.ends_at.as_deref(), body.duration.as_deref()) {
        (Some(end), None) => parse_time("ends_at", end)?,
        (None, Some(duration)) => starts_at_ms.saturating_add(parse_duration(duration)?),
        _ => return Err("give either ends_at or duration".to_owned()),
    };
    Ok(WindowRequest {
        site: body.site,
        service: body.service,
        starts_at_ms,
        ends_at_ms,
        reason: body.reason,
    })
}

fn refused(error: MaintenanceError) -> ApiError {
    match error {
        MaintenanceError::Invalid(message) => ApiError::new(StatusCode::BAD_REQUEST, message),
        MaintenanceError::Store(error) => ApiError::from(error),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/maintenance",
    operation_id = "list_maintenance",
    tag = "health",
    summary = "Maintenance windows in effect and to come",
    responses(
        (status = 200, description = "The windows, by start.", body = WindowsJson),
        answers::DatabaseUnavailable,
    )
)]
pub async fn list_api(State(state): State<AppState>) -> Result<Json<WindowsJson>, ApiError> {
    let now = now_ms();
    let windows = state.maintenance.refresh(now).await?;
    Ok(Json(WindowsJson {
        windows: windows.iter().map(|w| WindowJson::new(w, now)).collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/maintenance",
    operation_id = "add_maintenance",
    tag = "health",
    summary = "Start or plan a maintenance window of a site or one service",
    description = "While it lasts, failures open no incident, start no session and send no notification; probes keep running. 30 days at most.",
    request_body(content = WindowBody, content_type = "application/json"),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 201, description = "Added.", body = WindowJson),
        (status = 400, description = "The body cannot be read, or a value is refused.", body = ApiErrorBody),
        answers::NoValidToken,
        (status = 415, description = "The body is not `application/json`.", body = ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn add_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<WindowBody>, JsonRejection>,
) -> Result<(StatusCode, Json<WindowJson>), ApiError> {
    require_auth(&state, &headers)?;
    let body = json_body(body)?;
    let now = now_ms();
    let request = request_of(body, now).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))?;
    let window = state
        .maintenance
        .add(request, &who(&state, &headers), now)
        .await
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json(WindowJson::new(&window, now))))
}

#[utoipa::path(
    post,
    path = "/api/v1/maintenance/{id}/end",
    operation_id = "end_maintenance",
    tag = "health",
    summary = "End a maintenance window now (or cancel one to come)",
    params(("id" = i64, Path, description = "The window's id.")),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 204, description = "Ended."),
        (status = 400, description = "The id is not a number.", body = ApiErrorBody),
        answers::NoValidToken,
        (status = 404, description = "No such window in effect or to come.", body = ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn end_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    require_auth(&state, &headers)?;
    if state
        .maintenance
        .end(id, &who(&state, &headers), now_ms())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no maintenance window #{id} in effect or to come"),
        ))
    }
}

async fn maintenance_page(
    state: &AppState,
    headers: &HeaderMap,
    form: ui::MaintenanceForm,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let windows = state.maintenance.refresh(now).await?;
    let mut sites: Vec<String> = state
        .queries
        .workers()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|w| w.site.to_string())
        .collect();
    sites.sort();
    sites.dedup();
    let page = ui::MaintenancePage {
        layout: layout(state, headers, ui::Nav::Maintenance),
        now_ms: now,
        windows: windows.iter().map(|w| maintenance_view(w, now)).collect(),
        sites,
        form,
    };
    let mut response = html(state.ui.maintenance(&page));
    *response.status_mut() = status;
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/maintenance",
    operation_id = "maintenance_page",
    tag = "dashboard",
    summary = "The maintenance page: windows in effect and to come, and a form for a new one",
    responses(answers::Page, answers::DatabaseUnavailable)
)]
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let form = ui::MaintenanceForm {
        duration: "1h".to_owned(),
        ..ui::MaintenanceForm::default()
    };
    maintenance_page(&state, &headers, form, StatusCode::OK).await
}

/// The new-window form.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct WindowForm {
    #[serde(default)]
    site: String,
    #[serde(default)]
    service: String,
    /// `YYYY-MM-DDTHH:MM` in UTC; empty: now.
    #[serde(default)]
    starts: String,
    #[serde(default)]
    duration: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    csrf: String,
}

#[utoipa::path(
    post,
    path = "/maintenance",
    operation_id = "add_maintenance_form",
    tag = "forms",
    summary = "Start or plan a maintenance window",
    request_body(content = WindowForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        (status = 303, description = "No login, or a wrong CSRF token: to `/login`; added: to `/maintenance`.", headers(("location" = String, description = "Where to go."))),
        (status = 400, description = "A value is refused: the form again, as typed, with the reason.", content_type = "text/html", body = String),
        answers::DatabaseUnavailable,
        answers::FormRejections,
    )
)]
pub async fn add_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<WindowForm>,
) -> Result<Response, ApiError> {
    if !state.auth.form_ok(&headers, &form.csrf, now_ms()) {
        return Ok(Redirect::to("/login").into_response());
    }
    let now = now_ms();
    let starts = form.starts.trim();
    let body = WindowBody {
        site: form.site.clone(),
        service: Some(form.service.clone()),
        starts_at: (!starts.is_empty()).then(|| {
            // The form's datetime-local is UTC without a zone.
            let with_seconds = if starts.len() == 16 {
                format!("{starts}:00")
            } else {
                starts.to_owned()
            };
            format!("{with_seconds}Z")
        }),
        ends_at: None,
        duration: Some(form.duration.clone()),
        reason: form.reason.clone(),
    };
    let result = match request_of(body, now) {
        Ok(request) => state
            .maintenance
            .add(request, &who(&state, &headers), now)
            .await
            .map_err(|e| match e {
                MaintenanceError::Invalid(m) => Ok(m),
                MaintenanceError::Store(s) => Err(s),
            }),
        Err(message) => Err(Ok(message)),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/maintenance").into_response()),
        Err(Ok(message)) => {
            let typed = ui::MaintenanceForm {
                site: form.site,
                service: form.service,
                starts: form.starts,
                duration: form.duration,
                reason: form.reason,
                error: Some(format!("Not started: {message}")),
            };
            maintenance_page(&state, &headers, typed, StatusCode::BAD_REQUEST).await
        }
        Err(Err(store)) => Err(ApiError::from(store)),
    }
}

#[utoipa::path(
    post,
    path = "/maintenance/{id}/end",
    operation_id = "end_maintenance_form",
    tag = "forms",
    summary = "End a maintenance window now (or cancel one to come)",
    params(("id" = i64, Path, description = "The window's id.")),
    request_body(content = CsrfForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        (status = 303, description = "No login, or a wrong CSRF token: to `/login`; done: to `/maintenance`.", headers(("location" = String, description = "Where to go."))),
        answers::IdNotANumber,
        answers::DatabaseUnavailable,
        answers::FormRejections,
    )
)]
pub async fn end_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    if !state.auth.form_ok(&headers, &form.csrf, now_ms()) {
        return Ok(Redirect::to("/login").into_response());
    }
    state
        .maintenance
        .end(id, &who(&state, &headers), now_ms())
        .await?;
    Ok(Redirect::to("/maintenance").into_response())
}

/// One entry of an incident's timeline.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TimelineJson {
    pub at: String,
    /// `opened`, `session`, `action`, `event`, `notification`, `acknowledged`, `resolved`.
    pub kind: String,
    pub text: String,
    /// A page about it (a session's), if any.
    pub link: Option<String>,
}

/// An incident with its timeline and acknowledgement.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IncidentDetailJson {
    pub id: i64,
    pub site: String,
    pub service: String,
    /// `open` or `resolved`.
    pub status: String,
    pub resolution: Option<String>,
    pub probes: Vec<String>,
    pub opened_at: String,
    pub resolved_at: Option<String>,
    /// Open for so long (till now), or lasted so long.
    pub duration_seconds: i64,
    pub session_id: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
    pub timeline: Vec<TimelineJson>,
}

fn duration_ms(incident: &claudeops_core::health::Incident, now: i64) -> i64 {
    (incident.resolved_at_ms.unwrap_or(now) - incident.opened_at_ms).max(0)
}

#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    operation_id = "get_incident",
    tag = "health",
    summary = "An incident with its duration, acknowledgement and timeline",
    params(("id" = i64, Path, description = "The incident's id.")),
    responses(
        (status = 200, description = "The incident.", body = IncidentDetailJson),
        (status = 400, description = "The id is not a number.", body = ApiErrorBody),
        (status = 404, description = "No such incident.", body = ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn incident_api(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<IncidentDetailJson>, ApiError> {
    let Some((incident, ack, timeline)) = state.incidents.timeline(id).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no incident #{id}"),
        ));
    };
    let now = now_ms();
    Ok(Json(IncidentDetailJson {
        id: incident.id,
        site: incident.site.to_string(),
        service: incident.service.clone(),
        status: incident.status.as_str().to_owned(),
        resolution: incident.resolution.map(|r| r.as_str().to_owned()),
        probes: incident.probes.clone(),
        opened_at: rfc3339(incident.opened_at_ms),
        resolved_at: incident.resolved_at_ms.map(rfc3339),
        duration_seconds: duration_ms(&incident, now) / 1000,
        session_id: incident.session_id,
        acknowledged_by: ack.as_ref().map(|a| a.by.clone()),
        acknowledged_at: ack.as_ref().map(|a| rfc3339(a.at_ms)),
        timeline: timeline
            .into_iter()
            .map(|t| TimelineJson {
                at: rfc3339(t.at_ms),
                kind: t.kind.to_owned(),
                text: t.text,
                link: t.link,
            })
            .collect(),
    }))
}

fn entry(t: TimelineItem) -> ui::TimelineEntry {
    ui::TimelineEntry {
        at_ms: t.at_ms,
        kind: t.kind.to_owned(),
        text: t.text,
        link: t.link,
    }
}

#[utoipa::path(
    get,
    path = "/incidents/{id}",
    operation_id = "incident_page",
    tag = "dashboard",
    summary = "An incident: its duration, timeline and acknowledgement",
    params(("id" = i64, Path, description = "The incident's id.")),
    responses(
        answers::Page,
        answers::IdNotANumber,
        (status = 404, description = "No such incident.", content_type = "text/html", body = String),
        answers::DatabaseUnavailable,
    )
)]
pub async fn incident_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let Some((incident, ack, timeline)) = state.incidents.timeline(id).await? else {
        return Ok(error_page(
            &state,
            &headers,
            StatusCode::NOT_FOUND,
            "Not found",
            format!("There is no incident #{id}."),
        ));
    };
    let now = now_ms();
    let silenced_by = state
        .maintenance
        .silencing(&incident.site, &incident.service, now)
        .await
        .map(|w| maintenance_view(&w, now));
    let mut view = incident_view(&incident);
    view.acknowledged_by = ack.map(|a: IncidentAck| a.by);
    let page = ui::IncidentPage {
        layout: layout(&state, &headers, ui::Nav::Incidents),
        now_ms: now,
        duration_ms: duration_ms(&incident, now),
        incident: view,
        timeline: timeline.into_iter().map(entry).collect(),
        silenced_by,
    };
    Ok(html(state.ui.incident(&page)))
}

#[utoipa::path(
    post,
    path = "/incidents/{id}/acknowledge",
    operation_id = "acknowledge_incident_form",
    tag = "forms",
    summary = "Acknowledge an incident: you are on it; its reminders stop",
    params(("id" = i64, Path, description = "The incident's id.")),
    request_body(content = CsrfForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        (status = 303, description = "No login, or a wrong CSRF token: to `/login`; done: to the incident.", headers(("location" = String, description = "Where to go."))),
        answers::IdNotANumber,
        (status = 404, description = "No such incident.", body = ApiErrorBody),
        answers::DatabaseUnavailable,
        answers::FormRejections,
    )
)]
pub async fn acknowledge_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    if !state.auth.form_ok(&headers, &form.csrf, now_ms()) {
        return Ok(Redirect::to("/login").into_response());
    }
    state
        .incidents
        .acknowledge(id, &who(&state, &headers))
        .await
        .map_err(not_found_incident(id))?;
    Ok(Redirect::to(&format!("/incidents/{id}")).into_response())
}

fn not_found_incident(id: i64) -> impl Fn(StoreError) -> ApiError {
    move |error| match error {
        StoreError::NotFound => ApiError::new(StatusCode::NOT_FOUND, format!("no incident #{id}")),
        other => ApiError::from(other),
    }
}

/// The acknowledgement, as the API answers it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AckJson {
    pub incident_id: i64,
    pub acknowledged_by: String,
    pub acknowledged_at: String,
    /// False when it had been acknowledged before (the first one stays).
    pub new: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/acknowledge",
    operation_id = "acknowledge_incident",
    tag = "health",
    summary = "Acknowledge an incident: its reminders stop; who did is recorded",
    params(("id" = i64, Path, description = "The incident's id.")),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "Acknowledged (now or before).", body = AckJson),
        (status = 400, description = "The id is not a number.", body = ApiErrorBody),
        answers::NoValidToken,
        (status = 404, description = "No such incident.", body = ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn acknowledge_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AckJson>, ApiError> {
    require_auth(&state, &headers)?;
    let new = state
        .incidents
        .acknowledge(id, &who(&state, &headers))
        .await
        .map_err(not_found_incident(id))?;
    let ack = state
        .incidents
        .acknowledgement(id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no incident #{id}")))?;
    Ok(Json(AckJson {
        incident_id: id,
        acknowledged_by: ack.by,
        acknowledged_at: rfc3339(ack.at_ms),
        new,
    }))
}
