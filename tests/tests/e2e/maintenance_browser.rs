//! A maintenance window silencing a fault, in a real browser (Debian's
//! chromium through Playwright): started from the maintenance page, shown on
//! every page; the probe's target fails and nothing opens; ended from the page,
//! the failure opens its incident, whose page has its timeline and an
//! Acknowledge button that records who. The Python side is
//! `tests/python/maintenance_browser.py`.

use claudeops_tests::model::{Script, ScriptedModel, Turn};
use claudeops_tests::system::{ControlPlane, Worker};
use claudeops_tests::venv::python;
use serde_json::{Value, json};

use crate::support::*;

const CHROMIUM: &str = "/usr/bin/chromium";

#[tokio::test]
async fn a_maintenance_window_silences_a_fault_until_it_ends() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium (tests/setup.sh does)"
    );
    let port = failable_service().await;
    let model = ScriptedModel::start(vec![Script::new(vec![Turn::structured(json!({
        "summary": "web answers 500; nothing safe to do from here",
        "escalation": {"needed": false}
    }))])])
    .await;
    let cp = ControlPlane::start(&[]).await;
    let http = cp.http();
    let env = model_env(&model);
    let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    web_probe_repo(&state.path().join("repos"), port);
    let token = cp.enroll_token("home").await;
    let worker = Worker::start_in(&cp, "home", Some(&token), &as_refs(&env), state);
    worker.wait_connected().await;
    poll("the probe to be up", WAIT, async || {
        let (_, checks) = http.get("/api/v1/checks?site=home").await;
        checks
            .to_string()
            .contains("\"state\":\"up\"")
            .then_some(())
    })
    .await;

    let script = format!(
        "{}/python/maintenance_browser.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let fault_url = format!("http://127.0.0.1:{port}/fail");
    let output = tokio::process::Command::new(python())
        .args([
            script.as_str(),
            http.base.as_str(),
            cp.token.as_str(),
            fault_url.as_str(),
        ])
        .env("CLAUDEOPS_CHROMIUM", CHROMIUM)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", python()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "maintenance_browser.py failed:\n{stderr}\n{}",
        worker.proc.log()
    );
    let got: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&output.stdout)));
    // During the window: attempts recorded as failing, no incident, no session.
    assert_eq!(got["during"]["probe_down"], true, "{got}");
    assert_eq!(got["during"]["incidents"], 0, "{got}");
    assert_eq!(got["during"]["sessions"], 0, "{got}");
    assert_eq!(got["banner_pages"], 3, "{got}");
    // After it: the incident, its timeline, acknowledged by the token's holder.
    assert!(got["incident"].as_i64().is_some(), "{got}");
    assert_eq!(got["acknowledged"], "by api token", "{got}");
    let id = got["incident"].as_i64().unwrap_or_default();
    let (_, detail) = http.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(detail["acknowledged_by"], "api token", "{detail}");
    let (_, events) = http.get("/api/v1/events?site=home&limit=200").await;
    let text = events.to_string();
    assert!(text.contains("maintenance #1 of home / web from"), "{text}");
    assert!(text.contains("ended early by api token"), "{text}");
    assert_eq!(got["page_errors"], json!([]), "{got}");
}
