//! Tiered escalation decided in code: a chain 1 -> 2 -> 3 with handoffs, dry run
//! holding tiers 2 and 3 back for every trigger, and an invalid response ending
//! in "needs human attention" instead of silence.

use std::time::Duration;

use claudeops_tests::model::{Script, ScriptedModel, Turn};
use claudeops_tests::system::{ControlPlane, Http};
use serde_json::{Value, json};

use crate::support::*;

fn escalate(reason: &str, context: &str, check: &str) -> Turn {
    Turn::structured(json!({
        "summary": format!("escalating: {reason}"),
        "services_checked": [{"service": "web", "status": "down", "detail": "502"}],
        "escalation": {"needed": true, "reason": reason, "context": context, "failed_checks": [check]},
        "events": [{"level": "warning", "service": "web", "message": format!("web is down ({reason})")}],
        "memories": [{"key": "web:port", "value": "web listens on 8080"}]
    }))
}

fn resolved(summary: &str) -> Turn {
    Turn::structured(json!({
        "summary": summary,
        "services_checked": [{"service": "web", "status": "healthy"}],
        "escalation": {"needed": false},
        "actions_taken": [{"action": "redeploy", "target": "web", "result": "healthy again"}]
    }))
}

async fn events(http: &Http, level: &str) -> Vec<Value> {
    let (_, events) = http.get(&format!("/api/v1/events?level={level}")).await;
    events["events"].as_array().cloned().unwrap_or_default()
}

/// Waits until `n` sessions exist and none is running.
async fn settled(http: &Http, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, sessions) = http.get("/api/v1/sessions").await;
        let sessions = sessions["sessions"].as_array().cloned().unwrap_or_default();
        if sessions.len() >= n && sessions.iter().all(|s| s["status"] != "running") {
            // Newest first from the API; oldest first here.
            return sessions.into_iter().rev().collect();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "sessions did not settle: {sessions:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_chain_escalates_one_tier_at_a_time_with_a_handoff() {
    let model = ScriptedModel::start(vec![
        Script::new(vec![escalate(
            "web answers 502",
            "curl -s -o /dev/null -w %{http_code} -> 502 three times",
            "http:web",
        )])
        .for_model("haiku"),
        Script::new(vec![escalate(
            "a restart did not help",
            "restarted once; still 502; image tag missing",
            "http:web",
        )])
        .for_model("sonnet"),
        Script::new(vec![resolved("redeployed web; healthy")]).for_model("opus"),
    ])
    .await;
    let cp = ControlPlane::start(&[]).await;
    let env = model_env(&model);
    let _worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let http = cp.http();
    let (status, first) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "home", "prompt": "web seems slow, please check", "start_tier": 1}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{first}");
    let chain = settled(&http, 3).await;
    assert_eq!(chain.len(), 3, "{chain:#?}");
    let tiers: Vec<i64> = chain.iter().filter_map(|s| s["tier"].as_i64()).collect();
    assert_eq!(tiers, [1, 2, 3]);
    let models: Vec<&str> = chain.iter().filter_map(|s| s["model"].as_str()).collect();
    assert_eq!(models, ["haiku", "sonnet", "opus"]);
    assert_eq!(chain[1]["parent_session_id"], chain[0]["id"]);
    assert_eq!(chain[2]["parent_session_id"], chain[1]["id"]);
    for s in &chain {
        assert_eq!(s["status"], "completed", "{s}");
    }
    assert_eq!(chain[1]["trigger"], "escalation");
    assert_eq!(
        chain[2]["prompt_text"], "web seems slow, please check",
        "the prompt travels up the chain"
    );

    // What tier 2 received: the handoff built from tier 1's findings, and the prompt.
    let tier2 = model.requests_for_model("sonnet");
    let first_request = tier2
        .first()
        .unwrap_or_else(|| panic!("tier 2 made no request"));
    let text = first_request.text();
    for part in [
        "web answers 502",
        "http:web",
        "-> 502 three times",
        "web: down (502)",
        "web seems slow, please check",
    ] {
        assert!(text.contains(part), "tier 2 did not get {part:?}");
    }
    let tier3 = model.requests_for_model("opus");
    let text3 = tier3.first().map(|r| r.text()).unwrap_or_default();
    assert!(text3.contains("a restart did not help") && text3.contains("image tag missing"));
    // Memories from tier 1 reach later sessions of the site.
    assert!(
        text3.contains("web listens on 8080"),
        "memories are injected"
    );

    // The chain's cost is summed, and events were recorded from the responses.
    let (_, last) = http
        .get(&format!("/api/v1/sessions/{}", chain[2]["id"]))
        .await;
    let sum: f64 = chain.iter().filter_map(|s| s["cost_usd"].as_f64()).sum();
    let chain_cost = last["chain_cost"].as_f64().unwrap_or_default();
    assert!(
        (chain_cost - sum).abs() < 1e-9 && sum > 0.0,
        "{chain_cost} vs {sum}"
    );
    let warnings = events(&http, "warning").await;
    assert!(warnings.iter().any(|e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("web is down"))
    }));
    assert!(warnings.iter().any(|e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("escalated to tier 2"))
    }));
    assert!(
        events(&http, "critical").await.is_empty(),
        "a resolved chain needs no human"
    );
}

