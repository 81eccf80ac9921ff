//! Conformance cases of sessions and their output: the one running session per
//! site, listing and filtering, idempotent output.

use std::sync::Arc;

use claudeops_core::{SessionOutcome, SessionStatus, Tier, Trigger};
use claudeops_store::{OutputLine, SessionFilter, StoreError};
use tokio::sync::Barrier;

use crate::{Fixture, expect_err, new_session, outcome, site};

conformance!(
    sessions_round_trip,
    one_running_session_per_site,
    concurrent_creates_one_winner,
    lists_and_filters_sessions,
    output_is_idempotent,
    contiguous_output_stops_at_the_first_hole,
    a_job_never_confirmed_did_not_run,
    a_stop_is_recorded_until_the_session_ends,
    output_retention_keeps_the_sessions,
);

fn line(seq: i64) -> OutputLine {
    OutputLine {
        seq,
        ts_ms: 1_000 + seq,
        line: format!("{{\"type\":\"assistant\",\"n\":{seq},\"text\":\"héllo ✓\"}}"),
        malformed: seq % 3 == 0,
    }
}

async fn sessions_round_trip(f: &Fixture) {
    let s = &f.store;
    let mut new = new_session("home-lab", Trigger::Escalation, 1_000);
    new.tier = Tier::Investigate;
    new.model = "sonnet".into();
    new.prompt = Some("check nginx".into());
    new.worker_id = Some("w-1".into());
    let created = s.create_session(&new).await.expect("create");
    assert_eq!(created.site, new.site);
    assert_eq!(created.status, SessionStatus::Running);
    assert_eq!(created.tier, Tier::Investigate);
    assert_eq!(created.model, "sonnet");
    assert_eq!(created.trigger, Trigger::Escalation);
    assert_eq!(created.prompt.as_deref(), Some("check nginx"));
    assert_eq!(created.worker_id.as_deref(), Some("w-1"));
    assert_eq!((created.started_at_ms, created.ended_at_ms), (1_000, None));
    assert_eq!(
        s.get_session(created.id).await.expect("get"),
        Some(created.clone())
    );
    assert_eq!(s.get_session(created.id + 1000).await.expect("get"), None);

    let running_outcome = outcome(SessionStatus::Running, 2_000);
    let refused = expect_err(s.finish_session(created.id, &running_outcome).await);
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");

    let done = outcome(SessionStatus::Completed, 2_000);
    let finished = s
        .finish_session(created.id, &done)
        .await
        .expect("finish")
        .expect("was running");
    assert_eq!(finished.status, SessionStatus::Completed);
    assert_eq!(finished.ended_at_ms, Some(2_000));
    assert_eq!(finished.cost_usd, 0.25);
    assert_eq!(finished.turns, 4);
    assert_eq!(finished.exit_code, Some(0));
    assert_eq!(finished.response.as_deref(), Some("all healthy"));
    assert_eq!(finished.structured, done.structured);
    assert_eq!(finished.error, None);
    assert_eq!(
        s.get_session(created.id).await.expect("get"),
        Some(finished.clone())
    );

    // A second finish changes nothing.
    let mut late = outcome(SessionStatus::Failed, 3_000);
    late.error = Some("late".into());
    assert_eq!(
        s.finish_session(created.id, &late).await.expect("finish"),
        None
    );
    assert_eq!(
        s.get_session(created.id).await.expect("get"),
        Some(finished)
    );

    let missing = expect_err(s.finish_session(created.id + 1000, &done).await);
    assert!(matches!(missing, StoreError::NotFound), "{missing}");

    // Escalation chains reference their parent; a missing parent is refused.
    let mut child = new_session("home-lab", Trigger::Escalation, 4_000);
    child.parent_id = Some(created.id);
    child.tier = Tier::Remediate;
    let child = s.create_session(&child).await.expect("child");
    assert_eq!(child.parent_id, Some(created.id));
    let children = s.child_sessions(created.id).await.expect("children");
    assert_eq!(
        children.iter().map(|c| c.id).collect::<Vec<_>>(),
        [child.id]
    );
    assert!(s.child_sessions(child.id).await.expect("none").is_empty());
    let mut orphan = new_session("other", Trigger::Escalation, 4_000);
    orphan.parent_id = Some(created.id + 1000);
    let refused = expect_err(s.create_session(&orphan).await);
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");

    let failed = SessionOutcome {
        status: SessionStatus::TimedOut,
        ended_at_ms: 5_000,
        cost_usd: 0.0,
        turns: 0,
        exit_code: None,
        response: None,
        structured: None,
        error: Some("timed out after 30 min".into()),
    };
    let child = s
        .finish_session(child.id, &failed)
        .await
        .expect("finish")
        .expect("was running");
    assert_eq!(child.status, SessionStatus::TimedOut);
    assert_eq!((child.exit_code, child.structured), (None, None));
    assert_eq!(child.error.as_deref(), Some("timed out after 30 min"));
}

