//! The parser and the unwrapper on their own: what they find, and the reasons
//! the model reads.

use super::ctx;
use crate::ast::{Command, RedirectOp, WordPart};
use crate::error::{MAX_LEN, ParseError};
use crate::parse::parse;
use crate::policy::simple_commands;
use crate::unwrap::MAX_PARTS;
use crate::{Category, Decision, judge};
use claudeops_core::Tier;

fn programs(command: &str) -> Vec<String> {
    let commands = simple_commands(command).unwrap_or_default();
    commands
        .iter()
        .map(|c| c.program().unwrap_or_else(|| "?".to_owned()))
        .collect()
}

#[test]
fn finds_every_program_in_lists_pipelines_and_substitutions() {
    assert_eq!(
        programs("a | b && c; d & e || f"),
        ["a", "b", "c", "d", "e", "f"]
    );
    assert_eq!(
        programs("echo $(date) `uname` <(ls)"),
        ["date", "uname", "ls", "echo"]
    );
    assert_eq!(
        programs("x=$(hostname) && echo $x"),
        ["hostname", "?", "echo"]
    );
    assert_eq!(programs("if true; then ls; fi"), ["true", "ls"]);
    assert_eq!(programs("{ a; b; } | (c)"), ["a", "b", "c"]);
}

#[test]
fn unwraps_wrappers_and_records_where_commands_run() {
    let cmds = simple_commands("ssh root@nas 'docker restart web'").unwrap_or_default();
    assert_eq!(cmds.len(), 1);
    assert_eq!(cmds[0].program().as_deref(), Some("docker"));
    assert_eq!(cmds[0].host.as_deref(), Some("root@nas"));
    assert_eq!(cmds[0].wrappers, ["ssh root@nas"]);

    let cmds = simple_commands("sudo -u postgres timeout 5 psql -c 'select 1'").unwrap_or_default();
    assert_eq!(cmds[0].program().as_deref(), Some("psql"));
    assert_eq!(cmds[0].wrappers, ["sudo -u postgres", "timeout 5"]);

    let cmds = simple_commands("docker exec -w /app db cat /x").unwrap_or_default();
    assert_eq!(cmds[0].container.as_deref(), Some("db"));

    assert_eq!(
        programs("find / -name x -exec grep -l y {} +"),
        ["find", "grep"]
    );
    assert_eq!(
        programs("env -i A=1 nice -n 5 nohup stdbuf -oL xargs -0 ls"),
        ["ls"]
    );
    assert_eq!(
        programs("ssh a \"ssh b 'bash -c \\\"uptime\\\"'\""),
        ["uptime"]
    );
    assert_eq!(
        programs("/usr/bin/sudo /usr/local/bin/docker ps"),
        ["docker"]
    );
}

#[test]
fn words_keep_quoting_and_expansions_apart() {
    let script = parse("FOO=bar cmd 'a b' \"c $D\" e\\ f ~/x *.log").unwrap_or_default();
    let Some(Command::Simple(cmd)) = script.pipelines.first().and_then(|p| p.commands.first())
    else {
        panic!("expected a simple command");
    };
    assert_eq!(cmd.assignments[0].name, "FOO");
    let words: Vec<Option<String>> = cmd.words.iter().map(|w| w.literal()).collect();
    assert_eq!(
        words,
        [
            Some("cmd".into()),
            Some("a b".into()),
            None,
            Some("e f".into()),
            None,
            None
        ]
    );
    assert!(
        matches!(cmd.words[2].parts[1], WordPart::Param { ref name, quoted: true } if name == "D")
    );
    assert!(!cmd.words[2].splits() && cmd.words[5].splits());
}

