//! The character-level half of the parser: the cursor, quoting and escapes.
//! `$` expansions and backticks live in `dollar.rs`, here-documents in
//! `heredoc.rs`.
//!
//! Why it exists: to turn text into [`Word`]s that remember which pieces were
//! quoted, which expand, and which are commands to run first.
//! What it must not do: index past the input, recurse past
//! [`MAX_NESTING`], or accept a construct it does
//! not know; unknown constructs are errors.

use crate::ast::{Assignment, Word, WordPart};
use crate::error::{MAX_NESTING, ParseError};

pub(crate) struct Lexer {
    pub(super) chars: Vec<char>,
    pub(super) pos: usize,
    pub(super) depth: usize,
    pub(super) pending: Vec<PendingHeredoc>,
    pub(super) bodies: Vec<Option<Word>>,
}

/// A here-document whose body comes after the end of the current line.
pub(super) struct PendingHeredoc {
    pub(super) delim: String,
    pub(super) strip_tabs: bool,
    pub(super) quoted: bool,
    pub(super) offset: usize,
    pub(super) slot: usize,
}

/// Collects word parts, merging neighbouring literal text of the same quoting.
#[derive(Default)]
pub(super) struct Parts {
    pub(super) parts: Vec<WordPart>,
    pub(super) buf: String,
    pub(super) buf_quoted: bool,
    pub(super) started: bool,
    pub(super) pushes: usize,
}

impl Parts {
    pub(super) fn push_char(&mut self, c: char, quoted: bool) {
        if !self.buf.is_empty() && self.buf_quoted != quoted {
            self.flush();
        }
        self.buf_quoted = quoted;
        self.buf.push(c);
        self.started = true;
        self.pushes += 1;
    }

    pub(super) fn push_str(&mut self, s: &str, quoted: bool) {
        if s.is_empty() {
            // `""` still makes a (possibly empty) word.
            self.flush();
            self.parts.push(WordPart::Lit {
                text: String::new(),
                quoted,
            });
            self.started = true;
            self.pushes += 1;
            return;
        }
        for c in s.chars() {
            self.push_char(c, quoted);
        }
    }

    pub(super) fn push_part(&mut self, part: WordPart) {
        self.flush();
        self.parts.push(part);
        self.started = true;
        self.pushes += 1;
    }

    pub(super) fn flush(&mut self) {
        if !self.buf.is_empty() {
            let text = std::mem::take(&mut self.buf);
            self.parts.push(WordPart::Lit {
                text,
                quoted: self.buf_quoted,
            });
        }
    }

    pub(super) fn finish(mut self) -> Vec<WordPart> {
        self.flush();
        self.parts
    }
}

fn is_word_end(c: Option<char>) -> bool {
    matches!(
        c,
        None | Some(' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>')
    )
}

