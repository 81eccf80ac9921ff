//! Whether a word could reach a protected path, another process's files or
//! environment through `/proc`, or a secret held in the environment.
//!
//! Why it exists: protecting the worker's key by matching its text fails to
//! quoting (`wor'k'er.key`), globbing (`worker.ke?`, `../*/worker.key`),
//! `..` and doubled slashes, `cd` before a relative name, `/proc/self/root`
//! and searches from `/`. Here every word becomes a pattern (quotes removed,
//! globs and brace expansion kept as what they can match, anything known only
//! at run time as "any text"), is resolved against each possible working
//! directory and normalised, and is tested for overlap with each protected
//! pattern: the protected path, the directory holding it (except the session
//! workspace), `/proc/*/{root,cwd,environ,fd,mem,map_files}`, and for a
//! recursive program every directory above the protected one.
//! What it must not do: touch the file system, or take unbounded time: the
//! overlap test is bounded by a shared budget, and a word that exhausts it is
//! refused. A word that is entirely unknown (`"$f"`) cannot be placed and is
//! left to the sandbox.

use std::cell::OnceCell;

use crate::ast::Word;
use crate::opts::listed;
use crate::paths::{Env, inside, normalize};
use crate::pattern::{
    MAX_GLOB_PATTERN, P, Place, candidates, intersects, lightly_normalized, literal_prefix, placed,
};
use crate::vocab::Category;

/// Why a protected pattern must not be reached.
#[derive(Debug, Clone)]
enum Why {
    Protected(String),
    Zone(String),
    Above { dir: String, zone: String },
    Environ,
    ProcLink,
    ProcSearch,
}

impl Why {
    fn category(&self) -> Category {
        let reason = match self {
            Why::Protected(p) => format!("reaching Claude Ops' own credentials (`{p}`)"),
            Why::Zone(z) => {
                format!("reaching the directory of Claude Ops' own credentials (`{z}`)")
            }
            Why::Above { dir, zone } => format!(
                "a recursive search of `{dir}`, which holds Claude Ops' own credentials (`{zone}`),"
            ),
            Why::Environ => ENVIRONMENT.to_owned(),
            Why::ProcLink => {
                "reaching files through a process's root, working directory or descriptors in /proc"
                    .to_owned()
            }
            Why::ProcSearch => {
                "a recursive search of /proc, which holds every process's environment,".to_owned()
            }
        };
        Category::Never { reason }
    }
}

/// The rule named when the environment is read.
pub(crate) const ENVIRONMENT: &str =
    "reading the environment (it holds the session's keys and tokens)";

/// The rule named when a command prints the environment: `how` is the
/// command, such as `env`.
pub(crate) fn printing_environment(how: &str) -> Category {
    Category::Never {
        reason: format!(
            "printing the environment with `{how}` (it holds the session's keys and tokens)"
        ),
    }
}

struct Target {
    pattern: Vec<P>,
    /// The literal text the pattern starts with, for a quick rejection.
    prefix: String,
    why: Why,
    /// Whether the session workspace is exempt from it.
    zone: bool,
}

fn target(text: &str, tail: &[P], why: Why, zone: bool) -> Target {
    let mut pattern: Vec<P> = text.chars().map(P::Ch).collect();
    pattern.extend_from_slice(tail);
    let prefix = literal_prefix(&pattern);
    Target {
        pattern,
        prefix,
        why,
        zone,
    }
}

/// The directory whose every path is off limits for a protected path: its
/// parent, unless that is `/` or a top-level directory.
fn zone_of(path: &str) -> String {
    match path.rfind('/') {
        Some(i) if path[..i].matches('/').count() >= 2 => path[..i].to_owned(),
        _ => path.to_owned(),
    }
}

const PROC_NAMES: [&str; 6] = ["root", "cwd", "environ", "fd", "mem", "map_files"];

