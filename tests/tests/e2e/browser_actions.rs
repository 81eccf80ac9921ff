//! The rotate-api-key playbook end to end: a scripted tier-2 model, through
//! the real `claude` CLI and the worker's MCP server, logs in to a web app by
//! reference, regenerates its API key, captures it by reference, and types it
//! into the dependent service, in a real Chromium the worker runs in the
//! session sandbox. Then the password and both keys are looked for everywhere
//! they must not be: every model request, every output line, the control
//! plane's database and both processes' logs.

use std::time::Duration;

use claudeops_tests::model::{Script, ScriptedModel, Turn};
use claudeops_tests::system::ControlPlane;
use claudeops_tests::webapp::WebApp;
use serde_json::{Value, json};

use crate::support::*;

const USER: &str = "admin-user";
const PASSWORD: &str = "correct-horse-battery";
const OLD_KEY: &str = "0ld5ecretkey0000aaaa1111bbbb2222";
const CONSUMER_PASSWORD: &str = "consumer-pass-phrase";

fn browser(tool: &str, input: Value) -> Turn {
    Turn::tool(&format!("mcp__claudeops__{tool}"), input)
}

fn snapshot() -> Turn {
    browser("browser_snapshot", json!({}))
}

/// Every file under `dir`, read whole.
fn files_under(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
    out
}

