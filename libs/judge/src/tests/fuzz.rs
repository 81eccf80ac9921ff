//! A bounded fuzz run: arbitrary text and generated shell-ish command lines go
//! through the parser and the judge, and every one must be answered.
//!
//! Why it exists: the judge reads whatever text the model writes, so on any
//! input it must give allow or deny with a reason the model can act on, and
//! quickly: a panic or a hang leaves the hook without an answer. `cargo fuzz`
//! needs a nightly toolchain, so the fuzzing is a proptest run that CI executes
//! with the other tests.
//!
//! Bounds: each property below runs `CLAUDEOPS_FUZZ_CASES` cases (default
//! [`DEFAULT_CASES`]; the long-input property runs a sixteenth of that), sized so
//! this file takes well under a minute in a debug build on two slow cores. For a
//! longer run: `CLAUDEOPS_FUZZ_CASES=50000 cargo nextest run -p claudeops-judge
//! fuzz`. Each input's calls to `parse` and `judge` run on a thread of their
//! own, and each call must finish within [`CALL_LIMIT`] of the one before, or
//! the input is reported as a hang. Inputs that once failed are kept in
//! [`regressions`] and run every time.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use claudeops_core::Tier;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::Config;

use super::guarded_ctx;
use crate::error::MAX_LEN;
use crate::parse::parse;
use crate::{Category, Context, Decision, Verdict, judge};

/// Cases per property unless `CLAUDEOPS_FUZZ_CASES` says otherwise.
const DEFAULT_CASES: u32 = 2048;
/// How long one call to `parse` or `judge` may take before it counts as a hang
/// (generous: debug builds on slow machines judge the longest lines in well
/// under half of it).
const CALL_LIMIT: Duration = Duration::from_secs(2);

/// Inputs that once panicked, took too long or went unanswered.
fn regressions() -> Vec<String> {
    vec![
        // Lines of many thousands of parts near `MAX_LEN` took over 2 s in a
        // debug build before lines were limited to `MAX_PARTS` parts (the first
        // was found by this run, the others have the same shape).
        format!("{}/etc/shadow", "/etc/shadow&r<&".repeat(MAX_LEN / 15 - 1)),
        "volume&".repeat(MAX_LEN / 7 - 1),
        "a;".repeat(MAX_LEN / 2 - 1),
        format!("{}ls", "cd a;".repeat(MAX_LEN / 5 - 1)),
        // One command with 20,000 redirections: each of their findings copied
        // the whole command, quadratic time.
        format!("ssh{}", " 1>&ssh".repeat(MAX_LEN / 6 - 1)),
        // Words checked against the protected paths: long globs, many
        // globs, brace groups and `..` after unknown parts.
        format!("cat /{}", "*/".repeat(MAX_LEN / 2 - 10)),
        format!("cat {}", "/v*r/l?b/*".repeat(MAX_LEN / 11 - 1)),
        format!("cat {}", "$x/../".repeat(MAX_LEN / 7 - 1)),
        format!("cat {}", "{a,b}".repeat(MAX_LEN / 6 - 1)),
        format!("grep -r x {}", "/v* ".repeat(MAX_LEN / 5 - 3)),
        format!("echo {}", "a=b@c:d,".repeat(MAX_LEN / 9 - 1)),
        format!("cat <<EOF\n{}\nEOF", "/var/lib/x ".repeat(MAX_LEN / 12 - 2)),
    ]
}

fn cases() -> u32 {
    std::env::var("CLAUDEOPS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        // A hang costs `CALL_LIMIT` per shrinking step; keep shrinking short.
        max_shrink_time: 30_000,
        // Inputs here can be 100 KB; a failing one is copied into
        // `regressions` by hand instead of into a seed file.
        failure_persistence: None,
        ..Config::default()
    }
}

/// The calls made for each input after `parse`: every tier, then dry run.
fn calls() -> Vec<(Tier, bool)> {
    let mut calls: Vec<(Tier, bool)> = Tier::ALL.iter().map(|t| (*t, false)).collect();
    calls.push((Tier::Remediate, true));
    calls
}

