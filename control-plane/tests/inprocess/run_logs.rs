//! Run logs: the original's `run-YYYYMMDD-HHMMSS.log` written from the stored
//! lines (byte for byte, in order, even when a replay fills a hole), and
//! output retention that keeps the session.

use std::time::Duration;

use claudeops_control_plane::run_logs::{file_name, format_line};
use claudeops_control_plane::scheduler::prune_output;

use crate::fake_worker::FakeWorker;
use crate::support::{TestApp, eventually, no_escalation};

fn run_log(app: &TestApp, started_at_ms: i64) -> std::path::PathBuf {
    app.dir
        .path()
        .join("results")
        .join(file_name(started_at_ms, None))
}

#[tokio::test]
async fn the_run_log_is_the_stored_lines_in_the_originals_format() {
    let app = TestApp::start().await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    let id = app.start_session("home", 1).await;
    worker.run_job().await;
    // A hole (3 is missing), then the replay that fills it.
    worker.output(id, [1, 2, 4, 5]).await;
    worker.output(id, [3, 6]).await;
    worker.finish(id, 6, 0.01, &no_escalation("ok")).await;
    let session = eventually("the session to end", || async {
        let s = app
            .state
            .context
            .store
            .get_session(id)
            .await
            .ok()
            .flatten()?;
        s.status.is_finished().then_some(s)
    })
    .await;
    let stored = app
        .state
        .context
        .store
        .output(id, 0, 100)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.len(), 6);
    let expected: String = stored.iter().map(format_line).collect();
    let path = run_log(&app, session.started_at_ms);
    let written = eventually("the run log to hold every line", || async {
        let text = std::fs::read_to_string(&path).ok()?;
        (text.lines().count() == 6).then_some(text)
    })
    .await;
    assert_eq!(
        written, expected,
        "byte for byte the stored lines, in seq order"
    );
    let first = written.lines().next().unwrap_or_default();
    let (time, raw) = first.split_once('\t').unwrap_or_else(|| panic!("{first}"));
    assert!(humantime::parse_rfc3339(time).is_ok(), "{time}");
    assert_eq!(raw, stored[0].line);
}

#[tokio::test]
async fn retention_prunes_logs_and_output_but_keeps_the_session() {
    let app = TestApp::start().await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    let id = app.start_session("home", 1).await;
    worker.run_job().await;
    worker.output(id, 1..=3).await;
    worker.finish(id, 3, 0.02, &no_escalation("all fine")).await;
    let session = eventually("the session to end", || async {
        let s = app
            .state
            .context
            .store
            .get_session(id)
            .await
            .ok()
            .flatten()?;
        s.status.is_finished().then_some(s)
    })
    .await;
    let path = run_log(&app, session.started_at_ms);
    eventually("the run log", || async {
        let text = std::fs::read_to_string(&path).ok()?;
        (text.lines().count() == 3).then_some(())
    })
    .await;

    // Within the retention (30 days by default) nothing goes.
    let now = claudeops_control_plane::clock::now_ms();
    prune_output(&app.state.context, now).await;
    assert!(path.exists());
    assert_eq!(app.stored_seqs(id).await, [1, 2, 3]);

    // 31 days on, the log and the stored lines go; the session and its summary stay.
    let later = now + Duration::from_secs(31 * 24 * 3600).as_millis() as i64;
    prune_output(&app.state.context, later).await;
    assert!(!path.exists(), "the run log is pruned");
    assert!(
        app.stored_seqs(id).await.is_empty(),
        "the stored output is pruned"
    );
    let json = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(json["status"], "completed", "{json}");
    assert_eq!(json["summary"], "all fine", "{json}");
    assert_eq!(json["cost_usd"], 0.02, "{json}");
}
