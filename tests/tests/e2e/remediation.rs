//! Remediation only through typed actions, held by the control plane's cooldown
//! ledger: real containers restarted by a scripted tier-2 model through the
//! worker's MCP server, a third restart refused with one alert, a real compose
//! project redeployed at tier 3, and raw `docker restart` refused.

use std::time::Duration;

use claudeops_tests::docker::{self, CountingContainer};
use claudeops_tests::model::{Script, ScriptedModel, Turn};
use claudeops_tests::system::{ControlPlane, Http};
use serde_json::{Value, json};

use crate::support::*;

fn restart(container: &str) -> Turn {
    Turn::tool(
        "mcp__claudeops__restart_container",
        json!({"container": container, "service": "web", "reason": "web answers 502"}),
    )
}

fn done() -> Turn {
    Turn::structured(json!({"summary": "restarted web", "escalation": {"needed": false}}))
}

async fn critical_events(http: &Http) -> Vec<Value> {
    let (_, events) = http.get("/api/v1/events?level=critical").await;
    events["events"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn restarts_go_through_the_ledger_and_the_third_is_refused() {
    // Each start of the container appends a line: the count of starts is on disk.
    let counting = CountingContainer::run(
        "web",
        &["--health-cmd", "test -e /tmp", "--health-interval", "1s"],
    );
    let container = &counting.container;
    let starts = || counting.starts();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(starts(), 1);

    let model = ScriptedModel::start(vec![Script::new(vec![
        restart(&container.name),
        restart(&container.name),
        restart(&container.name),
        Turn::bash(&format!("docker restart {}", container.name)),
        done(),
    ])])
    .await;
    let cp = ControlPlane::start(&[]).await;
    let env = model_env(&model);
    let _worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let http = cp.http();
    let (status, session) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "home", "start_tier": 2, "prompt": "web is down"}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let id = session["id"].as_i64().unwrap_or_default();
    let done = http.wait_session_end(id, Duration::from_secs(240)).await;
    assert_eq!(done["status"], "completed", "{done}");

    assert_eq!(starts(), 3, "two restarts happened, the third did not");
    assert_eq!(container.inspect("{{.State.Running}}"), "true");
    let results = tool_results(&http, id).await;
    assert_eq!(results.len(), 4, "{results:#?}");
    assert!(
        !results[0].0 && results[0].1.contains("healthy"),
        "{:?}",
        results[0]
    );
    assert!(!results[1].0, "{:?}", results[1]);
    assert!(
        results[2].0 && results[2].1.contains("human attention"),
        "the model is told why: {:?}",
        results[2]
    );
    assert!(
        results[3].0 && results[3].1.contains("mcp__claudeops__restart_container"),
        "raw docker restart points to the action: {:?}",
        results[3]
    );

    // The ledger as the API shows it.
    let (_, cooldowns) = http.get("/api/v1/cooldowns").await;
    let row = cooldowns["cooldowns"]
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|r| r["service"] == "web" && r["action_type"] == "restart")
        })
        .cloned()
        .unwrap_or_else(|| panic!("no cooldown row: {cooldowns}"));
    assert_eq!(row["site"], "home");
    assert_eq!(row["count"], 2);
    assert!(row["last_action"].is_string(), "{row}");
    assert_eq!(row["limit"], 2);
    assert!(row["next_allowed_at"].is_string(), "{row}");
    let (_, actions) = http.get(&format!("/api/v1/actions?session_id={id}")).await;
    let statuses: Vec<&str> = actions
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["status"].as_str())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == "succeeded").count(),
        2,
        "{actions}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == "denied").count(),
        1,
        "{actions}"
    );

    // One "needs human attention" alert for the service in the window.
    let critical = critical_events(&http).await;
    let alerts: Vec<&Value> = critical
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("cooldown") && m.contains("web"))
        })
        .collect();
    assert_eq!(alerts.len(), 1, "{critical:#?}");
}

