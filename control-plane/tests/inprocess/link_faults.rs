//! A link that dies quietly and an identity used twice: a silent worker is
//! closed after the silence limit (three heartbeats) so its site can go to
//! another worker at once; a second copy of a connected worker is refused, told
//! why, and recorded once, while the first keeps working; once the first copy's
//! link is gone, the second is accepted.

use std::time::Duration;

use axum::http::StatusCode;
use tokio::time::Instant;

use claudeops_proto::v1 as pb;

use crate::fake_worker::FakeWorker;
use crate::identity::Identity;
use crate::support::{TestApp, eventually};

const SHORT_LIMIT: Duration = Duration::from_millis(300);

#[tokio::test]
async fn a_silent_worker_is_closed_and_the_next_session_goes_to_another() {
    let app = TestApp::with_silence_limit(SHORT_LIMIT).await;
    let mut silent = FakeWorker::connect_new(&app, "home").await;
    let connected = Instant::now();
    let registry = app.state.context.registry.clone();
    eventually("the silent worker to be unregistered", || {
        let gone = !registry.is_connected("w-home");
        async move { gone.then_some(()) }
    })
    .await;
    let detected = connected.elapsed();
    eprintln!("a silent link was closed {detected:?} after its welcome (limit {SHORT_LIMIT:?})");
    assert!(
        detected < SHORT_LIMIT * 4,
        "took {detected:?} for a limit of {SHORT_LIMIT:?}"
    );
    silent.closed_by_server().await;

    let (status, json) = app.trigger("home", 1).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("no worker of site home is connected")),
        "{json}"
    );

    let other = Identity::enroll(&app, "home", "w-home-2").await;
    let mut other = FakeWorker::connect(&app, other, Vec::new()).await;
    other.keep_alive(SHORT_LIMIT / 4);
    let session = app.start_session("home", 1).await;
    assert_eq!(other.run_job().await.session_id, session);
    // Heartbeats keep a link open past the limit.
    tokio::time::sleep(SHORT_LIMIT * 2).await;
    assert!(registry.is_connected("w-home-2"));
}

#[tokio::test]
async fn a_second_copy_of_a_connected_worker_is_refused_and_reported_once() {
    let app = TestApp::start().await;
    let identity = Identity::enroll(&app, "home", "w-home").await;
    let mut first = FakeWorker::try_connect(&app, identity.clone(), "host-a", Vec::new())
        .await
        .unwrap_or_else(|status| panic!("the first copy was refused: {status}"));
    for attempt in 1..=5 {
        let refused = FakeWorker::try_connect(&app, identity.clone(), "host-b", Vec::new())
            .await
            .err()
            .unwrap_or_else(|| panic!("attempt {attempt}: the second copy was accepted"));
        assert_eq!(refused.code(), tonic::Code::AlreadyExists, "{refused}");
        assert_eq!(
            refused.message(),
            "worker w-home is already connected from host-a; a second copy from host-b was refused: is its state dir copied?"
        );
    }

    let session = app.start_session("home", 1).await;
    assert_eq!(first.run_job().await.session_id, session);
    let record = app
        .state
        .context
        .store
        .get_worker("w-home")
        .await
        .unwrap_or_else(|e| panic!("reading the worker: {e}"))
        .unwrap_or_else(|| panic!("the worker is gone"));
    assert_eq!(record.hostname, "host-a", "a refused copy records nothing");

    let critical = app.events("level=critical").await;
    let about: Vec<_> = critical
        .iter()
        .filter(|e| e["message"].as_str().is_some_and(|m| m.contains("w-home")))
        .collect();
    assert_eq!(about.len(), 1, "{critical:?}");
}

#[tokio::test]
async fn a_worker_without_a_working_sandbox_is_news() {
    let app = TestApp::start().await;
    for (site, kind, level, needle) in [
        (
            "nobox",
            "unavailable",
            "critical",
            "refuses LLM sessions: no sandbox works there: bwrap: no permission",
        ),
        ("loose", "off", "warning", "runs sessions UNSANDBOXED"),
    ] {
        let identity = Identity::enroll(&app, site, &format!("w-{site}")).await;
        let sandbox = pb::SandboxState {
            kind: kind.to_owned(),
            detail: "bwrap: no permission".to_owned(),
        };
        let _worker = FakeWorker::try_connect_with(&app, identity, "host-s", Vec::new(), sandbox)
            .await
            .unwrap_or_else(|status| panic!("{status}"));
        let events = app.events(&format!("level={level}")).await;
        assert!(
            events
                .iter()
                .any(|e| e["message"].as_str().is_some_and(|m| m.contains(needle))),
            "{events:?}"
        );
    }
    // A sandboxed worker is not news.
    let _quiet = FakeWorker::connect_new(&app, "boxed").await;
    let all = app.events("").await;
    assert!(
        !all.iter()
            .any(|e| e["message"].as_str().is_some_and(|m| m.contains("w-boxed"))),
        "{all:?}"
    );
}

