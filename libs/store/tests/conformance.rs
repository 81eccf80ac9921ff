//! The one conformance suite of the `Store` trait: every case runs against SQLite
//! (a file in a temporary directory) and against a real PostgreSQL server (a private
//! one per test binary from `claudeops_tests::postgres`, a fresh database per test).
//!
//! Cases talk to `dyn Store` only; nothing here may know which backend it drives.
//! The cases of probes, incidents, inventories and deliveries are in `health.rs`.
//! PostgreSQL missing is a failure, never a skip.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Instant;

use claudeops_core::{NewSession, SessionOutcome, SessionStatus, SiteName, Tier, Trigger};
use claudeops_store::{
    ActionFilter, ActionKind, ActionRecord, ActionStatus, CooldownRow, Decision, EnrollTokenRecord,
    EventFilter, EventLevel, Limits, Memory, MemoryFilter, NewAction, NewEvent, NewMemory,
    OutputLine, SessionFilter, Store, StoreError, WorkerRecord, WorkerSelector,
};
use claudeops_tests::postgres::PgServer;
use tokio::sync::Barrier;

// Beside this file, not in `tests/`, so that Cargo does not build it as a test of its own.
#[path = "conformance/health.rs"]
mod health;
use health::{
    deliveries_record_and_filter, incident_race_one_opener, incidents_list_and_link_sessions,
    incidents_open_merge_resolve, inventories_put_replace_list, probes_record_a_large_batch,
    probes_record_and_list, probes_retire_and_prune,
};

/// A store under test and the URL it was opened from.
struct Fixture {
    store: Arc<dyn Store>,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite_fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!(
        "sqlite://{}",
        dir.path().join("nested/claudeops.db").display()
    );
    let store = claudeops_store::open(&url).await.expect("open sqlite");
    Fixture {
        store,
        url,
        _dir: Some(dir),
    }
}

async fn postgres_fixture(name: &str) -> Fixture {
    let url = PgServer::shared().fresh_database(name);
    let store = claudeops_store::open(&url).await.expect("open postgres");
    Fixture {
        store,
        url,
        _dir: None,
    }
}

/// Generates each case once per backend: `sqlite::case` and `postgres::case`.
macro_rules! conformance {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fixture = super::sqlite_fixture().await;
                    super::$case(&fixture).await;
                    fixture.store.close().await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fixture = super::postgres_fixture(stringify!($case)).await;
                    super::$case(&fixture).await;
                    fixture.store.close().await;
                }
            )+
        }
    };
}

conformance!(
    stats_add_up,
    opens_migrates_and_reopens,
    sessions_round_trip,
    one_running_session_per_site,
    concurrent_creates_one_winner,
    lists_and_filters_sessions,
    output_is_idempotent,
    workers_enroll_touch_revoke,
    enroll_tokens_are_one_time,
    concurrent_token_use_one_winner,
    events_filter_and_page,
    settings_upsert,
    memories_merge_sequence,
    memories_inactive_below_threshold,
    memories_filter_and_page,
    memories_api_update_delete,
    memories_unique_per_site,
    concurrent_remember_counts_each_report,
    ledger_grants_up_to_the_limit,
    ledger_released_frees_a_slot_failed_does_not,
    ledger_window_slides,
    ledger_keys_are_independent,
    ledger_finish_changes_reserved_only,
    ledger_lists_and_links_sessions,
    ledger_cooldowns,
    ledger_releases_stale_reservations,
    ledger_race_grants_exactly_the_limit,
    probes_record_and_list,
    probes_retire_and_prune,
    probes_record_a_large_batch,
    incidents_open_merge_resolve,
    incidents_list_and_link_sessions,
    incident_race_one_opener,
    inventories_put_replace_list,
    deliveries_record_and_filter,
);

// --- helpers ---

fn site(name: &str) -> SiteName {
    SiteName::new(name).expect("valid site name")
}

fn new_session(site_name: &str, trigger: Trigger, started_at_ms: i64) -> NewSession {
    NewSession {
        site: site(site_name),
        worker_id: None,
        tier: Tier::Observe,
        model: "haiku".into(),
        trigger,
        prompt: None,
        parent_id: None,
        started_at_ms,
    }
}

