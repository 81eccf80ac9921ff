//! `jq` and `yq`: their options and the builtins their programs may use.
//!
//! Why it exists: both are everyday tools for reading JSON and YAML, but a
//! jq program reads the environment with `$ENV` or `env` (even inside a
//! string, through `"\(env)"`) and loads modules with `import`/`include`;
//! a yq expression reads the environment with `env()`/`strenv()`/`envsubst`
//! and files with `load()`.
//! What it must not do: pass a program it cannot read, a program from a file
//! (`-f`, `--from-file`), a module search path (`-L`), or any of the
//! builtins above.

use crate::ast::Word;
use crate::opts::listed;
use crate::paths::{Action, Env, write_target};
use crate::reach::ENVIRONMENT;
use crate::vocab::Category;

const JQ_FLAGS: &str = "-r -j -a -c -n -e -s -S -C -M -R -0 --raw-output --join-output --ascii-output --compact-output --null-input --exit-status --slurp --sort-keys --color-output --monochrome-output --raw-input --tab --seq --stream --stream-errors --unbuffered --raw-output0 --args --jsonargs";
/// Options followed by one value, and by two.
const JQ_ONE: &str = "--indent";
const JQ_TWO: &str = "--arg --argjson --rawfile --slurpfile";

pub(crate) fn jq(args: &[Word]) -> Category {
    let mut program: Option<&Word> = None;
    let mut i = 0;
    let mut only_operands = false;
    while let Some(word) = args.get(i) {
        i += 1;
        let Some(text) = word.literal() else {
            if program.is_none() {
                return Category::unclear(format!(
                    "the jq program `{}` is not a literal string",
                    word.raw
                ));
            }
            continue;
        };
        if only_operands || !text.starts_with('-') || text == "-" {
            program = program.or(Some(word));
            continue;
        }
        if text == "--" {
            only_operands = true;
            continue;
        }
        if listed(JQ_ONE, &text) {
            i += 1;
            continue;
        }
        if listed(JQ_TWO, &text) {
            i += 2;
            continue;
        }
        if text.starts_with("--") {
            if !listed(JQ_FLAGS, &text) {
                return refused_option(&text);
            }
            continue;
        }
        for c in text.chars().skip(1) {
            if !listed(JQ_FLAGS, &format!("-{c}")) {
                return refused_option(&format!("-{c}"));
            }
        }
    }
    let Some(program) = program else {
        return Category::ReadOnly;
    };
    let text = program.literal().unwrap_or_default();
    match jq_program(&text) {
        Ok(()) => Category::ReadOnly,
        Err(c) => c,
    }
}

fn refused_option(name: &str) -> Category {
    let why = match name {
        "-f" | "--from-file" => ": it runs a program from a file",
        "-L" => ": it loads modules from a directory",
        _ => "",
    };
    Category::unclear(format!(
        "`jq {name}` is not allowed{why} (`jq` may use -r -c -n -e -s -S -R -a -j --arg --argjson --indent --tab ...)"
    ))
}

/// A jq program: the environment and module loading are refused, whether in
/// code or inside a string interpolation (`"\(env)"`).
fn jq_program(text: &str) -> Result<(), Category> {
    let chars: Vec<char> = text.chars().collect();
    // Each entry is the parenthesis depth of an interpolation we are in.
    let mut interpolations: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut prev = ' ';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            match c {
                '\\' if chars.get(i + 1) == Some(&'(') => {
                    interpolations.push(depth);
                    depth += 1;
                    in_string = false;
                    i += 2;
                }
                '\\' => i += 2,
                '"' => {
                    in_string = false;
                    prev = '"';
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '(' => depth += 1,
            ')' => {
                depth = depth.saturating_sub(1);
                if interpolations.last() == Some(&depth) {
                    interpolations.pop();
                    in_string = true;
                }
            }
            '$' | '.' | '@' => {}
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let ident: String = chars[start..i].iter().collect();
                check_ident(&ident, prev)?;
                prev = 'a';
                continue;
            }
            _ => {}
        }
        if !c.is_whitespace() {
            prev = c;
        }
        i += 1;
    }
    if in_string || !interpolations.is_empty() {
        return Err(Category::unclear(
            "the jq program has an unterminated string",
        ));
    }
    Ok(())
}

