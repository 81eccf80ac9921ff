//! Tests for the command judge: a data-driven table of command lines with the
//! expected answer at each tier, parser checks, and property tests.

mod fuzz;
mod layers;
mod parser;
mod props;
mod table;

use crate::{Category, Context, Decision, Verdict, judge};
use claudeops_core::Tier;

/// The context most rows run in: repos at `/repos`, the shell in `/root`.
pub(super) fn ctx() -> Context {
    Context {
        repos_dir: "/repos".to_owned(),
        cwd: Some("/root".to_owned()),
        dry_run: false,
        ..Context::default()
    }
}

/// The context the worker gives: its key and actions socket protected, the
/// shell in the session workspace inside the state dir.
pub(super) fn guarded_ctx() -> Context {
    Context {
        repos_dir: "/srv/repos".to_owned(),
        cwd: Some("/var/lib/claudeops/sessions/7".to_owned()),
        dry_run: false,
        protected: vec![
            "/var/lib/claudeops/worker.key".to_owned(),
            "/var/lib/claudeops/run".to_owned(),
        ],
        workspace: Some("/var/lib/claudeops/sessions/7".to_owned()),
    }
}

/// What one tier's answer must be.
fn matches(expect: char, verdict: &Verdict) -> bool {
    let never = verdict
        .categories
        .iter()
        .any(|c| matches!(c, Category::Never { .. }));
    let unparseable = verdict
        .categories
        .iter()
        .any(|c| matches!(c, Category::Unparseable { .. }));
    match expect {
        'A' => verdict.decision == Decision::Allow,
        'D' => verdict.decision == Decision::Deny,
        'N' => verdict.decision == Decision::Deny && never,
        'U' => verdict.decision == Decision::Deny && unparseable,
        _ => false,
    }
}

/// Checks every row: `expect` has one letter per tier (1, 2, 3): `A` allow,
/// `D` deny, `N` deny by a never-allowed rule, `U` deny as unparseable.
/// Reports every mismatch at once.
pub(super) fn check_all(rows: &[(&str, &str)], ctx: &Context) -> Vec<String> {
    let mut failures = Vec::new();
    for (command, expect) in rows {
        let letters: Vec<char> = expect.chars().collect();
        assert_eq!(
            letters.len(),
            3,
            "row {command:?} needs three letters, has {expect:?}"
        );
        for (tier, letter) in Tier::ALL.iter().zip(letters) {
            let verdict = judge(command, *tier, ctx);
            if !matches(letter, &verdict) {
                failures.push(format!(
                    "{command:?} at tier {tier}: expected {letter}, got {:?}: {}\n    {:?}",
                    verdict.decision, verdict.reason, verdict.categories
                ));
            }
        }
    }
    failures
}

pub(super) fn assert_rows(rows: &[(&str, &str)], ctx: &Context) {
    let failures = check_all(rows, ctx);
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