/// The protected patterns for `env`: `floating` patterns (whose start is
/// unknown) are only tested against the protected paths themselves and
/// `/proc`; `recursive` adds every directory above a protected one.
fn targets(env: &Env, floating: bool, recursive: bool) -> Vec<Target> {
    let mut out = Vec::new();
    let below = [P::Ch('/'), P::All];
    let protected: Vec<String> = env
        .ctx
        .protected
        .iter()
        .filter(|p| p.starts_with('/'))
        .map(|p| normalize(p))
        .filter(|p| p != "/")
        .collect();
    for p in &protected {
        out.push(target(p, &[], Why::Protected(p.clone()), false));
        out.push(target(p, &below, Why::Protected(p.clone()), false));
    }
    for (i, name) in PROC_NAMES.iter().enumerate() {
        let why = if *name == "environ" {
            Why::Environ
        } else {
            Why::ProcLink
        };
        for task in [false, true] {
            let mut tail = vec![P::Run, P::Ch('/')];
            if task {
                tail.extend("task/".chars().map(P::Ch));
                tail.extend([P::Run, P::Ch('/')]);
            }
            tail.extend(name.chars().map(P::Ch));
            out.push(target("/proc/", &tail, why.clone(), false));
            if i != 2 {
                tail.extend_from_slice(&below);
                out.push(target("/proc/", &tail, why.clone(), false));
            }
        }
    }
    if floating {
        return out;
    }
    let mut zones: Vec<String> = Vec::new();
    for p in &protected {
        let zone = zone_of(p);
        if !zones.contains(&zone) {
            zones.push(zone);
        }
    }
    for z in &zones {
        out.push(target(z, &[], Why::Zone(z.clone()), true));
        out.push(target(z, &below, Why::Zone(z.clone()), true));
        if recursive {
            let mut dir = z.as_str();
            while let Some(i) = dir.rfind('/') {
                dir = if i == 0 { "/" } else { &dir[..i] };
                let why = Why::Above {
                    dir: dir.to_owned(),
                    zone: z.clone(),
                };
                out.push(target(dir, &[], why, false));
                if dir == "/" {
                    break;
                }
            }
        }
    }
    if recursive {
        out.push(target("/", &[], Why::ProcSearch, false));
        out.push(target("/proc", &[], Why::ProcSearch, false));
        out.push(target("/proc/", &[P::Run], Why::ProcSearch, false));
        let mut task = vec![P::Run];
        task.extend("/task".chars().map(P::Ch));
        out.push(target("/proc/", &task, Why::ProcSearch, false));
        task.extend([P::Ch('/'), P::Run]);
        out.push(target("/proc/", &task, Why::ProcSearch, false));
    }
    out
}

/// Whether an absolute pattern stays inside the session workspace. A part
/// known only at run time is taken to stay where it starts (a `$x` holding
/// `../..` could climb out; the sandbox, where the state dir is not mounted,
/// answers that).
fn in_workspace(pattern: &[P], env: &Env) -> bool {
    let Some(ws) = env.ctx.workspace.as_deref().filter(|w| w.starts_with('/')) else {
        return false;
    };
    let ws = normalize(ws);
    let prefix = literal_prefix(pattern);
    if prefix.len() == pattern.len() {
        return inside(&prefix, &ws);
    }
    prefix.starts_with(&format!("{ws}/"))
}

/// The protected patterns for the words of one command, built when first
/// needed.
pub(crate) struct Guard<'a, 'e> {
    env: &'a Env<'e>,
    recursive: bool,
    anchored: OnceCell<Vec<Target>>,
    floating: OnceCell<Vec<Target>>,
}

impl<'a, 'e> Guard<'a, 'e> {
    /// `recursive` when the command reads whole directory trees.
    pub(crate) fn new(env: &'a Env<'e>, recursive: bool) -> Self {
        Guard {
            env,
            recursive,
            anchored: OnceCell::new(),
            floating: OnceCell::new(),
        }
    }

    fn get(&self, floating: bool) -> &[Target] {
        if floating {
            self.floating
                .get_or_init(|| targets(self.env, true, self.recursive))
        } else {
            self.anchored
                .get_or_init(|| targets(self.env, false, self.recursive))
        }
    }
}

/// The worst protected place a pattern overlaps, if any.
fn pattern_reach(pattern: &[P], place: Place, lists: &Guard) -> Option<Category> {
    let env = lists.env;
    let has_glob = pattern
        .iter()
        .any(|p| !matches!(p, P::Ch(_)) && *p != P::All);
    if has_glob && pattern.len() > MAX_GLOB_PATTERN {
        return Some(Category::unclear(format!(
            "a path pattern longer than {MAX_GLOB_PATTERN} characters cannot be checked against protected paths"
        )));
    }
    if place == Place::Unplaced && !pattern[2..].contains(&P::Ch('/')) {
        // A bare name in an unknown directory: only a protected file name
        // (`worker.key`) or `environ` counts, not every word such as `run`.
        let names = env
            .ctx
            .protected
            .iter()
            .filter_map(|p| p.rsplit('/').next())
            .filter(|n| n.contains('.'))
            .map(|n| (n.to_owned(), Why::Protected(n.to_owned())))
            .chain(std::iter::once(("environ".to_owned(), Why::Environ)));
        for (name, why) in names {
            let exact: Vec<P> = name.chars().map(P::Ch).collect();
            match intersects(&pattern[2..], &exact, &env.budget) {
                Some(true) => return Some(why.category()),
                Some(false) => {}
                None => return Some(too_many()),
            }
        }
        return None;
    }
    let floating = place != Place::Anchored;
    let prefix = literal_prefix(pattern);
    let workspace = !floating && in_workspace(pattern, env);
    for t in lists.get(floating) {
        if t.zone && workspace {
            continue;
        }
        if floating && t.pattern.ends_with(&[P::Ch('/'), P::All]) {
            continue;
        }
        if !(prefix.starts_with(&t.prefix) || t.prefix.starts_with(&prefix)) {
            continue;
        }
        match intersects(pattern, &t.pattern, &env.budget) {
            Some(true) => return Some(t.why.category()),
            Some(false) => {}
            None => return Some(too_many()),
        }
    }
    None
}