/// An identifier of a jq program, after `prev` (`.` makes it a field name,
/// `$` a variable).
fn check_ident(ident: &str, prev: char) -> Result<(), Category> {
    if prev == '.' {
        return Ok(());
    }
    let environment = (prev == '$' && ident == "ENV") || (prev != '$' && ident == "env");
    if environment {
        return Err(Category::never(ENVIRONMENT));
    }
    if prev != '$'
        && listed(
            "import include modulemeta get_search_list input_filename",
            ident,
        )
    {
        return Err(Category::unclear(format!(
            "the jq program uses `{ident}`, which loads modules or names files"
        )));
    }
    Ok(())
}

/// Words of a yq expression that read the environment or files.
const YQ_REFUSED: &str = "env strenv envsubst load load_str load_xml load_props load_base64 eval";

pub(crate) fn yq(args: &[Word], env: &Env) -> Category {
    let value_opts = "-o -p -I --output-format --input-format --indent --expression --split-exp -s";
    let flags = "-P -r -e -n -N -j -C -M -i -0 --prettyPrint --unwrapScalar --exit-status --null-input --no-doc --tojson --colors --no-colors --inplace --nul-output";
    let mut operands: Vec<&Word> = Vec::new();
    let mut expressions: Vec<&Word> = Vec::new();
    let mut split = false;
    let mut in_place = false;
    let mut i = 0;
    while let Some(word) = args.get(i) {
        i += 1;
        let Some(text) = word.literal() else {
            operands.push(word);
            continue;
        };
        if !text.starts_with('-') || text == "-" {
            operands.push(word);
            continue;
        }
        let name = text.split('=').next().unwrap_or_default();
        if listed(value_opts, name) {
            split |= listed("-s --split-exp", name);
            let value = if text.contains('=') {
                None
            } else {
                i += 1;
                args.get(i - 1)
            };
            if name == "--expression"
                && let Some(v) = value
            {
                expressions.push(v);
            }
            continue;
        }
        if listed(flags, name) {
            in_place |= listed("-i --inplace", name);
            continue;
        }
        let why = if name == "--from-file" {
            ": it runs an expression from a file"
        } else {
            ""
        };
        return Category::unclear(format!(
            "`yq {name}` is not allowed{why} (`yq` may use -o -p -I -P -r -e -n -N -j -C -M)"
        ));
    }
    if split {
        return Category::write("writes files with `yq --split-exp`");
    }
    if let Some(first) = operands.first().and_then(|w| w.literal())
        && listed("eval e eval-all ea", &first)
    {
        operands.remove(0);
    }
    if expressions.is_empty() && !operands.is_empty() {
        expressions.push(operands.remove(0));
    }
    for e in expressions {
        let Some(text) = e.literal() else {
            return Category::unclear(format!(
                "the yq expression `{}` is not a literal string",
                e.raw
            ));
        };
        let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        if let Some(w) = words.into_iter().find(|w| listed(YQ_REFUSED, w)) {
            return if w.contains("env") {
                Category::never(ENVIRONMENT)
            } else {
                Category::unclear(format!(
                    "the yq expression uses `{w}`, which reads files or runs expressions"
                ))
            };
        }
    }
    if in_place {
        let mut out = Category::write("edits files in place with `yq -i`");
        for w in operands {
            if let Some(c) = write_target(w, env, "edits", Action::Write) {
                out = out.worst(c);
            }
        }
        return out;
    }
    Category::ReadOnly
}

#[cfg(test)]
mod tests {
    use super::jq_program;

    #[test]
    fn environment_and_modules_are_refused_wherever_they_hide() {
        for p in [
            "$ENV",
            "env",
            "$ENV.HOME",
            "env.ANTHROPIC_API_KEY",
            "\"\\(env)\"",
            "\"a \\(\"b\" + (env | tostring)) c\"",
            "[env[]] | length",
            "import \"x\" as x; .",
            "include \"x\"; .",
            "input_filename",
        ] {
            assert!(jq_program(p).is_err(), "{p} was allowed");
        }
    }

    #[test]
    fn ordinary_programs_pass() {
        for p in [
            ".",
            ".[0].Config.Env",
            ".env",
            ".items[] | .name",
            "\"env\"",
            "{a: .b} | to_entries",
            ".data.result[] | .metric.instance",
            "\"\\(.name): \\(.status)\"",
            "keys[]",
        ] {
            assert!(jq_program(p).is_ok(), "{p} was refused");
        }
    }
}
