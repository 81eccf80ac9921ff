//! The REST API under `/api/v1`, on the original's paths so existing clients
//! (scripts, the Homepage widget) keep working. Reads are open; every mutation
//! needs the API token (see `auth`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use claudeops_core::event::EventLevel;
use claudeops_core::{Session, SessionStatus, SiteName, Tier, Trigger};
use claudeops_store::{EventFilter, SessionFilter, StoreError, WorkerSelector};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::AppState;
use crate::clock::now_ms;
use crate::http::openapi::answers;
use crate::http::openapi::schemas;
use crate::sessions::{StartError, StartRequest};

/// A JSON error answer: `{"error": "..."}` plus optional details.
pub struct ApiError {
    status: StatusCode,
    body: serde_json::Value,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({ "error": message.into() }),
        }
    }

    /// An error with more fields beside `error` (`details` must be an object).
    pub fn with_details(
        status: StatusCode,
        message: impl Into<String>,
        details: serde_json::Value,
    ) -> ApiError {
        let mut body = json!({ "error": message.into() });
        if let (Some(body), serde_json::Value::Object(more)) = (body.as_object_mut(), details) {
            body.extend(more);
        }
        ApiError { status, body }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The whole body (`error` and any details).
    pub fn details(&self) -> &serde_json::Value {
        &self.body
    }

    pub fn message(&self) -> String {
        self.body["error"].as_str().unwrap_or_default().to_owned()
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing or invalid API token: send Authorization: Bearer TOKEN",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not found"),
            // The store's fault, not the request's: say so, and that it may pass.
            unavailable if unavailable.is_unavailable() => {
                tracing::warn!(error = %unavailable, "the database could not serve an API call");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the database is unavailable: {unavailable}"),
                )
            }
            other => {
                tracing::error!(error = %other, "store error in the API");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage error")
            }
        }
    }
}

impl From<StartError> for ApiError {
    fn from(error: StartError) -> ApiError {
        let message = error.to_string();
        match error {
            StartError::Busy { running, .. } => ApiError::with_details(
                StatusCode::CONFLICT,
                message,
                json!({ "running_session_id": running }),
            ),
            StartError::NoWorker(_) | StartError::LlmOff(_) | StartError::ShuttingDown => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
            }
            StartError::DryRun(_) => ApiError::new(StatusCode::CONFLICT, message),
            StartError::AboveMaxTier { .. } => ApiError::new(StatusCode::BAD_REQUEST, message),
            StartError::DailyCap { .. } => ApiError::new(StatusCode::TOO_MANY_REQUESTS, message),
            StartError::Store(e) => ApiError::from(e),
        }
    }
}

/// `Query<T>` whose rejection is the API's JSON error (400 `{"error": ...}`),
/// not axum's plain text, so every answer of the API is JSON.
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))
    }
}

/// `Path<T>` with the API's JSON error on a bad segment.
pub struct ApiPath<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))
    }
}

/// A JSON body, or the API's error: 415 without a JSON content type (as the
/// original documents), 400 for a body that does not read as the type. Taken
/// as `Result<Json<T>, JsonRejection>` so the handler checks the token first.
pub fn json_body<T>(
    body: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    match body {
        Ok(Json(value)) => Ok(value),
        Err(rejection) if rejection.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON, with Content-Type: application/json",
            ))
        }
        Err(rejection) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body: {}", rejection.body_text()),
        )),
    }
}

