//! Chat clients end to end: the real `openai` and `ollama` Python libraries
//! (from PyPI, in the venv `tests/setup.sh` makes) against a running control
//! plane, each answer coming from a real CLI session against the scripted model.

use claudeops_tests::model::{Block, Script, ScriptedModel, Turn};
use claudeops_tests::system::ControlPlane;
use serde_json::{Value, json};

use crate::support::*;

const KEY: &str = "chat-key-8d41f0a2b7";

use claudeops_tests::venv::python;

fn reply_turns(first: Block) -> Vec<Turn> {
    vec![
        Turn::new(vec![Block::Text("Checking the host.".into()), first]),
        Turn::new(vec![
            Block::Text("The host is up.".into()),
            Block::structured(json!({
                "summary": "The host answered.",
                "escalation": {"needed": false}
            })),
        ]),
    ]
}

#[tokio::test]
async fn openai_and_ollama_clients_get_the_agents_answer() {
    let model = ScriptedModel::start(vec![
        // The slow question keeps its site busy for a few seconds.
        Script::new(reply_turns(Block::bash("timeout 6 tail -f /etc/hostname")))
            .containing("BUSY-CHECK"),
        Script::new(reply_turns(Block::bash("uptime"))),
    ])
    .await;
    let cp = ControlPlane::start(&[("CLAUDEOPS_CHAT_API_KEY", KEY)]).await;
    let env = model_env(&model);
    let _worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let base = cp.http().base.clone();
    let script = format!("{}/python/chat_clients.py", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(python())
        .args([script.as_str(), base.as_str(), KEY, "home"])
        .output()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", python()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "chat_clients.py failed:\n{stderr}");
    let got: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&output.stdout)));

    let stream = &got["openai_stream"];
    let content = stream["content"].as_str().unwrap_or_default();
    assert!(content.contains("Checking the host."), "{stream}");
    assert!(content.contains("The host is up."), "{stream}");
    assert_eq!(stream["finish_reason"], "stop", "{stream}");
    let calls = stream["tool_calls"].as_array().cloned().unwrap_or_default();
    let bash = calls
        .iter()
        .find(|c| c["name"] == "Bash")
        .unwrap_or_else(|| panic!("no Bash tool call delta: {stream}"));
    let arguments: Value =
        serde_json::from_str(bash["arguments"].as_str().unwrap_or("")).unwrap_or_default();
    assert_eq!(arguments["command"], "uptime", "{bash}");
    assert!(
        stream["usage"]["completion_tokens"].as_u64().unwrap_or(0) > 0,
        "real tokens: {stream}"
    );
    assert!(
        stream["usage"]["prompt_tokens"].as_u64().unwrap_or(0) > 0,
        "{stream}"
    );

    let sync = &got["openai"];
    assert!(
        sync["content"]
            .as_str()
            .unwrap_or("")
            .contains("The host is up."),
        "{sync}"
    );
    assert!(
        sync["usage"]["total_tokens"].as_u64().unwrap_or(0) > 0,
        "{sync}"
    );
    let models = sync["models"].to_string();
    assert!(models.contains("claude-ops-tier2@home"), "{models}");

    let ollama = &got["ollama_stream"];
    assert!(
        ollama["content"]
            .as_str()
            .unwrap_or("")
            .contains("The host is up."),
        "{ollama}"
    );
    assert!(
        ollama["tool_calls"].to_string().contains("Bash"),
        "{ollama}"
    );
    assert_eq!(ollama["done"], true, "{ollama}");
    assert!(ollama["eval_count"].as_u64().unwrap_or(0) > 0, "{ollama}");
    assert!(
        got["ollama_models"]
            .to_string()
            .contains("claude-ops-tier1:latest"),
        "{got}"
    );
    assert!(
        got["ollama_generate"]
            .as_str()
            .unwrap_or("")
            .contains("The host is up."),
        "{got}"
    );

    // The busy site answered at once, honestly, without a model call.
    let busy = &got["busy"];
    let text = busy["content"].as_str().unwrap_or_default();
    assert!(text.contains("Site home is busy: session #"), "{busy}");
    assert!(text.contains("no model was asked"), "{busy}");
    assert_eq!(busy["slow_still_running"], true, "answered at once: {busy}");
    assert!(
        model.requests_matching("Anything new?").is_empty(),
        "the busy question reached the model"
    );
    assert!(
        got["slow"]["content"]
            .as_str()
            .unwrap_or("")
            .contains("The host is up."),
        "{got}"
    );
    assert_eq!(got["wrong_key"], 401, "{got}");

    // Every answer was a chat session of its own.
    let (_, sessions) = cp.http().get("/api/v1/sessions?limit=20").await;
    let chats = sessions["sessions"]
        .as_array()
        .map(|s| s.iter().filter(|s| s["trigger_detail"] == "chat").count())
        .unwrap_or(0);
    assert_eq!(chats, 5, "{sessions}");
}

#[tokio::test]
async fn a_chat_client_that_leaves_stops_nothing_unless_it_asked() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // A stand-in CLI that keeps its session running.
    let script = "#!/bin/sh\necho '{\"type\":\"system\",\"subtype\":\"init\"}'\nsleep 30\n";
    let (cp, _worker) = with_fake_cli_env(
        dir.path(),
        "home",
        script,
        &[("CLAUDEOPS_CHAT_API_KEY", KEY)],
        &[],
    )
    .await;
    let http = cp.http();
    let ask = |stop: bool| {
        let (base, client) = (http.base.clone(), http.client.clone());
        async move {
            let mut body = json!({
                "model": "claude-ops-tier1@home",
                "stream": true,
                "messages": [{"role": "user", "content": "still there?"}],
            });
            if stop {
                body["stop_on_disconnect"] = json!(true);
            }
            let mut response = client
                .post(format!("{base}/v1/chat/completions"))
                .bearer_auth(KEY)
                .json(&body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(response.status().as_u16(), 200);
            // The role chunk arrives, then the client leaves.
            let first = response.chunk().await.ok().flatten().unwrap_or_default();
            assert!(String::from_utf8_lossy(&first).contains("\"role\":\"assistant\""));
            drop(response);
        }
    };
    let running = async || {
        let (_, sessions) = http.get("/api/v1/sessions?limit=5").await;
        sessions["sessions"].as_array().cloned().unwrap_or_default()
    };
    ask(false).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let first = running().await;
    assert_eq!(first[0]["status"], "running", "left alone: {first:?}");
    let id = first[0]["id"].as_i64().unwrap_or_default();
    http.post(&format!("/api/v1/sessions/{id}/stop"), &json!({}), true)
        .await;
    http.wait_session_end(id, WAIT).await;

    ask(true).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let list = running().await;
        if list[0]["id"] != id && list[0]["status"] != "running" {
            assert_eq!(list[0]["status_detail"], "stopped", "{list:?}");
            assert_eq!(list[0]["status"], "failed", "the original's word: {list:?}");
            assert!(
                list[0]["error"]
                    .as_str()
                    .unwrap_or("")
                    .contains("chat client disconnected"),
                "{list:?}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never stopped: {list:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
