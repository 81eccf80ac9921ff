//! `import-legacy`: the real binary imports the original Claude Ops's database
//! (built by the `sqlite3` CLI from the original's published migrations and rows
//! shaped like its own) beside a running control plane, twice; the second run adds
//! nothing, and the API serves the history with its links remapped.

use std::collections::HashMap;

use claudeops_tests::system::{ControlPlane, Http};
use serde_json::Value;

/// (taken, already imported, skipped) from a report line `  KIND: N taken, ...`.
fn tally(report: &str, label: &str) -> (u64, u64, u64) {
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{report}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers[..] {
        [taken, already, skipped, ..] => (taken, already, skipped),
        _ => panic!("unreadable line {line:?}"),
    }
}

async fn import(cp: &ControlPlane, args: &[&str]) -> String {
    let mut all = vec!["import-legacy"];
    all.extend_from_slice(args);
    let (ok, stdout, stderr) = cp.command(&all).await;
    assert!(ok, "import-legacy failed:\n{stdout}\n{stderr}");
    stdout
}

/// The items a list endpoint answers: the array itself, or the one array of the
/// object it is wrapped in (`{"sessions": [...]}`).
async fn list(http: &Http, path: &str) -> Vec<Value> {
    let (status, body) = http.get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    let wrapped = body
        .as_object()
        .and_then(|o| o.values().find_map(Value::as_array));
    body.as_array()
        .or(wrapped)
        .unwrap_or_else(|| panic!("{path}: not a list: {body}"))
        .clone()
}

/// A session's parent: the original's field name, or ours.
fn parent(session: &Value) -> &Value {
    match &session["parent_session_id"] {
        Value::Null => &session["parent_id"],
        named => named,
    }
}