async fn one_running_session_per_site(f: &Fixture) {
    let s = &f.store;
    let first = s
        .create_session(&new_session("alpha", Trigger::Scheduled, 1))
        .await
        .expect("first");
    let busy = expect_err(
        s.create_session(&new_session("alpha", Trigger::Manual, 2))
            .await,
    );
    match busy {
        StoreError::SiteBusy { running } => assert_eq!(running, first.id),
        other => panic!("expected SiteBusy, got {other}"),
    }

    // Another site runs at the same time.
    let beta = s
        .create_session(&new_session("beta", Trigger::Manual, 3))
        .await
        .expect("other site");
    let running: Vec<_> = s
        .running_sessions()
        .await
        .expect("running")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(running, vec![first.id, beta.id]);

    // Finishing frees the site.
    s.finish_session(first.id, &outcome(SessionStatus::Stopped, 4))
        .await
        .expect("finish");
    let second = s
        .create_session(&new_session("alpha", Trigger::Manual, 5))
        .await
        .expect("after finish");
    assert_ne!(second.id, first.id);
    let running: Vec<_> = s
        .running_sessions()
        .await
        .expect("running")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(running, vec![beta.id, second.id]);
}

async fn concurrent_creates_one_winner(f: &Fixture) {
    const TASKS: usize = 20;
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let store = f.store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let at = i64::try_from(i).unwrap_or_default();
            store
                .create_session(&new_session("race", Trigger::Api, at))
                .await
        }));
    }
    let mut winners = Vec::new();
    let mut busy = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            Ok(session) => winners.push(session.id),
            Err(StoreError::SiteBusy { running }) => busy.push(running),
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create wins");
    assert_eq!(busy.len(), TASKS - 1);
    assert!(busy.iter().all(|id| *id == winners[0]), "{busy:?}");
    assert_eq!(f.store.running_sessions().await.expect("running").len(), 1);
}

async fn lists_and_filters_sessions(f: &Fixture) {
    let s = &f.store;
    let mut ids = Vec::new();
    for (i, (name, trigger)) in [
        ("one", Trigger::Scheduled),
        ("two", Trigger::Scheduled),
        ("one", Trigger::Manual),
        ("one", Trigger::Scheduled),
        ("two", Trigger::Incident),
    ]
    .into_iter()
    .enumerate()
    {
        let at = 1_000 * (i64::try_from(i).unwrap_or_default() + 1);
        let created = s
            .create_session(&new_session(name, trigger, at))
            .await
            .expect("create");
        s.confirm_session(created.id, at + 1)
            .await
            .expect("confirm");
        s.finish_session(created.id, &outcome(SessionStatus::Completed, at + 10))
            .await
            .expect("finish");
        ids.push(created.id);
    }

    let all = s
        .list_sessions(&SessionFilter::default())
        .await
        .expect("list");
    let listed: Vec<_> = all.iter().map(|x| x.id).collect();
    assert_eq!(
        listed,
        ids.iter().rev().copied().collect::<Vec<_>>(),
        "newest first"
    );

    let one = SessionFilter {
        site: Some(site("one")),
        limit: 2,
        offset: 0,
    };
    let page1: Vec<_> = s
        .list_sessions(&one)
        .await
        .expect("page")
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(page1, vec![ids[3], ids[2]]);
    let page2 = SessionFilter {
        offset: 2,
        ..one.clone()
    };
    let page2: Vec<_> = s
        .list_sessions(&page2)
        .await
        .expect("page")
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(page2, vec![ids[0]]);
    let beyond = SessionFilter { offset: 10, ..one };
    assert!(s.list_sessions(&beyond).await.expect("page").is_empty());

    let last = |name: &'static str, trigger| {
        let store = s.clone();
        async move {
            store
                .last_session_started(&site(name), trigger)
                .await
                .expect("last")
        }
    };
    assert_eq!(last("one", Trigger::Scheduled).await, Some(4_000));
    assert_eq!(last("one", Trigger::Manual).await, Some(3_000));
    assert_eq!(last("two", Trigger::Incident).await, Some(5_000));
    assert_eq!(last("two", Trigger::Manual).await, None);
    assert_eq!(last("nowhere", Trigger::Scheduled).await, None);

    assert!(s.running_sessions().await.expect("running").is_empty());

    s.set_session_worker(ids[0], "worker-7")
        .await
        .expect("set worker");
    let got = s.get_session(ids[0]).await.expect("get").expect("exists");
    assert_eq!(got.worker_id.as_deref(), Some("worker-7"));
    let missing = expect_err(s.set_session_worker(ids[4] + 1000, "worker-7").await);
    assert!(matches!(missing, StoreError::NotFound), "{missing}");
}

