//! Programs that run another program: what they run, and where.
//!
//! Why it exists: `ssh root@nas 'docker volume rm data'` must be judged as
//! `docker volume rm data` on `nas`, not as `ssh`. Each wrapper's options are
//! read so that the inner command is found exactly; the inner command is then
//! judged like any other.
//! What it must not do: guess where the inner command starts. Unknown options,
//! arguments that are not literal where the inner command's text comes from,
//! and wrappers that open an interactive shell or run a file are refused.

use super::Category;
use super::ast::{Assignment, SimpleCommand, Word};
use super::opts::{Scanned, Spec, scan};
use super::runners::{command, env, exec, shell, su, sudo, time, timeout, watch};
use super::{docker, ops};

/// Where the inner command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Runs {
    /// The same process environment (`sudo`, `env`, `timeout`...).
    Same,
    /// A new shell on the same host (`bash -c`): `cd` inside does not leak out.
    Shell,
    /// A login shell: the working directory is the user's home.
    Login,
    Host(String),
    Container(String),
}

pub(crate) enum Peel {
    /// Not a wrapper: classify the command itself.
    No,
    /// The wrapper decides on its own.
    Decided(Category),
    /// Run these words as a command.
    Command {
        words: Vec<Word>,
        assignments: Vec<Assignment>,
        label: String,
        into: Runs,
    },
    /// Parse this text as a shell script.
    Script {
        text: String,
        label: String,
        into: Runs,
    },
    /// Classify the command itself and judge these inner commands too.
    AlsoInner {
        inners: Vec<Vec<Word>>,
        label: String,
        into: Runs,
    },
}

pub(crate) fn unclear(reason: impl Into<String>) -> Peel {
    Peel::Decided(Category::unclear(reason))
}

/// The words before index `end`, as written: the wrapper's label.
pub(crate) fn label(words: &[Word], end: usize) -> String {
    words[..end.min(words.len())]
        .iter()
        .map(|w| w.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `words[start..]` as an inner command in the same environment.
pub(crate) fn inner(words: &[Word], start: usize, into: Runs) -> Peel {
    Peel::Command {
        words: words[start..].to_vec(),
        assignments: Vec::new(),
        label: label(words, start),
        into,
    }
}

/// The text of words that must all be literal, joined by spaces.
pub(crate) fn joined_literal(words: &[Word]) -> Result<String, String> {
    let mut texts = Vec::new();
    for w in words {
        match w.literal() {
            Some(t) => texts.push(t),
            None => return Err(w.raw.clone()),
        }
    }
    Ok(texts.join(" "))
}

pub(crate) fn peel(cmd: &SimpleCommand) -> Peel {
    let Some(prog) = cmd.program() else {
        return Peel::No;
    };
    let w = &cmd.words;
    match prog.as_str() {
        "ssh" => super::spawners::ssh(w),
        "sh" | "bash" | "zsh" | "dash" | "ksh" | "ash" | "mksh" => shell(&prog, w),
        "env" => env(w),
        "sudo" => sudo(w),
        "su" | "runuser" => su(&prog, w),
        "doas" => options_then_command(
            w,
            "doas",
            &Spec {
                short_values: "uC",
                long_values: "",
                permute: false,
            },
            "-u -n",
        ),
        "timeout" => timeout(w),
        "nice" => options_then_command(
            w,
            "nice",
            &Spec {
                short_values: "n",
                long_values: "adjustment",
                permute: false,
            },
            "-n --adjustment",
        ),
        "nohup" | "builtin" => {
            inner_or(w, 1, Category::unclear(format!("`{prog}` needs a command")))
        }
        "stdbuf" => options_then_command(
            w,
            "stdbuf",
            &Spec {
                short_values: "ioe",
                long_values: "input output error",
                permute: false,
            },
            "-i -o -e --input --output --error",
        ),
        "setsid" => options_then_command(
            w,
            "setsid",
            &Spec {
                short_values: "",
                long_values: "",
                permute: false,
            },
            "-f -w -c --fork --wait --ctty",
        ),
        "time" => time(w),
        "exec" => exec(w),
        "command" => command(w),
        "busybox" => inner_or(w, 1, Category::ReadOnly),
        "xargs" => super::spawners::xargs(w),
        "watch" => watch(w),
        "eval" => match joined_literal(&w[1..]) {
            Ok(text) => Peel::Script {
                text,
                label: "eval".into(),
                into: Runs::Same,
            },
            Err(raw) => unclear(format!(
                "`eval` of `{raw}` runs text that cannot be judged before it runs"
            )),
        },
        "source" | "." => unclear(format!(
            "`{prog}` runs a script file whose content cannot be judged"
        )),
        "find" => super::spawners::find(w),
        "docker" | "docker-compose" => docker::peel(&prog, w),
        "kubectl" => ops::peel_kubectl(w),
        _ => Peel::No,
    }
}

pub(crate) fn inner_or(words: &[Word], start: usize, otherwise: Category) -> Peel {
    if words.len() > start {
        inner(words, start, Runs::Same)
    } else {
        Peel::Decided(otherwise)
    }
}

/// Scans the wrapper's options (stopping at the first operand); returns the
/// scan and the index of the inner command.
pub(crate) fn split_options<'w>(words: &'w [Word], spec: &Spec) -> (Scanned<'w>, usize) {
    let rest = words.get(1..).unwrap_or(&[]);
    let scanned = scan(
        rest,
        &Spec {
            permute: false,
            ..*spec
        },
    );
    let start = words.len() - scanned.operands.len();
    (scanned, start)
}

/// A wrapper with a fixed set of options, then a command. Without a command
/// the wrapper itself only prints something.
fn options_then_command(words: &[Word], name: &str, spec: &Spec, allowed: &str) -> Peel {
    let (scanned, start) = split_options(words, spec);
    if let Some(w) = scanned.wild {
        return unclear(format!("`{}` could expand to options of `{name}`", w.raw));
    }
    let numeric = |o: &str| o.len() > 1 && o[1..].chars().all(|c| c.is_ascii_digit());
    if let Some(o) = scanned
        .opts
        .iter()
        .find(|o| !(o.is(allowed) || (name == "nice" && numeric(&o.name))))
    {
        return unclear(format!(
            "`{name}` option `{}` is not one Claude Ops knows",
            o.name
        ));
    }
    inner_or(words, start, Category::ReadOnly)
}
