//! `/api/v1/memories`: what the control plane remembers about each site, as the
//! original exposed it. Reads are open; changes need the API token.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use claudeops_core::memory::{self, Memory, NewMemory};
use claudeops_store::{MemoryFilter, StoreError};
use serde::Deserialize;

use crate::app::AppState;
use crate::clock::now_ms;
use crate::http::api::{ApiError, require_auth, site_param};

#[derive(Deserialize)]
pub struct ListQuery {
    site: Option<String>,
    active: Option<bool>,
    limit: Option<u32>,
    offset: Option<u32>,
}

pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Memory>>, ApiError> {
    let filter = MemoryFilter {
        site: site_param(q.site)?,
        active_only: q.active.unwrap_or(false),
        limit: q.limit.unwrap_or(100).min(1000),
        offset: q.offset.unwrap_or(0),
    };
    Ok(Json(state.queries.memories(&filter).await?))
}

fn conflict(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict(reason) => ApiError::new(StatusCode::BAD_REQUEST, reason),
        other => ApiError::from(other),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    site: String,
    key: String,
    value: String,
    confidence: Option<f64>,
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Memory>), ApiError> {
    require_auth(&state, &headers)?;
    let Json(body) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let site = site_param(Some(body.site))?
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "site is required"))?;
    let mut new = NewMemory::new(site, body.key, body.value, now_ms());
    if let Some(confidence) = body.confidence {
        new.confidence = memory::clamp_confidence(confidence)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
        new.active = memory::is_active(new.confidence);
    }
    let created = state.queries.insert_memory(&new).await.map_err(conflict)?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    value: Option<String>,
    confidence: Option<f64>,
    active: Option<bool>,
}

pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<UpdateBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Memory>, ApiError> {
    require_auth(&state, &headers)?;
    let Json(body) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let queries = &state.queries;
    let current = queries
        .memory(id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no memory {id}")))?;
    let confidence = match body.confidence {
        Some(c) => memory::clamp_confidence(c)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?,
        None => current.confidence,
    };
    let active = body.active.unwrap_or(current.active);
    let value = body.value.unwrap_or(current.value);
    let updated = queries
        .update_memory(id, &value, confidence, active, current.session_id)
        .await
        .map_err(conflict)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no memory {id}")))?;
    Ok(Json(updated))
}

pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    require_auth(&state, &headers)?;
    if state.queries.delete_memory(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no memory {id}"),
        ))
    }
}
