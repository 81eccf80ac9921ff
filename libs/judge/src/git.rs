//! `git`: reading history is Tier 1; pushing, committing and discarding work
//! are never allowed; every other change to a repository is a write.
//!
//! Why it exists: the repos are the operator's source of truth, mounted
//! read-only, and the original rules name `git push` explicitly.
//! What it must not do: let `-c` settings, `--output` files or an unknown
//! global option through.

use crate::ast::Word;
use crate::opts::listed;
use crate::vocab::Category;

pub(crate) const GIT_READS: &str = "status log show diff blame rev-parse ls-files ls-tree ls-remote describe shortlog grep cat-file whatchanged show-ref for-each-ref count-objects rev-list show-branch";

/// Options that make git run a program or a filter: `--upload-pack` (and
/// `ls-remote -u`), `grep -O`, external diff drivers and text conversion.
const RUNS: &str =
    "--upload-pack --receive-pack --exec --ext-diff --textconv --filters --open-files-in-pager";

fn runs_program(sub: &str, lits: &[String]) -> Option<Category> {
    let found = lits.iter().find(|a| {
        let name = a.split('=').next().unwrap_or_default();
        RUNS.split_whitespace()
            .any(|r| r == name || (name.len() > 3 && r.starts_with(name) && name.starts_with("--")))
            || (sub == "grep" && a.starts_with("-O"))
            || (matches!(sub, "ls-remote" | "fetch" | "clone" | "archive") && a.starts_with("-u"))
    })?;
    Some(Category::unclear(format!(
        "`git {sub} {found}` runs a program or a filter"
    )))
}

pub(crate) fn git(args: &[Word]) -> Category {
    let mut i = 0;
    while let Some(text) = args
        .get(i)
        .and_then(Word::literal)
        .filter(|t| t.starts_with('-'))
    {
        match text.as_str() {
            "-C" => i += 2,
            "--no-pager" | "-P" | "--no-optional-locks" => i += 1,
            t if t.starts_with("--git-dir=") || t.starts_with("--work-tree=") => i += 1,
            t => return Category::unclear(format!("`git {t}` can change how git runs")),
        }
    }
    let rest = args.get(i + 1..).unwrap_or(&[]);
    let Some(sub) = args.get(i).and_then(Word::literal) else {
        return Category::unclear("the git subcommand is not a literal word");
    };
    let lits: Vec<String> = rest.iter().filter_map(Word::literal).collect();
    let has = |f: &str| lits.iter().any(|a| a == f);
    let flag_in = |set: &str| {
        lits.iter().any(|a| {
            a.starts_with('-') && !a.starts_with("--") && a.chars().any(|c| set.contains(c))
        })
    };
    let operands = lits.iter().filter(|a| !a.starts_with('-')).count() + (rest.len() - lits.len());
    if lits.iter().any(|a| a.starts_with("--output")) {
        return Category::write("writes git output to a file");
    }
    if let Some(problem) = runs_program(&sub, &lits) {
        return problem;
    }
    let read = match sub.as_str() {
        "push" => return Category::never("pushing to git"),
        "commit" => return Category::never("committing to git"),
        "reset" if has("--hard") => {
            return Category::never("discarding changes in a git repository");
        }
        "clean" if has("--force") || flag_in("f") => {
            return Category::never("discarding changes in a git repository");
        }
        "checkout" if has("--") || has(".") => {
            return Category::never("discarding changes in a git repository");
        }
        s if listed(GIT_READS, s) => true,
        "clean" => has("-n") || has("--dry-run"),
        "branch" => {
            operands == 0
                && !flag_in("dDmMcC")
                && !lits.iter().any(|a| {
                    a.starts_with("--delete")
                        || a.starts_with("--move")
                        || a.starts_with("--copy")
                        || a.starts_with("--set-upstream")
                        || a.starts_with("--unset")
                        || a == "--edit-description"
                })
        }
        "remote" => {
            operands == 0
                || matches!(
                    lits.first().map(String::as_str),
                    Some("show" | "get-url" | "-v")
                ) && !lits.iter().any(|a| {
                    a == "add"
                        || a == "remove"
                        || a == "rm"
                        || a == "set-url"
                        || a == "rename"
                        || a == "prune"
                })
        }
        "tag" => operands == 0 || has("-l") || has("--list"),
        "stash" => matches!(lits.first().map(String::as_str), Some("list" | "show")),
        "config" => lits.iter().any(|a| {
            matches!(
                a.as_str(),
                "--get" | "--get-all" | "--get-regexp" | "--list" | "-l"
            )
        }),
        "reflog" => matches!(lits.first().map(String::as_str), None | Some("show")),
        _ => false,
    };
    if read {
        Category::ReadOnly
    } else {
        Category::write(format!("changes a git repository with `git {sub}`"))
    }
}
