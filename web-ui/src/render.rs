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

use crate::model::{ErrorPage, LoginPage, RunNowPage, SessionPage, SessionsPage, SitesPage};
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
