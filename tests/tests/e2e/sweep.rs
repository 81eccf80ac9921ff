//! `CLAUDEOPS_SWEEP`: under `auto` (the default) a healthy, unchanged site has
//! its first scheduled sweep and then none until something changes; a probe
//! going down brings the next sweep back. Under `always` every sweep runs, as
//! the original's did.

use std::time::Duration;

use claudeops_tests::model::{Script, ScriptedModel, Turn};
use claudeops_tests::system::Http;
use serde_json::json;

use crate::support::*;

fn all_fine() -> Script {
    Script::new(vec![Turn::structured(json!({
        "summary": "all services healthy",
        "escalation": {"needed": false}
    }))])
}

async fn scheduled(http: &Http) -> usize {
    let (status, sessions) = http.get("/api/v1/sessions?site=home").await;
    assert_eq!(status, 200, "{sessions}");
    sessions["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["trigger_detail"] == "scheduled")
        .count()
}

#[tokio::test]
async fn a_healthy_site_is_swept_once_and_again_when_a_probe_fails() {
    let port = failable_service().await;
    let model = ScriptedModel::start(vec![all_fine()]).await;
    let (cp, _worker) = site_watching_web(&model, &[("CLAUDEOPS_INTERVAL", "2")], port).await;
    let http = cp.http();
    poll("the first sweep", WAIT, async || {
        (scheduled(&http).await >= 1).then_some(())
    })
    .await;
    // Every session starts with the site's evidence, a sweep too.
    poll("the sweep's request to the model", WAIT, async || {
        (!model
            .requests_matching("Probes of site home: 1 up, 0 not up.")
            .is_empty())
        .then_some(())
    })
    .await;
    // Several intervals pass with every probe up and nothing changing.
    cp.proc
        .wait_for("scheduled sweep skipped: all 1 probes up", WAIT)
        .await;
    let mark = cp.proc.mark();
    cp.proc
        .wait_for_after(mark, "scheduled sweep skipped", WAIT)
        .await;
    assert_eq!(scheduled(&http).await, 1, "{}", cp.proc.log());

    // The fault: the next sweep runs and says why.
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/fail"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    poll("a sweep after the fault", WAIT, async || {
        (scheduled(&http).await >= 2).then_some(())
    })
    .await;
    assert!(
        cp.proc
            .has_logged("scheduled sweep: probe web/web-http is not up")
            || cp.proc.has_logged("incident(s) open or changed"),
        "{}",
        cp.proc.log()
    );
}

#[tokio::test]
async fn always_runs_every_sweep() {
    let port = failable_service().await;
    let model = ScriptedModel::start(vec![all_fine()]).await;
    let (cp, _worker) = site_watching_web(
        &model,
        &[("CLAUDEOPS_INTERVAL", "2"), ("CLAUDEOPS_SWEEP", "always")],
        port,
    )
    .await;
    let http = cp.http();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while scheduled(&http).await < 3 {
        if tokio::time::Instant::now() > deadline {
            let (_, sessions) = http.get("/api/v1/sessions?site=home").await;
            panic!("three sweeps: {sessions:#}\n{}", cp.proc.log());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !cp.proc.has_logged("scheduled sweep skipped"),
        "{}",
        cp.proc.log()
    );
}
