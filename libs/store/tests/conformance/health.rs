//! Conformance cases of probes, incidents, inventories and notification deliveries.

use std::sync::Arc;
use std::time::Instant;

use claudeops_core::Trigger;
use claudeops_store::{
    DeliveryFilter, DeliveryRecord, HistoryPoint, Incident, IncidentFilter, IncidentStatus,
    InventoryRecord, NewIncident, ProbeAttempt, ProbeRecord, ProbeState, Resolution, StoreError,
};
use tokio::sync::Barrier;

use crate::{Fixture, expect_err, new_session, site};

conformance!(
    probes_record_and_list,
    probes_retire_and_prune,
    probes_record_a_large_batch,
    probe_rollups_count_every_attempt,
    incidents_open_merge_resolve,
    incidents_list_and_link_sessions,
    incident_race_one_opener,
    alerts_record_repeat_resolve,
    inventories_put_replace_list,
    deliveries_record_and_filter,
);

// --- probes ---

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Hourly and daily rollups hold exactly what the raw attempts hold, across
/// reports and period boundaries, and are pruned by age per period.
async fn probe_rollups_count_every_attempt(f: &Fixture) {
    use claudeops_store::{ProbeRollup, RollupPeriod};
    let s = &f.store;
    let day = 20_000 * DAY;
    // Two reports: hour 0 (up, up, down), hour 1 (up), and the next day (down).
    let at = |ms: i64, state| attempt("web-http", "web", state, ms);
    s.record_probe_attempts(
        &site("home"),
        &[at(day + 10, ProbeState::Up), at(day + 20, ProbeState::Up)],
    )
    .await
    .expect("first report");
    s.record_probe_attempts(
        &site("home"),
        &[
            at(day + 30, ProbeState::Down),
            at(day + HOUR + 5, ProbeState::Up),
            at(day + DAY + 7, ProbeState::Down),
        ],
    )
    .await
    .expect("second report");
    let hours = s
        .probe_rollups(&site("home"), "web-http", RollupPeriod::Hour, 0)
        .await
        .expect("hours");
    let rollup = |start_ms, attempts, successes, sum, min, max| ProbeRollup {
        start_ms,
        attempts,
        successes,
        latency_sum_ms: sum,
        latency_min_ms: min,
        latency_max_ms: max,
    };
    let l = |ms: i64| ms / 10;
    assert_eq!(
        hours,
        vec![
            rollup(
                day,
                3,
                2,
                l(day + 10) + l(day + 20) + l(day + 30),
                l(day + 10),
                l(day + 30)
            ),
            rollup(
                day + HOUR,
                1,
                1,
                l(day + HOUR + 5),
                l(day + HOUR + 5),
                l(day + HOUR + 5)
            ),
            rollup(
                day + DAY,
                1,
                0,
                l(day + DAY + 7),
                l(day + DAY + 7),
                l(day + DAY + 7)
            ),
        ]
    );
    let days = s
        .probe_rollups(&site("home"), "web-http", RollupPeriod::Day, day)
        .await
        .expect("days");
    assert_eq!(days.len(), 2);
    assert_eq!(
        (days[0].start_ms, days[0].attempts, days[0].successes),
        (day, 4, 3)
    );
    assert_eq!(
        (days[1].start_ms, days[1].attempts, days[1].successes),
        (day + DAY, 1, 0)
    );
    // Every raw attempt is counted once.
    let raw = s.list_probes(Some(&site("home")), 100).await.expect("raw")[0]
        .history
        .len() as i64;
    assert_eq!(raw, hours.iter().map(|h| h.attempts).sum::<i64>());
    assert_eq!(raw, days.iter().map(|d| d.attempts).sum::<i64>());
    // `since` filters; another probe's rollups are its own.
    let later = s
        .probe_rollups(&site("home"), "web-http", RollupPeriod::Hour, day + HOUR)
        .await
        .expect("later");
    assert_eq!(later.len(), 2);
    assert!(
        s.probe_rollups(&site("home"), "db-tcp", RollupPeriod::Hour, 0)
            .await
            .expect("none")
            .is_empty()
    );
    // Raw attempts pruned, rollups stay; rollups pruned per period.
    s.prune_probe_attempts(day + 2 * DAY)
        .await
        .expect("prune raw");
    assert_eq!(
        s.probe_rollups(&site("home"), "web-http", RollupPeriod::Day, 0)
            .await
            .expect("days after")
            .len(),
        2
    );
    assert_eq!(
        s.prune_probe_rollups(RollupPeriod::Hour, day + DAY)
            .await
            .expect("prune hours"),
        2
    );
    assert_eq!(
        s.probe_rollups(&site("home"), "web-http", RollupPeriod::Day, 0)
            .await
            .expect("days kept")
            .len(),
        2,
        "daily rollups outlive hourly ones"
    );
    // Retiring the probe forgets its rollups.
    s.retire_probes(&site("home"), &[]).await.expect("retire");
    assert!(
        s.probe_rollups(&site("home"), "web-http", RollupPeriod::Day, 0)
            .await
            .expect("gone")
            .is_empty()
    );
}