#[test]
fn reads_redirections_and_here_documents() {
    let script =
        parse("cmd 2>&1 >/dev/null &>> log <in <<< word\ncat <<-EOF | wc\n\tbody $(id)\n\tEOF\n")
            .unwrap_or_default();
    let ops: Vec<RedirectOp> = script
        .pipelines
        .iter()
        .flat_map(|p| &p.commands)
        .filter_map(|c| match c {
            Command::Simple(s) => Some(s.redirects.iter().map(|r| r.op).collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect();
    use RedirectOp::*;
    assert_eq!(ops, [DupOut, Out, AppendOutErr, In, HereString, HereDoc]);
    assert_eq!(programs("cat <<EOF\n$(id)\nEOF"), ["id", "cat"]);
    assert_eq!(programs("cat <<'EOF'\n$(id)\nEOF"), ["cat"]);
}

#[test]
fn refuses_what_it_cannot_parse() {
    assert!(matches!(
        parse("echo 'x"),
        Err(ParseError::Unterminated { .. })
    ));
    assert!(matches!(
        parse("echo \u{0}"),
        Err(ParseError::ControlChar { .. })
    ));
    assert!(matches!(
        parse(&"x".repeat(MAX_LEN + 1)),
        Err(ParseError::TooLong { .. })
    ));
    assert!(matches!(
        parse(&format!("{}x{}", "( ".repeat(40), " )".repeat(40))),
        Err(ParseError::TooDeep { .. })
    ));
    assert!(matches!(
        parse(&format!("{}x{}", "$(".repeat(40), ")".repeat(40))),
        Err(ParseError::TooDeep { .. })
    ));
    assert!(matches!(
        parse("case a in b) c;; esac"),
        Err(ParseError::Unsupported { .. })
    ));
}

#[test]
fn long_inputs_and_deep_wrappers() {
    let long = format!("echo {}", "word ".repeat(15_000));
    assert_eq!(
        judge(&long, Tier::Observe, &ctx()).decision,
        Decision::Allow
    );
    let mut nested = "docker ps".to_owned();
    for _ in 0..6 {
        nested = format!("bash -c '{}'", nested.replace('\'', "'\\''"));
    }
    assert_eq!(
        judge(&nested, Tier::Observe, &ctx()).decision,
        Decision::Allow
    );
    for deep in [
        format!("{}{nested}", "sudo ".repeat(4)),
        format!("{}docker ps", "eval ".repeat(12)),
    ] {
        let verdict = judge(&deep, Tier::Remediate, &ctx());
        assert_eq!(verdict.decision, Decision::Deny);
        assert!(verdict.reason.contains("levels deep"), "{}", verdict.reason);
    }
}

#[test]
fn reasons_name_the_part_and_what_the_tier_allows() {
    let reason = |cmd: &str, tier| judge(cmd, tier, &ctx()).reason;
    assert_eq!(
        reason("rsync -a /a /b", Tier::Observe),
        "`rsync` is not on the list of commands Claude Ops allows; Tier 1 allows only read-only commands."
    );
    assert_eq!(
        reason("ssh nas docker volume rm data", Tier::Remediate),
        "`docker volume rm data` (on nas) was refused because deleting data volumes is never allowed at any tier."
    );
    assert_eq!(
        reason("docker ps && docker restart web", Tier::Observe),
        "`docker restart web` is a restart of `web`, which needs Tier 2; Tier 1 allows only read-only commands."
    );
    assert!(
        reason("echo hi > /repos/a/x", Tier::Remediate)
            .contains("writing inside the repos dir /repos")
    );
    assert!(reason("$(echo rm) -rf /", Tier::Remediate).contains("not a literal word"));
    assert!(
        reason("echo 'x", Tier::Observe)
            .starts_with("The command was refused because it could not be parsed")
    );
    assert!(reason("docker ps", Tier::Observe).starts_with("Allowed at Tier 1"));
    let dry = crate::Context {
        dry_run: true,
        ..ctx()
    };
    assert!(
        judge("docker restart web", Tier::Remediate, &dry)
            .reason
            .contains("dry run allows only read-only commands")
    );
}

#[test]
fn categories_carry_restart_targets_for_cooldowns() {
    let verdict = judge("ssh nas 'docker restart web db'", Tier::Investigate, &ctx());
    assert_eq!(
        verdict.categories,
        [Category::Restart {
            target: "web db".into()
        }]
    );
    let verdict = judge("systemctl restart nginx.service", Tier::Investigate, &ctx());
    assert_eq!(
        verdict.categories,
        [Category::Restart {
            target: "nginx.service".into()
        }]
    );
}

#[test]
fn lines_with_too_many_parts_are_refused() {
    let at_limit = vec!["ls"; MAX_PARTS].join("; ");
    assert_eq!(
        judge(&at_limit, Tier::Observe, &ctx()).decision,
        Decision::Allow
    );
    let over = format!("{at_limit}; ls");
    let verdict = judge(&over, Tier::Remediate, &ctx());
    assert_eq!(verdict.decision, Decision::Deny);
    assert!(
        verdict.reason.contains("more than 1000 parts"),
        "{}",
        verdict.reason
    );
    let redirects = format!("ls{}", " >&2".repeat(MAX_PARTS * 10));
    assert_eq!(
        judge(&redirects, Tier::Observe, &ctx()).decision,
        Decision::Allow
    );
    let writes = format!("ls{}", " 1>&f".repeat(MAX_PARTS + 1));
    let verdict = judge(&writes, Tier::Remediate, &ctx());
    assert_eq!(verdict.decision, Decision::Deny);
}

#[test]
fn pathological_inputs_finish_quickly() {
    let started = std::time::Instant::now();
    let inputs = [
        format!("{}chmod 600 f", "cd a; ".repeat(5_000)),
        format!("{}b", "a | ".repeat(5_000)),
        "x;".repeat(10_000),
        format!("echo {}", "'x' ".repeat(20_000)),
        format!("{}docker ps", "sudo ".repeat(10_000)),
        "$(".repeat(50_000),
        "(".repeat(50_000),
        format!("cat {}", "<<EOF ".repeat(5_000)),
    ];
    for input in &inputs {
        for tier in Tier::ALL {
            let verdict = judge(input, tier, &ctx());
            assert!(!verdict.reason.is_empty());
        }
    }
    let cd_chain = judge(&inputs[0], Tier::Investigate, &ctx());
    assert_eq!(cd_chain.decision, Decision::Deny, "{}", cd_chain.reason);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}
