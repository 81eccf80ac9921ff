//! Screenshots of the dashboard's main pages for `docs/dashboard.md`, taken in
//! a real browser (Debian's chromium through Playwright) against the real
//! control plane and worker, the real CLI and a scripted model:
//!
//! ```sh
//! source tests/setup.sh
//! cargo run -p claudeops-tests --example screenshots -- docs/screenshots
//! ```

use std::time::Duration;

use claudeops_tests::model::{Block, Script, ScriptedModel, Turn};
use claudeops_tests::system::{ControlPlane, Worker};
use claudeops_tests::venv::python;
use claudeops_tests::web::{failable_service, web_probe_repo};
use serde_json::json;

async fn wait(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if ready().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::main]
async fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/screenshots".to_owned());
    let port = failable_service().await;
    let model = ScriptedModel::start(vec![
        Script::new(vec![
            Turn::text("Checking the host.").and(Block::bash("docker ps --format '{{.Names}}' || true; echo disk ok")),
            Turn::structured(json!({
                "summary": "All 4 services answer; disk at 41%, no restarts in the last day.",
                "escalation": {"needed": false}
            })),
        ])
        .containing("quick-check of the host"),
        Script::new(vec![Turn::structured(json!({
            "summary": "web answers 500 since 10:02; its upstream is down. Nothing safe to do from tier 1.",
            "escalation": {"needed": false}
        }))]),
    ])
    .await;
    let cp = ControlPlane::start(&[("CLAUDEOPS_STATUS_PAGES", "home=home")]).await;
    let http = cp.http();
    let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    web_probe_repo(&state.path().join("repos"), port);
    let token = cp.enroll_token("home").await;
    let env = [
        ("ANTHROPIC_BASE_URL".to_owned(), model.base_url()),
        ("ANTHROPIC_API_KEY".to_owned(), "test-key".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let worker = Worker::start_in(&cp, "home", Some(&token), &env, state);
    worker.wait_connected().await;
    wait("the probe to be up", async || {
        http.get("/api/v1/checks?site=home")
            .await
            .1
            .to_string()
            .contains("\"state\":\"up\"")
    })
    .await;
    let (_, session) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "home", "prompt": "quick-check of the host"}),
            true,
        )
        .await;
    let id = session["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{session}"));
    http.wait_session_end(id, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_secs(20)).await; // some history
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/fail"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    wait("the incident's session to end", async || {
        let (_, incidents) = http.get("/api/v1/incidents").await;
        let Some(sid) = incidents[0]["session_id"].as_i64() else {
            return false;
        };
        http.get(&format!("/api/v1/sessions/{sid}")).await.1["status"] != "running"
    })
    .await;
    let in_an_hour = json!({"site": "home", "service": "nas", "starts_at": "2999-01-01T02:00:00Z",
        "duration": "2h", "reason": "disk replacement"});
    http.post("/api/v1/maintenance", &in_an_hour, true).await;

    let script = format!("{}/python/screenshots.py", env!("CARGO_MANIFEST_DIR"));
    let status = tokio::process::Command::new(python())
        .args([script.as_str(), http.base.as_str(), cp.token.as_str(), &out])
        .status()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "screenshots.py failed");
    println!("screenshots in {out}");
}
