//! The dashboard in a real browser (Debian's chromium, driven by Playwright from
//! PyPI, with axe-core): the memories page from login to delete, accessibility,
//! and the installable shell (service worker, offline page, icons). The Python
//! side is `tests/python/dashboard_browser.py`.

use claudeops_tests::system::ControlPlane;
use serde_json::Value;

use claudeops_tests::venv::python;

use crate::support::CHROMIUM;

#[tokio::test]
async fn memories_page_and_offline_shell_in_a_real_browser() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium (tests/setup.sh does)"
    );
    let cp = ControlPlane::start(&[]).await;
    let base = cp.http().base.clone();
    let script = format!("{}/python/dashboard_browser.py", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(python())
        .args([script.as_str(), base.as_str(), cp.token.as_str(), "home"])
        .env("CLAUDEOPS_CHROMIUM", CHROMIUM)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", python()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "dashboard_browser.py failed:\n{stderr}"
    );
    let got: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&output.stdout)));

    // Every page axe saw: no serious or critical violation.
    let axe = got["axe"].as_object().cloned().unwrap_or_default();
    assert_eq!(axe.len(), 4, "{got}");
    for (page, result) in &axe {
        assert_eq!(result["serious"], 0, "{page}: {result}");
    }
    assert!(got["added"].as_i64().is_some(), "{got}");
    assert_eq!(got["left_after_delete"], 0, "{got}");
    assert!(
        got["refused_by_the_browser"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{got}"
    );

    // The shell: registered at the root, cached by version, offline page styled
    // from the cache, and the API never answered from it.
    assert_eq!(got["service_worker"], format!("{base}/sw.js"), "{got}");
    assert!(
        got["cache"].to_string().contains("claudeops-shell-"),
        "{got}"
    );
    assert!(
        got["offline_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/memories")),
        "the page's own URL, the offline page's content: {got}"
    );
    assert_eq!(got["offline_styled"], "flex", "{got}");
    assert!(got["offline_nav"].to_string().contains("Memories"), "{got}");
    assert_eq!(got["offline_api"], "failed", "{got}");
    assert!(got["back_online"].is_string(), "{got}");
    for (path, content_type) in [
        ("/favicon.ico", "image/x-icon"),
        ("/favicon.svg", "image/svg+xml"),
        ("/apple-touch-icon.png", "image/png"),
        ("/static/manifest.json", "application/manifest+json"),
    ] {
        assert_eq!(got["icons"][path][0], 200, "{path}: {got}");
        assert_eq!(got["icons"][path][1], content_type, "{path}: {got}");
    }
    assert_eq!(got["manifest_name"], "Claude Ops");
    assert_eq!(got["page_errors"], serde_json::json!([]), "{got}");
}
