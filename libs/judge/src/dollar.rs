//! Everything that starts with `$` or a backtick: parameters, command
//! substitutions, arithmetic and `$'...'` strings.
//!
//! Why it exists: these are where a command line hides other commands
//! (`$(...)`, backticks) and values only known at run time (`$VAR`).
//! What it must not do: accept a nested expansion it cannot read (such as
//! `${x:-$(cmd)}`), decode an escape it does not know into something else, or
//! nest deeper than [`MAX_NESTING`]. Bash evaluates a variable's value as
//! code in arithmetic (`$((x))`, `$[x]`, array subscripts, substring
//! offsets) and in transformations (`${x@P}`), and indirect expansion
//! (`${!x}`) reads a variable named at run time; none of these is accepted:
//! arithmetic holds only numbers and operators.

use crate::ast::{Script, WordPart};
use crate::error::{MAX_NESTING, ParseError};
use crate::lex::{Lexer, Parts};
use crate::parse::{End, parse_at_depth};

/// What `$((...))` may hold besides digits and blanks.
const ARITH_OPS: &str = "+-*/%<>=!&|^~?:,()";

/// The forms of `${...}` read with confidence: a name (or special parameter),
/// an optional numeric or `@`/`*` subscript, then nothing, a default/alternate
/// word, a pattern removal or replacement, a case change, or a numeric
/// substring. Indirection (`!`) and transformations (`@`) are not.
fn check_braced(body: &str) -> Result<(), &'static str> {
    let rest = body
        .strip_prefix('#')
        .filter(|r| !r.is_empty())
        .unwrap_or(body);
    if rest.starts_with('!') {
        return Err("an indirect parameter expansion (`${!...}`)");
    }
    let name_len = match rest.chars().next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len()),
        Some(c) if c.is_ascii_digit() => rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len()),
        Some(c) if "@*#?$!-".contains(c) => 1,
        _ => return Err("a parameter expansion without a name"),
    };
    let mut op = &rest[name_len..];
    if let Some(sub) = op.strip_prefix('[') {
        let Some(close) = sub.find(']') else {
            return Err("an unterminated array subscript");
        };
        let index = sub[..close].trim();
        let numeric = !index.is_empty() && index.chars().all(|c| c.is_ascii_digit());
        if !(numeric || index == "@" || index == "*") {
            return Err("an array subscript that is not a number (bash evaluates it as code)");
        }
        op = &sub[close + 1..];
    }
    if body.starts_with('#') && body.len() > 1 && !op.is_empty() {
        return Err("this parameter expansion");
    }
    if op.is_empty() {
        return Ok(());
    }
    if op.starts_with('@') {
        return Err("a parameter transformation (`${x@...}`)");
    }
    if let Some(range) = op.strip_prefix(':')
        && !range.starts_with(['-', '=', '+', '?'])
    {
        let numeric = range
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-' || c == ':');
        return if numeric {
            Ok(())
        } else {
            Err("a substring offset that is not a number (bash evaluates it as code)")
        };
    }
    if op.starts_with(['-', '=', '+', '?', ':', '#', '%', '/', '^', ',']) {
        return Ok(());
    }
    Err("this parameter expansion")
}

impl Lexer {
    /// `$` at the cursor.
    pub(super) fn lex_dollar(&mut self, parts: &mut Parts, quoted: bool) -> Result<(), ParseError> {
        match self.peek_at(1) {
            Some('(') if self.peek_at(2) == Some('(') => {
                self.lex_arithmetic()?;
                parts.push_part(WordPart::Arith { quoted });
            }
            Some('(') => {
                self.bump();
                let script = self.lex_paren_script()?;
                parts.push_part(WordPart::Subst {
                    script,
                    quoted,
                    process: false,
                });
            }
            Some('{') => {
                let name = self.lex_braced_param()?;
                if let Err(what) = check_braced(&name) {
                    return Err(self.unsupported(what));
                }
                parts.push_part(WordPart::Param { name, quoted });
            }
            Some('[') => return Err(self.unsupported("old-style arithmetic `$[...]`")),
            Some('\'') if !quoted => {
                self.bump();
                let text = self.lex_ansi_c()?;
                parts.push_str(&text, true);
            }
            Some('"') if !quoted => {
                self.advance(2);
                let before = parts.pushes;
                self.lex_double_quoted(parts, true)?;
                if parts.pushes == before {
                    parts.push_str("", true);
                }
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                self.bump();
                let mut name = String::new();
                while let Some(c) = self
                    .peek()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                {
                    name.push(c);
                    self.bump();
                }
                parts.push_part(WordPart::Param { name, quoted });
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                self.advance(2);
                parts.push_part(WordPart::Param {
                    name: c.to_string(),
                    quoted,
                });
            }
            _ => {
                parts.push_char('$', quoted);
                self.bump();
            }
        }
        Ok(())
    }