/// An attempt whose latency is a tenth of its time, so history points are easy to tell
/// apart; `ok` follows the state.
fn attempt(probe: &str, service: &str, state: ProbeState, at_ms: i64) -> ProbeAttempt {
    ProbeAttempt {
        probe: probe.into(),
        service: service.into(),
        kind: "http".into(),
        ok: state == ProbeState::Up,
        latency_ms: at_ms / 10,
        message: format!("{probe} at {at_ms}"),
        evidence: if state == ProbeState::Down {
            format!("HTTP 502 at {at_ms}")
        } else {
            String::new()
        },
        at_ms,
        state,
    }
}

fn point(at_ms: i64, latency_ms: i64, ok: bool) -> HistoryPoint {
    HistoryPoint {
        at_ms,
        latency_ms,
        ok,
    }
}

async fn probes(f: &Fixture, site_name: Option<&str>, history: u32) -> Vec<ProbeRecord> {
    let site_name = site_name.map(site);
    f.store
        .list_probes(site_name.as_ref(), history)
        .await
        .expect("list probes")
}

async fn probe(f: &Fixture, site_name: &str, name: &str, history: u32) -> ProbeRecord {
    probes(f, Some(site_name), history)
        .await
        .into_iter()
        .find(|p| p.probe == name)
        .unwrap_or_else(|| panic!("probe {site_name}/{name} is listed"))
}

async fn record(f: &Fixture, site_name: &str, attempts: &[ProbeAttempt]) {
    f.store
        .record_probe_attempts(&site(site_name), attempts)
        .await
        .expect("record attempts");
}

/// (state, since_ms, last_at_ms, message) of a probe.
async fn latest(f: &Fixture, name: &str) -> (ProbeState, i64, i64, String) {
    let p = probe(f, "home", name, 0).await;
    (p.state, p.since_ms, p.last_at_ms, p.message)
}

