//! Read-only programs judged against their closed option lists (`tools`),
//! and `ps` and `python`, whose options need reading of their own.
//!
//! Why it exists: a program that only reads with its usual options can write
//! files, run programs or load configuration with others (`curl --trace`,
//! `sort -T`, `journalctl --cursor-file`, `sensors -c`). An option not on the
//! program's list is refused with a reason naming it, what it would do when
//! that is known, and the options that are allowed. Options that write are
//! handled by the program's own reader (`text`) after this check.
//! What it must not do: accept an abbreviated long option (`--trace` is not
//! `--trace-time`), an option it does not list, or an option whose name could
//! only be known at run time.

use crate::ast::Word;
use crate::opts::{Opt, Scanned, Spec, Value, listed, scan};
use crate::paths::{Action, Env, write_target};
use crate::reach::printing_environment;
use crate::text::misc;
use crate::tools::{OPTIONAL_VALUES, Tool, tool};
use crate::vocab::Category;

/// Programs whose writing options `text::misc` reads after the closed list.
const WITH_WRITES: &str = "sort uniq date less more file rg top xxd tree journalctl ss dmesg";

/// The category of a program with a closed option list, `ps` or `python`;
/// `None` for other programs.
pub(crate) fn classify(prog: &str, args: &[Word], env: &Env) -> Option<Category> {
    if prog == "ps" {
        return Some(ps(args, env));
    }
    if listed("python python3", prog) || prog.starts_with("python3.") {
        return Some(python(prog, args, env));
    }
    let tool = tool(prog)?;
    let category = match check(prog, tool, args, env) {
        Err(refused) => refused,
        Ok(_) if listed(WITH_WRITES, prog) => misc(prog, args, env),
        Ok(_) => Category::ReadOnly,
    };
    Some(category)
}

/// `ps`: dash options from a closed list, BSD letters without a dash, and
/// never `e` (which prints every process's environment).
fn ps(args: &[Word], env: &Env) -> Category {
    const FLAGS: &str = "eAadNfFljyHLTMmwcZrx";
    const VALUES: &str = "oOpuUgGCtqsk";
    const BSD_VALUES: &str = "oOpUtkq";
    const LONG_FLAGS: &str = "--forest --no-headers --headers --cumulative --deselect --info";
    const LONG_VALUES: &str = "--sort --pid --ppid --user --User --group --Group --format --cols --columns --width --lines --rows --quick-pid --sid --tty";
    const BSD: &str = "auxwfjlvsrScThmHnZg";
    let mut i = 0;
    while let Some(word) = args.get(i) {
        i += 1;
        let Some(text) = word.literal() else {
            if env.is_safe_word(word) || !word.may_be_option() {
                continue;
            }
            return Category::unclear(format!("`{}` could expand to options of `ps`", word.raw));
        };
        if let Some(long) = text.strip_prefix("--") {
            let name = format!("--{}", long.split('=').next().unwrap_or_default());
            if listed(LONG_VALUES, &name) {
                i += usize::from(!long.contains('='));
            } else if !listed(LONG_FLAGS, &name) {
                return Category::unclear(format!(
                    "`ps {name}` is not an option Claude Ops knows (`ps` may use -e -f -o -p -u --sort --forest ...)"
                ));
            }
            continue;
        }
        let (letters, dash) = match text.strip_prefix('-') {
            Some(rest) => (rest, true),
            None => (text.as_str(), false),
        };
        if !dash && letters.chars().all(|c| c.is_ascii_digit() || c == ',') {
            continue;
        }
        for (k, c) in letters.chars().enumerate() {
            if !dash && c == 'e' {
                return printing_environment("ps e");
            }
            if (dash && VALUES.contains(c)) || (!dash && BSD_VALUES.contains(c)) {
                i += usize::from(k + 1 == letters.len());
                break;
            }
            let known = if dash { FLAGS } else { BSD };
            if !known.contains(c) {
                return Category::unclear(format!(
                    "`ps {}{c}` is not an option Claude Ops knows (`ps` may use aux, -e -f -o -p -u --sort ...)",
                    if dash { "-" } else { "" }
                ));
            }
        }
    }
    Category::ReadOnly
}

/// `python3 -m json.tool [options] [infile [outfile]]` is the one use of
/// python that only reads: it pretty-prints JSON. Anything else runs code.
fn python(prog: &str, args: &[Word], env: &Env) -> Category {
    let lits: Option<Vec<String>> = args.iter().map(Word::literal).collect();
    let refused = || {
        Category::unclear(format!(
            "`{prog}` runs code; only `{prog} -m json.tool`, which pretty-prints JSON, is read-only"
        ))
    };
    let Some(lits) = lits else {
        return refused();
    };
    let Some(start) = lits.iter().position(|a| a == "json.tool") else {
        return refused();
    };
    let before_ok = start >= 1
        && lits[start - 1] == "-m"
        && lits[..start - 1]
            .iter()
            .all(|a| listed("-I -E -s -S -B -u -q", a));
    if !before_ok {
        return refused();
    }
    let flags = "--sort-keys --compact --no-ensure-ascii --json-lines --tab --no-indent";
    let mut operands = Vec::new();
    let mut i = start + 1;
    while let Some(a) = lits.get(i) {
        i += 1;
        if a == "--indent" {
            i += 1;
        } else if a.starts_with("--indent=") || listed(flags, a) {
        } else if a.starts_with('-') && a != "-" {
            return Category::unclear(format!(
                "`{prog} -m json.tool {a}` is not an option Claude Ops knows"
            ));
        } else {
            operands.push(i - 1);
        }
    }
    match operands.get(1) {
        Some(&out) => {
            write_target(&args[out], env, "writes to", Action::Write).unwrap_or(Category::ReadOnly)
        }
        None => Category::ReadOnly,
    }
}

