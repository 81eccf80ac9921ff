//! Native probes, incidents and inventories over REST: `GET /api/v1/checks` (every
//! probe's state with a short latency history), `GET /api/v1/incidents`,
//! `GET /api/v1/sites/{site}/inventory` (what each worker of a site found).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use claudeops_core::SiteName;
use claudeops_core::health::{Incident, IncidentStatus, ProbeRecord};
use claudeops_store::IncidentFilter;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::http::api::{ApiError, ApiPath, ApiQuery, rfc3339, site_param};
use crate::http::openapi::answers;
use crate::http::openapi::schemas;

/// Attempts per probe in the latency history.
pub const HISTORY: u32 = 30;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChecksQuery {
    /// Only this site's probes.
    site: Option<String>,
}

pub fn probe_json(p: &ProbeRecord) -> Value {
    json!({
        "site": p.site, "name": p.probe, "service": p.service, "kind": p.kind,
        "state": p.state.as_str(), "ok": p.ok, "latency_ms": p.latency_ms,
        "message": p.message, "last_at": rfc3339(p.last_at_ms), "since": rfc3339(p.since_ms),
        "history": p.history.iter().map(|h| json!({
            "at": rfc3339(h.at_ms), "latency_ms": h.latency_ms, "ok": h.ok,
        })).collect::<Vec<_>>(),
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/checks",
    operation_id = "list_checks",
    tag = "health",
    summary = "Every native probe's state",
    description = "Each probe with its latest attempts (up to 30) for the latency history.",
    params(ChecksQuery),
    responses(
        (status = 200, description = "The probes.", body = Vec<schemas::ProbeJson>),
        answers::ApiReadErrors,
    )
)]
pub async fn checks(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ChecksQuery>,
) -> Result<Json<Value>, ApiError> {
    let site = site_param(q.site)?;
    let probes = state.incidents.probes(site.as_ref(), HISTORY).await?;
    Ok(Json(json!(
        probes.iter().map(probe_json).collect::<Vec<_>>()
    )))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    site: Option<String>,
    service: Option<String>,
    /// `open` or `resolved`.
    status: Option<String>,
    /// At most this many (100 by default, at most 1000).
    limit: Option<u32>,
    offset: Option<u32>,
}

pub fn incident_json(i: &Incident) -> Value {
    json!({
        "id": i.id, "site": i.site, "service": i.service, "status": i.status.as_str(),
        "probes": i.probes, "evidence": i.evidence, "opened_at": rfc3339(i.opened_at_ms),
        "resolved_at": i.resolved_at_ms.map(rfc3339),
        "resolution": i.resolution.map(|r| r.as_str()), "session_id": i.session_id,
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    operation_id = "list_incidents",
    tag = "health",
    summary = "Incidents, newest first",
    params(IncidentQuery),
    responses(
        (status = 200, description = "The incidents, each with its session's trace when traced.", body = Vec<schemas::IncidentJson>),
        (status = 400, description = "A parameter cannot be read, or the status is unknown.", body = schemas::ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn incidents(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<IncidentQuery>,
) -> Result<Json<Value>, ApiError> {
    let status = q
        .status
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<IncidentStatus>())
        .transpose()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let filter = IncidentFilter {
        site: site_param(q.site)?,
        service: q.service.filter(|s| !s.is_empty()),
        status,
        session_id: None,
        limit: q.limit.unwrap_or(100).min(1000),
        offset: q.offset.unwrap_or(0),
    };
    let list = state.incidents.list(&filter).await?;
    let mut out = Vec::with_capacity(list.len());
    for incident in &list {
        let mut json = incident_json(incident);
        // The incident's chain, traced: its trace and the link to it.
        if let Some(id) = incident.session_id
            && let Ok(Some(session)) = state.sessions.get(id).await
            && let Some(trace_id) = session.trace_id()
        {
            json["trace_id"] = json!(trace_id);
            json["trace_url"] = json!(crate::telemetry::trace_url(
                state.context.config.trace_url_template.as_deref(),
                &session
            ));
        }
        out.push(json);
    }
    Ok(Json(json!(out)))
}

#[utoipa::path(
    get,
    path = "/api/v1/sites/{site}/inventory",
    operation_id = "site_inventory",
    tag = "health",
    summary = "What each worker of a site discovered",
    params(("site" = String, Path, description = "The site's name: 1-63 of a-z, 0-9 and `-`, not starting with `-`.", pattern = "^[a-z0-9][a-z0-9-]{0,62}$")),
    responses(
        (status = 200, description = "The latest inventory of each worker of the site.", body = schemas::InventoryAnswer),
        (status = 400, description = "Not a site's name.", body = schemas::ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn inventory(
    State(state): State<AppState>,
    ApiPath(site): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let site =
        SiteName::new(site).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let records = state.incidents.inventories(&site).await?;
    let workers: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "worker_id": r.worker_id,
                "reported_at": rfc3339(r.reported_at_ms),
                "inventory": r.inventory,
            })
        })
        .collect();
    Ok(Json(json!({ "site": site, "workers": workers })))
}