async fn probes_record_and_list(f: &Fixture) {
    use ProbeState::{Down, Unknown, Up};
    record(f, "home", &[]).await;
    assert!(probes(f, None, 10).await.is_empty());

    record(
        f,
        "home",
        &[
            attempt("web-http", "web", Unknown, 100),
            attempt("db-pg", "db", Up, 120),
            attempt("web-tcp", "web", Up, 150),
            attempt("web-http", "web", Up, 200),
        ],
    )
    .await;
    record(f, "lab", &[attempt("api-http", "api", Down, 130)]).await;
    // Within one report, the later attempt of a probe wins and moves `since_ms`.
    assert_eq!(
        latest(f, "web-http").await,
        (Up, 200, 200, "web-http at 200".into())
    );

    // The same state keeps `since_ms`; a new state moves it.
    record(f, "home", &[attempt("web-http", "web", Up, 300)]).await;
    assert_eq!(latest(f, "web-http").await.1, 200);
    record(f, "home", &[attempt("web-http", "web", Down, 400)]).await;
    assert_eq!(
        latest(f, "web-http").await,
        (Down, 400, 400, "web-http at 400".into())
    );

    // An older attempt (a late report) joins the history but not the latest row.
    record(f, "home", &[attempt("web-http", "web", Up, 250)]).await;
    assert_eq!(
        latest(f, "web-http").await,
        (Down, 400, 400, "web-http at 400".into())
    );
    // An attempt as old as the latest row is not older: it replaces it.
    let mut same_time = attempt("web-http", "web", Down, 400);
    same_time.message = "again".into();
    same_time.latency_ms = 41;
    record(f, "home", &[same_time]).await;
    assert_eq!(
        latest(f, "web-http").await,
        (Down, 400, 400, "again".into())
    );
    record(f, "home", &[attempt("web-http", "web", Down, 500)]).await;
    assert_eq!(
        latest(f, "web-http").await,
        (Down, 400, 500, "web-http at 500".into())
    );

    // Sorted by site, service, probe; history oldest first.
    let all = probes(f, None, 10).await;
    let keys: Vec<_> = all
        .iter()
        .map(|p| (p.site.as_str(), p.service.as_str(), p.probe.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("home", "db", "db-pg"),
            ("home", "web", "web-http"),
            ("home", "web", "web-tcp"),
            ("lab", "api", "api-http"),
        ]
    );
    assert_eq!(
        all[1].history,
        [
            point(100, 10, false),
            point(200, 20, true),
            point(250, 25, true),
            point(300, 30, true),
            point(400, 40, false),
            point(400, 41, false),
            point(500, 50, false),
        ]
    );
    assert_eq!(
        all[2],
        ProbeRecord {
            site: site("home"),
            probe: "web-tcp".into(),
            service: "web".into(),
            kind: "http".into(),
            state: Up,
            ok: true,
            latency_ms: 15,
            message: "web-tcp at 150".into(),
            last_at_ms: 150,
            since_ms: 150,
            history: vec![point(150, 15, true)],
        }
    );
    let api = &all[3];
    assert_eq!((api.state, api.ok, api.since_ms), (Down, false, 130));

    // The latest `history` attempts only, still oldest first; none at all for 0.
    assert_eq!(
        probe(f, "home", "web-http", 3).await.history,
        [
            point(400, 40, false),
            point(400, 41, false),
            point(500, 50, false)
        ]
    );
    let bare = probes(f, None, 0).await;
    assert_eq!(bare.len(), 4);
    assert!(bare.iter().all(|p| p.history.is_empty()), "{bare:?}");
    assert_eq!(bare[1].last_at_ms, 500);

    // One site only.
    let lab = probes(f, Some("lab"), 10).await;
    assert_eq!(lab.len(), 1);
    assert_eq!(lab[0].probe, "api-http");
    assert_eq!(lab[0].history, [point(130, 13, false)]);
    assert!(probes(f, Some("nowhere"), 10).await.is_empty());

    // A newer attempt replaces what the probe reported about itself.
    let mut moved = attempt("web-tcp", "frontend", Up, 600);
    moved.kind = "tcp".into();
    record(f, "home", &[moved]).await;
    let moved = probe(f, "home", "web-tcp", 10).await;
    assert_eq!(
        (moved.service.as_str(), moved.kind.as_str(), moved.since_ms),
        ("frontend", "tcp", 150)
    );
    assert_eq!(moved.history.len(), 2);
}