#[tokio::test]
async fn a_chain_that_cannot_go_further_needs_a_human() {
    let model = ScriptedModel::start(vec![Script::new(vec![escalate(
        "disk full",
        "df: 100%",
        "disk:data",
    )])])
    .await;
    let cp = ControlPlane::start(&[("CLAUDEOPS_MAX_TIER", "2")]).await;
    let env = model_env(&model);
    let _worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let http = cp.http();
    let (status, _) = http
        .post("/api/v1/sessions/trigger", &json!({"site": "home"}), true)
        .await;
    assert_eq!(status, 201);
    let chain = settled(&http, 2).await;
    assert_eq!(
        chain.len(),
        2,
        "tier 3 must not run above CLAUDEOPS_MAX_TIER: {chain:#?}"
    );
    let critical = wait_critical(&http).await;
    assert!(
        critical.contains("needs human attention") && critical.contains("CLAUDEOPS_MAX_TIER"),
        "{critical}"
    );
}

async fn wait_critical(http: &Http) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(e) = events(http, "critical").await.first() {
            return e["message"].as_str().unwrap_or_default().to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "no critical event");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_invalid_response_stops_the_chain_with_a_critical_event() {
    // The model never gives a valid structured response: an invalid one (which
    // the CLI itself rejects), then plain text.
    let model = ScriptedModel::start(vec![Script::new(vec![
        Turn::structured(json!({"summary": 42, "escalation": {"needed": "yes"}})),
        Turn::text("I think everything is broken, escalate!"),
    ])])
    .await;
    let cp = ControlPlane::start(&[]).await;
    let env = model_env(&model);
    let _worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let http = cp.http();
    let (status, _) = http
        .post("/api/v1/sessions/trigger", &json!({"site": "home"}), true)
        .await;
    assert_eq!(status, 201);
    let critical = wait_critical(&http).await;
    assert!(
        critical.contains("needs human attention") && critical.contains("invalid response"),
        "{critical}"
    );
    let sessions = settled(&http, 1).await;
    assert_eq!(
        sessions.len(),
        1,
        "no escalation on an invalid response: {sessions:#?}"
    );
}

#[tokio::test]
async fn dry_run_holds_back_tiers_two_and_three_for_every_trigger() {
    let model = ScriptedModel::start(vec![Script::new(vec![escalate(
        "web answers 502",
        "curl -> 502",
        "http:web",
    )])])
    .await;
    let cp = ControlPlane::start(&[("CLAUDEOPS_DRY_RUN", "true")]).await;
    let env = model_env(&model);
    let _worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let http = cp.http();

    // The API at tier 2 and 3.
    for tier in [2, 3] {
        let (status, body) = http
            .post(
                "/api/v1/sessions/trigger",
                &json!({"site": "home", "start_tier": tier, "prompt": "redeploy web"}),
                true,
            )
            .await;
        assert_eq!(status, 409, "{body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap_or_default()
                .contains("dry run"),
            "{body}"
        );
    }
    // An escalation from tier 1.
    let (status, _) = http
        .post("/api/v1/sessions/trigger", &json!({"site": "home"}), true)
        .await;
    assert_eq!(status, 201);
    let sessions = settled(&http, 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, all) = http.get("/api/v1/sessions").await;
    assert_eq!(
        all["sessions"].as_array().map(Vec::len),
        Some(1),
        "only tier 1 ran: {all}"
    );
    assert_eq!(sessions[0]["tier"], 1);
    let warnings = events(&http, "warning").await;
    let would: Vec<&str> = warnings
        .iter()
        .filter_map(|e| e["message"].as_str())
        .filter(|m| m.contains("dry run") && m.contains("would have run"))
        .collect();
    assert_eq!(
        would.len(),
        3,
        "one event per held-back session: {warnings:#?}"
    );
    assert!(
        would.iter().any(|m| m.contains("escalation trigger")),
        "{would:?}"
    );
    assert!(
        would.iter().any(|m| m.contains("redeploy web")),
        "{would:?}"
    );
    assert!(
        model.requests_for_model("sonnet").is_empty()
            && model.requests_for_model("opus").is_empty()
    );
}
