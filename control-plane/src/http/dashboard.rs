//! The health, incidents, inventory and notifications pages of the dashboard,
//! built from the same records as their JSON APIs (`health`, `notifications`).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use claudeops_core::SiteName;
use claudeops_core::health::{Incident, IncidentStatus, InventoryRecord, ProbeRecord};
use claudeops_core::notification::DeliveryRecord;
use claudeops_store::{DeliveryFilter, IncidentFilter};
use claudeops_web_ui::model as ui;
use serde::Deserialize;
use serde_json::Value;

use crate::app::AppState;
use crate::http::api::ApiError;
use crate::http::health::HISTORY;
use crate::http::pages::{html, layout};
use crate::sessions::now_ms;

/// Rows per page of the incidents and notifications lists.
const PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct PageQuery {
    offset: Option<u32>,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

fn paging(offset: u32, has_more: bool) -> ui::Paging {
    ui::Paging {
        offset: u64::from(offset),
        limit: u64::from(PAGE),
        total: None,
        has_more,
    }
}

fn probe_view(p: &ProbeRecord) -> ui::ProbeView {
    ui::ProbeView {
        site: p.site.to_string(),
        name: p.probe.clone(),
        service: p.service.clone(),
        kind: p.kind.clone(),
        state: p.state.as_str().to_owned(),
        ok: p.ok,
        latency_ms: p.latency_ms,
        message: p.message.clone(),
        last_at_ms: p.last_at_ms,
        since_ms: p.since_ms,
        history: p
            .history
            .iter()
            .map(|h| ui::HistoryView {
                at_ms: h.at_ms,
                latency_ms: h.latency_ms,
                ok: h.ok,
            })
            .collect(),
    }
}

fn incident_view(i: &Incident) -> ui::IncidentView {
    ui::IncidentView {
        id: i.id,
        site: i.site.to_string(),
        service: i.service.clone(),
        status: i.status.as_str().to_owned(),
        resolution: i.resolution.map(|r| r.as_str().to_owned()),
        probes: i.probes.clone(),
        evidence: i.evidence.clone(),
        opened_at_ms: i.opened_at_ms,
        resolved_at_ms: i.resolved_at_ms,
        session_id: i.session_id,
    }
}

/// `GET /health`: open incidents and every probe's state.
pub async fn health(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let store = &state.sessions.store;
    let probes = store.list_probes(None, HISTORY).await?;
    let open = store
        .list_incidents(&IncidentFilter {
            status: Some(IncidentStatus::Open),
            limit: 200,
            ..IncidentFilter::default()
        })
        .await?;
    let page = ui::HealthPage {
        layout: layout(&state, &headers, ui::Nav::Health),
        now_ms: now_ms(),
        open_incidents: open.iter().map(incident_view).collect(),
        probes: probes.iter().map(probe_view).collect(),
    };
    Ok(html(state.ui.health(&page)))
}

/// `GET /incidents?offset=N`: every incident, newest first.
pub async fn incidents(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let offset = q.offset.unwrap_or(0);
    let mut list = state
        .sessions
        .store
        .list_incidents(&IncidentFilter {
            limit: PAGE + 1,
            offset,
            ..IncidentFilter::default()
        })
        .await?;
    let has_more = list.len() > PAGE as usize;
    list.truncate(PAGE as usize);
    let page = ui::IncidentsPage {
        layout: layout(&state, &headers, ui::Nav::Incidents),
        now_ms: now_ms(),
        incidents: list.iter().map(incident_view).collect(),
        paging: paging(offset, has_more),
    };
    Ok(html(state.ui.incidents(&page)))
}

/// `GET /sites/{site}/inventory`: what each worker of the site discovered.
pub async fn inventory(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(site): Path<String>,
) -> Result<Response, ApiError> {
    let site =
        SiteName::new(site).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let records = state.sessions.store.inventories(&site).await?;
    let page = ui::InventoryPage {
        layout: layout(&state, &headers, ui::Nav::Sites),
        now_ms: now_ms(),
        site: site.to_string(),
        workers: records.iter().map(worker_inventory).collect(),
    };
    Ok(html(state.ui.inventory(&page)))
}

/// `GET /notifications?offset=N`: the delivery log and the test button.
pub async fn notifications(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let page = notifications_page(&state, &headers, q.offset.unwrap_or(0)).await?;
    Ok(html(state.ui.notifications(&page)))
}

/// `POST /notifications/test`: sends a test notification to every URL and shows
/// the outcome per URL (by position only) above the delivery log.
pub async fn notifications_test(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    if !state.auth.form_ok(&headers, &form.csrf, now_ms()) {
        return Ok(Redirect::to("/login").into_response());
    }
    let (level, message) = match crate::http::notifications::send_test(&state).await {
        Ok(results) => test_outcome(&results),
        Err(e) => (
            ui::FlashLevel::Error,
            format!("Test not sent: {}.", e.message()),
        ),
    };
    let mut page = notifications_page(&state, &headers, 0).await?;
    page.layout = page.layout.with_flash(level, message);
    Ok(html(state.ui.notifications(&page)))
}

/// The flash for the per-URL results of `send_test` (`{"url": "#N", "ok", "error"}`).
fn test_outcome(results: &[Value]) -> (ui::FlashLevel, String) {
    if results.is_empty() {
        return (
            ui::FlashLevel::Warning,
            "Test notification: no URL is configured.".to_owned(),
        );
    }
    let parts: Vec<String> = results
        .iter()
        .map(|r| {
            let url = r["url"].as_str().unwrap_or("#?");
            if r["ok"].as_bool().unwrap_or(false) {
                format!("{url} delivered")
            } else {
                match r["error"].as_str().filter(|e| !e.is_empty()) {
                    Some(error) => format!("{url} failed ({error})"),
                    None => format!("{url} failed"),
                }
            }
        })
        .collect();
    let failed = results
        .iter()
        .filter(|r| !r["ok"].as_bool().unwrap_or(false))
        .count();
    let level = match failed {
        0 => ui::FlashLevel::Success,
        n if n == results.len() => ui::FlashLevel::Error,
        _ => ui::FlashLevel::Warning,
    };
    (level, format!("Test notification: {}.", parts.join("; ")))
}

async fn notifications_page(
    state: &AppState,
    headers: &HeaderMap,
    offset: u32,
) -> Result<ui::NotificationsPage, ApiError> {
    let mut list = state
        .sessions
        .store
        .list_deliveries(&DeliveryFilter {
            notification_id: None,
            limit: PAGE + 1,
            offset,
        })
        .await?;
    let has_more = list.len() > PAGE as usize;
    list.truncate(PAGE as usize);
    let notifier = state.sessions.notifier.notifier();
    Ok(ui::NotificationsPage {
        layout: layout(state, headers, ui::Nav::Notifications),
        now_ms: now_ms(),
        enabled: notifier.is_some_and(|n| n.url_count() > 0),
        url_count: notifier.map_or(0, |n| u32::try_from(n.url_count()).unwrap_or(u32::MAX)),
        deliveries: list.iter().map(delivery_view).collect(),
        paging: paging(offset, has_more),
    })
}

fn delivery_view(d: &DeliveryRecord) -> ui::DeliveryView {
    ui::DeliveryView {
        notification_id: d.notification_id.clone(),
        kind: d.kind.clone(),
        title: d.title.clone(),
        sites: d.sites.clone(),
        url_index: d.url_index,
        attempt: d.attempt,
        ok: d.ok,
        error: d.error.clone(),
        at_ms: d.at_ms,
    }
}

// ---- reading an inventory report (the JSON of `claudeops_discovery::Inventory`)

fn worker_inventory(r: &InventoryRecord) -> ui::WorkerInventoryView {
    let inv = &r.inventory;
    let mut view = ui::WorkerInventoryView {
        worker_id: r.worker_id.clone(),
        reported_at_ms: r.reported_at_ms,
        ..ui::WorkerInventoryView::default()
    };
    if !inv.is_object() {
        view.unreadable = Some("the report is not a JSON object".to_owned());
        return view;
    }
    view.problems = items(&inv["problems"])
        .map(|p| ui::ProblemView {
            path: text(&p["path"]),
            line: p["line"].as_u64().and_then(|l| u32::try_from(l).ok()),
            message: text(&p["message"]),
        })
        .collect();
    view.repos = items(&inv["repos"]).map(repo_view).collect();
    view.services = items(&inv["services"]).map(service_view).collect();
    view.probes = items(&inv["probes"])
        .map(|p| ui::InventoryProbeView {
            name: text(&p["name"]),
            service: text(&p["service"]),
            url: without_password(&text(&p["url"])),
            source: source_text(&p["source"]),
        })
        .collect();
    view
}

fn items(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn opt_text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

fn repo_view(r: &Value) -> ui::RepoView {
    let ext = &r["extensions"];
    let manifest = &r["manifest"];
    ui::RepoView {
        name: text(&r["name"]),
        path: text(&r["path"]),
        has_manifest: r["has_manifest"].as_bool().unwrap_or(false),
        title: opt_text(&manifest["title"]),
        kind: opt_text(&manifest["kind"]),
        checks: items(&ext["checks"])
            .map(|c| opt_text(&c["title"]).unwrap_or_else(|| text(&c["file"])))
            .collect(),
        playbooks: items(&ext["playbooks"])
            .map(|p| ui::PlaybookView {
                file: text(&p["file"]),
                title: text(&p["title"]),
                min_tier: p["min_tier"]
                    .as_u64()
                    .and_then(|t| u8::try_from(t).ok())
                    .unwrap_or(3),
            })
            .collect(),
        skills: items(&ext["skills"]).map(text).collect(),
        mcp_servers: items(&ext["mcp_servers"])
            .map(|m| text(&m["name"]))
            .collect(),
        probe_files: items(&ext["probe_files"]).map(text).collect(),
        compose_files: items(&r["compose_files"])
            .map(|c| ui::ComposeFileView {
                path: text(&c["path"]),
                project: text(&c["project"]),
                services: items(&c["services"]).map(text).collect(),
            })
            .collect(),
    }
}

fn service_view(s: &Value) -> ui::InventoryServiceView {
    ui::InventoryServiceView {
        name: text(&s["name"]),
        host: opt_text(&s["host"]),
        project: opt_text(&s["project"]),
        url: opt_text(&s["url"]).map(|u| without_password(&u)),
        image: opt_text(&s["image"]),
        ports: items(&s["ports"])
            .map(|p| {
                let proto = p["protocol"].as_str().unwrap_or("tcp");
                match (p["published"].as_u64(), p["target"].as_u64()) {
                    (Some(host), Some(target)) => format!("{host}:{target}/{proto}"),
                    (Some(port), None) | (None, Some(port)) => format!("{port}/{proto}"),
                    (None, None) => proto.to_owned(),
                }
            })
            .collect(),
        healthcheck: s["healthcheck"].as_bool().unwrap_or(false),
        containers: items(&s["containers"])
            .map(|c| format!("{} ({})", text(&c["name"]), text(&c["state"])))
            .collect(),
        sources: items(&s["sources"]).map(source_text).collect(),
        probes_disabled: s["probes_disabled"].as_bool().unwrap_or(false),
    }
}

/// A probe's or a service fact's origin: `path:line`, `container NAME`, `built in`.
fn source_text(v: &Value) -> String {
    let kind = v["kind"].as_str().unwrap_or_default();
    match kind {
        "container" => format!("container {}", text(&v["name"])),
        _ if v["path"].is_string() => match v["line"].as_u64() {
            Some(line) => format!("{}:{line}", text(&v["path"])),
            None => text(&v["path"]),
        },
        "" | "builtin" => "built in".to_owned(),
        other => other.to_owned(),
    }
}

/// A URL with the password of its user info replaced (`postgres://app:***@db`).
fn without_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let user = authority[..at].split(':').next().unwrap_or_default();
    let masked = if authority[..at].contains(':') {
        format!("{user}:***")
    } else {
        user.to_owned()
    };
    format!(
        "{}{masked}{}",
        &url[..scheme_end + 3],
        &url[scheme_end + 3 + at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_are_masked_in_urls() {
        assert_eq!(
            without_password("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(without_password("https://a.b/c@d"), "https://a.b/c@d");
        assert_eq!(without_password("redis://u@h"), "redis://u@h");
        assert_eq!(without_password("tcp:1"), "tcp:1");
    }

    #[test]
    fn sources_read_as_text() {
        assert_eq!(
            source_text(&json!({"kind": "file", "path": "a/b.yaml", "line": 4})),
            "a/b.yaml:4"
        );
        assert_eq!(
            source_text(&json!({"kind": "container", "name": "web"})),
            "container web"
        );
        assert_eq!(source_text(&json!({"kind": "builtin"})), "built in");
        assert_eq!(source_text(&Value::Null), "built in");
    }

    #[test]
    fn test_outcome_lists_every_url_by_position() {
        let (level, message) = test_outcome(&[
            json!({"url": "#1", "ok": true, "error": null}),
            json!({"url": "#2", "ok": false, "error": "timeout"}),
        ]);
        assert_eq!(level, ui::FlashLevel::Warning);
        assert_eq!(
            message,
            "Test notification: #1 delivered; #2 failed (timeout)."
        );
    }
}
