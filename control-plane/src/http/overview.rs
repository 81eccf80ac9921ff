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
    let next_run_ms = match state.context.config.interval() {
        Some(interval) => {
            let mut next: Option<i64> = None;
            for site in state.context.registry.sites() {
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
        None => None,
    };
    Ok(Figures {
        stats,
        active_memories,
        success_rate,
        next_run_ms,
    })
}

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
        "last_session": last.first().map(SessionJson::new),
        "next_run": f.next_run_ms.map(rfc3339),
        "interval_seconds": state.context.config.interval.as_secs(),
    })))
}

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
            interval_seconds: state.context.config.interval.as_secs(),
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

pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    // The page ignores an unknown level (the API refuses it).
    let level = q.level().ok().flatten();
    let offset = q.offset.unwrap_or(0);
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
