//! Model discovery: `GET /api/v1/models/available[?refresh=true]` and
//! `POST /api/v1/models/available/refresh` list the models the configured
//! upstream serves (`GET {ANTHROPIC_BASE_URL}/v1/models`), so a LiteLLM user
//! picks tier models from a list. Cached for five minutes with one request
//! in flight (`upstream.rs`). Reading the cached list is open like every
//! read; asking the upstream again needs the API token.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::clock::now_ms;
use crate::http::api::ApiError;
use crate::upstream::ModelList;

#[derive(Debug, Default, Deserialize)]
pub struct AvailableQuery {
    #[serde(default)]
    refresh: bool,
}

fn respond(state: &AppState, list: ModelList) -> Response {
    let config = &state.context.config;
    let tiers: Vec<serde_json::Value> = [
        (1, &config.tier1_model),
        (2, &config.tier2_model),
        (3, &config.tier3_model),
    ]
    .into_iter()
    .map(|(tier, model)| {
        serde_json::json!({
            "tier": tier,
            "model": model,
            "listed": list.models.iter().any(|m| &m.id == model),
        })
    })
    .collect();
    let status = if list.models.is_empty() && list.error.is_some() {
        StatusCode::BAD_GATEWAY
    } else {
        StatusCode::OK
    };
    let mut body = serde_json::to_value(&list).unwrap_or_default();
    body["tiers"] = serde_json::Value::Array(tiers);
    (status, Json(body)).into_response()
}

/// `GET /api/v1/models/available`; `?refresh=true` needs the API token.
pub async fn available(
    State(state): State<AppState>,
    Query(query): Query<AvailableQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if query.refresh && !state.auth.api_ok(&headers, now_ms()) {
        return Err(ApiError::unauthorized());
    }
    let list = state.upstream.models(query.refresh).await;
    Ok(respond(&state, list))
}

/// `POST /api/v1/models/available/refresh`.
pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !state.auth.api_ok(&headers, now_ms()) {
        return Err(ApiError::unauthorized());
    }
    let list = state.upstream.models(true).await;
    Ok(respond(&state, list))
}