/// What is wrong with a verdict, if anything.
fn check(verdict: &Verdict, tier: Tier, dry_run: bool) -> Result<(), String> {
    if verdict.reason.trim().is_empty() {
        return Err(format!("{:?} with an empty reason", verdict.decision));
    }
    if verdict.decision == Decision::Allow {
        if verdict.categories.is_empty() {
            return Err("allowed with no part judged".to_owned());
        }
        let beyond = verdict.categories.iter().find(|c| {
            c.min_tier().is_none_or(|min| min > tier) || (dry_run && **c != Category::ReadOnly)
        });
        if let Some(c) = beyond {
            return Err(format!(
                "allowed at tier {tier} (dry run {dry_run}) with {c:?}"
            ));
        }
    }
    Ok(())
}

/// The message a panicking thread left.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Runs `parse` and then `judge` at every tier on a thread; each call must
/// report within [`CALL_LIMIT`]. A thread that hangs is left behind: the test
/// fails and the process ends with it.
fn answer_all(input: &str) -> Result<(), String> {
    let (tx, rx) = mpsc::channel::<Result<(), String>>();
    let text = input.to_owned();
    let runner = thread::Builder::new()
        .name("fuzz-judge".to_owned())
        .spawn(move || {
            let _ = parse(&text);
            if tx.send(Ok(())).is_err() {
                return;
            }
            for (tier, dry_run) in calls() {
                let context = Context {
                    dry_run,
                    ..guarded_ctx()
                };
                let verdict = judge(&text, tier, &context);
                if tx.send(check(&verdict, tier, dry_run)).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    let names = std::iter::once("parse".to_owned()).chain(
        calls()
            .into_iter()
            .map(|(tier, dry)| format!("judge at tier {tier} (dry run {dry})")),
    );
    for name in names {
        match rx.recv_timeout(CALL_LIMIT) {
            Ok(Ok(())) => {}
            Ok(Err(problem)) => return Err(format!("{name}: {problem}")),
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!("{name} took longer than {CALL_LIMIT:?}"));
            }
            Err(RecvTimeoutError::Disconnected) => {
                let message = match runner.join() {
                    Err(payload) => panic_message(payload.as_ref()),
                    Ok(()) => "the thread ended early".to_owned(),
                };
                return Err(format!("{name} panicked: {message}"));
            }
        }
    }
    runner
        .join()
        .map_err(|payload| panic_message(payload.as_ref()))
}

const WORDS: &[&str] = &[
    "ls",
    "docker",
    "ps",
    "restart",
    "web",
    "volume",
    "rm",
    "-rf",
    "/",
    "cat",
    "/etc/shadow",
    "/repos/app/x",
    "bash",
    "-c",
    "sh",
    "ssh",
    "host",
    "sudo",
    "env",
    "X=1",
    "xargs",
    "find",
    ".",
    "-exec",
    "{}",
    "\\;",
    "-delete",
    "curl",
    "-o",
    "psql",
    "redis-cli",
    "kubectl",
    "git",
    "push",
    "sed",
    "-i",
    "awk",
    "eval",
    "cd",
    "..",
    "tee",
    "chmod",
    "777",
    "echo",
    "*",
    "?",
    "~",
    "#",
    "=",
    "--",
    "-",
    "$x",
    "${x}",
    "$1",
    "$@",
    "$?",
    "$$",
    "$'\\x41'",
    "$'\\u00e9'",
    "$'\\",
    "\\",
    "'",
    "\"",
    "`",
    "$(",
    ")",
    "${",
    "}",
    "<<",
    "((",
    "[[",
    "!",
    "é",
    "日本",
    "🦀",
    "\u{200b}",
    "\u{202e}",
    "\u{feff}",
    "a\u{301}",
    "\u{fffd}",
    "\t",
    "\\\n",
];

const OPS: &[&str] = &[
    " ; ", " && ", " || ", " | ", " |& ", " & ", "\n", " ;; ", ";", "|", "&", "&&&", "||||",
];

const REDIRECTS: &[&str] = &[
    " > f",
    " >> /repos/x",
    " 2>&1",
    " &> /dev/null",
    " < in",
    " <<< word",
    " >| f",
    " 3>&-",
    " <> f",
    " >&2",
    " 1>",
    " <(ls)",
    " >(cat)",
    " >$(echo f)",
    " > \"$x\"",
    " 9999999999999999999999>f",
];

/// An opening and its closing: substitutions, quotes, groups and wrappers.
const WRAPS: &[(&str, &str)] = &[
    ("$(", ")"),
    ("`", "`"),
    ("${x:-", "}"),
    ("${", "}"),
    ("\"", "\""),
    ("'", "'"),
    ("$'", "'"),
    ("( ", " )"),
    ("{ ", "; }"),
    ("$((", "))"),
    ("bash -c '", "'"),
    ("ssh host \"", "\""),
    ("sudo sh -c \"", "\""),
    ("docker exec web sh -c '", "'"),
    ("xargs -I{} sh -c '", "'"),
    ("<(", ")"),
    ("if ", "; then ls; fi"),
    ("while ", "; do ls; done"),
    ("eval \"", "\""),
    ("find . -exec ", " \\;"),
    ("\"$(", ")\""),
    ("\"`", "`\""),
];

/// `body` as a here-document fed to `command`, closed or not.
fn heredoc((command, delim, body, style): (String, String, String, u8)) -> String {
    let (dash, quote) = match style % 4 {
        0 => ("", ""),
        1 => ("-", ""),
        2 => ("", "'"),
        _ => ("-", "\""),
    };
    let end = if style >= 128 { "" } else { delim.as_str() };
    format!("{command} <<{dash}{quote}{delim}{quote}\n{body}\n\t{end}\n")
}

/// Command lines built from shell pieces, nested up to about a dozen levels.
fn shellish() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => select(WORDS).prop_map(str::to_owned),
        1 => "[ -~]{0,8}",
    ];
    leaf.prop_recursive(12, 256, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..6).prop_map(|w| w.join(" ")),
            (inner.clone(), select(OPS), inner.clone())
                .prop_map(|(a, op, b)| format!("{a}{op}{b}")),
            (inner.clone(), select(REDIRECTS)).prop_map(|(a, r)| format!("{a}{r}")),
            (select(WRAPS), inner.clone())
                .prop_map(|((open, close), s)| format!("{open}{s}{close}")),
            (inner.clone(), "[A-Za-z_]{1,4}", inner.clone(), any::<u8>()).prop_map(heredoc),
        ]
    })
}

