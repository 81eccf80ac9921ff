//! Gatus-style conditions: `[STATUS] == 200`, `[BODY].data[0].id > 3`,
//! `len([BODY].items) < 10`, `[BODY] == pat(*ok*)`, `[CERTIFICATE_EXPIRATION] > 48h`.
//!
//! A condition is parsed once, when its probe compiles, and evaluated against an
//! [`Observation`] after every attempt. This module does no I/O and must not learn
//! about any probe kind beyond the placeholders an observation can fill.
//! The placeholders themselves are shared vocabulary, defined in
//! `claudeops_core::probe::placeholder`.

use std::fmt;

use crate::observation::Observation;

pub use claudeops_core::probe::{PLACEHOLDERS, Placeholder};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

const OPERATORS: &[(&str, Op)] = &[
    ("==", Op::Eq),
    ("!=", Op::Ne),
    ("<=", Op::Le),
    (">=", Op::Ge),
    ("<", Op::Lt),
    (">", Op::Gt),
];

/// The characters operators are made of.
const OPERATOR_CHARS: &str = "=!<>";

/// One step of a JSON path: `.key` or `[index]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Value {
        placeholder: Placeholder,
        path: Vec<Step>,
    },
    Len(Box<Operand>),
    Has(Box<Operand>),
    Pattern(String),
    Any(Vec<String>),
    Literal(String),
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    text: String,
    left: Operand,
    op: Op,
    right: Operand,
}

/// Why a condition does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

