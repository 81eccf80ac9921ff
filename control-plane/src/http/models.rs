//! Model discovery: `GET /api/v1/models/available[?refresh=true]` and
//! `POST /api/v1/models/available/refresh` list the models the configured
//! upstream serves (`GET {ANTHROPIC_BASE_URL}/v1/models`), so a LiteLLM user
//! picks tier models from a list. Cached for five minutes with one request
//! in flight (`upstream.rs`). Reading the cached list is open like every
//! read; asking the upstream again needs the API token.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::clock::now_ms;
use crate::http::api::{ApiError, ApiQuery};
use crate::http::openapi::answers;
use crate::http::openapi::schemas;
use crate::upstream::ModelList;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailableQuery {
    /// Ask the upstream again (needs the API token).
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
#[utoipa::path(
    get,
    path = "/api/v1/models/available",
    operation_id = "models_available",
    tag = "models",
    summary = "The models the upstream serves",
    description = "The upstream's list (cached for five minutes) and whether each tier's model is in it.",
    params(AvailableQuery),
    security((), ("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "The list.", body = schemas::ModelsAvailable),
        (status = 400, description = "A parameter cannot be read.", body = schemas::ApiErrorBody),
        (status = 401, description = "`refresh=true` without a valid token.", body = schemas::ApiErrorBody),
        (status = 502, description = "The upstream could not be read and no list is cached: the reason is in `error`.", body = schemas::ModelsAvailable),
    )
)]
pub async fn available(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AvailableQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if query.refresh && !state.auth.api_ok(&headers, now_ms()) {
        return Err(ApiError::unauthorized());
    }
    let list = state.upstream.models(query.refresh).await;
    Ok(respond(&state, list))
}

/// `POST /api/v1/models/available/refresh`.
#[utoipa::path(
    post,
    path = "/api/v1/models/available/refresh",
    operation_id = "models_refresh",
    tag = "models",
    summary = "Read the upstream's model list again",
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "The list.", body = schemas::ModelsAvailable),
        answers::NoValidToken,
        (status = 502, description = "The upstream could not be read and no list is cached: the reason is in `error`.", body = schemas::ModelsAvailable),
    )
)]
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