async fn probes_retire_and_prune(f: &Fixture) {
    use ProbeState::Up;
    for at in [100, 200] {
        record(
            f,
            "home",
            &[
                attempt("a", "web", Up, at),
                attempt("b", "web", Up, at),
                attempt("c", "db", Up, at),
            ],
        )
        .await;
    }
    record(f, "lab", &[attempt("a", "web", Up, 100)]).await;

    let names = |list: Vec<ProbeRecord>| list.into_iter().map(|p| p.probe).collect::<Vec<_>>();
    let keep = ["a".to_owned(), "c".to_owned(), "gone-already".to_owned()];
    assert_eq!(
        f.store
            .retire_probes(&site("home"), &keep)
            .await
            .expect("retire"),
        1
    );
    assert_eq!(names(probes(f, Some("home"), 10).await), ["c", "a"]);
    assert_eq!(names(probes(f, Some("lab"), 10).await), ["a"], "other site");
    // A retired probe's history went with it.
    record(f, "home", &[attempt("b", "web", Up, 300)]).await;
    let b = probe(f, "home", "b", 10).await;
    assert_eq!(b.history, [point(300, 30, true)]);
    assert_eq!((b.since_ms, b.last_at_ms), (300, 300));

    // Keeping nothing forgets every probe of the site.
    assert_eq!(
        f.store
            .retire_probes(&site("home"), &[])
            .await
            .expect("retire all"),
        3
    );
    assert!(probes(f, Some("home"), 10).await.is_empty());
    assert_eq!(probes(f, None, 10).await.len(), 1);

    // Pruning deletes attempts strictly older than the bound, and keeps the latest rows.
    let lab_x: Vec<_> = (1..=5).map(|i| attempt("x", "api", Up, i * 100)).collect();
    record(f, "lab", &lab_x).await;
    assert_eq!(
        f.store.prune_probe_attempts(300).await.expect("prune"),
        3,
        "lab/a at 100, lab/x at 100 and 200"
    );
    assert_eq!(f.store.prune_probe_attempts(300).await.expect("prune"), 0);
    let x = probe(f, "lab", "x", 10).await;
    assert_eq!(
        x.history.iter().map(|p| p.at_ms).collect::<Vec<_>>(),
        [300, 400, 500]
    );
    assert_eq!((x.since_ms, x.last_at_ms), (100, 500));
    let a = probe(f, "lab", "a", 10).await;
    assert!(a.history.is_empty());
    assert_eq!(a.last_at_ms, 100, "the latest row outlives its history");
}

async fn probes_record_a_large_batch(f: &Fixture) {
    const PROBES: i64 = 50;
    const ATTEMPTS: i64 = 1_000;
    // Interleaved: each probe's 20 attempts, 10 up and then 10 down.
    let batch: Vec<_> = (0..ATTEMPTS)
        .map(|i| {
            let state = if i < ATTEMPTS / 2 {
                ProbeState::Up
            } else {
                ProbeState::Down
            };
            attempt(&format!("p{:02}", i % PROBES), "web", state, 10_000 + i)
        })
        .collect();
    let started = Instant::now();
    record(f, "bulk", &batch).await;
    eprintln!(
        "probe attempts on {}: {ATTEMPTS} in one report in {:?}",
        f.store.backend().as_str(),
        started.elapsed()
    );

    let all = probes(f, Some("bulk"), 5).await;
    assert_eq!(all.len(), 50);
    for (n, p) in (0..PROBES).zip(&all) {
        assert_eq!(p.probe, format!("p{n:02}"));
        assert_eq!(p.state, ProbeState::Down);
        assert_eq!(p.since_ms, 10_000 + ATTEMPTS / 2 + n, "{p:?}");
        assert_eq!(p.last_at_ms, 10_000 + ATTEMPTS - PROBES + n, "{p:?}");
        let times: Vec<i64> = p.history.iter().map(|h| h.at_ms).collect();
        let want: Vec<i64> = (15..20).map(|k| 10_000 + k * PROBES + n).collect();
        assert_eq!(times, want);
    }
    assert_eq!(
        f.store
            .prune_probe_attempts(i64::MAX)
            .await
            .expect("prune all"),
        1_000
    );
}

// --- incidents ---

fn new_incident(site_name: &str, service: &str, probes: &[&str], at: i64) -> NewIncident {
    NewIncident {
        site: site(site_name),
        service: service.into(),
        probes: probes.iter().map(|p| (*p).to_owned()).collect(),
        evidence: format!("{service} down at {at}"),
        opened_at_ms: at,
    }
}

async fn open(f: &Fixture, new: &NewIncident) -> (Incident, bool) {
    f.store.open_incident(new).await.expect("open incident")
}