#[tokio::test]
async fn once_the_first_copy_is_gone_the_second_is_accepted() {
    let app = TestApp::start().await;
    let identity = Identity::enroll(&app, "home", "w-home").await;
    let first = FakeWorker::try_connect(&app, identity.clone(), "host-a", Vec::new())
        .await
        .unwrap_or_else(|status| panic!("the first copy was refused: {status}"));
    let refused = FakeWorker::try_connect(&app, identity.clone(), "host-b", Vec::new()).await;
    assert!(
        refused.is_err(),
        "accepted while the first copy is connected"
    );

    let _ = first.disconnect();
    let died = Instant::now();
    let mut second = eventually("the second copy to be accepted", || {
        let (app, identity) = (&app, identity.clone());
        async move {
            FakeWorker::try_connect(app, identity, "host-b", Vec::new())
                .await
                .ok()
        }
    })
    .await;
    let took = died.elapsed();
    eprintln!("the second copy was accepted {took:?} after the first one's link dropped");
    // Well inside the 30 s silence limit: the closed channel was enough.
    assert!(took < Duration::from_secs(5), "took {took:?}");

    let session = app.start_session("home", 1).await;
    assert_eq!(second.run_job().await.session_id, session);
    let workers = app.state.context.registry.list();
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0].hostname, "host-b");
}

/// Liveness stays up while readiness says the store is gone.
#[tokio::test]
async fn liveness_and_readiness_tell_a_broken_store_apart() {
    let app = TestApp::start().await;
    let (status, body) = app
        .request(axum::http::Method::GET, "/api/v1/health", None, false)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.state.context.store.close().await;
    let (status, body) = app
        .request(axum::http::Method::GET, "/api/v1/health", None, false)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "degraded");
    let (status, body) = app
        .request(axum::http::Method::GET, "/api/v1/health/live", None, false)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "alive");
}

/// A job whose worker's link dies before the worker confirmed it goes to
/// another worker of the site at once; the session keeps its id and says
/// where it went.
#[tokio::test]
async fn a_job_lost_with_its_link_goes_to_another_worker() {
    let app = TestApp::start().await;
    let mut first = FakeWorker::connect_new(&app, "home").await;
    let session = app.start_session("home", 1).await;
    assert_eq!(first.run_job_unconfirmed().await.session_id, session);
    let second = Identity::enroll(&app, "home", "w-home-2").await;
    let mut second = FakeWorker::connect(&app, second, Vec::new()).await;

    first.disconnect();
    assert_eq!(second.run_job().await.session_id, session);
    let moved = app.get(&format!("/api/v1/sessions/{session}")).await;
    assert_eq!(moved["status"], "running", "{moved}");
    assert_eq!(moved["worker_id"], "w-home-2", "{moved}");
    let events = app.events("level=warning").await;
    assert!(
        events.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.contains("moved from worker w-home to w-home-2"))),
        "{events:?}"
    );
}

/// A job no worker confirmed fails at once with the true reason, instead of
/// a session that looks started and fails later with a misleading one.
#[tokio::test]
async fn a_job_no_worker_confirmed_fails_with_the_reason() {
    let app = TestApp::start().await;
    let mut only = FakeWorker::connect_new(&app, "home").await;
    let session = app.start_session("home", 1).await;
    assert_eq!(only.run_job_unconfirmed().await.session_id, session);
    only.disconnect();
    let ended = eventually("the session to fail", || async {
        let s = app.get(&format!("/api/v1/sessions/{session}")).await;
        (s["status"] != "running").then_some(s)
    })
    .await;
    assert_eq!(ended["status"], "failed", "{ended}");
    let error = ended["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("the job never reached a worker")
            && error.contains("link was lost before it confirmed"),
        "{ended}"
    );
}
