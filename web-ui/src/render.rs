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
    ConfigPage, CooldownsPage, ErrorPage, EventFilterView, EventRow, EventsPage, LoginPage,
    OverviewPage, RunNowPage, SessionPage, SessionsPage, SitesPage,
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
    ("overview.html", include_str!("../templates/overview.html")),
    ("events.html", include_str!("../templates/events.html")),
    (
        "cooldowns.html",
        include_str!("../templates/cooldowns.html"),
    ),
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

    /// Any error page.
    pub fn error(&self, page: &ErrorPage) -> Result<String, UiError> {
        self.render("error.html", page)
    }

    fn render<S: Serialize>(&self, name: &'static str, ctx: S) -> Result<String, UiError> {
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
}