fn too_many() -> Category {
    Category::unclear("the command has too many paths to check against protected paths")
}

/// Whether a pattern walks through a `/proc` link (`/proc/self/cwd/..`)
/// before `..` would be resolved.
fn through_proc_link(pattern: &[P], lists: &Guard) -> Option<Category> {
    let env = lists.env;
    let light = lightly_normalized(pattern);
    if !light.windows(2).any(|w| w == [P::Ch('.'), P::Ch('.')]) {
        return None;
    }
    lists
        .get(true)
        .iter()
        .filter(|t| matches!(t.why, Why::ProcLink | Why::Environ))
        .find_map(|t| {
            let mut below = t.pattern.clone();
            below.extend([P::Ch('/'), P::All]);
            intersects(&light, &below, &env.budget)
                .unwrap_or(true)
                .then(|| t.why.category())
        })
}

/// What a word could reach that no tier may: a protected path, the
/// directory holding it, another process's environment or files through
/// `/proc`, or (for a `recursive` program) a directory above a protected one.
pub(crate) fn word_reach(word: &Word, guard: &Guard) -> Option<Category> {
    let env = guard.env;
    for pattern in candidates(word, env) {
        if pattern.first() == Some(&P::Ch('/'))
            && let Some(c) = through_proc_link(&pattern, guard)
        {
            return Some(c);
        }
        for (placed, place) in placed(&pattern, env) {
            if let Some(c) = pattern_reach(&placed, place, guard) {
                return Some(c);
            }
        }
    }
    None
}

/// Characters that end a path named inside a larger text.
const NOT_IN_PATH: &str = " \t\n'\"`=()[]{},;<>|@:$";

/// The same for paths named inside text: a here-document that `xargs` turns
/// into arguments, or a program (`awk`, `sed`, SQL) that opens a file it
/// names. Each token between blanks, quotes and punctuation is checked.
pub(crate) fn text_reach(text: &str, guard: &Guard) -> Option<Category> {
    let tokens = text
        .split(|c: char| NOT_IN_PATH.contains(c))
        .filter(|t| !t.is_empty());
    for token in tokens.take(256) {
        if token.contains('/') || token == "environ" {
            let word = Word::literal_word(token);
            if let Some(c) = word_reach(&word, guard) {
                return Some(c);
            }
        }
    }
    None
}

/// Programs that read whole directory trees, and the options that make
/// others do so.
pub(crate) fn is_recursive(prog: &str, args: &[Word]) -> bool {
    if listed("rg find du tree", prog) {
        return true;
    }
    let (short, long) = match prog {
        "grep" | "egrep" | "fgrep" | "zgrep" => (
            "rR",
            "--recursive --dereference-recursive --directories=recurse",
        ),
        "ls" => ("R", "--recursive"),
        "diff" => ("r", "--recursive"),
        "chmod" | "chown" | "chgrp" => ("R", "--recursive"),
        "cp" | "scp" | "rsync" => ("rRa", "--recursive --archive"),
        _ => return false,
    };
    let lits: Vec<String> = args.iter().filter_map(Word::literal).collect();
    lits.iter().enumerate().any(|(i, a)| {
        if a.starts_with("--") {
            return listed(long, a);
        }
        if a.starts_with('-') && a.len() > 1 {
            if a.chars().skip(1).any(|c| short.contains(c)) {
                return true;
            }
            // `grep -d recurse`, `grep -drecurse`
            return listed("grep egrep fgrep zgrep", prog)
                && (a == "-drecurse"
                    || (a == "-d" && lits.get(i + 1).is_some_and(|n| n == "recurse")));
        }
        false
    })
}

/// Environment variables that hold the session's model token or look like a
/// secret. The model's own variables are refused even when the line sets
/// them; other secret-looking names are refused unless `assigned` in the
/// line (a loop variable, a `read` target, an assignment).
pub(crate) fn secret_param(name: &str, assigned: &dyn Fn(&str) -> bool) -> Option<Category> {
    let name = name.strip_prefix('#').unwrap_or(name);
    let ident: String = name
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if ident.is_empty() || ident.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let upper = ident.to_ascii_uppercase();
    let model = ["ANTHROPIC", "CLAUDE_CODE", "OPENAI"]
        .iter()
        .any(|p| upper.starts_with(p));
    let secretish = [
        "KEY",
        "TOKEN",
        "SECRET",
        "PASSW",
        "PASSPHRASE",
        "CREDENTIAL",
        "AUTH",
        "COOKIE",
        "PRIVATE",
    ]
    .iter()
    .any(|s| upper.contains(s));
    if model || (secretish && !assigned(&ident)) {
        return Some(Category::Never {
            reason: format!(
                "reading `${ident}`, which holds or may hold a secret, from the environment"
            ),
        });
    }
    None
}

