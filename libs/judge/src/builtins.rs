//! Shell builtins that read or set variables: `set`, `declare` and its
//! kin, `read`, `unset`, `printf -v`, `test -v`, and `printenv`.
//!
//! Why it exists: printing every variable (`set`, `declare -p`, `export`,
//! `printenv`) shows the session's model token; and bash evaluates an array
//! subscript in a variable name as code, so `read 'a[$(cmd)]'`,
//! `unset "$x"`, `printf -v "$x"`, `test -v "$x"` and integer or
//! name-reference variables (`declare -i`, `declare -n`) run commands.
//! What it must not do: accept a variable name that is not a literal plain
//! name, or print the environment at any tier.

use crate::ast::Word;
use crate::lex::{as_assignment, is_name};
use crate::reach::{assignment_category, printing_environment, secret_param};
use crate::vocab::Category;

pub(crate) fn classify(prog: &str, args: &[Word]) -> Option<Category> {
    let category = match prog {
        "set" => set(args),
        "unset" => names(prog, args, "vfn", ""),
        "read" => names(prog, args, "rse", "adnNptui"),
        "export" | "declare" | "typeset" | "local" | "readonly" => declare(prog, args),
        "printf" => printf(args),
        "test" | "[" => test(args),
        "printenv" => printenv(args),
        _ => return None,
    };
    Some(category)
}

fn environment(what: &str) -> Category {
    printing_environment(what)
}

/// `set` alone prints every variable; with options or `--` it changes the
/// shell's options or positional parameters.
fn set(args: &[Word]) -> Category {
    if args.is_empty() {
        return environment("set");
    }
    Category::ReadOnly
}

/// A variable name given as a word: it must be a literal plain name.
fn name_problem(prog: &str, word: &Word) -> Option<Category> {
    let Some(text) = word.literal() else {
        return Some(Category::unclear(format!(
            "`{prog}` is given `{}`, which is not a literal variable name (bash evaluates a subscript in it as code)",
            word.raw
        )));
    };
    if is_name(&text) {
        return None;
    }
    Some(Category::unclear(format!(
        "`{prog}` is given `{text}`, which is not a plain variable name (bash evaluates a subscript in it as code)"
    )))
}

/// `read` and `unset`: options from `flags` (no value) and `values` (a
/// value; `read -a NAME` names a variable), then variable names.
fn names(prog: &str, args: &[Word], flags: &str, values: &str) -> Category {
    let mut i = 0;
    while let Some(word) = args.get(i) {
        i += 1;
        let text = word.literal();
        match text.as_deref() {
            Some("--") => {
                for w in &args[i..] {
                    if let Some(c) = name_problem(prog, w) {
                        return c;
                    }
                }
                break;
            }
            Some(t) if t.starts_with('-') && t.len() > 1 => {
                for (k, c) in t.chars().enumerate().skip(1) {
                    if flags.contains(c) {
                        continue;
                    }
                    if values.contains(c) {
                        let attached = t.len() > k + c.len_utf8();
                        if !attached {
                            let value = args.get(i);
                            i += 1;
                            if c == 'a'
                                && let Some(problem) = value.and_then(|w| name_problem(prog, w))
                            {
                                return problem;
                            }
                        }
                        break;
                    }
                    return Category::unclear(format!(
                        "`{prog} -{c}` is not an option Claude Ops knows"
                    ));
                }
            }
            _ => {
                if let Some(c) = name_problem(prog, word) {
                    return c;
                }
            }
        }
    }
    Category::ReadOnly
}

/// `export`, `declare`, `typeset`, `local`, `readonly`: without names they
/// print variables; integer (`-i`) and name-reference (`-n`) variables
/// evaluate what they are given; functions (`-f`) are code.
fn declare(prog: &str, args: &[Word]) -> Category {
    let mut named = false;
    for arg in args {
        if let Some(a) = as_assignment(arg) {
            if let Some(category) = assignment_category(&a.name) {
                return category;
            }
            named = true;
            continue;
        }
        let Some(text) = arg.literal() else {
            return Category::unclear(format!("`{}` is not a literal variable name", arg.raw));
        };
        if (text.starts_with('-') || text.starts_with('+')) && text.len() > 1 && !named {
            for c in text.chars().skip(1) {
                match c {
                    'a' | 'A' | 'g' | 'l' | 'u' | 't' | 'r' | 'x' => {}
                    'p' => return environment(&format!("{prog} -p")),
                    'i' | 'n' => {
                        return Category::unclear(format!(
                            "`{prog} -{c}` makes a variable whose value bash evaluates"
                        ));
                    }
                    'f' | 'F' => {
                        return Category::unclear(format!(
                            "`{prog} {text}` works on shell functions"
                        ));
                    }
                    other => {
                        return Category::unclear(format!(
                            "`{prog} -{other}` is not an option Claude Ops knows"
                        ));
                    }
                }
            }
            continue;
        }
        if text == "--" {
            continue;
        }
        if let Some(c) = name_problem(prog, arg) {
            return c;
        }
        if let Some(category) = assignment_category(&text) {
            return category;
        }
        named = true;
    }
    if named {
        Category::ReadOnly
    } else {
        environment(prog)
    }
}

/// `printf -v NAME`: the name must be plain.
fn printf(args: &[Word]) -> Category {
    let Some(first) = args.first().and_then(Word::literal) else {
        return Category::ReadOnly;
    };
    let name = match first.strip_prefix("-v") {
        Some("") => match args.get(1) {
            Some(w) => w.clone(),
            None => return Category::unclear("`printf -v` needs a variable name"),
        },
        Some(attached) => Word::literal_word(attached),
        None => return Category::ReadOnly,
    };
    name_problem("printf -v", &name).unwrap_or(Category::ReadOnly)
}

/// `test -v NAME` and `[ -v NAME ]`: the name must be plain.
fn test(args: &[Word]) -> Category {
    for (i, w) in args.iter().enumerate() {
        if w.literal().as_deref() == Some("-v") {
            let Some(name) = args.get(i + 1) else {
                continue;
            };
            if let Some(c) = name_problem("test -v", name) {
                return c;
            }
            let text = name.literal().unwrap_or_default();
            if let Some(c) = secret_param(&text, &|_: &str| false) {
                return c;
            }
        }
    }
    Category::ReadOnly
}

/// `printenv` prints the environment, or the variables it is given.
fn printenv(args: &[Word]) -> Category {
    let names: Vec<&Word> = args
        .iter()
        .filter(|w| !w.literal().is_some_and(|t| t == "-0" || t == "--null"))
        .collect();
    if names.is_empty() {
        return environment("printenv");
    }
    for w in names {
        let Some(text) = w.literal() else {
            return Category::unclear(format!("`{}` is not a literal variable name", w.raw));
        };
        if let Some(c) = secret_param(&text, &|_: &str| false) {
            return c;
        }
    }
    Category::ReadOnly
}
