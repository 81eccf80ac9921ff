//! History pages (a probe's, a service's), the JSON of a probe's history, the
//! public status pages and the badges. The numbers come from `History`; the
//! status pages and badges show only what `CLAUDEOPS_STATUS_PAGES` made public.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use claudeops_core::SiteName;
use claudeops_core::health::{ProbeRollup, ProbeState};
use claudeops_web_ui::history::{self as ui_history, BadgeColor};
use claudeops_web_ui::model as ui;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::clock::now_ms;
use crate::history::{ProbeHistory, ServiceHistory, Uptime, WINDOWS};
use crate::http::api::ApiError;
use crate::http::dashboard::{incident_view, probe_view};
use crate::http::openapi::answers;
use crate::http::pages::{error_page, html, layout};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn uptime_views(uptime: &[Uptime]) -> Vec<ui_history::UptimeView> {
    uptime
        .iter()
        .map(|u| ui_history::UptimeView {
            window: match u.window {
                "24h" => "24 hours".to_owned(),
                "7d" => "7 days".to_owned(),
                _ => "30 days".to_owned(),
            },
            percent: u.percent(),
            attempts: u.attempts,
        })
        .collect()
}

fn rollup_views(rollups: &[ProbeRollup]) -> Vec<ui_history::RollupView> {
    rollups
        .iter()
        .map(|r| ui_history::RollupView {
            start_ms: r.start_ms,
            attempts: r.attempts,
            successes: r.successes,
            mean_ms: r.mean_latency_ms(),
            min_ms: r.latency_min_ms,
            max_ms: r.latency_max_ms,
        })
        .collect()
}

fn not_found(state: &AppState, headers: &HeaderMap, what: String) -> Response {
    error_page(state, headers, StatusCode::NOT_FOUND, "Not found", what)
}

fn site_of(site: &str) -> Option<SiteName> {
    SiteName::new(site.to_owned()).ok()
}

#[utoipa::path(
    get,
    path = "/probes/{site}/{name}",
    operation_id = "probe_page",
    tag = "dashboard",
    summary = "A probe's history: uptime, response times, the latest attempts",
    params(
        ("site" = String, Path, description = "The probe's site."),
        ("name" = String, Path, description = "The probe's name."),
    ),
    responses(
        answers::Page,
        (status = 404, description = "No such probe.", content_type = "text/html", body = String),
        answers::DatabaseUnavailable,
    )
)]
pub async fn probe_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((site, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let found = match site_of(&site) {
        Some(site) => state.history.probe(&site, &name, now).await?,
        None => None,
    };
    let Some(history) = found else {
        return Ok(not_found(
            &state,
            &headers,
            format!("No probe {name:?} has reported on site {site:?}."),
        ));
    };
    let incidents = state
        .history
        .incidents(&history.record.site, &history.record.service)
        .await?;
    let page = ui_history::ProbePage {
        layout: layout(&state, &headers, ui::Nav::Health),
        now_ms: now,
        probe: probe_view(&history.record),
        uptime: uptime_views(&history.uptime),
        hourly: rollup_views(&history.hourly),
        daily: rollup_views(&history.daily),
        certificate_days_left: history.certificate_days_left,
        incidents: incidents.iter().map(incident_view).collect(),
    };
    Ok(html(state.ui.probe(&page)))
}

#[utoipa::path(
    get,
    path = "/services/{site}/{service}",
    operation_id = "service_page",
    tag = "dashboard",
    summary = "A service's history: its probes' uptime and latest attempts, its incidents",
    params(
        ("site" = String, Path, description = "The service's site."),
        ("service" = String, Path, description = "The service's name."),
    ),
    responses(
        answers::Page,
        (status = 404, description = "No probe of the service has reported.", content_type = "text/html", body = String),
        answers::DatabaseUnavailable,
    )
)]
pub async fn service_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((site, service)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let found = match site_of(&site) {
        Some(site) => state.history.service(&site, &service, now).await?,
        None => None,
    };
    let Some(history) = found else {
        return Ok(not_found(
            &state,
            &headers,
            format!("No probe of service {service:?} has reported on site {site:?}."),
        ));
    };
    let incidents = state.history.incidents(&history.site, &service).await?;
    let page = ui_history::ServicePage {
        layout: layout(&state, &headers, ui::Nav::Health),
        now_ms: now,
        site: history.site.to_string(),
        service: history.service.clone(),
        state: history.state.as_str().to_owned(),
        uptime: uptime_views(&history.uptime),
        daily: rollup_views(&history.daily),
        probes: history
            .probes
            .iter()
            .map(|p| ui_history::ServiceProbe {
                probe: probe_view(&p.record),
                uptime: uptime_views(&p.uptime),
            })
            .collect(),
        incidents: incidents.iter().map(incident_view).collect(),
    };
    Ok(html(state.ui.service(&page)))
}