pub fn require_auth(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if state.auth.api_ok(headers, now_ms()) {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

pub use crate::clock::rfc3339;

/// Who asked, as the audit trail names them (`Auth::actor`).
pub fn who(state: &AppState, headers: &HeaderMap) -> String {
    state
        .auth
        .actor(headers, now_ms())
        .unwrap_or_else(|| "someone unknown".to_owned())
}

/// The reason a stop carries to the worker and the session's record.
pub fn stop_reason(state: &AppState, headers: &HeaderMap) -> String {
    format!("stopped by {}", who(state, headers))
}

/// An event naming who started or stopped a session: the activity's audit
/// trail, on the events page.
pub async fn record_who(state: &AppState, headers: &HeaderMap, session: &Session, did: &str) {
    state
        .context
        .event(
            &session.site,
            Some(session.id),
            EventLevel::Info,
            format!(
                "{} {did} session #{} (tier {})",
                who(state, headers),
                session.id,
                session.tier.number()
            ),
        )
        .await;
}

/// A session as the API shows it: the original's fields and words first
/// (`status` and `trigger` in its vocabulary, `num_turns`, `prompt_text`,
/// `parent_session_id`), then this system's own (`status_detail` and
/// `trigger_detail` are the exact words where the original had fewer).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Session)]
pub struct SessionJson {
    pub id: i64,
    pub tier: u8,
    pub model: String,
    /// `running`, `completed`, `failed` or `timed_out`: the original's words
    /// (a stopped session is `failed` here, `stopped` in `status_detail`).
    #[schema(value_type = schemas::LegacyStatus)]
    pub status: &'static str,
    #[schema(format = DateTime)]
    pub started_at: String,
    #[schema(format = DateTime)]
    pub ended_at: Option<String>,
    pub exit_code: Option<i32>,
    pub cost_usd: f64,
    pub num_turns: i64,
    pub duration_ms: i64,
    /// `scheduled`, `manual` or `escalation`: the original's words.
    #[schema(value_type = schemas::LegacyTrigger)]
    pub trigger: &'static str,
    pub prompt_text: Option<String>,
    pub parent_session_id: Option<i64>,
    pub site: String,
    pub worker_id: Option<String>,
    /// The exact status: adds `stopped`.
    #[schema(value_type = schemas::SessionStatusWord)]
    pub status_detail: String,
    /// The exact trigger: adds `api`, `incident`, `webhook` and `chat`.
    #[schema(value_type = schemas::TriggerWord)]
    pub trigger_detail: String,
    pub response: Option<String>,
    pub structured: Option<serde_json::Value>,
    /// The structured response's summary (the dashboard's TL;DR).
    pub summary: Option<String>,
    pub error: Option<String>,
    /// The escalation chain's trace id (OpenTelemetry); absent when untraced.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub trace_id: Option<String>,
}

/// The original's status word for a session.
pub fn legacy_status(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::Running => "running",
        SessionStatus::Completed => "completed",
        SessionStatus::Failed | SessionStatus::Stopped => "failed",
        SessionStatus::TimedOut => "timed_out",
    }
}

/// The original's trigger word: what a timer or a probe started is
/// `scheduled`, what a person or a client asked for is `manual`.
pub fn legacy_trigger(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::Scheduled | Trigger::Incident => "scheduled",
        Trigger::Manual | Trigger::Api | Trigger::Webhook | Trigger::Chat => "manual",
        Trigger::Escalation => "escalation",
    }
}