/// How a tool's options are scanned: single-letter options from `values`
/// take a value, long ones too.
fn spec(tool: &Tool) -> (String, String) {
    let mut short = String::new();
    let mut long = Vec::new();
    for v in tool.values.split_whitespace() {
        if let Some(name) = v.strip_prefix("--") {
            long.push(name);
        } else if let Some(c) = v.strip_prefix('-').filter(|c| c.chars().count() == 1) {
            short.push_str(c);
        }
    }
    (short, long.join(" "))
}

/// Reads options that are whole words after one dash (`-cols 8`,
/// `-type=A`).
fn scan_single<'w>(args: &'w [Word], tool: &Tool) -> Scanned<'w> {
    let mut out = Scanned::default();
    let mut i = 0;
    while let Some(word) = args.get(i) {
        i += 1;
        let Some(text) = word.literal() else {
            if out.wild.is_none() && word.may_be_option() {
                out.wild = Some(word);
            }
            out.operands.push(word);
            continue;
        };
        if !text.starts_with('-') || text == "-" {
            out.operands.push(word);
            continue;
        }
        let (name, inline) = match text.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (text.clone(), None),
        };
        let value = match inline {
            Some(lit) => Some(Value {
                lit: Some(lit),
                word: Some(word),
            }),
            None if listed(tool.values, &name) => match args.get(i) {
                Some(next) => {
                    i += 1;
                    Some(Value {
                        lit: next.literal(),
                        word: Some(next),
                    })
                }
                None => {
                    out.missing_value = Some(name.clone());
                    None
                }
            },
            None => None,
        };
        out.opts.push(Opt { name, value });
    }
    out
}

/// The option list as the reason shows it: the first few, then "...".
fn allowed_list(tool: &Tool) -> String {
    const SHOWN: usize = 14;
    let all: Vec<&str> = tool
        .flags
        .split_whitespace()
        .chain(tool.values.split_whitespace())
        .filter(|o| *o != "-#")
        .collect();
    let mut shown = all
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    if all.len() > SHOWN {
        shown.push_str(" ...");
    }
    shown
}

/// Scans `args` with the tool's closed list; the scan, or the refusal that
/// names the first option not on it.
pub(crate) fn check<'w>(
    prog: &str,
    tool: &Tool,
    args: &'w [Word],
    env: &Env,
) -> Result<Scanned<'w>, Category> {
    let (short, long) = spec(tool);
    let s = if tool.single_dash {
        scan_single(args, tool)
    } else {
        scan(
            args,
            &Spec {
                short_values: &short,
                long_values: &long,
                permute: true,
            },
        )
    };
    if let Some(w) = s.wild
        && !tool.any_option
        && !env.is_safe_word(w)
    {
        return Err(Category::unclear(format!(
            "`{}` could expand to options of `{prog}` (a `--` before it makes it a file name)",
            w.raw
        )));
    }
    if let Some(o) = s
        .missing_value
        .as_ref()
        .filter(|o| !listed(OPTIONAL_VALUES, o))
    {
        return Err(Category::unclear(format!(
            "`{prog} {o}` is missing its value"
        )));
    }
    let numeric = listed(tool.flags, "-#");
    for o in &s.opts {
        let known = listed(tool.flags, &o.name) || listed(tool.values, &o.name);
        let digit = numeric && o.name.len() == 2 && o.name[1..].chars().all(|c| c.is_ascii_digit());
        if known || digit {
            continue;
        }
        let why = tool
            .refused
            .iter()
            .find(|(name, _)| *name == o.name)
            .map(|(_, why)| format!(": {why}"))
            .unwrap_or_else(|| ": it is not one Claude Ops knows to be read-only".to_owned());
        return Err(Category::unclear(format!(
            "`{prog} {}` is not allowed{why} (`{prog}` may use {})",
            o.name,
            allowed_list(tool)
        )));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Word> {
        text.split_whitespace().map(Word::literal_word).collect()
    }

    fn judged(prog: &str, args: &str) -> Result<(), String> {
        let tool = tool(prog).unwrap_or_else(|| panic!("no tool {prog}"));
        let args = words(args);
        let ctx = crate::vocab::Context::default();
        let env = Env::new(&ctx, vec![None]);
        check(prog, tool, &args, &env)
            .map(|_| ())
            .map_err(|c| format!("{c:?}"))
    }

    #[test]
    fn listed_options_pass_and_others_are_named() {
        assert!(judged("grep", "-rn --color=auto -e x -A 3 -5 f").is_ok());
        assert!(judged("head", "-20 -n 5 f").is_ok());
        assert!(judged("journalctl", "-u docker --since today --no-pager").is_ok());
        let refused = judged("journalctl", "--cursor-file=/tmp/c -n 1").err();
        let refused = refused.unwrap_or_default();
        assert!(refused.contains("--cursor-file") && refused.contains("cursor to a file"));
        let refused = judged("sort", "-T /tmp f").err().unwrap_or_default();
        assert!(refused.contains("`sort -T`") && refused.contains("temporary"));
        assert!(
            judged("ls", "--rec /").is_err(),
            "abbreviations are refused"
        );
    }
}
