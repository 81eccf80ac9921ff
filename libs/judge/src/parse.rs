//! A small recursive-descent parser for the bash command lines the model asks
//! to run.
//!
//! Why it exists: the permission hook must see every program a command line
//! starts, including those inside `$(...)`, backticks, subshells and pipelines,
//! and every file a redirection writes.
//! What it must not do: panic, loop or recurse without bound on any input, or
//! accept syntax it does not fully understand (`case`, `[[`, `((`, functions,
//! here-documents without their end line). Those are reported as a
//! [`ParseError`], which the policy treats as a refusal.

use crate::ast::{Command, Pipeline, Redirect, RedirectOp, Script, SimpleCommand};
use crate::error::{MAX_LEN, ParseError};
use crate::lex::{Lexer, as_assignment};

/// Parses a whole command line.
pub(crate) fn parse(src: &str) -> Result<Script, ParseError> {
    parse_at_depth(src, 0)
}

pub(crate) fn parse_at_depth(src: &str, depth: usize) -> Result<Script, ParseError> {
    if src.len() > MAX_LEN {
        return Err(ParseError::TooLong { max: MAX_LEN });
    }
    if let Some((offset, _)) = src
        .char_indices()
        .find(|(_, c)| c.is_control() && *c != '\n' && *c != '\t')
    {
        return Err(ParseError::ControlChar { offset });
    }
    let mut lexer = Lexer::new(src, depth);
    let script = lexer.parse_list(End::Eof)?;
    lexer.finish(script)
}

/// What ends the list being parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Eof,
    Paren,
    Brace,
}

/// Words that are part of bash's compound-command syntax. We let them through
/// as separators: every command between them is judged anyway.
const TRANSPARENT_KEYWORDS: &str = "if then elif else fi do done while until !";
const UNSUPPORTED_KEYWORDS: [&str; 7] =
    ["case", "esac", "select", "function", "coproc", "[[", "(("];

impl Lexer {
    pub(crate) fn parse_list(&mut self, end: End) -> Result<Script, ParseError> {
        let mut script = Script::default();
        let mut need_more = false;
        loop {
            self.skip_space_and_newlines()?;
            match self.peek() {
                None if end == End::Eof && !need_more => break,
                None => return Err(self.unterminated(end)),
                Some(')') if end == End::Paren && !need_more => break,
                Some('}') if self.at_word("}") => {
                    if end == End::Brace && !need_more {
                        break;
                    }
                    return Err(self.unexpected('}'));
                }
                Some(c @ (';' | '&' | '|' | ')')) => return Err(self.unexpected(c)),
                _ => {}
            }
            let before = self.pos();
            if let Some(pipeline) = self.parse_pipeline()? {
                script.pipelines.push(pipeline);
            }
            need_more = self.parse_separator()?;
            if self.pos() == before {
                let c = self.peek().unwrap_or(' ');
                return Err(self.unexpected(c));
            }
        }
        Ok(script)
    }

    /// Consumes what follows a pipeline; true when another pipeline must follow.
    fn parse_separator(&mut self) -> Result<bool, ParseError> {
        self.skip_blanks();
        match self.peek() {
            Some(';') => {
                self.bump();
                if self.peek() == Some(';') {
                    return Err(self.unsupported("`;;`"));
                }
                Ok(false)
            }
            Some('&') => {
                self.bump();
                if self.peek() == Some('&') {
                    self.bump();
                    return Ok(true);
                }
                Ok(false)
            }
            Some('|') => {
                self.bump();
                if self.peek() == Some('|') {
                    self.bump();
                    return Ok(true);
                }
                Err(self.unexpected('|'))
            }
            Some('\n') | Some(')') | Some('}') | None => Ok(false),
            Some(c) => Err(self.unexpected(c)),
        }
    }

    fn parse_pipeline(&mut self) -> Result<Option<Pipeline>, ParseError> {
        let mut pipeline = Pipeline::default();
        loop {
            if let Some(command) = self.parse_command()? {
                pipeline.commands.push(command);
            }
            self.skip_blanks();
            let is_pipe = self.peek() == Some('|') && self.peek_at(1) != Some('|');
            if !is_pipe {
                break;
            }
            self.bump();
            if self.peek() == Some('&') {
                self.bump();
            }
            self.skip_space_and_newlines()?;
            if matches!(self.peek(), None | Some(';' | '&' | '|' | ')')) {
                return Err(self.unexpected_end());
            }
        }
        Ok((!pipeline.commands.is_empty()).then_some(pipeline))
    }

    fn parse_command(&mut self) -> Result<Option<Command>, ParseError> {
        self.skip_blanks();
        for keyword in UNSUPPORTED_KEYWORDS {
            if self.at_word(keyword) || (keyword == "((" && self.starts_with("((")) {
                return Err(self.unsupported("this compound command"));
            }
        }
        if self.peek() == Some('(') {
            let body = self.parse_nested(End::Paren)?;
            let redirects = self.parse_trailing_redirects()?;
            return Ok(Some(Command::Subshell { body, redirects }));
        }
        if self.at_word("{") {
            let body = self.parse_nested(End::Brace)?;
            let redirects = self.parse_trailing_redirects()?;
            return Ok(Some(Command::Group { body, redirects }));
        }
        let simple = self.parse_simple()?;
        let empty =
            simple.words.is_empty() && simple.assignments.is_empty() && simple.redirects.is_empty();
        Ok((!empty).then_some(Command::Simple(simple)))
    }

