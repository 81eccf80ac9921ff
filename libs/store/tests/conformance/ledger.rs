//! Conformance cases of the cooldown ledger: limits, windows, finishing,
//! cooldowns, stale reservations and the reservation race.

use std::sync::Arc;
use std::time::Instant;

use claudeops_core::Trigger;
use claudeops_store::{
    ActionFilter, ActionKind, ActionRecord, ActionStatus, CooldownLimits, CooldownRow, NewAction,
    Slot, StoreError,
};
use tokio::sync::Barrier;

use crate::{Fixture, expect_err, new_session, site};

conformance!(
    ledger_grants_up_to_the_limit,
    ledger_released_frees_a_slot_failed_does_not,
    ledger_window_slides,
    ledger_keys_are_independent,
    ledger_finish_changes_reserved_only,
    ledger_lists_and_links_sessions,
    ledger_cooldowns,
    ledger_releases_stale_reservations,
    ledger_race_grants_exactly_the_limit,
);

const HOUR: i64 = 3_600_000;
/// 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600_000;

fn action(site_name: &str, service: &str, kind: ActionKind, now_ms: i64) -> NewAction {
    NewAction {
        site: site(site_name),
        service: service.into(),
        kind,
        session_id: None,
        args: serde_json::json!({"container": service, "flags": ["--force"]}),
        now_ms,
    }
}

async fn reserve(f: &Fixture, new: &NewAction) -> Slot {
    f.store
        .reserve_action(new, &CooldownLimits::default())
        .await
        .expect("reserve")
}

async fn granted(f: &Fixture, new: &NewAction) -> i64 {
    match reserve(f, new).await {
        Slot::Granted { id } => id,
        denied => panic!("expected a grant for {new:?}, got {denied:?}"),
    }
}

/// The denial's (count, limit, next_allowed_ms) and reason.
async fn denied(f: &Fixture, new: &NewAction) -> (u32, u32, i64, String) {
    match reserve(f, new).await {
        Slot::Denied {
            reason,
            count,
            limit,
            next_allowed_ms,
        } => (count, limit, next_allowed_ms, reason),
        Slot::Granted { id } => panic!("expected a denial for {new:?}, got grant {id}"),
    }
}

async fn finish(f: &Fixture, id: i64, status: ActionStatus, at: i64) -> ActionRecord {
    f.store
        .finish_action(id, status, "done", at)
        .await
        .expect("finish")
        .expect("was reserved")
}

async fn all_actions(f: &Fixture) -> Vec<ActionRecord> {
    f.store
        .list_actions(&ActionFilter {
            limit: 10_000,
            ..ActionFilter::default()
        })
        .await
        .expect("list")
}