fn outcome(status: SessionStatus, ended_at_ms: i64) -> SessionOutcome {
    SessionOutcome {
        status,
        ended_at_ms,
        cost_usd: 0.25,
        turns: 4,
        exit_code: Some(0),
        response: Some("all healthy".into()),
        structured: Some(serde_json::json!({"summary": "ok", "issues": []})),
        error: None,
    }
}

fn worker(id: &str, site_name: &str, serial: &str) -> WorkerRecord {
    WorkerRecord {
        id: id.into(),
        site: site(site_name),
        hostname: format!("{id}.lan"),
        version: "0.1.0".into(),
        capabilities: vec!["docker".into()],
        cert_serial: serial.into(),
        cert_fingerprint: format!("fp-{serial}"),
        cert_not_after_ms: 9_000_000,
        enrolled_at_ms: 1_000,
        last_seen_ms: None,
        revoked_at_ms: None,
    }
}

fn line(seq: i64) -> OutputLine {
    OutputLine {
        seq,
        ts_ms: 1_000 + seq,
        line: format!("{{\"type\":\"assistant\",\"n\":{seq},\"text\":\"héllo ✓\"}}"),
        malformed: seq % 3 == 0,
    }
}

fn expect_err<T: Debug>(result: Result<T, StoreError>) -> StoreError {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => e,
    }
}

// --- cases ---

