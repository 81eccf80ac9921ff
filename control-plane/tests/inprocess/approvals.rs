//! Approval gates over the link and HTTP: a gated action waits (its slot
//! held) until a human decides through a signed link, the session page or the
//! API; a link works once and only as signed; a denial, the deadline, the
//! session's end or a restart of the control plane refuse it and give the
//! slot back.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use claudeops_control_plane::config::Config;
use claudeops_core::approval::{Approval, ApprovalStatus, Decision};
use claudeops_core::ledger::ActionStatus;
use claudeops_core::tier::Tier;
use claudeops_store::ActionFilter;

use crate::fake_worker::FakeWorker;
use crate::support::{TestApp, eventually};

fn gated(c: &mut Config) {
    c.approval_tier = Some(Tier::Remediate);
    c.approval_kinds = vec!["restart".to_owned()];
    c.public_url = Some("http://127.0.0.1:8080".to_owned());
}

/// The one pending request, once the ledger has recorded it.
async fn pending(app: &TestApp) -> Approval {
    eventually("a pending approval request", || async {
        app.state
            .approvals
            .list(None, Some(ApprovalStatus::Pending), 10)
            .await
            .ok()
            .and_then(|mut list| (list.len() == 1).then(|| list.remove(0)))
    })
    .await
}

async fn action_status(app: &TestApp, id: i64) -> ActionStatus {
    app.state
        .context
        .store
        .list_actions(&ActionFilter::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("no ledger entry #{id}"))
        .status
}

fn query_of(path: &str) -> (String, String) {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let field = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_owned()
    };
    (field("decision"), field("sig"))
}

/// A worker whose tier-3 session asks for a redeploy of web (request 1), the
/// session, and the request, pending.
async fn waiting_redeploy(app: &TestApp) -> (FakeWorker, i64, Approval) {
    let mut worker = FakeWorker::connect_new(app, "home").await;
    let session = app.start_session("home", 3).await;
    worker.run_job().await;
    worker.ask(1, session, "redeploy", "web").await;
    let approval = pending(app).await;
    (worker, session, approval)
}