async fn incidents_open_merge_resolve(f: &Fixture) {
    let s = &f.store;
    let new = new_incident("home", "web", &["web-tcp", "web-http", "web-http"], 1_000);
    let (first, opened) = open(f, &new).await;
    assert!(opened, "a new incident");
    assert_eq!(
        first,
        Incident {
            id: first.id,
            site: site("home"),
            service: "web".into(),
            status: IncidentStatus::Open,
            probes: vec!["web-http".into(), "web-tcp".into()],
            evidence: "web down at 1000".into(),
            opened_at_ms: 1_000,
            resolved_at_ms: None,
            resolution: None,
            session_id: None,
        }
    );
    assert_eq!(
        s.get_incident(first.id).await.expect("get"),
        Some(first.clone())
    );
    assert_eq!(s.get_incident(first.id + 1_000).await.expect("get"), None);

    // Opening again merges the probes into the open one and keeps its evidence.
    let again = new_incident("home", "web", &["web-http", "web-dns"], 2_000);
    let (merged, opened) = open(f, &again).await;
    assert!(!opened, "the open incident is returned");
    assert_eq!(
        merged,
        Incident {
            probes: vec!["web-dns".into(), "web-http".into(), "web-tcp".into()],
            ..first.clone()
        }
    );
    assert_eq!(
        s.get_incident(first.id).await.expect("get"),
        Some(merged.clone())
    );

    // Other services and other sites have their own.
    let (db, opened) = open(f, &new_incident("home", "db", &["db-pg"], 2_500)).await;
    assert!(opened);
    let (lab, opened) = open(f, &new_incident("lab", "web", &["web-http"], 2_600)).await;
    assert!(opened);
    let mut ids = vec![first.id, db.id, lab.id];
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "three incidents");

    let resolved = s
        .resolve_incident(first.id, Resolution::VerifiedFixed, 3_000)
        .await
        .expect("resolve")
        .expect("was open");
    assert_eq!(
        resolved,
        Incident {
            status: IncidentStatus::Resolved,
            resolved_at_ms: Some(3_000),
            resolution: Some(Resolution::VerifiedFixed),
            ..merged.clone()
        }
    );
    // Resolving again changes nothing.
    assert_eq!(
        s.resolve_incident(first.id, Resolution::Dismissed, 4_000)
            .await
            .expect("resolve"),
        None
    );
    assert_eq!(
        s.get_incident(first.id).await.expect("get"),
        Some(resolved.clone())
    );
    let missing = expect_err(
        s.resolve_incident(first.id + 1_000, Resolution::Recovered, 4_000)
            .await,
    );
    assert!(matches!(missing, StoreError::NotFound), "{missing}");

    // The next outage of the service opens a new incident.
    let (second, opened) = open(f, &new_incident("home", "web", &["web-http"], 5_000)).await;
    assert!(opened);
    assert_ne!(second.id, first.id);
    assert_eq!(second.status, IncidentStatus::Open);
    assert_eq!(second.probes, ["web-http"]);
    assert_eq!(s.get_incident(first.id).await.expect("get"), Some(resolved));

    for (id, resolution) in [
        (db.id, Resolution::Recovered),
        (lab.id, Resolution::Dismissed),
    ] {
        let done = s
            .resolve_incident(id, resolution, 6_000)
            .await
            .expect("resolve")
            .expect("was open");
        assert_eq!(done.resolution, Some(resolution));
    }
}