async fn opens_migrates_and_reopens(f: &Fixture) {
    f.store.health().await.expect("health");
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

async fn output_is_idempotent(f: &Fixture) {
    let s = &f.store;
    let session = s
        .create_session(&new_session("out", Trigger::Manual, 1))
        .await
        .expect("create");
    let id = session.id;
    assert_eq!(s.max_output_seq(id).await.expect("max"), None);
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

async fn workers_enroll_touch_revoke(f: &Fixture) {
    let s = &f.store;
    let a1 = worker("a1", "alpha", "0a01");
    for w in [
        &a1,
        &worker("a2", "alpha", "0a02"),
        &worker("b1", "beta", "0b01"),
    ] {
        s.insert_worker(w).await.expect("insert");
    }
    let dup_id = expect_err(s.insert_worker(&worker("a1", "alpha", "ffff")).await);
    assert!(matches!(dup_id, StoreError::Conflict(_)), "{dup_id}");
    let dup_serial = expect_err(s.insert_worker(&worker("zz", "alpha", "0a01")).await);
    assert!(
        matches!(dup_serial, StoreError::Conflict(_)),
        "{dup_serial}"
    );

    assert_eq!(s.get_worker("a1").await.expect("get"), Some(a1.clone()));
    assert_eq!(s.get_worker("nope").await.expect("get"), None);
    let ids = |ws: Vec<WorkerRecord>| ws.into_iter().map(|w| w.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_workers(None).await.expect("all")),
        ["a1", "a2", "b1"]
    );
    assert_eq!(
        ids(s.list_workers(Some(&site("alpha"))).await.expect("alpha")),
        ["a1", "a2"]
    );
    assert!(
        s.list_workers(Some(&site("gamma")))
            .await
            .expect("none")
            .is_empty()
    );

    let caps = vec!["docker".to_owned(), "ssh".to_owned()];
    s.touch_worker("a1", "a1.example", "0.2.0", &caps, 5_000)
        .await
        .expect("touch");
    let touched = s.get_worker("a1").await.expect("get").expect("exists");
    assert_eq!(touched.hostname, "a1.example");
    assert_eq!(touched.version, "0.2.0");
    assert_eq!(touched.capabilities, caps);
    assert_eq!(touched.last_seen_ms, Some(5_000));
    let missing = expect_err(s.touch_worker("nope", "h", "v", &[], 1).await);
    assert!(matches!(missing, StoreError::NotFound), "{missing}");

    let one = s
        .revoke_workers(&WorkerSelector::Id("a2".into()), 6_000)
        .await
        .expect("revoke");
    assert_eq!(ids(one.clone()), ["a2"]);
    assert_eq!(one[0].revoked_at_ms, Some(6_000));
    assert!(one[0].is_revoked());
    let again = s
        .revoke_workers(&WorkerSelector::Id("a2".into()), 7_000)
        .await
        .expect("again");
    assert!(again.is_empty(), "already revoked");
    let unknown = expect_err(
        s.revoke_workers(&WorkerSelector::Id("nope".into()), 7_000)
            .await,
    );
    assert!(matches!(unknown, StoreError::NotFound), "{unknown}");

    let site_wide = s
        .revoke_workers(&WorkerSelector::Site(site("alpha")), 8_000)
        .await
        .expect("revoke site");
    assert_eq!(ids(site_wide), ["a1"], "only the newly revoked");
    let a2 = s.get_worker("a2").await.expect("get").expect("exists");
    assert_eq!(a2.revoked_at_ms, Some(6_000), "first revocation time kept");
    let empty = s
        .revoke_workers(&WorkerSelector::Site(site("gamma")), 8_000)
        .await
        .expect("no workers");
    assert!(empty.is_empty());

    assert_eq!(
        s.revoked_serials().await.expect("serials"),
        ["0a01", "0a02"]
    );
    let b1 = s.get_worker("b1").await.expect("get").expect("exists");
    assert!(!b1.is_revoked());
}

fn token(id: &str, expires_at_ms: i64) -> EnrollTokenRecord {
    EnrollTokenRecord {
        id: id.into(),
        secret_hash: format!("hash-of-{id}"),
        site: site("enroll-site"),
        created_at_ms: 1_000,
        expires_at_ms,
    }
}

async fn enroll_tokens_are_one_time(f: &Fixture) {
    let s = &f.store;
    s.insert_enroll_token(&token("t1", 10_000))
        .await
        .expect("insert");
    s.insert_enroll_token(&token("t2", 10_000))
        .await
        .expect("insert");
    let dup = expect_err(s.insert_enroll_token(&token("t1", 20_000)).await);
    assert!(matches!(dup, StoreError::Conflict(_)), "{dup}");

    let unknown = expect_err(s.consume_enroll_token("nope", "hash-of-nope", 2_000).await);
    assert!(matches!(unknown, StoreError::TokenUnknown), "{unknown}");
    let wrong = expect_err(s.consume_enroll_token("t1", "hash-of-t2", 2_000).await);
    assert!(matches!(wrong, StoreError::TokenUnknown), "{wrong}");

    let used_site = s
        .consume_enroll_token("t1", "hash-of-t1", 2_000)
        .await
        .expect("use");
    assert_eq!(used_site, site("enroll-site"));
    let used = expect_err(s.consume_enroll_token("t1", "hash-of-t1", 2_001).await);
    assert!(matches!(used, StoreError::TokenUsed), "{used}");
    // A wrong secret learns nothing about a used token.
    let wrong = expect_err(s.consume_enroll_token("t1", "guess", 2_001).await);
    assert!(matches!(wrong, StoreError::TokenUnknown), "{wrong}");

    // Expired at exactly expires_at_ms, and a failed attempt does not use the token.
    let expired = expect_err(s.consume_enroll_token("t2", "hash-of-t2", 10_000).await);
    assert!(matches!(expired, StoreError::TokenExpired), "{expired}");
    assert_eq!(
        s.consume_enroll_token("t2", "hash-of-t2", 9_999)
            .await
            .expect("just in time"),
        site("enroll-site")
    );
}

async fn concurrent_token_use_one_winner(f: &Fixture) {
    const TASKS: usize = 12;
    f.store
        .insert_enroll_token(&token("race", 10_000))
        .await
        .expect("insert");
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let store = f.store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .consume_enroll_token("race", "hash-of-race", 2_000)
                .await
        }));
    }
    let (mut won, mut used) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => won += 1,
            Err(StoreError::TokenUsed) => used += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!((won, used), (1, TASKS - 1));
}

