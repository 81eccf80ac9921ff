//! Conformance cases of `import_legacy`: the original's database (built by the
//! `sqlite3` CLI from its published migrations and rows shaped like its own)
//! imported once, whole and with its links; imported again, adding nothing; an
//! older original; another original's rows refused where ids collide.

use std::collections::HashMap;

use claudeops_core::ledger::{ActionKind, ActionStatus, CooldownLimits, NewAction};
use claudeops_core::{Session, SessionStatus, Trigger};
use claudeops_store::legacy::{self, LegacyKind, LegacyReport, SkipReason};
use claudeops_store::{ActionFilter, EventFilter, MemoryFilter, SessionFilter};

use crate::{Fixture, site};

conformance!(
    legacy_import_takes_everything_once,
    legacy_import_of_an_older_original,
    legacy_import_refuses_another_originals_colliding_rows,
    legacy_import_takes_what_the_original_added_since,
);

/// 2026-02-14T09:00:00Z, the start of the fixture's escalation chain.
const CHAIN_START_MS: i64 = 1_771_059_600_000;

async fn import(f: &Fixture, path: &std::path::Path, site_name: &str) -> LegacyReport {
    let db = legacy::read(path)
        .await
        .unwrap_or_else(|e| panic!("read: {e}"));
    f.store
        .import_legacy(&db, &site(site_name), 1_800_000_000_000)
        .await
        .unwrap_or_else(|e| panic!("import: {e}"))
}

/// (taken, already imported, refused) of a kind.
fn counts(report: &LegacyReport, kind: LegacyKind) -> (usize, usize, usize) {
    let t = report.tally(kind);
    (t.taken, t.already, t.refused)
}

/// The imported sessions by the original's id.
async fn by_legacy_id(f: &Fixture, site_name: &str) -> HashMap<i64, Session> {
    let filter = SessionFilter {
        site: Some(site(site_name)),
        limit: 500,
        offset: 0,
    };
    let sessions = f
        .store
        .list_sessions(&filter)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sessions
        .into_iter()
        .filter_map(|s| {
            let id = s.structured.as_ref()?["legacy"]["id"].as_i64()?;
            Some((id, s))
        })
        .collect()
}