    /// `(list)` with the cursor on `(`: the body of `$(...)`, `<(...)`, `>(...)`.
    pub(super) fn lex_paren_script(&mut self) -> Result<Script, ParseError> {
        let start = self.pos;
        self.enter()?;
        self.bump();
        let script = self.parse_list(End::Paren)?;
        self.leave();
        if self.peek() != Some(')') {
            return Err(ParseError::Unterminated {
                what: "command substitution",
                offset: start,
            });
        }
        self.bump();
        Ok(script)
    }

    pub(super) fn lex_arithmetic(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        self.advance(3);
        let mut depth = 2usize;
        while depth > 0 {
            match self.peek() {
                None => {
                    return Err(ParseError::Unterminated {
                        what: "arithmetic expansion",
                        offset: start,
                    });
                }
                Some('(') => depth += 1,
                Some(')') => depth -= 1,
                Some('`' | '$' | '[' | '\'' | '"' | '\\') => {
                    return Err(self.unsupported("an arithmetic expansion with substitutions"));
                }
                Some(c) if c.is_ascii_digit() || c.is_whitespace() || ARITH_OPS.contains(c) => {}
                Some(_) => {
                    return Err(self.unsupported(
                        "arithmetic on anything but numbers (bash evaluates a variable's value as code)",
                    ));
                }
            }
            self.bump();
        }
        Ok(())
    }

    pub(super) fn lex_braced_param(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.advance(2);
        let mut name = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError::Unterminated {
                        what: "parameter expansion",
                        offset: start,
                    });
                }
                Some('}') => {
                    self.bump();
                    break;
                }
                Some('{' | '$' | '`' | '\'' | '"' | '\\' | '\n') => {
                    return Err(self.unsupported("a nested parameter expansion"));
                }
                Some(c) => {
                    name.push(c);
                    self.bump();
                }
            }
        }
        if name.is_empty() {
            return Err(self.unsupported("an empty parameter expansion"));
        }
        Ok(name)
    }

    /// `` `...` ``: the text is unescaped and parsed as a script of its own.
    pub(super) fn lex_backticks(&mut self, in_double_quotes: bool) -> Result<Script, ParseError> {
        let start = self.pos;
        self.bump();
        let mut text = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError::Unterminated {
                        what: "backtick",
                        offset: start,
                    });
                }
                Some('`') => {
                    self.bump();
                    break;
                }
                Some('\\') => {
                    self.bump();
                    match self.peek() {
                        Some(c @ ('`' | '\\' | '$')) => text.push(c),
                        Some('"') if in_double_quotes => text.push('"'),
                        Some(c) => {
                            text.push('\\');
                            text.push(c);
                        }
                        None => {
                            return Err(ParseError::Unterminated {
                                what: "backtick",
                                offset: start,
                            });
                        }
                    }
                    self.bump();
                }
                Some(c) => {
                    text.push(c);
                    self.bump();
                }
            }
        }
        if self.depth + 1 > MAX_NESTING {
            return Err(ParseError::TooDeep { max: MAX_NESTING });
        }
        parse_at_depth(&text, self.depth + 1)
    }

    /// `$'...'` with the cursor on the quote.
    pub(super) fn lex_ansi_c(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.bump();
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(ParseError::Unterminated {
                    what: "$'...' string",
                    offset: start,
                });
            };
            self.bump();
            match c {
                '\'' => return Ok(out),
                '\\' => {
                    let Some(e) = self.peek() else { continue };
                    self.bump();
                    let decoded = match e {
                        'a' => '\u{7}',
                        'b' => '\u{8}',
                        'e' | 'E' => '\u{1b}',
                        'f' => '\u{c}',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'v' => '\u{b}',
                        '\\' | '\'' | '"' | '?' => e,
                        'x' => self.lex_code(16, 2)?,
                        'u' => self.lex_code(16, 4)?,
                        'U' => self.lex_code(16, 8)?,
                        '0'..='7' => {
                            self.pos -= 1;
                            self.lex_code(8, 3)?
                        }
                        'c' => return Err(self.unsupported("a `\\c` escape")),
                        other => {
                            out.push('\\');
                            other
                        }
                    };
                    out.push(decoded);
                }
                other => out.push(other),
            }
        }
    }

    pub(super) fn lex_code(&mut self, radix: u32, max_digits: usize) -> Result<char, ParseError> {
        let mut value: u32 = 0;
        let mut digits = 0;
        while digits < max_digits {
            let Some(d) = self.peek().and_then(|c| c.to_digit(radix)) else {
                break;
            };
            value = value.saturating_mul(radix).saturating_add(d);
            digits += 1;
            self.bump();
        }
        let bad = digits == 0 || value == 0 || ((radix == 8 || max_digits == 2) && value > 0x7f);
        match char::from_u32(value) {
            Some(c) if !bad => Ok(c),
            _ => Err(self.unsupported("this escape in a $'...' string")),
        }
    }
}