#[tokio::test]
async fn a_tier_two_model_rotates_an_api_key_without_seeing_it() {
    let app = WebApp::start(USER, PASSWORD, OLD_KEY).await;
    let consumer = WebApp::start(USER, CONSUMER_PASSWORD, "c0nsumerkey1111222233334444abcd").await;
    let model = ScriptedModel::start(vec![Script::new(vec![
        browser("browser_open", json!({"url": app.url("/login"), "reason": "the indexer's key is rejected"})),
        snapshot(),
        browser("browser_fill_credential", json!({"ref": "e1", "name": "APP_USER"})),
        browser("browser_fill_credential", json!({"ref": "e2", "name": "APP_PASS"})),
        browser("browser_click", json!({"ref": "e3"})),
        snapshot(),
        browser("browser_click", json!({"ref": "e1"})),
        snapshot(),
        browser("browser_read_secret", json!({"ref": "e1", "name": "CONSUMER_INDEXER_KEY"})),
        browser("browser_screenshot", json!({})),
        browser("browser_open", json!({"url": consumer.url("/login")})),
        snapshot(),
        browser("browser_fill_credential", json!({"ref": "e1", "name": "CONSUMER_USER"})),
        browser("browser_fill_credential", json!({"ref": "e2", "name": "CONSUMER_PASS"})),
        browser("browser_click", json!({"ref": "e3"})),
        snapshot(),
        browser("browser_fill_credential", json!({"ref": "e2", "name": "CONSUMER_INDEXER_KEY"})),
        browser("browser_click", json!({"ref": "e3"})),
        browser("browser_wait", json!({"text": "The indexer is saved"})),
        browser("browser_close", json!({})),
        Turn::structured(json!({
            "summary": "rotated the app's API key and updated the consumer",
            "actions_taken": [{"action": "rotate_api_key", "target": "app for consumer", "result": "ok"}],
            "escalation": {"needed": false}
        })),
    ])])
    .await;
    let cp = ControlPlane::start(&[]).await;
    let mut env = model_env(&model);
    for (k, v) in [
        (
            "CLAUDEOPS_BROWSER_ALLOWED_ORIGINS",
            format!("{},{}", app.origin(), consumer.origin()),
        ),
        (
            "CLAUDEOPS_BROWSER_CRED_ORIGINS",
            format!("APP={},CONSUMER={}", app.origin(), consumer.origin()),
        ),
        ("BROWSER_CRED_APP_USER", USER.to_owned()),
        ("BROWSER_CRED_APP_PASS", PASSWORD.to_owned()),
        ("BROWSER_CRED_APP_API_KEY", OLD_KEY.to_owned()),
        ("BROWSER_CRED_CONSUMER_USER", USER.to_owned()),
        ("BROWSER_CRED_CONSUMER_PASS", CONSUMER_PASSWORD.to_owned()),
    ] {
        env.push((k.to_owned(), v));
    }
    let worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let http = cp.http();
    let (status, session) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "home", "start_tier": 2, "prompt": "the indexer's API key is rejected: rotate it"}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let id = session["id"].as_i64().unwrap_or_default();
    let done = http.wait_session_end(id, Duration::from_secs(240)).await;
    assert_eq!(done["status"], "completed", "{done}");

    let results = tool_results(&http, id).await;
    assert_eq!(results.len(), 20, "{results:#?}");
    for (failed, text) in &results {
        assert!(!failed, "a browser action failed: {text}\n{results:#?}");
    }
    let new_key = app.api_key();
    assert_ne!(new_key, OLD_KEY);
    assert_eq!(consumer.indexer_key().as_deref(), Some(new_key.as_str()));
    assert!(
        results[8].1.contains("captured CONSUMER_INDEXER_KEY"),
        "{:?}",
        results[8]
    );

    // The screenshot is kept in the session's output, the key masked at capture.
    let report = app.masked_reports().last().cloned().unwrap_or_default();
    assert!(report.contains("new-key=masked"), "{report}");

    // The secrets appear nowhere they must not.
    let secrets = [USER, PASSWORD, CONSUMER_PASSWORD, OLD_KEY, new_key.as_str()];
    let requests = serde_json::to_string(&model.requests()).unwrap_or_default();
    let mut stream = http.sse(&format!("/sessions/{id}/stream")).await;
    let mut lines = Vec::new();
    next_matching(&mut stream, &mut lines, |e| e.event == "status").await;
    let output: String = lines
        .iter()
        .map(|e| e.data.clone())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        output.contains("typed the credential APP_PASS"),
        "the output holds the session"
    );
    let shots = events_of_kind(&lines, "screenshot");
    assert_eq!(shots.len(), 1, "one screenshot in the session's output");
    assert_eq!(shots[0]["media_type"], "image/jpeg");
    assert!(
        shots[0]["data"]
            .as_str()
            .is_some_and(|d| d.starts_with("/9j/")),
        "a JPEG"
    );
    assert!(
        !requests.contains(shots[0]["data"].as_str().unwrap_or("-")),
        "the model is not shown the screenshot"
    );
    let stored = files_under(cp.state.path());
    for secret in secrets {
        assert!(!requests.contains(secret), "{secret:?} reached the model");
        assert!(
            !output.contains(secret),
            "{secret:?} is in the session output"
        );
        assert!(
            !cp.proc.log().contains(secret),
            "{secret:?} is in the control plane's log"
        );
        assert!(
            !worker.proc.log().contains(secret),
            "{secret:?} is in the worker's log"
        );
        for (path, bytes) in &stored {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret:?} is stored in {path}"
            );
        }
    }
    // The session page's audit card lists every browser action and its outcome.
    let page = http.text(&format!("/sessions/{id}")).await;
    assert!(page.contains("Browser actions"), "{page}");
    assert_eq!(
        page.matches("<td class=\"mono\">browser_").count(),
        20,
        "one row a call"
    );
    assert!(
        page.contains("<td class=\"mono svc-name\">APP_PASS</td>"),
        "{page}"
    );
    for secret in secrets {
        assert!(!page.contains(secret), "{secret:?} is on the session page");
    }

    // The session page shows the screenshot, in a real browser.
    let seen = browser_script(
        "screenshot_browser.py",
        &[&cp.url, &cp.token, &id.to_string()],
        &worker,
    )
    .await;
    assert_eq!(seen["natural_width"], 1280, "{seen}");
    assert_eq!(seen["page_errors"], json!([]), "{seen}");

    // The browser and its profile are gone with the session.
    let profiles = worker.state.path().join("browser");
    poll(
        "the browser profile deleted",
        Duration::from_secs(10),
        async || {
            std::fs::read_dir(&profiles)
                .map(|d| d.count() == 0)
                .unwrap_or(true)
                .then_some(())
        },
    )
    .await;
}
