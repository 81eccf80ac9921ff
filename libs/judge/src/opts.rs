//! A getopt-like reading of a program's arguments.
//!
//! Why it exists: nearly every rule is "this subcommand, without that option".
//! Options come clustered (`-qO-`), attached (`-ofile`, `--output=file`),
//! abbreviated (`--out`) and after operands; reading them one way everywhere
//! keeps the rules honest.
//! What it must not do: decide anything. It reports what it saw, including
//! words that are not literal and could expand to options, and the caller
//! decides.

use crate::ast::Word;

/// How a program takes its options.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec<'s> {
    /// Short options that take a value, such as `"oHd"`.
    pub short_values: &'s str,
    /// Long options that take a value, without the leading `--`, separated by
    /// spaces.
    pub long_values: &'s str,
    /// Options may follow operands (GNU style).
    pub permute: bool,
}

/// An option's value: its literal text when it has one, and its text as written.
#[derive(Debug, Clone)]
pub(crate) struct Value<'w> {
    pub lit: Option<String>,
    pub word: Option<&'w Word>,
}

impl Value<'_> {
    pub(crate) fn raw(&self) -> String {
        match (&self.lit, self.word) {
            (Some(lit), _) => lit.clone(),
            (None, Some(w)) => w.raw.clone(),
            (None, None) => String::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Opt<'w> {
    /// `-x` or `--name`, as written (a long name may be abbreviated).
    pub name: String,
    pub value: Option<Value<'w>>,
}

impl Opt<'_> {
    /// Whether this option is one of `names`; long names also match an
    /// abbreviation, as GNU getopt accepts them.
    /// `names` is a space-separated list such as `"-o --output"`.
    pub(crate) fn is(&self, names: &str) -> bool {
        names.split_whitespace().any(|n| {
            if self.name == n {
                return true;
            }
            n.starts_with("--")
                && self.name.starts_with("--")
                && self.name.len() >= 3
                && n.starts_with(&self.name)
        })
    }

    pub(crate) fn lit(&self) -> Option<&str> {
        self.value.as_ref().and_then(|v| v.lit.as_deref())
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Scanned<'w> {
    pub opts: Vec<Opt<'w>>,
    pub operands: Vec<&'w Word>,
    /// The first word that is not literal and could expand to an option.
    pub wild: Option<&'w Word>,
    /// A value option at the end with its value missing.
    pub missing_value: Option<String>,
}

impl<'w> Scanned<'w> {
    pub(crate) fn has(&self, names: &str) -> bool {
        self.opts.iter().any(|o| o.is(names))
    }

    pub(crate) fn get(&self, names: &str) -> Option<&Opt<'w>> {
        self.opts.iter().find(|o| o.is(names))
    }

    pub(crate) fn values<'a>(&'a self, names: &'a str) -> impl Iterator<Item = &'a Value<'w>> {
        self.opts
            .iter()
            .filter(move |o| o.is(names))
            .filter_map(|o| o.value.as_ref())
    }

    /// The first option not in `allowed`, an abbreviation counting as a
    /// match (for programs that accept GNU abbreviations).
    pub(crate) fn first_not_in(&self, allowed: &str) -> Option<&Opt<'w>> {
        self.opts.iter().find(|o| !o.is(allowed))
    }

    /// The first option not in `allowed`, spelled exactly: an abbreviation
    /// of an allowed option may also abbreviate another one (`--trace` for
    /// `--trace-time`).
    pub(crate) fn first_not_exactly_in(&self, allowed: &str) -> Option<&Opt<'w>> {
        self.opts.iter().find(|o| !listed(allowed, &o.name))
    }
}

fn long_takes_value(name: &str, spec: &Spec) -> bool {
    !name.is_empty()
        && spec
            .long_values
            .split_whitespace()
            .any(|l| l.starts_with(name))
}

/// Reads `args` (the words after the program or subcommand) as `spec` says.
pub(crate) fn scan<'w>(args: &'w [Word], spec: &Spec) -> Scanned<'w> {
    let mut out = Scanned::default();
    let mut i = 0;
    let mut only_operands = false;
    while i < args.len() {
        let word = &args[i];
        i += 1;
        let Some(text) = word.literal() else {
            if out.wild.is_none() && word.may_be_option() && !only_operands {
                out.wild = Some(word);
            }
            out.operands.push(word);
            only_operands |= !spec.permute;
            continue;
        };
        if only_operands || text == "-" || !text.starts_with('-') {
            out.operands.push(word);
            only_operands |= !spec.permute;
            continue;
        }
        if text == "--" {
            only_operands = true;
            continue;
        }
        if let Some(long) = text.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let value = if inline.is_some() {
                inline.map(|lit| Value {
                    lit: Some(lit),
                    word: Some(word),
                })
            } else if long_takes_value(name, spec) {
                take_value(args, &mut i, &mut out, &format!("--{name}"))
            } else {
                None
            };
            out.opts.push(Opt {
                name: format!("--{name}"),
                value,
            });
            continue;
        }
        let cluster: Vec<char> = text.chars().skip(1).collect();
        for (k, c) in cluster.iter().enumerate() {
            if spec.short_values.contains(*c) {
                let rest: String = cluster[k + 1..].iter().collect();
                let value = if rest.is_empty() {
                    take_value(args, &mut i, &mut out, &format!("-{c}"))
                } else {
                    Some(Value {
                        lit: Some(rest),
                        word: Some(word),
                    })
                };
                out.opts.push(Opt {
                    name: format!("-{c}"),
                    value,
                });
                break;
            }
            out.opts.push(Opt {
                name: format!("-{c}"),
                value: None,
            });
        }
    }
    out
}

fn take_value<'w>(
    args: &'w [Word],
    i: &mut usize,
    out: &mut Scanned<'w>,
    name: &str,
) -> Option<Value<'w>> {
    match args.get(*i) {
        Some(w) => {
            *i += 1;
            if w.literal().is_none() && w.splits() && out.wild.is_none() {
                out.wild = Some(w);
            }
            Some(Value {
                lit: w.literal(),
                word: Some(w),
            })
        }
        None => {
            out.missing_value = Some(name.to_owned());
            None
        }
    }
}

/// Whether `name` is in a space-separated `list`.
pub(crate) fn listed(list: &str, name: &str) -> bool {
    list.split_whitespace().any(|n| n == name)
}