impl SessionJson {
    pub fn new(s: &Session) -> SessionJson {
        SessionJson {
            id: s.id,
            tier: s.tier.number(),
            model: s.model.clone(),
            status: legacy_status(s.status),
            started_at: rfc3339(s.started_at_ms),
            ended_at: s.ended_at_ms.map(rfc3339),
            exit_code: s.exit_code,
            cost_usd: s.cost_usd,
            num_turns: s.turns,
            duration_ms: s.duration_ms(now_ms()),
            trigger: legacy_trigger(s.trigger),
            prompt_text: s.prompt.clone(),
            parent_session_id: s.parent_id,
            site: s.site.to_string(),
            worker_id: s.worker_id.clone(),
            status_detail: s.status.to_string(),
            trigger_detail: s.trigger.to_string(),
            response: s.response.clone(),
            structured: s.structured.clone(),
            summary: s
                .structured
                .as_ref()
                .and_then(|v| v.get("summary"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            error: s.error.clone(),
            trace_id: s.trace_id().map(str::to_owned),
        }
    }
}

/// `GET /api/v1/sessions/{id}`: the session with its escalation chain, as the
/// original's `SessionDetail`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SessionDetail)]
pub struct SessionDetailJson {
    #[serde(flatten)]
    pub session: SessionJson,
    pub parent_session: Option<SessionJson>,
    pub child_sessions: Vec<SessionJson>,
    /// The cost of the escalation chain up to and including this session.
    pub chain_cost: f64,
    /// The trace's link (`CLAUDEOPS_TRACE_URL_TEMPLATE`); absent when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub trace_url: Option<String>,
}

/// Liveness: the process serves requests. It touches nothing else, so a
/// broken store (see [`health`], the readiness check) does not get the
/// control plane restarted in a loop.
#[utoipa::path(
    get,
    path = "/api/v1/health/live",
    operation_id = "live",
    tag = "health",
    summary = "Liveness",
    description = "The process serves requests; nothing else is checked.",
    responses((status = 200, description = "Alive.", body = schemas::Liveness))
)]
pub async fn live() -> Response {
    Json(json!({ "status": "alive", "version": env!("CARGO_PKG_VERSION") })).into_response()
}

/// Readiness: the store answers, takes a write, has the schema this binary
/// knows and is the file it opened (`Store::readiness`), and the control plane
/// is not shutting down. 503 with the reason otherwise.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    operation_id = "health",
    tag = "health",
    summary = "Readiness",
    description = "The store answers, takes a write and has this binary's schema, and the control plane is not shutting down.",
    responses(
        (status = 200, description = "Ready.", body = schemas::Readiness),
        (status = 503, description = "Not ready: the reason is in `status` and `database`.", body = schemas::Readiness),
    )
)]
pub async fn health(State(state): State<AppState>) -> Response {
    let database = crate::store_watch::check(&state.context).await;
    let draining = state.sessions.is_draining();
    let ready = database.is_ok() && !draining;
    let status = match (&database, draining) {
        (Err(StoreError::Lost(_)), _) => "lost",
        (Err(_), _) => "degraded",
        (Ok(()), true) => "shutting down",
        (Ok(()), false) => "ok",
    };
    let body = json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "database": database.as_ref().map_or_else(|e| e.to_string(), |()| "ok".to_owned()),
        "database_fault_since": state.store_health.fault().map(|f| rfc3339(f.since_ms)),
        "workers_connected": state.context.registry.list().len(),
        "llm_configured": state.context.config.llm_configured(),
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// At most this many (50 by default, at most 500).
    limit: Option<u64>,
    offset: Option<u64>,
    /// Only this site's.
    site: Option<String>,
}

/// A page size from the query, at most `max`.
pub fn page_limit(limit: Option<u64>, default: u32, max: u32) -> u32 {
    limit.map_or(default, |l| {
        u32::try_from(l.min(u64::from(max))).unwrap_or(max)
    })
}

/// An offset from the query; beyond any real list it is simply past the end.
pub fn page_offset(offset: Option<u64>) -> u32 {
    offset.map_or(0, |o| u32::try_from(o).unwrap_or(u32::MAX))
}

pub fn site_param(site: Option<String>) -> Result<Option<SiteName>, ApiError> {
    site.filter(|s| !s.is_empty())
        .map(SiteName::new)
        .transpose()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
}

#[utoipa::path(
    get,
    path = "/api/v1/sessions",
    operation_id = "list_sessions",
    tag = "sessions",
    summary = "List sessions, newest first",
    params(Paging),
    responses(
        (status = 200, description = "`{\"sessions\": [...]}`, as the original.", body = schemas::SessionList),
        answers::ApiReadErrors,
    )
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<Paging>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let filter = SessionFilter {
        site: site_param(q.site)?,
        limit: page_limit(q.limit, 50, 500),
        offset: page_offset(q.offset),
    };
    let sessions = state.sessions.list(&filter).await?;
    let sessions: Vec<SessionJson> = sessions.iter().map(SessionJson::new).collect();
    Ok(Json(json!({ "sessions": sessions })))
}

