//! Dashboard pages: fill the web UI's view models from the store and registry,
//! and handle the dashboard's forms (login, Run Now, Stop), each checked against
//! the login's CSRF token.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use claudeops_core::ledger::ActionRecord;
use claudeops_core::{Session, SiteName, Trigger};
use claudeops_store::{ActionFilter, SessionFilter};
use claudeops_web_ui::model as ui;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::{self, LOGIN_COOKIE, SESSION_COOKIE};
use crate::clock::now_ms;
use crate::http::api::{ApiError, parse_tier, resolve_site};
use crate::http::guard;
use crate::http::openapi::answers;
use crate::sessions::{StartError, StartRequest};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const PAGE_SIZE: u32 = 50;

pub fn layout(state: &AppState, headers: &HeaderMap, nav: ui::Nav) -> ui::Layout {
    let now = now_ms();
    let mut layout = match state.auth.login_of(headers, now) {
        Some(login) => ui::Layout::logged_in(VERSION, login.csrf, nav)
            .with_user(login.user, login.role.as_str()),
        None => ui::Layout {
            version: VERSION.to_owned(),
            nav,
            ..ui::Layout::default()
        },
    };
    layout.maintenance = state
        .maintenance
        .in_effect(now)
        .iter()
        .map(|w| maintenance_view(w, now))
        .collect();
    layout
}

/// A maintenance window as the pages show it.
pub fn maintenance_view(
    w: &claudeops_core::health::MaintenanceWindow,
    now_ms: i64,
) -> ui::MaintenanceView {
    ui::MaintenanceView {
        id: w.id,
        site: w.site.to_string(),
        service: w.service.clone(),
        starts_at_ms: w.starts_at_ms,
        ends_at_ms: w.ends_at_ms,
        reason: w.reason.clone(),
        created_by: w.created_by.clone(),
        active: w.active(now_ms),
    }
}

pub fn html(rendered: Result<String, claudeops_web_ui::UiError>) -> Response {
    match rendered {
        Ok(body) => Html(body).into_response(),
        Err(error) => {
            tracing::error!(%error, "page rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "page rendering failed").into_response()
        }
    }
}

pub(crate) fn error_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    title: &str,
    message: String,
) -> Response {
    error_page_to(state, headers, status, title, message, None)
}

/// An error page with a way on: a link and its label.
fn error_page_to(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    title: &str,
    message: String,
    next: Option<(String, String)>,
) -> Response {
    let page = ui::ErrorPage {
        layout: layout(state, headers, ui::Nav::None),
        status: status.as_u16(),
        title: title.to_owned(),
        message,
        next,
    };
    let mut response = html(state.ui.error(&page));
    *response.status_mut() = status;
    response
}

pub async fn not_found(State(state): State<AppState>, headers: HeaderMap) -> Response {
    error_page(
        &state,
        &headers,
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page.".to_owned(),
    )
}

fn row(s: &Session, now: i64) -> ui::SessionRow {
    ui::SessionRow {
        id: s.id,
        site: s.site.to_string(),
        tier: s.tier.number(),
        model: s.model.clone(),
        status: s.status.to_string(),
        trigger: s.trigger.to_string(),
        started_at_ms: s.started_at_ms,
        duration_ms: s.duration_ms(now),
        cost_usd: s.cost_usd,
        turns: s.turns,
        parent_id: s.parent_id,
    }
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The first row to show.
    offset: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/sessions",
    operation_id = "sessions_page",
    tag = "dashboard",
    summary = "The sessions page",
    params(PageQuery),
    responses(
        answers::Page,
        answers::PageParameterRejected,
        answers::DatabaseUnavailable,
    )
)]
pub async fn sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    sessions_page(state, headers, q, ui::Nav::Sessions).await
}

