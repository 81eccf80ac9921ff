//! Walks a parsed command line and finds every program it would start, with
//! wrappers peeled away, and every redirection and variable it sets.
//!
//! Why it exists: the policy judges programs, not text. `ssh nas 'a | b'`,
//! `sudo -u x c`, `$(d)` and `find -exec e {} \;` all start programs, each in
//! its own place (host, container, working directory).
//! What it must not do: skip anything that runs. Every command substitution,
//! every stage of every pipeline and every inner command is judged; wrappers
//! nested deeper than [`MAX_WRAPPER_DEPTH`], and lines of more than
//! [`MAX_PARTS`] parts, are refused. Every word, assignment and redirection
//! is also checked for what it could reach (`reach`): a protected path, the
//! environment through `/proc`, or a secret-looking variable.

use std::collections::HashSet;

use crate::ast::{
    Assignment, Command, Redirect, RedirectOp, Script, SimpleCommand, Word, WordPart,
};
use crate::classify;
use crate::cwd::scope_cwds;
use crate::lex::{as_assignment, is_name};
use crate::opts::listed;
use crate::paths::{Action, Env, REACH_BUDGET, write_target};
use crate::peel::{Peel, Runs};
use crate::reach::{
    Guard, assignment_category, is_recursive, secret_param, text_reach, word_reach,
};
use crate::vocab::{Category, Context, MAX_WRAPPER_DEPTH};
use crate::wrappers::peel;

/// Parts (programs, redirections, assignments) judged in one command line at
/// most; a longer line is refused. It keeps the time a line takes bounded:
/// far above anything written by hand, far below what fits in
/// [`MAX_LEN`](crate::error::MAX_LEN) bytes.
pub(crate) const MAX_PARTS: usize = 1_000;

/// One judged part of the command line.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    /// The command it belongs to (after unwrapping).
    pub command: SimpleCommand,
    /// The text to name in a reason.
    pub part: String,
    pub category: Category,
    /// False for redirections and variable assignments.
    pub is_command: bool,
}

/// Where commands run: the wrappers around them and their working directories.
#[derive(Debug, Clone)]
struct Scope {
    cwds: Vec<Option<String>>,
    wrappers: Vec<String>,
    host: Option<String>,
    container: Option<String>,
}

/// Every part of `script`, judged for `ctx`.
pub(crate) fn analyze(script: &Script, ctx: &Context) -> Vec<Finding> {
    let mut walker = Walker {
        ctx,
        findings: Vec::new(),
        overflowed: false,
        budget: REACH_BUDGET,
        assigned: Names::default(),
    };
    let cwds = scope_cwds(vec![ctx.cwd.clone()], script, ctx);
    let scope = Scope {
        cwds,
        wrappers: Vec::new(),
        host: None,
        container: None,
    };
    walker.script(script, &scope, 0);
    walker.findings
}

struct Walker<'c> {
    ctx: &'c Context,
    findings: Vec<Finding>,
    /// Whether the line was refused for having more than [`MAX_PARTS`] parts.
    overflowed: bool,
    /// Steps left for checking words against protected paths.
    budget: usize,
    /// Variables the line sets (assignments, loop variables, `read`
    /// targets): a secret-looking name it sets itself is not the environment's.
    assigned: Names,
}

/// The variables a line sets, and those set to something that could start
/// with `-` (read from input, or a value that is not a plain word).
#[derive(Debug, Default)]
struct Names {
    set: HashSet<String>,
    maybe_option: HashSet<String>,
}

impl Names {
    fn add(&mut self, name: String, safe: bool) {
        if !safe {
            self.maybe_option.insert(name.clone());
        }
        self.set.insert(name);
    }

    fn safe(&self) -> Vec<String> {
        self.set
            .iter()
            .filter(|n| !self.maybe_option.contains(*n))
            .cloned()
            .collect()
    }
}

const SHELLS: &str = "sh bash zsh dash ksh ash mksh python python3 perl ruby node php";

