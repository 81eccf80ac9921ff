//! A small web application with a login, for the browser tests: the kind of
//! homelab app whose API key lives behind a web login.
//!
//! - `GET /login`, `POST /login`: a form; the right user and password set a
//!   session cookie and go to `/settings`.
//! - `GET /settings`: the API key, hidden; `POST /settings/regenerate` makes a
//!   new one and shows it once; `POST /settings/indexer` saves the key of a
//!   service this one depends on (what a dependent service is updated with).
//! - `GET /redirect?to=URL`, `GET /frame?src=URL`, `GET /popup?to=URL`: a
//!   redirect, an iframe and a popup to anywhere.
//! - `GET /echo`: a field whose text the page repeats as it is typed.
//!
//! Every page reports, when the worker masks it for a screenshot, whether
//! each watched element is masked at that moment (`POST /masked`), so a test
//! checks the DOM at capture time. Every request is recorded.

use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

/// What the app has seen and holds.
#[derive(Debug, Default)]
pub struct AppState {
    pub user: String,
    pub password: String,
    pub api_key: String,
    /// Keys generated so far, oldest first.
    pub keys: Vec<String>,
    /// The dependent service's key, as last saved.
    pub indexer_key: Option<String>,
    /// Every request: `METHOD /path?query`.
    pub hits: Vec<String>,
    /// Each mask report: `id=masked|visible,...`.
    pub masked: Vec<String>,
    sessions: Vec<String>,
    counter: u64,
    /// Makes each app's keys its own.
    port_seed: u64,
}

/// splitmix64: keys that share no prefix with each other.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A running app.
#[derive(Clone)]
pub struct WebApp {
    pub port: u16,
    pub state: Arc<Mutex<AppState>>,
}

impl WebApp {
    /// Starts an app on a loopback port with this login and a first API key.
    pub async fn start(user: &str, password: &str, api_key: &str) -> WebApp {
        let state = Arc::new(Mutex::new(AppState {
            user: user.to_owned(),
            password: password.to_owned(),
            api_key: api_key.to_owned(),
            keys: vec![api_key.to_owned()],
            ..AppState::default()
        }));
        let app = axum::Router::new()
            .route("/", get(|| async { Redirect::to("/login") }))
            .route("/login", get(login_page).post(login))
            .route("/settings", get(settings))
            .route("/settings/regenerate", post(regenerate))
            .route("/settings/indexer", post(save_indexer))
            .route("/redirect", get(redirect))
            .route("/frame", get(frame))
            .route("/popup", get(popup))
            .route("/echo", get(echo))
            .route("/masked", post(masked))
            .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
            .layer(axum::middleware::from_fn_with_state(state.clone(), record))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        if let Ok(mut s) = state.lock() {
            s.port_seed = u64::from(port) << 32;
        }
        tokio::spawn(async move { axum::serve(listener, app).await });
        WebApp { port, state }
    }

    /// `http://127.0.0.1:PORT`
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    pub fn hits(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|s| s.hits.clone())
            .unwrap_or_default()
    }

    pub fn api_key(&self) -> String {
        self.state
            .lock()
            .map(|s| s.api_key.clone())
            .unwrap_or_default()
    }

    pub fn keys(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|s| s.keys.clone())
            .unwrap_or_default()
    }

    pub fn indexer_key(&self) -> Option<String> {
        self.state.lock().ok().and_then(|s| s.indexer_key.clone())
    }

    pub fn masked_reports(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|s| s.masked.clone())
            .unwrap_or_default()
    }
}

type Shared = Arc<Mutex<AppState>>;

async fn record(
    State(state): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let line = format!(
        "{} {}",
        request.method(),
        request.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    if let Ok(mut s) = state.lock() {
        s.hits.push(line);
    }
    next.run(request).await
}

/// Reports, when the worker masks the page, whether each watched element
/// (`data-watch`) is masked then.
const WATCH: &str = r#"<script>
new MutationObserver(() => {
  if (!document.querySelector('[data-claudeops-masked]')) return;
  const report = Array.from(document.querySelectorAll('[data-watch]')).map((el) =>
    el.id + '=' + (el.hasAttribute('data-claudeops-masked') && getComputedStyle(el).color === 'rgba(0, 0, 0, 0)' ? 'masked' : 'visible')).join(',');
  navigator.sendBeacon('/masked', report);
}).observe(document.documentElement, { attributes: true, subtree: true, attributeFilter: ['data-claudeops-masked'] });
</script>"#;

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head><body>{body}{WATCH}</body></html>"
    ))
}