async fn incidents_list_and_link_sessions(f: &Fixture) {
    let s = &f.store;
    let (i0, _) = open(f, &new_incident("home", "web", &["a"], 100)).await;
    s.resolve_incident(i0.id, Resolution::Recovered, 150)
        .await
        .expect("resolve")
        .expect("was open");
    let (i1, _) = open(f, &new_incident("home", "db", &["b"], 200)).await;
    let (i2, _) = open(f, &new_incident("lab", "web", &["c"], 300)).await;
    let (i3, _) = open(f, &new_incident("home", "web", &["d"], 400)).await;

    let list = |filter: IncidentFilter| {
        let store = s.clone();
        async move {
            store
                .list_incidents(&filter)
                .await
                .expect("list incidents")
                .into_iter()
                .map(|i| i.id)
                .collect::<Vec<_>>()
        }
    };
    let all = IncidentFilter::default();
    assert_eq!(list(all.clone()).await, [i3.id, i2.id, i1.id, i0.id]);
    let home = IncidentFilter {
        site: Some(site("home")),
        ..all.clone()
    };
    assert_eq!(list(home.clone()).await, [i3.id, i1.id, i0.id]);
    let web = IncidentFilter {
        service: Some("web".into()),
        ..all.clone()
    };
    assert_eq!(list(web).await, [i3.id, i2.id, i0.id]);
    let open_only = IncidentFilter {
        status: Some(IncidentStatus::Open),
        ..all.clone()
    };
    assert_eq!(list(open_only).await, [i3.id, i2.id, i1.id]);
    let resolved = IncidentFilter {
        status: Some(IncidentStatus::Resolved),
        ..all.clone()
    };
    assert_eq!(list(resolved).await, [i0.id]);
    let home_web_open = IncidentFilter {
        service: Some("web".into()),
        status: Some(IncidentStatus::Open),
        ..home
    };
    assert_eq!(list(home_web_open).await, [i3.id]);
    let page = IncidentFilter {
        limit: 2,
        offset: 1,
        ..all.clone()
    };
    assert_eq!(list(page).await, [i2.id, i1.id]);
    let nothing = IncidentFilter {
        site: Some(site("lab")),
        service: Some("db".into()),
        ..all.clone()
    };
    assert!(list(nothing).await.is_empty());

    // The session started for an incident.
    let session = s
        .create_session(&new_session("home", Trigger::Incident, 450))
        .await
        .expect("session");
    s.set_incident_session(i3.id, session.id)
        .await
        .expect("link");
    let linked = s.get_incident(i3.id).await.expect("get").expect("exists");
    assert_eq!(
        linked,
        Incident {
            session_id: Some(session.id),
            ..i3.clone()
        }
    );
    let by_session = IncidentFilter {
        session_id: Some(session.id),
        ..all.clone()
    };
    assert_eq!(list(by_session).await, [i3.id]);

    let missing = expect_err(s.set_incident_session(i3.id + 1_000, session.id).await);
    assert!(matches!(missing, StoreError::NotFound), "{missing}");
    let unknown = expect_err(s.set_incident_session(i1.id, session.id + 1_000).await);
    assert!(matches!(unknown, StoreError::Conflict(_)), "{unknown}");
    assert_eq!(
        s.get_incident(i1.id)
            .await
            .expect("get")
            .map(|i| i.session_id),
        Some(None),
        "a refused link leaves the incident alone"
    );

    // The link survives merges and resolution.
    let (merged, opened) = open(f, &new_incident("home", "web", &["e"], 500)).await;
    assert!(!opened);
    assert_eq!((merged.id, merged.session_id), (i3.id, Some(session.id)));
    let done = s
        .resolve_incident(i3.id, Resolution::VerifiedFixed, 600)
        .await
        .expect("resolve")
        .expect("was open");
    assert_eq!(done.session_id, Some(session.id));
}

