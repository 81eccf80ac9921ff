//! Programs that write, delete or change the permissions of files: `rm`,
//! `cp`, `mv`, `tee`, `dd`, `chmod`, `find -delete` and the like.
//!
//! Why it exists: writes are refused at every tier, but which rule a write
//! breaks matters to the model (the repos dir, secrets, network files, data
//! volumes, `rm -rf /`), and `chmod`/`chown` are allowed at Tier 2 only on
//! paths known to be outside the repos dir.
//! What it must not do: allow a permission change on a path it cannot resolve
//! to an absolute path under every working directory the command may have.

use crate::ast::Word;
use crate::lex::as_assignment;
use crate::opts::listed;
use crate::opts::{Spec, scan};
use crate::paths::{
    Action, Env, ROOT_DELETE, Resolved, is_account_file, is_top_level, known_paths, resolve,
    write_target,
};
use crate::vocab::Category;

pub(crate) fn classify(prog: &str, args: &[Word], env: &Env) -> Category {
    match prog {
        "rm" | "rmdir" | "unlink" | "shred" => delete(prog, args, env),
        "cp" | "ln" | "install" | "mv" => copy(prog, args, env),
        "touch" | "mkdir" | "truncate" | "tee" => {
            let (short_values, long_values) = match prog {
                "touch" => ("dtr", "date reference"),
                "mkdir" => ("mZ", "mode context"),
                "truncate" => ("sr", "size reference"),
                _ => ("", "output-error"),
            };
            let s = scan(
                args,
                &Spec {
                    short_values,
                    long_values,
                    permute: true,
                },
            );
            if prog == "tee" && s.operands.is_empty() {
                return Category::ReadOnly;
            }
            let verb = if prog == "tee" {
                "writes to"
            } else {
                "creates or changes"
            };
            worst_target(s.operands.iter().copied(), env, verb, Action::Write, prog)
        }
        "dd" => {
            let outputs: Vec<Word> = args
                .iter()
                .filter_map(as_assignment)
                .filter(|a| a.name == "of")
                .map(|a| a.value)
                .collect();
            if outputs.is_empty() && args.iter().all(|w| w.literal().is_some()) {
                return Category::ReadOnly;
            }
            worst_target(outputs.iter(), env, "writes to", Action::Write, prog)
        }
        "chmod" | "chown" | "chgrp" => permissions(prog, args, env),
        "find" => find(args, env),
        _ => Category::Unknown {
            program: prog.to_owned(),
        },
    }
}

/// The worst category over the targets; a plain write when there are none.
fn worst_target<'a>(
    targets: impl IntoIterator<Item = &'a Word>,
    env: &Env,
    verb: &str,
    action: Action,
    prog: &str,
) -> Category {
    let mut out: Option<Category> = None;
    for w in targets {
        if let Some(c) = write_target(w, env, verb, action) {
            out = Some(match out {
                Some(prev) => prev.worst(c),
                None => c,
            });
        }
    }
    out.unwrap_or_else(|| Category::write(format!("changes files with `{prog}`")))
}

fn delete(prog: &str, args: &[Word], env: &Env) -> Category {
    let s = scan(
        args,
        &Spec {
            short_values: "nus",
            long_values: "iterations random-source size remove",
            permute: true,
        },
    );
    let recursive = s.has("-r -R --recursive");
    for w in &s.operands {
        let home = matches!(w.raw.as_str(), "~" | "~/" | "~/*" | "$HOME" | "\"$HOME\"");
        let root = resolve(w, env).into_iter().any(|r| match r {
            Resolved::Known(p) | Resolved::Prefix(p) => is_top_level(&p),
            Resolved::Unknown => false,
        });
        if recursive && (home || root) {
            return Category::never(ROOT_DELETE);
        }
    }
    worst_target(
        s.operands.iter().copied(),
        env,
        "deletes",
        Action::Delete,
        prog,
    )
}