#[tokio::test]
async fn a_gated_redeploy_waits_for_its_signed_link_and_runs_once_approved() {
    let app = TestApp::with(gated).await;
    let (mut worker, session, approval) = waiting_redeploy(&app).await;
    assert_eq!(approval.session_id, session);
    assert_eq!(approval.what(), "redeploy of web");
    assert_eq!(
        action_status(&app, approval.action_id).await,
        ActionStatus::Reserved
    );
    // The session waits: no answer while nobody decides.
    worker
        .expect_none(
            "a ledger answer",
            Duration::from_millis(600),
            |body| match body {
                claudeops_proto::v1::control_message::Body::LedgerAnswer(a) => Some(a),
                _ => None,
            },
        )
        .await;
    // The held slot counts: a second redeploy of web is refused at once.
    let second = worker.reserve(2, session, "redeploy", "web").await;
    assert!(!second.granted, "{second:?}");
    // A restart is below tier 3 but listed in the kinds: it waits too.
    let restart = app
        .state
        .approvals
        .needed(claudeops_core::ledger::ActionKind::Restart);
    assert!(restart);

    let approve = app.state.approvals.link_path(&approval, Decision::Approve);
    let deny = app.state.approvals.link_path(&approval, Decision::Deny);
    let (decision, sig) = query_of(&approve);
    assert_eq!(decision, "approve");

    // A changed link is refused, plainly: no page, no detail of any request
    // (nor whether it exists).
    let tampered = format!("/approval/{}?decision=deny&sig={sig}", approval.id);
    let (status, page) = app.page(Method::GET, &tampered, "", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("This link is not valid"), "{page}");
    assert!(!page.contains("<form"), "{page}");
    assert!(!page.contains("web"), "nothing of the request: {page}");
    let (status, _) = app
        .page(
            Method::POST,
            &format!("/approval/{}", approval.id),
            "",
            &[("decision", "approve"), ("sig", "AAAA")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .page(
            Method::GET,
            &format!("/approval/{}?decision=approve&sig={sig}", approval.id + 7),
            "",
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "as for a bad signature");

    // Opening the link (no login) shows the action and one button, and
    // decides nothing: a mail scanner following it approves nothing.
    let (status, page) = app.page(Method::GET, &approve, "", &[]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Approve the redeploy</button>"), "{page}");
    assert!(
        page.contains(&format!(r#"name="sig" value="{sig}""#)),
        "{page}"
    );
    assert_eq!(pending(&app).await.id, approval.id);

    // The button decides, once.
    let (status, page) = app
        .page(
            Method::POST,
            &format!("/approval/{}", approval.id),
            "",
            &[("decision", "approve"), ("sig", &sig), ("name", "alice")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Approved: the session carries out the action now."),
        "{page}"
    );
    let answer = worker.ledger_answer(1).await;
    assert!(answer.granted, "{answer:?}");
    assert_eq!(answer.action_id, approval.action_id);
    assert_eq!(
        action_status(&app, approval.action_id).await,
        ActionStatus::Reserved
    );

    // Used: neither link decides again.
    let (deny_decision, deny_sig) = query_of(&deny);
    for (decision, sig) in [
        ("approve", sig.as_str()),
        (deny_decision.as_str(), deny_sig.as_str()),
    ] {
        let (status, page) = app
            .page(
                Method::POST,
                &format!("/approval/{}", approval.id),
                "",
                &[("decision", decision), ("sig", sig)],
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{page}");
        assert!(page.contains("Already approved"), "{page}");
    }
    let (status, body) = app
        .request(
            Method::POST,
            &format!("/api/v1/approvals/{}/deny", approval.id),
            None,
            true,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["approval"]["status"], "approved");

    // The audit record: who, when, and an event.
    let listed = app
        .get(&format!("/api/v1/approvals?session_id={session}"))
        .await;
    let record = &listed["approvals"][0];
    assert_eq!(record["status"], "approved", "{listed}");
    assert_eq!(record["decided_by"], "alice (signed link)");
    assert!(record["decided_at"].is_string());
    assert_eq!(record["args"]["service"], "web");
    let events = app.events("service=web").await;
    assert!(
        events.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!("approval #{} approved", approval.id)))),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!("approval requested (#{})", approval.id)))),
        "{events:?}"
    );
    let (status, body) = app
        .request(Method::GET, "/api/v1/approvals?status=maybe", None, true)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn denied_unanswered_and_button_decisions_reach_the_waiting_session() {
    let app = TestApp::with(|c| {
        gated(c);
        c.approval_timeout = Duration::from_secs(2);
    })
    .await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    let session = app.start_session("home", 2).await;
    worker.run_job().await;

    // Denied through the API: refused, the slot given back, the reason told.
    worker.ask(1, session, "restart", "web").await;
    let first = pending(&app).await;
    let (status, body) = app
        .request(
            Method::POST,
            &format!("/api/v1/approvals/{}/deny", first.id),
            None,
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decided_by"], "api token");
    let answer = worker.ledger_answer(1).await;
    assert!(!answer.granted, "{answer:?}");
    assert!(answer.reason.contains("denied by api token"), "{answer:?}");
    assert!(answer.reason.contains("Do not try it again"), "{answer:?}");
    assert_eq!(
        action_status(&app, first.action_id).await,
        ActionStatus::Denied
    );

    // Asked again in the same session, it is refused at once: a hostile
    // model cannot ask until someone approves.
    let again = worker.reserve(9, session, "restart", "web").await;
    assert!(!again.granted, "{again:?}");
    assert!(again.reason.contains("it is not asked again"), "{again:?}");
    assert_eq!(
        app.state
            .approvals
            .list(Some(session), None, 10)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .len(),
        1,
        "no second request"
    );

    // Nobody answers: denied at the deadline.
    worker.ask(2, session, "restart", "cache").await;
    let second = pending(&app).await;
    let answer = worker.ledger_answer(2).await;
    assert!(!answer.granted, "{answer:?}");
    assert!(
        answer.reason.contains("no decision within 2s"),
        "{answer:?}"
    );
    let expired = app
        .state
        .approvals
        .get(second.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(expired.map(|a| a.status), Some(ApprovalStatus::Expired));
    assert_eq!(
        action_status(&app, second.action_id).await,
        ActionStatus::Denied
    );

    // The session page's buttons: shown while pending, and they decide.
    worker.ask(3, session, "restart", "db").await;
    let third = pending(&app).await;
    let (cookie, csrf) = app.login();
    let (status, page) = app
        .page(Method::GET, &format!("/sessions/{session}"), &cookie, &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!(
            r#"<input type="hidden" name="approval" value="{}">"#,
            third.id
        )),
        "{page}"
    );
    assert!(
        page.contains("Denied by api token"),
        "the earlier decision is on the page"
    );
    let (status, _) = app
        .page(
            Method::POST,
            &format!("/sessions/{session}/decide"),
            &cookie,
            &[
                ("approval", &third.id.to_string()),
                ("decision", "approve"),
                ("csrf", "forged"),
            ],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "a forged form goes to the login"
    );
    let (status, _) = app
        .page(
            Method::POST,
            &format!("/sessions/{}/decide", session + 1),
            &cookie,
            &[
                ("approval", &third.id.to_string()),
                ("decision", "approve"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "only the session's own requests"
    );
    let (status, _) = app
        .page(
            Method::POST,
            &format!("/sessions/{session}/decide"),
            &cookie,
            &[
                ("approval", &third.id.to_string()),
                ("decision", "approve"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let answer = worker.ledger_answer(3).await;
    assert!(answer.granted, "{answer:?}");
    assert_eq!(answer.action_id, third.action_id);
    let decided = app
        .state
        .approvals
        .get(third.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        decided.and_then(|a| a.decided_by).as_deref(),
        Some("api token")
    );
}

#[tokio::test]
async fn a_session_that_ends_or_a_restart_leaves_nothing_waiting() {
    let app = TestApp::with(gated).await;
    let (mut worker, session, approval) = waiting_redeploy(&app).await;
    worker
        .finish(session, 0, 0.01, &crate::support::no_escalation("done"))
        .await;
    let answer = worker.ledger_answer(1).await;
    assert!(!answer.granted, "{answer:?}");
    assert!(
        answer
            .reason
            .contains("the session ended before a decision"),
        "{answer:?}"
    );
    assert_eq!(
        action_status(&app, approval.action_id).await,
        ActionStatus::Denied
    );

    // A session an operator stops: its request ends at once, even before
    // the worker reports the session's end.
    let stopped = app.start_session("home", 3).await;
    worker.run_job().await;
    worker.ask(3, stopped, "redeploy", "db").await;
    pending(&app).await;
    let (status, body) = app
        .request(
            Method::POST,
            &format!("/api/v1/sessions/{stopped}/stop"),
            None,
            true,
        )
        .await;
    assert!(status.is_success(), "{status}: {body}");
    let answer = worker.ledger_answer(3).await;
    assert!(!answer.granted, "{answer:?}");
    assert!(answer.reason.contains("the session ended"), "{answer:?}");
    worker
        .finish(stopped, 0, 0.01, &crate::support::no_escalation("stopped"))
        .await;
    eventually("the stopped session to end", || async {
        let s = app.state.context.store.get_session(stopped).await.ok()??;
        (s.status != claudeops_core::SessionStatus::Running).then_some(())
    })
    .await;

    // A request left pending when the control plane stops is closed at start.
    let next = app.start_session("home", 3).await;
    worker.run_job().await;
    worker.ask(2, next, "redeploy", "web").await;
    let left = pending(&app).await;
    drop(worker);
    let app = app.restarted().await;
    let closed = app
        .state
        .approvals
        .get(left.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let closed = closed.unwrap_or_else(|| panic!("the request is kept"));
    assert_eq!(closed.status, ApprovalStatus::Expired);
    assert!(
        closed
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("restarted")),
        "{closed:?}"
    );
    assert_eq!(
        action_status(&app, left.action_id).await,
        ActionStatus::Denied
    );
}
