//! `GET /api/v1/notifications` (every delivery attempt, newest first; URLs only by
//! their position in `CLAUDEOPS_APPRISE_URLS`) and `POST /api/v1/notifications/test`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use claudeops_core::notification::DeliveryRecord;
use claudeops_store::DeliveryFilter;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::http::api::{ApiError, ApiQuery, require_auth, rfc3339};
use crate::http::openapi::answers;
use crate::http::openapi::schemas;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only the attempts of this notification.
    notification_id: Option<String>,
    /// At most this many (100 by default, at most 1000).
    limit: Option<u32>,
    offset: Option<u32>,
}

pub fn delivery_json(d: &DeliveryRecord) -> Value {
    json!({
        "notification_id": d.notification_id, "kind": d.kind, "title": d.title,
        "sites": d.sites, "url": format!("#{}", d.url_index), "url_index": d.url_index,
        "attempt": d.attempt, "ok": d.ok, "error": d.error, "at": rfc3339(d.at_ms),
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    operation_id = "list_notifications",
    tag = "notifications",
    summary = "Delivery attempts, newest first",
    description = "URLs appear only by their position in `CLAUDEOPS_APPRISE_URLS`.",
    params(DeliveryQuery),
    responses(
        (status = 200, description = "The attempts.", body = Vec<schemas::DeliveryJson>),
        answers::ApiReadErrors,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = DeliveryFilter {
        notification_id: q.notification_id.filter(|s| !s.is_empty()),
        limit: q.limit.unwrap_or(100).min(1000),
        offset: q.offset.unwrap_or(0),
    };
    let list = state.notifications.deliveries(&filter).await?;
    Ok(Json(json!(
        list.iter().map(delivery_json).collect::<Vec<_>>()
    )))
}

/// Sends a test notification to every configured URL now and answers per URL.
pub async fn send_test(state: &AppState) -> Result<Vec<Value>, ApiError> {
    let Some(notifier) = state.notifications.notifier() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "notifications are off: set CLAUDEOPS_APPRISE_URLS",
        ));
    };
    let outcomes = notifier
        .send_test()
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    Ok(outcomes
        .iter()
        .map(|o| json!({"url": format!("#{}", o.url_index), "ok": o.success, "error": o.error}))
        .collect())
}

#[utoipa::path(
    post,
    path = "/api/v1/notifications/test",
    operation_id = "test_notifications",
    tag = "notifications",
    summary = "Send a test notification now",
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "The outcome per URL.", body = schemas::TestResults),
        answers::NoValidToken,
        (status = 409, description = "Notifications are off (`CLAUDEOPS_APPRISE_URLS` is unset).", body = schemas::ApiErrorBody),
        (status = 503, description = "The notifier could not send.", body = schemas::ApiErrorBody),
    )
)]
pub async fn test(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    require_auth(&state, &headers)?;
    let results = send_test(&state).await?;
    Ok(Json(json!({ "results": results })))
}