    /// `( list )` or `{ list }`, with the opening character at the cursor.
    fn parse_nested(&mut self, end: End) -> Result<Script, ParseError> {
        let start = self.pos();
        self.enter()?;
        self.bump();
        let body = self.parse_list(end)?;
        self.leave();
        let closer = if end == End::Paren { ')' } else { '}' };
        if self.peek() != Some(closer) {
            return Err(ParseError::Unterminated {
                what: "group",
                offset: start,
            });
        }
        self.bump();
        Ok(body)
    }

    fn parse_trailing_redirects(&mut self) -> Result<Vec<Redirect>, ParseError> {
        let mut redirects = Vec::new();
        loop {
            self.skip_blanks();
            match self.try_redirect()? {
                Some(r) => redirects.push(r),
                None => break,
            }
        }
        match self.peek() {
            None | Some(';' | '&' | '|' | ')' | '\n') => Ok(redirects),
            Some('}') if self.at_word("}") => Ok(redirects),
            Some(c) => Err(self.unexpected(c)),
        }
    }

    fn parse_simple(&mut self) -> Result<SimpleCommand, ParseError> {
        let mut cmd = SimpleCommand::default();
        loop {
            self.skip_blanks();
            let redirect_ahead = self.starts_with("&>");
            match self.peek() {
                Some('&') if redirect_ahead => {}
                None | Some(';' | '&' | '|' | ')' | '\n') => break,
                Some('(') => return Err(self.unexpected('(')),
                _ => {}
            }
            if let Some(r) = self.try_redirect()? {
                cmd.redirects.push(r);
                continue;
            }
            let at_start = cmd.words.is_empty() && cmd.assignments.is_empty();
            if at_start
                && let Some(k) = TRANSPARENT_KEYWORDS
                    .split_whitespace()
                    .find(|k| self.at_word(k))
            {
                self.advance(k.chars().count());
                continue;
            }
            if at_start && self.at_word("}") {
                break;
            }
            let before = self.pos();
            let Some(word) = self.lex_word()? else {
                let c = self.peek().unwrap_or(' ');
                return Err(ParseError::Unexpected {
                    found: c.to_string(),
                    offset: before,
                });
            };
            if cmd.words.is_empty()
                && let Some(assignment) = as_assignment(&word)
            {
                cmd.assignments.push(assignment);
                continue;
            }
            cmd.words.push(word);
        }
        Ok(cmd)
    }

    /// A redirection at the cursor, if there is one.
    fn try_redirect(&mut self) -> Result<Option<Redirect>, ParseError> {
        let save = self.pos();
        let mut fd_text = String::new();
        while let Some(c) = self.peek().filter(char::is_ascii_digit) {
            fd_text.push(c);
            self.bump();
        }
        let Some(op) = self.redirect_op() else {
            self.set_pos(save);
            return Ok(None);
        };
        let fd = if fd_text.is_empty() {
            None
        } else {
            Some(
                fd_text
                    .parse::<u32>()
                    .map_err(|_| self.unsupported("this file descriptor"))?,
            )
        };
        self.skip_blanks();
        if op == RedirectOp::HereDoc {
            return self.parse_heredoc_start(fd, save).map(Some);
        }
        let Some(target) = self.lex_word()? else {
            return Err(ParseError::Unexpected {
                found: "redirection".into(),
                offset: save,
            });
        };
        Ok(Some(Redirect {
            fd,
            op,
            target,
            heredoc: None,
        }))
    }

    /// Consumes a redirection operator (but not `<(` or `>(`).
    fn redirect_op(&mut self) -> Option<RedirectOp> {
        let ops: [(&str, RedirectOp); 11] = [
            ("&>>", RedirectOp::AppendOutErr),
            ("&>", RedirectOp::OutErr),
            ("<<<", RedirectOp::HereString),
            ("<<", RedirectOp::HereDoc),
            ("<>", RedirectOp::ReadWrite),
            ("<&", RedirectOp::DupIn),
            (">>", RedirectOp::Append),
            (">|", RedirectOp::Clobber),
            (">&", RedirectOp::DupOut),
            ("<", RedirectOp::In),
            (">", RedirectOp::Out),
        ];
        if self.starts_with("<(") || self.starts_with(">(") {
            return None;
        }
        for (text, op) in ops {
            if self.starts_with(text) {
                self.advance(text.chars().count());
                return Some(op);
            }
        }
        None
    }

    fn unterminated(&self, end: End) -> ParseError {
        let what = match end {
            End::Eof => "command",
            End::Paren => "parenthesis",
            End::Brace => "brace group",
        };
        ParseError::Unterminated {
            what,
            offset: self.pos(),
        }
    }

    fn unexpected_end(&self) -> ParseError {
        ParseError::Unexpected {
            found: "end of command".into(),
            offset: self.pos(),
        }
    }
}
