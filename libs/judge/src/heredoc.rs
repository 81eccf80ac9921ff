//! Here-documents: `<<EOF` starts one, its body follows the end of the line.
//!
//! Why it exists: the body of an unquoted here-document is expanded, so
//! `$(...)` in it runs; the body is read when the line ends and filled into
//! its redirection once the whole command line is parsed.
//! What it must not do: accept a here-document whose end line never comes, or
//! a delimiter with expansions in it.

use crate::ast::{Command, Redirect, RedirectOp, Script, Word, WordPart};
use crate::error::ParseError;
use crate::lex::{Lexer, Parts, PendingHeredoc};

impl Lexer {
    /// Ends a parse: every here-document must have found its end line, and the
    /// bodies are filled into their redirections.
    pub(crate) fn finish(mut self, mut script: Script) -> Result<Script, ParseError> {
        if let Some(p) = self.pending.first() {
            return Err(ParseError::Unterminated {
                what: "here-document",
                offset: p.offset,
            });
        }
        fill_heredocs(&mut script, &mut self.bodies);
        Ok(script)
    }

    pub(crate) fn push_heredoc(
        &mut self,
        delim: String,
        strip_tabs: bool,
        quoted: bool,
        offset: usize,
    ) -> usize {
        let slot = self.bodies.len();
        self.bodies.push(None);
        self.pending.push(PendingHeredoc {
            delim,
            strip_tabs,
            quoted,
            offset,
            slot,
        });
        slot
    }

    /// Reads the bodies of here-documents started on the line just ended.
    pub(super) fn read_heredoc_bodies(&mut self) -> Result<(), ParseError> {
        for doc in std::mem::take(&mut self.pending) {
            let mut body = String::new();
            let mut closed = false;
            while self.pos < self.chars.len() {
                let mut line = String::new();
                while let Some(c) = self.peek().filter(|c| *c != '\n') {
                    line.push(c);
                    self.bump();
                }
                self.bump();
                let line = if doc.strip_tabs {
                    line.trim_start_matches('\t').to_owned()
                } else {
                    line
                };
                if line == doc.delim {
                    closed = true;
                    break;
                }
                body.push_str(&line);
                body.push('\n');
            }
            if !closed {
                return Err(ParseError::Unterminated {
                    what: "here-document",
                    offset: doc.offset,
                });
            }
            let word = self.heredoc_word(&body, &doc)?;
            if let Some(slot) = self.bodies.get_mut(doc.slot) {
                *slot = Some(word);
            }
        }
        Ok(())
    }

    pub(super) fn heredoc_word(
        &self,
        body: &str,
        doc: &PendingHeredoc,
    ) -> Result<Word, ParseError> {
        let raw = format!("<<{}", doc.delim);
        if doc.quoted {
            return Ok(Word {
                parts: vec![WordPart::Lit {
                    text: body.to_owned(),
                    quoted: true,
                }],
                raw,
            });
        }
        let mut sub = Lexer::new(body, self.depth + 1);
        sub.enter()?;
        let mut parts = Parts::default();
        sub.lex_double_quoted(&mut parts, false)?;
        let mut word = Word {
            parts: parts.finish(),
            raw,
        };
        // Substitutions in the body may hold their own here-documents.
        if let Some(p) = sub.pending.first() {
            return Err(ParseError::Unterminated {
                what: "here-document",
                offset: p.offset,
            });
        }
        fill_word(&mut word, &mut sub.bodies);
        Ok(word)
    }

    pub(super) fn parse_heredoc_start(
        &mut self,
        fd: Option<u32>,
        offset: usize,
    ) -> Result<Redirect, ParseError> {
        let strip_tabs = self.peek() == Some('-');
        if strip_tabs {
            self.bump();
            self.skip_blanks();
        }
        let Some(delim) = self.lex_word()? else {
            return Err(ParseError::Unterminated {
                what: "here-document",
                offset,
            });
        };
        let quoted = delim.raw.contains(['\'', '"', '\\']);
        let Some(text) = delim.literal() else {
            return Err(self.unsupported("a here-document delimiter with expansions"));
        };
        let slot = self.push_heredoc(text, strip_tabs, quoted, offset);
        Ok(Redirect {
            fd,
            op: RedirectOp::HereDoc,
            target: Word::default(),
            heredoc: Some(slot),
        })
    }
}

/// Fills here-document bodies into the redirections that asked for them.
pub(crate) fn fill_heredocs(script: &mut Script, bodies: &mut [Option<Word>]) {
    for pipeline in &mut script.pipelines {
        for command in &mut pipeline.commands {
            match command {
                Command::Simple(simple) => {
                    for a in &mut simple.assignments {
                        fill_word(&mut a.value, bodies);
                    }
                    for w in &mut simple.words {
                        fill_word(w, bodies);
                    }
                    fill_redirects(&mut simple.redirects, bodies);
                }
                Command::Subshell { body, redirects } | Command::Group { body, redirects } => {
                    fill_heredocs(body, bodies);
                    fill_redirects(redirects, bodies);
                }
            }
        }
    }
}

pub(crate) fn fill_redirects(redirects: &mut [Redirect], bodies: &mut [Option<Word>]) {
    for r in redirects {
        if let Some(slot) = r.heredoc.take()
            && let Some(body) = bodies.get_mut(slot).and_then(Option::take)
        {
            r.target = body;
        }
        fill_word(&mut r.target, bodies);
    }
}

pub(crate) fn fill_word(word: &mut Word, bodies: &mut [Option<Word>]) {
    for part in &mut word.parts {
        if let WordPart::Subst { script, .. } = part {
            fill_heredocs(script, bodies);
        }
    }
}
