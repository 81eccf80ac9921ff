//! The installable dashboard's routes at the root: the service worker (`/sw.js`,
//! whose scope is then the whole dashboard), the offline page it keeps
//! (`/offline`), and the icons browsers and phones ask for by name
//! (`/favicon.ico`, `/favicon.svg`, `/apple-touch-icon.png`, as the original
//! served them). Everything comes from the web UI's embedded files.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::http::openapi::answers;

/// `GET /sw.js`: never cached by the browser's HTTP cache, so a new version is
/// seen on the next visit.
#[utoipa::path(
    get,
    path = "/sw.js",
    operation_id = "service_worker",
    tag = "assets",
    summary = "The dashboard's service worker",
    responses((status = 200, description = "The script (scope: the whole dashboard).", content_type = "text/javascript", body = String))
)]
pub async fn service_worker() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::HeaderName::from_static("service-worker-allowed"),
                HeaderValue::from_static("/"),
            ),
        ],
        claudeops_web_ui::service_worker(),
    )
        .into_response()
}

/// `GET /offline`: the same page for everyone (no login state, no token).
#[utoipa::path(
    get,
    path = "/offline",
    operation_id = "offline_page",
    tag = "assets",
    summary = "The page the service worker shows offline",
    responses(answers::Page)
)]
pub async fn offline(State(state): State<AppState>) -> Response {
    match state.ui.offline(env!("CARGO_PKG_VERSION")) {
        Ok(body) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "page rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "page rendering failed").into_response()
        }
    }
}

fn icon(name: &str) -> Response {
    match claudeops_web_ui::asset(name) {
        Some((content_type, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=86400"),
                ),
            ],
            body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[utoipa::path(
    get,
    path = "/favicon.ico",
    operation_id = "favicon_ico",
    tag = "assets",
    summary = "The icon",
    responses((status = 200, description = "The icon.", content_type = "image/x-icon"))
)]
pub async fn favicon_ico() -> Response {
    icon("favicon.ico")
}

#[utoipa::path(
    get,
    path = "/favicon.svg",
    operation_id = "favicon_svg",
    tag = "assets",
    summary = "The icon, as SVG",
    responses((status = 200, description = "The icon.", content_type = "image/svg+xml"))
)]
pub async fn favicon_svg() -> Response {
    icon("favicon.svg")
}

/// `/apple-touch-icon.png`: the 192 px icon.
#[utoipa::path(
    get,
    path = "/apple-touch-icon.png",
    operation_id = "apple_touch_icon",
    tag = "assets",
    summary = "The home-screen icon",
    responses((status = 200, description = "The 192 px icon.", content_type = "image/png"))
)]
pub async fn apple_touch_icon() -> Response {
    icon("icon-192.png")
}

/// `/apple-touch-icon-precomposed.png`: the same icon.
#[utoipa::path(
    get,
    path = "/apple-touch-icon-precomposed.png",
    operation_id = "apple_touch_icon_precomposed",
    tag = "assets",
    summary = "The home-screen icon (older name)",
    responses((status = 200, description = "The 192 px icon.", content_type = "image/png"))
)]
pub async fn apple_touch_icon_precomposed() -> Response {
    icon("icon-192.png")
}
