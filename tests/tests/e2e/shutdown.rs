//! Graceful shutdown on SIGTERM: no new work, running sessions get
//! `CLAUDEOPS_SHUTDOWN_GRACE` to finish, then are stopped; every end is
//! reported before the process exits 0, and nothing the session started is
//! left running.

use std::time::Duration;

use crate::support::*;

/// A stand-in CLI: an init line, then `sleep SECONDS` (a unique number names
/// the process in /proc), then a good result.
fn sleeper(seconds: &str) -> String {
    format!(
        "#!/bin/sh\necho '{{\"type\":\"system\",\"subtype\":\"init\"}}'\nsleep {seconds}\n\
         echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"done\",\"num_turns\":1,\"total_cost_usd\":0,\"duration_ms\":1}}'\n"
    )
}

#[tokio::test]
async fn a_worker_told_to_stop_lets_its_session_finish_reports_it_and_exits_0() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let grace = [("CLAUDEOPS_SHUTDOWN_GRACE", "60s")];
    let (cp, mut worker) = with_fake_cli_env(dir.path(), "home", &sleeper("3"), &[], &grace).await;
    let http = cp.http();
    let id = trigger_until_first_line(&http, "home").await;

    worker.proc.signal("TERM");
    let session = http.wait_session_end(id, WAIT).await;
    assert_eq!(session["status"], "completed", "{session}");
    let status = worker.proc.wait_exit(WAIT).await;
    assert!(status.success(), "the worker exited with {status}");
    assert!(
        worker
            .proc
            .has_logged("every session's end is reported; exiting")
    );
}

#[tokio::test]
async fn a_session_past_the_grace_is_stopped_and_reported_before_the_worker_exits() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let grace = [("CLAUDEOPS_SHUTDOWN_GRACE", "1s")];
    let (cp, mut worker) =
        with_fake_cli_env(dir.path(), "home", &sleeper("7791"), &[], &grace).await;
    let http = cp.http();
    let id = trigger_until_first_line(&http, "home").await;

    worker.proc.signal("TERM");
    let status = worker.proc.wait_exit(WAIT).await;
    assert!(status.success(), "the worker exited with {status}");
    // Reported before the exit: the control plane has the end already.
    let (_, session) = http.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(session["status_detail"], "stopped", "{session}");
    let error = session["error"].as_str().unwrap_or_default();
    assert!(error.contains("the worker is shutting down"), "{session}");
    assert!(
        running_with("7791").is_empty(),
        "the session's process outlived the shutdown"
    );
}

#[tokio::test]
async fn a_control_plane_told_to_stop_takes_no_new_session_and_ends_the_running_one() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cp_grace = [("CLAUDEOPS_SHUTDOWN_GRACE", "2s")];
    let (mut cp, worker) =
        with_fake_cli_env(dir.path(), "home", &sleeper("7792"), &cp_grace, &[]).await;
    let http = cp.http();
    let id = trigger_until_first_line(&http, "home").await;
    let other = enrolled_worker(&cp, "cabin", &[("ANTHROPIC_API_KEY", "k")]).await;

    cp.proc.signal("TERM");
    cp.proc.wait_for("control plane shutting down", WAIT).await;
    // While it drains, nothing new starts, and it says why.
    let (status, body) = http
        .post(
            "/api/v1/sessions/trigger",
            &serde_json::json!({"site": "cabin", "start_tier": 1}),
            true,
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("shutting down")),
        "{body}"
    );
    let exit = cp.proc.wait_exit(Duration::from_secs(30)).await;
    assert!(exit.success(), "the control plane exited with {exit}");
    let log = cp.proc.log();
    assert!(
        log.contains(&format!("session={id}")) && log.contains("session ended"),
        "the control plane did not record the session's end:\n{log}"
    );
    assert!(log.contains("status=stopped"), "{log}");
    // The worker was told to stop the session, and did.
    wait_gone("7792", WAIT, "the session's process outlived its stop").await;
    assert!(
        worker.proc.has_logged("stopping session"),
        "{}",
        worker.proc.log()
    );
    drop(other);
}
