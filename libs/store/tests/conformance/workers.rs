//! Conformance cases of workers, their enrollment tokens and revocation.

use std::sync::Arc;

use claudeops_store::{EnrollTokenRecord, StoreError, WorkerRecord, WorkerSelector};
use tokio::sync::Barrier;

use crate::{Fixture, expect_err, site};

conformance!(
    workers_enroll_touch_revoke,
    enroll_tokens_are_one_time,
    concurrent_token_use_one_winner,
);

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