async fn events_filter_and_page(f: &Fixture) {
    let s = &f.store;
    let session = s
        .create_session(&new_session("ev-a", Trigger::Manual, 1))
        .await
        .expect("create");
    let specs = [
        ("ev-a", EventLevel::Info, None, 100),
        ("ev-a", EventLevel::Warning, Some("nginx"), 200),
        ("ev-b", EventLevel::Critical, Some("postgres"), 300),
        ("ev-a", EventLevel::Critical, Some("nginx"), 400),
        ("ev-b", EventLevel::Info, None, 400),
    ];
    let mut stored = Vec::new();
    for (i, (name, level, service, ts_ms)) in specs.into_iter().enumerate() {
        let new = NewEvent {
            ts_ms,
            site: site(name),
            session_id: (i == 1).then_some(session.id),
            level,
            service: service.map(str::to_owned),
            message: format!("event {i}"),
        };
        let event = s.insert_event(&new).await.expect("insert");
        assert_eq!(
            (event.ts_ms, &event.site, event.session_id, event.level),
            (new.ts_ms, &new.site, new.session_id, new.level)
        );
        assert_eq!(
            (&event.service, &event.message),
            (&new.service, &new.message)
        );
        stored.push(event);
    }
    let ids =
        |events: Vec<claudeops_store::Event>| events.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let id = |i: usize| stored[i].id;

    let all = s.list_events(&EventFilter::default()).await.expect("all");
    assert_eq!(all[0], stored[4], "newest first, ties by id");
    assert_eq!(ids(all), [id(4), id(3), id(2), id(1), id(0)]);

    let by_site = EventFilter {
        site: Some(site("ev-a")),
        ..EventFilter::default()
    };
    assert_eq!(
        ids(s.list_events(&by_site).await.expect("site")),
        [id(3), id(1), id(0)]
    );
    let critical = EventFilter {
        level: Some(EventLevel::Critical),
        ..EventFilter::default()
    };
    assert_eq!(
        ids(s.list_events(&critical).await.expect("level")),
        [id(3), id(2)]
    );
    let nginx_critical = EventFilter {
        service: Some("nginx".into()),
        ..critical.clone()
    };
    assert_eq!(
        ids(s.list_events(&nginx_critical).await.expect("both")),
        [id(3)]
    );
    let paged = EventFilter {
        limit: 2,
        offset: 1,
        ..EventFilter::default()
    };
    assert_eq!(
        ids(s.list_events(&paged).await.expect("page")),
        [id(3), id(2)]
    );
    let nothing = EventFilter {
        site: Some(site("ev-b")),
        service: Some("nginx".into()),
        ..EventFilter::default()
    };
    assert!(s.list_events(&nothing).await.expect("none").is_empty());

    let orphan = NewEvent {
        ts_ms: 1,
        site: site("ev-a"),
        session_id: Some(session.id + 1000),
        level: EventLevel::Info,
        service: None,
        message: "orphan".into(),
    };
    let refused = expect_err(s.insert_event(&orphan).await);
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
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

// --- memories ---

/// Confidences go through ±0.1 steps: compare with a tolerance.
fn assert_confidence(memory: &Memory, want: f64) {
    assert!(
        (memory.confidence - want).abs() < 1e-9,
        "confidence {} != {want}: {memory:?}",
        memory.confidence
    );
}

fn new_memory(site_name: &str, key: &str, value: &str, confidence: f64, at: i64) -> NewMemory {
    NewMemory {
        site: site(site_name),
        key: key.into(),
        value: value.into(),
        confidence,
        active: confidence >= 0.3,
        session_id: None,
        created_at_ms: at,
    }
}

async fn memories_merge_sequence(f: &Fixture) {
    let s = &f.store;
    let session = s
        .create_session(&new_session("mem", Trigger::Scheduled, 1))
        .await
        .expect("session");
    let later = s
        .create_session(&new_session("mem-2", Trigger::Scheduled, 2))
        .await
        .expect("session");
    let place = site("mem");

    // Created at 0.7; the key is normalised, the value trimmed.
    let created = s
        .remember(
            &place,
            " Web:Port ",
            " listens on 8080 ",
            Some(session.id),
            1_000,
        )
        .await
        .expect("create");
    assert_eq!(created.site, place);
    assert_eq!(created.key, "web:port");
    assert_eq!(created.value, "listens on 8080");
    assert_confidence(&created, 0.7);
    assert!(created.active);
    assert_eq!(created.session_id, Some(session.id));
    assert_eq!(
        (created.created_at_ms, created.updated_at_ms),
        (1_000, 1_000)
    );
    assert_eq!(
        s.get_memory(created.id).await.expect("get"),
        Some(created.clone())
    );
    assert_eq!(
        s.get_memory_by_key(&place, "WEB:PORT")
            .await
            .expect("by key"),
        Some(created.clone())
    );
    assert_eq!(
        s.get_memory_by_key(&place, "bad key")
            .await
            .expect("invalid key"),
        None
    );
    assert_eq!(
        s.get_memory_by_key(&site("elsewhere"), "web:port")
            .await
            .expect("other site"),
        None
    );

    // Confirmed: +0.1 each, capped at 1.0; a confirmation without a session keeps
    // the source.
    let mut now = 1_000;
    for want in [0.8, 0.9, 1.0, 1.0] {
        now += 10;
        let confirmed = s
            .remember(&place, "web:port", "listens on 8080", None, now)
            .await
            .expect("confirm");
        assert_eq!(confirmed.id, created.id);
        assert_confidence(&confirmed, want);
        assert!(confirmed.active);
        assert_eq!(confirmed.value, "listens on 8080");
        assert_eq!(confirmed.session_id, Some(session.id));
        assert_eq!(
            (confirmed.created_at_ms, confirmed.updated_at_ms),
            (1_000, now)
        );
    }

    // Contradicted: -0.1 each, the stored value stays while it is still trusted
    // (0.3 exactly is still active).
    for want in [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3] {
        now += 10;
        let contradicted = s
            .remember(&place, "web:port", "listens on 9090", Some(later.id), now)
            .await
            .expect("contradict");
        assert_eq!(contradicted.id, created.id);
        assert_confidence(&contradicted, want);
        assert!(contradicted.active);
        assert_eq!(contradicted.value, "listens on 8080");
        assert_eq!(contradicted.session_id, Some(session.id));
        assert_eq!(contradicted.updated_at_ms, now);
    }

    // Replaced: below 0.3 the newer fact wins, at 0.7.
    now += 10;
    let replaced = s
        .remember(&place, "web:port", "listens on 9090", Some(later.id), now)
        .await
        .expect("replace");
    assert_eq!(replaced.id, created.id);
    assert_eq!(replaced.value, "listens on 9090");
    assert_confidence(&replaced, 0.7);
    assert!(replaced.active);
    assert_eq!(replaced.session_id, Some(later.id));
    assert_eq!(
        (replaced.created_at_ms, replaced.updated_at_ms),
        (1_000, now)
    );
    let confirmed = s
        .remember(&place, "web:port", "listens on 9090", None, now + 1)
        .await
        .expect("confirm the new value");
    assert_confidence(&confirmed, 0.8);

    let all = s
        .list_memories(&MemoryFilter::default())
        .await
        .expect("list");
    assert_eq!(all, vec![confirmed], "still one row");

    // Values are cut at 1000 characters; a cut value confirms the stored one.
    let long = "é".repeat(1_500);
    let cut = s
        .remember(&place, "nas:disk", &long, None, now)
        .await
        .expect("long");
    assert_eq!(cut.value.chars().count(), 1_000);
    let again = s
        .remember(&place, "nas:disk", &long, None, now)
        .await
        .expect("long again");
    assert_confidence(&again, 0.8);

    // Refused: an invalid key, an empty value, an unknown session.
    for (key, value, session_id) in [
        ("has space", "v", None),
        ("", "v", None),
        ("k".repeat(101).as_str(), "v", None),
        ("ok", "   ", None),
        ("ok", "v", Some(later.id + 1_000)),
    ] {
        let refused = expect_err(s.remember(&place, key, value, session_id, now).await);
        assert!(
            matches!(refused, StoreError::Conflict(_)),
            "{key:?}: {refused}"
        );
    }
    assert_eq!(s.get_memory_by_key(&place, "ok").await.expect("get"), None);
}

async fn memories_inactive_below_threshold(f: &Fixture) {
    let s = &f.store;
    let place = site("dim");
    let faded = s
        .insert_memory(&new_memory("dim", "backup:window", "02:00", 0.2, 10))
        .await
        .expect("insert");
    assert!(!faded.active);
    assert_confidence(&faded, 0.2);
    let bright = s
        .insert_memory(&new_memory("dim", "dns:flaky", "retry once", 0.9, 10))
        .await
        .expect("insert");
    assert_eq!(s.count_active_memories().await.expect("count"), 1);
    let active_only = MemoryFilter {
        site: Some(place.clone()),
        active_only: true,
        ..MemoryFilter::default()
    };
    let ids = |ms: Vec<Memory>| ms.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_memories(&active_only).await.expect("active")),
        [bright.id]
    );

    // A confirmation brings it back to 0.3: active again.
    let back = s
        .remember(&place, "backup:window", "02:00", None, 20)
        .await
        .expect("confirm");
    assert_confidence(&back, 0.3);
    assert!(back.active);
    assert_eq!(s.count_active_memories().await.expect("count"), 2);
    assert_eq!(
        ids(s.list_memories(&active_only).await.expect("active")),
        [bright.id, back.id]
    );

    // An operator lowers it below the threshold; a contradiction then replaces it.
    let lowered = s
        .update_memory(back.id, "02:00", 0.25, false, None, 30)
        .await
        .expect("update")
        .expect("exists");
    assert!(!lowered.active);
    assert_eq!(s.count_active_memories().await.expect("count"), 1);
    let replaced = s
        .remember(&place, "backup:window", "03:00", None, 40)
        .await
        .expect("contradict");
    assert_eq!(replaced.id, back.id);
    assert_eq!(replaced.value, "03:00");
    assert_confidence(&replaced, 0.7);
    assert!(replaced.active);
    assert_eq!(s.count_active_memories().await.expect("count"), 2);
}

