//! `/api/v1/memories`: what the control plane remembers about each site, in the
//! original's shape (`service`, `category`, `observation`, `tier`, RFC 3339 times,
//! `{"memories": [...]}`) plus this system's names (`site`, `key`, `value`, times in
//! milliseconds). Writes take either shape: `service`/`category`/`observation` or
//! `key`/`value`. Reads are open; changes need the API token.
//!
//! The checks of an operator's memory (site, key, observation, confidence) live
//! here and serve the memories page (`memories_page.rs`) too.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use claudeops_core::memory::{self, Memory, MemoryId, NewMemory};
use claudeops_core::{SessionId, SiteName, Tier};
use claudeops_store::{MemoryListing, MemorySearch, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::clock::{now_ms, rfc3339};
use crate::http::api::{ApiError, json_body, require_auth, site_param};
use crate::http::openapi::answers;

/// The original's page size for the list.
const DEFAULT_LIMIT: u32 = 200;
const MAX_LIMIT: u32 = 1000;

/// A memory as the API shows it: the original's fields first, then ours.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Memory)]
pub struct MemoryJson {
    #[schema(value_type = i64)]
    pub id: MemoryId,
    /// The key before its first `:`; `null` for a site-wide memory.
    pub service: Option<String>,
    pub category: String,
    pub observation: String,
    pub confidence: f64,
    pub active: bool,
    #[schema(value_type = Option<i64>)]
    pub session_id: Option<SessionId>,
    /// The tier of the session that wrote it; 0 for an operator's.
    pub tier: u8,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub site: String,
    pub key: String,
    pub value: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl MemoryJson {
    pub fn new(m: &Memory, tier: Option<Tier>) -> MemoryJson {
        MemoryJson {
            id: m.id,
            service: m.service().map(str::to_owned),
            category: m.category().to_owned(),
            observation: m.value.clone(),
            confidence: m.confidence,
            active: m.active,
            session_id: m.session_id,
            tier: tier.map_or(0, Tier::number),
            created_at: rfc3339(m.created_at_ms),
            updated_at: rfc3339(m.updated_at_ms),
            site: m.site.to_string(),
            key: m.key.clone(),
            value: m.value.clone(),
            created_at_ms: m.created_at_ms,
            updated_at_ms: m.updated_at_ms,
        }
    }

    fn listed(l: &MemoryListing) -> MemoryJson {
        MemoryJson::new(&l.memory, l.tier)
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

fn not_found(id: MemoryId) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("memory {id} not found"))
}

/// The store refused a write whose arguments were checked: the site already has a
/// memory with this key.
fn write_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict(reason) => ApiError::new(StatusCode::CONFLICT, reason),
        other => ApiError::from(other),
    }
}

fn path_id(id: &str) -> Result<MemoryId, ApiError> {
    id.parse()
        .map_err(|_| bad_request(format!("invalid memory id {id:?}")))
}

/// A blank text is no value.
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// An observation as stored: trimmed, cut, and not empty.
pub fn checked_observation(observation: &str) -> Result<String, String> {
    memory::validate_value(observation).map_err(|_| "the observation is empty".to_owned())
}

/// A confidence from 0 to 1 (the API does not clamp: a wrong number is refused).
pub fn checked_confidence(confidence: f64) -> Result<f64, String> {
    if confidence.is_finite() && (0.0..=1.0).contains(&confidence) {
        memory::clamp_confidence(confidence).map_err(|e| e.to_string())
    } else {
        Err(format!(
            "confidence must be a number from 0 to 1, not {confidence}"
        ))
    }
}

/// The key of a new memory: `key` as given, or built from `service` and
/// `category` (the original's names); not both.
pub fn checked_key(
    key: Option<String>,
    service: Option<String>,
    category: Option<String>,
) -> Result<String, String> {
    match (given(key), given(category)) {
        (Some(_), Some(_)) => Err("give either \"key\" or \"category\" (and \"service\")".into()),
        (Some(key), None) if given(service.clone()).is_none() => {
            memory::normalize_key(&key).map_err(|e| e.to_string())
        }
        (Some(_), None) => Err("\"service\" goes with \"category\", not with \"key\"".into()),
        (None, Some(category)) => {
            memory::key_of(service.as_deref(), &category).map_err(|e| e.to_string())
        }
        (None, None) => Err("\"category\" is required".into()),
    }
}