fn copy(prog: &str, args: &[Word], env: &Env) -> Category {
    let spec = Spec {
        short_values: "tSmogZ",
        long_values: "target-directory suffix mode owner group backup reflink preserve sparse context",
        permute: true,
    };
    let s = scan(args, &spec);
    let mut targets: Vec<&Word> = s
        .values("-t --target-directory")
        .filter_map(|v| v.word)
        .collect();
    if prog == "mv" {
        targets.extend(s.operands.iter().copied());
        return worst_target(targets, env, "moves", Action::Delete, prog);
    }
    if targets.is_empty()
        && let Some(last) = s.operands.last()
    {
        targets.push(last);
    }
    worst_target(targets, env, "writes to", Action::Write, prog)
}

/// Directories whose permissions must never be changed recursively.
const SYSTEM_DIRS: &str = "/ /etc /usr /usr/local /bin /sbin /lib /lib64 /boot /var /var/lib /proc /sys /dev /root /home /run";

fn permissions(prog: &str, args: &[Word], env: &Env) -> Category {
    let mut recursive = false;
    let mut reference = false;
    let mut first: Option<&Word> = None;
    let mut targets: Vec<&Word> = Vec::new();
    let mut only_operands = false;
    for w in args {
        let lit = w.literal();
        let text = lit.as_deref().unwrap_or("");
        if only_operands
            || lit.is_none()
            || !text.starts_with('-')
            || text == "-"
            || (prog == "chmod" && first.is_none() && is_mode(text))
        {
            if first.is_none() && !reference {
                first = Some(w);
            } else {
                targets.push(w);
            }
            continue;
        }
        if text == "--" {
            only_operands = true;
            continue;
        }
        if let Some(long) = text.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or_default();
            match name {
                "recursive" | "no-preserve-root" => recursive = true,
                "reference" => reference = true,
                "verbose" | "changes" | "silent" | "quiet" | "dereference" | "no-dereference"
                | "preserve-root" | "from" => {}
                _ => {
                    return Category::unclear(format!(
                        "`{prog}` option `--{name}` is not one Claude Ops knows"
                    ));
                }
            }
            continue;
        }
        for c in text.chars().skip(1) {
            match c {
                'R' => recursive = true,
                'v' | 'c' | 'f' | 'h' | 'H' | 'L' | 'P' => {}
                other => {
                    return Category::unclear(format!(
                        "`{prog}` option `-{other}` is not one Claude Ops knows"
                    ));
                }
            }
        }
    }
    if prog == "chmod"
        && let Some(mode) = first.and_then(Word::literal)
        && sets_id_bits(&mode)
    {
        return Category::unclear(format!("`chmod {mode}` sets setuid or setgid bits"));
    }
    if targets.is_empty() {
        return Category::unclear(format!("`{prog}` needs a mode or owner and a file"));
    }
    for w in &targets {
        let Some(paths) = known_paths(w, env) else {
            return Category::unclear(format!(
                "it cannot be told whether `{}` is inside the repos dir",
                w.raw
            ));
        };
        for p in paths {
            if env.in_repos(&p) {
                return Category::Never {
                    reason: env.repos_rule(),
                };
            }
            if is_account_file(&p) {
                return Category::unclear(format!(
                    "changing the permissions of `{p}` affects who can log in or use sudo"
                ));
            }
            if recursive && listed(SYSTEM_DIRS, p.as_str()) {
                return Category::never(
                    "changing permissions recursively on / or a system directory",
                );
            }
        }
    }
    let target = targets
        .iter()
        .map(|w| w.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    Category::FilePermissions { target }
}

/// A chmod mode: octal, or symbolic such as `u+x,g-w` or `-r`.
fn is_mode(text: &str) -> bool {
    if !text.is_empty() && text.chars().all(|c| c.is_digit(8)) {
        return true;
    }
    text.split(',').all(|clause| {
        let perms = clause.trim_start_matches(['u', 'g', 'o', 'a']);
        perms.starts_with(['+', '-', '=']) && perms.chars().all(|c| "+-=rwxXstugo".contains(c))
    })
}

