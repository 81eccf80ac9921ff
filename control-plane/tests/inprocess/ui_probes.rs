//! Probes added from the dashboard: the API adds, edits, pauses and deletes
//! them, refuses bad specs by field and names a repo probe already has, and the
//! site's connected worker receives the whole set on every change and again
//! when it reconnects.

use axum::http::{Method, StatusCode};
use claudeops_core::inventory::Inventory;
use claudeops_core::probe::{ProbeSpec, Source};
use claudeops_proto::v1::{self as pb, control_message, worker_message};
use serde_json::{Value, json};

use crate::fake_worker::FakeWorker;
use crate::support::{TestApp, eventually};

/// The next probe set the worker receives, as (name, url) of each spec.
async fn next_set(worker: &mut FakeWorker) -> Vec<(String, String)> {
    let set = worker
        .expect("a probe set", |body| match body {
            control_message::Body::ProbeSet(set) => Some(set),
            _ => None,
        })
        .await;
    assert!(set.version > 0, "a set carries a version");
    set.probes
        .iter()
        .map(|json| {
            let spec: ProbeSpec =
                serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
            (spec.name, spec.url)
        })
        .collect()
}

fn pair(name: &str, url: &str) -> (String, String) {
    (name.to_owned(), url.to_owned())
}

/// Reports an inventory with one repo probe, `db`, from a probe file.
async fn report_repo_probe(worker: &FakeWorker) {
    let mut spec: ProbeSpec =
        serde_json::from_value(json!({ "name": "db", "url": "tcp://127.0.0.1:5432" }))
            .unwrap_or_else(|e| panic!("{e}"));
    spec.source = Source::File {
        path: "infra/.claude-ops/probes/db.yaml".to_owned(),
        line: 1,
    };
    let inventory = Inventory {
        repos: Vec::new(),
        services: Vec::new(),
        probes: vec![spec],
        problems: Vec::new(),
    };
    let inventory_json = inventory.to_json().unwrap_or_else(|e| panic!("{e}"));
    worker
        .send(worker_message::Body::Inventory(pb::InventoryReport {
            inventory_json,
        }))
        .await;
}

