//! Wrappers that run the rest of their arguments as a command: `bash -c`,
//! `env`, `sudo`, `timeout`, `time`, `exec`, `command` and `watch`.
//!
//! Why it exists: each has its own options before the command starts, and a
//! shell's `-c` text is a script of its own.
//! What it must not do: accept an option it does not know, a shell that reads
//! commands from a file or a terminal, or a script that is not literal.

use crate::ast::Word;
use crate::lex::as_assignment;
use crate::opts::{Spec, scan};
use crate::peel::{Peel, Runs, inner, inner_or, joined_literal, label, split_options, unclear};
use crate::reach::printing_environment;
use crate::vocab::Category;

pub(crate) fn shell(name: &str, words: &[Word]) -> Peel {
    let mut want_c = false;
    let mut i = 1;
    while i < words.len() {
        let Some(text) = words[i].literal() else {
            return unclear(format!(
                "`{}` could expand to options of `{name}`",
                words[i].raw
            ));
        };
        if text == "--" || text == "-" {
            i += 1;
            break;
        }
        if matches!(
            text.as_str(),
            "--norc" | "--noprofile" | "--posix" | "--login" | "--noediting" | "--restricted"
        ) {
            i += 1;
            continue;
        }
        if !(text.starts_with('-') || text.starts_with('+'))
            || text.len() < 2
            || text.starts_with("--")
        {
            if text.starts_with("--") {
                return unclear(format!(
                    "`{name}` option `{text}` is not one Claude Ops knows"
                ));
            }
            break;
        }
        for c in text.chars().skip(1) {
            match c {
                'c' => want_c = true,
                'o' | 'O' => i += 1,
                'e' | 'u' | 'x' | 'v' | 'l' | 'p' | 'r' | 'h' | 'B' | 'E' | 'H' | 'T' | 'a'
                | 'f' | 'k' | 'm' | 'n' | 'b' | 'P' | 'C' | 'i' => {}
                's' => {
                    return unclear(format!(
                        "`{name} -s` reads commands from standard input, which cannot be judged"
                    ));
                }
                other => {
                    return unclear(format!(
                        "`{name}` option `-{other}` is not one Claude Ops knows"
                    ));
                }
            }
        }
        i += 1;
    }
    if !want_c {
        return match words.get(i) {
            Some(file) => unclear(format!(
                "`{name} {}` runs a script file whose content cannot be judged",
                file.raw
            )),
            None => unclear(format!(
                "`{name}` without `-c` reads commands that cannot be judged"
            )),
        };
    }
    let Some(script) = words.get(i) else {
        return unclear(format!("`{name} -c` needs a command string"));
    };
    match script.literal() {
        Some(text) => Peel::Script {
            text,
            label: format!("{name} -c"),
            into: Runs::Shell,
        },
        None => unclear(format!(
            "the script `{}` given to `{name} -c` is not a literal string",
            script.raw
        )),
    }
}

pub(crate) fn env(words: &[Word]) -> Peel {
    let mut assignments = Vec::new();
    let mut i = 1;
    while i < words.len() {
        let Some(text) = words[i]
            .literal()
            .or_else(|| as_assignment(&words[i]).map(|a| a.name))
        else {
            return unclear(format!(
                "`{}` could expand to options of `env`",
                words[i].raw
            ));
        };
        match text.as_str() {
            "-i" | "--ignore-environment" | "-" | "-0" | "--null" => i += 1,
            "-u" | "--unset" => i += 2,
            "--" => {
                i += 1;
                break;
            }
            t if t.starts_with("--unset=") || (t.starts_with("-u") && t.len() > 2) => i += 1,
            t if t.starts_with('-') => {
                return unclear(format!("`env` option `{t}` is not supported by Claude Ops"));
            }
            _ => match as_assignment(&words[i]) {
                Some(a) => {
                    assignments.push(a);
                    i += 1;
                }
                None => break,
            },
        }
    }
    while let Some(a) = words.get(i).and_then(as_assignment) {
        assignments.push(a);
        i += 1;
    }
    if i >= words.len() {
        // Without a command, `env` prints the environment.
        return Peel::Decided(printing_environment("env"));
    }
    Peel::Command {
        words: words[i..].to_vec(),
        assignments,
        label: label(words, i),
        into: Runs::Same,
    }
}

