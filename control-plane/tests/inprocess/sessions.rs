//! Starting sessions through the API: one running session per site, and what
//! dry run refuses.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use claudeops_proto::v1::control_message;

use crate::fake_worker::FakeWorker;
use crate::support::TestApp;

#[tokio::test]
async fn a_second_trigger_for_a_busy_site_answers_409() {
    let app = TestApp::start().await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;

    let (status, json) = app
        .request(
            Method::POST,
            "/api/v1/sessions/trigger",
            Some(serde_json::json!({ "site": "home" })),
            false,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token: {json}");

    let first = app.start_session("home", 1).await;
    let job = worker.run_job().await;
    assert_eq!((job.session_id, job.tier), (first, 1));
    assert_eq!(job.trigger, "api");

    let (status, json) = app.trigger("home", 1).await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert_eq!(json["running_session_id"], first, "{json}");
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("already has a running session")),
        "{json}"
    );
    worker
        .expect_none(
            "a second job",
            Duration::from_millis(200),
            |body| match body {
                control_message::Body::RunJob(job) => Some(job),
                _ => None,
            },
        )
        .await;
    assert_eq!(app.session_count().await, 1);
}

#[tokio::test]
async fn dry_run_refuses_tier_2_and_says_why() {
    let app = TestApp::with(|c| c.dry_run = true).await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;

    let (status, json) = app.trigger("home", 2).await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    let error = json["error"].as_str().unwrap_or_default();
    assert!(error.contains("dry run is on"), "{json}");
    assert!(error.contains("tier 2"), "{json}");
    assert_eq!(
        app.session_count().await,
        0,
        "a refused trigger stores no session"
    );
    let warnings = app.events("level=warning").await;
    assert!(
        warnings.iter().any(|e| e["message"].as_str().is_some_and(
            |m| m.starts_with("dry run: a tier 2 session (api trigger) would have run")
        )),
        "{warnings:?}"
    );

    // Tier 1 still runs in dry run, and the job says so.
    let id = app.start_session("home", 1).await;
    let job = worker.run_job().await;
    assert_eq!(job.session_id, id);
    assert!(job.dry_run);
}

#[tokio::test]
async fn revoking_a_worker_ends_its_running_session_at_once() {
    let app = TestApp::start().await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    let id = app.start_session("home", 1).await;
    assert_eq!(worker.run_job().await.session_id, id);

    let path = format!("/api/v1/workers/{}/revoke", worker.identity.worker_id);
    let (status, json) = app.request(Method::POST, &path, None, true).await;
    assert!(status.is_success(), "{status}: {json}");

    // Ended by the revocation itself: no reaper, no timeout.
    let session = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(session["status"], "failed", "{session}");
    assert!(
        session["error"]
            .as_str()
            .is_some_and(|e| e.contains("was revoked")),
        "{session}"
    );
    worker.closed_by_server().await;
    let (status, json) = app.trigger("home", 1).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
}