/// Variables that change which program runs or what it loads.
pub(crate) fn assignment_category(name: &str) -> Option<Category> {
    let upper = name.to_ascii_uppercase();
    const EXACT: &str = "IFS ENV PS4 SHELL SHELLOPTS BASHOPTS PROMPT_COMMAND EDITOR VISUAL BROWSER PAGER TERMINFO CDPATH";
    const PREFIXES: &str =
        "LD_ DYLD_ BASH GIT_ SSH_ LESS PYTHON PERL RUBY NODE_ GCONV JAVA_ DOCKER_CONFIG KUBECONFIG";
    const CONTAINS: &str = "PATH PRELOAD HOME CONFIG OPT PAGER";
    let risky = listed(EXACT, upper.as_str())
        || PREFIXES.split_whitespace().any(|p| upper.starts_with(p))
        || CONTAINS.split_whitespace().any(|c| upper.contains(c))
        || upper.ends_with("RC")
        || upper.ends_with("RCFILE")
        || upper.ends_with("EDITOR");
    risky.then(|| {
        Category::unclear(format!(
            "setting `{name}` can change which program runs or what it loads"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Context;

    fn ctx() -> Context {
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

    fn reaches(text: &str, recursive: bool) -> bool {
        let script = crate::parse::parse(&format!("x {text}")).unwrap_or_else(|e| panic!("{e}"));
        let Some(crate::ast::Command::Simple(cmd)) =
            script.pipelines.first().and_then(|p| p.commands.first())
        else {
            panic!("no command in {text}");
        };
        let context = ctx();
        let env = Env::new(&context, vec![context.cwd.clone()]);
        let guard = Guard::new(&env, recursive);
        cmd.words[1..]
            .iter()
            .any(|w| word_reach(w, &guard).is_some())
    }

    #[test]
    fn finds_the_key_however_it_is_written() {
        for text in [
            "/var/lib/claudeops/worker.key",
            "/var/lib/claudeops/wor'k'er.key",
            "/var/lib/claudeops//./worker.key",
            "../../worker.key",
            "/var/lib/claudeops/worker.ke?",
            "/var/lib/claudeops/../*/worker.k?y",
            "/var/lib/claudeops/{a,worker}.key",
            "/var/lib/claudeops/[w]orker.key",
            "--data=@/var/lib/claudeops/worker.key",
            "/proc/self/root/var/lib/claudeops/worker.key",
            "/pr?c/1/environ",
            "/proc/$$/environ",
            "$d/worker.key",
            "/var/lib/claudeops",
            "/var/lib/claudeops/sessions/1/x",
            "/var/lib/claudeops/run/actions.sock",
        ] {
            assert!(reaches(text, false), "{text} was not found");
        }
    }

    #[test]
    fn leaves_ordinary_paths_alone() {
        for text in [
            "/var/log/syslog",
            "/var/lib/claudeops/sessions/7/notes.md",
            "notes.md",
            "*.txt",
            "\"$f\"",
            "/var/lib",
            "/proc/loadavg",
            "/proc/self/status",
            "http://127.0.0.1:8080/x",
            "/var/lib/docker/volumes/*",
        ] {
            assert!(!reaches(text, false), "{text} was refused");
        }
    }

    #[test]
    fn recursive_programs_may_not_search_above_a_protected_path() {
        assert!(reaches("/", true));
        assert!(reaches("/var/lib/claudeops/..", true));
        assert!(reaches("/v*", true));
        assert!(reaches("/proc", true));
        assert!(!reaches("/var/log", true));
        assert!(!reaches(".", true));
    }

    #[test]
    fn secret_variables_are_refused_unless_set_in_the_line() {
        let none = |_: &str| false;
        assert!(secret_param("ANTHROPIC_API_KEY", &none).is_some());
        assert!(secret_param("#ANTHROPIC_API_KEY", &none).is_some());
        assert!(secret_param("TOKEN:-x", &none).is_some());
        assert!(secret_param("TOKEN", &|n: &str| n == "TOKEN").is_none());
        assert!(secret_param("ANTHROPIC_API_KEY", &|_: &str| true).is_some());
        assert!(secret_param("HOME", &none).is_none());
        assert!(secret_param("1", &none).is_none());
    }
}
