//! The one gate in front of every route: who may read what, who may change
//! what, and the security headers on every answer.
//!
//! Private by default: every page and read endpoint needs a login (or the
//! bearer token) except the few that are public by design ([`access`]): the
//! health and stats endpoints a Homepage widget or a load balancer reads, the
//! public status pages and badges, the login form and the shell's assets.
//! `CLAUDEOPS_PUBLIC_READS=true` opens reads as the original had them. Writes
//! need a role: an operator's for Run Now, Stop and the like, an admin's for
//! the settings and workers. Webhooks and the chat endpoints check their own
//! credentials. Handlers still check the login and CSRF token of a write
//! themselves; this gate is the guarantee that nothing is missed.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::app::AppState;
use crate::auth::Role;
use crate::clock::now_ms;
use crate::http::api::ApiError;

/// What a request must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: public by design.
    Public,
    /// The endpoint checks its own credentials (webhook token, chat key).
    OwnCredentials,
    /// A login or the bearer token with at least this role.
    Role(Role),
}

/// Paths anyone may read, exactly.
const PUBLIC_PATHS: &[&str] = &[
    "/api/v1/health",
    "/api/v1/health/live",
    "/api/v1/stats",
    "/login",
    "/logout",
    "/offline",
    "/sw.js",
    "/favicon.ico",
    "/favicon.svg",
    "/apple-touch-icon.png",
    "/apple-touch-icon-precomposed.png",
];

/// Path prefixes anyone may read: the shell's assets, the opt-in public
/// status pages and their badges.
const PUBLIC_PREFIXES: &[&str] = &["/static/", "/status/", "/badge/"];

/// Endpoints with credentials of their own: the alert webhooks (their token)
/// and the chat endpoints (`CLAUDEOPS_CHAT_API_KEY`).
const OWN_CREDENTIALS: &[&str] = &[
    "/api/v1/webhook",
    // A signed, single-use approve or deny link (`http/approvals.rs`).
    "/approval",
    "/v1/chat/completions",
    "/v1/models",
    "/api/chat",
    "/api/generate",
    "/api/tags",
    "/api/version",
];

/// Writes only an admin may make: the settings and the workers.
const ADMIN_WRITES: &[&str] = &[
    "/config",
    "/api/v1/config",
    "/api/v1/workers/",
    "/api/v1/sites/",
    "/sites/",
];

fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD || method == Method::OPTIONS
}

/// What a request to `path` with `method` must carry. The OpenAPI document
/// asks the same question to document the refusals.
pub fn access(method: &Method, path: &str) -> Access {
    if PUBLIC_PATHS.contains(&path) || PUBLIC_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return Access::Public;
    }
    if OWN_CREDENTIALS
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
    {
        return Access::OwnCredentials;
    }
    if is_read(method) {
        return Access::Role(Role::Viewer);
    }
    let admin = ADMIN_WRITES.iter().any(|p| {
        if p.ends_with('/') {
            // `/sites/{site}/settings`, `/api/v1/sites/{site}/config`,
            // `/api/v1/workers/{id}/revoke`.
            path.starts_with(p)
                && (path.ends_with("/settings")
                    || path.ends_with("/config")
                    || path.ends_with("/revoke"))
        } else {
            path == *p || path.starts_with(&format!("{p}/"))
        }
    });
    Access::Role(if admin { Role::Admin } else { Role::Operator })
}

/// True when the asker reads an API (JSON, events, metrics) rather than a
/// page: a browser's navigation asks for HTML; an event stream or JSON asker
/// says so; otherwise the path tells.
fn wants_api(path: &str, headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if accept.contains("text/html") {
        return false;
    }
    accept.contains("text/event-stream")
        || accept.starts_with("application/json")
        || path.starts_with("/api/")
        || path == "/metrics"
}

/// The gate: refuses what the asker may not do, and stamps the security
/// headers on every answer.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = match access(&method, &path) {
        Access::Public | Access::OwnCredentials => next.run(request).await,
        Access::Role(_) if state.public_reads && is_read(&method) => next.run(request).await,
        Access::Role(needed) => match state.auth.role_of(request.headers(), now_ms()) {
            Some(role) if role >= needed => next.run(request).await,
            Some(role) => forbidden(&state, &request, role, needed),
            None => login_needed(&request),
        },
    };
    secure(&path, response.headers_mut());
    response
}

