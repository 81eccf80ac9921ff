//! Approval gates over HTTP: the page a signed link opens and its button,
//! the session page's buttons, and the API.
//!
//! A signed link is its own credential (no login): it names one request and
//! one decision, and works once. Opening it only shows the action; the
//! decision is the page's POST, so a scanner that follows links in mail
//! cannot approve anything.

use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use claudeops_core::approval::{Approval, ApprovalStatus, Decision};
use claudeops_web_ui::model as ui;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::approvals::{DecideError, MAX_NAME_CHARS};
use crate::clock::{now_ms, rfc3339};
use crate::http::api::{ApiError, ApiPath, require_auth, who};
use crate::http::openapi::answers;
use crate::http::openapi::schemas::ApiErrorBody;
use crate::http::pages::html;

/// An approval request as the pages show it.
pub fn view(a: &Approval) -> ui::ApprovalView {
    ui::ApprovalView {
        id: a.id,
        session_id: a.session_id,
        site: a.site.to_string(),
        service: a.service.clone(),
        kind: a.kind.as_str().to_owned(),
        what: a.what(),
        args: a.args.to_string(),
        status: a.status.as_str().to_owned(),
        requested_at_ms: a.requested_at_ms,
        expires_at_ms: a.expires_at_ms,
        decided_at_ms: a.decided_at_ms,
        decided_by: a.decided_by.clone(),
        reason: a.reason.clone(),
    }
}

/// An approval request and its decision: the audit record.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApprovalJson {
    pub id: i64,
    pub session_id: i64,
    pub site: String,
    pub service: String,
    /// `restart` or `redeploy`.
    pub kind: String,
    /// The action's arguments.
    pub args: serde_json::Value,
    /// `pending`, `approved`, `denied` or `expired`.
    pub status: String,
    pub requested_at: String,
    /// Denied then unless approved before.
    pub expires_at: String,
    pub decided_at: Option<String>,
    /// A dashboard user, the API token, or a signed link's holder.
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    /// The ledger entry the request holds.
    pub action_id: i64,
}

impl ApprovalJson {
    fn new(a: &Approval) -> ApprovalJson {
        ApprovalJson {
            id: a.id,
            session_id: a.session_id,
            site: a.site.to_string(),
            service: a.service.clone(),
            kind: a.kind.as_str().to_owned(),
            args: a.args.clone(),
            status: a.status.as_str().to_owned(),
            requested_at: rfc3339(a.requested_at_ms),
            expires_at: rfc3339(a.expires_at_ms),
            decided_at: a.decided_at_ms.map(rfc3339),
            decided_by: a.decided_by.clone(),
            reason: a.reason.clone(),
            action_id: a.action_id,
        }
    }
}

/// `{"approvals": [...]}`, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApprovalsJson {
    pub approvals: Vec<ApprovalJson>,
}

/// Which requests to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApprovalQuery {
    /// `pending`, `approved`, `denied` or `expired`.
    pub status: Option<String>,
    pub session_id: Option<i64>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
}

fn decide_error(error: DecideError) -> ApiError {
    match error {
        DecideError::NotFound(id) => {
            ApiError::new(StatusCode::NOT_FOUND, format!("no approval request #{id}"))
        }
        DecideError::Settled(approval) => ApiError::with_details(
            StatusCode::CONFLICT,
            format!(
                "approval request #{} was already {}: a decision is made once",
                approval.id,
                approval.status.as_str()
            ),
            serde_json::json!({ "approval": ApprovalJson::new(&approval) }),
        ),
        DecideError::TooLate(approval) => ApiError::with_details(
            StatusCode::CONFLICT,
            format!(
                "approval request #{} is past its deadline: it is denied",
                approval.id
            ),
            serde_json::json!({ "approval": ApprovalJson::new(&approval) }),
        ),
        DecideError::Store(error) => ApiError::from(error),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/approvals",
    operation_id = "list_approvals",
    tag = "ledger",
    summary = "Typed actions that waited (or wait) for a human, and the decisions",
    params(ApprovalQuery),
    responses(
        (status = 200, description = "The requests, newest first.", body = ApprovalsJson),
        (status = 400, description = "A parameter is refused.", body = ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn list_api(
    State(state): State<AppState>,
    query: Result<Query<ApprovalQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ApprovalsJson>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => Some(text.parse::<ApprovalStatus>().map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("status: {e} (pending, approved, denied, expired)"),
            )
        })?),
        None => None,
    };
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let approvals = state
        .approvals
        .list(query.session_id, status, limit)
        .await?;
    Ok(Json(ApprovalsJson {
        approvals: approvals.iter().map(ApprovalJson::new).collect(),
    }))
}