impl Condition {
    /// Parses `LEFT OP RIGHT`.
    pub fn parse(text: &str) -> Result<Condition, ParseError> {
        let text = text.trim();
        if text.is_empty() {
            return err("the condition is empty; write e.g. `[STATUS] == 200`");
        }
        let Some((at, token, op)) = find_operator(text) else {
            let count = |c: char| text.matches(c).count();
            if count('[') != count(']') {
                return err(format!("`{text}` has a `[` without its closing `]`"));
            }
            if count('(') != count(')') {
                return err(format!("`{text}` misses a closing parenthesis"));
            }
            return err(format!(
                "no operator in `{text}`; use one of ==, !=, <, <=, >, >= as in `[STATUS] == 200`"
            ));
        };
        // What Gatus has no operator for (`===`, `<>`, `=>`, `!==`) is refused
        // here, not read as `==` or `<` with an odd operand.
        let before = text[..at].trim_end();
        let after = &text[at + token.len()..];
        let glued_before: String = before
            .chars()
            .rev()
            .take_while(|c| OPERATOR_CHARS.contains(*c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let glued_after: String = after
            .chars()
            .take_while(|c| OPERATOR_CHARS.contains(*c))
            .collect();
        if !glued_after.is_empty() || (!glued_before.is_empty() && before.len() == text[..at].len())
        {
            return err(format!(
                "`{glued_before}{token}{glued_after}` is not an operator; use one of ==, !=, <, <=, >, >="
            ));
        }
        if !glued_before.is_empty() {
            return err(format!(
                "`{glued_before}` before `{token}` is not part of an operator; use one of ==, !=, <, <=, >, >="
            ));
        }
        let left = parse_operand(&text[..at], "left")?;
        let right = parse_operand(after, "right")?;
        let condition = Condition {
            text: text.to_owned(),
            left,
            op,
            right,
        };
        condition.check_shape()?;
        Ok(condition)
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every placeholder the condition reads.
    pub fn placeholders(&self) -> Vec<Placeholder> {
        let mut out = Vec::new();
        for side in [&self.left, &self.right] {
            collect(side, &mut out);
        }
        out
    }

    fn check_shape(&self) -> Result<(), ParseError> {
        let matcher = |o: &Operand| matches!(o, Operand::Pattern(_) | Operand::Any(_));
        if (matcher(&self.left) || matcher(&self.right)) && !matches!(self.op, Op::Eq | Op::Ne) {
            return err("pat() and any() work with == and != only");
        }
        if matcher(&self.left) && matcher(&self.right) {
            return err("only one side may be pat() or any(); the other must be a value");
        }
        // A constant condition (`1 == 1`) is allowed, as in Gatus: it always
        // holds or always fails.
        Ok(())
    }

    /// Evaluates against an attempt's observation. `Err` says why it failed.
    pub fn evaluate(&self, obs: &Observation) -> Result<(), String> {
        let left = resolve(&self.left, obs)?;
        let right = resolve(&self.right, obs)?;
        let holds = compare(&left, self.op, &right)?;
        if holds {
            Ok(())
        } else {
            Err(describe_miss(&self.left, &left, &self.right, &right))
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn collect(operand: &Operand, out: &mut Vec<Placeholder>) {
    match operand {
        Operand::Value { placeholder, .. } => out.push(*placeholder),
        Operand::Len(inner) | Operand::Has(inner) => collect(inner, out),
        _ => {}
    }
}

/// The first operator outside brackets, parentheses and placeholders.
fn find_operator(text: &str) -> Option<(usize, &'static str, Op)> {
    let (mut paren, mut bracket) = (0i32, 0i32);
    for (i, c) in text.char_indices() {
        match c {
            '(' => paren += 1,
            ')' => paren -= 1,
            '[' => bracket += 1,
            ']' => bracket -= 1,
            _ if paren == 0 && bracket == 0 => {
                for (token, op) in OPERATORS {
                    if text[i..].starts_with(token) {
                        return Some((i, token, *op));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_operand(raw: &str, side: &str) -> Result<Operand, ParseError> {
    let s = raw.trim();
    if s.is_empty() {
        return err(format!("the {side}-hand side is empty"));
    }
    for (name, wrap) in [("len(", 0), ("has(", 1), ("pat(", 2), ("any(", 3)] {
        let Some(rest) = s.strip_prefix(name) else {
            continue;
        };
        let Some(inner) = rest.strip_suffix(')') else {
            return err(format!("`{s}` misses its closing parenthesis"));
        };
        return match wrap {
            0 | 1 => {
                let inner = parse_operand(inner, side)?;
                if !matches!(inner, Operand::Value { .. }) {
                    return err(format!(
                        "{}) takes a placeholder such as [BODY].items",
                        &name[..3]
                    ));
                }
                Ok(if wrap == 0 {
                    Operand::Len(Box::new(inner))
                } else {
                    Operand::Has(Box::new(inner))
                })
            }
            2 => Ok(Operand::Pattern(inner.trim().to_owned())),
            _ => Ok(Operand::Any(
                inner.split(',').map(|v| v.trim().to_owned()).collect(),
            )),
        };
    }
    if s.starts_with('[') {
        return parse_placeholder(s);
    }
    Ok(Operand::Literal(s.to_owned()))
}

fn parse_placeholder(s: &str) -> Result<Operand, ParseError> {
    let Some(end) = s.find(']') else {
        return err(format!("`{s}` misses its closing `]`"));
    };
    let name = &s[1..end];
    // Placeholders are read whatever their case, as Gatus reads them.
    let Some(placeholder) = PLACEHOLDERS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, p)| *p)
    else {
        let known: Vec<String> = PLACEHOLDERS.iter().map(|(n, _)| format!("[{n}]")).collect();
        return err(format!(
            "unknown placeholder `[{name}]`; known: {}",
            known.join(", ")
        ));
    };
    let path = parse_path(&s[end + 1..])?;
    if !path.is_empty() && placeholder != Placeholder::Body {
        return err(format!(
            "only [BODY] takes a JSON path, not {placeholder} (`{s}`)"
        ));
    }
    Ok(Operand::Value { placeholder, path })
}

/// `.a.b[0].c` (also `[0]` first and `.` before an index).
pub fn parse_path(mut rest: &str) -> Result<Vec<Step>, ParseError> {
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return err(format!("`[{r}` misses its closing `]`"));
            };
            let index = r[..end].trim().parse::<usize>().map_err(|_| {
                ParseError(format!(
                    "`[{}]` in a JSON path must be an array index such as [0]",
                    &r[..end]
                ))
            })?;
            steps.push(Step::Index(index));
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if key.is_empty() {
                if r.starts_with('[') {
                    rest = r;
                    continue;
                }
                return err("a JSON path has an empty key; write e.g. [BODY].data.id");
            }
            steps.push(Step::Key(key.to_owned()));
            rest = &r[end..];
        } else {
            return err(format!(
                "unexpected `{rest}` after a placeholder; a JSON path goes like [BODY].a.b[0]"
            ));
        }
    }
    Ok(steps)
}

/// A resolved side of a comparison.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Text(String),
    Num(f64),
    Bool(bool),
    /// Milliseconds; the other side may be a duration such as `48h`.
    Millis(f64),
    Pattern(String),
    Any(Vec<String>),
}

fn resolve(operand: &Operand, obs: &Observation) -> Result<Val, String> {
    match operand {
        Operand::Literal(s) => Ok(Val::Text(s.clone())),
        Operand::Pattern(p) => Ok(Val::Pattern(p.clone())),
        Operand::Any(v) => Ok(Val::Any(v.clone())),
        Operand::Value { placeholder, path } => {
            if path.is_empty() {
                resolve_placeholder(*placeholder, obs)
            } else {
                let node = json_at(obs, path)?;
                Ok(json_val(node))
            }
        }
        Operand::Len(inner) => {
            let Operand::Value { placeholder, path } = inner.as_ref() else {
                return Err("len() takes a placeholder".to_owned());
            };
            if path.is_empty() {
                // len([BODY]) of a JSON array or object counts its items.
                if *placeholder == Placeholder::Body
                    && let Some(json) = obs.json()
                {
                    return Ok(Val::Num(json_len(json) as f64));
                }
                let text = text_of(resolve_placeholder(*placeholder, obs)?);
                return Ok(Val::Num(text.chars().count() as f64));
            }
            let node = json_at(obs, path)?;
            Ok(Val::Num(json_len(node) as f64))
        }
        Operand::Has(inner) => {
            let Operand::Value { placeholder, path } = inner.as_ref() else {
                return Err("has() takes a placeholder".to_owned());
            };
            if path.is_empty() {
                // has(X): X has a value that is not empty (an empty body, or
                // one of only whitespace, has nothing).
                let value = resolve_placeholder(*placeholder, obs).ok();
                let has = value.is_some_and(|v| !matches!(&v, Val::Text(t) if t.is_empty()));
                return Ok(Val::Bool(has));
            }
            Ok(Val::Bool(json_at(obs, path).is_ok()))
        }
    }
}

fn missing(p: Placeholder, _obs: &Observation) -> String {
    format!("{p} has no value")
}

fn resolve_placeholder(p: Placeholder, obs: &Observation) -> Result<Val, String> {
    let c = obs.container.as_ref();
    let val = match p {
        Placeholder::Status => obs.status.map(|s| Val::Num(f64::from(s))),
        Placeholder::ResponseTime => Some(Val::Millis(obs.response_time.as_secs_f64() * 1000.0)),
        // Compared without surrounding whitespace, as Gatus does: `OK\n` is `OK`.
        Placeholder::Body => obs.body.as_deref().map(|b| Val::Text(b.trim().to_owned())),
        Placeholder::Connected => Some(Val::Bool(obs.connected)),
        Placeholder::CertificateExpiration => obs.certificate_expiration_ms.map(Val::Millis),
        Placeholder::DnsRcode => obs.dns_rcode.clone().map(Val::Text),
        Placeholder::Ip => obs.ip.clone().map(Val::Text),
        Placeholder::Running => c.map(|c| Val::Bool(c.running)),
        Placeholder::State => c.map(|c| Val::Text(c.state.clone())),
        Placeholder::Health => c.map(|c| Val::Text(c.health.clone())),
        Placeholder::RestartCount => c.map(|c| Val::Num(c.restart_count as f64)),
        Placeholder::OomKilled => c.map(|c| Val::Bool(c.oom_killed)),
        Placeholder::ExitCode => c.map(|c| Val::Num(c.exit_code as f64)),
        Placeholder::CrashLoop => c.map(|c| Val::Bool(c.crash_loop)),
    };
    val.ok_or_else(|| missing(p, obs))
}

fn json_at<'a>(obs: &'a Observation, path: &[Step]) -> Result<&'a serde_json::Value, String> {
    let json = obs.json().ok_or_else(|| match &obs.body {
        None => missing(Placeholder::Body, obs),
        Some(_) => "[BODY] is not JSON".to_owned(),
    })?;
    let mut node = json;
    let mut seen = String::from("[BODY]");
    for step in path {
        let next = match step {
            Step::Key(k) => {
                seen.push('.');
                seen.push_str(k);
                node.get(k.as_str())
            }
            Step::Index(i) => {
                seen.push_str(&format!("[{i}]"));
                node.get(*i)
            }
        };
        node = next.ok_or_else(|| format!("{seen} is not in the body"))?;
    }
    Ok(node)
}

/// Items of an array, keys of an object, characters of a string, else the
/// characters of the value's JSON text.
fn json_len(node: &serde_json::Value) -> usize {
    match node {
        serde_json::Value::Array(a) => a.len(),
        serde_json::Value::Object(o) => o.len(),
        serde_json::Value::String(s) => s.chars().count(),
        other => other.to_string().chars().count(),
    }
}

fn json_val(node: &serde_json::Value) -> Val {
    match node {
        serde_json::Value::String(s) => Val::Text(s.clone()),
        serde_json::Value::Bool(b) => Val::Bool(*b),
        serde_json::Value::Number(n) => n.as_f64().map_or(Val::Text(n.to_string()), Val::Num),
        other => Val::Text(other.to_string()),
    }
}

fn text_of(v: Val) -> String {
    match v {
        Val::Text(s) | Val::Pattern(s) => s,
        Val::Num(n) | Val::Millis(n) => fmt_num(n),
        Val::Bool(b) => b.to_string(),
        Val::Any(v) => v.join(", "),
    }
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n:.1}")
    }
}

/// A number, or for millisecond values also a duration such as `48h` or `500ms`.
fn number(v: &Val, durations: bool) -> Option<f64> {
    match v {
        Val::Num(n) | Val::Millis(n) => Some(*n),
        Val::Bool(_) | Val::Pattern(_) | Val::Any(_) => None,
        Val::Text(s) => {
            let s = s.trim();
            integer(s).or_else(|| s.parse::<f64>().ok()).or_else(|| {
                durations
                    .then(|| humantime::parse_duration(s).ok())
                    .flatten()
                    .map(|d| d.as_secs_f64() * 1000.0)
            })
        }
    }
}

/// An integer as Gatus reads one: an optional sign, then decimal, or `0x`
/// hexadecimal, `0o` octal or `0b` binary digits, with `_` between digits.
/// (Unlike Go, a leading zero alone does not make octal: `010` is ten.)
pub fn integer(text: &str) -> Option<f64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let lower = rest.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, &rest[2..]),
        Some("0o") => (8, &rest[2..]),
        Some("0b") => (2, &rest[2..]),
        _ => (10, rest),
    };
    // Go allows one `_` right after the base prefix (`0x_1F`).
    let digits = if radix == 10 {
        digits
    } else {
        digits.strip_prefix('_').unwrap_or(digits)
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c == '_' || c.is_digit(radix))
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let value = i64::from_str_radix(&clean, radix).ok()?;
    Some(if negative {
        -(value as f64)
    } else {
        value as f64
    })
}

