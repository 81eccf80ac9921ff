//! Properties: the judge never panics, a refusal survives wrapping, and a
//! higher tier never refuses what a lower one allowed.

use proptest::prelude::*;

use super::ctx;
use crate::parse::parse;
use crate::policy::simple_commands;
use crate::{Decision, judge};
use claudeops_core::Tier;

/// Command lines made of pieces the parser and the tables care about.
const PIECES: &[&str] = &[
    "docker ps",
    "docker restart web",
    "docker volume rm data",
    "rm -rf /",
    "cat /etc/hosts",
    "curl -s http://x",
    "curl -X POST http://x",
    "echo hi > /repos/a/x",
    "sed -i s/a/b/ f",
    "psql -c 'select 1'",
    "redis-cli FLUSHALL",
    "chmod 644 /srv/x",
    "docker compose up -d",
    "ansible-playbook -l web site.yml",
    "git push",
    "xargs docker restart",
    "find . -delete",
    "kill -9 1",
    "ls",
    "cd /repos/a",
    "bash",
    "ssh nas",
    "sudo -i",
    "rsync a b",
    "true",
];
const GLUE: &[&str] = &[
    " ; ", " && ", " || ", " | ", "\n", " & ", " $(", ")", " `", "` ", " '", "' ", " \"", "\" ",
    " > ", " 2>&1 ", " < ", " <<EOF\n", "\nEOF\n", " ( ", " ) ", " { ", " ; } ", " \\\n",
];

fn shellish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        proptest::sample::select(PIECES).prop_map(str::to_owned),
        proptest::sample::select(GLUE).prop_map(str::to_owned),
        "[a-z0-9 ./$'\"`(){}|&;<>*?#=~-]{0,12}",
    ];
    prop::collection::vec(piece, 0..8).prop_map(|parts| parts.concat())
}

/// `text` as one single-quoted shell word.
fn single_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn any_command() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), shellish(), "\\PC{0,80}"]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn judging_never_panics(command in any_command()) {
        let _ = parse(&command);
        let _ = simple_commands(&command);
        for tier in Tier::ALL {
            let verdict = judge(&command, tier, &ctx());
            prop_assert!(!verdict.reason.is_empty());
        }
    }

    #[test]
    fn a_refusal_survives_wrapping(command in any_command(), tier in proptest::sample::select(Tier::ALL.to_vec())) {
        if judge(&command, tier, &ctx()).decision == Decision::Deny {
            let quoted = single_quoted(&command);
            for wrapped in [format!("bash -c {quoted}"), format!("ssh host {quoted}"), format!("sudo sh -c {quoted}")] {
                let verdict = judge(&wrapped, tier, &ctx());
                prop_assert_eq!(verdict.decision, Decision::Deny, "{:?} was allowed: {}", wrapped, verdict.reason);
            }
        }
    }

    #[test]
    fn higher_tiers_allow_at_least_as_much(command in any_command()) {
        let decisions: Vec<Decision> = Tier::ALL.iter().map(|t| judge(&command, *t, &ctx()).decision).collect();
        for pair in decisions.windows(2) {
            prop_assert!(!(pair[0] == Decision::Allow && pair[1] == Decision::Deny), "{:?}: {:?}", command, decisions);
        }
    }
}