/// A shell-ish line cut anywhere, leaving quotes and groups open.
fn cut() -> impl Strategy<Value = String> {
    (shellish(), any::<Index>()).prop_map(|(s, at)| {
        let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
        if bounds.is_empty() {
            s
        } else {
            s[..bounds[at.index(bounds.len())]].to_owned()
        }
    })
}

/// Openings nested far past the parser's limit, with and without their ends.
fn deep() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(select(WRAPS), 0..80),
        select(WORDS),
        any::<bool>(),
    )
        .prop_map(|(wraps, word, closed)| {
            let mut s: String = wraps.iter().map(|(open, _)| *open).collect();
            s.push_str(word);
            if closed {
                s.extend(wraps.iter().rev().map(|(_, close)| *close));
            }
            s
        })
}

/// Arbitrary text: any Unicode, and bytes decoded lossily (what text that was
/// not UTF-8 looks like once it reaches the hook as JSON).
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..256)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        "\\PC{0,200}",
    ]
}

/// A piece repeated to about `len` bytes, around the parser's length limit.
fn long() -> impl Strategy<Value = String> {
    (
        shellish(),
        select(OPS),
        prop_oneof![1_000..20_000usize, (MAX_LEN - 2_000)..(MAX_LEN + 2_000)],
    )
        .prop_map(|(piece, op, len)| {
            let piece = if piece.is_empty() {
                "x".to_owned()
            } else {
                piece
            };
            let mut s = String::with_capacity(len + piece.len() + op.len());
            while s.len() < len {
                s.push_str(&piece);
                s.push_str(op);
            }
            let mut end = len.min(s.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s
        })
}

#[test]
fn regressions_are_answered() {
    for input in regressions() {
        if let Err(problem) = answer_all(&input) {
            let start: String = input.chars().take(200).collect();
            panic!("{start:?}... ({} bytes): {problem}", input.len());
        }
    }
}

proptest! {
    #![proptest_config(config(cases()))]

    #[test]
    fn arbitrary_text_is_answered(input in any_text()) {
        answer_all(&input).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn shellish_lines_are_answered(input in prop_oneof![shellish(), cut(), deep()]) {
        answer_all(&input).map_err(TestCaseError::fail)?;
    }
}

proptest! {
    #![proptest_config(config((cases() / 16).max(8)))]

    #[test]
    fn long_lines_are_answered(input in long()) {
        answer_all(&input).map_err(TestCaseError::fail)?;
    }
}