async fn contiguous_output_stops_at_the_first_hole(f: &Fixture) {
    let s = &f.store;
    let id = s
        .create_session(&new_session("holes", Trigger::Manual, 1))
        .await
        .expect("create")
        .id;
    // Lines 2..4 without line 1: nothing is contiguous yet.
    s.append_output(id, &(2..=4).map(line).collect::<Vec<_>>())
        .await
        .expect("append");
    assert_eq!(s.contiguous_output(id).await.expect("no line 1"), 0);
    s.append_output(id, &[line(1), line(7), line(8)])
        .await
        .expect("append");
    assert_eq!(s.contiguous_output(id).await.expect("hole at 5"), 4);
    s.append_output(id, &[line(5), line(6)])
        .await
        .expect("fill");
    assert_eq!(s.contiguous_output(id).await.expect("filled"), 8);
}

async fn output_is_idempotent(f: &Fixture) {
    let s = &f.store;
    let session = s
        .create_session(&new_session("out", Trigger::Manual, 1))
        .await
        .expect("create");
    let id = session.id;
    assert_eq!(s.max_output_seq(id).await.expect("max"), None);
    assert_eq!(s.contiguous_output(id).await.expect("none yet"), 0);
    assert_eq!(s.append_output(id, &[]).await.expect("empty"), 0);

    let first: Vec<_> = (1..=5).map(line).collect();
    assert_eq!(s.append_output(id, &first).await.expect("append"), 5);
    // A replay overlapping what is stored adds only the new lines.
    let replay: Vec<_> = (3..=7).map(line).collect();
    assert_eq!(s.append_output(id, &replay).await.expect("replay"), 2);
    assert_eq!(s.append_output(id, &replay).await.expect("replay again"), 0);
    // A replayed line with different text does not overwrite the stored one.
    let mut changed = line(2);
    changed.line = "changed".into();
    assert_eq!(s.append_output(id, &[changed]).await.expect("changed"), 0);
    // Duplicates inside one batch count once.
    assert_eq!(
        s.append_output(id, &[line(8), line(8)]).await.expect("dup"),
        1
    );
    assert_eq!(s.max_output_seq(id).await.expect("max"), Some(8));
    assert_eq!(s.contiguous_output(id).await.expect("contiguous"), 8);

    let all = s.output(id, 0, 100).await.expect("output");
    assert_eq!(all, (1..=8).map(line).collect::<Vec<_>>());
    let page = s.output(id, 3, 2).await.expect("page");
    assert_eq!(page, vec![line(4), line(5)]);
    assert!(s.output(id, 8, 10).await.expect("tail").is_empty());

    // Lines of another session are separate.
    let other = s
        .create_session(&new_session("out-2", Trigger::Manual, 1))
        .await
        .expect("create");
    assert_eq!(
        s.append_output(other.id, &[line(1)]).await.expect("other"),
        1
    );
    assert_eq!(s.output(other.id, 0, 10).await.expect("other").len(), 1);
    assert_eq!(s.output(id, 0, 100).await.expect("output").len(), 8);

    let missing = expect_err(s.append_output(other.id + 1000, &[line(1)]).await);
    assert!(matches!(missing, StoreError::NotFound), "{missing}");
}

