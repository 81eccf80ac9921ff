//! `POST /api/v1/webhook` and `POST /api/v1/webhook/{source}`: alerts from
//! Alertmanager, Grafana, Uptime Kuma, Healthchecks.io, Gatus or any tool
//! that can POST JSON (`docs/webhooks.md`).
//!
//! Behind `Authorization: Bearer CLAUDEOPS_CHAT_API_KEY` (unset: 503 with the
//! original's error; wrong: 401), a body of at most 1 MiB (413), never empty
//! (400). Always answers 202 at once, with what became of each alert: a
//! session is started or queued, never waited for, and no model is called on
//! the request's path.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use claudeops_core::SiteName;
use claudeops_telemetry::names;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::http::alert_sources::{self, Parsed, SourceError};
use crate::http::api::{ApiPath, ApiQuery};
use crate::http::chat::{KeyError, check_key};
use crate::http::openapi::answers;
use crate::incidents::{AlertAnswer, AlertOutcome};

/// The largest body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebhookQuery {
    /// The site of alerts that name none.
    site: Option<String>,
    /// The service of a payload no parser knows.
    service: Option<String>,
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

fn bad(status: StatusCode, message: String) -> Response {
    answer(status, json!({"error": message}))
}

/// `POST /api/v1/webhook`: the format is recognised from the payload.
#[utoipa::path(
    post,
    path = "/api/v1/webhook",
    operation_id = "webhook",
    tag = "webhook",
    summary = "Receive alerts; the format is recognised from the payload",
    description = "Alertmanager, Grafana, Uptime Kuma, Healthchecks.io and Gatus payloads are read as such; any other JSON becomes one alert whose brief the model writes. Answers at once with what became of each alert: a session is started or queued, never waited for.",
    params(WebhookQuery),
    request_body(content = Object, content_type = "application/json", description = "The alerting tool's payload (at most 1 MiB)."),
    security(("chat_key" = [])),
    responses(
        (status = 202, description = "What became of each alert.", body = crate::http::openapi::schemas::WebhookAnswer),
        (status = 400, description = "An empty body, a payload that cannot be read, or a bad `site`.", body = crate::http::openapi::schemas::ApiErrorBody),
        answers::NoValidKey,
        answers::BodyTooLarge,
        (status = 503, description = "The webhook is off (`CLAUDEOPS_CHAT_API_KEY` is unset), or the database is unavailable.", body = crate::http::openapi::schemas::WebhookError),
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<WebhookQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(state, None, query, headers, body).await
}

/// `POST /api/v1/webhook/{source}`: the payload must be that source's.
#[utoipa::path(
    post,
    path = "/api/v1/webhook/{source}",
    operation_id = "webhook_from",
    tag = "webhook",
    summary = "Receive alerts from a named source",
    description = "As `POST /api/v1/webhook`, but the payload must be the named source's.",
    params(
        ("source" = inline(crate::http::openapi::schemas::AlertSource), Path, description = "The alerting tool (any case; `prometheus`, `kuma`, `uptimekuma`, `healthchecks.io` and `healthchecksio` are read as their tool's)."),
        WebhookQuery,
    ),
    request_body(content = Object, content_type = "application/json", description = "The alerting tool's payload (at most 1 MiB)."),
    security(("chat_key" = [])),
    responses(
        (status = 202, description = "What became of each alert.", body = crate::http::openapi::schemas::WebhookAnswer),
        (status = 400, description = "An empty body, a payload that is not the source's, or a bad `site`.", body = crate::http::openapi::schemas::ApiErrorBody),
        answers::NoValidKey,
        (status = 404, description = "No such source.", body = crate::http::openapi::schemas::ApiErrorBody),
        answers::BodyTooLarge,
        (status = 503, description = "The webhook is off (`CLAUDEOPS_CHAT_API_KEY` is unset), or the database is unavailable.", body = crate::http::openapi::schemas::WebhookError),
    )
)]
pub async fn receive_from(
    State(state): State<AppState>,
    ApiPath(source): ApiPath<String>,
    ApiQuery(query): ApiQuery<WebhookQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(state, Some(source), query, headers, body).await
}

