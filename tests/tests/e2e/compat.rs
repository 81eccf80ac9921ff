//! What a user of the original keeps, through the real CLI: an agent response
//! in the original's shape is accepted (and escalates as it asks), and a
//! session that ends without a structured response has its `[EVENT:...]`,
//! `[MEMORY:...]` and `[COOLDOWN:...]` markers recorded.

use claudeops_tests::model::{Script, ScriptedModel, Turn};
use claudeops_tests::system::ControlPlane;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn a_response_in_the_originals_shape_is_accepted_end_to_end() {
    // Valid under the original's schema, not under ours as it was: `name`
    // instead of `service`, `unreachable`, an escalation with no reason.
    let original = json!({
        "summary": "jellyfin is unreachable",
        "events": [{"level": "warning", "service": "jellyfin", "message": "no answer on 8096"}],
        "memories": [{"key": "jellyfin:timing", "value": "takes 60s to start"}],
        "escalation": {"needed": true},
        "services_checked": [
            {"name": "jellyfin", "status": "unreachable", "detail": "timeout after 5s"},
            {"name": "caddy", "status": "healthy"}
        ]
    });
    let model = ScriptedModel::start(vec![
        Script::new(vec![Turn::structured(original)]).for_model("haiku"),
        Script::new(vec![Turn::structured(json!({
            "summary": "jellyfin restarted",
            "escalation": {"needed": false},
            "services_checked": [{"name": "jellyfin", "status": "healthy"}]
        }))])
        .for_model("sonnet"),
    ])
    .await;
    let cp = ControlPlane::start(&[]).await;
    let env = model_env(&model);
    let _worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let http = cp.http();
    let (status, first) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "home", "start_tier": 1}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{first}");
    let first_id = first["id"].as_i64().unwrap_or_default();
    let done = http.wait_session_end(first_id, WAIT).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["structured"]["services_checked"][0]["name"],
        "jellyfin"
    );
    // It escalated to tier 2, as the response asked.
    let child = poll("the tier 2 session", WAIT, async || {
        let (_, detail) = http.get(&format!("/api/v1/sessions/{first_id}")).await;
        detail["child_sessions"].as_array()?.first().cloned()
    })
    .await;
    assert_eq!(child["tier"], 2, "{child}");
    assert_eq!(child["parent_session_id"], first_id, "{child}");
    let second = http
        .wait_session_end(child["id"].as_i64().unwrap_or_default(), WAIT)
        .await;
    assert_eq!(second["status"], "completed", "{second}");
    // Tier 2's handoff names the service by its original field.
    let tier2 = model.requests_for_model("sonnet");
    let text = tier2.first().map(|r| r.text()).unwrap_or_default();
    assert!(
        text.contains("jellyfin: unreachable (timeout after 5s)"),
        "handoff: {text}"
    );
    // Its events and memories were recorded; no "invalid response".
    let (_, events) = http.get("/api/v1/events?limit=200").await;
    let messages: Vec<&str> = events["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(messages.contains(&"no answer on 8096"), "{messages:?}");
    assert!(
        !messages.iter().any(|m| m.contains("invalid response")),
        "{messages:?}"
    );
    let (_, memories) = http.get("/api/v1/memories?service=jellyfin").await;
    assert!(
        memories.to_string().contains("takes 60s to start"),
        "{memories}"
    );
}

#[tokio::test]
async fn markers_are_read_from_a_session_without_a_structured_response() {
    let text = "Checked everything.\n\
        [EVENT:warning:web] web answers slowly (2.5s)\n\
        [EVENT:health-check-success] dns resolves\n\
        [MEMORY:timing:web] web takes 40s to start after a restart\n\
        [COOLDOWN:restart:web] success \u{2014} restarted once";
    let model = ScriptedModel::start(vec![Script::new(vec![
        // The CLI refuses an invalid structured answer; the model then ends in text.
        Turn::structured(json!({"summary": 1, "escalation": {"needed": "no"}})),
        Turn::text(text),
    ])])
    .await;
    let cp = ControlPlane::start(&[]).await;
    let env = model_env(&model);
    let _worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let http = cp.http();
    let (status, started) = http
        .post("/api/v1/sessions/trigger", &json!({"site": "home"}), true)
        .await;
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_i64().unwrap_or_default();
    let done = http.wait_session_end(id, WAIT).await;
    assert!(done["structured"].is_null(), "{done}");
    let of_session = |events: &Value| -> Vec<(String, String, String)> {
        events["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["session_id"] == id)
            .map(|e| {
                (
                    e["level"].as_str().unwrap_or_default().to_owned(),
                    e["service"].as_str().unwrap_or_default().to_owned(),
                    e["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let events = poll("the markers' events", WAIT, async || {
        let (_, events) = http.get("/api/v1/events?limit=200").await;
        let mine = of_session(&events);
        (mine.len() >= 4).then_some(mine)
    })
    .await;
    let has = |level: &str, service: &str, needle: &str| {
        events
            .iter()
            .any(|(l, s, m)| l == level && s == service && m.contains(needle))
    };
    assert!(
        has("warning", "web", "web answers slowly (2.5s)"),
        "{events:?}"
    );
    assert!(has("info", "", "dns resolves"), "{events:?}");
    assert!(
        has(
            "info",
            "web",
            "the agent reported that a restart of web succeeded: restarted once"
        ),
        "{events:?}"
    );
    // Still a response the chain cannot act on: a human hears of it.
    assert!(has("critical", "", "needs human attention"), "{events:?}");
    let (_, memories) = http.get("/api/v1/memories?service=web").await;
    assert!(
        memories
            .to_string()
            .contains("web takes 40s to start after a restart"),
        "{memories}"
    );
    // A cooldown marker is the model's word: the ledger counts only real actions.
    let (_, cooldowns) = http.get("/api/v1/cooldowns").await;
    assert_eq!(cooldowns["cooldowns"], json!([]), "{cooldowns}");
}
