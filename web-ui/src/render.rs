//! The template environment and one render method per page.
//!
//! Why it exists: templates are parsed once, at start-up, into one minijinja
//! `Environment`; each page method pairs a view model with its template, so a
//! caller can never render a page with the wrong data.
//!
//! What it must not do: turn off autoescaping (it is on for every template here, all
//! named `*.html`), or let a missing field pass silently (undefined values are errors,
//! caught by the render tests).

use minijinja::{AutoEscape, Environment, UndefinedBehavior, context};
use serde::Serialize;

use crate::model::{
    ApprovalPage, ConfigPage, CooldownsPage, ErrorPage, EventFilterView, EventRow, EventsPage,
    HealthPage, HistoryView, IncidentPage, IncidentsPage, InventoryPage, Layout, LoginPage,
    MaintenancePage, MemoriesPage, MemoryFilterView, NotificationsPage, OverviewPage, ProbeView,
    RunNowPage, SessionPage, SessionsPage, SiteProbesPage, SiteSettingsPage, SitesPage,
    TimelineEntry,
};
use crate::{assets, chains, filters};

/// Every template, by name, embedded at compile time.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("sessions.html", include_str!("../templates/sessions.html")),
    ("session.html", include_str!("../templates/session.html")),
    ("sites.html", include_str!("../templates/sites.html")),
    ("run_now.html", include_str!("../templates/run_now.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("config.html", include_str!("../templates/config.html")),
    (
        "site_probes.html",
        include_str!("../templates/site_probes.html"),
    ),
    (
        "site_settings.html",
        include_str!("../templates/site_settings.html"),
    ),
    ("overview.html", include_str!("../templates/overview.html")),
    ("events.html", include_str!("../templates/events.html")),
    (
        "cooldowns.html",
        include_str!("../templates/cooldowns.html"),
    ),
    ("health.html", include_str!("../templates/health.html")),
    (
        "incidents.html",
        include_str!("../templates/incidents.html"),
    ),
    (
        "inventory.html",
        include_str!("../templates/inventory.html"),
    ),
    (
        "notifications.html",
        include_str!("../templates/notifications.html"),
    ),
    ("memories.html", include_str!("../templates/memories.html")),
    ("offline.html", include_str!("../templates/offline.html")),
    ("probe.html", include_str!("../templates/probe.html")),
    ("service.html", include_str!("../templates/service.html")),
    ("status.html", include_str!("../templates/status.html")),
    (
        "maintenance.html",
        include_str!("../templates/maintenance.html"),
    ),
    ("incident.html", include_str!("../templates/incident.html")),
    ("approval.html", include_str!("../templates/approval.html")),
];

/// Rendering failed: a template and its view model disagree. A bug, not bad input.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("template {name} does not parse: {detail}")]
    Parse { name: &'static str, detail: String },
    #[error("rendering {name} failed: {detail}")]
    Render { name: &'static str, detail: String },
}

/// The dashboard's pages. Build one at start-up and share it (it is `Send + Sync`).
pub struct Ui {
    env: Environment<'static>,
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui").finish_non_exhaustive()
    }
}

impl Ui {
    /// Parses every embedded template. Fails only if a template has a syntax error,
    /// which the crate's tests rule out.
    pub fn new() -> Result<Ui, UiError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_name| AutoEscape::Html);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        filters::register(&mut env);
        env.add_global("asset_version", assets::fingerprint());
        for &(name, source) in TEMPLATES {
            env.add_template(name, source).map_err(|e| UiError::Parse {
                name,
                detail: format!("{e:#}"),
            })?;
        }
        Ok(Ui { env })
    }

    /// `GET /`: the TL;DR page.
    pub fn overview(&self, page: &OverviewPage) -> Result<String, UiError> {
        let ctx = context! {
            layout => &page.layout,
            stats => &page.stats,
            latest => &page.latest,
            attention => newest_first(&page.attention),
            sites => &page.sites,
        };
        self.render("overview.html", ctx)
    }

    /// `GET /events`, newest first, with the filter kept in the paging links.
    pub fn events(&self, page: &EventsPage) -> Result<String, UiError> {
        let filter = &page.filter;
        let filtered = [&filter.level, &filter.site, &filter.service]
            .iter()
            .any(|v| given(v).is_some());
        let ctx = context! {
            layout => &page.layout,
            events => newest_first(&page.events),
            filter => filter,
            filtered => filtered,
            filter_query => filter_query(filter),
            paging => &page.paging,
            count => page.events.len(),
            critical_count => page.events.iter().filter(|e| e.level == "critical").count(),
        };
        self.render("events.html", ctx)
    }

    /// `GET /cooldowns`.
    pub fn cooldowns(&self, page: &CooldownsPage) -> Result<String, UiError> {
        self.render("cooldowns.html", page)
    }

    /// `GET /health`: open incidents, then probes grouped by site and service.
    pub fn health(&self, page: &HealthPage) -> Result<String, UiError> {
        let count = |state: &str| page.probes.iter().filter(|p| p.state == state).count();
        let ctx = context! {
            layout => &page.layout,
            now_ms => page.now_ms,
            open_incidents => &page.open_incidents,
            sites => group_probes(&page.probes),
            up => count("up"),
            down => count("down"),
            unknown => page.probes.len() - count("up") - count("down"),
        };
        self.render("health.html", ctx)
    }

    /// `GET /maintenance`.
    pub fn maintenance(&self, page: &MaintenancePage) -> Result<String, UiError> {
        self.render("maintenance.html", page)
    }

    /// `GET /incidents/{id}`: the incident and its timeline, oldest first.
    pub fn incident(&self, page: &IncidentPage) -> Result<String, UiError> {
        let mut timeline: Vec<&TimelineEntry> = page.timeline.iter().collect();
        timeline.sort_by_key(|e| e.at_ms);
        let ctx = context! {
            layout => &page.layout,
            now_ms => page.now_ms,
            i => &page.incident,
            duration_ms => page.duration_ms,
            timeline => timeline,
            silenced_by => &page.silenced_by,
        };
        self.render("incident.html", ctx)
    }

    /// `GET /incidents`, newest first.
    pub fn incidents(&self, page: &IncidentsPage) -> Result<String, UiError> {
        let mut incidents: Vec<_> = page.incidents.iter().collect();
        incidents.sort_by(|a, b| b.opened_at_ms.cmp(&a.opened_at_ms).then(b.id.cmp(&a.id)));
        let ctx = context! {
            layout => &page.layout,
            now_ms => page.now_ms,
            incidents => incidents,
            paging => &page.paging,
            count => page.incidents.len(),
        };
        self.render("incidents.html", ctx)
    }

    /// `GET /sites/{site}/inventory`.
    pub fn inventory(&self, page: &InventoryPage) -> Result<String, UiError> {
        self.render("inventory.html", page)
    }

    /// `GET /notifications` (and the page after `POST /notifications/test`).
    pub fn notifications(&self, page: &NotificationsPage) -> Result<String, UiError> {
        let ctx = context! {
            layout => &page.layout,
            now_ms => page.now_ms,
            enabled => page.enabled,
            url_count => page.url_count,
            deliveries => &page.deliveries,
            paging => &page.paging,
            count => page.deliveries.len(),
        };
        self.render("notifications.html", ctx)
    }

    /// `GET /memories`, with the search kept in the paging links and in every
    /// form's `back` field.
    pub fn memories(&self, page: &MemoriesPage) -> Result<String, UiError> {
        let filter = &page.filter;
        let filtered = [
            &filter.q,
            &filter.service,
            &filter.category,
            &filter.site,
            &filter.active,
        ]
        .iter()
        .any(|v| given(v).is_some());
        let ctx = context! {
            layout => &page.layout,
            memories => &page.memories,
            filter => filter,
            filtered => filtered,
            filter_query => memories_query(filter),
            sites => &page.sites,
            form => &page.form,
            editing => &page.editing,
            paging => &page.paging,
            count => page.memories.len(),
            decay => &page.decay,
        };
        self.render("memories.html", ctx)
    }

    /// `GET /offline`: the page the service worker shows for a page that cannot be
    /// fetched. The same for everyone: no login state, no token, no data.
    pub fn offline(&self, version: &str) -> Result<String, UiError> {
        let layout = Layout {
            version: version.to_owned(),
            ..Layout::default()
        };
        self.render("offline.html", context! { layout => layout })
    }

    /// `GET /login`.
    pub fn login(&self, page: &LoginPage) -> Result<String, UiError> {
        self.render("login.html", page)
    }

    /// `GET /sessions`, with escalation chains grouped.
    pub fn sessions(&self, page: &SessionsPage) -> Result<String, UiError> {
        let ctx = context! {
            layout => &page.layout,
            paging => &page.paging,
            chains => chains::group(&page.sessions),
            count => page.sessions.len(),
        };
        self.render("sessions.html", ctx)
    }

    /// `GET /sessions/{id}`.
    pub fn session(&self, page: &SessionPage) -> Result<String, UiError> {
        self.render("session.html", page)
    }

    /// `GET /sites`.
    pub fn sites(&self, page: &SitesPage) -> Result<String, UiError> {
        self.render("sites.html", page)
    }

    /// `GET /run`.
    pub fn run_now(&self, page: &RunNowPage) -> Result<String, UiError> {
        self.render("run_now.html", page)
    }

    /// `GET /config`: the active configuration, secrets masked.
    pub fn config(&self, page: &ConfigPage) -> Result<String, UiError> {
        self.render("config.html", page)
    }

    /// `GET /sites/{site}/settings`: a site's runtime overrides.
    pub fn site_probes(&self, page: &SiteProbesPage) -> Result<String, UiError> {
        self.render("site_probes.html", page)
    }

    pub fn site_settings(&self, page: &SiteSettingsPage) -> Result<String, UiError> {
        self.render("site_settings.html", page)
    }

    /// `GET /approval/{id}`: the page a signed link opens.
    pub fn approval(&self, page: &ApprovalPage) -> Result<String, UiError> {
        self.render("approval.html", page)
    }

    /// Any error page.
    pub fn error(&self, page: &ErrorPage) -> Result<String, UiError> {
        self.render("error.html", page)
    }

    pub(crate) fn render<S: Serialize>(
        &self,
        name: &'static str,
        ctx: S,
    ) -> Result<String, UiError> {
        let fail = |e: minijinja::Error| UiError::Render {
            name,
            detail: format!("{e:#}"),
        };
        self.env
            .get_template(name)
            .map_err(fail)?
            .render(ctx)
            .map_err(fail)
    }
}