#[tokio::test]
async fn tier_three_redeploys_a_compose_project_once_per_window() {
    docker::ensure_image();
    let repos = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Compose names the project after the repo directory: a unique one per run.
    let project = docker::unique("copsapp").replace('-', "");
    let app = repos.path().join(&project);
    std::fs::create_dir_all(&app).unwrap_or_else(|e| panic!("{e}"));
    let mounts: String = docker::host_mounts()
        .chunks(2)
        .map(|pair| format!("      - {}\n", pair[1]))
        .collect();
    let compose_yaml = format!(
        "services:\n  web:\n    image: {}\n    command: [\"sleep\", \"infinity\"]\n    healthcheck:\n      test: [\"CMD\", \"test\", \"-e\", \"/tmp\"]\n      interval: 1s\n    volumes:\n{mounts}",
        docker::IMAGE
    );
    std::fs::write(app.join("compose.yaml"), compose_yaml).unwrap_or_else(|e| panic!("{e}"));
    let file = app.join("compose.yaml").display().to_string();
    let _down = ComposeDown(file.clone(), project.clone());
    compose(&["-p", &project, "-f", &file, "up", "-d"]);
    let container = compose(&["-p", &project, "-f", &file, "ps", "-q", "web"]);
    docker::must(&["stop", container.trim()]);

    let model = ScriptedModel::start(vec![Script::new(vec![
        Turn::tool(
            "mcp__claudeops__redeploy_service",
            json!({"service": "web", "repo": project, "reason": "web is gone"}),
        ),
        Turn::tool(
            "mcp__claudeops__redeploy_service",
            json!({"service": "web", "repo": project, "reason": "once more"}),
        ),
        Turn::structured(json!({"summary": "redeployed web", "escalation": {"needed": false}})),
    ])])
    .await;
    let cp = ControlPlane::start(&[]).await;
    let mut env = model_env(&model);
    env.push((
        "CLAUDEOPS_REPOS_DIR".into(),
        repos.path().display().to_string(),
    ));
    let _worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let http = cp.http();
    let (status, session) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "home", "start_tier": 3}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let id = session["id"].as_i64().unwrap_or_default();
    let done = http.wait_session_end(id, Duration::from_secs(300)).await;
    assert_eq!(done["status"], "completed", "{done}");

    let id_after = compose(&["-p", &project, "-f", &file, "ps", "-q", "web"]);
    let running = docker::must(&["inspect", "-f", "{{.State.Running}}", id_after.trim()]);
    assert_eq!(running, "true", "web is running again");
    let results = tool_results(&http, id).await;
    assert_eq!(results.len(), 2, "{results:#?}");
    assert!(!results[0].0, "the redeploy worked: {:?}", results[0]);
    assert!(
        results[1].0 && results[1].1.contains("human attention"),
        "the second is refused: {:?}",
        results[1]
    );
    let (_, cooldowns) = http.get("/api/v1/cooldowns").await;
    assert!(
        cooldowns["cooldowns"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["action_type"] == "redeployment" && r["count"] == 1 && r["limit"] == 1),
        "{cooldowns}"
    );
}

/// Runs Compose (the plugin if there is one, else `docker-compose`).
fn compose(args: &[&str]) -> String {
    let (program, mut full) = docker::compose_program();
    full.extend_from_slice(args);
    let out = std::process::Command::new(program)
        .args(&full)
        .output()
        .unwrap_or_else(|e| panic!("Compose is required for this test: {e}"));
    assert!(
        out.status.success(),
        "{program} {full:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct ComposeDown(String, String);

impl Drop for ComposeDown {
    fn drop(&mut self) {
        compose_quiet(&["-p", &self.1, "-f", &self.0, "down", "--timeout", "1"]);
    }
}

fn compose_quiet(args: &[&str]) {
    let _ = std::panic::catch_unwind(|| compose(args));
}
