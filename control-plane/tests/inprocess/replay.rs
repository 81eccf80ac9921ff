//! A worker that lost its connection replays unacknowledged output after it
//! reconnects; the store keeps each line once and the acknowledgements say how
//! far it got.

use claudeops_proto::v1 as pb;

use crate::fake_worker::FakeWorker;
use crate::support::{TestApp, eventually, no_escalation};

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
    let identity = worker.disconnect();
    let registry = &app.state.context.registry;
    eventually("the control plane to notice the disconnect", || async {
        (!registry.is_connected(&identity.worker_id)).then_some(())
    })
    .await;

    let running = vec![pb::RunningJob {
        session_id: id,
        last_seq: 10,
        finished: false,
    }];
    let mut worker = FakeWorker::connect(&app, identity, running).await;
    // The replay overlaps what is stored, and comes in batches that overlap each other.
    worker.output(id, 4..=8).await;
    assert_eq!(worker.ack(id).await.upto_seq, 8);
    worker.output(id, 6..=10).await;
    assert_eq!(worker.ack(id).await.upto_seq, 10);
    worker.output(id, 1..=2).await;
    assert_eq!(worker.ack(id).await.upto_seq, 2, "an ack covers its batch");

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
