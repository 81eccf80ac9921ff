//! The size of the first Messages API request of a Tier 1 session, next to the
//! CLI's default. Every byte of it is paid on every turn of every session.
//!
//! `cargo bench -p claudeops-tests --bench request_size`

use std::time::Duration;

use claudeops_tests::cli::ClaudeRun;
use claudeops_tests::model::{Script, ScriptedModel, Turn};
use claudeops_tests::system::with_worker;
use serde_json::{Value, json};

fn parts(body: &Value) -> (usize, usize) {
    let system = body.get("system").map_or(0, |s| s.to_string().len());
    let tools = body.get("tools").map_or(0, |t| t.to_string().len());
    (system, tools)
}

#[tokio::main]
async fn main() {
    claudeops_pki::tls::install_crypto_provider();
    let done = Turn::structured(json!({"summary": "ok", "escalation": {"needed": false}}));
    let model = ScriptedModel::start(vec![Script::new(vec![done])]).await;

    // The CLI's defaults, as measured in the reference notes.
    let default = ClaudeRun::new(&model, "x")
        .args(["--allowedTools", "Bash"])
        .timeout(Duration::from_secs(120))
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(default.status.success(), "{}", default.stderr);
    let default_request = model
        .message_requests()
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no request"));
    model.clear_requests();

    let (cp, _worker) = with_worker("bench", &model.base_url()).await;
    let http = cp.http();
    let (status, session) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "bench", "start_tier": 1}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{session}");
    http.wait_session_end(
        session["id"].as_i64().unwrap_or_default(),
        Duration::from_secs(120),
    )
    .await;
    let ours = model
        .message_requests()
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no request"));

    for (name, request) in [
        ("CLI default (-p x --allowedTools Bash)", &default_request),
        ("Claude Ops tier 1 session", &ours),
    ] {
        let (system, tools) = parts(&request.body);
        let names = request.tool_names().join(",");
        println!(
            "{name}: {} bytes (system {system}, tools {tools}: {names})",
            request.body_bytes
        );
    }
}