async fn sessions_page(
    state: AppState,
    headers: HeaderMap,
    q: PageQuery,
    nav: ui::Nav,
) -> Response {
    let offset = q.offset.unwrap_or(0);
    let filter = SessionFilter {
        site: None,
        limit: PAGE_SIZE + 1,
        offset,
    };
    let mut sessions = match state.sessions.list(&filter).await {
        Ok(sessions) => sessions,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let has_more = sessions.len() > PAGE_SIZE as usize;
    sessions.truncate(PAGE_SIZE as usize);
    let now = now_ms();
    let page = ui::SessionsPage {
        layout: layout(&state, &headers, nav),
        sessions: sessions.iter().map(|s| row(s, now)).collect(),
        paging: ui::Paging {
            offset: u64::from(offset),
            limit: u64::from(PAGE_SIZE),
            total: None,
            has_more,
        },
    };
    html(state.ui.sessions(&page))
}

#[utoipa::path(
    get,
    path = "/sessions/{id}",
    operation_id = "session_page",
    tag = "dashboard",
    summary = "A session's page: its output, chain and actions",
    params(("id" = i64, Path, description = "The session's id.")),
    responses(
        answers::Page,
        answers::IdNotANumber,
        (status = 404, description = "No such session.", content_type = "text/html", body = String),
        answers::DatabaseUnavailable,
    )
)]
pub async fn session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let sessions = &state.sessions;
    let session = match sessions.get(id).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            return error_page(
                &state,
                &headers,
                StatusCode::NOT_FOUND,
                "Not found",
                format!("There is no session #{id}."),
            );
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let related = |s: &Session| ui::RelatedSession {
        id: s.id,
        tier: s.tier.number(),
        status: s.status.to_string(),
    };
    let parent = match session.parent_id {
        Some(pid) => sessions.get(pid).await.ok().flatten().map(|p| related(&p)),
        None => None,
    };
    let children = sessions.children(id).await.unwrap_or_default();
    let lines = sessions.output_after(id, 0, 5000).await.unwrap_or_default();
    let actions = state
        .queries
        .actions(&ActionFilter {
            session_id: Some(id),
            ..ActionFilter::default()
        })
        .await
        .unwrap_or_default();
    let approvals = state
        .approvals
        .list(Some(id), None, 50)
        .await
        .unwrap_or_default();
    let now = now_ms();
    let browser = claudeops_core::stream::tool_calls(
        lines.iter().map(|l| (l.seq, l.line.as_str())),
        BROWSER_TOOLS,
    )
    .into_iter()
    .map(|call| ui::BrowserCallView {
        seq: call.seq,
        action: call
            .name
            .strip_prefix(BROWSER_TOOLS)
            .map_or_else(|| call.name.clone(), |a| format!("browser_{a}")),
        target: call.target,
        outcome: match call.ok {
            Some(true) => "ok",
            Some(false) => "refused",
            None => "pending",
        }
        .to_owned(),
        result: call.result.lines().next().unwrap_or_default().to_owned(),
    })
    .collect();
    let page = ui::SessionPage {
        browser,
        actions: actions.iter().map(action_view).collect(),
        approvals: approvals.iter().map(crate::http::approvals::view).collect(),
        summary: crate::sessions::summary(&session),
        layout: layout(&state, &headers, ui::Nav::Sessions),
        session: ui::SessionDetail {
            id,
            site: session.site.to_string(),
            worker_id: session.worker_id.clone(),
            tier: session.tier.number(),
            model: session.model.clone(),
            status: session.status.to_string(),
            trigger: session.trigger.to_string(),
            started_at_ms: session.started_at_ms,
            ended_at_ms: session.ended_at_ms,
            duration_ms: session.duration_ms(now),
            cost_usd: session.cost_usd,
            turns: session.turns,
            exit_code: session.exit_code,
            error: session.error.clone(),
            prompt: session.prompt.clone(),
            parent,
            children: children.iter().map(related).collect(),
            trace_id: session.trace_id().map(str::to_owned),
            trace_url: crate::telemetry::trace_url(
                state.context.config.trace_url_template.as_deref(),
                &session,
            ),
        },
        lines: lines
            .into_iter()
            .map(|l| ui::LineView {
                seq: l.seq,
                ts_ms: l.ts_ms,
                raw: l.line,
                malformed: l.malformed,
            })
            .collect(),
    };
    html(state.ui.session(&page))
}

/// The worker's browser actions, as the CLI names them.
const BROWSER_TOOLS: &str = "mcp__claudeops__browser_";

