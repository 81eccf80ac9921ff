//! Read-only tools that have a writing corner: `sed` (`-i`, `w`), `awk`
//! (`system()`, `print > file`), `sort -o`, `uniq IN OUT`, `date -s`, long
//! `sleep`s and the like.
//!
//! Why it exists: these are the model's everyday reading tools, so they should
//! be allowed at Tier 1, but each can also write, run commands or change the
//! host with the right option.
//! What it must not do: pass a program text (sed or awk script) it cannot read
//! with confidence. Such text is refused as unclear.

use crate::ast::Word;
use crate::opts::{Spec, scan};
use crate::paths::{Action, Env, write_target};
use crate::vocab::Category;

/// The worse category over the files a command writes.
pub(crate) fn writes<'a>(
    targets: impl IntoIterator<Item = &'a Word>,
    env: &Env,
    verb: &str,
) -> Category {
    let mut out = Category::ReadOnly;
    for w in targets {
        if let Some(c) = write_target(w, env, verb, Action::Write) {
            out = out.worst(c);
        }
    }
    out
}

/// The small ones: each is read-only except for one or two options.
pub(crate) fn misc(prog: &str, args: &[Word], env: &Env) -> Category {
    let gnu = |short: &'static str, long: &'static str| {
        scan(
            args,
            &Spec {
                short_values: short,
                long_values: long,
                permute: true,
            },
        )
    };
    match prog {
        "sort" => {
            let s = gnu(
                "kotTS",
                "key output field-separator temporary-directory buffer-size compress-program files0-from parallel batch-size random-source sort",
            );
            if s.has("--compress-program") {
                return Category::unclear("`sort --compress-program` runs another program");
            }
            writes(
                s.values("-o --output").filter_map(|v| v.word),
                env,
                "writes to",
            )
        }
        "uniq" => {
            let s = gnu(
                "fsw",
                "skip-fields skip-chars check-chars group all-repeated",
            );
            if s.operands.iter().any(|w| w.splits()) {
                return Category::unclear("`uniq` with a pattern could be given an output file");
            }
            writes(s.operands.iter().skip(1).copied(), env, "writes to")
        }
        "date" => {
            let s = gnu("dfrsI", "date file reference set iso-8601 rfc-3339");
            let sets = s.has("-s --set")
                || s.operands
                    .iter()
                    .any(|w| !w.literal().is_some_and(|t| t.starts_with('+')));
            if sets {
                Category::write("sets the system clock")
            } else {
                Category::ReadOnly
            }
        }
        "sleep" => sleep(args),
        "less" | "more" => {
            let s = gnu(
                "bhjkoOpPtTxyz#",
                "log-file LOG-FILE lesskey-file pattern tag",
            );
            if let Some(w) = s
                .operands
                .iter()
                .find(|w| w.literal_prefix().starts_with('+'))
            {
                return Category::unclear(format!(
                    "`{prog} {}` runs a {prog} command when it starts",
                    w.raw
                ));
            }
            writes(
                s.values("-o -O --log-file --LOG-FILE")
                    .filter_map(|v| v.word),
                env,
                "writes to",
            )
        }
        "file" => flag_write(
            gnu("emfFP", "exclude magic-file separator parameter").has("-C --compile"),
            "compiles a magic file",
        ),
        "rg" => {
            let s = gnu(
                "ABCEefgjmMrtT",
                "pre pre-glob regexp file glob iglob type type-not max-count replace after-context before-context context",
            );
            if s.has("--pre") {
                Category::unclear("`rg --pre` runs a preprocessor command")
            } else {
                Category::ReadOnly
            }
        }
        "hostname" => {
            let s = gnu("F", "file");
            flag_write(
                !s.operands.is_empty() || s.has("-F --file -b --boot"),
                "sets the host name",
            )
        }
        "top" => {
            let s = gnu("dnpuUoOw", "delay iterations pid user");
            if s.has("-b --batch") {
                Category::ReadOnly
            } else {
                Category::unclear("`top` without `-b` is interactive")
            }
        }
        "xxd" => {
            let s = gnu("cglnosC", "cols groupsize len name seek");
            writes(s.operands.iter().skip(1).copied(), env, "writes to")
        }
        "tree" => writes(
            gnu("LPIoH", "filelimit timefmt charset")
                .values("-o")
                .filter_map(|v| v.word),
            env,
            "writes to",
        ),
        "journalctl" => {
            let s = gnu(
                "uSUnopbDMtIFkg",
                "unit since until lines output priority boot directory file identifier grep vacuum-size vacuum-time vacuum-files namespace root image cursor after-cursor field facility output-fields user-unit",
            );
            let changes = "--vacuum-size --vacuum-time --vacuum-files --rotate --flush --sync --relinquish-var --smart-relinquish-var --setup-keys --update-catalog";
            flag_write(s.has(changes), "changes the journal")
        }
        "ss" => flag_write(
            gnu("fAFN", "family query filter net").has("-K --kill"),
            "kills sockets",
        ),
        "dmesg" => {
            let s = gnu("fFlnsS", "facility file level console-level buffer-size");
            let changes =
                "-c -C --clear --read-clear -n --console-level -D -E --console-off --console-on";
            flag_write(s.has(changes), "changes the kernel log")
        }
        _ => Category::Unknown {
            program: prog.to_owned(),
        },
    }
}

fn flag_write(writes: bool, what: &str) -> Category {
    if writes {
        Category::write(what)
    } else {
        Category::ReadOnly
    }
}

/// Longest `sleep` a session may spend, in seconds.
const MAX_SLEEP_SECONDS: f64 = 300.0;

fn sleep(args: &[Word]) -> Category {
    let mut total = 0.0;
    for arg in args {
        let Some(text) = arg.literal() else {
            return Category::unclear(format!(
                "the duration `{}` is not a literal number",
                arg.raw
            ));
        };
        let (number, factor) = match text.chars().last() {
            Some('s') => (&text[..text.len() - 1], 1.0),
            Some('m') => (&text[..text.len() - 1], 60.0),
            Some('h') => (&text[..text.len() - 1], 3600.0),
            Some('d') => (&text[..text.len() - 1], 86400.0),
            _ => (text.as_str(), 1.0),
        };
        let Ok(value) = number.parse::<f64>() else {
            return Category::unclear(format!("the duration `{text}` is not a number"));
        };
        if !value.is_finite() || value < 0.0 {
            return Category::unclear(format!("the duration `{text}` is not a usable number"));
        }
        total += value * factor;
    }
    if total > MAX_SLEEP_SECONDS {
        return Category::unclear(format!(
            "`sleep` longer than {MAX_SLEEP_SECONDS} seconds holds the session"
        ));
    }
    Category::ReadOnly
}