async fn memories_filter_and_page(f: &Fixture) {
    let s = &f.store;
    // (site, key, confidence, active, time)
    let specs = [
        ("fa", "a", 0.7, true, 100),
        ("fa", "b", 0.9, true, 100),
        ("fb", "a", 0.7, true, 300),
        ("fa", "c", 0.7, true, 200),
        ("fb", "b", 0.1, false, 400),
        ("fa", "d", 0.5, false, 500),
    ];
    let mut stored = Vec::new();
    for (name, key, confidence, active, at) in specs {
        let mut new = new_memory(name, key, &format!("{name} {key}"), confidence, at);
        new.active = active;
        let memory = s.insert_memory(&new).await.expect("insert");
        assert_eq!((memory.active, memory.created_at_ms), (active, at));
        assert_confidence(&memory, confidence);
        stored.push(memory);
    }
    let id = |i: usize| stored[i].id;
    let ids = |ms: Vec<Memory>| ms.into_iter().map(|m| m.id).collect::<Vec<_>>();

    let all = s
        .list_memories(&MemoryFilter::default())
        .await
        .expect("all");
    assert_eq!(all[0], stored[1]);
    assert_eq!(
        ids(all),
        [id(1), id(2), id(3), id(0), id(5), id(4)],
        "confidence, then most recently updated"
    );
    let fa = MemoryFilter {
        site: Some(site("fa")),
        ..MemoryFilter::default()
    };
    assert_eq!(
        ids(s.list_memories(&fa).await.expect("site")),
        [id(1), id(3), id(0), id(5)]
    );
    let fa_active = MemoryFilter {
        active_only: true,
        ..fa.clone()
    };
    assert_eq!(
        ids(s.list_memories(&fa_active).await.expect("active")),
        [id(1), id(3), id(0)]
    );
    let active = MemoryFilter {
        active_only: true,
        ..MemoryFilter::default()
    };
    assert_eq!(
        ids(s.list_memories(&active).await.expect("active")),
        [id(1), id(2), id(3), id(0)]
    );
    let paged = MemoryFilter {
        limit: 2,
        offset: 1,
        ..fa.clone()
    };
    assert_eq!(
        ids(s.list_memories(&paged).await.expect("page")),
        [id(3), id(0)]
    );
    let beyond = MemoryFilter { offset: 10, ..fa };
    assert!(s.list_memories(&beyond).await.expect("none").is_empty());
    let nowhere = MemoryFilter {
        site: Some(site("fc")),
        ..MemoryFilter::default()
    };
    assert!(s.list_memories(&nowhere).await.expect("none").is_empty());
    assert_eq!(s.count_active_memories().await.expect("count"), 4);

    // An update moves a memory up: same confidence, more recent.
    s.update_memory(id(0), "fa a", 0.7, true, None, 900)
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(
        ids(s.list_memories(&fa_active).await.expect("active")),
        [id(1), id(0), id(3)]
    );
}