/// Events by time, newest first (ties: higher id first); the control plane already
/// sends them so, this only makes the page's promise independent of the query.
fn newest_first(events: &[EventRow]) -> Vec<&EventRow> {
    let mut sorted: Vec<&EventRow> = events.iter().collect();
    sorted.sort_by(|a, b| b.ts_ms.cmp(&a.ts_ms).then(b.id.cmp(&a.id)));
    sorted
}

/// A filter value that was actually given: `None` for absent or blank.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The filter as the start of a query string, each pair followed by `&`
/// (`level=critical&site=home-lab&`), so the paging links can append
/// `offset=..&limit=..`. Plain text: autoescaping writes the `&` as `&amp;`.
fn filter_query(filter: &EventFilterView) -> String {
    [
        ("level", &filter.level),
        ("site", &filter.site),
        ("service", &filter.service),
    ]
    .iter()
    .filter_map(|(key, value)| given(value).map(|v| format!("{key}={}&", filters::urlencode(v))))
    .collect()
}

/// The memories search as the start of a query string, each pair followed by `&`
/// (`q=disk&site=home-lab&`), for paging links and the redirect after a form: blank
/// values are left out, `active` kept only as `active` or `inactive`.
pub fn memories_query(filter: &MemoryFilterView) -> String {
    let active = given(&filter.active).filter(|a| matches!(*a, "active" | "inactive"));
    [
        ("q", given(&filter.q)),
        ("service", given(&filter.service)),
        ("category", given(&filter.category)),
        ("site", given(&filter.site)),
        ("active", active),
    ]
    .iter()
    .filter_map(|(key, value)| value.map(|v| format!("{key}={}&", filters::urlencode(v))))
    .collect()
}

