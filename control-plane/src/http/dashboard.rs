//! The health, incidents, inventory and notifications pages of the dashboard,
//! built from the same records as their JSON APIs (`health`, `notifications`).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use claudeops_core::SiteName;
use claudeops_core::health::{Incident, IncidentStatus, InventoryRecord, ProbeRecord};
use claudeops_core::inventory::{Inventory, Origin, Port, Repo, Service};
use claudeops_core::notification::DeliveryRecord;
use claudeops_core::probe::Source;
use claudeops_store::{DeliveryFilter, IncidentFilter};
use claudeops_web_ui::model as ui;
use serde::Deserialize;
use serde_json::Value;

use crate::app::AppState;
use crate::clock::now_ms;
use crate::http::api::ApiError;
use crate::http::health::HISTORY;
use crate::http::openapi::answers;
use crate::http::pages::{CsrfForm, html, layout};

/// Rows per page of the incidents and notifications lists.
const PAGE: u32 = 50;

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The first row to show.
    offset: Option<u32>,
}

fn paging(offset: u32, has_more: bool) -> ui::Paging {
    ui::Paging {
        offset: u64::from(offset),
        limit: u64::from(PAGE),
        total: None,
        has_more,
    }
}

pub(crate) fn probe_view(p: &ProbeRecord) -> ui::ProbeView {
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
        from_dashboard: false,
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

pub(crate) fn incident_view(i: &Incident) -> ui::IncidentView {
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
        acknowledged_by: None,
    }
}

/// The views with who acknowledged each (the latest acknowledgements).
async fn acknowledged(state: &AppState, mut views: Vec<ui::IncidentView>) -> Vec<ui::IncidentView> {
    let acks = state.incidents.acknowledgements().await.unwrap_or_default();
    for view in &mut views {
        view.acknowledged_by = acks
            .iter()
            .find(|a| a.incident_id == view.id)
            .map(|a| a.by.clone());
    }
    views
}

/// `GET /health`: open incidents and every probe's state.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health_page",
    tag = "dashboard",
    summary = "The health page: open incidents and every probe",
    responses(answers::Page, answers::DatabaseUnavailable,)
)]
pub async fn health(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let probes = state.incidents.probes(None, HISTORY).await?;
    let open = state
        .incidents
        .list(&IncidentFilter {
            status: Some(IncidentStatus::Open),
            limit: 200,
            ..IncidentFilter::default()
        })
        .await?;
    let ours = crate::ui_probes::UiProbes::new(&state.context)
        .names()
        .await
        .unwrap_or_default();
    let page = ui::HealthPage {
        layout: layout(&state, &headers, ui::Nav::Health),
        now_ms: now_ms(),
        open_incidents: acknowledged(&state, open.iter().map(incident_view).collect()).await,
        probes: probes
            .iter()
            .map(|p| ui::ProbeView {
                from_dashboard: ours.contains(&(p.site.to_string(), p.probe.clone())),
                ..probe_view(p)
            })
            .collect(),
    };
    Ok(html(state.ui.health(&page)))
}

/// `GET /incidents?offset=N`: every incident, newest first.
#[utoipa::path(
    get,
    path = "/incidents",
    operation_id = "incidents_page",
    tag = "dashboard",
    summary = "The incidents page",
    params(PageQuery),
    responses(
        answers::Page,
        answers::PageParameterRejected,
        answers::DatabaseUnavailable,
    )
)]
pub async fn incidents(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let offset = q.offset.unwrap_or(0);
    let mut list = state
        .incidents
        .list(&IncidentFilter {
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
        incidents: acknowledged(&state, list.iter().map(incident_view).collect()).await,
        paging: paging(offset, has_more),
    };
    Ok(html(state.ui.incidents(&page)))
}

/// `GET /sites/{site}/inventory`: what each worker of the site discovered.
#[utoipa::path(
    get,
    path = "/sites/{site}/inventory",
    operation_id = "inventory_page",
    tag = "dashboard",
    summary = "A site's inventory page",
    params(("site" = String, Path, description = "The site's name: 1-63 of a-z, 0-9 and `-`, not starting with `-`.", pattern = "^[a-z0-9][a-z0-9-]{0,62}$")),
    responses(
        answers::Page,
        (status = 400, description = "Not a site's name.", content(
            (String = "text/plain"), (crate::http::openapi::schemas::ApiErrorBody = "application/json"),
        )),
        answers::DatabaseUnavailable,
    )
)]
pub async fn inventory(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(site): Path<String>,
) -> Result<Response, ApiError> {
    let site =
        SiteName::new(site).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let records = state.incidents.inventories(&site).await?;
    let page = ui::InventoryPage {
        layout: layout(&state, &headers, ui::Nav::Sites),
        now_ms: now_ms(),
        site: site.to_string(),
        workers: records.iter().map(worker_inventory).collect(),
    };
    Ok(html(state.ui.inventory(&page)))
}

