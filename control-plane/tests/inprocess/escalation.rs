//! After a session: a response asking for the next tier when the chain is at
//! its cost cap goes to a human, and nothing else starts.

use std::time::Duration;

use claudeops_proto::v1::control_message;

use crate::fake_worker::FakeWorker;
use crate::support::{TestApp, asks_escalation, eventually};

#[tokio::test]
async fn an_escalation_past_the_cost_cap_needs_a_human_and_starts_nothing() {
    let app = TestApp::with(|c| c.max_chain_cost_usd = 1.0).await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    let id = app.start_session("home", 1).await;
    worker.run_job().await;

    worker
        .finish(id, 0, 2.5, &asks_escalation("web still returns 502"))
        .await;
    assert!(worker.acked_upto(id, 0, true).await.finished);

    let alert = eventually("a needs-human event", || async {
        app.events("level=critical")
            .await
            .into_iter()
            .find(|e| e["session_id"] == id)
    })
    .await;
    let message = alert["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("needs human attention:"), "{message}");
    assert!(
        message.contains("CLAUDEOPS_MAX_CHAIN_COST_USD"),
        "{message}"
    );
    assert!(message.contains("web still returns 502"), "{message}");

    worker
        .expect_none(
            "an escalated job",
            Duration::from_millis(300),
            |body| match body {
                control_message::Body::RunJob(job) => Some(job),
                _ => None,
            },
        )
        .await;
    assert_eq!(app.session_count().await, 1);
    let session = app.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(session["status"], "completed");
    assert_eq!(session["cost_usd"], 2.5);
}
