//! `serve --local-worker`: the single-host set-up runs the worker binary as a
//! child process that gets none of the control plane's secrets and dies with it.

use std::time::Duration;

use claudeops_tests::model::{Block, Script, ScriptedModel, Turn};
use claudeops_tests::system::ControlPlane;
use serde_json::json;

use crate::support::*;

const API_TOKEN: &str = "local-worker-test-api-token-7f3a";
const APPRISE_URL: &str = "json://127.0.0.1:9/local-worker-secret-path";

/// The pids of a process's children, from `/proc`.
fn children(pid: u32) -> Vec<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Whether a process still runs (a zombie counts as gone).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit(')').next().map(|rest| rest.trim().to_owned()))
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

fn environ(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

async fn local_worker_pid(cp: &ControlPlane) -> u32 {
    let cp_pid = cp
        .proc
        .pid()
        .unwrap_or_else(|| panic!("the control plane exited"));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let workers: Vec<u32> = children(cp_pid)
            .into_iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|comm| comm.trim().starts_with("claudeops-work"))
            })
            .collect();
        if let [pid] = workers[..] {
            return pid;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no single worker child of {cp_pid} (found {workers:?}); log:\n{}",
            cp.proc.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_gone(pid: u32, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while running(pid) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "process {pid} still runs after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_local_worker_is_a_child_without_secrets_that_runs_sessions_and_dies_with_its_parent() {
    let model = ScriptedModel::start(vec![Script::new(vec![
        Turn::text("Checking.").and(Block::bash("echo local-marker-$((6*7))")),
        Turn::structured(json!({"summary": "fine", "escalation": {"needed": false}})),
    ])])
    .await;
    let mut env = model_env(&model);
    env.push(("CLAUDEOPS_API_TOKEN".into(), API_TOKEN.into()));
    env.push(("CLAUDEOPS_APPRISE_URLS".into(), APPRISE_URL.into()));
    env.push(("CLAUDEOPS_PROBES".into(), "false".into()));
    env.push((
        "CLAUDEOPS_CLAUDE_BIN".into(),
        claudeops_tests::cli::claude_bin().display().to_string(),
    ));
    let mut cp = ControlPlane::start_with(&["serve", "--local-worker"], &as_refs(&env)).await;
    cp.proc
        .wait_for("welcomed by the control plane", WAIT)
        .await;
    let worker = local_worker_pid(&cp).await;

    // The child's environment: where to go, and none of the control plane's secrets.
    let vars = environ(worker);
    assert!(vars.iter().any(|v| v == "CLAUDEOPS_SITE=local"), "{vars:?}");
    assert!(
        vars.iter()
            .any(|v| v.starts_with("CLAUDEOPS_CONTROL_PLANE=https://127.0.0.1:"))
    );
    for secret in [API_TOKEN, APPRISE_URL] {
        assert!(
            !vars.iter().any(|v| v.contains(secret)),
            "the worker's environment holds a control-plane secret: {vars:?}"
        );
    }

    // A session runs there, hook and all, with the real CLI.
    let http = cp.http();
    let (status, session) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "local", "prompt": "look", "start_tier": 1}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let id = session["id"].as_i64().unwrap_or_default();
    let ended = http.wait_session_end(id, WAIT).await;
    assert_eq!(
        ended["status"],
        "completed",
        "{ended}; log:\n{}",
        cp.proc.log()
    );
    let mut stream = http.sse(&format!("/sessions/{id}/stream")).await;
    let mut seen = Vec::new();
    next_matching(&mut stream, &mut seen, |e| {
        e.event == "line" && e.data.contains("local-marker-42")
    })
    .await;

    // kill -9 of the control plane takes the worker with it.
    cp.proc.signal("KILL");
    cp.proc.wait_exit(WAIT).await;
    wait_gone(worker, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn sigterm_stops_the_control_plane_and_its_local_worker_cleanly() {
    let mut cp = ControlPlane::start_with(
        &["serve", "--local-worker"],
        &[("CLAUDEOPS_PROBES", "false")],
    )
    .await;
    cp.proc
        .wait_for("welcomed by the control plane", WAIT)
        .await;
    let worker = local_worker_pid(&cp).await;
    cp.proc.signal("TERM");
    let status = cp.proc.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "exit {status:?}; log:\n{}", cp.proc.log());
    assert!(
        cp.proc.has_logged("local worker stopped"),
        "{}",
        cp.proc.log()
    );
    wait_gone(worker, Duration::from_secs(5)).await;
}
