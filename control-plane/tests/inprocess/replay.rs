//! A worker that lost its connection replays unacknowledged output after it
//! reconnects; the store keeps each line once and the acknowledgements say how
//! far it got.

use claudeops_proto::v1 as pb;

use crate::fake_worker::FakeWorker;
use crate::support::{TestApp, eventually, no_escalation};

/// Drops the worker's link, waits until the control plane notices, and
/// connects again saying it still holds session `id` up to `last_seq`.
async fn reconnect(
    app: &TestApp,
    worker: FakeWorker,
    id: i64,
    last_seq: i64,
    finished: bool,
) -> FakeWorker {
    let identity = worker.disconnect();
    let registry = &app.state.context.registry;
    eventually("the control plane to notice the disconnect", || async {
        (!registry.is_connected(&identity.worker_id)).then_some(())
    })
    .await;
    let running = vec![pb::RunningJob {
        session_id: id,
        last_seq,
        finished,
    }];
    FakeWorker::connect(app, identity, running).await
}

/// A session that printed two lines and that the operator asked to stop;
/// its worker, and its id.
async fn stop_asked(app: &TestApp) -> (FakeWorker, i64) {
    let mut worker = FakeWorker::connect_new(app, "home").await;
    let id = app.start_session("home", 1).await;
    worker.run_job().await;
    worker.output(id, 1..=2).await;
    assert_eq!(worker.ack(id).await.upto_seq, 2);
    ask_stop(app, id).await;
    (worker, id)
}

/// Asks the control plane to stop session `id`, as the operator's button does.
async fn ask_stop(app: &TestApp, id: i64) {
    let (status, body) = app
        .request(
            axum::http::Method::POST,
            &format!("/api/v1/sessions/{id}/stop"),
            Some(serde_json::json!({})),
            true,
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::ACCEPTED, "{body}");
}

/// The operator's stop of session `id` reaches the worker.
async fn expect_stop(worker: &mut FakeWorker, id: i64) {
    let reason = worker
        .expect("the operator's stop", |body| match body {
            pb::control_message::Body::CancelJob(c) if c.session_id == id => Some(c.reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, "stopped by api token", "the stop names who asked");
}

#[tokio::test]
async fn replaying_output_after_a_reconnect_stores_each_line_once() {
    let app = TestApp::start().await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    let id = app.start_session("home", 1).await;
    worker.run_job().await;

    worker.output(id, 1..=5).await;
    assert_eq!(worker.acked_upto(id, 5, false).await.upto_seq, 5);
    // Lines 6..=8 go out, and the connection drops before their ack is read.
    worker.output(id, 6..=8).await;
    let mut worker = reconnect(&app, worker, id, 10, false).await;
    // The replay overlaps what is stored, and comes in batches that overlap each other.
    worker.output(id, 4..=8).await;
    assert_eq!(worker.ack(id).await.upto_seq, 8);
    worker.output(id, 6..=10).await;
    assert_eq!(worker.ack(id).await.upto_seq, 10);
    worker.output(id, 1..=2).await;
    assert_eq!(
        worker.ack(id).await.upto_seq,
        10,
        "an ack names how far everything is stored"
    );

    assert_eq!(app.stored_seqs(id).await, (1..=10).collect::<Vec<_>>());
    let session = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(
        session["status"], "running",
        "the reconnect kept the session: {session}"
    );

    worker
        .finish(id, 10, 0.01, &no_escalation("all good"))
        .await;
    let ack = worker.acked_upto(id, 10, true).await;
    assert_eq!((ack.upto_seq, ack.finished), (10, true));
    assert_eq!(app.stored_seqs(id).await, (1..=10).collect::<Vec<_>>());
}

/// A batch stored past a hole is not acknowledged past the hole (the worker
/// would forget the missing lines), and a session whose output has a hole is
/// not recorded as ended: the link is closed, the worker replays, and only
/// then is the end recorded.
#[tokio::test]
async fn a_hole_holds_back_the_ack_and_the_end_until_a_replay_fills_it() {
    let app = TestApp::start().await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    let id = app.start_session("home", 1).await;
    worker.run_job().await;

    worker.output(id, 1..=3).await;
    assert_eq!(worker.ack(id).await.upto_seq, 3);
    // Lines 4..=6 were lost on the way (say their store write failed).
    worker.output(id, 7..=9).await;
    assert_eq!(worker.ack(id).await.upto_seq, 3, "not past the hole");
    worker.finish(id, 9, 0.01, &no_escalation("done")).await;
    worker.closed_by_server().await;
    let session = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(
        session["status"], "running",
        "not recorded with a hole: {session}"
    );
    assert_eq!(app.stored_seqs(id).await, vec![1, 2, 3, 7, 8, 9]);

    let mut worker = reconnect(&app, worker, id, 9, true).await;
    // The worker kept everything above its last ack and sends it again.
    worker.output(id, 4..=9).await;
    assert_eq!(worker.ack(id).await.upto_seq, 9);
    worker.finish(id, 9, 0.01, &no_escalation("done")).await;
    let ack = worker.acked_upto(id, 9, true).await;
    assert!(ack.finished);
    assert_eq!(app.stored_seqs(id).await, (1..=9).collect::<Vec<_>>());
    let session = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(session["status"], "completed", "{session}");
}

/// A stop that went into a link that was already dead is sent again when the
/// worker comes back with the session still running.
#[tokio::test]
async fn a_stop_is_sent_again_when_the_worker_reconnects() {
    let app = TestApp::start().await;
    let (worker, id) = stop_asked(&app).await;
    // The worker never acts on it (its link was dying), and reconnects.
    let mut worker = reconnect(&app, worker, id, 2, false).await;
    expect_stop(&mut worker, id).await;
}

/// A stop asked for before the control plane restarted is still sent when
/// the worker comes back to the new process: it is recorded, not only kept
/// in memory.
#[tokio::test]
async fn a_stop_asked_before_a_restart_is_sent_after_it() {
    let app = TestApp::start().await;
    let (worker, id) = stop_asked(&app).await;

    let app = app.restarted().await;
    let mut worker = reconnect(&app, worker, id, 2, false).await;
    expect_stop(&mut worker, id).await;
    worker.finish(id, 2, 0.0, &no_escalation("stopped")).await;
    let ack = worker.acked_upto(id, 2, true).await;
    assert!(ack.finished);
}