pub fn action_view(a: &ActionRecord) -> ui::ActionView {
    ui::ActionView {
        id: a.id,
        site: a.site.to_string(),
        service: a.service.clone(),
        kind: a.kind.as_str().to_owned(),
        session_id: a.session_id,
        status: a.status.as_str().to_owned(),
        args: a.args.to_string(),
        result: a.result.clone(),
        reserved_at_ms: a.reserved_at_ms,
        duration_ms: a.duration_ms,
    }
}

#[utoipa::path(
    get,
    path = "/sites",
    operation_id = "sites_page",
    tag = "dashboard",
    summary = "The sites page: each site's workers",
    responses((status = 200, description = "The page.", content_type = "text/html", body = String))
)]
pub async fn sites(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let workers = state.queries.workers().await.unwrap_or_default();
    let running = state.sessions.running().await.unwrap_or_default();
    let connected = state.context.registry.list();
    let mut names: Vec<String> = workers.iter().map(|w| w.site.to_string()).collect();
    names.sort();
    names.dedup();
    let sites = names
        .into_iter()
        .map(|name| ui::SiteView {
            running_session_id: running
                .iter()
                .find(|s| s.site.as_str() == name)
                .map(|s| s.id),
            workers: workers
                .iter()
                .filter(|w| w.site.as_str() == name)
                .map(|w| {
                    let live = connected.iter().find(|c| c.worker_id == w.id);
                    ui::WorkerView {
                        id: w.id.clone(),
                        hostname: live.map_or_else(|| w.hostname.clone(), |l| l.hostname.clone()),
                        version: live.map_or_else(|| w.version.clone(), |l| l.version.clone()),
                        connected: live.is_some(),
                        last_heartbeat_ms: live.map(|l| l.last_heartbeat_ms).or(w.last_seen_ms),
                        capabilities: live
                            .map_or_else(|| w.capabilities.clone(), |l| l.capabilities.clone()),
                        revoked: w.revoked_at_ms.is_some(),
                        sandbox: live.map(|l| l.sandbox.kind.clone()).unwrap_or_default(),
                        sandbox_detail: live.map(|l| l.sandbox.detail.clone()).unwrap_or_default(),
                    }
                })
                .collect(),
            name,
        })
        .collect();
    let page = ui::SitesPage {
        layout: layout(&state, &headers, ui::Nav::Sites),
        sites,
        now_ms: now_ms(),
    };
    html(state.ui.sites(&page))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// The site chosen in the form.
    site: Option<String>,
}

#[utoipa::path(
    get,
    path = "/run",
    operation_id = "run_now_page",
    tag = "dashboard",
    summary = "The Run Now form",
    params(RunQuery),
    responses(answers::Page, answers::PageParameterRejected,)
)]
pub async fn run_now(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<RunQuery>,
) -> Response {
    let config = match q.site.as_deref().and_then(|s| SiteName::new(s).ok()) {
        Some(site) => state.context.runtime.site(&site),
        None => state.context.runtime.global(),
    };
    let page = ui::RunNowPage {
        layout: layout(&state, &headers, ui::Nav::RunNow),
        sites: state
            .context
            .registry
            .sites()
            .iter()
            .map(ToString::to_string)
            .collect(),
        site: q.site,
        tier: None,
        prompt: String::new(),
        max_tier: config.max_tier().number(),
        dry_run: config.dry_run,
    };
    html(state.ui.run_now(&page))
}

/// The Run Now form: the site (optional with one site), the tier (`auto` or
/// blank for 1), a prompt, and the login's CSRF token.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct TriggerForm {
    site: Option<String>,
    tier: Option<String>,
    prompt: Option<String>,
    #[serde(default)]
    csrf: String,
}

fn login_redirect() -> Response {
    Redirect::to("/login").into_response()
}