/// Uptime over one window, as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UptimeJson {
    /// `24h`, `7d` or `30d`.
    pub window: String,
    pub attempts: i64,
    pub successes: i64,
    /// Percent up; `null` without attempts.
    pub percent: Option<f64>,
}

/// The attempts of one hour or UTC day.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RollupJson {
    /// RFC 3339, the period's start.
    pub start: String,
    pub attempts: i64,
    pub successes: i64,
    pub latency_mean_ms: i64,
    pub latency_min_ms: i64,
    pub latency_max_ms: i64,
}

/// One attempt.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AttemptJson {
    pub at: String,
    pub ok: bool,
    pub latency_ms: i64,
}

/// A probe's history: its state, uptime, hourly and daily rollups, latest
/// attempts and, for certificate probes, the days left.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProbeHistoryJson {
    pub site: String,
    pub probe: String,
    pub service: String,
    pub kind: String,
    /// `up`, `down` or `unknown`.
    pub state: String,
    /// When the state last changed (RFC 3339).
    pub since: String,
    pub message: String,
    pub uptime: Vec<UptimeJson>,
    /// The last 7 days, hourly, oldest first.
    pub hourly: Vec<RollupJson>,
    /// The last 30 days, daily, oldest first.
    pub daily: Vec<RollupJson>,
    /// The latest attempts, oldest first.
    pub recent: Vec<AttemptJson>,
    pub certificate_days_left: Option<i64>,
}

fn rollups_json(rollups: &[ProbeRollup]) -> Vec<RollupJson> {
    rollups
        .iter()
        .map(|r| RollupJson {
            start: crate::clock::rfc3339(r.start_ms),
            attempts: r.attempts,
            successes: r.successes,
            latency_mean_ms: r.mean_latency_ms(),
            latency_min_ms: r.latency_min_ms,
            latency_max_ms: r.latency_max_ms,
        })
        .collect()
}

impl ProbeHistoryJson {
    fn new(h: &ProbeHistory) -> ProbeHistoryJson {
        let r = &h.record;
        ProbeHistoryJson {
            site: r.site.to_string(),
            probe: r.probe.clone(),
            service: r.service.clone(),
            kind: r.kind.clone(),
            state: r.state.as_str().to_owned(),
            since: crate::clock::rfc3339(r.since_ms),
            message: r.message.clone(),
            uptime: h
                .uptime
                .iter()
                .map(|u| UptimeJson {
                    window: u.window.to_owned(),
                    attempts: u.attempts,
                    successes: u.successes,
                    percent: u.percent(),
                })
                .collect(),
            hourly: rollups_json(&h.hourly),
            daily: rollups_json(&h.daily),
            recent: r
                .history
                .iter()
                .map(|p| AttemptJson {
                    at: crate::clock::rfc3339(p.at_ms),
                    ok: p.ok,
                    latency_ms: p.latency_ms,
                })
                .collect(),
            certificate_days_left: h.certificate_days_left,
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/probes/{site}/{name}/history",
    operation_id = "probe_history",
    tag = "health",
    summary = "A probe's history: uptime over 24 h, 7 d and 30 d, hourly and daily rollups, the latest attempts",
    params(
        ("site" = String, Path, description = "The probe's site."),
        ("name" = String, Path, description = "The probe's name."),
    ),
    responses(
        (status = 200, description = "The history.", body = ProbeHistoryJson),
        (status = 404, description = "No such probe.", body = crate::http::openapi::schemas::ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn probe_history(
    State(state): State<AppState>,
    Path((site, name)): Path<(String, String)>,
) -> Result<Json<ProbeHistoryJson>, ApiError> {
    let found = match site_of(&site) {
        Some(site) => state.history.probe(&site, &name, now_ms()).await?,
        None => None,
    };
    found
        .map(|h| Json(ProbeHistoryJson::new(&h)))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no probe {name:?} on site {site:?}"),
            )
        })
}

fn state_word(state: ProbeState) -> &'static str {
    state.as_str()
}

#[utoipa::path(
    get,
    path = "/status/{slug}",
    operation_id = "status_page",
    tag = "public",
    summary = "A public status page (opt-in, `CLAUDEOPS_STATUS_PAGES`)",
    description = "Names, states, uptime and open incidents of the services the operator made public; no messages, addresses or sessions. No login needed.",
    params(("slug" = String, Path, description = "The page's slug.")),
    responses(
        answers::Page,
        (status = 404, description = "No such status page.", content_type = "text/plain", body = String),
        (status = 503, description = "The database is unavailable.", content_type = "text/plain", body = String),
    )
)]
pub async fn status_page(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let now = now_ms();
    match state.history.status_page(&slug, now).await {
        Ok(Some(view)) => {
            let page = ui_history::StatusPage {
                version: VERSION.to_owned(),
                title: view.spec.slug.clone(),
                now_ms: now,
                state: crate::history::worst_of(view.services.iter().map(|s| s.state))
                    .as_str()
                    .to_owned(),
                services: view
                    .services
                    .iter()
                    .map(|s| ui_history::StatusService {
                        name: s.service.clone(),
                        state: state_word(s.state).to_owned(),
                        since_ms: s.since_ms,
                        uptime: uptime_views(&s.uptime),
                        daily: rollup_views(&s.daily),
                    })
                    .collect(),
                open_incidents: view.open,
            };
            let mut response = html(state.ui.status(&page));
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=30"),
            );
            response
        }
        Ok(None) => (StatusCode::NOT_FOUND, "No such status page.").into_response(),
        Err(error) => {
            tracing::warn!(%error, "a status page could not be read");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The status page is unavailable for a moment.",
            )
                .into_response()
        }
    }
}