/// The health grid's probes of one site.
#[derive(Serialize)]
struct SiteProbes<'a> {
    site: &'a str,
    services: Vec<ServiceProbes<'a>>,
}

/// The probes of one service, with the worst of their states.
#[derive(Serialize)]
struct ServiceProbes<'a> {
    service: &'a str,
    state: &'static str,
    probes: Vec<ProbeRow<'a>>,
}

#[derive(Serialize)]
struct ProbeRow<'a> {
    probe: &'a ProbeView,
    spark: Option<Sparkline>,
}

/// Probes by site, then service, then name.
fn group_probes(probes: &[ProbeView]) -> Vec<SiteProbes<'_>> {
    let mut sorted: Vec<&ProbeView> = probes.iter().collect();
    sorted.sort_by(|a, b| {
        (a.site.as_str(), a.service.as_str(), a.name.as_str()).cmp(&(
            b.site.as_str(),
            b.service.as_str(),
            b.name.as_str(),
        ))
    });
    let mut sites: Vec<SiteProbes<'_>> = Vec::new();
    for p in sorted {
        if sites.last().is_none_or(|s| s.site != p.site) {
            sites.push(SiteProbes {
                site: &p.site,
                services: Vec::new(),
            });
        }
        let services = &mut sites.last_mut().expect("pushed above").services;
        if services.last().is_none_or(|s| s.service != p.service) {
            services.push(ServiceProbes {
                service: &p.service,
                state: "up",
                probes: Vec::new(),
            });
        }
        let service = services.last_mut().expect("pushed above");
        service.state = match (service.state, p.state.as_str()) {
            (_, "down") | ("down", _) => "down",
            (_, "up") if service.state == "up" => "up",
            _ => "unknown",
        };
        service.probes.push(ProbeRow {
            probe: p,
            spark: sparkline(&p.history),
        });
    }
    sites
}