/// `GET /notifications?offset=N`: the delivery log and the test button.
#[utoipa::path(
    get,
    path = "/notifications",
    operation_id = "notifications_page",
    tag = "dashboard",
    summary = "The notifications page",
    params(PageQuery),
    responses(
        answers::Page,
        answers::PageParameterRejected,
        answers::DatabaseUnavailable,
    )
)]
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
#[utoipa::path(
    post,
    path = "/notifications/test",
    operation_id = "notifications_test_form",
    tag = "forms",
    summary = "Send a test notification",
    request_body(content = crate::http::pages::CsrfForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        (status = 200, description = "The notifications page with the outcome per URL.", content_type = "text/html", body = String),
        answers::ToLogin,
        answers::DatabaseUnavailable,
        answers::FormRejections,
    )
)]
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
        .notifications
        .deliveries(&DeliveryFilter {
            notification_id: None,
            limit: PAGE + 1,
            offset,
        })
        .await?;
    let has_more = list.len() > PAGE as usize;
    list.truncate(PAGE as usize);
    let notifier = state.notifications.notifier();
    Ok(ui::NotificationsPage {
        layout: layout(state, headers, ui::Nav::Notifications),
        now_ms: now_ms(),
        enabled: notifier.as_ref().is_some_and(|n| n.url_count() > 0),
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

// ---- reading an inventory report (`claudeops_core::inventory::Inventory`)

fn worker_inventory(r: &InventoryRecord) -> ui::WorkerInventoryView {
    let mut view = ui::WorkerInventoryView {
        worker_id: r.worker_id.clone(),
        reported_at_ms: r.reported_at_ms,
        ..ui::WorkerInventoryView::default()
    };
    let inv = match Inventory::from_json(&r.inventory.to_string()) {
        Ok(inv) => inv,
        Err(error) => {
            view.unreadable = Some(error.to_string());
            return view;
        }
    };
    view.problems = inv
        .problems
        .iter()
        .map(|p| ui::ProblemView {
            path: p.path.clone(),
            line: p.line,
            message: p.message.clone(),
        })
        .collect();
    view.repos = inv.repos.iter().map(repo_view).collect();
    view.services = inv.services.iter().map(service_view).collect();
    view.probes = inv
        .probes
        .iter()
        .map(|p| ui::InventoryProbeView {
            name: p.name.clone(),
            service: p.service.clone(),
            url: without_password(&p.url),
            source: source_text(&p.source),
        })
        .collect();
    view
}

/// The text of an optional field, with an empty one counted as absent.
fn non_empty(v: Option<&String>) -> Option<String> {
    v.filter(|s| !s.is_empty()).cloned()
}

fn repo_view(r: &Repo) -> ui::RepoView {
    let ext = &r.extensions;
    let manifest = r.manifest.as_ref();
    ui::RepoView {
        name: r.name.clone(),
        path: r.path.clone(),
        has_manifest: r.has_manifest,
        title: non_empty(manifest.and_then(|m| m.title.as_ref())),
        kind: non_empty(manifest.and_then(|m| m.kind.as_ref())),
        checks: ext
            .checks
            .iter()
            .map(|c| non_empty(Some(&c.title)).unwrap_or_else(|| c.file.clone()))
            .collect(),
        playbooks: ext
            .playbooks
            .iter()
            .map(|p| ui::PlaybookView {
                file: p.file.clone(),
                title: p.title.clone(),
                min_tier: p.min_tier,
            })
            .collect(),
        skills: ext.skills.clone(),
        mcp_servers: ext.mcp_servers.iter().map(|m| m.name.clone()).collect(),
        probe_files: ext.probe_files.clone(),
        compose_files: r
            .compose_files
            .iter()
            .map(|c| ui::ComposeFileView {
                path: c.path.clone(),
                project: c.project.clone(),
                services: c.services.clone(),
            })
            .collect(),
    }
}

fn service_view(s: &Service) -> ui::InventoryServiceView {
    ui::InventoryServiceView {
        name: s.name.clone(),
        host: non_empty(s.host.as_ref()),
        project: non_empty(s.project.as_ref()),
        url: non_empty(s.url.as_ref()).map(|u| without_password(&u)),
        image: non_empty(s.image.as_ref()),
        ports: s.ports.iter().map(port_text).collect(),
        healthcheck: s.healthcheck,
        containers: s
            .containers
            .iter()
            .map(|c| format!("{} ({})", c.name, c.state))
            .collect(),
        sources: s.sources.iter().map(origin_text).collect(),
        probes_disabled: s.probes_disabled,
    }
}

/// `8080:80/tcp`, `443/tcp`.
fn port_text(p: &Port) -> String {
    let proto = &p.protocol;
    match (p.published, p.target) {
        (Some(host), Some(target)) => format!("{host}:{target}/{proto}"),
        (Some(port), None) | (None, Some(port)) => format!("{port}/{proto}"),
        (None, None) => proto.clone(),
    }
}

/// Where a probe came from: `path:line`, `container NAME`, `built in`.
fn source_text(source: &Source) -> String {
    match source {
        Source::File { path, line } => format!("{path}:{line}"),
        Source::Container { name } => format!("container {name}"),
        Source::Builtin => "built in".to_owned(),
    }
}

/// Where a service fact came from: `path:line` or `container NAME`.
fn origin_text(origin: &Origin) -> String {
    match origin {
        Origin::Manifest { path, line } | Origin::Compose { path, line } => {
            format!("{path}:{line}")
        }
        Origin::Container { name } => format!("container {name}"),
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

    fn record(inventory: Value) -> InventoryRecord {
        InventoryRecord {
            site: SiteName::new("home").unwrap_or_else(|e| panic!("{e}")),
            worker_id: "w1".to_owned(),
            inventory,
            reported_at_ms: 7,
        }
    }

    #[test]
    fn sources_read_as_text() {
        let view = worker_inventory(&record(json!({"probes": [
            {"name": "a", "url": "http://h/", "source": {"kind": "file", "path": "a/b.yaml", "line": 4}},
            {"name": "b", "url": "http://h/", "source": {"kind": "container", "name": "web"}},
            {"name": "c", "url": "http://h/", "source": {"kind": "builtin"}},
            {"name": "d", "url": "http://h/"},
        ]})));
        let sources: Vec<&str> = view.probes.iter().map(|p| p.source.as_str()).collect();
        assert_eq!(
            sources,
            ["a/b.yaml:4", "container web", "built in", "built in"]
        );
        assert_eq!(
            origin_text(&Origin::Compose {
                path: "m/compose.yaml".into(),
                line: 2
            }),
            "m/compose.yaml:2"
        );
    }

    #[test]
    fn a_report_reads_into_the_view() {
        let view = worker_inventory(&record(json!({
            "repos": [{"name": "media", "path": "/srv/repos/media", "has_manifest": true,
                "manifest": {"title": "", "kind": "Docker Compose", "capabilities": [],
                    "rules": [], "hosts": [], "services": []},
                "extensions": {"checks": [{"file": "disk.md", "title": ""}],
                    "playbooks": [{"file": "p.md", "title": "P", "min_tier": 2}],
                    "skills": ["s"], "mcp_servers": [{"name": "m", "transport": "http"}],
                    "probe_files": ["a.yaml"]},
                "compose_files": [{"path": "compose.yaml", "project": "media", "services": ["web"]}]}],
            "services": [{"name": "web", "host": "", "sources": [{"kind": "container", "name": "web-1"}],
                "url": "postgres://app:s3cret@db/x",
                "ports": [{"published": 8080, "target": 80, "protocol": "tcp"}, {"target": 53, "protocol": "udp"}],
                "healthcheck": true, "containers": [{"name": "web-1", "id": "i", "state": "running"}]}],
            "probes": [{"name": "db", "service": "web", "url": "postgres://app:s3cret@db/x",
                "source": {"kind": "file", "path": "media/CLAUDE-OPS.md", "line": 9}}],
            "problems": [{"path": "docker", "message": "no engine"}],
        })));
        assert_eq!(view.unreadable, None);
        let repo = &view.repos[0];
        assert_eq!(
            (repo.title.clone(), repo.kind.as_deref()),
            (None, Some("Docker Compose"))
        );
        assert_eq!(repo.checks, ["disk.md"]);
        assert_eq!(repo.playbooks[0].min_tier, 2);
        assert_eq!(repo.mcp_servers, ["m"]);
        assert_eq!(repo.compose_files[0].services, ["web"]);
        let service = &view.services[0];
        assert_eq!(service.host, None);
        assert_eq!(service.url.as_deref(), Some("postgres://app:***@db/x"));
        assert_eq!(service.ports, ["8080:80/tcp", "53/udp"]);
        assert_eq!(service.containers, ["web-1 (running)"]);
        assert_eq!(service.sources, ["container web-1"]);
        assert_eq!(view.probes[0].url, "postgres://app:***@db/x");
        assert_eq!(view.probes[0].source, "media/CLAUDE-OPS.md:9");
        assert_eq!(
            (view.problems[0].path.as_str(), view.problems[0].line),
            ("docker", None)
        );

        let unreadable = worker_inventory(&record(json!(["not", "an", "inventory"])));
        assert!(unreadable.unreadable.is_some());
        assert!(unreadable.repos.is_empty());
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
