//! Enrollment through its own listener: a one-time token becomes a client
//! certificate the worker link accepts; the same token never works twice.

use std::time::Duration;

use claudeops_control_plane::create_enroll_token;
use claudeops_core::SiteName;
use claudeops_pki::Ca;

use crate::fake_worker::FakeWorker;
use crate::identity::Identity;
use crate::support::TestApp;

#[tokio::test]
async fn an_enrolled_worker_connects_and_runs_jobs_and_its_token_is_spent() {
    let app = TestApp::start().await;
    let enroll_addr = app.serve_enrollment().await;
    let ca = Ca::load_or_create(&app.state_dir()).unwrap_or_else(|e| panic!("the CA: {e}"));
    let site = SiteName::new("home").unwrap_or_else(|e| panic!("{e}"));
    let token = create_enroll_token(
        app.state.context.store.as_ref(),
        &ca,
        &site,
        enroll_addr.port(),
        Duration::from_secs(600),
    )
    .await
    .unwrap_or_else(|e| panic!("an enrollment token: {e:#}"));

    let identity = Identity::enroll_with_token(enroll_addr, &token, "home")
        .await
        .unwrap_or_else(|status| panic!("enrollment refused: {status}"));
    assert!(
        identity.worker_id.starts_with("w-"),
        "{}",
        identity.worker_id
    );
    let workers = app.get("/api/v1/workers").await;
    assert!(
        workers.to_string().contains(&identity.worker_id),
        "{workers}"
    );

    let mut worker = FakeWorker::connect(&app, identity, Vec::new()).await;
    let id = app.start_session("home", 1).await;
    assert_eq!(worker.run_job().await.session_id, id);

    let again = Identity::enroll_with_token(enroll_addr, &token, "home").await;
    let refusal = again
        .err()
        .unwrap_or_else(|| panic!("a spent token enrolled a worker"));
    assert_eq!(refusal.code(), tonic::Code::Unauthenticated, "{refusal}");
    assert!(refusal.message().contains("already used"), "{refusal}");
}