async fn ledger_grants_up_to_the_limit(f: &Fixture) {
    let restart = |at| action("home", " Web ", ActionKind::Restart, at);
    let first = granted(f, &restart(T0)).await;
    let second = granted(f, &restart(T0 + 10)).await;
    assert_ne!(first, second);
    let (count, limit, next, reason) = denied(f, &restart(T0 + 20)).await;
    assert_eq!((count, limit, next), (2, 2, T0 + 4 * HOUR));
    assert_eq!(
        reason,
        "service web had 2 restarts in the last 4h (limit 2); \
         next allowed at 2025-01-01T04:00:00Z"
    );
    // Still denied a millisecond before, granted at the announced time.
    assert_eq!(
        denied(f, &restart(T0 + 4 * HOUR - 1)).await.2,
        T0 + 4 * HOUR
    );
    granted(f, &restart(T0 + 4 * HOUR)).await;

    // Redeploys: one per 24 h.
    let redeploy = |at| action("home", "web", ActionKind::Redeploy, at);
    granted(f, &redeploy(T0)).await;
    let (count, limit, next, reason) = denied(f, &redeploy(T0 + HOUR)).await;
    assert_eq!((count, limit, next), (1, 1, T0 + 24 * HOUR));
    assert_eq!(
        reason,
        "service web had 1 redeploy in the last 24h (limit 1); \
         next allowed at 2025-01-02T00:00:00Z"
    );

    // Denials are recorded, with their reason, and do not count.
    let all = all_actions(f).await;
    assert_eq!(all.len(), 7);
    let denials: Vec<&ActionRecord> = all
        .iter()
        .filter(|a| a.status == ActionStatus::Denied)
        .collect();
    assert_eq!(denials.len(), 3);
    for d in &denials {
        assert!(
            d.result
                .as_deref()
                .is_some_and(|r| r.starts_with("service web had")),
            "{d:?}"
        );
        assert_eq!(d.finished_at_ms, Some(d.reserved_at_ms));
        assert_eq!(d.duration_ms, None);
    }
    let first = all.iter().find(|a| a.id == first).expect("first");
    assert_eq!(first.status, ActionStatus::Reserved);
    assert_eq!(first.service, "web", "normalised");
    assert_eq!(first.site, site("home"));
    assert_eq!(first.kind, ActionKind::Restart);
    assert_eq!(
        first.args,
        serde_json::json!({"container": " Web ", "flags": ["--force"]})
    );
    assert_eq!(
        (
            first.reserved_at_ms,
            first.finished_at_ms,
            first.duration_ms
        ),
        (T0, None, None)
    );
    assert_eq!(first.result, None);

    // Custom limits apply per call; a limit of 0 never grants.
    let strict = CooldownLimits {
        max_restarts: 0,
        ..CooldownLimits::default()
    };
    let never = f
        .store
        .reserve_action(&action("home", "db", ActionKind::Restart, T0), &strict)
        .await
        .expect("reserve");
    assert_eq!(
        never,
        Slot::Denied {
            reason: "service db: restarts are disabled (limit 0)".into(),
            count: 0,
            limit: 0,
            next_allowed_ms: i64::MAX,
        }
    );

    // Invalid services are refused before anything is stored.
    for bad in ["", "   ", &"s".repeat(201)] {
        let refused = expect_err(
            f.store
                .reserve_action(
                    &action("home", bad, ActionKind::Restart, T0),
                    &CooldownLimits::default(),
                )
                .await,
        );
        assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
    }
    assert_eq!(all_actions(f).await.len(), 8);
}

async fn ledger_released_frees_a_slot_failed_does_not(f: &Fixture) {
    let restart = |at| action("home", "web", ActionKind::Restart, at);
    let a = granted(f, &restart(T0)).await;
    let b = granted(f, &restart(T0 + 1)).await;
    denied(f, &restart(T0 + 2)).await;

    // Released: nothing was done, the slot is free again.
    let released = finish(f, a, ActionStatus::Released, T0 + 3).await;
    assert_eq!(released.status, ActionStatus::Released);
    let c = granted(f, &restart(T0 + 4)).await;
    denied(f, &restart(T0 + 5)).await;

    // Failed: the action may have happened, it keeps counting.
    finish(f, b, ActionStatus::Failed, T0 + 6).await;
    finish(f, c, ActionStatus::Succeeded, T0 + 7).await;
    let (count, _, next, _) = denied(f, &restart(T0 + 8)).await;
    assert_eq!((count, next), (2, T0 + 1 + 4 * HOUR));
    granted(f, &restart(T0 + 1 + 4 * HOUR)).await;
}

async fn ledger_window_slides(f: &Fixture) {
    let restart = |at| action("home", "web", ActionKind::Restart, at);
    let t = T0;
    let a = granted(f, &restart(t)).await;
    let b = granted(f, &restart(t + HOUR)).await;
    finish(f, a, ActionStatus::Succeeded, t + 1_000).await;
    finish(f, b, ActionStatus::Succeeded, t + HOUR + 1_000).await;
    assert_eq!(denied(f, &restart(t + 2 * HOUR)).await.2, t + 4 * HOUR);
    // t has left the window; t + 1h has not.
    granted(f, &restart(t + 4 * HOUR + 1)).await;
    assert_eq!(denied(f, &restart(t + 4 * HOUR + 2)).await.2, t + 5 * HOUR);
    granted(f, &restart(t + 5 * HOUR + 1)).await;
    let (count, _, next, _) = denied(f, &restart(t + 6 * HOUR)).await;
    assert_eq!((count, next), (2, t + 8 * HOUR + 1));
}

