//! The REST API under `/api/v1`, on the original's paths so existing clients
//! (scripts, the Homepage widget) keep working. Reads are open; every mutation
//! needs the API token (see `auth`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use claudeops_core::event::EventLevel;
use claudeops_core::{Session, SiteName, Tier, Trigger};
use claudeops_store::{EventFilter, SessionFilter, StoreError, WorkerSelector};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::AppState;
use crate::clock::now_ms;
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

    pub fn status(&self) -> StatusCode {
        self.status
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
            StartError::Busy { running, .. } => ApiError {
                status: StatusCode::CONFLICT,
                body: json!({ "error": message, "running_session_id": running }),
            },
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

pub fn require_auth(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if state.auth.api_ok(headers, now_ms()) {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

pub use crate::clock::rfc3339;

/// A session as the API shows it.
#[derive(Serialize)]
pub struct SessionJson {
    pub id: i64,
    pub site: String,
    pub worker_id: Option<String>,
    pub tier: u8,
    pub model: String,
    pub status: String,
    pub trigger: String,
    pub prompt: Option<String>,
    pub parent_id: Option<i64>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub duration_ms: i64,
    pub cost_usd: f64,
    pub turns: i64,
    pub exit_code: Option<i32>,
    pub response: Option<String>,
    pub structured: Option<serde_json::Value>,
    /// The structured response's summary (the dashboard's TL;DR).
    pub summary: Option<String>,
    pub error: Option<String>,
    /// The cost of the escalation chain up to and including this session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_cost_usd: Option<f64>,
    /// The escalation chain's trace id (OpenTelemetry); absent when untraced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The trace's link (`CLAUDEOPS_TRACE_URL_TEMPLATE`); absent when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_url: Option<String>,
}

impl SessionJson {
    pub fn new(s: &Session) -> SessionJson {
        SessionJson {
            id: s.id,
            site: s.site.to_string(),
            worker_id: s.worker_id.clone(),
            tier: s.tier.number(),
            model: s.model.clone(),
            status: s.status.to_string(),
            trigger: s.trigger.to_string(),
            prompt: s.prompt.clone(),
            parent_id: s.parent_id,
            started_at: rfc3339(s.started_at_ms),
            ended_at: s.ended_at_ms.map(rfc3339),
            duration_ms: s.duration_ms(now_ms()),
            cost_usd: s.cost_usd,
            turns: s.turns,
            exit_code: s.exit_code,
            response: s.response.clone(),
            structured: s.structured.clone(),
            summary: s
                .structured
                .as_ref()
                .and_then(|v| v.get("summary"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            error: s.error.clone(),
            chain_cost_usd: None,
            trace_id: s.trace_id().map(str::to_owned),
            trace_url: None,
        }
    }
}

/// Liveness: the process serves requests. It touches nothing else, so a
/// broken store (see [`health`], the readiness check) does not get the
/// control plane restarted in a loop.
pub async fn live() -> Response {
    Json(json!({ "status": "alive", "version": env!("CARGO_PKG_VERSION") })).into_response()
}

/// Readiness: the store answers, takes a write, has the schema this binary
/// knows and is the file it opened (`Store::readiness`), and the control plane
/// is not shutting down. 503 with the reason otherwise.
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

#[derive(Deserialize)]
pub struct Paging {
    limit: Option<u32>,
    offset: Option<u32>,
    site: Option<String>,
}

pub fn site_param(site: Option<String>) -> Result<Option<SiteName>, ApiError> {
    site.filter(|s| !s.is_empty())
        .map(SiteName::new)
        .transpose()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
}

pub async fn list_sessions(
    State(state): State<AppState>,
    Query(q): Query<Paging>,
) -> Result<Json<Vec<SessionJson>>, ApiError> {
    let filter = SessionFilter {
        site: site_param(q.site)?,
        limit: q.limit.unwrap_or(50).min(500),
        offset: q.offset.unwrap_or(0),
    };
    let sessions = state.sessions.list(&filter).await?;
    Ok(Json(sessions.iter().map(SessionJson::new).collect()))
}

pub async fn get_session(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<SessionJson>, ApiError> {
    let session = state
        .sessions
        .get(id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no session #{id}")))?;
    let mut json = SessionJson::new(&session);
    json.chain_cost_usd = Some(state.sessions.chain_cost(&session).await);
    json.trace_url =
        crate::telemetry::trace_url(state.context.config.trace_url_template.as_deref(), &session);
    Ok(Json(json))
}

#[derive(Deserialize)]
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
    Ok((StatusCode::CREATED, Json(SessionJson::new(&session))))
}

pub async fn stop(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<SessionJson>), ApiError> {
    require_auth(&state, &headers)?;
    let session = state
        .sessions
        .stop(id, "stopped by the operator")
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no session #{id}")))?;
    Ok((StatusCode::ACCEPTED, Json(SessionJson::new(&session))))
}

/// The filters of `GET /api/v1/events` and the events page.
#[derive(Deserialize, Default)]
pub struct EventsQuery {
    pub level: Option<String>,
    pub service: Option<String>,
    pub site: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
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

pub async fn list_events(
    State(state): State<AppState>,
    Query(q): Query<EventsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let filter = EventFilter {
        level: q.level()?,
        service: q.service(),
        site: site_param(q.site)?,
        limit: q.limit.unwrap_or(100).min(1000),
        offset: q.offset.unwrap_or(0),
    };
    let events = state.queries.events(&filter).await?;
    let events: Vec<_> = events
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id, "ts": rfc3339(e.ts_ms), "site": e.site, "session_id": e.session_id,
                "level": e.level, "service": e.service, "message": e.message,
            })
        })
        .collect();
    Ok(Json(json!(events)))
}

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

pub async fn revoke_worker(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
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