fn is_millis(v: &Val) -> bool {
    matches!(v, Val::Millis(_))
}

fn equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Pattern(p), other) | (other, Val::Pattern(p)) => wildcard(p, &text_of(other.clone())),
        (Val::Any(options), other) | (other, Val::Any(options)) => {
            options.iter().any(|o| equal(&Val::Text(o.clone()), other))
        }
        _ => {
            let durations = is_millis(a) || is_millis(b);
            match (number(a, durations), number(b, durations)) {
                (Some(x), Some(y)) => (x - y).abs() < 1e-9,
                _ => text_of(a.clone()) == text_of(b.clone()),
            }
        }
    }
}

fn compare(a: &Val, op: Op, b: &Val) -> Result<bool, String> {
    match op {
        Op::Eq => Ok(equal(a, b)),
        Op::Ne => Ok(!equal(a, b)),
        _ => {
            let durations = is_millis(a) || is_millis(b);
            let (Some(x), Some(y)) = (number(a, durations), number(b, durations)) else {
                return Err(format!(
                    "cannot order `{}` and `{}`: both must be numbers",
                    text_of(a.clone()),
                    text_of(b.clone())
                ));
            };
            Ok(match op {
                Op::Lt => x < y,
                Op::Le => x <= y,
                Op::Gt => x > y,
                _ => x >= y,
            })
        }
    }
}

