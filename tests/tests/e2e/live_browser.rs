//! The dashboard live, in a real browser (Debian's chromium, driven by
//! Playwright from PyPI, with axe-core), against the control plane and a real
//! worker running the real CLI on the scripted model: Run Now to completed
//! with the card filling in by itself, a reload mid-stream, Stop, five pages
//! updating when a probe's target fails, and every page checked for
//! accessibility in light and dark mode on a desktop and a phone. The Python
//! side is `tests/python/live_browser.py`.

use claudeops_tests::model::{Block, Script, ScriptedModel, Turn};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn the_dashboard_is_live_and_accessible_in_a_real_browser() {
    let port = failable_service().await;
    let model = ScriptedModel::start(vec![
        Script::new(vec![
            Turn::text("Checking the host.").and(Block::bash("sleep 2; echo quick-$((6*7))")),
            Turn::structured(
                json!({"summary": "The host is fine.", "escalation": {"needed": false}}),
            ),
        ])
        .containing("quick-check of the host"),
        Script::new(vec![
            Turn::text("This takes a while.").and(Block::bash("sleep 1; echo started; sleep 120")),
            Turn::structured(json!({"summary": "never reached", "escalation": {"needed": false}})),
        ])
        .containing("long-check of the host"),
        Script::new(vec![Turn::structured(json!({
            "summary": "web answers 500; nothing safe to do from here",
            "escalation": {"needed": false}
        }))]),
    ])
    .await;
    let (cp, worker) =
        site_watching_web(&model, &[("CLAUDEOPS_STATUS_PAGES", "home=home")], port).await;
    let http = cp.http();

    // Path parameters for the pages the OpenAPI document lists.
    let params =
        json!({"id": 1, "site": "home", "name": "web-http", "service": "web", "slug": "home"});
    let fault_url = format!("http://127.0.0.1:{port}/fail");
    let got = browser_script(
        "live_browser.py",
        &[
            http.base.as_str(),
            cp.token.as_str(),
            "home",
            fault_url.as_str(),
            params.to_string().as_str(),
        ],
        &worker,
    )
    .await;

    // While running, the card says so rather than "$0.0000 / 0 turns".
    let running = &got["while_running"];
    assert_ne!(running["cost"], "$0.0000", "{got}");
    assert_ne!(running["turns"], "0", "{got}");
    assert_ne!(running["exit_code"], "—", "{got}");
    // At the end, filled in without a reload, as the API has it.
    let done = &got["completed"];
    let id = done["session"].as_i64().unwrap_or_default();
    let (_, session) = http.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(session["status"], "completed", "{session}");
    assert_eq!(done["exit_code"], "0", "{got}");
    assert_eq!(done["summary"], "The host is fine.", "{got}");
    assert_eq!(
        done["turns"],
        session["num_turns"].to_string(),
        "{got}\n{session}"
    );
    assert!(
        done["log_heading"]
            .as_str()
            .is_some_and(|h| h.contains("UTC")),
        "{got}"
    );
    assert!(
        done["first_ts_title"]
            .as_str()
            .is_some_and(|t| t.starts_with("local time")),
        "{got}"
    );
    // Reload mid-stream: each line once; Stop answers at once, then stops.
    assert_eq!(got["reload"]["rows"], got["reload"]["unique"], "{got}");
    assert_eq!(got["stop_feedback"], "Stopping…", "{got}");
    let stopped = got["stopped"].as_i64().unwrap_or_default();
    let (_, session) = http.get(&format!("/api/v1/sessions/{stopped}")).await;
    assert_eq!(session["status_detail"], "stopped", "{session}");
    // Live: every page changed by itself.
    for path in ["/", "/sites", "/events", "/health", "/incidents"] {
        assert_eq!(got["live"][path], "changed", "{path}: {got}");
    }
    // Accessibility: every page in four settings, none serious or critical.
    let pages = got["pages"].as_array().cloned().unwrap_or_default();
    assert!(pages.len() >= 10, "{got}");
    let axe = got["axe"].as_object().cloned().unwrap_or_default();
    assert_eq!(axe.len(), pages.len() * 4, "{got}");
    for (page, result) in &axe {
        assert_eq!(result["serious"], 0, "{page}: {result}");
    }
    // Private: logged out, every page but the login form (and the offline
    // shell) sends the visitor to log in, and logging in returns there.
    let refused = got["refused_logged_out"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(refused.len(), pages.len() - 3, "{got}");
    // The public status page and a badge, without a login.
    assert_eq!(got["public"]["status"], 200, "{got}");
    assert_eq!(got["public"]["badge"][0], 200, "{got}");
    assert_eq!(
        got["public"]["badge"][1], "image/svg+xml; charset=utf-8",
        "{got}"
    );
    assert_eq!(got["returned_to"], "/events?level=critical", "{got}");
    // No script error, and nothing refused by the content security policy.
    assert_eq!(got["page_errors"], json!([]), "{got}");
}
