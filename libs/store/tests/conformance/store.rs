//! Conformance cases of the store as a whole: opening and migrating, settings, and
//! the dashboard totals.

use claudeops_core::{SessionStatus, Trigger};

use crate::{Fixture, new_session, outcome};

conformance!(opens_migrates_and_reopens, settings_upsert, stats_add_up,);

async fn opens_migrates_and_reopens(f: &Fixture) {
    f.store.health().await.expect("health");
    // Answers, takes a write, and its schema is this binary's.
    f.store.readiness(5).await.expect("ready");
    f.store.readiness(6).await.expect("ready twice");
    let created = f
        .store
        .create_session(&new_session("local", Trigger::Manual, 10))
        .await
        .expect("create");
    f.store.put_setting("interval", "3600").await.expect("put");

    // Opening again runs the migrations again (a no-op) and sees the same data.
    let again = claudeops_store::open(&f.url).await.expect("reopen");
    assert_eq!(again.backend(), f.store.backend());
    let found = again.get_session(created.id).await.expect("get");
    assert_eq!(found, Some(created));
    assert_eq!(
        again.get_setting("interval").await.expect("get").as_deref(),
        Some("3600")
    );
    again.close().await;
}

async fn settings_upsert(f: &Fixture) {
    let s = &f.store;
    assert_eq!(
        s.get_setting("scheduler.interval").await.expect("get"),
        None
    );
    s.put_setting("scheduler.interval", "3600")
        .await
        .expect("put");
    s.put_setting("dry_run", "true").await.expect("put");
    assert_eq!(
        s.get_setting("scheduler.interval")
            .await
            .expect("get")
            .as_deref(),
        Some("3600")
    );
    s.put_setting("scheduler.interval", "900")
        .await
        .expect("overwrite");
    assert_eq!(
        s.get_setting("scheduler.interval")
            .await
            .expect("get")
            .as_deref(),
        Some("900")
    );
    assert_eq!(
        s.get_setting("dry_run").await.expect("get").as_deref(),
        Some("true")
    );
}

async fn stats_add_up(f: &Fixture) {
    let s = &f.store;
    let empty = s.stats(0).await.expect("stats of nothing");
    assert_eq!(
        (empty.total_runs, empty.finished, empty.total_cost_usd),
        (0, 0, 0.0)
    );
    let a = s
        .create_session(&new_session("stats-a", Trigger::Manual, 1_000))
        .await
        .expect("a");
    let mut done = outcome(SessionStatus::Completed, 3_000);
    done.cost_usd = 0.25;
    s.finish_session(a.id, &done).await.expect("finish a");
    let b = s
        .create_session(&new_session("stats-a", Trigger::Escalation, 4_000))
        .await
        .expect("b");
    let mut failed = outcome(SessionStatus::Failed, 8_000);
    failed.cost_usd = 0.5;
    s.finish_session(b.id, &failed).await.expect("finish b");
    s.create_session(&new_session("stats-b", Trigger::Scheduled, 9_000))
        .await
        .expect("c");
    let stats = s.stats(0).await.expect("stats");
    assert_eq!(stats.total_runs, 3);
    assert_eq!(stats.escalations, 1);
    assert_eq!(stats.completed, 1);
    assert_eq!(stats.finished, 2);
    assert!((stats.total_cost_usd - 0.75).abs() < 1e-9, "{stats:?}");
    assert!((stats.avg_duration_ms - 3_000.0).abs() < 1e-9, "{stats:?}");
    assert_eq!(stats.remediations, 0);
    assert_eq!(stats.critical_events, 0);
    // The daily cap counts sessions by their start.
    let cost = |since| async move { s.cost_since(since).await.expect("cost since") };
    assert!((cost(0).await - 0.75).abs() < 1e-9);
    assert!(
        (cost(4_000).await - 0.5).abs() < 1e-9,
        "b only (c cost nothing)"
    );
    assert!(cost(9_001).await.abs() < 1e-9);
}