async fn memories_api_update_delete(f: &Fixture) {
    let s = &f.store;
    let session = s
        .create_session(&new_session("api", Trigger::Manual, 1))
        .await
        .expect("session");
    let created = s
        .insert_memory(&NewMemory::new(
            site("api"),
            "Postgres:Maintenance",
            " vacuum weekly ",
            50,
        ))
        .await
        .expect("insert");
    assert_eq!(created.key, "postgres:maintenance");
    assert_eq!(created.value, "vacuum weekly");
    assert_confidence(&created, 0.7);
    assert!(created.active);
    assert_eq!(created.session_id, None);
    assert_eq!((created.created_at_ms, created.updated_at_ms), (50, 50));

    // Clamped on the way in.
    let clamped = s
        .insert_memory(&new_memory("api", "too:sure", "v", 1.5, 50))
        .await
        .expect("insert");
    assert_confidence(&clamped, 1.0);

    let edited = s
        .update_memory(
            created.id,
            "vacuum full weekly",
            0.95,
            false,
            Some(session.id),
            60,
        )
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(edited.id, created.id);
    assert_eq!(edited.key, created.key);
    assert_eq!(edited.value, "vacuum full weekly");
    assert_confidence(&edited, 0.95);
    assert!(!edited.active, "operators set the flag by hand");
    assert_eq!(edited.session_id, Some(session.id));
    assert_eq!((edited.created_at_ms, edited.updated_at_ms), (50, 60));
    assert_eq!(
        s.get_memory(created.id).await.expect("get"),
        Some(edited.clone())
    );
    let clamped_low = s
        .update_memory(created.id, "vacuum full weekly", -3.0, false, None, 61)
        .await
        .expect("update")
        .expect("exists");
    assert_confidence(&clamped_low, 0.0);
    assert_eq!(clamped_low.session_id, None);

    for (value, confidence, session_id) in [
        ("v", f64::NAN, None),
        ("  ", 0.5, None),
        ("v", 0.5, Some(session.id + 1_000)),
    ] {
        let refused = expect_err(
            s.update_memory(created.id, value, confidence, true, session_id, 70)
                .await,
        );
        assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
    }
    let refused = expect_err(
        s.insert_memory(&new_memory("api", "bad key", "v", 0.7, 1))
            .await,
    );
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
    let mut orphan = new_memory("api", "orphan", "v", 0.7, 1);
    orphan.session_id = Some(session.id + 1_000);
    let refused = expect_err(s.insert_memory(&orphan).await);
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
    assert_eq!(
        s.get_memory(created.id).await.expect("get"),
        Some(clamped_low),
        "refused edits change nothing"
    );

    let missing = created.id + clamped.id + 1_000;
    assert_eq!(
        s.update_memory(missing, "v", 0.5, true, None, 80)
            .await
            .expect("unknown"),
        None
    );
    assert_eq!(s.get_memory(missing).await.expect("get"), None);

    assert!(s.delete_memory(created.id).await.expect("delete"));
    assert!(!s.delete_memory(created.id).await.expect("again"));
    assert!(!s.delete_memory(missing).await.expect("unknown"));
    assert_eq!(s.get_memory(created.id).await.expect("get"), None);
    assert_eq!(
        s.get_memory_by_key(&site("api"), "postgres:maintenance")
            .await
            .expect("by key"),
        None
    );
    // The key is free again: a report creates a fresh memory.
    let fresh = s
        .remember(
            &site("api"),
            "postgres:maintenance",
            "vacuum weekly",
            None,
            90,
        )
        .await
        .expect("remember");
    assert_ne!(fresh.id, created.id);
    assert_confidence(&fresh, 0.7);
}

