//! A maintenance window silencing a fault, in a real browser (Debian's
//! chromium through Playwright): started from the maintenance page, shown on
//! every page; the probe's target fails and nothing opens; ended from the page,
//! the failure opens its incident, whose page has its timeline and an
//! Acknowledge button that records who. The Python side is
//! `tests/python/maintenance_browser.py`.

use claudeops_tests::model::{Script, ScriptedModel, Turn};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_maintenance_window_silences_a_fault_until_it_ends() {
    let port = failable_service().await;
    let model = ScriptedModel::start(vec![Script::new(vec![Turn::structured(json!({
        "summary": "web answers 500; nothing safe to do from here",
        "escalation": {"needed": false}
    }))])])
    .await;
    let (cp, worker) = site_watching_web(&model, &[], port).await;
    let http = cp.http();
    let fault_url = format!("http://127.0.0.1:{port}/fail");
    let got = browser_script(
        "maintenance_browser.py",
        &[http.base.as_str(), cp.token.as_str(), fault_url.as_str()],
        &worker,
    )
    .await;
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