async fn incident_race_one_opener(f: &Fixture) {
    const TASKS: usize = 50;
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut tasks = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        let store = f.store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let probe = format!("p{i:02}");
            let at = i64::try_from(i).unwrap_or_default();
            store
                .open_incident(&new_incident("race", "web", &[&probe], at))
                .await
        }));
    }
    let mut openers = Vec::new();
    let mut ids = Vec::new();
    for task in tasks {
        let (incident, opened) = task.await.expect("task").expect("open incident");
        if opened {
            openers.push(incident.clone());
        }
        ids.push(incident.id);
    }
    assert_eq!(openers.len(), 1, "exactly one call opens the incident");
    let opener = &openers[0];
    assert!(ids.iter().all(|id| *id == opener.id), "{ids:?}");

    // Every call's probe was merged in; the opener's evidence and time were kept.
    let stored = f
        .store
        .get_incident(opener.id)
        .await
        .expect("get")
        .expect("exists");
    let want: Vec<String> = (0..TASKS).map(|i| format!("p{i:02}")).collect();
    assert_eq!(stored.probes, want);
    assert_eq!(stored.evidence, opener.evidence);
    assert_eq!(stored.opened_at_ms, opener.opened_at_ms);
    assert_eq!(stored.status, IncidentStatus::Open);
    let listed = f
        .store
        .list_incidents(&IncidentFilter {
            site: Some(site("race")),
            ..IncidentFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(listed, vec![stored]);
}

// --- alerts ---

fn alert(service: &str, fingerprint: &str) -> claudeops_core::alert::Alert {
    claudeops_core::alert::Alert {
        source: "alertmanager".into(),
        site: None,
        service: service.into(),
        severity: "critical".into(),
        summary: format!("{service} answers 5xx"),
        description: String::new(),
        labels: [("alertname".to_owned(), "HighErrorRate".to_owned())]
            .into_iter()
            .collect(),
        firing: true,
        fingerprint: fingerprint.into(),
        tier: None,
        url: None,
    }
}

async fn alerts_record_repeat_resolve(f: &Fixture) {
    use claudeops_core::Tier;
    let (incident, _) = open(f, &new_incident("hooks", "web", &[], 1)).await;
    assert_eq!(
        f.store
            .alert_incident(&site("hooks"), "am:1")
            .await
            .expect("find"),
        None
    );
    // Fifty copies of one alert at once: exactly one is the first sight.
    const TASKS: usize = 50;
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut tasks = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        let (store, barrier) = (f.store.clone(), barrier.clone());
        let at = 10 + i64::try_from(i).unwrap_or_default();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .record_alert(
                    incident.id,
                    &alert("web", "am:1"),
                    Some(Tier::Investigate),
                    at,
                )
                .await
        }));
    }
    let mut firsts = 0;
    for task in tasks {
        let record = task.await.expect("task").expect("record alert");
        firsts += usize::from(record.received == 1);
    }
    assert_eq!(firsts, 1, "exactly one call sees the alert first");
    let found = f
        .store
        .alert_incident(&site("hooks"), "am:1")
        .await
        .expect("find");
    assert_eq!(found, Some(incident.id));
    assert_eq!(
        f.store
            .alert_incident(&site("other"), "am:1")
            .await
            .expect("find"),
        None,
        "a fingerprint is looked up within its site"
    );
    let alerts = f.store.incident_alerts(incident.id).await.expect("alerts");
    assert_eq!(alerts.len(), 1);
    let stored = &alerts[0];
    assert_eq!(stored.received, 50);
    assert!(stored.firing && stored.holds_open());
    assert_eq!(stored.tier, Some(Tier::Investigate));
    assert!((10..60).contains(&stored.first_seen_ms), "{stored:?}");
    assert!(stored.last_seen_ms >= stored.first_seen_ms, "{stored:?}");
    assert!(
        stored.evidence.contains("<untrusted-data"),
        "{}",
        stored.evidence
    );
    assert_eq!(
        stored.labels.get("alertname").map(String::as_str),
        Some("HighErrorRate")
    );

    let resolved = f
        .store
        .resolve_alert(incident.id, "am:1", 99)
        .await
        .expect("resolve")
        .expect("known alert");
    assert!(!resolved.firing && !resolved.holds_open());
    assert_eq!(resolved.resolved_at_ms, Some(99));
    assert_eq!(
        f.store
            .resolve_alert(incident.id, "am:none", 99)
            .await
            .expect("resolve"),
        None
    );
    // Firing again brings it back; a resolved incident is no longer found.
    let again = f
        .store
        .record_alert(incident.id, &alert("web", "am:1"), None, 120)
        .await
        .expect("again");
    assert!(again.firing && again.resolved_at_ms.is_none());
    f.store
        .resolve_incident(incident.id, Resolution::Recovered, 130)
        .await
        .expect("resolve incident");
    assert_eq!(
        f.store
            .alert_incident(&site("hooks"), "am:1")
            .await
            .expect("find"),
        None
    );
    let unknown = expect_err(
        f.store
            .record_alert(999_999, &alert("web", "am:2"), None, 1)
            .await,
    );
    assert!(matches!(unknown, StoreError::NotFound), "{unknown:?}");
}

// --- inventories ---