#[utoipa::path(
    post,
    path = "/sessions/trigger",
    operation_id = "trigger_form",
    tag = "forms",
    summary = "Run Now: start a session",
    request_body(content = TriggerForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        (status = 303, description = "No login, or a wrong CSRF token: to `/login`; done: to the result.", headers(("location" = String, description = "Where to go."))),
        (status = 400, description = "A bad tier or site; the tier is above the maximum.", content_type = "text/html", body = String),
        (status = 409, description = "The site is busy, or dry run refuses the tier.", content_type = "text/html", body = String),
        (status = 429, description = "The daily cost cap is reached.", content_type = "text/html", body = String),
        (status = 503, description = "No worker, the model tiers are off, shutting down, or the database is unavailable.", content_type = "text/html", body = String),
        answers::FormRejections,
    )
)]
pub async fn trigger(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<TriggerForm>,
) -> Response {
    if !state.auth.form_ok(&headers, &form.csrf, now_ms()) {
        return login_redirect();
    }
    let tier = match form.tier.as_deref() {
        None | Some("" | "auto") => None,
        Some(t) => match t.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return error_page(
                    &state,
                    &headers,
                    StatusCode::BAD_REQUEST,
                    "Bad request",
                    format!("invalid tier {t:?}"),
                );
            }
        },
    };
    let start = match (resolve_site(&state, form.site), parse_tier(tier)) {
        (Ok(site), Ok(tier)) => StartRequest {
            site,
            tier,
            trigger: Trigger::Manual,
            prompt: form.prompt.filter(|p| !p.trim().is_empty()),
            handoff: None,
            parent_id: None,
        },
        (Err(e), _) | (_, Err(e)) => return start_refused(&state, &headers, e),
    };
    match state.sessions.start(start).await {
        Ok(session) => {
            crate::http::api::record_who(&state, &headers, &session, "started").await;
            Redirect::to(&format!("/sessions/{}", session.id)).into_response()
        }
        Err(StartError::Busy { site, running }) => error_page_to(
            &state,
            &headers,
            StatusCode::CONFLICT,
            "Run not started",
            format!(
                "Site {site} is busy: session #{running} is running there, and a site runs one session at a time."
            ),
            Some((
                format!("/sessions/{running}"),
                format!("Watch session #{running}"),
            )),
        ),
        Err(error) => start_refused(&state, &headers, ApiError::from(error)),
    }
}

fn start_refused(state: &AppState, headers: &HeaderMap, error: ApiError) -> Response {
    error_page(
        state,
        headers,
        error.status(),
        "Run not started",
        error.message(),
    )
}

/// A form with nothing but the login's CSRF token.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