impl Lexer {
    pub(crate) fn new(src: &str, depth: usize) -> Lexer {
        Lexer {
            chars: src.chars().collect(),
            pos: 0,
            depth,
            pending: Vec::new(),
            bodies: Vec::new(),
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }
    pub(crate) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    pub(crate) fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }
    pub(crate) fn bump(&mut self) {
        self.pos = (self.pos + 1).min(self.chars.len());
    }
    pub(crate) fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.chars.len());
    }
    pub(crate) fn starts_with(&self, text: &str) -> bool {
        text.chars()
            .enumerate()
            .all(|(i, c)| self.peek_at(i) == Some(c))
    }

    /// Whether the unquoted word `word` is at the cursor, standing alone.
    pub(crate) fn at_word(&self, word: &str) -> bool {
        self.starts_with(word) && is_word_end(self.peek_at(word.chars().count()))
    }

    pub(crate) fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(ParseError::TooDeep { max: MAX_NESTING });
        }
        Ok(())
    }
    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    pub(crate) fn unexpected(&self, c: char) -> ParseError {
        ParseError::Unexpected {
            found: c.to_string(),
            offset: self.pos,
        }
    }
    pub(crate) fn unsupported(&self, what: &'static str) -> ParseError {
        ParseError::Unsupported {
            what,
            offset: self.pos,
        }
    }

    /// Skips spaces, tabs, line continuations and a comment.
    pub(crate) fn skip_blanks(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t') => self.bump(),
                Some('\\') if self.peek_at(1) == Some('\n') => self.advance(2),
                Some('#') => {
                    while !matches!(self.peek(), None | Some('\n')) {
                        self.bump();
                    }
                }
                _ => break,
            }
        }
    }

    pub(crate) fn skip_space_and_newlines(&mut self) -> Result<(), ParseError> {
        loop {
            self.skip_blanks();
            if self.peek() != Some('\n') {
                return Ok(());
            }
            self.bump();
            self.read_heredoc_bodies()?;
        }
    }

    /// Lexes one word; `None` when the cursor is at a word boundary.
    pub(crate) fn lex_word(&mut self) -> Result<Option<Word>, ParseError> {
        let start = self.pos;
        let mut parts = Parts::default();
        loop {
            let c = match self.peek() {
                Some('<' | '>') if self.peek_at(1) == Some('(') => {
                    self.bump();
                    let script = self.lex_paren_script()?;
                    parts.push_part(WordPart::Subst {
                        script,
                        quoted: true,
                        process: true,
                    });
                    continue;
                }
                c if is_word_end(c) => break,
                Some(c) => c,
                None => break,
            };
            match c {
                '\'' => {
                    let text = self.lex_single_quoted()?;
                    parts.push_str(&text, true);
                }
                '"' => {
                    self.bump();
                    let before = parts.pushes;
                    self.lex_double_quoted(&mut parts, true)?;
                    if parts.pushes == before {
                        parts.push_str("", true);
                    }
                }
                '\\' => {
                    self.bump();
                    match self.peek() {
                        Some('\n') => self.bump(),
                        Some(next) => {
                            parts.push_char(next, true);
                            self.bump();
                        }
                        None => parts.push_char('\\', true),
                    }
                }
                '$' => self.lex_dollar(&mut parts, false)?,
                '`' => {
                    let script = self.lex_backticks(false)?;
                    parts.push_part(WordPart::Subst {
                        script,
                        quoted: false,
                        process: false,
                    });
                }
                _ => {
                    parts.push_char(c, false);
                    self.bump();
                }
            }
        }
        if !parts.started {
            return Ok(None);
        }
        let raw: String = self.chars[start..self.pos].iter().collect();
        Ok(Some(Word {
            parts: parts.finish(),
            raw,
        }))
    }

    pub(super) fn lex_single_quoted(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.bump();
        let mut text = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError::Unterminated {
                        what: "single quote",
                        offset: start,
                    });
                }
                Some('\'') => {
                    self.bump();
                    return Ok(text);
                }
                Some(c) => {
                    text.push(c);
                    self.bump();
                }
            }
        }
    }

    /// The inside of `"..."` (cursor after the quote) or of a here-document
    /// body (`terminated == false`: runs to the end of the input).
    pub(super) fn lex_double_quoted(
        &mut self,
        parts: &mut Parts,
        terminated: bool,
    ) -> Result<(), ParseError> {
        let start = self.pos;
        loop {
            match self.peek() {
                None if terminated => {
                    return Err(ParseError::Unterminated {
                        what: "double quote",
                        offset: start,
                    });
                }
                None => return Ok(()),
                Some('"') if terminated => {
                    self.bump();
                    return Ok(());
                }
                Some('\\') => {
                    self.bump();
                    match self.peek() {
                        Some('\n') => self.bump(),
                        Some(c @ ('$' | '`' | '\\')) => {
                            parts.push_char(c, true);
                            self.bump();
                        }
                        Some('"') if terminated => {
                            parts.push_char('"', true);
                            self.bump();
                        }
                        _ => parts.push_char('\\', true),
                    }
                }
                Some('$') => self.lex_dollar(parts, true)?,
                Some('`') => {
                    let script = self.lex_backticks(true)?;
                    parts.push_part(WordPart::Subst {
                        script,
                        quoted: true,
                        process: false,
                    });
                }
                Some(c) => {
                    parts.push_char(c, true);
                    self.bump();
                }
            }
        }
    }
}

/// `NAME=value` (or `NAME+=value`) if the word starts with one.
pub(crate) fn as_assignment(word: &Word) -> Option<Assignment> {
    let Some(WordPart::Lit {
        text,
        quoted: false,
    }) = word.parts.first()
    else {
        return None;
    };
    let eq = text.find('=')?;
    let name = text[..eq].strip_suffix('+').unwrap_or(&text[..eq]);
    let mut chars = name.chars();
    let first = chars.next()?;
    if !(first.is_ascii_alphabetic() || first == '_')
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    let mut parts = Vec::new();
    let rest = &text[eq + 1..];
    if !rest.is_empty() {
        parts.push(WordPart::Lit {
            text: rest.to_owned(),
            quoted: false,
        });
    }
    parts.extend(word.parts.iter().skip(1).cloned());
    let raw = word
        .raw
        .find('=')
        .map(|i| word.raw[i + 1..].to_owned())
        .unwrap_or_default();
    Some(Assignment {
        name: name.to_owned(),
        value: Word { parts, raw },
    })
}

/// A shell variable name: a letter or `_`, then letters, digits or `_`.
pub(crate) fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
