//! The HTTP side: REST API, dashboard pages, server-sent events, static assets.
//!
//! Handlers translate between HTTP and the services (sessions, incidents,
//! notifications, queries); they hold no state of their own, never reach the
//! store, and write no SQL.

pub mod alert_sources;
pub mod api;
pub mod approvals;
pub mod chat;
pub mod config_page;
pub mod cooldowns;
pub mod dashboard;
pub mod guard;
pub mod health;
pub mod history;
pub mod live;
pub mod maintenance;
pub mod memories;
pub mod memories_page;
pub mod metrics;
pub mod models;
pub mod notifications;
pub mod openapi;
pub mod overview;
pub mod pages;
pub mod probes_page;
pub mod shell;
pub mod sse;
pub mod ui_probes;
pub mod webhook;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

/// The dashboard's and API's router: every route of [`api_router`], the
/// not-found page for anything else, all behind the one gate (`guard`).
pub fn router(state: AppState) -> Router {
    let (router, _document) = api_router().split_for_parts();
    router
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .with_state(state)
}

/// Every route, each from a handler annotated with `#[utoipa::path]`, so the
/// OpenAPI document (`openapi::document`) is exactly what is served. Add a
/// route here with `routes!` only, one call per path (its methods together):
/// `openapi`'s tests fail on any other way in.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(metrics::metrics))
        .routes(routes!(api::health))
        .routes(routes!(api::live))
        .routes(routes!(overview::stats))
        .routes(routes!(config_page::api, config_page::put_api))
        .routes(routes!(config_page::changes_api))
        .routes(routes!(config_page::site_api, config_page::put_site_api))
        .routes(routes!(config_page::page, config_page::post_page))
        .routes(routes!(config_page::site_page, config_page::post_site_page))
        .routes(routes!(config_page::refresh_models))
        .routes(routes!(api::list_sessions))
        .routes(routes!(api::trigger))
        .routes(routes!(api::get_session))
        .routes(routes!(api::stop))
        .routes(routes!(api::list_events))
        .routes(routes!(cooldowns::cooldowns))
        .routes(routes!(cooldowns::actions))
        .routes(routes!(health::checks))
        .routes(routes!(health::incidents))
        .routes(routes!(health::inventory))
        .routes(routes!(ui_probes::list, ui_probes::add))
        .routes(routes!(ui_probes::edit, ui_probes::delete))
        .routes(routes!(ui_probes::pause))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::test))
        .routes(routes!(memories::list, memories::create))
        .routes(routes!(memories::update, memories::delete))
        .routes(routes!(webhook::receive))
        .routes(routes!(webhook::receive_from))
        .routes(routes!(models::available))
        .routes(routes!(models::refresh))
        .routes(routes!(chat::openai::completions))
        .routes(routes!(chat::openai::models))
        .routes(routes!(chat::ollama::chat))
        .routes(routes!(chat::ollama::generate))
        .routes(routes!(chat::ollama::tags))
        .routes(routes!(chat::ollama::version))
        .routes(routes!(api::list_workers))
        .routes(routes!(api::revoke_worker))
        .routes(routes!(sse::stream))
        .routes(routes!(live::changes))
        .routes(routes!(openapi::json))
        .routes(routes!(openapi::yaml))
        .routes(routes!(openapi::docs))
        .routes(routes!(overview::overview))
        .routes(routes!(overview::events))
        .routes(routes!(overview::cooldowns))
        .routes(routes!(memories_page::page, memories_page::add))
        .routes(routes!(memories_page::update))
        .routes(routes!(memories_page::deactivate))
        .routes(routes!(memories_page::activate))
        .routes(routes!(memories_page::delete))
        .routes(routes!(shell::service_worker))
        .routes(routes!(shell::offline))
        .routes(routes!(shell::favicon_ico))
        .routes(routes!(shell::favicon_svg))
        .routes(routes!(shell::apple_touch_icon))
        .routes(routes!(shell::apple_touch_icon_precomposed))
        .routes(routes!(pages::sessions))
        .routes(routes!(pages::session))
        .routes(routes!(pages::trigger))
        .routes(routes!(pages::stop))
        .routes(routes!(pages::sites))
        .routes(routes!(dashboard::inventory))
        .routes(routes!(probes_page::page, probes_page::add))
        .routes(routes!(probes_page::edit))
        .routes(routes!(probes_page::pause))
        .routes(routes!(probes_page::delete))
        .routes(routes!(dashboard::health))
        .routes(routes!(history::probe_page))
        .routes(routes!(history::service_page))
        .routes(routes!(history::probe_history))
        .routes(routes!(history::status_page))
        .routes(routes!(history::status_badge))
        .routes(routes!(history::uptime_badge))
        .routes(routes!(dashboard::incidents))
        .routes(routes!(maintenance::incident_page))
        .routes(routes!(maintenance::acknowledge_form))
        .routes(routes!(maintenance::incident_api))
        .routes(routes!(maintenance::acknowledge_api))
        .routes(routes!(maintenance::page, maintenance::add_form))
        .routes(routes!(maintenance::end_form))
        .routes(routes!(maintenance::list_api, maintenance::add_api))
        .routes(routes!(maintenance::end_api))
        .routes(routes!(approvals::list_api))
        .routes(routes!(approvals::approve_api))
        .routes(routes!(approvals::deny_api))
        .routes(routes!(approvals::decide_form))
        .routes(routes!(approvals::link, approvals::link_decide))
        .routes(routes!(dashboard::notifications))
        .routes(routes!(dashboard::notifications_test))
        .routes(routes!(pages::run_now))
        .routes(routes!(pages::login_form, pages::login))
        .routes(routes!(pages::logout))
        .routes(routes!(static_asset))
}

/// `GET /static/{*path}`: an embedded file, cached for an hour.
#[utoipa::path(
    get,
    path = "/static/{*path}",
    operation_id = "static_asset",
    tag = "assets",
    summary = "An embedded static file",
    params(("path" = inline(openapi::schemas::AssetName), Path, description = "The file's name; a `?v=` cache buster is ignored.")),
    responses(
        (status = 200, description = "The file, with its content type.", content(
            ("text/css"), ("text/javascript"), ("text/html"), ("image/svg+xml"), ("image/png"),
            ("image/x-icon"), ("application/manifest+json"),
        )),
        (status = 404, description = "No such file."),
    )
)]
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
