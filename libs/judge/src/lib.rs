//! Judging a Bash command line before the `claude` CLI runs it.
//!
//! Why it exists: the CLI's `PreToolUse` hook asks the worker about every Bash
//! call, and the answer must hold for the whole line, wrappers included. The
//! system we rebuild matched only commands starting with `docker`, so
//! `ssh root@host docker volume rm data` went through. Here a command line is
//! parsed (`parse`), every program it would start is found, inside `ssh`,
//! `sudo`, `bash -c`, `xargs`, `docker exec`, `find -exec` and the like
//! (`unwrap`), each is given a [`Category`] (`classify`), and [`judge`] allows
//! the line only when every part is allowed at the session's [`Tier`].
//!
//! What it must not do: any I/O (no file, environment or clock is read: the
//! caller passes a [`Context`]), panic or hang on any input, or allow anything
//! it is unsure about. Unknown programs, unknown options and text it cannot
//! parse are refused; the reason tells the model what the tier allows, never a
//! way around the rule.
//!
//! # What the context protects
//!
//! [`Context::protected`] names the paths no tier may read, name, search or
//! change (the worker's key and its actions socket); the directory holding
//! each is off limits too, except the session workspace
//! ([`Context::workspace`]). Every word, assignment and redirection is
//! checked as the paths it can stand for (quotes removed, globs and braces
//! kept as what they match, `..` resolved against each possible working
//! directory, `/proc/*/root` and kin refused), and a recursive program may
//! not start above a protected path. The environment, which holds the
//! session's model token, may not be printed or read (`env`, `set`,
//! `/proc/*/environ`, `$ENV` in jq, secret-looking variables). The session
//! sandbox remains the guarantee; this is the early answer with a reason.
//!
//! `corpus/adversarial.jsonl` and `corpus/benign.jsonl` hold the commands
//! the judge is measured against (`tests/corpus.rs`); the worker's sandbox
//! tests run the same adversarial lines for real.
//!
//! # The API boundary
//!
//! [`judge`] is the one entry point: a command line, the session's tier and a
//! [`Context`] in, a [`Verdict`] out (allow or deny, a sentence the model can
//! act on, and the [`Category`] of every part). Everything else is private to
//! the crate.
//!
//! # Layering
//!
//! A module imports only from the layers above its own and from the modules
//! named before it in its own layer, so the import graph is a DAG
//! (`src/tests/layers.rs` checks it).
//!
//! 1. Leaves, importing nothing of the crate: `vocab` (Category, Context,
//!    Decision, Verdict), `error` (ParseError and the parser's limits), `ast`.
//! 2. The parser: `lex`, then `heredoc` and `parse`, then `dollar`. The one
//!    `Lexer` type has its methods split over these four files; they call one
//!    another's methods because the grammar is recursive (`$(...)` holds a
//!    script), but imports go only in this order.
//! 3. Reading words: `opts` (the option scanner), `paths` (where a word
//!    points), `pattern` (the paths a word can stand for), `reach` (what a
//!    word could reach that no tier may: protected
//!    paths, `/proc`, secrets in the environment), `optcheck` (what a scan
//!    says on its own), `peel` (what a wrapper hands on).
//! 4. Program readers, each knowing some programs: `git`, `text`, `awk`,
//!    `scripts`, `jq`, `files`, `http`, `net`, `redis`, `sql`, `docker_run`,
//!    `docker`, `ops`, `tools` (the closed option lists of read-only
//!    programs), `readers` (which applies them), `builtins` (shell builtins that read or set variables),
//!    `runners`, `spawners`.
//! 5. Dispatch: `classify` (a program's category), `wrappers` (which wrapper
//!    reader a program goes to), `cwd` (the working directory per command).
//! 6. `unwrap`: every program a script starts, with its category.
//! 7. `policy`: [`judge`].
//!
//! [`Tier`]: claudeops_core::Tier

mod ast;
mod awk;
mod builtins;
mod classify;
mod cwd;
mod docker;
mod docker_run;
mod dollar;
mod error;
mod files;
mod git;
mod heredoc;
mod http;
mod jq;
mod lex;
mod net;
mod ops;
mod optcheck;
mod opts;
mod parse;
mod paths;
mod pattern;
mod peel;
mod policy;
mod reach;
mod readers;
mod redis;
mod runners;
mod scripts;
mod spawners;
mod sql;
mod text;
mod tools;
mod unwrap;
mod vocab;
mod wrappers;

#[cfg(test)]
mod tests;

pub use policy::judge;
pub use vocab::{Category, Context, Decision, Verdict};
