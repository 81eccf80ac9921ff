//! `awk` programs, read token by token.
//!
//! Why it exists: awk is an everyday reading tool, but its programs can run
//! commands (`system()`, `print | "cmd"`, `"cmd" | getline`), write files
//! (`print > "file"`), read any file (`getline < "file"`), read the
//! environment (`ENVIRON`) and load code (`@load`, `@include`, `-f`). A
//! scanner that guesses where strings and regular expressions end is fooled
//! by quotes inside them; this tokenizer follows awk's own rules (a `/`
//! starts a regular expression only where an operand may start).
//! What it must not do: pass a program it cannot tokenise, or any use of
//! `system`, `getline`, `ENVIRON`, `ARGV`/`ARGC` (which choose the files
//! awk opens), `|`, `|&`, `@`, or a `>`/`>>` that is a redirection of
//! `print` or `printf` rather than a comparison.

use crate::ast::Word;
use crate::opts::{Spec, scan};
use crate::vocab::Category;

pub(crate) fn awk(prog: &str, args: &[Word]) -> Category {
    let spec = Spec {
        short_values: "Fvf",
        long_values: "field-separator assign file",
        permute: false,
    };
    let scanned = scan(args, &spec);
    if let Some(w) = scanned.wild {
        return Category::unclear(format!("`{}` could expand to options of `{prog}`", w.raw));
    }
    if scanned.has("-f --file") {
        return Category::unclear(format!(
            "`{prog} -f` runs a program from a file that cannot be judged"
        ));
    }
    if let Some(o) = scanned.first_not_in("-F -v --field-separator --assign --sandbox") {
        return Category::unclear(format!(
            "`{prog} {}` is not an option Claude Ops allows (allowed: -F -v --sandbox)",
            o.name
        ));
    }
    let Some(program) = scanned.operands.first() else {
        return Category::unclear(format!("`{prog}` needs a program text"));
    };
    let Some(text) = program.literal() else {
        return Category::unclear(format!(
            "the {prog} program `{}` is not a literal string",
            program.raw
        ));
    };
    match check(&text) {
        Ok(()) => Category::ReadOnly,
        Err(risk) => Category::unclear(format!("the {prog} program {risk}")),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Name(String),
    Number,
    Str,
    Regex,
    /// `$`, `++` or `--`: whether a `/` after it divides depends on context.
    Op(String),
    /// A newline or `;`: the end of a statement.
    End,
}

impl Tok {
    /// Whether a `/` after this token is a division (an operand ended here).
    fn ends_operand(&self) -> bool {
        match self {
            Tok::Name(n) => !KEYWORDS.contains(&n.as_str()),
            Tok::Number | Tok::Str | Tok::Regex => true,
            Tok::Op(op) => matches!(op.as_str(), ")" | "]" | "++" | "--" | "$"),
            Tok::End => false,
        }
    }
}

/// Words after which an expression starts.
const KEYWORDS: [&str; 12] = [
    "print", "printf", "return", "in", "if", "while", "for", "do", "else", "case", "delete", "exit",
];

const OPS: [&str; 22] = [
    "&&", "||", "|&", ">>", "<=", ">=", "==", "!=", "++", "--", "+=", "-=", "*=", "/=", "%=", "^=",
    "**", "!~", "::", "**=", "[", "]",
];

fn tokenize(program: &str) -> Result<Vec<Tok>, &'static str> {
    let chars: Vec<char> = program.chars().collect();
    let mut out: Vec<Tok> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if chars.get(i + 1) == Some(&'\n') => i += 2,
            '\\' if chars.get(i + 1) == Some(&'\r') => i += 3,
            ' ' | '\t' | '\r' => i += 1,
            '\n' | ';' => {
                out.push(Tok::End);
                i += 1;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '"' => {
                i = skip_quoted(&chars, i + 1, '"').ok_or("has an unterminated string")?;
                out.push(Tok::Str);
            }
            '/' if !out.last().is_some_and(Tok::ends_operand) => {
                i = skip_regex(&chars, i + 1).ok_or("has an unterminated regular expression")?;
                out.push(Tok::Regex);
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Name(chars[start..i].iter().collect()));
            }
            c if c.is_ascii_digit()
                || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                out.push(Tok::Number);
            }
            _ => {
                let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
                let op = OPS
                    .iter()
                    .filter(|op| rest.starts_with(*op))
                    .max_by_key(|op| op.len())
                    .map(|op| (*op).to_owned())
                    .unwrap_or_else(|| c.to_string());
                i += op.chars().count();
                out.push(Tok::Op(op));
            }
        }
    }
    Ok(out)
}