async fn a_job_never_confirmed_did_not_run(f: &Fixture) {
    let s = &f.store;
    let home = site("lost-jobs");
    let first = s
        .create_session(&new_session("lost-jobs", Trigger::Scheduled, 1_000))
        .await
        .expect("create");
    // Running and unconfirmed: it counts (the job may be on its way).
    let last = s.last_session_started(&home, Trigger::Scheduled).await;
    assert_eq!(last.expect("last"), Some(1_000));
    s.confirm_session(first.id, 1_100).await.expect("confirm");
    s.confirm_session(first.id, 9_999).await.expect("again");
    s.finish_session(first.id, &outcome(SessionStatus::Completed, 1_500))
        .await
        .expect("finish");
    // A later run whose job never reached a worker ended without counting.
    let lost = s
        .create_session(&new_session("lost-jobs", Trigger::Scheduled, 2_000))
        .await
        .expect("create");
    s.finish_session(lost.id, &outcome(SessionStatus::Failed, 2_500))
        .await
        .expect("finish");
    let last = s.last_session_started(&home, Trigger::Scheduled).await;
    assert_eq!(last.expect("last"), Some(1_000));
    let missing = expect_err(s.confirm_session(lost.id + 1000, 1).await);
    assert!(matches!(missing, StoreError::NotFound), "{missing}");
}

async fn a_stop_is_recorded_until_the_session_ends(f: &Fixture) {
    let s = &f.store;
    let id = s
        .create_session(&new_session("stops", Trigger::Manual, 1_000))
        .await
        .expect("create")
        .id;
    assert_eq!(s.stop_requested(id).await.expect("read"), None);
    assert!(s.request_stop(id, "operator asked").await.expect("stop"));
    assert_eq!(
        s.stop_requested(id).await.expect("read").as_deref(),
        Some("operator asked")
    );
    s.finish_session(id, &outcome(SessionStatus::Stopped, 2_000))
        .await
        .expect("finish");
    // Ended: nothing left to send, and a late stop records nothing.
    assert_eq!(s.stop_requested(id).await.expect("read"), None);
    assert!(!s.request_stop(id, "too late").await.expect("stop"));
    assert_eq!(s.stop_requested(id + 1000).await.expect("read"), None);
}

/// Output retention: the lines of sessions that ended before the cut go; the
/// sessions (with their response) stay, and running or later ones keep theirs.
async fn output_retention_keeps_the_sessions(f: &Fixture) {
    let s = &f.store;
    let old = s
        .create_session(&new_session("ret-a", Trigger::Scheduled, 1_000))
        .await
        .expect("create");
    s.append_output(old.id, &(1..=3).map(line).collect::<Vec<_>>())
        .await
        .expect("append");
    s.finish_session(old.id, &outcome(SessionStatus::Completed, 2_000))
        .await
        .expect("finish");
    let recent = s
        .create_session(&new_session("ret-b", Trigger::Scheduled, 3_000))
        .await
        .expect("create");
    s.append_output(recent.id, &(1..=2).map(line).collect::<Vec<_>>())
        .await
        .expect("append");
    s.finish_session(recent.id, &outcome(SessionStatus::Completed, 9_000))
        .await
        .expect("finish");
    let running = s
        .create_session(&new_session("ret-c", Trigger::Scheduled, 500))
        .await
        .expect("create");
    s.append_output(running.id, &[line(1)])
        .await
        .expect("append");

    assert_eq!(s.prune_output(5_000).await.expect("prune"), 3);
    assert!(s.output(old.id, 0, 100).await.expect("read").is_empty());
    let kept = s
        .get_session(old.id)
        .await
        .expect("get")
        .expect("the session stays");
    assert_eq!(kept.response.as_deref(), Some("all healthy"));
    assert_eq!(s.output(recent.id, 0, 100).await.expect("read").len(), 2);
    assert_eq!(s.output(running.id, 0, 100).await.expect("read").len(), 1);
    assert_eq!(s.prune_output(5_000).await.expect("again"), 0);
}