async fn decide_api(
    state: &AppState,
    headers: &HeaderMap,
    id: i64,
    decision: Decision,
) -> Result<Json<ApprovalJson>, ApiError> {
    require_auth(state, headers)?;
    let approval = state
        .approvals
        .decide(id, decision, &who(state, headers))
        .await
        .map_err(decide_error)?;
    Ok(Json(ApprovalJson::new(&approval)))
}

#[utoipa::path(
    post,
    path = "/api/v1/approvals/{id}/approve",
    operation_id = "approve_action",
    tag = "ledger",
    summary = "Approve a waiting typed action: it runs in the slot it holds",
    params(("id" = i64, Path, description = "The approval request's id.")),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "Approved; who did is recorded.", body = ApprovalJson),
        (status = 400, description = "The id is not a number.", body = ApiErrorBody),
        answers::NoValidToken,
        (status = 404, description = "No such request.", body = ApiErrorBody),
        (status = 409, description = "Already decided or expired: the decision that stands is in `approval`.", body = ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn approve_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ApprovalJson>, ApiError> {
    decide_api(&state, &headers, id, Decision::Approve).await
}

#[utoipa::path(
    post,
    path = "/api/v1/approvals/{id}/deny",
    operation_id = "deny_action",
    tag = "ledger",
    summary = "Deny a waiting typed action: nothing is done and its slot is given back",
    params(("id" = i64, Path, description = "The approval request's id.")),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "Denied; who did is recorded.", body = ApprovalJson),
        (status = 400, description = "The id is not a number.", body = ApiErrorBody),
        answers::NoValidToken,
        (status = 404, description = "No such request.", body = ApiErrorBody),
        (status = 409, description = "Already decided or expired: the decision that stands is in `approval`.", body = ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn deny_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ApprovalJson>, ApiError> {
    decide_api(&state, &headers, id, Decision::Deny).await
}

/// The session page's Approve and Deny buttons.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct DecideForm {
    #[serde(default)]
    pub approval: i64,
    /// `approve` or `deny`.
    #[serde(default)]
    pub decision: String,
    #[serde(default)]
    pub csrf: String,
}

#[utoipa::path(
    post,
    path = "/sessions/{id}/decide",
    operation_id = "decide_form",
    tag = "forms",
    summary = "Approve or deny one of the session's waiting actions",
    params(("id" = i64, Path, description = "The session's id.")),
    request_body(content = DecideForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        (status = 303, description = "No login, or a wrong CSRF token: to `/login`; decided (or decided before): to the session.", headers(("location" = String, description = "Where to go."))),
        answers::IdNotANumber,
        (status = 400, description = "The decision is neither `approve` nor `deny`.", body = ApiErrorBody),
        (status = 404, description = "No such request of this session.", body = ApiErrorBody),
        answers::DatabaseUnavailable,
        answers::FormRejections,
    )
)]
pub async fn decide_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(session): Path<i64>,
    Form(form): Form<DecideForm>,
) -> Result<Response, ApiError> {
    if !state.auth.form_ok(&headers, &form.csrf, now_ms()) {
        return Ok(Redirect::to("/login").into_response());
    }
    let decision = form
        .decision
        .parse::<Decision>()
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "decision must be approve or deny"))?;
    match state.approvals.get(form.approval).await? {
        Some(a) if a.session_id == session => {}
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "session #{session} has no approval request #{}",
                    form.approval
                ),
            ));
        }
    }
    match state
        .approvals
        .decide(form.approval, decision, &who(&state, &headers))
        .await
    {
        // Decided before, or too late: the page shows what stands.
        Ok(_) | Err(DecideError::Settled(_) | DecideError::TooLate(_)) => {
            Ok(Redirect::to(&format!("/sessions/{session}")).into_response())
        }
        Err(error) => Err(decide_error(error)),
    }
}

/// A signed link's query.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// `approve` or `deny`.
    #[serde(default)]
    pub decision: String,
    /// The link's signature.
    #[serde(default)]
    pub sig: String,
}

/// The button of a signed link's page.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LinkForm {
    #[serde(default)]
    pub decision: String,
    #[serde(default)]
    pub sig: String,
    /// The holder's name, for the audit record (optional).
    #[serde(default)]
    pub name: String,
}

/// The page, with `status`; `sig` empty shows no button.
fn link_page(
    state: &AppState,
    status: StatusCode,
    approval: &Approval,
    decision: &str,
    sig: &str,
    outcome: Option<String>,
    error: Option<String>,
) -> Response {
    let page = ui::ApprovalPage {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        approval: view(approval),
        decision: decision.to_owned(),
        sig: sig.to_owned(),
        outcome,
        error,
        now_ms: now_ms(),
    };
    let mut response = html(state.ui.approval(&page));
    *response.status_mut() = status;
    response
}

