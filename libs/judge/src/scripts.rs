//! The program texts of `sed`, read command by command (`awk` has its own
//! tokenizer in `awk.rs`).
//!
//! Why it exists: `sed` is an everyday reading tool, but its scripts can
//! write files (`w`, `W`, the `w` flag), run commands (`e`, the `e` flag)
//! and read files named inside the script (`r`, `R`), which no path check
//! of the command's words would see.
//! What it must not do: pass a script it cannot read with confidence; such a
//! script is refused as unclear.

use crate::ast::Word;
use crate::opts::{Spec, scan};
use crate::paths::Env;
use crate::text::writes;
use crate::vocab::Category;

pub(crate) fn sed(args: &[Word], env: &Env) -> Category {
    let spec = Spec {
        short_values: "efl",
        long_values: "expression file line-length",
        permute: true,
    };
    let scanned = scan(args, &spec);
    if scanned.has("-f --file") {
        return Category::unclear("`sed -f` reads its script from a file that cannot be judged");
    }
    let allowed = "-n -e -E -r -s -u -z -l -i --quiet --silent --expression --regexp-extended --separate --unbuffered --null-data --line-length --posix --debug --sandbox --follow-symlinks --in-place";
    if let Some(o) = scanned
        .opts
        .iter()
        .find(|o| !(o.is(allowed) || o.name.starts_with("-i")))
    {
        return Category::unclear(format!(
            "`sed {}` is not an option Claude Ops allows (`sed` may use -n -e -E -r -s -z -u)",
            o.name
        ));
    }
    let mut scripts: Vec<&Word> = scanned
        .values("-e --expression")
        .filter_map(|v| v.word)
        .collect();
    let mut files = scanned.operands.clone();
    if scripts.is_empty() && !files.is_empty() {
        scripts.push(files.remove(0));
    }
    for script in scripts {
        let Some(text) = script.literal() else {
            return Category::unclear(format!(
                "the sed script `{}` is not a literal string",
                script.raw
            ));
        };
        if let Err(reason) = check_sed_script(&text) {
            return Category::unclear(format!("the sed script {reason}"));
        }
    }
    let in_place = scanned
        .opts
        .iter()
        .any(|o| o.name == "-i" || o.is("--in-place"));
    if !in_place {
        return Category::ReadOnly;
    }
    if files.is_empty() {
        return Category::write("edits files in place with `sed -i`");
    }
    writes(files, env, "edits")
}

/// Walks a sed script command by command; an error names what is unsafe or
/// not understood.
pub(crate) fn check_sed_script(script: &str) -> Result<(), String> {
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() || c == ';' || c == '{' || c == '}' || c == '!' {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || c == '$' || c == ',' || c == '~' || c == '+' {
            i += 1;
            continue;
        }
        if c == '/' || c == '\\' {
            let delim = if c == '\\' {
                *chars.get(i + 1).ok_or("ends in a backslash")?
            } else {
                '/'
            };
            i = skip_delimited(&chars, i + if c == '\\' { 2 } else { 1 }, delim)?;
            while chars.get(i).is_some_and(|c| *c == 'I' || *c == 'M') {
                i += 1;
            }
            continue;
        }
        i += 1;
        match c {
            's' | 'y' => {
                let delim = *chars.get(i).ok_or("has an incomplete `s` command")?;
                i = skip_delimited(&chars, i + 1, delim)?;
                i = skip_delimited(&chars, i, delim)?;
                if c == 's' {
                    while let Some(f) = chars
                        .get(i)
                        .copied()
                        .filter(|f| !matches!(f, ';' | '\n' | '}' | ' '))
                    {
                        match f {
                            'w' | 'e' => {
                                return Err(format!(
                                    "uses the `{f}` flag, which writes files or runs commands"
                                ));
                            }
                            'g' | 'p' | 'i' | 'I' | 'm' | 'M' => {}
                            d if d.is_ascii_digit() => {}
                            other => {
                                return Err(format!("has a flag `{other}` that is not understood"));
                            }
                        }
                        i += 1;
                    }
                }
            }
            'w' | 'W' => return Err("writes to a file (`w`)".into()),
            'e' => return Err("runs a command (`e`)".into()),
            'r' | 'R' => return Err(format!("reads a file named in the script (`{c}`)")),
            '#' | ':' | 'a' | 'i' | 'c' | 'b' | 't' | 'T' | 'v' => {
                let stop_at_semicolon = matches!(c, ':' | 'b' | 't' | 'T' | 'v');
                while let Some(n) = chars.get(i) {
                    if *n == '\n' || (stop_at_semicolon && *n == ';') {
                        break;
                    }
                    i += 1;
                }
            }
            'q' | 'Q' | 'l' | 'L' => {
                while chars
                    .get(i)
                    .is_some_and(|d| d.is_ascii_digit() || *d == ' ')
                {
                    i += 1;
                }
            }
            '=' | 'd' | 'D' | 'g' | 'G' | 'h' | 'H' | 'n' | 'N' | 'p' | 'P' | 'x' | 'z' | 'F' => {}
            other => return Err(format!("has a command `{other}` that is not understood")),
        }
    }
    Ok(())
}

/// Index just past the closing `delim`, honouring backslash escapes.
pub(crate) fn skip_delimited(chars: &[char], mut i: usize, delim: char) -> Result<usize, String> {
    while let Some(c) = chars.get(i) {
        if *c == '\\' {
            i += 2;
            continue;
        }
        if *c == delim {
            return Ok(i + 1);
        }
        if *c == '\n' && delim != '\n' {
            break;
        }
        i += 1;
    }
    Err("has an unterminated regular expression or replacement".into())
}
