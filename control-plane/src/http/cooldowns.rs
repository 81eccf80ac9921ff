//! `/api/v1/cooldowns` and `/api/v1/actions`: the cooldown ledger and the audit
//! trail of remediation actions, read-only.

use axum::Json;
use axum::extract::{Query, State};
use claudeops_core::ledger::ActionRecord;
use claudeops_store::ActionFilter;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::clock::now_ms;
use crate::http::api::{ApiError, rfc3339, site_param};

pub async fn cooldowns(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let rows = state.queries.cooldowns(now_ms()).await?;
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({
                "site": r.site, "service": r.service, "kind": r.kind.as_str(),
                "count_in_window": r.count_in_window, "limit": r.limit,
                "last_action_at": r.last_action_ms.map(rfc3339),
                "next_allowed_at": r.next_allowed_ms.map(rfc3339),
            })
        })
        .collect();
    Ok(Json(json!(rows)))
}

#[derive(Deserialize)]
pub struct ActionQuery {
    site: Option<String>,
    session_id: Option<i64>,
    service: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

pub fn action_json(a: &ActionRecord) -> Value {
    json!({
        "id": a.id, "site": a.site, "service": a.service, "kind": a.kind.as_str(),
        "session_id": a.session_id, "status": a.status.as_str(), "args": a.args,
        "result": a.result, "reserved_at": rfc3339(a.reserved_at_ms),
        "finished_at": a.finished_at_ms.map(rfc3339), "duration_ms": a.duration_ms,
    })
}

pub async fn actions(
    State(state): State<AppState>,
    Query(q): Query<ActionQuery>,
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
