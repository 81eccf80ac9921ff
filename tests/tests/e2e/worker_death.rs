//! A worker killed with SIGKILL takes its sessions' processes with it: the
//! session's group guard (`worker/src/guard.rs`) kills the CLI's whole process
//! group when the worker's pipe to it closes.

use std::time::Duration;

use claudeops_tests::system::{ControlPlane, Worker};

use crate::support::*;

#[tokio::test]
async fn a_worker_killed_with_sigkill_takes_the_cli_and_its_tools_with_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Unique sleep durations name the stand-in CLI's processes in /proc.
    let script = "#!/bin/sh\necho '{\"type\":\"system\",\"subtype\":\"init\"}'\n\
                  (sleep 7771; echo never) &\nsleep 7772\n";
    let (cp, mut worker) = with_fake_cli(dir.path(), "home", script).await;
    trigger_until_first_line(&cp.http(), "home").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while running_with("7771").is_empty() || running_with("7772").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stand-in CLI never ran"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    worker.proc.signal("KILL");
    worker.proc.wait_exit(WAIT).await;
    let killed_at = tokio::time::Instant::now();
    loop {
        let mut left = running_with("7771");
        left.extend(running_with("7772"));
        if left.is_empty() {
            break;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(5),
            "the session's processes outlived their worker: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "the CLI and its tool were gone {} ms after the worker died",
        killed_at.elapsed().as_millis()
    );
}

/// The process group a process belongs to (`/proc/PID/stat`, field 5).
fn group_of(pid: u32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    after
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_restarted_worker_kills_what_a_dead_one_left_and_says_so() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let script = "#!/bin/sh\necho '{\"type\":\"system\",\"subtype\":\"init\"}'\nsleep 7774\n";
    // Unsandboxed: bubblewrap's --die-with-parent would end the session
    // with its worker, and this is about what remains when every other
    // safeguard failed.
    let unsandboxed = [("CLAUDEOPS_SANDBOX", "off")];
    let (cp, mut worker) = with_fake_cli_env(dir.path(), "home", script, &[], &unsandboxed).await;
    let id = trigger_until_first_line(&cp.http(), "home").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let sleeper = loop {
        if let Some(pid) = running_with("7774").first() {
            break *pid;
        }
        assert!(tokio::time::Instant::now() < deadline, "the CLI never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Its group guard dies first (say, with its worker, by the OOM killer).
    let group = group_of(sleeper);
    let guards: Vec<u32> = running_with("guard")
        .into_iter()
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            cmdline.split(|b| *b == 0).any(|a| a == group.as_bytes())
        })
        .collect();
    assert_eq!(guards.len(), 1, "the session's guard: {guards:?}");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &guards[0].to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(killed.success());
    worker.proc.signal("KILL");
    worker.proc.wait_exit(WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        running_with("7774"),
        [sleeper],
        "the session's process should have outlived its worker and guard here"
    );

    let fake = dir.path().join("claude").display().to_string();
    let env = [
        ("CLAUDEOPS_CLAUDE_BIN", fake.as_str()),
        ("ANTHROPIC_API_KEY", "k"),
        ("CLAUDEOPS_SANDBOX", "off"),
    ];
    let again = Worker::start_in(&cp, "home", None, &env, worker.state);
    again.wait_connected().await;
    assert!(
        running_with("7774").is_empty(),
        "the new worker left its predecessor's session running"
    );
    let http = cp.http();
    let session = http.wait_session_end(id, WAIT).await;
    assert_eq!(session["status"], "failed", "{session}");
    assert!(
        session["error"]
            .as_str()
            .is_some_and(|e| e.contains("it killed what was left of it")),
        "{session}"
    );
    let (_, events) = http.get("/api/v1/events?level=warning").await;
    let said = format!("found processes of session #{id} still running: it killed them");
    assert!(
        events["events"].as_array().is_some_and(|all| all
            .iter()
            .any(|e| e["message"].as_str().is_some_and(|m| m.contains(&said)))),
        "{events}"
    );
}

/// The same with the real CLI, in its sandbox: the CLI and the command its
/// model asked for die with the worker, and the model hears nothing more
/// from the session.
#[tokio::test]
async fn a_worker_killed_with_sigkill_takes_the_real_cli_and_its_command_with_it() {
    use claudeops_tests::model::{Block, Script, ScriptedModel, Turn};
    let model = ScriptedModel::start(vec![Script::new(vec![
        Turn::new(vec![Block::bash("timeout 57.76 tail -f /etc/hostname")]),
        Turn::structured(serde_json::json!({
            "summary": "never reached",
            "escalation": {"needed": false}
        })),
    ])])
    .await;
    let cp = ControlPlane::start(&[]).await;
    let env = model_env(&model);
    let mut worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let (status, session) = cp
        .http()
        .post(
            "/api/v1/sessions/trigger",
            &serde_json::json!({"site": "home", "start_tier": 1}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let deadline = tokio::time::Instant::now() + WAIT;
    while running_with("57.76").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the model's command never ran; worker log:\n{}",
            worker.proc.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cli = claudeops_tests::cli::claude_bin().display().to_string();
    // This worker's CLI: other tests run the same CLI side by side.
    let worker_pid = worker.proc.pid().unwrap_or_default();
    let clis = descending_from(running_with(&cli), worker_pid);
    assert!(!clis.is_empty(), "the CLI is not running");
    let asked = model.requests().len();

    worker.proc.signal("KILL");
    worker.proc.wait_exit(WAIT).await;
    let within = Duration::from_secs(5);
    let gone = wait_gone("57.76", within, "the model's command outlived its worker").await;
    wait_pids_gone(&clis, within, "the CLI outlived its worker").await;
    println!(
        "the real CLI's command was gone {} ms after the worker died",
        gone.as_millis()
    );
    // Time for a CLI that survived to call the model again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        model.requests().len(),
        asked,
        "the model heard from a dead worker's session"
    );
}