impl Walker<'_> {
    fn script(&mut self, script: &Script, scope: &Scope, depth: usize) {
        collect_assigned(script, &mut self.assigned, 0);
        for pipeline in &script.pipelines {
            let mut stages = Vec::new();
            for command in &pipeline.commands {
                stages.push(self.findings.len());
                if self.findings.len() >= MAX_PARTS {
                    let simple = match command {
                        Command::Simple(simple) => simple,
                        Command::Subshell { .. } | Command::Group { .. } => {
                            &SimpleCommand::default()
                        }
                    };
                    self.too_many(simple, scope);
                } else {
                    self.command(command, scope, depth);
                }
            }
            stages.push(self.findings.len());
            self.check_remote_code(&stages);
        }
    }

    fn command(&mut self, command: &Command, scope: &Scope, depth: usize) {
        match command {
            Command::Simple(simple) => self.simple(simple, scope, depth),
            Command::Subshell { body, redirects } | Command::Group { body, redirects } => {
                self.script(body, scope, depth);
                for r in redirects {
                    self.substitutions(&r.target, scope, depth);
                }
                // `{ cat; } < file` reads the file as surely as `cat < file`.
                let outer = SimpleCommand {
                    redirects: redirects.clone(),
                    ..SimpleCommand::default()
                };
                self.reach(&outer, scope);
                self.redirects(redirects, &SimpleCommand::default(), scope);
            }
        }
    }

    fn simple(&mut self, cmd: &SimpleCommand, scope: &Scope, depth: usize) {
        let words = cmd
            .assignments
            .iter()
            .map(|a| &a.value)
            .chain(&cmd.words)
            .chain(cmd.redirects.iter().map(|r| &r.target));
        for word in words {
            self.substitutions(word, scope, depth);
        }
        self.reach(cmd, scope);
        self.assignments(&cmd.assignments, cmd, scope);
        self.redirects(&cmd.redirects, cmd, scope);
        if cmd.words.is_empty() {
            self.emit(cmd.clone(), scope, Some(Category::ReadOnly));
            return;
        }
        self.unwrap(cmd.clone(), scope, depth);
    }

    /// Judges the commands inside `$(...)`, backticks and `<(...)` of a word.
    fn substitutions(&mut self, word: &Word, scope: &Scope, depth: usize) {
        for part in &word.parts {
            if let WordPart::Subst { script, .. } = part {
                if depth >= MAX_WRAPPER_DEPTH * 2 {
                    self.too_deep(SimpleCommand::default(), scope);
                    continue;
                }
                self.script(script, scope, depth + 1);
            }
        }
    }

    fn unwrap(&mut self, cmd: SimpleCommand, scope: &Scope, depth: usize) {
        if depth > MAX_WRAPPER_DEPTH {
            self.too_deep(cmd, scope);
            return;
        }
        match peel(&cmd) {
            Peel::No => self.emit(cmd, scope, None),
            Peel::Decided(category) => self.emit(cmd, scope, Some(category)),
            Peel::Command {
                words,
                assignments,
                label,
                into,
            } => {
                let inner = SimpleCommand {
                    assignments,
                    words,
                    redirects: cmd.redirects.clone(),
                    ..Default::default()
                };
                let inner_scope = self.enter(scope, label, &into, None);
                self.assignments(&inner.assignments, &inner, &inner_scope);
                self.unwrap(inner, &inner_scope, depth + 1);
            }
            Peel::Script { text, label, into } => match crate::parse::parse(&text) {
                Ok(script) => {
                    let inner_scope = self.enter(scope, label, &into, Some(&script));
                    self.script(&script, &inner_scope, depth + 1);
                }
                Err(e) => {
                    let reason = format!("the command given to `{label}` could not be parsed: {e}");
                    self.emit(cmd, scope, Some(Category::Unparseable { reason }));
                }
            },
            Peel::AlsoInner {
                inners,
                label,
                into,
            } => {
                self.emit(cmd, scope, None);
                let inner_scope = self.enter(scope, label, &into, None);
                for words in inners {
                    let inner = SimpleCommand {
                        words,
                        ..Default::default()
                    };
                    self.unwrap(inner, &inner_scope, depth + 1);
                }
            }
        }
    }

    fn enter(&self, scope: &Scope, label: String, into: &Runs, script: Option<&Script>) -> Scope {
        let mut inner = scope.clone();
        inner.wrappers.push(label);
        match into {
            Runs::Same | Runs::Shell => {}
            Runs::Login => inner.cwds = vec![None],
            Runs::Host(host) => {
                inner.host = Some(host.clone());
                inner.container = None;
                inner.cwds = vec![None];
            }
            Runs::Container(name) => {
                inner.container = Some(name.clone());
                inner.cwds = vec![None];
            }
        }
        if let Some(script) = script {
            inner.cwds = scope_cwds(inner.cwds, script, self.ctx);
        }
        inner
    }

    /// Refuses the line once it has more parts than are judged in one go; the
    /// commands after that are not read.
    fn too_many(&mut self, cmd: &SimpleCommand, scope: &Scope) {
        if std::mem::replace(&mut self.overflowed, true) {
            return;
        }
        let reason = format!(
            "the command line has more than {MAX_PARTS} parts, more than Claude Ops judges in one command"
        );
        let cmd = SimpleCommand {
            words: cmd.words.iter().take(8).cloned().collect(),
            ..SimpleCommand::default()
        };
        self.push(cmd, scope, Category::unclear(reason));
    }

    fn too_deep(&mut self, cmd: SimpleCommand, scope: &Scope) {
        let reason =
            format!("it nests wrappers or substitutions more than {MAX_WRAPPER_DEPTH} levels deep");
        self.emit(cmd, scope, Some(Category::unclear(reason)));
    }

    fn emit(&mut self, cmd: SimpleCommand, scope: &Scope, forced: Option<Category>) {
        if self.findings.len() >= MAX_PARTS {
            self.too_many(&cmd, scope);
            return;
        }
        let mut env = Env::with_budget(self.ctx, scope.cwds.clone(), self.budget);
        env.safe_vars = self.assigned.safe();
        let mut category = forced.unwrap_or_else(|| classify::classify(&cmd, &env));
        if let Some(prog) = cmd.program()
            && is_recursive(&prog, cmd.words.get(1..).unwrap_or(&[]))
        {
            // Without a path a search starts in the working directory.
            let here = Word::literal_word(".");
            let guard = Guard::new(&env, true);
            let found = cmd.words[1..]
                .iter()
                .chain(std::iter::once(&here))
                .find_map(|w| word_reach(w, &guard));
            if let Some(c) = found {
                category = category.worst(c);
            }
        }
        self.budget = env.budget.get();
        if let Some(container) = &scope.container
            && category
                .min_tier()
                .is_some_and(|t| t > claudeops_core::Tier::Observe)
        {
            let prog = cmd.words.first().map(|w| w.raw.clone()).unwrap_or_default();
            category = Category::write(format!(
                "changes container `{container}` by running `{prog}` in it"
            ));
        }
        self.push(cmd, scope, category);
    }

    /// Records a command's finding, with where it runs.
    fn push(&mut self, mut cmd: SimpleCommand, scope: &Scope, category: Category) {
        cmd.wrappers = scope.wrappers.clone();
        cmd.host = scope.host.clone();
        cmd.container = scope.container.clone();
        let part = cmd
            .words
            .iter()
            .map(|w| w.raw.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        self.findings.push(Finding {
            command: cmd,
            part,
            category,
            is_command: true,
        });
    }

    /// What the command's words, assignment values and redirections could
    /// reach: protected paths, `/proc`, secret-looking variables.
    fn reach(&mut self, cmd: &SimpleCommand, scope: &Scope) {
        let env = Env::with_budget(self.ctx, scope.cwds.clone(), self.budget);
        let guard = Guard::new(&env, false);
        let mut found: Vec<(String, Category)> = Vec::new();
        let assigned = |name: &str| self.assigned.set.contains(name);
        let words = cmd
            .assignments
            .iter()
            .map(|a| &a.value)
            .chain(&cmd.words)
            .chain(cmd.redirects.iter().map(|r| &r.target));
        for word in words {
            for part in &word.parts {
                if let WordPart::Param { name, .. } = part
                    && let Some(c) = secret_param(name, &assigned)
                {
                    found.push((word.raw.clone(), c));
                }
            }
        }
        for r in &cmd.redirects {
            let text_only = matches!(r.op, RedirectOp::HereDoc | RedirectOp::HereString);
            let found_here = if text_only {
                let text: String = r
                    .target
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        WordPart::Lit { text, .. } => Some(text.as_str()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                text_reach(&text, &guard)
            } else {
                word_reach(&r.target, &guard)
            };
            if let Some(c) = found_here {
                found.push((r.display(), c));
            }
        }
        let words = cmd.assignments.iter().map(|a| &a.value).chain(&cmd.words);
        for word in words {
            let named_inside = || {
                let text: String = word
                    .parts
                    .iter()
                    .map(|p| match p {
                        WordPart::Lit { text, .. } => text.as_str(),
                        _ => " ",
                    })
                    .collect();
                text_reach(&text, &guard)
            };
            if let Some(c) = word_reach(word, &guard).or_else(named_inside) {
                found.push((word.raw.clone(), c));
                break;
            }
        }
        self.budget = env.budget.get();
        for (part, category) in found {
            self.side_finding(cmd, scope, part, category);
        }
    }

    fn assignments(&mut self, assignments: &[Assignment], cmd: &SimpleCommand, scope: &Scope) {
        for a in assignments {
            if let Some(category) = assignment_category(&a.name) {
                let part = format!("{}={}", a.name, a.value.raw);
                self.side_finding(cmd, scope, part, category);
            }
        }
    }

    fn redirects(&mut self, redirects: &[Redirect], cmd: &SimpleCommand, scope: &Scope) {
        let env = Env::new(self.ctx, scope.cwds.clone());
        for r in redirects {
            let writes = match r.op {
                RedirectOp::In
                | RedirectOp::DupIn
                | RedirectOp::HereDoc
                | RedirectOp::HereString => false,
                RedirectOp::DupOut => r.target.literal().is_none_or(|t| {
                    !(t == "-"
                        || (!t.is_empty()
                            && t.trim_end_matches('-').chars().all(|c| c.is_ascii_digit())))
                }),
                _ => true,
            };
            if !writes {
                continue;
            }
            if let Some(category) = write_target(&r.target, &env, "writes to", Action::Write) {
                self.side_finding(cmd, scope, r.display(), category);
            }
        }
    }

    fn side_finding(
        &mut self,
        cmd: &SimpleCommand,
        scope: &Scope,
        part: String,
        category: Category,
    ) {
        if self.findings.len() >= MAX_PARTS {
            self.too_many(cmd, scope);
            return;
        }
        // Only where it runs is kept: a side part is named by `part`, and
        // copying the whole command for each of its redirections would take
        // time quadratic in their number.
        let command = SimpleCommand {
            wrappers: scope.wrappers.clone(),
            host: scope.host.clone(),
            container: scope.container.clone(),
            ..SimpleCommand::default()
        };
        self.findings.push(Finding {
            command,
            part,
            category,
            is_command: false,
        });
    }

    /// `curl ... | sh`: downloaded text run as code.
    fn check_remote_code(&mut self, stages: &[usize]) {
        let program = |f: &Finding| {
            if f.is_command {
                f.command.program()
            } else {
                None
            }
        };
        let mut downloaded = false;
        for pair in stages.windows(2) {
            let (start, end) = (pair[0], pair[1]);
            for f in &mut self.findings[start..end] {
                // `python3 -m json.tool` is the one use of python judged
                // read-only: it parses the text, it does not run it.
                let parses = f.category == Category::ReadOnly
                    && program(f).is_some_and(|p| p.starts_with("python"));
                if downloaded && !parses && program(f).is_some_and(|p| listed(SHELLS, p.as_str())) {
                    f.category = Category::never("piping downloaded content into a shell");
                }
            }
            downloaded |= self.findings[start..end]
                .iter()
                .any(|f| program(f).is_some_and(|p| p == "curl" || p == "wget"));
        }
    }
}

/// Names a script sets itself: assignments, `for` and `select` variables,
/// `read`, `mapfile` and `getopts` targets, and names given to `export`,
/// `declare`, `local`, `readonly` or `typeset`.
fn collect_assigned(script: &Script, out: &mut Names, depth: usize) {
    if depth > crate::error::MAX_NESTING {
        return;
    }
    for command in script.pipelines.iter().flat_map(|p| &p.commands) {
        let (cmd, redirects) = match command {
            Command::Simple(cmd) => (cmd, &cmd.redirects),
            Command::Subshell { body, redirects } | Command::Group { body, redirects } => {
                collect_assigned(body, out, depth + 1);
                for r in redirects {
                    collect_substituted(&r.target, out, depth);
                }
                continue;
            }
        };
        for a in &cmd.assignments {
            out.add(a.name.clone(), plain(&a.value));
            collect_substituted(&a.value, out, depth);
        }
        for w in cmd.words.iter().chain(redirects.iter().map(|r| &r.target)) {
            collect_substituted(w, out, depth);
        }
        let Some(program) = cmd.program() else {
            continue;
        };
        let args = cmd.words.get(1..).unwrap_or(&[]);
        match program.as_str() {
            "for" | "select" => {
                let Some(name) = args.first().and_then(Word::literal).filter(|n| is_name(n)) else {
                    continue;
                };
                let has_in = args
                    .get(1)
                    .and_then(Word::literal)
                    .is_some_and(|w| w == "in");
                let safe = has_in && args[2..].iter().all(plain);
                out.add(name, safe);
            }
            "read" | "mapfile" | "readarray" | "getopts" | "export" | "declare" | "local"
            | "readonly" | "typeset" => {
                for w in args {
                    match as_assignment(w) {
                        Some(a) => out.add(a.name, plain(&a.value)),
                        None => {
                            if let Some(name) = w.literal().filter(|t| is_name(t)) {
                                let declared = !listed("read mapfile readarray getopts", &program);
                                out.add(name, declared);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// A value that cannot start with `-`: it starts with fixed text that does
/// not.
fn plain(word: &Word) -> bool {
    let prefix = word.literal_prefix();
    !prefix.is_empty() && !prefix.starts_with('-')
}

fn collect_substituted(word: &Word, out: &mut Names, depth: usize) {
    for part in &word.parts {
        if let WordPart::Subst { script, .. } = part {
            collect_assigned(script, out, depth + 1);
        }
    }
}
