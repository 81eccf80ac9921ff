//! The overview: `/api/v1/stats` (the original's shape, for the Homepage
//! dashboard's customapi widget) and the dashboard's TL;DR page, built from the
//! same figures.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use claudeops_core::event::EventLevel;
use claudeops_store::{ActionFilter, EventFilter, SessionFilter, Stats};
use claudeops_web_ui::model as ui;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::clock::now_ms;
use crate::http::api::{ApiError, EventsQuery, SessionJson, rfc3339, site_param};
use crate::http::openapi::answers;
use crate::http::openapi::schemas;
use crate::http::pages::{action_view, html, layout};

const DAY_MS: i64 = 24 * 3600 * 1000;

struct Figures {
    stats: Stats,
    active_memories: i64,
    success_rate: f64,
    next_run_ms: Option<i64>,
}

async fn figures(state: &AppState) -> Result<Figures, ApiError> {
    let stats = state.queries.stats(now_ms() - DAY_MS).await?;
    let active_memories = state.queries.count_active_memories().await?;
    let success_rate = if stats.finished > 0 {
        stats.completed as f64 / stats.finished as f64
    } else {
        0.0
    };
    let next_run_ms = {
        {
            let mut next: Option<i64> = None;
            for site in state.context.registry.sites() {
                let Some(interval) = state.context.runtime.site(&site).interval() else {
                    continue;
                };
                let last = state
                    .sessions
                    .last_started(&site, claudeops_core::Trigger::Scheduled)
                    .await?;
                let due = last.unwrap_or_else(now_ms)
                    + i64::try_from(interval.as_millis()).unwrap_or(i64::MAX / 2);
                next = Some(next.map_or(due, |n: i64| n.min(due)));
            }
            next
        }
    };
    Ok(Figures {
        stats,
        active_memories,
        success_rate,
        next_run_ms,
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/stats",
    operation_id = "stats",
    tag = "stats",
    summary = "The overview figures",
    description = "The original's shape, for the Homepage dashboard's customapi widget: the last 24 hours' figures, the newest session, and when the next scheduled run is due.",
    responses(
        (status = 200, description = "The figures.", body = schemas::StatsAnswer),
        answers::DatabaseUnavailable,
    )
)]
pub async fn stats(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let f = figures(&state).await?;
    let last = state
        .sessions
        .list(&SessionFilter {
            site: None,
            limit: 1,
            offset: 0,
        })
        .await?;
    Ok(Json(json!({
        "stats": {
            "total_runs": f.stats.total_runs,
            "escalations": f.stats.escalations,
            "remediations": f.stats.remediations,
            "success_rate": f.success_rate,
            "total_cost_usd": f.stats.total_cost_usd,
            "active_memories": f.active_memories,
            "critical_events": f.stats.critical_events,
            "avg_duration_ms": f.stats.avg_duration_ms.round() as i64,
        },
        "last_session": last.first().map(stats_session),
        // Always a time, as the widget expects: with scheduled runs off (or no
        // site yet) the next run is "now", as in the original (now + interval).
        "next_run": rfc3339(f.next_run_ms.unwrap_or_else(now_ms)),
        "scheduled_runs": f.next_run_ms.is_some(),
        "interval_seconds": state.context.runtime.global().interval.as_secs(),
    })))
}

/// The original's `StatsSession`: absent fields rather than nulls, since its
/// document types them as plain strings and numbers.
fn stats_session(s: &claudeops_core::Session) -> Value {
    let json = serde_json::to_value(SessionJson::new(s)).unwrap_or_default();
    let mut out = serde_json::Map::new();
    for key in [
        "id",
        "tier",
        "status",
        "started_at",
        "ended_at",
        "cost_usd",
        "duration_ms",
        "trigger",
        "summary",
        "site",
        "model",
        "status_detail",
        "trigger_detail",
    ] {
        if let Some(value) = json.get(key).filter(|v| !v.is_null()) {
            out.insert(key.to_owned(), value.clone());
        }
    }
    Value::Object(out)
}

#[utoipa::path(
    get,
    path = "/",
    operation_id = "overview_page",
    tag = "dashboard",
    summary = "The overview page",
    responses(answers::Page, answers::DatabaseUnavailable,)
)]
pub async fn overview(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let f = figures(&state).await?;
    let latest = state
        .sessions
        .list(&SessionFilter {
            site: None,
            limit: 1,
            offset: 0,
        })
        .await?;
    let critical = state
        .queries
        .events(&EventFilter {
            site: None,
            level: Some(EventLevel::Critical),
            service: None,
            limit: 10,
            offset: 0,
        })
        .await?;
    let running = state.sessions.running().await?;
    let connected = state.context.registry.list();
    let page = ui::OverviewPage {
        layout: layout(&state, &headers, ui::Nav::Overview),
        stats: ui::StatsView {
            total_runs: f.stats.total_runs,
            escalations: f.stats.escalations,
            remediations: f.stats.remediations,
            success_rate: f.success_rate,
            total_cost_usd: f.stats.total_cost_usd,
            active_memories: f.active_memories,
            critical_events_24h: f.stats.critical_events,
            avg_duration_ms: f.stats.avg_duration_ms.round() as i64,
            next_run_ms: f.next_run_ms,
            interval_seconds: state.context.runtime.global().interval.as_secs(),
        },
        latest: latest.first().map(|s| ui::LatestView {
            session_id: s.id,
            site: s.site.to_string(),
            tier: s.tier.number(),
            status: s.status.to_string(),
            started_at_ms: s.started_at_ms,
            summary: s
                .structured
                .as_ref()
                .and_then(|v| v.get("summary"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        }),
        attention: critical.iter().map(event_row).collect(),
        sites: state
            .context
            .registry
            .sites()
            .into_iter()
            .map(|site| ui::SiteHealth {
                workers_connected: u32::try_from(
                    connected.iter().filter(|w| w.site == site).count(),
                )
                .unwrap_or(u32::MAX),
                running_session_id: running.iter().find(|s| s.site == site).map(|s| s.id),
                name: site.to_string(),
            })
            .collect(),
    };
    Ok(html(state.ui.overview(&page)))
}

fn event_row(e: &claudeops_store::Event) -> ui::EventRow {
    ui::EventRow {
        id: e.id,
        ts_ms: e.ts_ms,
        site: e.site.to_string(),
        session_id: e.session_id,
        level: e.level.to_string(),
        service: e.service.clone(),
        message: e.message.clone(),
    }
}

const PAGE: u32 = 100;

#[utoipa::path(
    get,
    path = "/events",
    operation_id = "events_page",
    tag = "dashboard",
    summary = "The events page",
    description = "The filters of `GET /api/v1/events`; an unknown level is ignored.",
    params(EventsQuery),
    responses(
        answers::Page,
        (status = 400, description = "A parameter cannot be read (`application/json` when the site is not a site's name).", content(
            (String = "text/plain"), (schemas::ApiErrorBody = "application/json"),
        )),
        answers::DatabaseUnavailable,
    )
)]
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    // The page ignores an unknown level (the API refuses it).
    let level = q.level().ok().flatten();
    let offset = crate::http::api::page_offset(q.offset);
    let filter = EventFilter {
        site: site_param(q.site.clone())?,
        level,
        service: q.service(),
        limit: PAGE + 1,
        offset,
    };
    let mut events = state.queries.events(&filter).await?;
    let has_more = events.len() > PAGE as usize;
    events.truncate(PAGE as usize);
    let page = ui::EventsPage {
        layout: layout(&state, &headers, ui::Nav::Events),
        events: events.iter().map(event_row).collect(),
        filter: ui::EventFilterView {
            level: q.level,
            service: q.service,
            site: q.site,
        },
        paging: ui::Paging {
            offset: u64::from(offset),
            limit: u64::from(PAGE),
            total: None,
            has_more,
        },
    };
    Ok(html(state.ui.events(&page)))
}

