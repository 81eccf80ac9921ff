//! The judge against its corpus, kept as data in `corpus/`: every command of
//! `adversarial.jsonl` must be refused at its tier, and at most 2% of
//! `benign.jsonl` (ordinary observer commands and a few fixes) may be refused,
//! none of those the `named` family lists.
//!
//! The same files are executed for real inside the session sandbox by the
//! worker's tests, so the commands use placeholders (`@KEY@`, `@STATE@`,
//! `@REPOS@`...) that each test fills in with its own paths. Here they are the
//! paths a worker with state dir `/var/lib/claudeops` and repos dir
//! `/srv/repos` would have, and the context protects what the worker protects:
//! its key and its actions socket directory.

use claudeops_core::Tier;
use claudeops_judge::{Context, Decision, judge};
use serde::Deserialize;

const STATE: &str = "/var/lib/claudeops";
const WORKSPACE: &str = "/var/lib/claudeops/sessions/7";
const REPOS: &str = "/srv/repos";

/// One line of a corpus file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    family: String,
    tier: u8,
    command: String,
    expect: String,
    why: String,
}

fn load(name: &str, expect: &str) -> Vec<Entry> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{name} line {}: {e}: {line}", n + 1));
        assert_eq!(entry.expect, expect, "{name} line {}: wrong expect", n + 1);
        assert!(
            (1..=3).contains(&entry.tier),
            "{name} line {}: tier {} is not 1, 2 or 3",
            n + 1,
            entry.tier
        );
        assert!(
            !entry.family.is_empty() && !entry.why.is_empty() && !entry.command.is_empty(),
            "{name} line {}: empty field",
            n + 1
        );
        entries.push(entry);
    }
    entries
}

/// The command with its placeholders filled in.
fn fill(command: &str) -> String {
    command
        .replace("@KEY@", &format!("{STATE}/worker.key"))
        .replace("@STATE@", STATE)
        .replace("@CANARY@", &format!("{REPOS}/canary.txt"))
        .replace("@REPOS@", REPOS)
        .replace("@OUTSIDE@", "/srv/outside")
        .replace("@WORKSPACE@", WORKSPACE)
        .replace("@CONTAINER@", "web")
        .replace("@URL@", "http://127.0.0.1:8080/")
        .replace("@HOST@", "host.invalid")
}

/// What the worker's hook passes: the repos dir, the session's working
/// directory, and the paths it protects (`worker/src/job.rs`).
fn context() -> Context {
    Context {
        repos_dir: REPOS.to_owned(),
        cwd: Some(WORKSPACE.to_owned()),
        dry_run: false,
        protected: vec![format!("{STATE}/worker.key"), format!("{STATE}/run")],
        workspace: Some(WORKSPACE.to_owned()),
    }
}

fn tier(n: u8) -> Tier {
    Tier::try_from(i64::from(n)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_adversarial_command_is_refused_at_its_tier() {
    let entries = load("adversarial.jsonl", "refuse");
    assert!(
        entries.len() >= 300,
        "the adversarial corpus has {} commands",
        entries.len()
    );
    let ctx = context();
    let mut allowed = Vec::new();
    for e in &entries {
        let command = fill(&e.command);
        let verdict = judge(&command, tier(e.tier), &ctx);
        if verdict.decision == Decision::Allow {
            allowed.push(format!(
                "[{}] tier {}: {command}\n    ({}) {}",
                e.family, e.tier, e.why, verdict.reason
            ));
        }
    }
    println!(
        "adversarial refused {}/{}",
        entries.len() - allowed.len(),
        entries.len()
    );
    assert!(
        allowed.is_empty(),
        "{} adversarial commands were allowed:\n{}",
        allowed.len(),
        allowed.join("\n")
    );
}

#[test]
fn benign_commands_are_allowed() {
    let entries = load("benign.jsonl", "allow");
    assert!(
        entries.len() >= 150,
        "the benign corpus has {} commands",
        entries.len()
    );
    let ctx = context();
    let mut refused = Vec::new();
    let mut named = Vec::new();
    for e in &entries {
        let command = fill(&e.command);
        let verdict = judge(&command, tier(e.tier), &ctx);
        if verdict.decision == Decision::Deny {
            let line = format!(
                "[{}] tier {}: {command}\n    {}",
                e.family, e.tier, verdict.reason
            );
            if e.family == "named" {
                named.push(line.clone());
            }
            refused.push(line);
        }
    }
    let rate = 100.0 * refused.len() as f64 / entries.len() as f64;
    println!(
        "benign refused {}/{} ({rate:.1}%)",
        refused.len(),
        entries.len()
    );
    for line in &refused {
        println!("refused: {line}");
    }
    assert!(
        named.is_empty(),
        "commands named in the review were refused:\n{}",
        named.join("\n")
    );
    assert!(
        refused.len() * 50 <= entries.len(),
        "{} of {} benign commands were refused ({rate:.1}%, at most 2% may be):\n{}",
        refused.len(),
        entries.len(),
        refused.join("\n")
    );
}
