//! The shape of a parsed bash command line, and what can be known about a word
//! before the shell expands it.
//!
//! Why it exists: every later step (unwrapping, classification, reasons) asks the
//! same questions of a word: is it a fixed text, could it turn into several words
//! or into an option? Those answers live here, once.
//! What it must not do: guess. A word whose value depends on the environment, a
//! glob or a command's output is never reported as literal.

use std::fmt;

/// A list of pipelines, as separated by `;`, `&`, `&&`, `||` or newlines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Script {
    pub pipelines: Vec<Pipeline>,
}

/// Commands joined by `|` or `|&`; a single command is a pipeline of one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pipeline {
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Simple(SimpleCommand),
    /// `( ... )`: runs in a child shell.
    Subshell {
        body: Script,
        redirects: Vec<Redirect>,
    },
    /// `{ ...; }`: runs in the current shell.
    Group {
        body: Script,
        redirects: Vec<Redirect>,
    },
}

/// One program invocation: `FOO=1 prog arg... >file`.
///
/// After unwrapping, `wrappers` lists what it was found inside (outermost first,
/// for example `ssh nas`, `sudo -u postgres`), `host` the ssh host it runs on and
/// `container` the container it runs in, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SimpleCommand {
    pub assignments: Vec<Assignment>,
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
    pub wrappers: Vec<String>,
    pub host: Option<String>,
    pub container: Option<String>,
}

/// `NAME=value` before a command (or given to `env`, `sudo`, `export`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub name: String,
    pub value: Word,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedirectOp {
    /// `<`
    In,
    /// `>`
    Out,
    /// `>>`
    Append,
    /// `>|`
    Clobber,
    /// `<>`
    ReadWrite,
    /// `<&`
    DupIn,
    /// `>&`
    DupOut,
    /// `&>`
    OutErr,
    /// `&>>`
    AppendOutErr,
    /// `<<` or `<<-`; the target is the body.
    HereDoc,
    /// `<<<`
    HereString,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Redirect {
    pub fd: Option<u32>,
    pub op: RedirectOp,
    pub target: Word,
    /// Index of the here-document body still to be filled in by the parser.
    pub(crate) heredoc: Option<usize>,
}

/// A shell word: the original text and the pieces it expands from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Word {
    pub parts: Vec<WordPart>,
    /// The text as written (or as rebuilt by unwrapping), for messages.
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WordPart {
    /// Text after quote removal. Unquoted text may still hold glob characters.
    Lit { text: String, quoted: bool },
    /// `$NAME`, `${NAME}` or another parameter expansion (`${x:-y}` keeps its
    /// whole text as the name).
    Param { name: String, quoted: bool },
    /// `$(...)`, backticks, `<(...)` or `>(...)`: a command that runs first.
    /// `process` for `<(...)` and `>(...)`, which become a `/dev/fd/N` path.
    Subst {
        script: Script,
        quoted: bool,
        process: bool,
    },
    /// `$((...))`.
    Arith { quoted: bool },
    /// A value only known when the command runs (the path `find -exec` puts in
    /// place of `{}`, the arguments `xargs` appends). `splits` when it may
    /// become several words; `option` when it may start with `-`.
    Dynamic {
        what: String,
        splits: bool,
        option: bool,
    },
}

const GLOB_CHARS: [char; 2] = ['*', '?'];

impl Word {
    /// A word holding a fixed text, for words made by unwrapping.
    pub(crate) fn literal_word(text: &str) -> Word {
        Word {
            parts: vec![WordPart::Lit {
                text: text.to_owned(),
                quoted: true,
            }],
            raw: text.to_owned(),
        }
    }

    /// A placeholder for a value known only at run time.
    pub(crate) fn dynamic(what: &str, splits: bool) -> Word {
        Word {
            parts: vec![WordPart::Dynamic {
                what: what.to_owned(),
                splits,
                option: true,
            }],
            raw: format!("<{what}>"),
        }
    }

    /// A placeholder for one path known only at run time that cannot start
    /// with `-` (a path `find` found under starting points that do not).
    pub(crate) fn dynamic_path(what: &str) -> Word {
        Word {
            parts: vec![WordPart::Dynamic {
                what: what.to_owned(),
                splits: false,
                option: false,
            }],
            raw: format!("<{what}>"),
        }
    }

    /// The exact text of the word if nothing in it expands (no parameters,
    /// substitutions, globs, brace expansion or leading `~`).
    pub(crate) fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                WordPart::Lit { text, quoted } => {
                    if !quoted && (i == 0 && text.starts_with('~') || has_glob(text)) {
                        return None;
                    }
                    out.push_str(text);
                }
                _ => return None,
            }
        }
        if self.has_brace_expansion() {
            return None;
        }
        Some(out)
    }

    /// The fixed text the word starts with, up to the first thing that expands.
    pub(crate) fn literal_prefix(&self) -> String {
        let mut out = String::new();
        for (i, part) in self.parts.iter().enumerate() {
            let WordPart::Lit { text, quoted } = part else {
                break;
            };
            if *quoted {
                out.push_str(text);
                continue;
            }
            if i == 0 && text.starts_with('~') {
                break;
            }
            let stop = text.find(['*', '?', '[', '{']).unwrap_or(text.len());
            out.push_str(&text[..stop]);
            if stop < text.len() {
                break;
            }
        }
        out
    }

    /// Whether the shell may turn this word into zero or several words.
    pub(crate) fn splits(&self) -> bool {
        let unquoted_expansion = self.parts.iter().any(|p| match p {
            WordPart::Lit { text, quoted } => !quoted && has_glob(text),
            WordPart::Param { quoted, .. }
            | WordPart::Subst { quoted, .. }
            | WordPart::Arith { quoted } => !quoted,
            WordPart::Dynamic { splits, .. } => *splits,
        });
        unquoted_expansion || self.has_brace_expansion()
    }

    /// Whether the word could be (or could produce) an argument starting with
    /// `-`, which a program would read as an option.
    pub(crate) fn may_be_option(&self) -> bool {
        if let Some(text) = self.literal() {
            return text.starts_with('-');
        }
        match self.parts.first() {
            Some(WordPart::Subst { process: true, .. }) => return false,
            Some(WordPart::Lit { text, quoted }) if !self.has_expansion() => {
                return glob_may_start_with_dash(text, *quoted);
            }
            _ => {}
        }
        if let Some(WordPart::Dynamic {
            option: false,
            splits: false,
            ..
        }) = self.parts.first()
        {
            return false;
        }
        if self.splits() && self.has_unquoted_split_after_start() {
            return true;
        }
        let prefix = self.literal_prefix();
        prefix.is_empty() || prefix.starts_with('-')
    }

    /// Whether any part is a parameter, substitution or run-time value.
    fn has_expansion(&self) -> bool {
        self.parts
            .iter()
            .any(|p| !matches!(p, WordPart::Lit { .. }))
    }

    /// Unquoted parameters or substitutions split on spaces, so any of their
    /// pieces can start a new word, whatever the word starts with.
    fn has_unquoted_split_after_start(&self) -> bool {
        self.parts.iter().any(|p| match p {
            WordPart::Param { quoted, .. }
            | WordPart::Subst { quoted, .. }
            | WordPart::Arith { quoted } => !quoted,
            WordPart::Dynamic { splits, .. } => *splits,
            WordPart::Lit { .. } => false,
        })
    }

    /// `{a,b}` or `{1..3}` outside quotes.
    fn has_brace_expansion(&self) -> bool {
        let mut unquoted = String::new();
        for part in &self.parts {
            match part {
                WordPart::Lit {
                    text,
                    quoted: false,
                } => unquoted.push_str(text),
                _ => unquoted.push('\u{1}'),
            }
        }
        let Some(open) = unquoted.find('{') else {
            return false;
        };
        let rest = &unquoted[open + 1..];
        let Some(close) = rest.find('}') else {
            return false;
        };
        let inner = &rest[..close];
        inner.contains(',') || inner.contains("..")
    }
}