fn inventory(site_name: &str, worker_id: &str, at: i64) -> InventoryRecord {
    InventoryRecord {
        site: site(site_name),
        worker_id: worker_id.into(),
        inventory: serde_json::json!({
            "hostname": format!("{worker_id}.lan"),
            "containers": [
                {"name": "web", "image": "nginx:1.27", "ports": [80, 443], "healthy": true},
                {"name": "db", "image": "postgres:17", "ports": [], "healthy": null},
            ],
            "load": 0.5,
            "note": "héllo ✓",
            "reported": at,
        }),
        reported_at_ms: at,
    }
}

async fn inventories_put_replace_list(f: &Fixture) {
    let s = &f.store;
    assert!(s.inventories(&site("home")).await.expect("none").is_empty());
    let w2 = inventory("home", "w2", 100);
    let w1 = inventory("home", "w1", 200);
    let lab = inventory("lab", "w1", 300);
    for record in [&w2, &w1, &lab] {
        s.put_inventory(record).await.expect("put");
    }
    assert_eq!(
        s.inventories(&site("home")).await.expect("home"),
        vec![w1.clone(), w2.clone()],
        "sorted by worker id"
    );
    assert_eq!(
        s.inventories(&site("lab")).await.expect("lab"),
        vec![lab.clone()]
    );

    // A new report replaces the worker's previous one.
    let newer = InventoryRecord {
        inventory: serde_json::json!({"hostname": "w1.lan", "containers": []}),
        reported_at_ms: 400,
        ..w1
    };
    s.put_inventory(&newer).await.expect("replace");
    assert_eq!(
        s.inventories(&site("home")).await.expect("home"),
        vec![newer, w2]
    );
    assert_eq!(s.inventories(&site("lab")).await.expect("lab"), vec![lab]);
    assert!(
        s.inventories(&site("nowhere"))
            .await
            .expect("none")
            .is_empty()
    );
}

// --- notifications ---

fn delivery(notification_id: &str, url_index: u32, attempt: u32, at_ms: i64) -> DeliveryRecord {
    DeliveryRecord {
        notification_id: notification_id.into(),
        kind: "incident_opened".into(),
        title: format!("web is down ({notification_id})"),
        sites: vec!["home".into(), "lab".into()],
        url_index,
        attempt,
        ok: true,
        error: None,
        at_ms,
    }
}

async fn deliveries_record_and_filter(f: &Fixture) {
    let s = &f.store;
    let list = |filter: DeliveryFilter| {
        let store = s.clone();
        async move {
            store
                .list_deliveries(&filter)
                .await
                .expect("list deliveries")
        }
    };
    assert!(list(DeliveryFilter::default()).await.is_empty());

    let failed = DeliveryRecord {
        ok: false,
        error: Some("timed out after 10s".into()),
        ..delivery("n1", 1, 1, 100)
    };
    let retried = delivery("n1", 1, 2, 200);
    let second_url = delivery("n1", 2, 1, 200);
    let digest = DeliveryRecord {
        kind: "daily_digest".into(),
        sites: Vec::new(),
        url_index: u32::MAX,
        ..delivery("n2", 1, u32::MAX, 150)
    };
    for record in [&failed, &retried, &second_url, &digest] {
        s.record_delivery(record).await.expect("record");
    }

    // Newest first; ties in the order they were recorded, latest first.
    assert_eq!(
        list(DeliveryFilter::default()).await,
        vec![
            second_url.clone(),
            retried.clone(),
            digest.clone(),
            failed.clone()
        ]
    );
    let n1 = DeliveryFilter {
        notification_id: Some("n1".into()),
        ..DeliveryFilter::default()
    };
    assert_eq!(
        list(n1.clone()).await,
        vec![second_url, retried.clone(), failed]
    );
    let page = DeliveryFilter {
        limit: 1,
        offset: 1,
        ..n1
    };
    assert_eq!(list(page).await, vec![retried]);
    let n2 = DeliveryFilter {
        notification_id: Some("n2".into()),
        ..DeliveryFilter::default()
    };
    assert_eq!(list(n2).await, vec![digest]);
    let unknown = DeliveryFilter {
        notification_id: Some("n3".into()),
        ..DeliveryFilter::default()
    };
    assert!(list(unknown).await.is_empty());
}