/// No login: an API gets 401; a page goes to the login form, which comes back
/// here after.
fn login_needed(request: &Request) -> Response {
    let path = request.uri().path();
    if wants_api(path, request.headers()) {
        return ApiError::unauthorized().into_response();
    }
    if !is_read(request.method()) {
        return Redirect::to("/login").into_response();
    }
    let target = request
        .uri()
        .path_and_query()
        .map_or(path, |pq| pq.as_str());
    Redirect::to(&format!("/login?next={}", encode_component(target))).into_response()
}

fn forbidden(state: &AppState, request: &Request, role: Role, needed: Role) -> Response {
    let message = format!(
        "You are logged in as a {role}; this needs an {needed}. Ask an admin to change your role with `claudeops-control-plane user add NAME --role {needed}`."
    );
    let path = request.uri().path();
    if wants_api(path, request.headers()) {
        return ApiError::new(StatusCode::FORBIDDEN, message).into_response();
    }
    crate::http::pages::error_page(
        state,
        request.headers(),
        StatusCode::FORBIDDEN,
        "Not allowed",
        message,
    )
}

/// The content security policy: nothing inline, nothing from elsewhere.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Status pages and badges may be framed and embedded elsewhere (Homepage).
const CSP_EMBEDDABLE: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'";

fn secure(path: &str, headers: &mut HeaderMap) {
    let embeddable = path.starts_with("/status/") || path.starts_with("/badge/");
    let csp = if embeddable { CSP_EMBEDDABLE } else { CSP };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    if !embeddable {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// Percent-encodes a URL query component (everything but unreserved bytes and `/`).
fn encode_component(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Where to go after logging in: a path on this dashboard, or `/`. Refuses
/// anything that could leave the site (`//host`, `/\host`, a scheme) or carry
/// control characters into a header.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next)
            if next.starts_with('/')
                && !next.starts_with("//")
                && !next.starts_with("/\\")
                && !next.chars().any(|c| c.is_control() || c == '\\')
                && !next.starts_with("/login")
                && next.len() <= 2048 =>
        {
            next.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths_are_few_and_exact() {
        for path in [
            "/api/v1/health",
            "/api/v1/stats",
            "/status/home",
            "/badge/web/status.svg",
            "/static/app.css",
            "/login",
            "/sw.js",
        ] {
            assert_eq!(access(&Method::GET, path), Access::Public, "{path}");
        }
        for path in [
            "/",
            "/sessions/1",
            "/api/v1/sessions",
            "/api/v1/health/../sessions",
            "/api/v1/healthx",
            "/api/v1/stats/more",
            "/metrics",
            "/api/openapi.json",
            "/statusx",
        ] {
            assert_eq!(
                access(&Method::GET, path),
                Access::Role(Role::Viewer),
                "{path}"
            );
        }
        assert_eq!(
            access(&Method::POST, "/api/v1/webhook/alertmanager"),
            Access::OwnCredentials
        );
        assert_eq!(
            access(&Method::POST, "/v1/chat/completions"),
            Access::OwnCredentials
        );
    }

    #[test]
    fn writes_need_an_operator_and_settings_an_admin() {
        for path in ["/sessions/trigger", "/api/v1/sessions/1/stop", "/memories"] {
            assert_eq!(
                access(&Method::POST, path),
                Access::Role(Role::Operator),
                "{path}"
            );
        }
        for (method, path) in [
            (Method::POST, "/config"),
            (Method::POST, "/config/models/refresh"),
            (Method::PUT, "/api/v1/config"),
            (Method::PUT, "/api/v1/sites/home/config"),
            (Method::POST, "/sites/home/settings"),
            (Method::POST, "/api/v1/workers/w1/revoke"),
        ] {
            assert_eq!(access(&method, path), Access::Role(Role::Admin), "{path}");
        }
    }

    #[test]
    fn next_stays_on_the_site() {
        assert_eq!(safe_next(Some("/sessions/4?x=1")), "/sessions/4?x=1");
        for bad in [
            "//evil.invalid/",
            "/\\evil.invalid",
            "https://evil.invalid/",
            "evil",
            "/a\r\nSet-Cookie: x=1",
            "/login?next=/",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
        assert_eq!(encode_component("/a b?c=d&e"), "/a%20b%3Fc%3Dd%26e");
    }
}
