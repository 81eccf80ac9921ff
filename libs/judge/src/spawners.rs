//! Wrappers that build their inner command from their own arguments: `ssh`
//! (a command string for the remote shell), `xargs` (arguments from its
//! input) and `find -exec` (the paths it finds).
//!
//! Why it exists: these three are how most real work reaches a host, and each
//! has its own way of splicing text into the command it runs.
//! What it must not do: let text that is only known at run time become code.
//! A locally expanded `$VAR` in an ssh command string or an `xargs -I` input in
//! a `sh -c` script is refused; run-time values are kept as dynamic words.

use crate::ast::Word;
use crate::opts::listed;
use crate::peel::{Peel, Runs, joined_literal, label, unclear};
use crate::vocab::Category;

/// `-o` settings that only affect how ssh connects. `UserKnownHostsFile`
/// is allowed only as `/dev/null`: ssh appends new host keys to it.
const SSH_SAFE_SETTINGS: &str = "stricthostkeychecking connecttimeout connectionattempts batchmode loglevel serveraliveinterval serveralivecountmax port user identityfile identitiesonly passwordauthentication pubkeyauthentication preferredauthentications checkhostip numberofpasswordprompts compression requesttty hostkeyalgorithms kexalgorithms ciphers macs addressfamily";
/// Options that take a value and only affect how ssh connects.
const SSH_SAFE_VALUE: &str = "bBceiJlmpP";
/// Options that take a value and do more (forwarding, logs, configs,
/// control sockets, libraries).
const SSH_UNSAFE_VALUE: &str = "DEFILOQRSWw";
const SSH_SAFE_FLAGS: &str = "46aAfCgKkqTtvxXYn";

pub(crate) fn ssh(words: &[Word]) -> Peel {
    // Options come before the host and, as OpenSSH re-reads them, right
    // after it too.
    let mut i = match ssh_options(words, 1) {
        Ok(next) => next,
        Err(peel) => return peel,
    };
    let Some(host) = words.get(i) else {
        return unclear("`ssh` needs a host");
    };
    if host.splits() || host.literal().is_some_and(|h| h.starts_with('-')) {
        return unclear(format!(
            "the ssh host `{}` could expand to several words or an option",
            host.raw
        ));
    }
    i = match ssh_options(words, i + 1) {
        Ok(next) => next,
        Err(peel) => return peel,
    };
    let rest = &words[i..];
    if rest.is_empty() {
        return unclear(format!(
            "`ssh {}` without a remote command opens an interactive shell",
            host.raw
        ));
    }
    match joined_literal(rest) {
        Ok(text) => Peel::Script {
            text,
            label: label(words, i),
            into: Runs::Host(host.literal().unwrap_or_else(|| host.raw.clone())),
        },
        Err(raw) => unclear(format!(
            "the remote command of ssh contains `{raw}`, which is expanded before the remote shell parses it"
        )),
    }
}

/// Reads ssh options from `words[i]` on; the index of the first operand.
fn ssh_options(words: &[Word], mut i: usize) -> Result<usize, Peel> {
    while let Some(word) = words.get(i) {
        let Some(text) = word.literal() else {
            if word.may_be_option() {
                return Err(unclear(format!(
                    "`{}` could expand to options of `ssh`",
                    word.raw
                )));
            }
            return Ok(i);
        };
        if text == "--" {
            return Ok(i + 1);
        }
        if !text.starts_with('-') || text.len() < 2 {
            return Ok(i);
        }
        let chars: Vec<char> = text.chars().skip(1).collect();
        for (k, c) in chars.iter().enumerate() {
            if SSH_SAFE_FLAGS.contains(*c) {
                continue;
            }
            if !SSH_SAFE_VALUE.contains(*c) && *c != 'o' {
                let what = if SSH_UNSAFE_VALUE.contains(*c) {
                    "forwards ports, changes its configuration or writes files"
                } else {
                    "is not one Claude Ops knows"
                };
                return Err(unclear(format!("`ssh -{c}` {what}")));
            }
            let attached: String = chars[k + 1..].iter().collect();
            let value = if attached.is_empty() {
                i += 1;
                words
                    .get(i)
                    .filter(|w| !w.splits())
                    .map(|w| w.literal().unwrap_or_else(|| w.raw.clone()))
            } else {
                Some(attached)
            };
            let Some(value) = value else {
                return Err(unclear(format!(
                    "the value of `ssh -{c}` is missing or could expand to several words"
                )));
            };
            let key = value
                .split(['=', ' '])
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let null_known_hosts = key == "userknownhostsfile"
                && value
                    .split_once(['=', ' '])
                    .is_some_and(|(_, file)| file.trim() == "/dev/null");
            if *c == 'o' && !listed(SSH_SAFE_SETTINGS, &key) && !null_known_hosts {
                return Err(unclear(format!(
                    "`ssh -o {value}` changes more than how ssh connects (it can write files, run commands or load code)"
                )));
            }
            break;
        }
        i += 1;
    }
    Ok(i)
}