#[utoipa::path(
    post,
    path = "/sessions/{id}/stop",
    operation_id = "stop_form",
    tag = "forms",
    summary = "Stop a session",
    params(("id" = i64, Path, description = "The session's id.")),
    request_body(content = CsrfForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        (status = 303, description = "No login, or a wrong CSRF token: to `/login`; done: to the result.", headers(("location" = String, description = "Where to go."))),
        answers::IdNotANumber,
        answers::DatabaseUnavailable,
        answers::FormRejections,
    )
)]
pub async fn stop(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !state.auth.form_ok(&headers, &form.csrf, now_ms()) {
        return login_redirect();
    }
    let reason = crate::http::api::stop_reason(&state, &headers);
    match state.sessions.stop(id, &reason).await {
        Ok(_) => Redirect::to(&format!("/sessions/{id}")).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /login?next=…`: where the guard sends a visitor without a login.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoginQuery {
    /// The page to return to after logging in (a path on this dashboard).
    next: Option<String>,
}

#[utoipa::path(
    get,
    path = "/login",
    operation_id = "login_page",
    tag = "dashboard",
    summary = "The login form",
    description = "Sets the form's own short-lived cookie, checked by `POST /login`. With `next`, says that the page asked for needs a login and returns there after.",
    params(LoginQuery),
    responses((status = 200, description = "The page.", content_type = "text/html", body = String))
)]
pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let token = auth::random_token();
    let next = query.next.as_deref().map(|n| guard::safe_next(Some(n)));
    let notice = next
        .as_ref()
        .map(|n| format!("Log in to see {n}: this dashboard is private."));
    login_page(
        &state,
        &headers,
        token,
        LoginOutcome {
            error: notice,
            next,
        },
        StatusCode::OK,
    )
}

/// What the login form says and where it returns to.
struct LoginOutcome {
    error: Option<String>,
    next: Option<String>,
}

fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    form_token: String,
    outcome: LoginOutcome,
    status: StatusCode,
) -> Response {
    let mut layout = layout(state, headers, ui::Nav::None);
    layout.csrf_token = Some(form_token.clone());
    let page = ui::LoginPage {
        layout,
        error: outcome.error,
        next: outcome.next.filter(|n| n.as_str() != "/"),
        token_path: state.token_path.as_ref().map_or_else(
            || "CLAUDEOPS_API_TOKEN".to_owned(),
            |p| p.display().to_string(),
        ),
    };
    let mut response = html(state.ui.login(&page));
    *response.status_mut() = status;
    if let Ok(value) = state
        .auth
        .set_cookie(LOGIN_COOKIE, &form_token, 600)
        .parse()
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The login form: a user name and password, or the API token; the form's
/// token; where to return.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

/// The client's address, for counting failed logins (unknown in-process).
pub struct ClientAddr(pub std::net::IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.ip()),
        ))
    }
}

#[utoipa::path(
    post,
    path = "/login",
    operation_id = "login",
    tag = "forms",
    summary = "Log in to the dashboard with a user name and password, or the API token",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Logged in: the login's cookie is set; to `next` (a path here) or `/`.", headers(("location" = String, description = "Where to go."), ("set-cookie" = String, description = "The login."))),
        (status = 401, description = "Wrong user name, password or token: the form again.", content_type = "text/html", body = String),
        (status = 403, description = "The form expired: the form again.", content_type = "text/html", body = String),
        (status = 429, description = "Too many failed logins from this client: the form again, with how long to wait.", content_type = "text/html", body = String, headers(("retry-after" = String, description = "Seconds to wait."))),
        (status = 503, description = "The database is unavailable (user names are checked there).", content_type = "text/html", body = String),
        answers::FormRejections,
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = guard::safe_next(form.next.as_deref());
    let again = |error: &str, status: StatusCode| {
        login_page(
            &state,
            &headers,
            auth::random_token(),
            LoginOutcome {
                error: Some(error.to_owned()),
                next: Some(next.clone()),
            },
            status,
        )
    };
    let expected = auth::cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty()
        || !claudeops_pki::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes())
    {
        return again("The form expired; try again.", StatusCode::FORBIDDEN);
    }
    let now = now_ms();
    if let Err(wait) = state.auth.login_allowed(client, now) {
        tracing::warn!(%client, "dashboard logins refused: too many failures");
        let mut response = again(
            &format!(
                "Too many failed logins from your address; try again in {} minute(s).",
                wait.div_ceil(60)
            ),
            StatusCode::TOO_MANY_REQUESTS,
        );
        if let Ok(value) = wait.to_string().parse() {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let login = if !form.token.trim().is_empty() {
        state.auth.login(&form.token, now)
    } else {
        match state.users.verify(form.user.trim(), &form.password).await {
            Ok(user) => user.map(|u| state.auth.start_login(&u.name, u.role, now)),
            Err(error) => {
                tracing::error!(%error, "checking a dashboard login failed");
                return again(
                    "The database is unavailable, so the user name cannot be checked; try again soon.",
                    StatusCode::SERVICE_UNAVAILABLE,
                );
            }
        }
    };
    let Some(login) = login else {
        state.auth.login_failed(client, now);
        tracing::warn!(%client, "a dashboard login failed");
        return again(
            if form.token.trim().is_empty() {
                "Wrong user name or password."
            } else {
                "Wrong token."
            },
            StatusCode::UNAUTHORIZED,
        );
    };
    state.auth.login_succeeded(client);
    tracing::info!(user = %login.user, role = %login.role, "dashboard login");
    let mut response = Redirect::to(&next).into_response();
    for cookie in [
        state.auth.set_cookie(SESSION_COOKIE, &login.id, 12 * 3600),
        state.auth.set_cookie(LOGIN_COOKIE, "", 0),
    ] {
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[utoipa::path(
    post,
    path = "/logout",
    operation_id = "logout",
    tag = "forms",
    summary = "Log out",
    request_body(content = CsrfForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Logged out (with the right CSRF token): to `/`.", headers(("location" = String, description = "Where to go."))),
        answers::FormRejections,
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(login) = state.auth.login_of(&headers, now_ms())
        && claudeops_pki::constant_time_eq(login.csrf.as_bytes(), form.csrf.as_bytes())
    {
        state.auth.logout(&login.id);
    }
    let mut response = Redirect::to("/").into_response();
    if let Ok(value) = state.auth.set_cookie(SESSION_COOKIE, "", 0).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
