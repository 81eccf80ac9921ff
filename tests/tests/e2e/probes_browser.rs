//! A probe added from the dashboard, in a real browser (Debian's chromium,
//! driven by Playwright from PyPI, with axe-core), against the control plane and
//! a real worker: the add form refuses a bad interval beside its field, then
//! adds an HTTP probe on a loopback target this test controls; the health page
//! shows it up, and down without a reload once the target is stopped; it is
//! paused and deleted from its site's probes page. The pages touched are checked
//! for accessibility in light and dark mode on a desktop and a phone. The Python
//! side is `tests/python/probes_browser.py`.

use std::sync::{Arc, Mutex};

use claudeops_tests::model::ScriptedModel;
use claudeops_tests::system::{ControlPlane, Worker};

use crate::support::*;

/// A loopback web service answering 200, and a control port whose `POST /stop`
/// stops it (its port then refuses connections). Returns both ports.
async fn stoppable_target() -> (u16, u16) {
    let bind = || async {
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let target = bind().await;
    let target_port = target.local_addr().map(|a| a.port()).unwrap_or_default();
    let app = axum::Router::new().fallback(|| async { "web" });
    let serving = tokio::spawn(async move { axum::serve(target, app).await });
    let handle = Arc::new(Mutex::new(Some(serving)));
    let control = bind().await;
    let control_port = control.local_addr().map(|a| a.port()).unwrap_or_default();
    let stop = axum::Router::new().route(
        "/stop",
        axum::routing::post(move || {
            if let Some(task) = handle.lock().ok().and_then(|mut h| h.take()) {
                task.abort();
            }
            async { "stopped" }
        }),
    );
    tokio::spawn(async move { axum::serve(control, stop).await });
    (target_port, control_port)
}

#[tokio::test]
async fn a_probe_added_in_the_browser_reaches_the_worker_and_turns_red() {
    let (target, control) = stoppable_target().await;
    let model = ScriptedModel::start(Vec::new()).await;
    let cp = ControlPlane::start(&[]).await;
    let http = cp.http();
    let env = model_env(&model);
    let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(state.path().join("repos")).unwrap_or_else(|e| panic!("{e}"));
    let token = cp.enroll_token("home").await;
    let worker = Worker::start_in(&cp, "home", Some(&token), &as_refs(&env), state);
    worker.wait_connected().await;

    let target_url = format!("http://127.0.0.1:{target}/health");
    let stop_url = format!("http://127.0.0.1:{control}/stop");
    let got = browser_script(
        "probes_browser.py",
        &[
            http.base.as_str(),
            cp.token.as_str(),
            "home",
            target_url.as_str(),
            stop_url.as_str(),
        ],
        &worker,
    )
    .await;
    assert_eq!(got["refused"]["kept_target"], target_url, "{got}");
    assert!(
        got["refused"]["interval_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{got}"
    );
    assert_eq!(got["health"]["up"], true, "{got}");
    assert_eq!(got["health"]["down_without_reload"], true, "{got}");
    assert_eq!(got["paused"], true, "{got}");
    assert_eq!(got["deleted"], true, "{got}");
    // The worker ran it: the control plane holds its attempts.
    let (_, probes) = http.get("/api/v1/sites/home/probes").await;
    assert_eq!(probes["probes"], serde_json::json!([]), "deleted: {probes}");
    let axe = got["axe"].as_object().cloned().unwrap_or_default();
    assert_eq!(axe.len(), 3 * 4, "{got}");
    for (page, result) in &axe {
        assert_eq!(result["serious"], 0, "{page}: {result}");
    }
    assert_eq!(got["page_errors"], serde_json::json!([]), "{got}");
}