/// An inline SVG latency chart: a polyline over the attempts, oldest on the left,
/// with the failed attempts marked. Coordinates are in the SVG's own units.
#[derive(Debug, Serialize)]
struct Sparkline {
    width: u32,
    height: u32,
    points: String,
    /// Failed attempts as (x, y).
    fails: Vec<(String, String)>,
    max_ms: i64,
    attempts: usize,
}

const SPARK_WIDTH: u32 = 120;
const SPARK_HEIGHT: u32 = 24;
const SPARK_PAD: f64 = 2.5;

/// `None` without attempts.
fn sparkline(history: &[HistoryView]) -> Option<Sparkline> {
    if history.is_empty() {
        return None;
    }
    let max_ms = history
        .iter()
        .map(|h| h.latency_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h) = (f64::from(SPARK_WIDTH), f64::from(SPARK_HEIGHT));
    let step = if history.len() > 1 {
        (w - 2.0 * SPARK_PAD) / (history.len() - 1) as f64
    } else {
        0.0
    };
    let coords: Vec<(String, String)> = history
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let x = if history.len() > 1 {
                SPARK_PAD + step * i as f64
            } else {
                w / 2.0
            };
            let share = p.latency_ms.clamp(0, max_ms) as f64 / max_ms as f64;
            let y = h - SPARK_PAD - share * (h - 2.0 * SPARK_PAD);
            (format!("{x:.1}"), format!("{y:.1}"))
        })
        .collect();
    let points = coords
        .iter()
        .map(|(x, y)| format!("{x},{y}"))
        .collect::<Vec<_>>()
        .join(" ");
    let fails = history
        .iter()
        .zip(&coords)
        .filter(|(p, _)| !p.ok)
        .map(|(_, c)| c.clone())
        .collect();
    Some(Sparkline {
        width: SPARK_WIDTH,
        height: SPARK_HEIGHT,
        points,
        fails,
        max_ms,
        attempts: history.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_query_skips_blank_values_and_encodes() {
        let filter = EventFilterView {
            level: Some("critical".into()),
            site: Some("  ".into()),
            service: Some("a b&c".into()),
        };
        assert_eq!(filter_query(&filter), "level=critical&service=a%20b%26c&");
        assert_eq!(filter_query(&EventFilterView::default()), "");
    }

    #[test]
    fn memories_query_keeps_what_was_given() {
        let filter = MemoryFilterView {
            q: Some("disk full".into()),
            service: Some(" ".into()),
            category: Some("timing".into()),
            site: None,
            active: Some("inactive".into()),
        };
        assert_eq!(
            memories_query(&filter),
            "q=disk%20full&category=timing&active=inactive&"
        );
        let odd = MemoryFilterView {
            active: Some("maybe".into()),
            ..MemoryFilterView::default()
        };
        assert_eq!(memories_query(&odd), "");
    }

    #[test]
    fn events_sort_newest_first() {
        let ev = |id, ts_ms| EventRow {
            id,
            ts_ms,
            ..EventRow::default()
        };
        let rows = [ev(1, 10), ev(3, 30), ev(2, 30), ev(4, 5)];
        let ids: Vec<i64> = newest_first(&rows).iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![3, 2, 1, 4]);
    }

    #[test]
    fn sparkline_spans_the_box_and_marks_failures() {
        let h = |latency_ms, ok| HistoryView {
            at_ms: 0,
            latency_ms,
            ok,
        };
        let spark = sparkline(&[h(10, true), h(40, false), h(0, true)]).expect("spark");
        assert_eq!(spark.points, "2.5,16.8 60.0,2.5 117.5,21.5");
        assert_eq!(spark.fails, vec![("60.0".to_owned(), "2.5".to_owned())]);
        assert_eq!(spark.max_ms, 40);
        assert!(sparkline(&[]).is_none());
        let one = sparkline(&[h(0, false)]).expect("one point");
        assert_eq!(one.points, "60.0,21.5");
    }

    #[test]
    fn probes_group_by_site_and_service_with_the_worst_state() {
        let p = |site: &str, service: &str, name: &str, state: &str| ProbeView {
            site: site.into(),
            service: service.into(),
            name: name.into(),
            state: state.into(),
            ..ProbeView::default()
        };
        let probes = [
            p("b", "web", "web-http", "up"),
            p("a", "db", "db-tcp", "up"),
            p("a", "db", "db-pg", "down"),
            p("a", "api", "api", "unknown"),
            p("a", "api", "api2", "up"),
        ];
        let sites = group_probes(&probes);
        assert_eq!(sites.len(), 2);
        assert_eq!(sites[0].site, "a");
        let states: Vec<(&str, &str)> = sites[0]
            .services
            .iter()
            .map(|s| (s.service, s.state))
            .collect();
        assert_eq!(states, vec![("api", "unknown"), ("db", "down")]);
        assert_eq!(sites[0].services[1].probes[0].probe.name, "db-pg");
        assert_eq!(sites[1].services[0].state, "up");
    }
}