#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}",
    operation_id = "get_session",
    tag = "sessions",
    summary = "A session with its escalation chain",
    params(("id" = i64, Path, description = "The session's id.")),
    responses(
        (status = 200, description = "The session, its parent and children, and the chain's cost.", body = SessionDetailJson),
        (status = 400, description = "The id is not a number.", body = schemas::ApiErrorBody),
        (status = 404, description = "No such session.", body = schemas::ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn get_session(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SessionDetailJson>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalid session id"))?;
    let session = state
        .sessions
        .get(id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no session #{id}")))?;
    let parent = match session.parent_id {
        Some(parent) => state.sessions.get(parent).await?,
        None => None,
    };
    let children = state.sessions.children(session.id).await?;
    Ok(Json(SessionDetailJson {
        session: SessionJson::new(&session),
        parent_session: parent.as_ref().map(SessionJson::new),
        child_sessions: children.iter().map(SessionJson::new).collect(),
        chain_cost: state.sessions.chain_cost(&session).await,
        trace_url: crate::telemetry::trace_url(
            state.context.config.trace_url_template.as_deref(),
            &session,
        ),
    }))
}

/// A manual run: the site (optional with one site connected), a prompt of
/// its own, and the tier to start at (1 by default).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerBody {
    pub site: Option<String>,
    pub prompt: Option<String>,
    pub start_tier: Option<i64>,
}

/// The site a trigger names, or the only site there is.
pub fn resolve_site(state: &AppState, site: Option<String>) -> Result<SiteName, ApiError> {
    if let Some(site) = site_param(site)? {
        return Ok(site);
    }
    match state.context.registry.sites().as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no worker is connected",
        )),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "\"site\" is required: more than one site is connected",
        )),
    }
}