async fn legacy_import_takes_everything_once(f: &Fixture) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = claudeops_tests::legacy::build_full(dir.path());
    let report = import(f, &path, "local").await;
    assert_eq!(
        counts(&report, LegacyKind::Session),
        (10, 0, 1),
        "{report:#?}"
    );
    assert_eq!(counts(&report, LegacyKind::Event), (11, 0, 1));
    assert_eq!(counts(&report, LegacyKind::Memory), (7, 0, 1));
    assert_eq!(counts(&report, LegacyKind::CooldownAction), (4, 0, 1));
    let refused: Vec<(LegacyKind, i64)> = report
        .skipped
        .iter()
        .map(|s| (s.kind, s.legacy_id))
        .collect();
    assert_eq!(
        refused,
        [
            (LegacyKind::Session, 9),
            (LegacyKind::Event, 11),
            (LegacyKind::Memory, 8),
            (LegacyKind::CooldownAction, 5)
        ]
    );

    // The chain, linked by our ids, each tier with its own cost and times.
    let sessions = by_legacy_id(f, "local").await;
    assert_eq!(sessions.len(), 10);
    let (t1, t2, t3) = (&sessions[&2], &sessions[&3], &sessions[&4]);
    assert_eq!(t1.parent_id, None);
    assert_eq!(t2.parent_id, Some(t1.id));
    assert_eq!(t3.parent_id, Some(t2.id));
    assert_eq!(
        (t1.trigger, t2.trigger, t3.trigger),
        (Trigger::Scheduled, Trigger::Escalation, Trigger::Escalation)
    );
    assert_eq!(
        (t1.status, t3.status),
        (SessionStatus::Completed, SessionStatus::Completed)
    );
    assert_eq!(
        (t1.tier.number(), t2.tier.number(), t3.tier.number()),
        (1, 2, 3)
    );
    assert_eq!(t3.model, "opus");
    assert!((t3.cost_usd - 1.8843).abs() < 1e-9, "{t3:?}");
    assert_eq!(t3.turns, 41);
    assert_eq!(t1.started_at_ms, CHAIN_START_MS);
    assert_eq!(t1.ended_at_ms, Some(CHAIN_START_MS + 130_000));
    let children = f
        .store
        .child_sessions(t1.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(children.iter().map(|c| c.id).collect::<Vec<_>>(), [t2.id]);
    assert_eq!(
        t3.structured.as_ref().map(|s| s["summary"].clone()),
        Some("Jellyfin redeployed and healthy.".into())
    );
    let manual = &sessions[&5];
    assert_eq!(manual.trigger, Trigger::Manual);
    assert_eq!(
        manual.prompt.as_deref(),
        Some("Check why Jellyfin transcoding is slow")
    );
    assert_eq!(sessions[&6].trigger, Trigger::Api);
    assert_eq!(sessions[&7].status, SessionStatus::TimedOut);
    assert_eq!(sessions[&7].exit_code, Some(137));
    assert_eq!(sessions[&8].status, SessionStatus::Stopped);
    // SQLite's own time format; an unknown trigger.
    assert_eq!(sessions[&10].started_at_ms, CHAIN_START_MS + 21 * 3_600_000);
    assert_eq!(sessions[&10].trigger, Trigger::Scheduled);
    // Still running in the original: failed here, so the site is free.
    let was_running = &sessions[&11];
    assert_eq!(was_running.status, SessionStatus::Failed);
    assert!(
        was_running
            .error
            .as_deref()
            .is_some_and(|e| e.contains("imported while running")),
        "{was_running:?}"
    );
    assert!(
        f.store
            .running_sessions()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );

    // Events with their sessions, every level.
    let events = f
        .store
        .list_events(&EventFilter {
            site: Some(site("local")),
            limit: 100,
            ..EventFilter::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(events.len(), 11);
    let escalation = events
        .iter()
        .find(|e| e.message.starts_with("Escalating to Tier 3"))
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(escalation.session_id, Some(t2.id));
    assert_eq!(escalation.service, None);
    let was_error = events
        .iter()
        .find(|e| e.service.as_deref() == Some("sabnzbd"))
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(was_error.level.as_str(), "critical");
    let orphan = events
        .iter()
        .find(|e| e.message == "Ran at an impossible tier")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(orphan.session_id, None);

    // Every memory, the duplicates numbered, the most trusted plain.
    let memories = f
        .store
        .list_memories(&MemoryFilter {
            site: Some(site("local")),
            limit: 100,
            ..MemoryFilter::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let keys: HashMap<&str, &str> = memories
        .iter()
        .map(|m| (m.key.as_str(), m.value.as_str()))
        .collect();
    assert_eq!(keys.len(), 7, "{keys:?}");
    assert_eq!(
        keys["jellyfin:config"],
        "Transcodes go to /transcode on a tmpfs"
    );
    assert!(keys["jellyfin:config.2"].contains("VAAPI"));
    assert!(keys["jellyfin:config.3"].contains("nightly"));
    assert!(keys["network"].contains("AdGuard"));
    assert!(keys["network.2"].contains("gateway"));
    assert!(keys.contains_key("postgres:maintenance"));
    let disk = memories
        .iter()
        .find(|m| m.key == "media-server:disk-usage")
        .unwrap_or_else(|| panic!("{keys:?}"));
    assert!(!disk.active);
    let edited = memories
        .iter()
        .find(|m| m.key == "jellyfin:config")
        .unwrap_or_else(|| panic!("{keys:?}"));
    assert_eq!(edited.session_id, Some(t3.id));
    assert!(edited.updated_at_ms > edited.created_at_ms);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.text.contains("kept as \"jellyfin:config.2\"")),
        "{:#?}",
        report.notes
    );

    // Cooldown actions are past ledger entries the rules count.
    let actions = f
        .store
        .list_actions(&ActionFilter {
            site: Some(site("local")),
            limit: 100,
            ..ActionFilter::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(actions.len(), 4);
    let redeploy = actions
        .iter()
        .find(|a| a.kind == ActionKind::Redeploy)
        .unwrap_or_else(|| panic!("{actions:?}"));
    assert_eq!(
        (
            redeploy.service.as_str(),
            redeploy.status,
            redeploy.session_id
        ),
        ("jellyfin", ActionStatus::Succeeded, Some(t3.id))
    );
    let limits = CooldownLimits::default();
    let an_hour_later = CHAIN_START_MS + 3_600_000;
    let restart = NewAction {
        site: site("local"),
        service: "jellyfin".into(),
        kind: ActionKind::Restart,
        session_id: None,
        args: serde_json::Value::Null,
        now_ms: an_hour_later,
    };
    let decision = f
        .store
        .reserve_action(&restart, &limits)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !decision.is_granted(),
        "two imported restarts count: {decision:?}"
    );

    // Again: nothing new; what was taken is skipped as imported, with our ids.
    let again = import(f, &path, "local").await;
    assert_eq!(again.taken(), 0, "{again:#?}");
    assert_eq!(counts(&again, LegacyKind::Session), (0, 10, 1));
    assert_eq!(counts(&again, LegacyKind::Event), (0, 11, 1));
    assert_eq!(counts(&again, LegacyKind::Memory), (0, 7, 1));
    assert_eq!(counts(&again, LegacyKind::CooldownAction), (0, 4, 1));
    assert!(again.skipped.iter().any(|s| s.kind == LegacyKind::Session
        && s.legacy_id == 4
        && s.reason == SkipReason::AlreadyImported { our_id: t3.id }));
    assert_eq!(by_legacy_id(f, "local").await.len(), 10);

    // Into another site it is a new history.
    let elsewhere = import(f, &path, "home").await;
    assert_eq!(counts(&elsewhere, LegacyKind::Session), (10, 0, 1));
}

async fn legacy_import_of_an_older_original(f: &Fixture) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("claude-ops-v4.db");
    claudeops_tests::legacy::build(&path, 4, &["seed-v4.sql"]);
    let report = import(f, &path, "local").await;
    assert_eq!(
        counts(&report, LegacyKind::Session),
        (3, 0, 0),
        "{report:#?}"
    );
    assert_eq!(counts(&report, LegacyKind::Event), (2, 0, 0));
    assert_eq!(counts(&report, LegacyKind::Memory), (0, 0, 0));
    assert_eq!(counts(&report, LegacyKind::CooldownAction), (1, 0, 0));
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.text.contains("no memories table")),
        "{:#?}",
        report.notes
    );
    let sessions = by_legacy_id(f, "local").await;
    assert_eq!(sessions[&2].parent_id, None);
    assert_eq!(sessions[&2].trigger, Trigger::Manual);
    assert_eq!(sessions[&3].status, SessionStatus::Failed);
    assert_eq!(sessions[&3].cost_usd, 0.0);
}

