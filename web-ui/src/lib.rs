//! The dashboard's presentation layer: HTML pages rendered from embedded minijinja
//! templates, and the static files (CSS, JS, logo, web app manifest) they load.
//!
//! Why it exists: the control plane owns data, routes, sessions and authentication;
//! this crate owns how pages look. The boundary is the view models in [`model`]:
//! plain `serde::Serialize` structs that the control plane fills and that carry
//! nothing but what a page shows.
//!
//! What it must not do:
//! - depend on the control plane, the store or any I/O: rendering is a pure function
//!   of a view model (API Boundary: `claudeops-control-plane` depends on this crate,
//!   never the other way round);
//! - load anything from the network or the disk at run time: every template and asset
//!   is compiled in with `include_str!`/`include_bytes!`, so the dashboard works offline
//!   (the original broke without its CDN);
//! - emit inline `<script>` or `style=` attributes, so the control plane can serve a
//!   strict `Content-Security-Policy: default-src 'self'`;
//! - turn user-controlled text into markup: autoescaping is on for every `.html`
//!   template and the session JS only ever writes `textContent`.
//!
//! What the pages expect the control plane to serve (API Boundary):
//! - `GET /static/{name}` from [`asset`] (pages add `?v=<fingerprint>`, so a long
//!   `Cache-Control` is safe); every page links `/`, `/sessions`, `/sites`, `/events`,
//!   `/cooldowns`, `/health`, `/incidents`, `/notifications`, `/config`, `/run`,
//!   `/login`, `/memories`; the sites and health pages link
//!   `/sites/{site}/inventory`, and incidents link their sessions.
//! - The installable shell: `/sw.js` from [`service_worker`] (root scope), `/offline`
//!   from [`Ui::offline`], and `/favicon.ico`, `/favicon.svg`,
//!   `/apple-touch-icon.png` from [`asset`] (`favicon.ico`, `favicon.svg`,
//!   `icon-192.png`); every page loads `/static/pwa.js`, which registers the worker.
//! - POST forms, all `application/x-www-form-urlencoded` with a `csrf` field:
//!   `/login` (`token`, optional `next`), `/logout`, `/sessions/{id}/stop`,
//!   `/sessions/trigger` (`site`, `tier` = `auto|1|2|3`, `prompt`; the overview's
//!   and the sites page's Run Now buttons send `tier=auto` and an empty prompt),
//!   `/notifications/test` (nothing but `csrf`), and the memories page's:
//!   `/memories` (`site`, `service`, `category`, `observation`, `confidence`,
//!   `active` = `true` when checked), `/memories/{id}/update` (`observation`,
//!   `confidence`, `active`), `/memories/{id}/deactivate`, `/memories/{id}/activate`
//!   and `/memories/{id}/delete`, each also with `back`: the search as
//!   [`memories_query`] wrote it, to return to.
//! - `GET /memories?q=T&service=V&category=C&site=S&active=active|inactive&offset=N`:
//!   the memories page's search form (a GET form, like the events filter).
//! - `GET /events?level=L&site=S&service=V&offset=N&limit=M`: the events page's
//!   filter form (the one GET form, without a CSRF token) and its paging links; a
//!   missing or empty parameter means "any". Site and service cells link to the
//!   same page filtered by them.
//! - `GET /incidents?offset=N&limit=M` and `GET /notifications?offset=N&limit=M`:
//!   paging links, as for the events page.
//! - `GET /sessions?offset=N&limit=M` and `GET /sessions/{id}/stream`: server-sent
//!   events `line` (with `id: <seq>`, data `{seq, ts_ms, raw, malformed, events}`),
//!   then `status` once the session has ended (after the replay, so the script can
//!   close the stream), or `reload` when the client fell behind.

mod assets;
mod chains;
mod filters;
pub mod history;
pub mod model;
mod render;

pub use assets::{ASSET_PATHS, asset, service_worker};
pub use model::*;
pub use render::{Ui, UiError, memories_query};
