//! Memories through the API (the original's shape and ours) and through the
//! memories page's forms.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use claudeops_control_plane::clock::now_ms;
use claudeops_control_plane::http;
use claudeops_core::{NewSession, SiteName, Tier, Trigger};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::fake_worker::FakeWorker;
use crate::support::{TOKEN, TestApp};

async fn post(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.request(Method::POST, "/api/v1/memories", Some(body), true)
        .await
}

fn ids(list: &Value) -> Vec<i64> {
    list["memories"]
        .as_array()
        .map(|m| m.iter().filter_map(|m| m["id"].as_i64()).collect())
        .unwrap_or_default()
}

/// A raw request through the router: (status, headers' location, body text).
async fn raw(app: &TestApp, request: Request<Body>) -> (StatusCode, String, String) {
    let response = http::router(app.state.clone())
        .oneshot(request)
        .await
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("reading an answer: {e}"))
        .to_bytes();
    (
        status,
        location,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn the_api_takes_and_gives_the_originals_shape_and_ours() {
    let app = TestApp::start().await;
    let _home = FakeWorker::connect_new(&app, "home").await;

    // The original's MemoryCreate, no site: the only one.
    let original =
        json!({"service": "Nginx", "category": "port", "observation": " listens on 8080 "});
    let (status, json) = app
        .request(
            Method::POST,
            "/api/v1/memories",
            Some(original.clone()),
            false,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    let (status, nginx) = post(&app, original).await;
    assert_eq!(status, StatusCode::CREATED, "{nginx}");
    for (field, want) in [
        ("service", json!("nginx")),
        ("category", json!("port")),
        ("observation", json!("listens on 8080")),
        ("confidence", json!(0.7)),
        ("active", json!(true)),
        ("tier", json!(0)),
        ("session_id", Value::Null),
        ("site", json!("home")),
        ("key", json!("nginx:port")),
        ("value", json!("listens on 8080")),
    ] {
        assert_eq!(nginx[field], want, "{field}: {nginx}");
    }
    let created_at = nginx["created_at"].as_str().unwrap_or_default();
    assert!(
        humantime::parse_rfc3339(created_at).is_ok(),
        "RFC 3339: {created_at}"
    );
    assert!(nginx["updated_at_ms"].as_i64().is_some());

    // Ours: key and value, a confidence and the active flag.
    let (status, disk) = post(
        &app,
        json!({"site": "home", "key": "disk", "value": "fills on Sundays", "confidence": 0.5, "active": false}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{disk}");
    assert_eq!(disk["service"], Value::Null, "{disk}");
    assert_eq!(disk["category"], "disk");
    assert_eq!(disk["observation"], "fills on Sundays");
    assert_eq!(disk["active"], false);

    // Refusals, each `{"error": ...}`.
    for (body, status, needle) in [
        (
            json!({"category": "x", "observation": "o", "confidence": 1.5}),
            StatusCode::BAD_REQUEST,
            "from 0 to 1",
        ),
        (
            json!({"category": "x", "observation": "  "}),
            StatusCode::BAD_REQUEST,
            "observation is empty",
        ),
        (
            json!({"observation": "o"}),
            StatusCode::BAD_REQUEST,
            "\"category\" is required",
        ),
        (
            json!({"category": "bad key", "observation": "o"}),
            StatusCode::BAD_REQUEST,
            "invalid memory category",
        ),
        (
            json!({"key": "k", "category": "c", "observation": "o"}),
            StatusCode::BAD_REQUEST,
            "either",
        ),
        (
            json!({"category": "x", "observation": "o", "tier": 2}),
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
        (
            json!({"service": "nginx", "category": "port", "observation": "again"}),
            StatusCode::CONFLICT,
            "already has",
        ),
    ] {
        let (got, json) = post(&app, body.clone()).await;
        assert_eq!(got, status, "{body}: {json}");
        let error = json["error"].as_str().unwrap_or_default();
        assert!(error.contains(needle), "{body}: {json}");
    }
    let not_json = Request::post("/api/v1/memories")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("category=x"))
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, _, body) = raw(&app, not_json).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(body.contains("\"error\""), "{body}");

    // A memory a tier 2 session wrote.
    let store = &app.state.context.store;
    let session = store
        .create_session(&NewSession {
            site: SiteName::new("home").unwrap_or_else(|e| panic!("{e}")),
            worker_id: None,
            tier: Tier::Investigate,
            model: "sonnet".into(),
            trigger: Trigger::Escalation,
            prompt: None,
            parent_id: None,
            started_at_ms: now_ms(),
            trace: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let home = SiteName::new("home").unwrap_or_else(|e| panic!("{e}"));
    store
        .remember(
            &home,
            "postgres:maintenance",
            "vacuum on Sundays",
            Some(session.id),
            now_ms(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let list = app.get("/api/v1/memories").await;
    let all = list["memories"].as_array().cloned().unwrap_or_default();
    assert_eq!(all.len(), 3, "{list}");
    let confidences: Vec<f64> = all
        .iter()
        .filter_map(|m| m["confidence"].as_f64())
        .collect();
    assert_eq!(confidences, [0.7, 0.7, 0.5], "highest first: {list}");
    let pg = all
        .iter()
        .find(|m| m["service"] == "postgres")
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(
        (pg["tier"].clone(), pg["session_id"].clone()),
        (json!(2), json!(session.id))
    );
    let (n, d) = (
        nginx["id"].as_i64().unwrap_or(0),
        disk["id"].as_i64().unwrap_or(0),
    );
    let p = pg["id"].as_i64().unwrap_or(0);
    for (query, want) in [
        ("service=nginx", vec![n]),
        ("category=maintenance", vec![p]),
        ("q=SUNDAYS", vec![p, d]),
        ("active=false", vec![d]),
        ("active=true&site=home", vec![p, n]),
        ("site=elsewhere", vec![]),
        ("limit=1&offset=1", vec![n]),
    ] {
        let got = app.get(&format!("/api/v1/memories?{query}")).await;
        let mut got = ids(&got);
        let mut want = want;
        if query.starts_with("active=true") || query.starts_with("q=") {
            got.sort_unstable();
            want.sort_unstable();
        }
        assert_eq!(got, want, "{query}");
    }
    let (status, json) = app
        .request(Method::GET, "/api/v1/memories?active=maybe", None, true)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");

    // The original's MemoryUpdate; ours (`value`); a part of it.
    let path = format!("/api/v1/memories/{n}");
    let (status, json) = app
        .request(
            Method::PUT,
            &path,
            Some(json!({"observation": "listens on 8081", "confidence": 0.9, "active": true})),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        (json["observation"].clone(), json["confidence"].clone()),
        (json!("listens on 8081"), json!(0.9))
    );
    let (status, json) = app
        .request(
            Method::PUT,
            &path,
            Some(json!({"value": "listens on 8082"})),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        (json["value"].clone(), json["confidence"].clone()),
        (json!("listens on 8082"), json!(0.9))
    );
    let (status, json) = app
        .request(
            Method::PUT,
            &format!("/api/v1/memories/{p}"),
            Some(json!({"active": false})),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        (json["active"].clone(), json["tier"].clone()),
        (json!(false), json!(2)),
        "{json}"
    );
    for (path, body, status) in [
        (
            path.as_str(),
            json!({"confidence": 2}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/memories/999999",
            json!({"active": true}),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/memories/abc",
            json!({"active": true}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (got, json) = app.request(Method::PUT, path, Some(body), true).await;
        assert_eq!(got, status, "{path}: {json}");
        assert!(json["error"].is_string(), "{json}");
    }

    let (status, _) = app.request(Method::DELETE, &path, None, false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.request(Method::DELETE, &path, None, true).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, json) = app.request(Method::DELETE, &path, None, true).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{json}");
    assert!(json["error"].is_string());

    // With two sites, a new memory must name its own.
    let _office = FakeWorker::connect_new(&app, "office").await;
    let (status, json) = post(&app, json!({"category": "x", "observation": "o"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert!(
        json["error"]
            .as_str()
            .unwrap_or_default()
            .contains("more than one site")
    );
}

/// A form post with the login's cookie.
fn form(path: &str, session: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, format!("claudeops_session={session}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn the_page_forms_need_the_csrf_token_and_explain_refusals() {
    let app = TestApp::start().await;
    let _home = FakeWorker::connect_new(&app, "home").await;
    let login = app
        .state
        .auth
        .login(TOKEN, now_ms())
        .unwrap_or_else(|| panic!("the token logs in"));
    let csrf = &login.csrf;

    let add = format!(
        "csrf={csrf}&back=q%3Dport%26&site=home&service=web&category=port&observation=listens+on+8080&confidence=0.8&active=true"
    );
    let (status, _, _) = raw(
        &app,
        form(
            "/memories",
            &login.id,
            &add.replace(csrf.as_str(), "forged"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, location, _) = raw(&app, form("/memories", &login.id, &add)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let list = app.get("/api/v1/memories").await;
    let id = ids(&list)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("added: {list}"));
    assert_eq!(location, format!("/memories?q=port&done=added&id={id}"));
    assert_eq!(list["memories"][0]["confidence"], 0.8);

    let page = Request::get(&location)
        .header(header::COOKIE, format!("claudeops_session={}", login.id))
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, _, html) = raw(&app, page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("Memory #{id} added.")), "{html}");
    assert!(html.contains("listens on 8080"));

    for (body, needle) in [
        (
            "category=port&service=db&observation=x&confidence=1.5",
            "confidence must be a number from 0 to 1",
        ),
        (
            "category=port&service=db&observation=x&confidence=lots",
            "confidence must be a number from 0 to 1",
        ),
        (
            "category=port&service=db&observation=+&confidence=0.5",
            "the observation is empty",
        ),
        (
            "category=&observation=x&confidence=0.5",
            "&quot;category&quot; is required",
        ),
        (
            "category=port&service=web&observation=x&confidence=0.5&site=home",
            "already has a memory",
        ),
    ] {
        let (status, _, html) = raw(
            &app,
            form("/memories", &login.id, &format!("csrf={csrf}&{body}")),
        )
        .await;
        assert!(status.is_client_error(), "{body}: {status}");
        assert!(
            html.contains("Memory not added:") && html.contains(needle),
            "{body}: {html}"
        );
        assert!(html.contains(r#"role="alert""#));
    }

    let edit = format!("/memories/{id}/update");
    let (status, _, html) = raw(
        &app,
        form(
            &edit,
            &login.id,
            &format!("csrf={csrf}&observation=new&confidence=-1&active=true"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains(&format!(
            "Memory #{id} not saved: confidence must be a number from 0 to 1"
        )),
        "{html}"
    );
    assert!(html.contains(r#"<details class="edit-memory" open>"#));
    let (status, location, _) = raw(
        &app,
        form(
            &edit,
            &login.id,
            &format!("csrf={csrf}&observation=listens+on+9090&confidence=0.95"),
        ),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (
            StatusCode::SEE_OTHER,
            format!("/memories?done=saved&id={id}").as_str()
        )
    );
    let memory = &app.get("/api/v1/memories").await["memories"][0];
    assert_eq!(
        (memory["observation"].clone(), memory["active"].clone()),
        (json!("listens on 9090"), json!(false)),
        "an unchecked box is inactive"
    );

    for (action, active) in [("activate", true), ("deactivate", false)] {
        let (status, location, _) = raw(
            &app,
            form(
                &format!("/memories/{id}/{action}"),
                &login.id,
                &format!("csrf={csrf}"),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{action}");
        assert!(location.contains(&format!("done={action}d")), "{location}");
        assert_eq!(
            app.get("/api/v1/memories").await["memories"][0]["active"],
            active
        );
    }
    let delete = format!("/memories/{id}/delete");
    let (status, _, _) = raw(&app, form(&delete, &login.id, &format!("csrf={csrf}"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, html) = raw(&app, form(&delete, &login.id, &format!("csrf={csrf}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains(&format!("There is no memory #{id}")));
    assert!(ids(&app.get("/api/v1/memories").await).is_empty());
}

#[tokio::test]
async fn the_shell_routes_answer_with_their_types() {
    let app = TestApp::start().await;
    for (path, content_type) in [
        ("/sw.js", "text/javascript; charset=utf-8"),
        ("/offline", "text/html; charset=utf-8"),
        ("/favicon.ico", "image/x-icon"),
        ("/favicon.svg", "image/svg+xml"),
        ("/apple-touch-icon.png", "image/png"),
        ("/apple-touch-icon-precomposed.png", "image/png"),
        ("/static/manifest.json", "application/manifest+json"),
        ("/static/pwa.js", "text/javascript; charset=utf-8"),
    ] {
        let response = app.send(Method::GET, path, None, false).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some(content_type),
            "{path}"
        );
    }
    let sw = app.send(Method::GET, "/sw.js", None, false).await;
    assert_eq!(
        sw.headers()
            .get("service-worker-allowed")
            .and_then(|v| v.to_str().ok()),
        Some("/")
    );
}
