//! Private by default: every page and read endpoint of the OpenAPI document
//! refuses a visitor without a login, except the public few; logins by named
//! users with roles; the way back to the page asked for; failed logins
//! limited per client; the security headers on every answer.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use claudeops_control_plane::auth::{LOGIN_COOKIE, Role, SESSION_COOKIE};
use claudeops_control_plane::http;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::support::{TOKEN, TestApp};

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

/// One request through the real router with these headers and form fields.
async fn send(
    app: &TestApp,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    form: &[(&str, &str)],
) -> Answer {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let body = if form.is_empty() {
        Body::empty()
    } else {
        builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        let encoded: Vec<String> = form
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.replace('%', "%25")
                        .replace('&', "%26")
                        .replace('/', "%2F")
                        .replace('?', "%3F")
                        .replace('=', "%3D")
                        .replace(' ', "+")
                )
            })
            .collect();
        Body::from(encoded.join("&"))
    };
    let request = builder.body(body).unwrap_or_else(|e| panic!("{uri}: {e}"));
    let response = http::router(app.state.clone())
        .oneshot(request)
        .await
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{uri}: {e}"))
        .to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn header_of<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Logs in through `POST /login` as a browser would; the session cookie.
async fn log_in(app: &TestApp, fields: &[(&str, &str)], next: &str) -> Result<String, Answer> {
    let form_token = "form-token-0123456789";
    let cookie = format!("{LOGIN_COOKIE}={form_token}");
    let mut form = vec![("csrf", form_token), ("next", next)];
    form.extend_from_slice(fields);
    let answer = send(app, Method::POST, "/login", &[("cookie", &cookie)], &form).await;
    if answer.status != StatusCode::SEE_OTHER {
        return Err(answer);
    }
    let set = answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{SESSION_COOKIE}=")))
        .unwrap_or_else(|| panic!("no login cookie: {:?}", answer.headers));
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert_eq!(
        header_of(&answer, "location"),
        next,
        "returned to the page asked for"
    );
    Ok(set.split(';').next().unwrap_or_default().to_owned())
}

/// The CSRF token of a login, from its cookie.
fn csrf_of(app: &TestApp, cookie: &str) -> String {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::COOKIE,
        cookie.parse().unwrap_or_else(|e| panic!("{e}")),
    );
    app.state
        .auth
        .login_of(&headers, claudeops_control_plane::clock::now_ms())
        .unwrap_or_else(|| panic!("no login for {cookie}"))
        .csrf
}

