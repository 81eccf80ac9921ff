//! `GET /sessions/{id}/stream`: replay from the store, then live lines from the
//! hub, each seq once and in order; `reload` for a viewer that fell behind;
//! `status` at the end, and no hub channel left behind.

use axum::http::Method;
use claudeops_control_plane::hub::LineView;
use claudeops_core::event::EventLevel;
use claudeops_core::{NewSession, SiteName, Tier, Trigger};

use crate::fake_worker::FakeWorker;
use crate::sse_reader::{SseEvent, SseReader};
use crate::support::{TestApp, eventually, no_escalation};

async fn open_stream(app: &TestApp, session: i64) -> SseReader {
    let path = format!("/sessions/{session}/stream");
    SseReader::new(app.send(Method::GET, &path, None, true).await)
}

/// Waits until `n` viewers follow the session in the hub.
async fn viewers(app: &TestApp, session: i64, n: usize) {
    let hub = &app.state.context.hub;
    eventually("the viewer to subscribe", || async {
        (hub.viewers(session) == n).then_some(())
    })
    .await;
}

fn seqs(events: &[SseEvent]) -> Vec<i64> {
    events.iter().map(SseEvent::seq).collect()
}

fn assert_lines(events: &[SseEvent]) {
    for event in events {
        assert_eq!(event.event, "line", "{event:?}");
        let json = event.json();
        assert_eq!(json["seq"], event.seq());
        let raw = json["raw"].as_str().unwrap_or_default();
        assert!(raw.contains(&format!("line {}", event.seq())), "{raw}");
    }
}

#[tokio::test]
async fn replays_stored_lines_then_follows_live() {
    let app = TestApp::start().await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    let id = app.start_session("home", 1).await;
    worker.run_job().await;
    worker.output(id, 1..=3).await;
    assert_eq!(worker.acked_upto(id, 3, false).await.upto_seq, 3);

    let mut stream = open_stream(&app, id).await;
    let replayed = stream.take(3).await;
    assert_lines(&replayed);
    assert_eq!(seqs(&replayed), [1, 2, 3]);

    viewers(&app, id, 1).await;
    worker.output(id, 4..=5).await;
    let live = stream.take(2).await;
    assert_lines(&live);
    assert_eq!(seqs(&live), [4, 5]);

    worker.finish(id, 5, 0.01, &no_escalation("all good")).await;
    let end = stream.rest().await;
    assert_eq!(end.len(), 1, "{end:?}");
    assert_eq!(end[0].event, "status");
    let status = end[0].json();
    assert_eq!(status["status"], "completed");
    // Everything the card shows at the end, so the page needs no reload.
    assert_eq!(status["exit_code"], 0, "{status}");
    assert_eq!(status["summary"], "all good", "{status}");
    assert_eq!(status["turns"], 3, "{status}");
    assert_eq!(status["cost_usd"], 0.01, "{status}");
}

/// `GET /api/v1/changes`: a session starting and ending, an event, a worker
/// coming: each reaches an open page as a `change` naming its kind and site,
/// numbered in order.
#[tokio::test]
async fn open_pages_hear_of_every_change() {
    let app = TestApp::start().await;
    let mut changes = SseReader::new(app.send(Method::GET, "/api/v1/changes", None, true).await);
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    let id = app.start_session("home", 1).await;
    worker.run_job().await;
    worker.finish(id, 0, 0.01, &no_escalation("all good")).await;
    eventually("the session to end", || async {
        let session = app.get(&format!("/api/v1/sessions/{id}")).await;
        (session["status"] != "running").then_some(())
    })
    .await;
    let home = SiteName::new("home").unwrap_or_else(|e| panic!("{e}"));
    app.state
        .context
        .event(&home, None, EventLevel::Info, "a note".to_owned())
        .await;

    let mut kinds = Vec::new();
    let mut last = 0;
    while !(kinds.iter().any(|(k, _)| k == "event") && kinds.contains(&("session".to_owned(), 2))) {
        let event = changes
            .next()
            .await
            .unwrap_or_else(|| panic!("the stream ended after {kinds:?}"));
        assert_eq!(event.event, "change", "{event:?}");
        let change = event.json();
        let seq = change["seq"].as_i64().unwrap_or_default();
        assert!(seq > last, "in order: {change} after {last}");
        assert_eq!(event.id.as_deref(), Some(seq.to_string().as_str()));
        last = seq;
        let kind = change["kind"].as_str().unwrap_or_default().to_owned();
        if kind != "worker" {
            assert_eq!(change["site"], "home", "{change}");
        }
        let n = kinds.iter().filter(|(k, _)| *k == kind).count() + 1;
        kinds.push((kind, n));
    }
    let names: Vec<&str> = kinds.iter().map(|(k, _)| k.as_str()).collect();
    assert!(names.contains(&"worker"), "{names:?}");
    assert!(names.contains(&"event"), "{names:?}");
    assert_eq!(
        names.iter().filter(|k| **k == "session").count(),
        2,
        "started and ended: {names:?}"
    );
}