/// Gatus `pat()`: `*` matches any run of characters; everything else is literal.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// "[STATUS] is 503", with the value cut short and on one line.
fn describe_miss(lo: &Operand, lv: &Val, ro: &Operand, rv: &Val) -> String {
    let shown = |o: &Operand, v: &Val| -> Option<String> {
        let name = match o {
            Operand::Value { placeholder, path } => label(*placeholder, path),
            Operand::Len(inner) => format!("len({})", operand_label(inner)),
            Operand::Has(inner) => format!("has({})", operand_label(inner)),
            _ => return None,
        };
        let value = match v {
            Val::Millis(ms) => crate::attempt::span(*ms),
            other => text_of(other.clone()),
        };
        let value = crate::attempt::one_line(&value, 80);
        Some(format!("{name} is {value}"))
    };
    let parts: Vec<String> = [shown(lo, lv), shown(ro, rv)]
        .into_iter()
        .flatten()
        .collect();
    parts.join(", ")
}

fn operand_label(o: &Operand) -> String {
    match o {
        Operand::Value { placeholder, path } => label(*placeholder, path),
        _ => String::new(),
    }
}

fn label(p: Placeholder, path: &[Step]) -> String {
    let mut s = p.to_string();
    for step in path {
        match step {
            Step::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod tests;