/// Which site's service, and (for uptime) over which window.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BadgeQuery {
    /// The site, when the service is public on several.
    site: Option<String>,
    /// `24h` (default), `7d` or `30d`; uptime badges only.
    window: Option<String>,
}

fn svg(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=60"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The service for a badge, or the badge that says why there is none.
async fn badge_service(
    state: &AppState,
    service: &str,
    site: Option<&str>,
    label: &str,
) -> Result<ServiceHistory, Response> {
    match state.history.public_service(service, site, now_ms()).await {
        Ok(Some(history)) => Ok(history),
        Ok(None) => Err(svg(
            StatusCode::NOT_FOUND,
            ui_history::badge_svg(label, "unknown", BadgeColor::Grey),
        )),
        Err(error) => {
            tracing::warn!(%error, "a badge could not be read");
            Err(svg(
                StatusCode::SERVICE_UNAVAILABLE,
                ui_history::badge_svg(label, "unavailable", BadgeColor::Grey),
            ))
        }
    }
}

#[utoipa::path(
    get,
    path = "/badge/{service}/status.svg",
    operation_id = "status_badge",
    tag = "public",
    summary = "A service's state as an SVG badge (services on a public status page only)",
    params(("service" = String, Path, description = "The service."), BadgeQuery),
    responses(
        (status = 200, description = "The badge: up, down or unknown.", content_type = "image/svg+xml", body = String),
        (status = 404, description = "No public status page shows the service: a grey badge.", content_type = "image/svg+xml", body = String),
        (status = 503, description = "The database is unavailable: a grey badge.", content_type = "image/svg+xml", body = String),
    )
)]
pub async fn status_badge(
    State(state): State<AppState>,
    Path(service): Path<String>,
    Query(query): Query<BadgeQuery>,
) -> Response {
    let history = match badge_service(&state, &service, query.site.as_deref(), &service).await {
        Ok(history) => history,
        Err(answer) => return answer,
    };
    let (value, color) = match history.state {
        ProbeState::Up => ("up", BadgeColor::Green),
        ProbeState::Down => ("down", BadgeColor::Red),
        ProbeState::Unknown => ("unknown", BadgeColor::Grey),
    };
    svg(
        StatusCode::OK,
        ui_history::badge_svg(&service, value, color),
    )
}

#[utoipa::path(
    get,
    path = "/badge/{service}/uptime.svg",
    operation_id = "uptime_badge",
    tag = "public",
    summary = "A service's uptime as an SVG badge (services on a public status page only)",
    params(("service" = String, Path, description = "The service."), BadgeQuery),
    responses(
        (status = 200, description = "The badge: the uptime percentage over the window.", content_type = "image/svg+xml", body = String),
        (status = 400, description = "An unknown window: a grey badge.", content_type = "image/svg+xml", body = String),
        (status = 404, description = "No public status page shows the service: a grey badge.", content_type = "image/svg+xml", body = String),
        (status = 503, description = "The database is unavailable: a grey badge.", content_type = "image/svg+xml", body = String),
    )
)]
pub async fn uptime_badge(
    State(state): State<AppState>,
    Path(service): Path<String>,
    Query(query): Query<BadgeQuery>,
) -> Response {
    let window = query.window.as_deref().unwrap_or("24h");
    let Some(index) = WINDOWS.iter().position(|(w, _)| *w == window) else {
        return svg(
            StatusCode::BAD_REQUEST,
            ui_history::badge_svg("uptime", "window: 24h, 7d or 30d", BadgeColor::Grey),
        );
    };
    let label = format!("uptime {window}");
    let history = match badge_service(&state, &service, query.site.as_deref(), &label).await {
        Ok(history) => history,
        Err(answer) => return answer,
    };
    let uptime = &history.uptime[index];
    let (value, color) = match uptime.percent() {
        None => ("no data".to_owned(), BadgeColor::Grey),
        Some(p) => (
            if p >= 100.0 {
                "100%".to_owned()
            } else {
                format!("{:.2}%", (p * 100.0).floor() / 100.0)
            },
            if p >= 99.0 {
                BadgeColor::Green
            } else if p >= 95.0 {
                BadgeColor::Yellow
            } else {
                BadgeColor::Red
            },
        ),
    };
    svg(StatusCode::OK, ui_history::badge_svg(&label, &value, color))
}