/// The site of a new memory: the one named, else the only site there is (a
/// connected worker's or an enrolled one's).
pub async fn memory_site(state: &AppState, site: Option<String>) -> Result<SiteName, ApiError> {
    if let Some(site) = site_param(site)? {
        return Ok(site);
    }
    let mut sites = known_sites(state).await;
    match sites.len() {
        1 => Ok(sites.remove(0)),
        0 => Err(bad_request(
            "\"site\" is required: no worker has enrolled yet",
        )),
        _ => Err(bad_request(format!(
            "\"site\" is required: there is more than one site ({})",
            sites
                .iter()
                .map(SiteName::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Every site a worker is connected or enrolled for, sorted.
pub async fn known_sites(state: &AppState) -> Vec<SiteName> {
    let mut sites = state.context.registry.sites();
    if let Ok(workers) = state.queries.workers().await {
        sites.extend(workers.into_iter().map(|w| w.site));
    }
    sites.sort();
    sites.dedup();
    sites
}

/// The tier of the session that wrote a memory (`None`: an operator's).
pub async fn tier_of(state: &AppState, memory: &Memory) -> Option<Tier> {
    let id = memory.session_id?;
    state.sessions.get(id).await.ok().flatten().map(|s| s.tier)
}

/// `active=true|false|1|0` (or `active`/`inactive`, the page's words); blank is
/// any.
pub fn active_param(active: Option<&str>) -> Result<Option<bool>, String> {
    match active.map(str::trim) {
        None | Some("") => Ok(None),
        Some("true" | "1" | "active") => Ok(Some(true)),
        Some("false" | "0" | "inactive") => Ok(Some(false)),
        Some(other) => Err(format!("active must be true or false, not {other:?}")),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    site: Option<String>,
    service: Option<String>,
    category: Option<String>,
    /// Text in the key or the observation.
    q: Option<String>,
    /// `true` or `false` (also `1`/`0`, `active`/`inactive`); blank is any.
    active: Option<String>,
    /// At most this many (200 by default, at most 1000).
    limit: Option<u32>,
    offset: Option<u32>,
}

/// `GET /api/v1/memories?limit&offset&service&category&site&active&q`: highest
/// confidence first.
#[utoipa::path(
    get,
    path = "/api/v1/memories",
    operation_id = "list_memories",
    tag = "memories",
    summary = "List memories, highest confidence first",
    params(ListQuery),
    responses(
        (status = 200, description = "`{\"memories\": [...]}`, as the original.", body = crate::http::openapi::schemas::MemoryList),
        answers::ApiReadErrors,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| bad_request(e.body_text()))?;
    let search = MemorySearch {
        site: site_param(q.site)?,
        service: given(q.service),
        category: given(q.category),
        text: given(q.q),
        active: active_param(q.active.as_deref()).map_err(bad_request)?,
        limit: q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT),
        offset: q.offset.unwrap_or(0),
    };
    let listed = state.queries.search_memories(&search).await?;
    let memories: Vec<MemoryJson> = listed.iter().map(MemoryJson::listed).collect();
    Ok(Json(json!({ "memories": memories })))
}

/// A new memory: the original's `MemoryCreate` (`service`, `category`,
/// `observation`) or ours (`key`, `value`), with `site` (optional with one
/// site), `confidence` (0.7) and `active` (true).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    site: Option<String>,
    service: Option<String>,
    category: Option<String>,
    observation: Option<String>,
    key: Option<String>,
    value: Option<String>,
    confidence: Option<f64>,
    active: Option<bool>,
}

/// The observation of a body that may name it either way (not differently).
fn observation_of(observation: Option<String>, value: Option<String>) -> Result<String, String> {
    match (observation, value) {
        (Some(a), Some(b)) if a.trim() != b.trim() => {
            Err("\"observation\" and \"value\" differ: give one".into())
        }
        (Some(text), _) | (None, Some(text)) => checked_observation(&text),
        (None, None) => Err("\"observation\" is required".into()),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/memories",
    operation_id = "create_memory",
    tag = "memories",
    summary = "Add a memory",
    request_body(content = CreateBody, content_type = "application/json"),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 201, description = "Added.", body = MemoryJson),
        (status = 400, description = "The body cannot be read, or a value is refused.", body = crate::http::openapi::schemas::ApiErrorBody),
        answers::NoValidToken,
        (status = 409, description = "The site already has a memory with this key.", body = crate::http::openapi::schemas::ApiErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = crate::http::openapi::schemas::ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<(StatusCode, Json<MemoryJson>), ApiError> {
    require_auth(&state, &headers)?;
    let body = json_body(body)?;
    let key = checked_key(body.key, body.service, body.category).map_err(bad_request)?;
    let value = observation_of(body.observation, body.value).map_err(bad_request)?;
    let confidence = body
        .confidence
        .map_or(Ok(memory::INITIAL_CONFIDENCE), checked_confidence)
        .map_err(bad_request)?;
    let site = memory_site(&state, body.site).await?;
    let new = NewMemory {
        confidence,
        active: body.active.unwrap_or(true),
        ..NewMemory::new(site, key, value, now_ms())
    };
    let created = state
        .queries
        .insert_memory(&new)
        .await
        .map_err(write_error)?;
    Ok((StatusCode::CREATED, Json(MemoryJson::new(&created, None))))
}

/// An edit: the original's `MemoryUpdate` (`observation`, `confidence`, `active`)
/// or `value` for the observation; a field left out keeps its value.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    observation: Option<String>,
    value: Option<String>,
    confidence: Option<f64>,
    active: Option<bool>,
}

#[utoipa::path(
    put,
    path = "/api/v1/memories/{id}",
    operation_id = "update_memory",
    tag = "memories",
    summary = "Edit a memory",
    params(("id" = i64, Path, description = "The memory's id.")),
    request_body(content = UpdateBody, content_type = "application/json"),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "The memory as saved.", body = MemoryJson),
        (status = 400, description = "A bad id, a body that cannot be read, or a value refused.", body = crate::http::openapi::schemas::ApiErrorBody),
        answers::NoValidToken,
        (status = 404, description = "No such memory.", body = crate::http::openapi::schemas::ApiErrorBody),
        (status = 409, description = "The site already has a memory with this key.", body = crate::http::openapi::schemas::ApiErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = crate::http::openapi::schemas::ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<UpdateBody>, JsonRejection>,
) -> Result<Json<MemoryJson>, ApiError> {
    require_auth(&state, &headers)?;
    let id = path_id(&id)?;
    let body = json_body(body)?;
    let current = state
        .queries
        .memory(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let value = match (body.observation, body.value) {
        (None, None) => current.value.clone(),
        (observation, value) => observation_of(observation, value).map_err(bad_request)?,
    };
    let confidence = body
        .confidence
        .map_or(Ok(current.confidence), checked_confidence)
        .map_err(bad_request)?;
    let active = body.active.unwrap_or(current.active);
    let updated = edit(&state, &current, &value, confidence, active).await?;
    let tier = tier_of(&state, &updated).await;
    Ok(Json(MemoryJson::new(&updated, tier)))
}

/// Writes an operator's edit of `current` (its source session kept); 404 when it
/// was deleted meanwhile.
pub async fn edit(
    state: &AppState,
    current: &Memory,
    value: &str,
    confidence: f64,
    active: bool,
) -> Result<Memory, ApiError> {
    state
        .queries
        .update_memory(current.id, value, confidence, active, current.session_id)
        .await
        .map_err(write_error)?
        .ok_or_else(|| not_found(current.id))
}

#[utoipa::path(
    delete,
    path = "/api/v1/memories/{id}",
    operation_id = "delete_memory",
    tag = "memories",
    summary = "Delete a memory",
    params(("id" = i64, Path, description = "The memory's id.")),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "A bad id.", body = crate::http::openapi::schemas::ApiErrorBody),
        answers::NoValidToken,
        (status = 404, description = "No such memory.", body = crate::http::openapi::schemas::ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_auth(&state, &headers)?;
    let id = path_id(&id)?;
    if state.queries.delete_memory(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_either_shape() {
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            checked_key(s("Web:Port"), None, None),
            Ok("web:port".into())
        );
        assert_eq!(
            checked_key(None, s("web"), s("port")),
            Ok("web:port".into())
        );
        assert_eq!(checked_key(None, None, s("timing")), Ok("timing".into()));
        assert_eq!(checked_key(s(" "), s(""), s("timing")), Ok("timing".into()));
        for (key, service, category) in [
            (s("a"), None, s("b")),
            (s("a"), s("web"), None),
            (None, s("web"), None),
            (None, None, None),
            (None, s("we b"), s("port")),
        ] {
            assert!(checked_key(key, service, category).is_err());
        }
    }

    #[test]
    fn confidences_and_observations_are_checked() {
        assert_eq!(checked_confidence(0.0), Ok(0.0));
        assert_eq!(checked_confidence(1.0), Ok(1.0));
        for bad in [1.5, -0.1, f64::NAN, f64::INFINITY] {
            assert!(checked_confidence(bad).is_err(), "{bad}");
        }
        assert_eq!(checked_observation(" up "), Ok("up".into()));
        assert!(checked_observation("  ").is_err());
        assert_eq!(
            observation_of(Some("a".into()), Some(" a ".into())),
            Ok("a".into())
        );
        assert!(observation_of(Some("a".into()), Some("b".into())).is_err());
        assert!(observation_of(None, None).is_err());
    }

    #[test]
    fn active_reads_the_apis_and_the_pages_words() {
        assert_eq!(active_param(None), Ok(None));
        assert_eq!(active_param(Some("")), Ok(None));
        assert_eq!(active_param(Some("true")), Ok(Some(true)));
        assert_eq!(active_param(Some("inactive")), Ok(Some(false)));
        assert!(active_param(Some("yes")).is_err());
    }
}