/// Whether a word of literal text and glob characters (no expansions) could
/// become a word starting with `-`: only if its first character is `-`, or a
/// glob or brace that could match one.
fn glob_may_start_with_dash(text: &str, quoted: bool) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if quoted {
        return first == '-';
    }
    match first {
        '*' | '?' | '{' => true,
        '[' => {
            let body: String = text[1..].chars().take_while(|c| *c != ']').collect();
            body.starts_with(['!', '^']) || body.contains('-')
        }
        c => c == '-',
    }
}

/// Unquoted `*`, `?` or a `[...]` bracket expression.
fn has_glob(text: &str) -> bool {
    if text.contains(GLOB_CHARS) {
        return true;
    }
    match text.find('[') {
        Some(open) => text[open + 1..].contains(']'),
        None => false,
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl SimpleCommand {
    /// The program's name with a standard directory (`/usr/bin/`...) removed, if
    /// the first word is literal. `./x` and other paths keep their directory.
    pub(crate) fn program(&self) -> Option<String> {
        let first = self.words.first()?.literal()?;
        Some(program_name(&first).to_owned())
    }
}

/// Directories whose programs are named without their path.
const STANDARD_DIRS: &str = "/bin/ /sbin/ /usr/bin/ /usr/sbin/ /usr/local/bin/ /usr/local/sbin/";

/// `/usr/bin/docker` is `docker`; `./docker` or `/tmp/docker` stay as written.
pub(crate) fn program_name(word: &str) -> &str {
    for dir in STANDARD_DIRS.split_whitespace() {
        if let Some(rest) = word.strip_prefix(dir)
            && !rest.is_empty()
            && !rest.contains('/')
        {
            return rest;
        }
    }
    word
}

impl Redirect {
    pub(crate) fn display(&self) -> String {
        let fd = self.fd.map(|n| n.to_string()).unwrap_or_default();
        let op = match self.op {
            RedirectOp::In => "<",
            RedirectOp::Out => ">",
            RedirectOp::Append => ">>",
            RedirectOp::Clobber => ">|",
            RedirectOp::ReadWrite => "<>",
            RedirectOp::DupIn => "<&",
            RedirectOp::DupOut => ">&",
            RedirectOp::OutErr => "&>",
            RedirectOp::AppendOutErr => "&>>",
            RedirectOp::HereDoc => return format!("{fd}<<here-document"),
            RedirectOp::HereString => "<<<",
        };
        format!("{fd}{op} {}", self.target.raw)
    }
}