pub fn parse_tier(tier: Option<i64>) -> Result<Tier, ApiError> {
    tier.map_or(Ok(Tier::Observe), |t| {
        Tier::try_from(t).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
    })
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions/trigger",
    operation_id = "trigger_session",
    tag = "sessions",
    summary = "Start a session now",
    description = "Starts a session on the site (one running session per site) and answers at once; follow it at `/sessions/{id}/stream`.",
    request_body(content = TriggerBody, content_type = "application/json"),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 201, description = "Started.", body = SessionJson),
        (status = 400, description = "The body cannot be read, the tier is above the maximum, or `site` is needed.", body = schemas::ApiErrorBody),
        answers::NoValidToken,
        (status = 409, description = "The site is busy (`running_session_id`), or dry run refuses the tier.", body = schemas::StartRefused),
        (status = 429, description = "The daily cost cap is reached.", body = schemas::ApiErrorBody),
        (status = 503, description = "No worker of the site is connected, the model tiers are off, the control plane is shutting down, or the database is unavailable.", body = schemas::ApiErrorBody),
    )
)]
pub async fn trigger(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<TriggerBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<SessionJson>), ApiError> {
    require_auth(&state, &headers)?;
    let Json(body) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let request = StartRequest {
        site: resolve_site(&state, body.site)?,
        tier: parse_tier(body.start_tier)?,
        trigger: Trigger::Api,
        prompt: body.prompt.filter(|p| !p.trim().is_empty()),
        handoff: None,
        parent_id: None,
    };
    let session = state.sessions.start(request).await?;
    record_who(&state, &headers, &session, "started").await;
    Ok((StatusCode::CREATED, Json(SessionJson::new(&session))))
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/stop",
    operation_id = "stop_session",
    tag = "sessions",
    summary = "Stop a session",
    params(("id" = i64, Path, description = "The session's id.")),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 202, description = "The stop is on its way to the worker; the session as it is now.", body = SessionJson),
        (status = 400, description = "The id is not a number.", body = schemas::ApiErrorBody),
        answers::NoValidToken,
        (status = 404, description = "No such session.", body = schemas::ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn stop(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<SessionJson>), ApiError> {
    require_auth(&state, &headers)?;
    let session = state
        .sessions
        .stop(id, &stop_reason(&state, &headers))
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no session #{id}")))?;
    Ok((StatusCode::ACCEPTED, Json(SessionJson::new(&session))))
}

/// The filters of `GET /api/v1/events` and the events page.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// `info`, `warning` or `critical` (the API refuses another word).
    pub level: Option<String>,
    pub service: Option<String>,
    pub site: Option<String>,
    /// At most this many (100 by default, at most 1000).
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

impl EventsQuery {
    /// The level filter; an unknown level is the caller's error.
    pub fn level(&self) -> Result<Option<EventLevel>, ApiError> {
        self.level
            .as_deref()
            .filter(|l| !l.is_empty())
            .map(str::parse::<EventLevel>)
            .transpose()
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
    }

    pub fn service(&self) -> Option<String> {
        self.service.clone().filter(|s| !s.is_empty())
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "list_events",
    tag = "events",
    summary = "List events, newest first",
    params(EventsQuery),
    responses(
        (status = 200, description = "`{\"events\": [...]}`, as the original.", body = schemas::EventList),
        (status = 400, description = "A parameter cannot be read, or the level is unknown.", body = schemas::ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn list_events(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let filter = EventFilter {
        level: q.level()?,
        service: q.service(),
        site: site_param(q.site.clone())?,
        limit: page_limit(q.limit, 100, 1000),
        offset: page_offset(q.offset),
    };
    let events = state.queries.events(&filter).await?;
    let events: Vec<_> = events
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id, "session_id": e.session_id, "level": e.level,
                "service": e.service, "message": e.message,
                "created_at": rfc3339(e.ts_ms), "site": e.site,
            })
        })
        .collect();
    Ok(Json(json!({ "events": events })))
}

#[utoipa::path(
    get,
    path = "/api/v1/workers",
    operation_id = "list_workers",
    tag = "workers",
    summary = "List enrolled workers",
    responses(
        (status = 200, description = "Every enrolled worker, connected or not.", body = Vec<schemas::WorkerJson>),
        answers::DatabaseUnavailable,
    )
)]
pub async fn list_workers(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let workers = state.queries.workers().await?;
    let connected = state.context.registry.list();
    let workers: Vec<_> = workers
        .into_iter()
        .map(|w| {
            let live = connected.iter().find(|c| c.worker_id == w.id);
            json!({
                "id": w.id, "site": w.site, "hostname": live.map_or(&w.hostname, |l| &l.hostname),
                "version": live.map_or(&w.version, |l| &l.version),
                "capabilities": live.map_or(&w.capabilities, |l| &l.capabilities),
                "connected": live.is_some(),
                "last_heartbeat": live.map(|l| rfc3339(l.last_heartbeat_ms)).or(w.last_seen_ms.map(rfc3339)),
                "enrolled_at": rfc3339(w.enrolled_at_ms),
                "revoked": w.revoked_at_ms.is_some(),
            })
        })
        .collect();
    Ok(Json(json!(workers)))
}

#[utoipa::path(
    post,
    path = "/api/v1/workers/{id}/revoke",
    operation_id = "revoke_worker",
    tag = "workers",
    summary = "Revoke a worker's certificate",
    description = "The worker is cut off now and refused from then on.",
    params(("id" = String, Path, description = "The worker's id.")),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "The workers revoked.", body = schemas::Revoked),
        (status = 400, description = "The id cannot be read.", body = schemas::ApiErrorBody),
        answers::NoValidToken,
        (status = 404, description = "No unrevoked worker has this id.", body = schemas::ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn revoke_worker(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_auth(&state, &headers)?;
    let revoked = state.revoke(WorkerSelector::Id(id.clone())).await?;
    if revoked.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no unrevoked worker {id}"),
        ));
    }
    Ok(Json(json!({ "revoked": revoked })))
}