async fn ledger_keys_are_independent(f: &Fixture) {
    for at in [T0, T0 + 1] {
        granted(f, &action("home", "web", ActionKind::Restart, at)).await;
    }
    denied(f, &action("home", "web", ActionKind::Restart, T0 + 2)).await;
    // Another kind, another service, another site: untouched.
    granted(f, &action("home", "web", ActionKind::Redeploy, T0 + 3)).await;
    granted(f, &action("home", "db", ActionKind::Restart, T0 + 4)).await;
    granted(f, &action("home", "db", ActionKind::Restart, T0 + 5)).await;
    granted(f, &action("lab", "web", ActionKind::Restart, T0 + 6)).await;
    granted(f, &action("lab", "web", ActionKind::Restart, T0 + 7)).await;
    denied(f, &action("home", "web", ActionKind::Redeploy, T0 + 8)).await;
    denied(f, &action("home", "db", ActionKind::Restart, T0 + 9)).await;
    denied(f, &action("lab", "web", ActionKind::Restart, T0 + 10)).await;
    granted(f, &action("lab", "web", ActionKind::Redeploy, T0 + 11)).await;
    // Service names match after normalisation.
    denied(f, &action("home", "  WEB", ActionKind::Restart, T0 + 12)).await;
}

async fn ledger_finish_changes_reserved_only(f: &Fixture) {
    let s = &f.store;
    let restart = |at| action("home", "web", ActionKind::Restart, at);
    let id = granted(f, &restart(T0)).await;

    for wrong in [ActionStatus::Reserved, ActionStatus::Denied] {
        let refused = expect_err(s.finish_action(id, wrong, "x", T0 + 1).await);
        assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
    }
    let done = s
        .finish_action(
            id,
            ActionStatus::Succeeded,
            "restarted web (exit 0)",
            T0 + 2_500,
        )
        .await
        .expect("finish")
        .expect("was reserved");
    assert_eq!(done.id, id);
    assert_eq!(done.status, ActionStatus::Succeeded);
    assert_eq!(done.result.as_deref(), Some("restarted web (exit 0)"));
    assert_eq!(
        (done.finished_at_ms, done.duration_ms),
        (Some(T0 + 2_500), Some(2_500))
    );

    // A second finish changes nothing.
    for again in [
        ActionStatus::Failed,
        ActionStatus::Released,
        ActionStatus::Succeeded,
    ] {
        assert_eq!(
            s.finish_action(id, again, "late", T0 + 9_000)
                .await
                .expect("finish"),
            None
        );
    }
    let stored = all_actions(f).await;
    assert_eq!(stored, vec![done]);

    // A denied entry cannot be finished either.
    granted(f, &restart(T0 + 1)).await;
    let (.., reason) = denied(f, &restart(T0 + 2)).await;
    let denied_row = all_actions(f).await.into_iter().next().expect("newest");
    assert_eq!(denied_row.status, ActionStatus::Denied);
    assert_eq!(denied_row.result.as_deref(), Some(reason.as_str()));
    assert_eq!(
        s.finish_action(denied_row.id, ActionStatus::Released, "x", T0 + 3)
            .await
            .expect("finish"),
        None
    );

    let missing = expect_err(
        s.finish_action(id + 1_000, ActionStatus::Succeeded, "x", T0)
            .await,
    );
    assert!(matches!(missing, StoreError::NotFound), "{missing}");

    // Long results are cut.
    let long = s
        .finish_action(
            granted(f, &action("home", "db", ActionKind::Restart, T0)).await,
            ActionStatus::Failed,
            &"é".repeat(5_000),
            T0 + 1,
        )
        .await
        .expect("finish")
        .expect("was reserved");
    assert_eq!(long.result.map(|r| r.chars().count()), Some(4_000));
}