async fn memories_unique_per_site(f: &Fixture) {
    let s = &f.store;
    let first = s
        .insert_memory(&new_memory("u-one", "nginx:port", "80", 0.7, 1))
        .await
        .expect("insert");
    let dup = expect_err(
        s.insert_memory(&new_memory("u-one", "NGINX:port", "443", 0.9, 2))
            .await,
    );
    assert!(matches!(dup, StoreError::Conflict(_)), "{dup}");
    let other = s
        .insert_memory(&new_memory("u-two", "nginx:port", "443", 0.7, 2))
        .await
        .expect("same key, other site");
    assert_ne!(other.id, first.id);

    // Reports touch their own site's memory only.
    let confirmed = s
        .remember(&site("u-two"), "nginx:port", "443", None, 3)
        .await
        .expect("confirm");
    assert_eq!(confirmed.id, other.id);
    assert_confidence(&confirmed, 0.8);
    let untouched = s.get_memory(first.id).await.expect("get").expect("exists");
    assert_eq!(untouched, first);
    let created = s
        .remember(&site("u-three"), "nginx:port", "80", None, 4)
        .await
        .expect("new site");
    assert_confidence(&created, 0.7);
    assert_eq!(
        s.list_memories(&MemoryFilter::default())
            .await
            .expect("all")
            .len(),
        3
    );
}

