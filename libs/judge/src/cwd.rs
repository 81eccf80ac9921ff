//! The working directories a command may run in.
//!
//! Why it exists: `cd /repos/a && sed -i s/x/y/ f` writes inside the repos dir
//! although no path in it says so. Every `cd`, `pushd` or `popd` target in a
//! script is added to the set of places its commands may run, in any order,
//! since loops, `||` and a failing `cd` make the real order unknowable.
//! What it must not do: drop a possibility; an unknown target adds "unknown".

use crate::ast::{Command, Redirect, Script, Word, WordPart};
use crate::paths::{Env, Resolved, resolve};
use crate::vocab::Context;

/// The working directories a script's commands may run in: `base` plus every
/// `cd`, `pushd` or `popd` target anywhere in it (in any order, since loops
/// and `||` make the order unknowable).
pub(crate) fn scope_cwds(
    base: Vec<Option<String>>,
    script: &Script,
    ctx: &Context,
) -> Vec<Option<String>> {
    const MAX_CWDS: usize = 16;
    let mut targets: Vec<Option<Word>> = Vec::new();
    collect_cd_targets(script, &mut targets, 0);
    let mut set = base;
    for _ in 0..3 {
        let before = set.len();
        for target in &targets {
            let found: Vec<Option<String>> = match target {
                None => vec![None],
                Some(word) => resolve(word, &Env::new(ctx, set.clone()))
                    .into_iter()
                    .map(|r| match r {
                        Resolved::Known(p) => Some(p),
                        _ => None,
                    })
                    .collect(),
            };
            for cwd in found {
                if set.contains(&cwd) {
                    continue;
                }
                if set.len() >= MAX_CWDS {
                    // Too many to follow: "unknown" stands for the rest.
                    if !set.contains(&None) {
                        set.push(None);
                    }
                    return set;
                }
                set.push(cwd);
            }
        }
        if set.len() == before {
            break;
        }
    }
    set
}

pub(crate) fn collect_cd_targets(script: &Script, out: &mut Vec<Option<Word>>, depth: usize) {
    if depth > crate::error::MAX_NESTING {
        out.push(None);
        return;
    }
    for command in script.pipelines.iter().flat_map(|p| &p.commands) {
        let (words, redirects): (&[Word], &[Redirect]) = match command {
            Command::Simple(s) => (&s.words, &s.redirects),
            Command::Subshell { body, redirects } | Command::Group { body, redirects } => {
                collect_cd_targets(body, out, depth + 1);
                (&[], redirects)
            }
        };
        for word in words.iter().chain(redirects.iter().map(|r| &r.target)) {
            for part in &word.parts {
                if let WordPart::Subst { script, .. } = part {
                    collect_cd_targets(script, out, depth + 1);
                }
            }
        }
        let mut rest = words;
        while rest
            .first()
            .and_then(Word::literal)
            .is_some_and(|p| p == "builtin" || p == "command")
        {
            rest = &rest[1..];
        }
        let Some(program) = rest.first().and_then(Word::literal) else {
            continue;
        };
        if !matches!(program.as_str(), "cd" | "pushd" | "popd") {
            continue;
        }
        let target = rest[1..].iter().find(|w| {
            !w.literal()
                .is_some_and(|t| t.starts_with('-') && t.len() > 1)
        });
        match target {
            Some(w) if program != "popd" && w.literal().is_none_or(|t| t != "-") => {
                out.push(Some(w.clone()))
            }
            _ => out.push(None),
        }
    }
}