async fn ledger_lists_and_links_sessions(f: &Fixture) {
    let s = &f.store;
    let session = s
        .create_session(&new_session("home", Trigger::Manual, T0))
        .await
        .expect("session");
    let mut new = action("home", "web", ActionKind::Restart, T0);
    new.session_id = Some(session.id);
    let a = granted(f, &new).await;
    new.now_ms = T0 + 1;
    let b = granted(f, &new).await;
    new.now_ms = T0 + 2;
    let c = match reserve(f, &new).await {
        Slot::Denied { .. } => all_actions(f).await[0].id,
        other => panic!("{other:?}"),
    };
    let other_site = granted(f, &action("lab", "web", ActionKind::Restart, T0 + 3)).await;
    let other_service = granted(f, &action("home", "db", ActionKind::Restart, T0 + 4)).await;

    new.session_id = Some(session.id + 1_000);
    let refused = expect_err(s.reserve_action(&new, &CooldownLimits::default()).await);
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");

    let ids = |list: Vec<ActionRecord>| list.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(
        ids(all_actions(f).await),
        vec![other_service, other_site, c, b, a],
        "newest first"
    );
    let by_session = s
        .list_actions(&ActionFilter {
            session_id: Some(session.id),
            ..ActionFilter::default()
        })
        .await
        .expect("list");
    assert!(by_session.iter().all(|r| r.session_id == Some(session.id)));
    assert_eq!(ids(by_session), vec![c, b, a]);
    let by_site = s
        .list_actions(&ActionFilter {
            site: Some(site("home")),
            ..ActionFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(ids(by_site), vec![other_service, c, b, a]);
    let by_service = s
        .list_actions(&ActionFilter {
            service: Some(" WEB ".into()),
            site: Some(site("home")),
            ..ActionFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(ids(by_service), vec![c, b, a]);
    let invalid = s
        .list_actions(&ActionFilter {
            service: Some("  ".into()),
            ..ActionFilter::default()
        })
        .await
        .expect("list");
    assert!(invalid.is_empty());
    let page = s
        .list_actions(&ActionFilter {
            limit: 2,
            offset: 1,
            ..ActionFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(ids(page), vec![other_site, c]);
}

async fn ledger_cooldowns(f: &Fixture) {
    let s = &f.store;
    let limits = CooldownLimits::default();
    assert!(
        s.cooldowns(&limits, T0)
            .await
            .expect("cooldowns")
            .is_empty()
    );

    let now = T0 + 30 * HOUR;
    // web restarts: two in the window (one failed), one released, one denied.
    let a = granted(
        f,
        &action("home", "web", ActionKind::Restart, now - 3 * HOUR),
    )
    .await;
    finish(f, a, ActionStatus::Failed, now - 3 * HOUR + 5).await;
    let b = granted(
        f,
        &action("home", "web", ActionKind::Restart, now - 2 * HOUR),
    )
    .await;
    finish(f, b, ActionStatus::Released, now - 2 * HOUR + 5).await;
    granted(f, &action("home", "web", ActionKind::Restart, now - HOUR)).await;
    denied(
        f,
        &action("home", "web", ActionKind::Restart, now - HOUR / 2),
    )
    .await;
    // db: a redeploy within 24 h (full), a restart 10 h ago (outside its window).
    let r = granted(
        f,
        &action("home", "db", ActionKind::Redeploy, now - 20 * HOUR),
    )
    .await;
    finish(f, r, ActionStatus::Succeeded, now - 20 * HOUR + 60_000).await;
    granted(
        f,
        &action("home", "db", ActionKind::Restart, now - 10 * HOUR),
    )
    .await;
    // lab: only a released redeploy, and one restart older than every window.
    let l = granted(f, &action("lab", "api", ActionKind::Redeploy, now - HOUR)).await;
    finish(f, l, ActionStatus::Released, now - HOUR + 1).await;
    granted(
        f,
        &action("lab", "old", ActionKind::Restart, now - 25 * HOUR),
    )
    .await;

    let rows = s.cooldowns(&limits, now).await.expect("cooldowns");
    let row = |site_name: &str, service: &str, kind, count, limit, last, next| CooldownRow {
        site: site(site_name),
        service: String::from(service),
        kind,
        count_in_window: count,
        limit,
        last_action_ms: last,
        next_allowed_ms: next,
    };
    assert_eq!(
        rows,
        vec![
            row(
                "home",
                "db",
                ActionKind::Restart,
                0,
                2,
                Some(now - 10 * HOUR),
                None
            ),
            row(
                "home",
                "db",
                ActionKind::Redeploy,
                1,
                1,
                Some(now - 20 * HOUR),
                Some(now + 4 * HOUR)
            ),
            row(
                "home",
                "web",
                ActionKind::Restart,
                2,
                2,
                Some(now - HOUR),
                Some(now + HOUR)
            ),
            row("lab", "api", ActionKind::Redeploy, 0, 1, None, None),
        ]
    );

    // Later, the web slot frees up and the row says so.
    let later = s.cooldowns(&limits, now + HOUR).await.expect("cooldowns");
    let web = later.iter().find(|r| r.service == "web").expect("web row");
    assert_eq!((web.count_in_window, web.next_allowed_ms), (1, None));
}

async fn ledger_releases_stale_reservations(f: &Fixture) {
    let s = &f.store;
    let restart = |service: &str, at| action("home", service, ActionKind::Restart, at);
    let stale = granted(f, &restart("web", T0)).await;
    let finished = granted(f, &restart("db", T0)).await;
    finish(f, finished, ActionStatus::Succeeded, T0 + 10).await;
    let fresh = granted(f, &restart("api", T0 + HOUR)).await;

    assert_eq!(
        s.release_stale_reservations(T0).await.expect("release"),
        0,
        "strictly older"
    );
    assert_eq!(
        s.release_stale_reservations(T0 + HOUR)
            .await
            .expect("release"),
        1
    );
    assert_eq!(
        s.release_stale_reservations(T0 + HOUR)
            .await
            .expect("release"),
        0
    );

    let all = all_actions(f).await;
    let get = |id| all.iter().find(|a| a.id == id).expect("row").clone();
    let abandoned = get(stale);
    assert_eq!(abandoned.status, ActionStatus::Failed);
    assert_eq!(abandoned.result.as_deref(), Some("abandoned"));
    assert_eq!(get(finished).status, ActionStatus::Succeeded);
    assert_eq!(get(finished).result.as_deref(), Some("done"));
    assert_eq!(get(fresh).status, ActionStatus::Reserved);
    // Abandoned reservations still count; they cannot be finished any more.
    assert_eq!(
        s.finish_action(stale, ActionStatus::Succeeded, "late", T0 + 2 * HOUR)
            .await
            .expect("finish"),
        None
    );
    granted(f, &restart("web", T0 + 1)).await;
    let (count, ..) = denied(f, &restart("web", T0 + 2)).await;
    assert_eq!(count, 2);
}

async fn ledger_race_grants_exactly_the_limit(f: &Fixture) {
    const TASKS: usize = 500;
    let barrier = Arc::new(Barrier::new(TASKS));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        let store = f.store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let at = T0 + i64::try_from(i).unwrap_or_default();
            store
                .reserve_action(
                    &action("race", "web", ActionKind::Restart, at),
                    &CooldownLimits::default(),
                )
                .await
        }));
    }
    let mut grants = Vec::new();
    let mut denials = 0;
    for task in tasks {
        match task.await.expect("task").expect("reserve") {
            Slot::Granted { id } => grants.push(id),
            Slot::Denied { count, limit, .. } => {
                assert_eq!((count, limit), (2, 2));
                denials += 1;
            }
        }
    }
    eprintln!(
        "ledger race on {}: {TASKS} concurrent reservations in {:?}",
        f.store.backend().as_str(),
        started.elapsed()
    );
    assert_eq!(grants.len(), 2, "exactly the limit is granted");
    assert_eq!(denials, TASKS - 2);

    let all = all_actions(f).await;
    assert_eq!(all.len(), TASKS, "every attempt is recorded");
    let counted: Vec<&ActionRecord> = all.iter().filter(|a| a.status.counts()).collect();
    assert_eq!(counted.len(), 2, "exactly two counted rows");
    let mut counted_ids: Vec<i64> = counted.iter().map(|a| a.id).collect();
    counted_ids.sort_unstable();
    grants.sort_unstable();
    assert_eq!(counted_ids, grants);
    let cooldowns = f
        .store
        .cooldowns(&CooldownLimits::default(), T0 + 1_000)
        .await
        .expect("cooldowns");
    assert_eq!(cooldowns.len(), 1);
    assert_eq!(cooldowns[0].count_in_window, 2);
}