async fn handle(
    state: AppState,
    source: Option<String>,
    query: WebhookQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match check_key(&state, &headers) {
        Ok(()) => {}
        Err(KeyError::Disabled) => {
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({
                    "error": "webhook disabled",
                    "message": "CLAUDEOPS_CHAT_API_KEY is not configured; webhook endpoint is disabled",
                }),
            );
        }
        Err(KeyError::Invalid) => {
            return answer(StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}));
        }
    }
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return bad(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {BODY_LIMIT} bytes"),
        );
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return bad(
            StatusCode::BAD_REQUEST,
            "request body must not be empty".to_owned(),
        );
    }
    let config = &state.context.config;
    let default_site = match query.site.as_deref() {
        Some(site) => match SiteName::new(site.to_owned()) {
            Ok(site) => site,
            Err(e) => return bad(StatusCode::BAD_REQUEST, format!("?site=: {e}")),
        },
        None => match SiteName::new(config.webhook_default_site.clone()) {
            Ok(site) => site,
            Err(e) => {
                return bad(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("CLAUDEOPS_WEBHOOK_DEFAULT_SITE: {e}"),
                );
            }
        },
    };
    let parsed = match alert_sources::parse(source.as_deref(), &bytes) {
        Ok(parsed) => parsed,
        Err(e @ SourceError::UnknownSource(_)) => return bad(StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => return bad(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let mut answers: Vec<AlertAnswer> = Vec::new();
    match parsed {
        Parsed::Nothing(why) => {
            return answer(
                StatusCode::ACCEPTED,
                json!({"status": "ignored", "session_id": null, "message": why, "alerts": []}),
            );
        }
        Parsed::Alerts(alerts) => {
            for alert in alerts {
                let site = alert.site.clone().unwrap_or_else(|| default_site.clone());
                match state.incidents.alert(&site, alert).await {
                    Ok(a) => answers.push(a),
                    Err(e) => return crate::http::api::ApiError::from(e).into_response(),
                }
            }
        }
        Parsed::Unknown => {
            let (payload, tier) = alert_sources::for_brief(&bytes);
            let service = query
                .service
                .filter(|s| !s.trim().is_empty() && s.len() <= 200);
            match state
                .incidents
                .alert_unparsed(&default_site, service, payload, tier, &state.upstream)
                .await
            {
                Ok(a) => answers.push(a),
                Err(e) => return crate::http::api::ApiError::from(e).into_response(),
            }
        }
    }
    for a in &answers {
        let outcome = serde_json::to_value(a.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        // The source is one of the parsers' names: a bounded label.
        metrics::counter!(names::WEBHOOK_ALERTS, "source" => a.source.clone(), "outcome" => outcome)
            .increment(1);
    }
    answer(StatusCode::ACCEPTED, summary(&answers))
}

/// The original's fields (`status`, `session_id`, `tier`) for the first
/// alert that did most, then every alert's own answer.
fn summary(answers: &[AlertAnswer]) -> serde_json::Value {
    let rank = |s: AlertOutcome| match s {
        AlertOutcome::Triggered => 0,
        AlertOutcome::Queued => 1,
        AlertOutcome::Joined => 2,
        AlertOutcome::NotStarted => 3,
        AlertOutcome::Resolving => 4,
        AlertOutcome::Duplicate => 5,
        AlertOutcome::Unknown => 6,
    };
    let lead = answers.iter().min_by_key(|a| rank(a.status));
    json!({
        "status": lead.map_or(json!("ignored"), |a| json!(a.status)),
        "session_id": lead.and_then(|a| a.session_id),
        "incident_id": lead.and_then(|a| a.incident_id),
        "tier": lead.and_then(|a| a.tier),
        "message": lead.map(|a| a.message.clone()).unwrap_or_else(|| "the payload held no alert".into()),
        "alerts": answers,
    })
}