/// Index just past the closing quote, honouring backslash escapes.
fn skip_quoted(chars: &[char], mut i: usize, quote: char) -> Option<usize> {
    while let Some(c) = chars.get(i) {
        match c {
            '\\' => i += 2,
            '\n' => return None,
            c if *c == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Index just past a regular expression's closing `/`; a `/` inside a
/// bracket expression does not end it.
fn skip_regex(chars: &[char], mut i: usize) -> Option<usize> {
    let mut in_bracket = false;
    while let Some(c) = chars.get(i) {
        match c {
            '\\' => i += 2,
            '\n' => return None,
            '[' if !in_bracket => {
                in_bracket = true;
                i += 1;
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    i += 1;
                }
            }
            ']' if in_bracket => {
                in_bracket = false;
                i += 1;
            }
            '/' if !in_bracket => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// What the program does beyond reading its input, if anything.
fn check(program: &str) -> Result<(), String> {
    let tokens = tokenize(program).map_err(str::to_owned)?;
    // The parenthesis depth at which the current `print` statement started.
    let mut print_depth: Option<usize> = None;
    let mut depth = 0usize;
    for tok in &tokens {
        match tok {
            Tok::Name(n) => match n.as_str() {
                "system" => return Err("calls system(), which runs a command".to_owned()),
                "getline" => {
                    return Err("uses getline, which reads a file or a command's output".to_owned());
                }
                "ENVIRON" | "PROCINFO" => {
                    return Err(format!("reads {n}, which holds the environment"));
                }
                "ARGV" | "ARGC" => {
                    return Err(format!("uses {n}, which can change the files awk reads"));
                }
                "print" | "printf" => print_depth = Some(depth),
                _ => {}
            },
            Tok::Op(op) => match op.as_str() {
                "|" | "|&" => return Err("pipes to or from a command".to_owned()),
                "@" => {
                    return Err(
                        "uses `@`, which loads an extension, includes a file or calls a function by name"
                            .to_owned(),
                    );
                }
                "(" => depth += 1,
                ")" => depth = depth.saturating_sub(1),
                "{" | "}" => print_depth = None,
                ">" | ">>" if print_depth == Some(depth) => {
                    return Err("redirects output to a file".to_owned());
                }
                _ => {}
            },
            Tok::End => print_depth = None,
            Tok::Number | Tok::Str | Tok::Regex => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn ordinary_programs_pass() {
        for p in [
            "{print $1}",
            "$3 >= 1000 {print $1}",
            "$9 >= 500 {c++} END {print c+0}",
            "/error/ {n++} END {print n}",
            "{ if ($1 > 5) print $1 }",
            "{ print ($1 > 5) }",
            "NR > 1 {print $2}",
            "{ x = 4 / 2; y = $3 / 1024 / 1024; print x, y }",
            "{ s += $2 } END { printf \"%.1f\\n\", s / NR }",
            "$0 ~ /a|b/ || /c[/]d/ { print }",
            "{ print \"a > b\" }",
            "BEGIN { FS = \":\" } { print $1 }",
            "{ a[$1]++ } END { for (k in a) print k, a[k] }",
        ] {
            assert!(check(p).is_ok(), "{p}: {:?}", check(p));
        }
    }

    #[test]
    fn programs_that_do_more_are_refused() {
        for p in [
            "BEGIN{system(\"id\")}",
            "{ print | \"sh\" }",
            "BEGIN { \"date\" | getline d }",
            "BEGIN { getline l < \"/etc/shadow\" }",
            "{ print > \"/tmp/x\" }",
            "{ print $1, $2 >> \"/tmp/x\" }",
            "{ printf(\"%s\", $0) > \"/tmp/x\" }",
            "{ print $1 > 5 }",
            "BEGIN { print ENVIRON[\"HOME\"] }",
            "{print /\"/; system(\"id\"); y = \"\\\"\"}",
            "{ print 1 /2/ 1; system(\"id\") }",
            "@load \"filefuncs\"",
            "BEGIN { f = \"system\"; @f(\"id\") }",
            "{ print $1 |& \"cat\" }",
            "BEGIN { x = \"unterminated }",
        ] {
            assert!(check(p).is_err(), "{p} was allowed");
        }
    }
}