pub(crate) const SUDO_ALLOWED: &str = "-u --user -g --group -E --preserve-env -H --set-home -n --non-interactive -S --stdin -k -K --reset-timestamp -i --login -s --shell -p --prompt -P";

pub(crate) fn sudo(words: &[Word]) -> Peel {
    let spec = Spec {
        short_values: "ugpCDrtTUR",
        long_values: "user group prompt close-from chdir role type other-user chroot",
        permute: false,
    };
    let (scanned, mut start) = split_options(words, &spec);
    if let Some(w) = scanned.wild {
        return unclear(format!("`{}` could expand to options of `sudo`", w.raw));
    }
    if scanned.has("-e --edit") {
        return Peel::Decided(Category::write("edits files with `sudo -e`"));
    }
    let lists = scanned.has("-l --list -v --validate -V --version");
    if let Some(o) = scanned.first_not_in(SUDO_ALLOWED).filter(|_| !lists) {
        return unclear(format!(
            "`sudo` option `{}` is not one Claude Ops allows",
            o.name
        ));
    }
    let mut assignments = Vec::new();
    while let Some(a) = words.get(start).and_then(as_assignment) {
        assignments.push(a);
        start += 1;
    }
    if start >= words.len() {
        if lists {
            return Peel::Decided(Category::ReadOnly);
        }
        return unclear(
            "`sudo` without a command opens a shell or does nothing that can be judged",
        );
    }
    let into = if scanned.has("-i --login") {
        Runs::Login
    } else {
        Runs::Same
    };
    Peel::Command {
        words: words[start..].to_vec(),
        assignments,
        label: label(words, start),
        into,
    }
}

pub(crate) fn timeout(words: &[Word]) -> Peel {
    let spec = Spec {
        short_values: "sk",
        long_values: "signal kill-after",
        permute: false,
    };
    let (scanned, start) = split_options(words, &spec);
    let allowed = "-s --signal -k --kill-after -v --verbose --preserve-status --foreground";
    if let Some(w) = scanned.wild {
        return unclear(format!("`{}` could expand to options of `timeout`", w.raw));
    }
    if let Some(o) = scanned.first_not_in(allowed) {
        return unclear(format!(
            "`timeout` option `{}` is not one Claude Ops knows",
            o.name
        ));
    }
    match words.get(start).and_then(Word::literal) {
        Some(_) if words.len() > start + 1 => inner(words, start + 1, Runs::Same),
        Some(_) => unclear("`timeout` needs a command"),
        None => unclear("the duration given to `timeout` is not a literal word"),
    }
}

pub(crate) fn time(words: &[Word]) -> Peel {
    let spec = Spec {
        short_values: "fo",
        long_values: "format output",
        permute: false,
    };
    let (scanned, start) = split_options(words, &spec);
    if scanned.has("-o --output -a --append") {
        return Peel::Decided(Category::write("writes the report of `time -o` to a file"));
    }
    if let Some(o) = scanned.first_not_in("-p -v --verbose -q --quiet -f --format --portability") {
        return unclear(format!(
            "`time` option `{}` is not one Claude Ops knows",
            o.name
        ));
    }
    inner_or(words, start, Category::ReadOnly)
}

pub(crate) fn exec(words: &[Word]) -> Peel {
    let (scanned, start) = split_options(
        words,
        &Spec {
            short_values: "a",
            long_values: "",
            permute: false,
        },
    );
    if let Some(o) = scanned.first_not_in("-a -c -l") {
        return unclear(format!(
            "`exec` option `{}` is not one Claude Ops knows",
            o.name
        ));
    }
    inner_or(words, start, Category::ReadOnly)
}