#[utoipa::path(
    get,
    path = "/cooldowns",
    operation_id = "cooldowns_page",
    tag = "dashboard",
    summary = "The cooldowns page",
    responses(answers::Page, answers::DatabaseUnavailable,)
)]
pub async fn cooldowns(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let limits = state.context.config.cooldown_limits();
    let now = now_ms();
    let rows = state.queries.cooldowns(now).await?;
    let actions = state
        .queries
        .actions(&ActionFilter {
            limit: 50,
            ..ActionFilter::default()
        })
        .await?;
    let window = |ms: i64| claudeops_core::ledger::describe_window(ms);
    let page = ui::CooldownsPage {
        layout: layout(&state, &headers, ui::Nav::Cooldowns),
        now_ms: now,
        limits: vec![
            ui::LimitView {
                kind: "restart".into(),
                max: limits.max_restarts,
                window: window(limits.restart_window_ms),
            },
            ui::LimitView {
                kind: "redeploy".into(),
                max: limits.max_redeploys,
                window: window(limits.redeploy_window_ms),
            },
        ],
        rows: rows
            .into_iter()
            .map(|r| ui::CooldownView {
                site: r.site.to_string(),
                service: r.service,
                kind: r.kind.as_str().to_owned(),
                count_in_window: r.count_in_window,
                limit: r.limit,
                last_action_ms: r.last_action_ms,
                next_allowed_ms: r.next_allowed_ms,
            })
            .collect(),
        actions: actions.iter().map(action_view).collect(),
    };
    Ok(html(state.ui.cooldowns(&page)))
}