async fn login_page() -> Html<String> {
    page(
        "Log in",
        r#"<h1>Log in</h1><form method="post" action="/login">
<label for="user">Username</label><input id="user" name="user" autocomplete="username">
<label for="pass">Password</label><input id="pass" name="pass" type="password" data-watch>
<button type="submit">Log in</button></form>"#,
    )
}

#[derive(serde::Deserialize)]
struct LoginForm {
    user: String,
    pass: String,
}

async fn login(State(state): State<Shared>, Form(form): Form<LoginForm>) -> Response {
    let Ok(mut s) = state.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if form.user != s.user || form.pass != s.password {
        return (
            StatusCode::UNAUTHORIZED,
            page("Log in", "<h1>Log in</h1><p role=\"alert\">Wrong user or password.</p><a href=\"/login\">Try again</a>"),
        )
            .into_response();
    }
    s.counter += 1;
    let sid = format!("sid{}", s.counter);
    s.sessions.push(sid.clone());
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, format!("sid={sid}; Path=/; HttpOnly")),
            (header::LOCATION, "/settings".to_owned()),
        ],
    )
        .into_response()
}

fn logged_in(state: &Shared, headers: &HeaderMap) -> bool {
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or_default();
    state.lock().is_ok_and(|s| {
        cookie
            .split(';')
            .filter_map(|c| c.trim().strip_prefix("sid="))
            .any(|sid| s.sessions.iter().any(|x| x == sid))
    })
}

fn settings_page(new_key: Option<&str>) -> Html<String> {
    let shown = match new_key {
        Some(key) => format!(
            "<p>Your new API key, shown once: <code id=\"new-key\" data-watch>{key}</code></p>"
        ),
        None => "<p>API key: ********</p>".to_owned(),
    };
    page(
        "Settings",
        &format!(
            r#"<h1>Settings</h1>{shown}
<form method="post" action="/settings/regenerate"><button type="submit">Regenerate API key</button></form>
<h2>Indexer</h2>
<form method="post" action="/settings/indexer">
<label for="indexer-key">Indexer API key</label><input id="indexer-key" name="key" data-watch>
<button type="submit">Save indexer</button></form>"#
        ),
    )
}

async fn settings(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !logged_in(&state, &headers) {
        return Redirect::to("/login").into_response();
    }
    settings_page(None).into_response()
}

async fn regenerate(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !logged_in(&state, &headers) {
        return Redirect::to("/login").into_response();
    }
    let Ok(mut s) = state.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    s.counter += 1;
    let key = format!(
        "{:016x}{:016x}",
        mix(s.port_seed ^ s.counter),
        mix(s.counter.wrapping_add(0x9e37))
    );
    s.api_key = key.clone();
    s.keys.push(key.clone());
    settings_page(Some(&key)).into_response()
}

#[derive(serde::Deserialize)]
struct KeyForm {
    key: String,
}

async fn save_indexer(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<KeyForm>,
) -> Response {
    if !logged_in(&state, &headers) {
        return Redirect::to("/login").into_response();
    }
    if let Ok(mut s) = state.lock() {
        s.indexer_key = Some(form.key);
    }
    page(
        "Saved",
        "<h1>Saved</h1><p role=\"status\">The indexer is saved.</p>",
    )
    .into_response()
}

#[derive(serde::Deserialize)]
struct To {
    to: Option<String>,
    src: Option<String>,
}

async fn redirect(Query(q): Query<To>) -> Response {
    Redirect::to(q.to.as_deref().unwrap_or("/")).into_response()
}

async fn frame(Query(q): Query<To>) -> Html<String> {
    let src = q.src.unwrap_or_default().replace('"', "");
    page(
        "Frame",
        &format!(
            "<h1>A frame</h1><iframe title=\"other\" src=\"{src}\"></iframe><img alt=\"pixel\" src=\"{src}/pixel.png\">"
        ),
    )
}

async fn popup(Query(q): Query<To>) -> Html<String> {
    let to = q.to.unwrap_or_default().replace(['"', '\''], "");
    page(
        "Popup",
        &format!(
            "<h1>A popup</h1><button type=\"button\" onclick=\"window.open('{to}')\">Open the other site</button><a href=\"{to}\" target=\"_blank\">Other site in a new tab</a>"
        ),
    )
}

async fn echo() -> Html<String> {
    page(
        "Echo",
        r#"<h1>Echo</h1><label for="echo-in">Say something</label><input id="echo-in" data-watch>
<p id="echo-out" data-watch></p>
<script>document.getElementById('echo-in').addEventListener('input', (e) => { document.getElementById('echo-out').textContent = 'You typed: ' + e.target.value; });</script>"#,
    )
}

async fn masked(State(state): State<Shared>, body: String) -> StatusCode {
    if let Ok(mut s) = state.lock() {
        s.masked.push(body);
    }
    StatusCode::NO_CONTENT
}
