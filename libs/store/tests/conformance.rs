//! The one conformance suite of the `Store` trait: every case runs against SQLite
//! (a file in a temporary directory) and against a real PostgreSQL server (a private
//! one per test binary from `claudeops_tests::postgres`, a fresh database per test).
//!
//! Cases talk to `dyn Store` only; nothing here may know which backend it drives.
//! PostgreSQL missing is a failure, never a skip.

use std::fmt::Debug;
use std::sync::Arc;

use claudeops_core::{NewSession, SessionOutcome, SessionStatus, SiteName, Tier, Trigger};
use claudeops_store::{
    EnrollTokenRecord, EventFilter, EventLevel, NewEvent, OutputLine, SessionFilter, Store,
    StoreError, WorkerRecord, WorkerSelector,
};
use claudeops_tests::postgres::PgServer;
use tokio::sync::Barrier;

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