fn sets_id_bits(mode: &str) -> bool {
    if !mode.is_empty() && mode.chars().all(|c| c.is_digit(8)) {
        return mode.len() >= 4
            && mode
                .chars()
                .rev()
                .nth(3)
                .is_some_and(|c| matches!(c, '2' | '3' | '4' | '5' | '6' | '7'));
    }
    mode.split(',')
        .any(|clause| clause.contains('s') && clause.contains(['+', '=']))
}

/// `find` tests and options that take a value.
const FIND_VALUES: &str = "-name -iname -path -ipath -wholename -iwholename -regex -iregex -type -xtype -mtime -mmin -atime -amin -ctime -cmin -newer -anewer -cnewer -size -perm -user -group -uid -gid -links -inum -samefile -lname -ilname -fstype -used -maxdepth -mindepth -regextype -context -printf -D";
/// `find` tests, actions and options without a value.
const FIND_FLAGS: &str = "-print -print0 -ls -prune -quit -true -false -empty -readable -writable -executable -nouser -nogroup -xdev -mount -follow -depth -d -daystart -ignore_readdir_race -noignore_readdir_race -noleaf -not -a -and -o -or -L -H -P ! ( ) ,";

/// `find` itself: its actions that delete or write files, its tests from a
/// closed list, and `-exec` and its kin (whose commands are judged
/// separately), which need Tier 2.
fn find(args: &[Word], env: &Env) -> Category {
    let starts: Vec<&Word> = args
        .iter()
        .take_while(|w| {
            !w.literal()
                .is_some_and(|t| t.starts_with('-') || t == "(" || t == "!")
        })
        .collect();
    let mut out = Category::ReadOnly;
    let mut i = 0;
    while i < args.len() {
        let word = &args[i];
        i += 1;
        let Some(lit) = word.literal() else {
            continue;
        };
        match lit.as_str() {
            "-exec" | "-execdir" | "-ok" | "-okdir" => {
                let start = i;
                while i < args.len() && !matches!(args[i].literal().as_deref(), Some(";" | "+")) {
                    i += 1;
                }
                let program = args.get(start).map(|w| w.raw.clone()).unwrap_or_default();
                out = out.worst(Category::Exec {
                    what: format!("runs `{program}` for every file it finds (`find {lit}`)"),
                });
                i += 1;
            }
            "-delete" => {
                out = out.worst(worst_target(
                    starts.iter().copied(),
                    env,
                    "deletes files under",
                    Action::Delete,
                    "find",
                ));
                out = out.worst(Category::write("deletes files with `find -delete`"));
            }
            "-fprint" | "-fprint0" | "-fprintf" | "-fls" => {
                let file = args.get(i).into_iter();
                out = out.worst(worst_target(file, env, "writes to", Action::Write, "find"));
                i += if lit == "-fprintf" { 2 } else { 1 };
            }
            t if listed(FIND_VALUES, t) || is_newer_xy(t) => i += 1,
            t if listed(FIND_FLAGS, t) || (t.starts_with("-O") && t.len() > 2) => {}
            t if t.starts_with('-') => {
                let why = if t == "-files0-from" {
                    ": it reads the starting points from a file"
                } else {
                    ": it is not one Claude Ops knows to be read-only"
                };
                return out.worst(Category::unclear(format!(
                    "`find {t}` is not allowed{why} (`find` may use -name -path -type -mtime -size -maxdepth -print -ls ...)"
                )));
            }
            _ => {}
        }
    }
    out
}

/// `-newerXY` (`-newermt`, `-newerct`...).
fn is_newer_xy(test: &str) -> bool {
    test.strip_prefix("-newer")
        .is_some_and(|xy| xy.len() == 2 && xy.chars().all(|c| "aBcmt".contains(c)))
}