/// The one answer to a link that is not valid, whether its request exists
/// or not: it tells nothing about any request.
fn invalid_link() -> Response {
    (
        StatusCode::FORBIDDEN,
        [("content-type", "text/plain; charset=utf-8")],
        "This link is not valid: it was changed, or it was signed by another control plane. \
         Decide on the session's page instead.",
    )
        .into_response()
}

/// Checks a link: the request, its decision and the signature. `Err` is the
/// answer to give.
async fn checked(
    state: &AppState,
    id: i64,
    decision: &str,
    sig: &str,
) -> Result<(Approval, Decision), Response> {
    let approval = match state.approvals.get(id).await {
        Ok(Some(a)) => a,
        Ok(None) => return Err(invalid_link()),
        Err(error) => return Err(ApiError::from(error).into_response()),
    };
    let valid = decision
        .parse::<Decision>()
        .ok()
        .filter(|d| state.approvals.verify(&approval, *d, sig));
    match valid {
        Some(d) => Ok((approval, d)),
        None => Err(invalid_link()),
    }
}

#[utoipa::path(
    get,
    path = "/approval/{id}",
    operation_id = "approval_link",
    tag = "dashboard",
    summary = "The page a signed approve or deny link opens: the action, and a button",
    description = "The link is its own credential (no login). Opening it decides nothing; the page's button does, once.",
    params(("id" = i64, Path, description = "The approval request's id."), LinkQuery),
    responses(
        answers::Page,
        answers::IdNotANumber,
        (status = 403, description = "The link is not valid (its signature does not match, or there is no such request): a plain refusal that tells nothing about any request.", content_type = "text/plain", body = String),
        answers::DatabaseUnavailable,
    )
)]
pub async fn link(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<LinkQuery>,
) -> Response {
    match checked(&state, id, &query.decision, &query.sig).await {
        Ok((approval, decision)) => {
            let outcome = (approval.status != ApprovalStatus::Pending).then(|| {
                format!(
                    "Already {}: this link can no longer decide.",
                    approval.status.as_str()
                )
            });
            link_page(
                &state,
                StatusCode::OK,
                &approval,
                decision.as_str(),
                &query.sig,
                outcome,
                None,
            )
        }
        Err(answer) => answer,
    }
}

/// Who decided through a link: the name given (printable, at most 64
/// characters), marked as a link's holder.
fn link_holder(name: &str) -> String {
    let name: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let name = name.trim();
    if name.is_empty() {
        "the holder of a signed link".to_owned()
    } else {
        format!("{name} (signed link)")
    }
}

#[utoipa::path(
    post,
    path = "/approval/{id}",
    operation_id = "approval_link_decide",
    tag = "forms",
    summary = "The signed link's button: approve or deny, once",
    params(("id" = i64, Path, description = "The approval request's id.")),
    request_body(content = LinkForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Decided: the page says what happens next.", content_type = "text/html", body = String),
        answers::IdNotANumber,
        (status = 403, description = "The link is not valid (its signature does not match, or there is no such request).", content_type = "text/plain", body = String),
        (status = 409, description = "Already decided, expired or past its deadline: the page shows what stands.", content_type = "text/html", body = String),
        answers::DatabaseUnavailable,
        answers::FormRejections,
    )
)]
pub async fn link_decide(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<LinkForm>,
) -> Response {
    let (_, decision) = match checked(&state, id, &form.decision, &form.sig).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    match state
        .approvals
        .decide(id, decision, &link_holder(&form.name))
        .await
    {
        Ok(decided) => {
            let next = match decided.status {
                ApprovalStatus::Approved => "Approved: the session carries out the action now.",
                _ => "Denied: nothing was done, and the session is told so.",
            };
            link_page(
                &state,
                StatusCode::OK,
                &decided,
                decision.as_str(),
                "",
                Some(next.to_owned()),
                None,
            )
        }
        Err(DecideError::Settled(standing)) => link_page(
            &state,
            StatusCode::CONFLICT,
            &standing,
            decision.as_str(),
            "",
            None,
            Some(format!(
                "Already {}: a decision is made once.",
                standing.status.as_str()
            )),
        ),
        Err(DecideError::TooLate(late)) => link_page(
            &state,
            StatusCode::CONFLICT,
            &late,
            decision.as_str(),
            "",
            None,
            Some("Too late: the request's deadline passed, so it is denied.".to_owned()),
        ),
        Err(DecideError::NotFound(_)) => invalid_link(),
        Err(DecideError::Store(error)) => ApiError::from(error).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_holder_is_named_as_such() {
        assert_eq!(link_holder(""), "the holder of a signed link");
        assert_eq!(link_holder("  alice "), "alice (signed link)");
        assert_eq!(link_holder("bob\n\u{1b}[31m"), "bob[31m (signed link)");
        assert_eq!(link_holder(&"x".repeat(200)).chars().count(), 64 + 14);
    }
}
