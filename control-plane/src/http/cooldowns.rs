//! `/api/v1/cooldowns` and `/api/v1/actions`: the cooldown ledger and the audit
//! trail of remediation actions, read-only.

use axum::Json;
use axum::extract::State;
use claudeops_core::ledger::{ActionKind, ActionRecord};
use claudeops_store::ActionFilter;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::clock::now_ms;
use crate::http::api::{ApiError, ApiQuery, rfc3339, site_param};
use crate::http::openapi::answers;
use crate::http::openapi::schemas;

/// The original's word for an action kind.
pub fn action_type(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::Restart => "restart",
        ActionKind::Redeploy => "redeployment",
    }
}

/// `{"cooldowns": [...]}`: each (site, service, kind) with a counted action in
/// its window, in the original's fields (`service`, `action_type`, `count`,
/// `last_action`) plus the limit and when a slot frees up.
#[utoipa::path(
    get,
    path = "/api/v1/cooldowns",
    operation_id = "list_cooldowns",
    tag = "ledger",
    summary = "The cooldown ledger",
    description = "Each (site, service, kind) with a counted action in its window, with its limit and when a slot frees up.",
    responses(
        (status = 200, description = "`{\"cooldowns\": [...]}`, as the original.", body = schemas::CooldownList),
        answers::DatabaseUnavailable,
    )
)]
pub async fn cooldowns(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let rows = state.queries.cooldowns(now_ms()).await?;
    let rows: Vec<Value> = rows
        .into_iter()
        .filter_map(|r| {
            let last = r.last_action_ms?;
            Some(json!({
                "service": r.service, "action_type": action_type(r.kind),
                "count": r.count_in_window, "last_action": rfc3339(last),
                "site": r.site, "limit": r.limit,
                "next_allowed_at": r.next_allowed_ms.map(rfc3339),
            }))
        })
        .collect();
    Ok(Json(json!({ "cooldowns": rows })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActionQuery {
    site: Option<String>,
    session_id: Option<i64>,
    service: Option<String>,
    /// At most this many (100 by default, at most 1000).
    limit: Option<u32>,
    offset: Option<u32>,
}

pub fn action_json(a: &ActionRecord) -> Value {
    json!({
        "id": a.id, "site": a.site, "service": a.service, "action_type": action_type(a.kind),
        "session_id": a.session_id, "status": a.status.as_str(), "args": a.args,
        "result": a.result, "reserved_at": rfc3339(a.reserved_at_ms),
        "finished_at": a.finished_at_ms.map(rfc3339), "duration_ms": a.duration_ms,
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/actions",
    operation_id = "list_actions",
    tag = "ledger",
    summary = "The remediation actions, newest first",
    params(ActionQuery),
    responses(
        (status = 200, description = "The audit trail.", body = Vec<schemas::ActionJson>),
        answers::ApiReadErrors,
    )
)]
pub async fn actions(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ActionQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = ActionFilter {
        site: site_param(q.site)?,
        session_id: q.session_id,
        service: q.service.filter(|s| !s.is_empty()),
        limit: q.limit.unwrap_or(100).min(1000),
        offset: q.offset.unwrap_or(0),
    };
    let actions = state.queries.actions(&filter).await?;
    Ok(Json(json!(
        actions.iter().map(action_json).collect::<Vec<_>>()
    )))
}
