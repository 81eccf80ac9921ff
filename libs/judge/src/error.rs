//! Why a command line could not be parsed, and the limits that bound the parser.
//!
//! Why it exists: the lexer, the here-document reader, the `$` reader and the
//! parser all report the same errors and stop at the same depth; keeping those
//! here lets each of them import it without importing one another.
//! What it must not do: import another module of this crate.

/// Longest command line we parse, in bytes.
pub(crate) const MAX_LEN: usize = 100_000;
/// Deepest nesting of subshells, groups and substitutions we parse.
pub(crate) const MAX_NESTING: usize = 24;

/// Why a command line could not be parsed with confidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    #[error("the command is longer than {max} bytes")]
    TooLong { max: usize },
    #[error("the command contains a control character at offset {offset}")]
    ControlChar { offset: usize },
    #[error("unterminated {what} starting at offset {offset}")]
    Unterminated { what: &'static str, offset: usize },
    #[error("unexpected `{found}` at offset {offset}")]
    Unexpected { found: String, offset: usize },
    #[error("{what} at offset {offset} is not supported")]
    Unsupported { what: &'static str, offset: usize },
    #[error("nesting deeper than {max} levels")]
    TooDeep { max: usize },
}