#[tokio::test]
async fn the_worker_gets_the_set_on_every_change_and_on_reconnect() {
    let app = TestApp::start().await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    assert!(
        next_set(&mut worker).await.is_empty(),
        "an empty set on connect"
    );

    let body = json!({
        "name": "web", "kind": "http", "target": "http://127.0.0.1:9/health",
        "interval": "15s", "conditions": ["[STATUS] == 200"]
    });
    let (status, added) = app
        .request(Method::POST, "/api/v1/sites/home/probes", Some(body), true)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["source"], "dashboard");
    assert_eq!(added["interval_secs"], 15);
    assert_eq!(
        next_set(&mut worker).await,
        [pair("web", "http://127.0.0.1:9/health")]
    );

    // Edit: the new target travels.
    let edit = json!({ "kind": "tcp", "target": "127.0.0.1:9" });
    let (status, edited) = app
        .request(
            Method::PUT,
            "/api/v1/sites/home/probes/web",
            Some(edit),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(
        next_set(&mut worker).await,
        [pair("web", "tcp://127.0.0.1:9")]
    );

    // Paused probes are left out of the set; resumed ones come back.
    let (status, paused) = app
        .request(
            Method::PUT,
            "/api/v1/sites/home/probes/web/paused",
            Some(json!({ "paused": true })),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["paused"], true);
    assert!(next_set(&mut worker).await.is_empty());
    let (status, _) = app
        .request(
            Method::PUT,
            "/api/v1/sites/home/probes/web/paused",
            Some(json!({ "paused": false })),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        next_set(&mut worker).await,
        [pair("web", "tcp://127.0.0.1:9")]
    );

    // A reconnecting worker gets the set again.
    let identity = worker.disconnect();
    let mut worker = FakeWorker::connect(&app, identity, Vec::new()).await;
    assert_eq!(
        next_set(&mut worker).await,
        [pair("web", "tcp://127.0.0.1:9")]
    );

    // The listing shows it with who changed it.
    let listed = app.get("/api/v1/sites/home/probes").await;
    let probes = listed["probes"].as_array().cloned().unwrap_or_default();
    assert_eq!(probes.len(), 1, "{listed}");
    assert_eq!(probes[0]["name"], "web");
    assert_eq!(probes[0]["editable"], true);
    assert!(probes[0]["updated_by"].is_string(), "{listed}");

    let (status, _) = app
        .request(Method::DELETE, "/api/v1/sites/home/probes/web", None, true)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(next_set(&mut worker).await.is_empty());
    let (status, _) = app
        .request(Method::DELETE, "/api/v1/sites/home/probes/web", None, true)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_specs_and_repo_names_are_refused_with_the_field_named() {
    let app = TestApp::start().await;
    let worker = FakeWorker::connect_new(&app, "home").await;
    report_repo_probe(&worker).await;
    eventually("the repo probe listed", || async {
        let listed = app.get("/api/v1/sites/home/probes").await;
        let probes = listed["probes"].as_array().cloned().unwrap_or_default();
        probes.iter().any(|p| p["name"] == "db").then_some(listed)
    })
    .await;
    let listed = app.get("/api/v1/sites/home/probes").await;
    assert_eq!(
        listed["probes"][0]["source"],
        "repo: infra/.claude-ops/probes/db.yaml:1"
    );
    assert_eq!(listed["probes"][0]["editable"], false);

    let refused = |body: Value| {
        let app = &app;
        async move {
            let (status, answer) = app
                .request(Method::POST, "/api/v1/sites/home/probes", Some(body), true)
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
            answer.to_string()
        }
    };
    let clash = refused(json!({ "name": "db", "kind": "tcp", "target": "127.0.0.1:1" })).await;
    assert!(
        clash.contains("name:") && clash.contains("db.yaml"),
        "{clash}"
    );
    let condition = refused(json!({
        "name": "web", "kind": "http", "target": "http://127.0.0.1:9/",
        "conditions": ["[STATUS] ~~ 200"]
    }))
    .await;
    assert!(condition.contains("conditions:"), "{condition}");
    let kind = refused(json!({ "name": "web", "kind": "gopher", "target": "x" })).await;
    assert!(kind.contains("kind:"), "{kind}");
    let target =
        refused(json!({ "name": "web", "kind": "tcp", "target": "http://127.0.0.1/" })).await;
    assert!(target.contains("target:"), "{target}");

    // Without the token nothing changes.
    let (status, _) = app
        .request(
            Method::POST,
            "/api/v1/sites/home/probes",
            Some(json!({ "name": "web", "kind": "tcp", "target": "127.0.0.1:1" })),
            false,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A repo probe cannot be edited or deleted from here.
    let (status, _) = app
        .request(Method::DELETE, "/api/v1/sites/home/probes/db", None, true)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_probes_page_adds_pauses_and_deletes_with_its_forms() {
    let app = TestApp::start().await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    assert!(next_set(&mut worker).await.is_empty());
    let (cookie, csrf) = app.login();
    let path = "/sites/home/probes";

    // A refused form comes back with what was typed and the field's problem.
    let (status, page) = app
        .page(
            Method::POST,
            path,
            &cookie,
            &[
                ("csrf", &csrf),
                ("name", "web"),
                ("kind", "http"),
                ("target", "http://127.0.0.1:9/typed"),
                ("interval", "often"),
                ("conditions", "[STATUS] == 200"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains(r#"id="err-interval""#), "{page}");
    assert!(
        page.contains("http:&#x2f;&#x2f;127.0.0.1:9&#x2f;typed")
            || page.contains("http://127.0.0.1:9/typed"),
        "{page}"
    );
    assert!(page.contains("[STATUS] == 200"), "{page}");

    // A forged token changes nothing.
    let (status, _) = app
        .page(
            Method::POST,
            path,
            &cookie,
            &[
                ("csrf", "forged"),
                ("name", "web"),
                ("kind", "tcp"),
                ("target", "127.0.0.1:9"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let (status, _) = app
        .page(
            Method::POST,
            path,
            &cookie,
            &[
                ("csrf", &csrf),
                ("name", "web"),
                ("kind", "tcp"),
                ("target", "127.0.0.1:9"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        next_set(&mut worker).await,
        [pair("web", "tcp://127.0.0.1:9")]
    );
    let (status, page) = app.page(Method::GET, path, &cookie, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(r#"data-probe="web""#) && page.contains(">Pause<"),
        "{page}"
    );

    let (status, _) = app
        .page(
            Method::POST,
            "/sites/home/probes/web/paused",
            &cookie,
            &[("csrf", &csrf), ("paused", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(next_set(&mut worker).await.is_empty());
    let (_, page) = app.page(Method::GET, path, &cookie, &[]).await;
    assert!(page.contains(">Resume<"), "{page}");

    let (status, _) = app
        .page(
            Method::POST,
            "/sites/home/probes/web/delete",
            &cookie,
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(next_set(&mut worker).await.is_empty());
    let (_, page) = app.page(Method::GET, path, &cookie, &[]).await;
    assert!(!page.contains(r#"data-probe="web""#), "{page}");
}