#[tokio::test]
async fn the_originals_history_is_imported_once_with_its_links() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let original = claudeops_tests::legacy::build_full(dir.path());
    let original = original.display().to_string();
    let cp = ControlPlane::start(&[]).await;

    let first = import(&cp, &[&original]).await;
    assert!(first.contains("into site local"), "{first}");
    assert_eq!(tally(&first, "sessions:"), (10, 0, 1), "{first}");
    assert_eq!(tally(&first, "events:"), (11, 0, 1), "{first}");
    assert_eq!(tally(&first, "memories:"), (7, 0, 1), "{first}");
    assert_eq!(tally(&first, "cooldown actions:"), (4, 0, 1), "{first}");
    assert_eq!(tally(&first, "in all:"), (32, 0, 4), "{first}");
    for reason in [
        "session #9: tier 7 is not 1, 2 or 3",
        "event #11: created_at \"yesterday\" is not a time",
        "memory #8: observation is empty",
        "cooldown action #5: action type \"reboot\"",
        "session #11: still running in the original: imported as failed",
        "memory #1: kept as \"jellyfin:config.2\"",
    ] {
        assert!(first.contains(reason), "{reason:?} missing from:\n{first}");
    }

    let second = import(&cp, &[&original, "--site", "local"]).await;
    assert_eq!(tally(&second, "in all:"), (0, 32, 4), "{second}");
    assert_eq!(tally(&second, "sessions:"), (0, 10, 1), "{second}");
    assert!(second.contains("sessions #1-#8, #10-#11"), "{second}");

    // Sessions, with the chain's parents remapped to our ids.
    let http = cp.http();
    let sessions = list(&http, "/api/v1/sessions?site=local&limit=100").await;
    assert_eq!(sessions.len(), 10, "{sessions:#?}");
    let by_legacy: HashMap<i64, &Value> = sessions
        .iter()
        .map(|s| (s["structured"]["legacy"]["id"].as_i64().unwrap_or(-1), s))
        .collect();
    let (t1, t2, t3) = (by_legacy[&2], by_legacy[&3], by_legacy[&4]);
    assert_eq!(parent(t1), &Value::Null);
    assert_eq!(parent(t2), &t1["id"]);
    assert_eq!(parent(t3), &t2["id"]);
    assert_eq!(t2["trigger"], "escalation");
    assert_eq!(t1["started_at"], "2026-02-14T09:00:00.000Z");
    assert_eq!(t1["ended_at"], "2026-02-14T09:02:10.000Z");
    assert_eq!(t3["tier"], 3);
    assert_eq!(t3["model"], "opus");
    assert_eq!(t3["cost_usd"], 1.8843);
    assert_eq!(t3["summary"], "Jellyfin redeployed and healthy.");
    assert_eq!(by_legacy[&11]["status"], "failed");
    assert!(
        by_legacy[&11]["error"]
            .as_str()
            .is_some_and(|e| e.contains("imported while running")),
        "{}",
        by_legacy[&11]
    );
    let t3_id = t3["id"].as_i64().unwrap_or_default();
    let (status, detail) = http.get(&format!("/api/v1/sessions/{t3_id}")).await;
    assert_eq!(status, 200, "{detail}");
    // The chain's cost: the original's field name, or ours.
    let chain_cost = detail["chain_cost"]
        .as_f64()
        .or(detail["chain_cost_usd"].as_f64())
        .unwrap_or_default();
    assert!((chain_cost - 2.3882).abs() < 1e-6, "{detail}");

    // Events with their sessions and services.
    let events = list(&http, "/api/v1/events?site=local&limit=100").await;
    assert_eq!(events.len(), 11, "{events:#?}");
    for level in ["info", "warning", "critical"] {
        assert!(events.iter().any(|e| e["level"] == level), "{level}");
    }
    let escalation = events
        .iter()
        .find(|e| e["message"] == "Escalating to Tier 3: restarts did not fix jellyfin")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(escalation["session_id"], t2["id"]);
    assert_eq!(escalation["service"], Value::Null);

    // Every memory, the original's duplicates numbered.
    let memories = list(&http, "/api/v1/memories?site=local").await;
    let keys: Vec<&str> = memories.iter().filter_map(|m| m["key"].as_str()).collect();
    for key in [
        "jellyfin:config",
        "jellyfin:config.2",
        "jellyfin:config.3",
        "network",
        "network.2",
        "postgres:maintenance",
        "media-server:disk-usage",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert_eq!(keys.len(), 7, "{keys:?}");

    // Cooldown actions in the ledger, with their sessions.
    let actions = list(&http, "/api/v1/actions?site=local").await;
    assert_eq!(actions.len(), 4, "{actions:#?}");
    // The kind: the original's field and word, or ours.
    let is =
        |a: &Value, ours: &str, original: &str| a["kind"] == ours || a["action_type"] == original;
    let redeploy = actions
        .iter()
        .find(|a| is(a, "redeploy", "redeployment"))
        .unwrap_or_else(|| panic!("{actions:#?}"));
    assert_eq!(redeploy["service"], "jellyfin");
    assert_eq!(redeploy["status"], "succeeded");
    assert_eq!(redeploy["session_id"], t3["id"]);
    assert_eq!(
        actions
            .iter()
            .filter(|a| is(a, "restart", "restart") && a["status"] == "failed")
            .count(),
        1
    );
}

#[tokio::test]
async fn what_is_not_the_originals_database_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cp = ControlPlane::start(&[]).await;
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello\n").unwrap_or_else(|e| panic!("{e}"));
    let other = dir.path().join("other.db");
    claudeops_tests::legacy::sqlite3(
        &other,
        "CREATE TABLE sessions (id INTEGER PRIMARY KEY, tier INTEGER, model TEXT, status TEXT, \
         started_at TEXT);",
    );
    let ours = cp.state.path().join("claudeops.db");
    for (path, said) in [
        (dir.path().join("missing.db"), "no such file"),
        (text, "is not a SQLite database"),
        (other, "it has no table cooldown_actions"),
        (ours, "a database of this control plane"),
    ] {
        let path = path.display().to_string();
        let (ok, stdout, stderr) = cp.command(&["import-legacy", &path]).await;
        assert!(!ok, "{path} was accepted: {stdout}");
        assert!(stderr.contains(said), "{path}: {stderr}");
    }
    let (ok, _, stderr) = cp
        .command(&["import-legacy", "x.db", "--site", "Not A Site"])
        .await;
    assert!(!ok && stderr.contains("site"), "{stderr}");
    // Nothing was written.
    let sessions = list(&cp.http(), "/api/v1/sessions?limit=10").await;
    assert!(sessions.is_empty(), "{sessions:#?}");
}