async fn legacy_import_refuses_another_originals_colliding_rows(f: &Fixture) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let full = claudeops_tests::legacy::build_full(dir.path());
    import(f, &full, "local").await;
    let older = dir.path().join("other.db");
    claudeops_tests::legacy::build(&older, 4, &["seed-v4.sql"]);
    let report = import(f, &older, "local").await;
    assert_eq!(report.taken(), 0, "{report:#?}");
    assert_eq!(counts(&report, LegacyKind::Session), (0, 0, 3));
    assert!(
        report
            .skipped
            .iter()
            .all(|s| matches!(s.reason, SkipReason::OtherDatabase { .. })),
        "{report:#?}"
    );
    assert_eq!(by_legacy_id(f, "local").await.len(), 10);
}

async fn legacy_import_takes_what_the_original_added_since(f: &Fixture) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = claudeops_tests::legacy::build_full(dir.path());
    import(f, &path, "local").await;
    // The original ran on after the first import (or the import stopped there).
    claudeops_tests::legacy::sqlite3(
        &path,
        "INSERT INTO sessions (id, tier, model, prompt_file, status, started_at, ended_at, \
         exit_code, cost_usd, num_turns, duration_ms, trigger, parent_session_id) VALUES \
         (12, 2, 'sonnet', '/app/prompts/tier2-investigate.md', 'completed', \
         '2026-02-16T09:00:00Z', '2026-02-16T09:03:00Z', 0, 0.3, 15, 180000, 'scheduled', 4);
         INSERT INTO events (id, session_id, level, service, message, created_at) VALUES \
         (13, 12, 'info', 'jellyfin', 'Still healthy a day later', '2026-02-16T09:03:00Z');
         INSERT INTO memories (id, service, category, observation, confidence, active, \
         created_at, updated_at, session_id, tier) VALUES (9, 'jellyfin', 'config', \
         'Runs as uid 1000', 0.7, 1, '2026-02-16T09:03:00Z', '2026-02-16T09:03:00Z', 12, 2);
         INSERT INTO cooldown_actions (id, service, action_type, timestamp, success, tier, \
         error, session_id) VALUES (6, 'jellyfin', 'restart', '2026-02-16T09:01:00Z', 1, 2, \
         NULL, 12);",
    );
    let report = import(f, &path, "local").await;
    assert_eq!(
        counts(&report, LegacyKind::Session),
        (1, 10, 1),
        "{report:#?}"
    );
    assert_eq!(counts(&report, LegacyKind::Event), (1, 11, 1));
    assert_eq!(counts(&report, LegacyKind::Memory), (1, 7, 1));
    assert_eq!(counts(&report, LegacyKind::CooldownAction), (1, 4, 1));
    let sessions = by_legacy_id(f, "local").await;
    // Its parent was imported by the first run.
    assert_eq!(sessions[&12].parent_id, Some(sessions[&4].id));
    let memory = f
        .store
        .get_memory_by_key(&site("local"), "jellyfin:config.4")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no jellyfin:config.4: {report:#?}"));
    assert_eq!(memory.value, "Runs as uid 1000");
    assert_eq!(memory.session_id, Some(sessions[&12].id));
    let actions = f
        .store
        .list_actions(&ActionFilter {
            session_id: Some(sessions[&12].id),
            ..ActionFilter::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(actions.len(), 1);
}