/// `xargs [options] [command [initial-arguments]]`.
pub(crate) fn xargs(words: &[Word]) -> Peel {
    let mut replace: Option<String> = None;
    let mut i = 1;
    while i < words.len() {
        let Some(text) = words[i].literal() else {
            return unclear(format!(
                "`{}` could expand to options of `xargs`",
                words[i].raw
            ));
        };
        if text == "--" {
            i += 1;
            break;
        }
        if !text.starts_with('-') || text == "-" {
            break;
        }
        i += 1;
        if let Some(rest) = text.strip_prefix("--") {
            let (name, value) = rest
                .split_once('=')
                .map_or((rest, None), |(n, v)| (n, Some(v)));
            match name {
                "null" | "no-run-if-empty" | "verbose" | "exit" | "interactive" | "open-tty"
                | "show-limits" => {}
                "replace" => replace = Some(value.unwrap_or("{}").to_owned()),
                "arg-file" | "delimiter" | "eof" | "max-lines" | "max-args" | "max-procs"
                | "max-chars"
                    if value.is_some() => {}
                _ => {
                    return unclear(format!(
                        "`xargs` option `--{name}` is not one Claude Ops knows"
                    ));
                }
            }
            continue;
        }
        let body = &text[1..];
        if body.chars().all(|c| "0rtxpo".contains(c)) {
            continue;
        }
        let (flag, attached) = body.split_at(body.chars().next().map_or(0, char::len_utf8));
        match flag {
            "i" => {
                replace = Some(if attached.is_empty() {
                    "{}".to_owned()
                } else {
                    attached.to_owned()
                })
            }
            "e" | "l" => {}
            "I" | "a" | "d" | "E" | "L" | "n" | "P" | "s" => {
                let value = if attached.is_empty() {
                    let next = words.get(i).and_then(Word::literal);
                    i += 1;
                    next
                } else {
                    Some(attached.to_owned())
                };
                let Some(value) = value else {
                    return unclear(format!(
                        "the value of `xargs -{flag}` is missing or not a literal word"
                    ));
                };
                if flag == "I" {
                    replace = Some(value);
                }
            }
            _ => {
                return unclear(format!(
                    "`xargs` option `{text}` is not one Claude Ops knows"
                ));
            }
        }
    }
    if i >= words.len() {
        return Peel::Decided(Category::ReadOnly);
    }
    let mut inner: Vec<Word> = words[i..].to_vec();
    match &replace {
        Some(r) => {
            for w in &mut inner {
                if w.literal().is_some_and(|t| t.contains(r.as_str())) {
                    *w = Word::dynamic("an argument from xargs input", false);
                }
            }
        }
        None => inner.push(Word::dynamic("arguments from xargs input", true)),
    }
    Peel::Command {
        words: inner,
        assignments: Vec::new(),
        label: label(words, i),
        into: Runs::Same,
    }
}

/// `find ... -exec CMD {} ;` and friends; `find` itself is classified too.
pub(crate) fn find(words: &[Word]) -> Peel {
    // The paths find hands on start with a starting point (or `./`): when
    // none of those can start with `-`, neither can the paths.
    let starts_plain = words[1..]
        .iter()
        .take_while(|w| {
            !w.literal()
                .is_some_and(|t| t.starts_with('-') || t == "(" || t == "!")
        })
        .all(|w| w.literal().is_some_and(|t| !t.starts_with('-')));
    let mut inners = Vec::new();
    let mut i = 1;
    while i < words.len() {
        let action = words[i].literal();
        i += 1;
        if !matches!(
            action.as_deref(),
            Some("-exec" | "-execdir" | "-ok" | "-okdir")
        ) {
            continue;
        }
        let start = i;
        while i < words.len() && !matches!(words[i].literal().as_deref(), Some(";" | "+")) {
            i += 1;
        }
        if i >= words.len() {
            return unclear("`find -exec` is missing its terminating `;` or `+`");
        }
        let command: Vec<Word> = words[start..i]
            .iter()
            .map(|w| {
                if starts_plain && w.literal().is_some_and(|t| t == "{}") {
                    Word::dynamic_path("a path found by find")
                } else if w.literal().is_some_and(|t| t.contains("{}")) {
                    Word::dynamic("a path found by find", false)
                } else {
                    w.clone()
                }
            })
            .collect();
        if command.is_empty() {
            return unclear("`find -exec` needs a command");
        }
        inners.push(command);
        i += 1;
    }
    if inners.is_empty() {
        return Peel::No;
    }
    Peel::AlsoInner {
        inners,
        label: "find -exec".to_owned(),
        into: Runs::Same,
    }
}
