//! What a wrapper hands on: the inner command or script, and where it runs.
//!
//! Why it exists: every wrapper reader (`runners`, `spawners`, `docker`,
//! `ops`) answers in these words, and `wrappers` dispatches to them; keeping
//! the words here lets the readers import them without importing the dispatch.
//! What it must not do: know any particular wrapper, or import a module of
//! this crate other than the vocabulary, the syntax tree and the option scanner.

use crate::ast::{Assignment, Word};
use crate::opts::{Scanned, Spec, scan};
use crate::vocab::Category;

/// Where the inner command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Runs {
    /// The same process environment (`sudo`, `env`, `timeout`...).
    Same,
    /// A new shell on the same host (`bash -c`): `cd` inside does not leak out.
    Shell,
    /// A login shell: the working directory is the user's home.
    Login,
    Host(String),
    Container(String),
}

pub(crate) enum Peel {
    /// Not a wrapper: classify the command itself.
    No,
    /// The wrapper decides on its own.
    Decided(Category),
    /// Run these words as a command.
    Command {
        words: Vec<Word>,
        assignments: Vec<Assignment>,
        label: String,
        into: Runs,
    },
    /// Parse this text as a shell script.
    Script {
        text: String,
        label: String,
        into: Runs,
    },
    /// Classify the command itself and judge these inner commands too.
    AlsoInner {
        inners: Vec<Vec<Word>>,
        label: String,
        into: Runs,
    },
}

pub(crate) fn unclear(reason: impl Into<String>) -> Peel {
    Peel::Decided(Category::unclear(reason))
}

/// The words before index `end`, as written: the wrapper's label.
pub(crate) fn label(words: &[Word], end: usize) -> String {
    words[..end.min(words.len())]
        .iter()
        .map(|w| w.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `words[start..]` as an inner command in the same environment.
pub(crate) fn inner(words: &[Word], start: usize, into: Runs) -> Peel {
    Peel::Command {
        words: words[start..].to_vec(),
        assignments: Vec::new(),
        label: label(words, start),
        into,
    }
}

/// The text of words that must all be literal, joined by spaces.
pub(crate) fn joined_literal(words: &[Word]) -> Result<String, String> {
    let mut texts = Vec::new();
    for w in words {
        match w.literal() {
            Some(t) => texts.push(t),
            None => return Err(w.raw.clone()),
        }
    }
    Ok(texts.join(" "))
}

pub(crate) fn inner_or(words: &[Word], start: usize, otherwise: Category) -> Peel {
    if words.len() > start {
        inner(words, start, Runs::Same)
    } else {
        Peel::Decided(otherwise)
    }
}

/// Scans the wrapper's options (stopping at the first operand); returns the
/// scan and the index of the inner command.
pub(crate) fn split_options<'w>(words: &'w [Word], spec: &Spec) -> (Scanned<'w>, usize) {
    let rest = words.get(1..).unwrap_or(&[]);
    let scanned = scan(
        rest,
        &Spec {
            permute: false,
            ..*spec
        },
    );
    let start = words.len() - scanned.operands.len();
    (scanned, start)
}
