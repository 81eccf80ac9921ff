//! Programs that run another program: what they run, and where.
//!
//! Why it exists: `ssh root@nas 'docker volume rm data'` must be judged as
//! `docker volume rm data` on `nas`, not as `ssh`. Each wrapper's options are
//! read so that the inner command is found exactly; the inner command is then
//! judged like any other.
//! What it must not do: guess where the inner command starts. Unknown options,
//! arguments that are not literal where the inner command's text comes from,
//! and wrappers that open an interactive shell or run a file are refused.

use crate::ast::{SimpleCommand, Word};
use crate::opts::Spec;
use crate::peel::{Peel, Runs, inner_or, joined_literal, split_options, unclear};
use crate::runners::{command, env, exec, shell, su, sudo, time, timeout, watch};
use crate::vocab::Category;
use crate::{docker, ops, spawners};

pub(crate) fn peel(cmd: &SimpleCommand) -> Peel {
    let Some(prog) = cmd.program() else {
        return Peel::No;
    };
    let w = &cmd.words;
    match prog.as_str() {
        "ssh" => spawners::ssh(w),
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
        "xargs" => spawners::xargs(w),
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
        "find" => spawners::find(w),
        "docker" | "docker-compose" => docker::peel(&prog, w),
        "kubectl" => ops::peel_kubectl(w),
        _ => Peel::No,
    }
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
