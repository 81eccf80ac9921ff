//! Native probes end to end: a worker watching a real container sees it die, the
//! control plane opens an incident and starts a tier-2 session at once with the
//! evidence, the scripted model restarts the container through the typed action,
//! and only the worker's re-run of the probe closes the incident as verified fixed.
//! The control plane tells a human through the real `apprise` (to a receiver in
//! the test), and the notification URL reaches no prompt and no page.

use std::time::Duration;

use claudeops_tests::docker::{self, Container};
use claudeops_tests::model::{Script, ScriptedModel, Turn};
use claudeops_tests::system::Http;
use serde_json::{Value, json};

use crate::support::*;

/// The default thresholds (3 failures) at the default interval must see a failure
/// and start a session within a minute.
const FAULT_TO_SESSION: Duration = Duration::from_secs(60);

async fn probes(http: &Http) -> Vec<Value> {
    let (status, checks) = http.get("/api/v1/checks?site=home").await;
    assert_eq!(status, 200, "{checks}");
    checks.as_array().cloned().unwrap_or_default()
}

async fn incidents(http: &Http) -> Vec<Value> {
    let (status, list) = http.get("/api/v1/incidents?site=home").await;
    assert_eq!(status, 200, "{list}");
    list.as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_killed_container_opens_an_incident_and_a_verified_fix_closes_it() {
    let (port, notifications) = receiver().await;
    let secret = "hook-secret-7f3a9c";
    let apprise_url = format!("json://127.0.0.1:{port}/{secret}");
    let label = docker::unique("incident");
    let container = Container::run(
        "web",
        &[
            "--label",
            &format!("claudeops.test={label}"),
            "--label",
            "claudeops.service=web",
        ],
        &["sleep", "infinity"],
    );
    let model = ScriptedModel::start(vec![Script::new(vec![
        Turn::tool(
            "mcp__claudeops__restart_container",
            json!({"container": container.name, "service": "web", "reason": "web exited"}),
        ),
        Turn::structured(json!({
            "summary": "web had exited; restarted it",
            "escalation": {"needed": false}
        })),
    ])])
    .await;
    // Traced: the incident links to its chain's trace, and the chain to it.
    let otlp = claudeops_tests::otlp::OtlpReceiver::start().await;
    let mut cp_env = otlp.grpc_env();
    cp_env.extend([
        ("CLAUDEOPS_APPRISE_URLS".to_owned(), apprise_url.clone()),
        ("CLAUDEOPS_APPRISE_BIN".to_owned(), "apprise".to_owned()),
        ("CLAUDEOPS_NOTIFY_GROUP_WINDOW".to_owned(), "3s".to_owned()),
    ]);
    let cp = claudeops_tests::system::ControlPlane::start(&as_refs(&cp_env)).await;
    let mut env = model_env(&model);
    env.extend(otlp.grpc_env());
    env.push(("CLAUDEOPS_DISCOVER_CONTAINERS".into(), "true".into()));
    env.push((
        "CLAUDEOPS_CONTAINER_LABEL".into(),
        format!("claudeops.test={label}"),
    ));
    let _worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let http = cp.http();

    // The container's probe is found and passes before the fault.
    let probe = poll("the container's probe to be up", WAIT, async || {
        probes(&http)
            .await
            .into_iter()
            .find(|p| p["kind"] == "docker" && p["state"] == "up")
    })
    .await;
    assert_eq!(probe["service"], "web", "{probe}");
    let probe_name = probe["name"].as_str().unwrap_or_default().to_owned();
    let (_, inventory) = http.get("/api/v1/sites/home/inventory").await;
    assert!(
        inventory.to_string().contains(&container.name),
        "the inventory names the container: {inventory}"
    );

    // The fault: the container's process is killed.
    let fault = std::time::SystemTime::now();
    docker::must(&["kill", &container.name]);
    let incident = poll(
        "an incident with a session",
        FAULT_TO_SESSION + WAIT,
        async || {
            incidents(&http)
                .await
                .into_iter()
                .find(|i| i["service"] == "web" && !i["session_id"].is_null())
        },
    )
    .await;
    let session_id = incident["session_id"].as_i64().unwrap_or_default();
    let (_, session) = http.get(&format!("/api/v1/sessions/{session_id}")).await;
    assert_eq!(session["tier"], 2, "{session}");
    assert_eq!(session["trigger_detail"], "incident", "{session}");
    let started = humantime::parse_rfc3339_weak(
        session["started_at"]
            .as_str()
            .unwrap_or_default()
            .trim_end_matches('Z'),
    )
    .unwrap_or_else(|e| panic!("started_at of {session}: {e}"));
    let delay = started
        .duration_since(fault)
        .unwrap_or_else(|e| panic!("session started before the fault: {e}"));
    println!("fault to session start: {} ms", delay.as_millis());
    assert!(
        delay < FAULT_TO_SESSION,
        "took {delay:?} from fault to session start"
    );
    assert_eq!(incident["probes"], json!([probe_name]), "{incident}");

    // What the model received: the incident and its evidence.
    let needle = format!("Incident #{}", incident["id"]);
    let request = poll("a model request carrying the incident", WAIT, async || {
        model.requests_matching(&needle).into_iter().next()
    })
    .await;
    let prompt = request.body.to_string();
    assert!(
        prompt.contains(&container.name),
        "evidence names the container: {prompt}"
    );

    // The session restarts the container; the re-run probe verifies the fix.
    let done = http
        .wait_session_end(session_id, Duration::from_secs(240))
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(container.inspect("{{.State.Running}}"), "true");
    let closed = poll("the incident to be verified fixed", WAIT, async || {
        incidents(&http)
            .await
            .into_iter()
            .find(|i| i["id"] == incident["id"] && i["status"] == "resolved")
    })
    .await;
    assert_eq!(closed["resolution"], "verified_fixed", "{closed}");
    let trace_id = closed["trace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("the incident names no trace: {closed}"))
        .to_owned();
    assert_eq!(session["trace_id"], trace_id.as_str(), "{session}");
    let id = incident["id"].as_i64().unwrap_or_default().to_string();
    let spans = otlp
        .wait_for("the chain's root span", WAIT, |spans| {
            spans
                .iter()
                .any(|s| s.trace_id == trace_id && s.name == "chain incident")
        })
        .await;
    let chain = spans
        .iter()
        .find(|s| s.trace_id == trace_id && s.name == "chain incident")
        .unwrap_or_else(|| panic!("no chain span"));
    assert_eq!(
        chain.attr("claudeops.outcome"),
        Some("verified"),
        "{chain:?}"
    );
    assert!(
        chain
            .attr("claudeops.incidents")
            .is_some_and(|ids| ids.contains(&id)),
        "{chain:?}"
    );
    assert!(
        spans
            .iter()
            .any(|s| s.trace_id == trace_id && s.name == "verify"),
        "the re-probe that verified the fix is in the trace"
    );
    let (_, events) = http.get("/api/v1/events?site=home").await;
    assert!(
        events.to_string().contains("verified fixed"),
        "an event says so: {events}"
    );

    // A human heard of it through the real apprise: opened, then auto-remediated.
    let titles = poll("the notifications", WAIT, async || {
        let titles: Vec<String> = received(&notifications)
            .iter()
            .map(|n| n["title"].as_str().unwrap_or_default().to_owned())
            .collect();
        let fixed = titles.iter().any(|t| t.contains("Auto-remediated web"));
        fixed.then_some(titles)
    })
    .await;
    assert!(
        titles
            .iter()
            .any(|t| t.contains("web") && !t.contains("Auto-remediated")),
        "the incident was announced: {titles:?}"
    );
    for n in received(&notifications) {
        assert!(n.to_string().contains("home"), "the site is named: {n}");
    }
    let (_, deliveries) = http.get("/api/v1/notifications").await;
    let list = deliveries.as_array().cloned().unwrap_or_default();
    assert!(
        list.iter().any(|d| d["ok"] == true && d["url"] == "#1"),
        "deliveries are recorded by URL index: {deliveries}"
    );

    // The URL's secret reached no prompt, no page and no API answer.
    for request in model.requests() {
        assert!(
            !request.body.to_string().contains(secret),
            "a prompt carried the notification URL"
        );
    }
    for path in [
        "/api/v1/config",
        "/api/v1/notifications",
        "/api/v1/events",
        "/api/v1/incidents",
        "/config",
        "/",
        "/events",
    ] {
        let text = http.text(path).await;
        assert!(
            !text.is_empty() && !text.contains("Log in to see"),
            "{path} was read as a logged-in viewer"
        );
        assert!(!text.contains(secret), "{path} shows the notification URL");
    }
    assert!(
        !cp.proc.log().contains(secret),
        "the control plane's log shows the notification URL"
    );
}