#[tokio::test]
async fn every_page_and_read_needs_a_login_but_the_public_few() {
    let app = TestApp::start().await;
    let document = serde_json::to_value(http::openapi::document())
        .unwrap_or_else(|e| panic!("the document: {e}"));
    let public = [
        "/api/v1/health",
        "/api/v1/health/live",
        "/api/v1/stats",
        "/login",
        "/offline",
        "/sw.js",
        "/favicon.ico",
        "/favicon.svg",
        "/apple-touch-icon.png",
        "/apple-touch-icon-precomposed.png",
        "/static/{path}",
    ];
    let own_credentials = [
        "/api/v1/webhook",
        "/v1/",
        "/api/chat",
        "/api/generate",
        "/api/tags",
        "/api/version",
    ];
    let mut refused = 0;
    for (template, item) in document["paths"].as_object().into_iter().flatten() {
        for method in item
            .as_object()
            .into_iter()
            .flatten()
            .map(|(m, _)| m.as_str())
        {
            let uri = template
                .replace("{id}", "1")
                .replace("{site}", "home")
                .replace("{source}", "alertmanager")
                .replace("{path}", "app.css")
                .replace("{slug}", "home")
                .replace("{service}", "web")
                .replace("{name}", "web");
            let m = Method::from_bytes(method.to_uppercase().as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            let answer = send(&app, m.clone(), &uri, &[], &[]).await;
            let at = format!("{method} {uri}");
            let is_public = public.contains(&template.as_str())
                || template.starts_with("/status/")
                || template.starts_with("/badge/")
                || template == "/logout";
            let own = own_credentials.iter().any(|p| template.starts_with(p));
            if is_public {
                assert!(
                    !(answer.status == StatusCode::SEE_OTHER
                        && header_of(&answer, "location").starts_with("/login?")),
                    "{at} is public but sent to log in"
                );
                assert_ne!(answer.status, StatusCode::UNAUTHORIZED, "{at} is public");
                continue;
            }
            if template.starts_with("/approval/") {
                // A signed link: without a request or a signature, nothing
                // is shown or decided, and nobody is sent to log in.
                assert!(
                    matches!(
                        answer.status,
                        StatusCode::NOT_FOUND
                            | StatusCode::FORBIDDEN
                            | StatusCode::UNSUPPORTED_MEDIA_TYPE
                            | StatusCode::UNPROCESSABLE_ENTITY
                    ),
                    "{at} is a signed link's: {}",
                    answer.status
                );
                continue;
            }
            if own {
                assert!(
                    matches!(
                        answer.status,
                        StatusCode::UNAUTHORIZED
                            | StatusCode::SERVICE_UNAVAILABLE
                            | StatusCode::BAD_REQUEST
                            | StatusCode::UNSUPPORTED_MEDIA_TYPE
                    ),
                    "{at} checks its own credentials: {}",
                    answer.status
                );
                continue;
            }
            refused += 1;
            let api = template.starts_with("/api/") || template == "/metrics";
            match (api, m == Method::GET) {
                (true, _) => {
                    assert_eq!(
                        answer.status,
                        StatusCode::UNAUTHORIZED,
                        "{at}: {}",
                        answer.text
                    );
                    let json: Value = serde_json::from_str(&answer.text)
                        .unwrap_or_else(|e| panic!("{at}: {e}: {}", answer.text));
                    assert!(
                        json["error"].as_str().is_some_and(|e| e.contains("token")),
                        "{at}: {json}"
                    );
                }
                (false, true) => {
                    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{at}");
                    let location = header_of(&answer, "location");
                    assert!(
                        location.starts_with("/login?next=%2F")
                            || location.starts_with("/login?next=/"),
                        "{at} → {location}"
                    );
                    assert!(!answer.text.contains("<main"), "{at} leaks the page");
                }
                (false, false) => {
                    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{at}");
                    assert_eq!(header_of(&answer, "location"), "/login", "{at}");
                }
            }
        }
    }
    assert!(refused > 40, "only {refused} operations were checked");

    // An event stream asked for without a login gets 401, not a page.
    let answer = send(
        &app,
        Method::GET,
        "/sessions/1/stream",
        &[("accept", "text/event-stream")],
        &[],
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    // A browser asking for the API reference is sent to log in, not given JSON.
    let answer = send(
        &app,
        Method::GET,
        "/api/docs",
        &[("accept", "text/html,application/xhtml+xml")],
        &[],
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(header_of(&answer, "location"), "/login?next=/api/docs");
    // Unknown paths do not tell what exists.
    let answer = send(&app, Method::GET, "/no/such/page", &[], &[]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn public_reads_restore_the_originals_open_reads_but_not_writes() {
    let app = TestApp::with(|c| c.public_reads = true).await;
    for path in ["/", "/sessions", "/api/v1/sessions", "/api/v1/events"] {
        let answer = send(&app, Method::GET, path, &[], &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
    }
    let answer = send(&app, Method::POST, "/api/v1/sessions/trigger", &[], &[]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::start().await;
    for (path, framed) in [
        ("/login", false),
        ("/api/v1/health", false),
        ("/", false),
        ("/static/app.css", false),
        ("/status/nowhere", true),
    ] {
        let answer = send(&app, Method::GET, path, &[], &[]).await;
        let csp = header_of(&answer, "content-security-policy");
        assert!(
            csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline")
                && csp.contains("object-src 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(
            header_of(&answer, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
        assert_eq!(
            header_of(&answer, "referrer-policy"),
            "same-origin",
            "{path}"
        );
        if framed {
            assert!(!csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        } else {
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
            assert_eq!(header_of(&answer, "x-frame-options"), "DENY", "{path}");
        }
    }
}

#[tokio::test]
async fn users_log_in_with_a_role_and_return_to_the_page_they_asked_for() {
    let app = TestApp::start().await;
    let now = claudeops_control_plane::clock::now_ms();
    for (name, role) in [
        ("vera", Role::Viewer),
        ("otto", Role::Operator),
        ("ada", Role::Admin),
    ] {
        app.state
            .users
            .put(name, role, &format!("{name}-long-password"), now)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    // Logged out: sent to log in, with the page asked for, and told why.
    let answer = send(&app, Method::GET, "/events?level=error", &[], &[]).await;
    let location = header_of(&answer, "location").to_owned();
    assert_eq!(location, "/login?next=/events%3Flevel%3Derror");
    let form = send(&app, Method::GET, &location, &[], &[]).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.text.contains("Log in to see &#x2f;events?level=error"),
        "{}",
        form.text
    );
    assert!(
        form.text
            .contains(r#"name="next" value="&#x2f;events?level=error""#),
        "{}",
        form.text
    );

    // Wrong passwords and unknown users are refused alike.
    for fields in [
        [("user", "vera"), ("password", "not-her-password")],
        [("user", "nobody"), ("password", "vera-long-password")],
    ] {
        let refused = log_in(&app, &fields, "/events")
            .await
            .err()
            .unwrap_or_else(|| panic!("logged in with {fields:?}"));
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(refused.text.contains("Wrong user name or password."));
    }

    // A viewer reads, and changes nothing.
    let vera = log_in(
        &app,
        &[("user", "vera"), ("password", "vera-long-password")],
        "/events?level=error",
    )
    .await
    .unwrap_or_else(|a| panic!("{} {}", a.status, a.text));
    let page = send(&app, Method::GET, "/", &[("cookie", &vera)], &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("vera") && page.text.contains("(viewer)"),
        "the sidebar names the user"
    );
    let csrf = csrf_of(&app, &vera);
    let run = send(
        &app,
        Method::POST,
        "/sessions/trigger",
        &[("cookie", &vera)],
        &[("csrf", &csrf), ("prompt", "look")],
    )
    .await;
    assert_eq!(run.status, StatusCode::FORBIDDEN, "{}", run.text);
    assert!(run.text.contains("viewer"), "{}", run.text);
    let api = send(
        &app,
        Method::POST,
        "/api/v1/sessions/trigger",
        &[
            ("cookie", &vera),
            ("x-csrf-token", &csrf),
            ("content-type", "application/json"),
        ],
        &[],
    )
    .await;
    assert_eq!(api.status, StatusCode::FORBIDDEN);

    // An operator runs things but does not change settings.
    let otto = log_in(
        &app,
        &[("user", "otto"), ("password", "otto-long-password")],
        "/",
    )
    .await
    .unwrap_or_else(|a| panic!("{} {}", a.status, a.text));
    let csrf = csrf_of(&app, &otto);
    let run = send(
        &app,
        Method::POST,
        "/sessions/trigger",
        &[("cookie", &otto)],
        &[("csrf", &csrf), ("prompt", "look")],
    )
    .await;
    assert_ne!(run.status, StatusCode::FORBIDDEN, "{}", run.text);
    let config = send(
        &app,
        Method::POST,
        "/config",
        &[("cookie", &otto)],
        &[("csrf", &csrf), ("interval", "900")],
    )
    .await;
    assert_eq!(config.status, StatusCode::FORBIDDEN, "{}", config.text);
    assert!(config.text.contains("needs an admin"), "{}", config.text);

    // An admin changes settings, and the audit trail names her.
    let ada = log_in(
        &app,
        &[("user", "ada"), ("password", "ada-long-password")],
        "/config",
    )
    .await
    .unwrap_or_else(|a| panic!("{} {}", a.status, a.text));
    let csrf = csrf_of(&app, &ada);
    let config = send(
        &app,
        Method::POST,
        "/config",
        &[("cookie", &ada)],
        &[("csrf", &csrf), ("interval", "900")],
    )
    .await;
    assert!(
        config.status.is_success() || config.status.is_redirection(),
        "{} {}",
        config.status,
        config.text
    );
    let trail = app.get("/api/v1/config/changes").await;
    assert_eq!(trail["changes"][0]["actor"], "ada", "{trail}");

    // A user removed or changed elsewhere loses the logins made before.
    app.state
        .users
        .remove("vera")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    app.state.sync_users().await;
    let page = send(&app, Method::GET, "/", &[("cookie", &vera)], &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "vera's login ended");

    // `next` never leaves the site.
    let token = log_in(&app, &[("token", TOKEN)], "/")
        .await
        .unwrap_or_else(|a| panic!("{}", a.text));
    assert!(!token.is_empty());
    let form_token = "form-token-0123456789";
    let evil = send(
        &app,
        Method::POST,
        "/login",
        &[("cookie", &format!("{LOGIN_COOKIE}={form_token}"))],
        &[
            ("csrf", form_token),
            ("token", TOKEN),
            ("next", "//evil.invalid/x"),
        ],
    )
    .await;
    assert_eq!(header_of(&evil, "location"), "/");
}

#[tokio::test]
async fn failed_logins_are_limited_per_client() {
    let app = TestApp::start().await;
    for _ in 0..claudeops_control_plane::auth::MAX_FAILED_LOGINS {
        let refused = log_in(&app, &[("token", "not-the-token-at-all")], "/")
            .await
            .err()
            .unwrap_or_else(|| panic!("a wrong token logged in"));
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    }
    // Now even the right token waits.
    let refused = log_in(&app, &[("token", TOKEN)], "/")
        .await
        .err()
        .unwrap_or_else(|| panic!("not limited"));
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text
    );
    let wait: u64 = header_of(&refused, "retry-after")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(wait > 0 && wait <= 900, "{wait}");
    assert!(
        refused.text.contains("Too many failed logins"),
        "{}",
        refused.text
    );
}

#[tokio::test]
async fn the_login_cookie_is_secure_behind_https() {
    let app = TestApp::with(|c| c.public_url = Some("https://ops.example.invalid".into())).await;
    let form_token = "form-token-0123456789";
    let answer = send(
        &app,
        Method::POST,
        "/login",
        &[("cookie", &format!("{LOGIN_COOKIE}={form_token}"))],
        &[("csrf", form_token), ("token", TOKEN)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let set: Vec<&str> = answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        !set.is_empty() && set.iter().all(|c| c.contains("; Secure")),
        "{set:?}"
    );
}

#[tokio::test]
async fn the_activity_trail_names_who_started_and_stopped_a_session() {
    let app = TestApp::start().await;
    let mut worker = crate::fake_worker::FakeWorker::connect_new(&app, "home").await;
    let id = app.start_session("home", 1).await;
    worker.run_job().await;
    let (status, body) = app
        .request(
            Method::POST,
            &format!("/api/v1/sessions/{id}/stop"),
            None,
            true,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let messages: Vec<String> = app
        .events("site=home")
        .await
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m == &format!("api token started session #{id} (tier 1)")),
        "{messages:?}"
    );
    let stored = app
        .state
        .context
        .store
        .stop_requested(id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.as_deref(), Some("stopped by api token"));
}
