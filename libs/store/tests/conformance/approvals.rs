//! Conformance cases of approval gates: a request holds its ledger slot, takes
//! one decision only, and a denial or an expiry gives the slot back.

use claudeops_core::Trigger;
use claudeops_core::approval::{ApprovalStatus, NewApproval};
use claudeops_store::{
    ActionFilter, ActionKind, ActionStatus, CooldownLimits, NewAction, Slot, StoreError,
};

use crate::{Fixture, new_session, site};

conformance!(approvals_hold_the_slot_and_decide_once,);

/// 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600_000;

async fn approvals_hold_the_slot_and_decide_once(f: &Fixture) {
    let s = &f.store;
    let session = s
        .create_session(&new_session("home", Trigger::Manual, T0))
        .await
        .expect("session");
    let limits = CooldownLimits::default();
    let redeploy = |now_ms| NewAction {
        site: site("home"),
        service: "web".into(),
        kind: ActionKind::Redeploy,
        session_id: Some(session.id),
        args: serde_json::json!({"service": "web"}),
        now_ms,
    };
    let Slot::Granted { id: held } = s
        .reserve_action(&redeploy(T0), &limits)
        .await
        .expect("reserve")
    else {
        panic!("the first redeploy is granted");
    };
    let request = |action_id, at| NewApproval {
        action_id,
        session_id: session.id,
        site: site("home"),
        service: "web".into(),
        kind: ActionKind::Redeploy,
        requested_at_ms: at,
        expires_at_ms: at + 600_000,
    };
    let pending = s
        .request_approval(&request(held, T0))
        .await
        .expect("request");
    assert_eq!(pending.status, ApprovalStatus::Pending);
    assert_eq!(pending.args, serde_json::json!({"service": "web"}));
    assert_eq!(pending.decided_by, None);
    assert_eq!(pending.what(), "redeploy of web");

    // While it waits, the slot is held: a second redeploy (limit 1) is refused.
    assert!(matches!(
        s.reserve_action(&redeploy(T0 + 1), &limits)
            .await
            .expect("again"),
        Slot::Denied { .. }
    ));

    // Denied: the slot is given back, and the decision is there once.
    let denied = s
        .settle_approval(
            pending.id,
            ApprovalStatus::Denied,
            Some("alice"),
            "not now",
            T0 + 5,
        )
        .await
        .expect("deny")
        .expect("was pending");
    assert_eq!(denied.status, ApprovalStatus::Denied);
    assert_eq!(denied.decided_by.as_deref(), Some("alice"));
    assert_eq!(denied.decided_at_ms, Some(T0 + 5));
    assert_eq!(denied.reason.as_deref(), Some("not now"));
    let again = s
        .settle_approval(
            pending.id,
            ApprovalStatus::Approved,
            Some("mallory"),
            "",
            T0 + 6,
        )
        .await
        .expect("second use");
    assert_eq!(again, None, "a request is decided once");
    let stored = s
        .get_approval(pending.id)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(stored.decided_by.as_deref(), Some("alice"));
    let actions = s
        .list_actions(&ActionFilter::default())
        .await
        .expect("actions");
    let action = actions
        .iter()
        .find(|a| a.id == held)
        .expect("the held entry");
    assert_eq!(action.status, ActionStatus::Denied);
    assert_eq!(action.result.as_deref(), Some("not now"));

    // The slot is free again; approved, the entry stays reserved for the action.
    let Slot::Granted { id: second } = s
        .reserve_action(&redeploy(T0 + 10), &limits)
        .await
        .expect("reserve")
    else {
        panic!("the slot was given back");
    };
    let next = s
        .request_approval(&request(second, T0 + 10))
        .await
        .expect("request");
    let approved = s
        .settle_approval(
            next.id,
            ApprovalStatus::Approved,
            Some("bob"),
            "approved",
            T0 + 11,
        )
        .await
        .expect("approve")
        .expect("was pending");
    assert_eq!(approved.status, ApprovalStatus::Approved);
    let actions = s
        .list_actions(&ActionFilter::default())
        .await
        .expect("actions");
    let action = actions.iter().find(|a| a.id == second).expect("entry");
    assert_eq!(action.status, ActionStatus::Reserved);

    // An approval after the deadline is refused (the request stays pending,
    // to be expired); an expiry still goes through.
    let higher = CooldownLimits {
        max_redeploys: 3,
        ..limits
    };
    let Slot::Granted { id: third } = s
        .reserve_action(&redeploy(T0 + 20), &higher)
        .await
        .expect("reserve")
    else {
        panic!("a third slot under a higher limit");
    };
    let late = s
        .request_approval(&request(third, T0 + 20))
        .await
        .expect("request");
    let deadline = late.expires_at_ms;
    let refused = s
        .settle_approval(
            late.id,
            ApprovalStatus::Approved,
            Some("bob"),
            "approved",
            deadline,
        )
        .await
        .expect("late");
    assert_eq!(refused, None);
    assert_eq!(
        s.get_approval(late.id)
            .await
            .expect("get")
            .map(|a| a.status),
        Some(ApprovalStatus::Pending)
    );
    let expired = s
        .settle_approval(
            late.id,
            ApprovalStatus::Expired,
            None,
            "no decision",
            deadline,
        )
        .await
        .expect("expire")
        .expect("was pending");
    assert_eq!(expired.status, ApprovalStatus::Expired);
    assert_eq!(expired.decided_by, None);

    // Listing: by session and status, newest first.
    let all = s
        .list_approvals(Some(session.id), None, 10)
        .await
        .expect("list");
    assert_eq!(
        all.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![late.id, next.id, pending.id]
    );
    let open = s
        .list_approvals(None, Some(ApprovalStatus::Pending), 10)
        .await
        .expect("pending");
    assert!(open.is_empty(), "{open:?}");
    assert!(
        s.list_approvals(Some(session.id + 99), None, 10)
            .await
            .expect("other")
            .is_empty()
    );

    // No such request; a decision that is no decision.
    assert!(matches!(
        s.settle_approval(next.id + 99, ApprovalStatus::Denied, None, "x", T0)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.settle_approval(next.id, ApprovalStatus::Pending, None, "x", T0)
            .await,
        Err(StoreError::Conflict(_))
    ));
    // A request needs a real ledger entry, and one request per entry.
    assert!(
        s.request_approval(&request(second + 999, T0))
            .await
            .is_err()
    );
    assert!(s.request_approval(&request(second, T0 + 12)).await.is_err());
}