#[tokio::test]
async fn overlapping_batches_reach_a_viewer_once_each_in_order() {
    let app = TestApp::start().await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    let id = app.start_session("home", 1).await;
    worker.run_job().await;

    let mut stream = open_stream(&app, id).await;
    viewers(&app, id, 1).await;
    // A worker replaying after lost acknowledgements repeats lines.
    worker.output(id, 1..=3).await;
    worker.output(id, 2..=5).await;
    worker.output(id, [5, 6]).await;
    worker.output(id, 1..=8).await;
    assert_eq!(worker.acked_upto(id, 8, false).await.upto_seq, 8);
    worker.finish(id, 8, 0.01, &no_escalation("all good")).await;

    let events = stream.rest().await;
    let (status, lines) = events.split_last().unwrap_or_else(|| panic!("no events"));
    assert_eq!(status.event, "status", "{events:?}");
    assert_lines(lines);
    assert_eq!(seqs(lines), (1..=8).collect::<Vec<_>>());
    assert_eq!(app.stored_seqs(id).await, (1..=8).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_viewer_that_falls_behind_is_told_to_reload() {
    let app = TestApp::start().await;
    let session = app
        .state
        .context
        .store
        .create_session(&NewSession {
            site: SiteName::new("home").unwrap_or_else(|e| panic!("{e}")),
            worker_id: None,
            tier: Tier::Observe,
            model: "test".to_owned(),
            trigger: Trigger::Api,
            prompt: None,
            parent_id: None,
            started_at_ms: 1,
            trace: None,
        })
        .await
        .unwrap_or_else(|e| panic!("creating a session: {e}"));
    let id = session.id;

    // The viewer subscribes, then does not read while far more than the hub's
    // 1,024 slots are published.
    let mut stream = open_stream(&app, id).await;
    viewers(&app, id, 1).await;
    let hub = &app.state.context.hub;
    hub.publish_lines(
        id,
        (1..=3_000).map(|seq| LineView::new(seq, seq, crate::support::stream_line(seq))),
    );

    let events = stream.rest().await;
    let (last, lines) = events.split_last().unwrap_or_else(|| panic!("no events"));
    assert_eq!(last.event, "reload", "the last of {} events", events.len());
    assert!(
        lines.len() < 3_000,
        "{} lines reached a lagging viewer",
        lines.len()
    );
    assert_lines(lines);
    assert!(seqs(lines).windows(2).all(|w| w[0] < w[1]));
    eventually("the lagging viewer's channel to go", || async {
        (hub.open_channels() == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_finished_sessions_stream_replays_then_ends_and_leaves_no_channel() {
    let app = TestApp::start().await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    let id = app.start_session("home", 1).await;
    worker.run_job().await;
    worker.output(id, 1..=4).await;
    worker.finish(id, 4, 0.02, &no_escalation("all good")).await;
    let ack = worker.acked_upto(id, 4, true).await;
    assert!(ack.finished);

    let hub = &app.state.context.hub;
    for _ in 0..3 {
        let events = open_stream(&app, id).await.rest().await;
        let (status, lines) = events.split_last().unwrap_or_else(|| panic!("no events"));
        assert_lines(lines);
        assert_eq!(seqs(lines), [1, 2, 3, 4]);
        assert_eq!(status.event, "status");
        let status = status.json();
        assert_eq!(status["status"], "completed");
        assert_eq!(status["turns"], 3);
        eventually("the viewer's channel to go", || async {
            (hub.open_channels() == 0).then_some(())
        })
        .await;
    }
    assert_eq!(hub.viewers(id), 0);
}