async fn concurrent_remember_counts_each_report(f: &Fixture) {
    const TASKS: usize = 20;
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let store = f.store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let at = 1_000 + i64::try_from(i).unwrap_or_default();
            store
                .remember(&site("race"), "web:port", "listens on 8080", None, at)
                .await
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        let memory = task.await.expect("task").expect("remember");
        seen.push(memory);
    }
    // Each report counted once: 0.7, 0.8, 0.9, then 1.0 for the rest.
    let mut confidences: Vec<f64> = seen.iter().map(|m| m.confidence).collect();
    confidences.sort_by(f64::total_cmp);
    let want: Vec<f64> = (0..TASKS)
        .map(|i| (0.7 + 0.1 * f64::from(u32::try_from(i).unwrap_or_default())).min(1.0))
        .collect();
    for (got, want) in confidences.iter().zip(&want) {
        assert!((got - want).abs() < 1e-9, "{confidences:?}");
    }
    assert!(seen.iter().all(|m| m.id == seen[0].id), "one row");

    let all = f
        .store
        .list_memories(&MemoryFilter {
            site: Some(site("race")),
            ..MemoryFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(all.len(), 1, "exactly one row");
    assert_confidence(&all[0], (0.7_f64 + 0.1 * 19.0).min(1.0));
    assert!(all[0].active);
    assert_eq!(f.store.count_active_memories().await.expect("count"), 1);
}

// --- the cooldown ledger ---

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

async fn reserve(f: &Fixture, new: &NewAction) -> Decision {
    f.store
        .reserve_action(new, &Limits::default())
        .await
        .expect("reserve")
}

async fn granted(f: &Fixture, new: &NewAction) -> i64 {
    match reserve(f, new).await {
        Decision::Granted { id } => id,
        denied => panic!("expected a grant for {new:?}, got {denied:?}"),
    }
}

/// The denial's (count, limit, next_allowed_ms) and reason.
async fn denied(f: &Fixture, new: &NewAction) -> (u32, u32, i64, String) {
    match reserve(f, new).await {
        Decision::Denied {
            reason,
            count,
            limit,
            next_allowed_ms,
        } => (count, limit, next_allowed_ms, reason),
        Decision::Granted { id } => panic!("expected a denial for {new:?}, got grant {id}"),
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
    let strict = Limits {
        max_restarts: 0,
        ..Limits::default()
    };
    let never = f
        .store
        .reserve_action(&action("home", "db", ActionKind::Restart, T0), &strict)
        .await
        .expect("reserve");
    assert_eq!(
        never,
        Decision::Denied {
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
                    &Limits::default(),
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
        Decision::Denied { .. } => all_actions(f).await[0].id,
        other => panic!("{other:?}"),
    };
    let other_site = granted(f, &action("lab", "web", ActionKind::Restart, T0 + 3)).await;
    let other_service = granted(f, &action("home", "db", ActionKind::Restart, T0 + 4)).await;

    new.session_id = Some(session.id + 1_000);
    let refused = expect_err(s.reserve_action(&new, &Limits::default()).await);
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
    let limits = Limits::default();
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
                    &Limits::default(),
                )
                .await
        }));
    }
    let mut grants = Vec::new();
    let mut denials = 0;
    for task in tasks {
        match task.await.expect("task").expect("reserve") {
            Decision::Granted { id } => grants.push(id),
            Decision::Denied { count, limit, .. } => {
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
        .cooldowns(&Limits::default(), T0 + 1_000)
        .await
        .expect("cooldowns");
    assert_eq!(cooldowns.len(), 1);
    assert_eq!(cooldowns[0].count_in_window, 2);
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
}
