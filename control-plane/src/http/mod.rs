//! The HTTP side: REST API, dashboard pages, server-sent events, static assets.
//!
//! Handlers translate between HTTP and the services (sessions, incidents,
//! notifications, queries); they hold no state of their own, never reach the
//! store, and write no SQL.

pub mod alert_sources;
pub mod api;
pub mod chat;
pub mod config_page;
pub mod cooldowns;
pub mod dashboard;
pub mod health;
pub mod memories;
pub mod metrics;
pub mod models;
pub mod notifications;
pub mod overview;
pub mod pages;
pub mod sse;
pub mod webhook;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::app::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .route("/api/v1/health", get(api::health))
        .route("/api/v1/health/live", get(api::live))
        .route("/api/v1/stats", get(overview::stats))
        .route("/api/v1/config", get(config_page::api))
        .route("/config", get(config_page::page))
        .route("/config/models/refresh", post(config_page::refresh_models))
        .route("/api/v1/sessions", get(api::list_sessions))
        .route("/api/v1/sessions/trigger", post(api::trigger))
        .route("/api/v1/sessions/{id}", get(api::get_session))
        .route("/api/v1/sessions/{id}/stop", post(api::stop))
        .route("/api/v1/events", get(api::list_events))
        .route("/api/v1/cooldowns", get(cooldowns::cooldowns))
        .route("/api/v1/actions", get(cooldowns::actions))
        .route("/api/v1/checks", get(health::checks))
        .route("/api/v1/incidents", get(health::incidents))
        .route("/api/v1/sites/{site}/inventory", get(health::inventory))
        .route("/api/v1/notifications", get(notifications::list))
        .route("/api/v1/notifications/test", post(notifications::test))
        .route(
            "/api/v1/memories",
            get(memories::list).post(memories::create),
        )
        .route(
            "/api/v1/memories/{id}",
            axum::routing::put(memories::update).delete(memories::delete),
        )
        .route("/api/v1/webhook", post(webhook::receive))
        .route("/api/v1/webhook/{source}", post(webhook::receive_from))
        .route("/api/v1/models/available", get(models::available))
        .route("/api/v1/models/available/refresh", post(models::refresh))
        .route("/v1/chat/completions", post(chat::openai::completions))
        .route("/v1/models", get(chat::openai::models))
        .route("/api/chat", post(chat::ollama::chat))
        .route("/api/generate", post(chat::ollama::generate))
        .route("/api/tags", get(chat::ollama::tags))
        .route("/api/version", get(chat::ollama::version))
        .route("/api/v1/workers", get(api::list_workers))
        .route("/api/v1/workers/{id}/revoke", post(api::revoke_worker))
        .route("/sessions/{id}/stream", get(sse::stream))
        .route("/", get(overview::overview))
        .route("/events", get(overview::events))
        .route("/cooldowns", get(overview::cooldowns))
        .route("/sessions", get(pages::sessions))
        .route("/sessions/{id}", get(pages::session))
        .route("/sessions/trigger", post(pages::trigger))
        .route("/sessions/{id}/stop", post(pages::stop))
        .route("/sites", get(pages::sites))
        .route("/sites/{site}/inventory", get(dashboard::inventory))
        .route("/health", get(dashboard::health))
        .route("/incidents", get(dashboard::incidents))
        .route("/notifications", get(dashboard::notifications))
        .route("/notifications/test", post(dashboard::notifications_test))
        .route("/run", get(pages::run_now))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/static/{*path}", get(static_asset))
        .fallback(pages::not_found)
        .with_state(state)
}

async fn static_asset(axum::extract::Path(path): axum::extract::Path<String>) -> Response {
    match claudeops_web_ui::asset(&path) {
        Some((content_type, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