pub(crate) fn command(words: &[Word]) -> Peel {
    let (scanned, start) = split_options(
        words,
        &Spec {
            short_values: "",
            long_values: "",
            permute: false,
        },
    );
    if scanned.has("-v -V") {
        return Peel::Decided(Category::ReadOnly);
    }
    if let Some(o) = scanned.first_not_in("-p") {
        return unclear(format!(
            "`command` option `{}` is not one Claude Ops knows",
            o.name
        ));
    }
    inner_or(words, start, Category::ReadOnly)
}

pub(crate) fn watch(words: &[Word]) -> Peel {
    let spec = Spec {
        short_values: "nq",
        long_values: "interval equexit",
        permute: false,
    };
    let (scanned, start) = split_options(words, &spec);
    let allowed = "-n --interval -q --equexit -d --differences -t --no-title -b --beep -e --errexit -g --chgexit -c --color -x --exec -p --precise -w --no-wrap";
    if let Some(w) = scanned.wild {
        return unclear(format!("`{}` could expand to options of `watch`", w.raw));
    }
    if let Some(o) = scanned.first_not_in(allowed) {
        return unclear(format!(
            "`watch` option `{}` is not one Claude Ops knows",
            o.name
        ));
    }
    if start >= words.len() {
        return unclear("`watch` needs a command");
    }
    if scanned.has("-x --exec") {
        return inner(words, start, Runs::Same);
    }
    match joined_literal(&words[start..]) {
        Ok(text) => Peel::Script {
            text,
            label: label(words, start),
            into: Runs::Shell,
        },
        Err(raw) => unclear(format!(
            "`watch` passes `{raw}` to a shell, so its content cannot be judged"
        )),
    }
}

/// `su [-] [user] -c CMD` (and `runuser` in the same form): the command runs
/// as another user, in a login shell with `-`.
pub(crate) fn su(prog: &str, words: &[Word]) -> Peel {
    let args = words.get(1..).unwrap_or(&[]);
    if prog == "runuser"
        && args.iter().any(|w| {
            w.literal()
                .is_some_and(|t| t == "-u" || t.starts_with("--user"))
        })
    {
        let spec = Spec {
            short_values: "ugG",
            long_values: "user group supp-group",
            permute: false,
        };
        let (scanned, start) = split_options(words, &spec);
        if let Some(o) = scanned
            .first_not_in("-u --user -g --group -G --supp-group -m -p --preserve-environment")
        {
            return unclear(format!(
                "`runuser` option `{}` is not one Claude Ops knows",
                o.name
            ));
        }
        return inner_or(
            words,
            start,
            Category::unclear("`runuser -u` needs a command"),
        );
    }
    let spec = Spec {
        short_values: "cgGsw",
        long_values: "command session-command group supp-group shell whitelist-environment",
        permute: true,
    };
    let scanned = scan(args, &spec);
    if let Some(w) = scanned.wild {
        return unclear(format!("`{}` could expand to options of `{prog}`", w.raw));
    }
    let known = "-c --command --session-command -l --login -m -p --preserve-environment -g --group -G --supp-group -P --pty";
    if let Some(o) = scanned.first_not_in(known) {
        return unclear(format!(
            "`{prog}` option `{}` is not one Claude Ops allows",
            o.name
        ));
    }
    let login = scanned.has("-l --login")
        || scanned
            .operands
            .iter()
            .any(|w| w.literal().is_some_and(|t| t == "-"));
    let Some(command) = scanned.values("-c --command --session-command").last() else {
        return unclear(format!("`{prog}` without `-c` opens an interactive shell"));
    };
    let Some(text) = command.lit.clone() else {
        return unclear(format!(
            "the command `{}` given to `{prog} -c` is not a literal string",
            command.raw()
        ));
    };
    let user = scanned
        .operands
        .iter()
        .find(|w| w.literal().is_none_or(|t| t != "-"))
        .map(|w| w.raw.clone());
    let label = format!("{prog} {}", user.unwrap_or_else(|| "root".to_owned()));
    Peel::Script {
        text,
        label,
        into: if login { Runs::Login } else { Runs::Same },
    }
}
