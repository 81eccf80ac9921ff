//! Conformance cases of memories: the merge sequence of reports, the operator's
//! edits, filters and concurrent reports.

use std::sync::Arc;

use claudeops_core::memory::DecayRule;
use claudeops_core::{NewSession, Tier, Trigger};
use claudeops_store::{Memory, MemoryFilter, MemorySearch, NewMemory, StoreError};
use tokio::sync::Barrier;

use crate::{Fixture, expect_err, new_session, site};

conformance!(
    memories_merge_sequence,
    memories_inactive_below_threshold,
    memories_filter_and_page,
    memories_api_update_delete,
    memories_unique_per_site,
    concurrent_remember_counts_each_report,
    memories_search_by_parts_text_and_tier,
    memories_decay_when_stale,
);

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

async fn memories_search_by_parts_text_and_tier(f: &Fixture) {
    let s = &f.store;
    let observed = s
        .create_session(&new_session("sr", Trigger::Scheduled, 1))
        .await
        .expect("session");
    let investigated = s
        .create_session(&NewSession {
            tier: Tier::Investigate,
            ..new_session("sr-2", Trigger::Escalation, 2)
        })
        .await
        .expect("session");
    // (site, key, value, confidence, session)
    let rows = [
        ("sr", "web:port", "Listens on 8080", 0.9, Some(observed.id)),
        (
            "sr",
            "web:dependency",
            "needs db_main up",
            0.8,
            Some(investigated.id),
        ),
        ("sr", "port", "site-wide: 100% behind the proxy", 0.7, None),
        ("sr", "web_2:port", "listens on 9090", 0.6, None),
        ("sr", "a:b:port", "odd key", 0.5, None),
        ("sr-2", "web:port", "listens on 80", 0.2, None),
    ];
    let mut ids = Vec::new();
    for (place, key, value, confidence, session_id) in rows {
        let mut new = new_memory(place, key, value, confidence, 10);
        new.session_id = session_id;
        ids.push(s.insert_memory(&new).await.expect("insert").id);
    }
    let search = |q: MemorySearch| async move {
        s.search_memories(&q)
            .await
            .expect("search")
            .into_iter()
            .map(|l| l.memory.id)
            .collect::<Vec<_>>()
    };
    let all = MemorySearch::default();
    assert_eq!(search(all.clone()).await, ids, "confidence order");
    let cases: [(MemorySearch, Vec<usize>); 10] = [
        (
            MemorySearch {
                service: Some(" WEB ".into()),
                ..all.clone()
            },
            vec![0, 1, 5],
        ),
        (
            MemorySearch {
                category: Some("port".into()),
                ..all.clone()
            },
            // "a:b:port" is service "a", category "b:port".
            vec![0, 2, 3, 5],
        ),
        (
            MemorySearch {
                category: Some("b:port".into()),
                ..all.clone()
            },
            vec![4],
        ),
        (
            MemorySearch {
                service: Some("web".into()),
                category: Some("port".into()),
                site: Some(site("sr")),
                ..all.clone()
            },
            vec![0],
        ),
        (
            MemorySearch {
                text: Some("LISTENS".into()),
                ..all.clone()
            },
            vec![0, 3, 5],
        ),
        (
            // % and _ are literal, not wildcards.
            MemorySearch {
                text: Some("100%".into()),
                ..all.clone()
            },
            vec![2],
        ),
        (
            MemorySearch {
                text: Some("db_m".into()),
                ..all.clone()
            },
            vec![1],
        ),
        (
            MemorySearch {
                text: Some("dependency".into()),
                ..all.clone()
            },
            vec![1],
        ),
        (
            MemorySearch {
                active: Some(false),
                ..all.clone()
            },
            vec![5],
        ),
        (
            MemorySearch {
                active: Some(true),
                limit: 2,
                offset: 1,
                ..all.clone()
            },
            vec![1, 2],
        ),
    ];
    for (filter, want) in cases {
        let want: Vec<i64> = want.into_iter().map(|i| ids[i]).collect();
        assert_eq!(search(filter.clone()).await, want, "{filter:?}");
    }
    let listed = s.search_memories(&all).await.expect("search");
    let tiers: Vec<Option<Tier>> = listed.iter().map(|l| l.tier).collect();
    assert_eq!(
        tiers,
        [
            Some(Tier::Observe),
            Some(Tier::Investigate),
            None,
            None,
            None,
            None
        ]
    );
    // A blank filter value is no filter.
    let blank = MemorySearch {
        service: Some("  ".into()),
        text: Some(String::new()),
        ..all
    };
    assert_eq!(search(blank).await.len(), 6);
}

async fn memories_decay_when_stale(f: &Fixture) {
    const DAY: i64 = 24 * 3600 * 1000;
    let s = &f.store;
    let rule = DecayRule::after(30 * DAY).expect("a rule");
    let now = 400 * DAY;
    // (key, confidence, active, days since updated)
    let rows = [
        ("fresh", 0.7, true, 15),
        ("in:grace", 0.7, true, 36),
        ("one:week", 0.7, true, 37),
        ("two:weeks", 0.4, true, 44),
        ("long:gone", 0.9, true, 30 + 7 * 20),
        ("already:off", 0.7, false, 100),
    ];
    let mut ids = Vec::new();
    for (key, confidence, active, days) in rows {
        let mut new = new_memory("decay", key, "v", confidence, now - days * DAY);
        new.active = active;
        ids.push(s.insert_memory(&new).await.expect("insert").id);
    }
    assert_eq!(s.decay_memories(&rule, now).await.expect("decay"), 3);
    let get = |id: i64| async move { s.get_memory(id).await.expect("get").expect("exists") };
    // (confidence, active, days the update time moved forward)
    let want = [
        (0.7, true, 0),
        (0.7, true, 0),
        (0.6, true, 7),
        (0.2, false, 14),
        (0.0, false, 7 * 20),
        (0.7, false, 0),
    ];
    for ((id, (confidence, active, moved)), (key, _, _, days)) in ids.iter().zip(want).zip(rows) {
        let m = get(*id).await;
        assert_confidence(&m, confidence);
        assert_eq!(m.active, active, "{key}");
        assert_eq!(m.updated_at_ms, now - days * DAY + moved * DAY, "{key}");
    }
    // Taken once: again at the same time, nothing; a week later, the next step.
    assert_eq!(s.decay_memories(&rule, now).await.expect("decay"), 0);
    assert_eq!(
        s.decay_memories(&rule, now + 7 * DAY).await.expect("decay"),
        2
    );
    assert_confidence(&get(ids[2]).await, 0.5);
    assert_confidence(&get(ids[1]).await, 0.6);
    // A confirmation starts the grace again.
    let confirmed = s
        .remember(&site("decay"), "one:week", "v", None, now + 7 * DAY)
        .await
        .expect("confirm");
    assert_confidence(&confirmed, 0.6);
    assert_eq!(
        s.decay_memories(&rule, now + 20 * DAY)
            .await
            .expect("decay"),
        1
    );
    assert_confidence(&get(ids[2]).await, 0.6);
}
