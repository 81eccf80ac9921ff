//! `GET /metrics`: the fleet's one Prometheus scrape target. The control
//! plane's own metrics, what is computed at the scrape (workers connected and
//! the age of their last message, open incidents, viewers, today's cost), and
//! every connected worker's own metrics labelled with its site and id.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use claudeops_telemetry::metrics::Merged;
use claudeops_telemetry::names;

use crate::app::AppState;
use crate::clock::now_ms;

/// The exposition format's content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "metrics",
    summary = "The Prometheus exposition",
    description = "The control plane's own metrics, what is computed at the scrape, and every connected worker's metrics labelled with its site and id.",
    responses(
        (status = 200, description = "The text exposition format.", content_type = "text/plain; version=0.0.4", body = String),
    )
)]
pub async fn metrics(State(app): State<AppState>) -> Response {
    let mut merged = Merged::default();
    if let Some(handle) = claudeops_telemetry::metrics::installed() {
        let own = claudeops_telemetry::metrics::render(handle);
        if let Err(error) = merged.add(&own, &[]) {
            tracing::error!(%error, "the control plane's own metrics do not read back");
        }
    }
    let now = now_ms();
    let workers = app.context.registry.scrape();
    let mut per_site: BTreeMap<String, usize> = BTreeMap::new();
    for site in app.context.registry.sites() {
        per_site.insert(site.to_string(), 0);
    }
    for w in &workers {
        *per_site.entry(w.site.to_string()).or_default() += 1;
        let age = (now - w.last_seen_ms).max(0) as f64 / 1000.0;
        let labels = [("site", w.site.as_str()), ("worker", w.worker_id.as_str())];
        merged.gauge(names::HEARTBEAT_AGE, age, &labels);
        if let Some(text) = &w.metrics
            && let Err(error) = merged.add(text, &labels)
        {
            tracing::warn!(worker = %w.worker_id, %error, "a worker's metrics were left out");
        }
    }
    for (site, n) in &per_site {
        merged.gauge(names::WORKERS_CONNECTED, *n as f64, &[("site", site)]);
    }
    let mut open: BTreeMap<String, usize> = BTreeMap::new();
    for incident in app.incidents.open_incidents(None, None).await {
        *open.entry(incident.site.to_string()).or_default() += 1;
    }
    for (site, n) in &open {
        merged.gauge(names::INCIDENTS_OPEN, *n as f64, &[("site", site)]);
    }
    merged.gauge(
        names::SSE_VIEWERS,
        app.context.hub.total_viewers() as f64,
        &[],
    );
    match app.sessions.spent_today().await {
        Ok(spent) => merged.gauge(names::DAILY_COST, spent, &[]),
        Err(error) => tracing::warn!(%error, "today's cost is left out of /metrics"),
    }
    let cap = app.context.runtime.global().max_daily_cost_usd;
    if cap > 0.0 {
        merged.gauge(names::DAILY_BUDGET, cap, &[]);
    }
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT))],
        merged.render(),
    )
        .into_response()
}
