//! Path patterns: what a shell word can stand for once the shell has
//! removed quotes, expanded braces and globs, and filled in what is known
//! only at run time, resolved against the working directory and normalised.
//!
//! Why it exists: to tell whether a word could name a protected path, the
//! judge must know every path the word could become, not its text:
//! `wor'k'er.key`, `worker.ke?`, `w{x,orker}.key`, `../../worker.key` and
//! `$dir/worker.key` all name the same file. A pattern is a sequence of
//! pieces (a character, `?`, `*`, a bracket class, or "any text" for a part
//! known only at run time), and two patterns can be tested for a common
//! match ([`intersects`]).
//! What it must not do: touch the file system, or run without bound: brace
//! expansion, split points and glob lengths are capped, and every overlap
//! test spends from a budget.

use std::cell::Cell;

use crate::ast::{Word, WordPart};
use crate::paths::Env;

/// Brace-expansion alternatives followed per word; the rest count as "any".
const MAX_ALTERNATIVES: usize = 8;
/// Split points (`=`, `@`, `:`) whose suffixes are checked as paths too.
const MAX_SPLITS: usize = 4;
/// Longest pattern (after normalising) tested when it holds globs.
pub(crate) const MAX_GLOB_PATTERN: usize = 1024;

/// One piece of a path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum P {
    Ch(char),
    /// `?`: one character other than `/`.
    One,
    /// `*`: any run of characters other than `/`.
    Run,
    /// `[...]`: one character from a set (never `/`).
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
    /// A value known only at run time: any text, `/` included.
    All,
}

impl P {
    pub(crate) fn is_star(&self) -> bool {
        matches!(self, P::Run | P::All)
    }
}

/// The text a pattern starts with, up to its first glob or unknown part.
pub(crate) fn literal_prefix(pattern: &[P]) -> String {
    pattern
        .iter()
        .map_while(|p| match p {
            P::Ch(c) => Some(*c),
            _ => None,
        })
        .collect()
}

/// The word's characters, each marked quoted or not, with every part known
/// only at run time as `None`.
pub(crate) fn flatten(word: &Word, env: &Env) -> Vec<Option<(char, bool)>> {
    let mut out = Vec::new();
    for (i, part) in word.parts.iter().enumerate() {
        match part {
            WordPart::Lit { text, quoted } => {
                let mut chars = text.chars().peekable();
                if i == 0 && !quoted && text.starts_with('~') {
                    // `~` or `~user`: a home directory, unknown here.
                    while chars.peek().is_some_and(|c| *c != '/') {
                        chars.next();
                    }
                    out.push(None);
                }
                out.extend(chars.map(|c| Some((c, *quoted))));
            }
            WordPart::Param { name, .. } if name == "CLAUDEOPS_REPOS_DIR" => {
                out.extend(env.ctx.repos_dir.chars().map(|c| Some((c, true))));
            }
            _ => out.push(None),
        }
    }
    out
}

pub(crate) type Flat = Vec<Option<(char, bool)>>;

/// Brace groups expanded per word at most; past them the rest of the word
/// counts as "any".
const MAX_GROUPS: usize = 16;
/// Words longer than this are checked whole, without their `=`/`@`/`:`
/// pieces.
const MAX_SPLIT_WORD: usize = 4096;

/// Brace expansion of unquoted `{a,b}` groups, up to [`MAX_ALTERNATIVES`]
/// words and [`MAX_GROUPS`] groups; a range (`{1..3}`) or a group past the
/// limits makes the rest of the word "any".
pub(crate) fn expand_braces(flat: Flat) -> Vec<Flat> {
    let mut done = Vec::new();
    let mut work = vec![(flat, 0usize)];
    let mut groups = 0;
    while let Some((flat, from)) = work.pop() {
        let Some((open, commas, close)) = next_group(&flat, from) else {
            done.push(flat);
            continue;
        };
        groups += 1;
        let inner = &flat[open + 1..close];
        let is_range = inner
            .windows(2)
            .any(|w| w[0] == Some(('.', false)) && w[1] == Some(('.', false)));
        let too_many =
            groups > MAX_GROUPS || done.len() + work.len() + commas.len() + 1 > MAX_ALTERNATIVES;
        if is_range || too_many {
            let mut whole = flat[..open].to_vec();
            whole.push(None);
            done.push(whole);
            continue;
        }
        let mut bounds = vec![open];
        bounds.extend(&commas);
        bounds.push(close);
        for pair in bounds.windows(2) {
            let mut alt = flat[..open].to_vec();
            alt.extend_from_slice(&flat[pair[0] + 1..pair[1]]);
            alt.extend_from_slice(&flat[close + 1..]);
            work.push((alt, open));
        }
    }
    done
}

/// The next unquoted brace group at or after `from` that expands (has a
/// comma or `..`): its `{`, its top-level commas and its `}`.
pub(crate) fn next_group(flat: &Flat, mut from: usize) -> Option<(usize, Vec<usize>, usize)> {
    loop {
        let open = from
            + flat
                .get(from..)?
                .iter()
                .position(|c| *c == Some(('{', false)))?;
        let mut depth = 0usize;
        let mut commas = Vec::new();
        let mut close = None;
        for (k, c) in flat.iter().enumerate().skip(open) {
            match c {
                Some(('{', false)) => depth += 1,
                Some(('}', false)) => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(k);
                        break;
                    }
                }
                Some((',', false)) if depth == 1 => commas.push(k),
                _ => {}
            }
        }
        let close = close?;
        let range = flat[open + 1..close]
            .windows(2)
            .any(|w| w[0] == Some(('.', false)) && w[1] == Some(('.', false)));
        if !commas.is_empty() || range {
            return Some((open, commas, close));
        }
        from = open + 1;
    }
}

/// Glob characters become pattern pieces; quoted ones stay literal.
pub(crate) fn to_pattern(flat: &[Option<(char, bool)>]) -> Vec<P> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < flat.len() {
        let Some((c, quoted)) = flat[i] else {
            if out.last() != Some(&P::All) {
                out.push(P::All);
            }
            i += 1;
            continue;
        };
        i += 1;
        if quoted {
            out.push(P::Ch(c));
            continue;
        }
        match c {
            '*' => out.push(P::Run),
            '?' => out.push(P::One),
            '[' => match class(&flat[i..]) {
                Some((piece, used)) => {
                    out.push(piece);
                    i += used;
                }
                None => out.push(P::Ch('[')),
            },
            c => out.push(P::Ch(c)),
        }
    }
    out
}

/// A bracket expression after its `[`: the piece and how many items it used.
pub(crate) fn class(rest: &[Option<(char, bool)>]) -> Option<(P, usize)> {
    let mut k = 0;
    let negated = matches!(rest.first(), Some(Some(('!' | '^', false))));
    if negated {
        k += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while let Some(item) = rest.get(k) {
        let (c, quoted) = (*item)?;
        if c == ']' && !quoted && !first {
            return Some((P::Class { ranges, negated }, k + 1));
        }
        first = false;
        let range_end = match (rest.get(k + 1), rest.get(k + 2)) {
            (Some(Some(('-', false))), Some(Some((end, _)))) if *end != ']' => Some(*end),
            _ => None,
        };
        match range_end {
            Some(end) => {
                ranges.push((c, end));
                k += 3;
            }
            None => {
                ranges.push((c, c));
                k += 1;
            }
        }
    }
    None
}

/// `.` and `..` resolved, `//` collapsed. A `..` after a segment holding an
/// unknown part leaves "any" in its place.
pub(crate) fn normalize_pattern(pattern: &[P]) -> Vec<P> {
    let absolute = pattern.first() == Some(&P::Ch('/'));
    let mut segments: Vec<Vec<P>> = Vec::new();
    for segment in pattern.split(|p| *p == P::Ch('/')) {
        match segment {
            [] | [P::Ch('.')] => {}
            [P::Ch('.'), P::Ch('.')] => match segments.last() {
                Some(last) if last.contains(&P::All) => {
                    segments.pop();
                    segments.push(vec![P::All]);
                }
                Some(last) if last.as_slice() != [P::Ch('.'), P::Ch('.')] => {
                    segments.pop();
                }
                _ if absolute => {}
                _ => segments.push(segment.to_vec()),
            },
            s => segments.push(s.to_vec()),
        }
    }
    let mut out = Vec::new();
    for (i, s) in segments.into_iter().enumerate() {
        if absolute || i > 0 {
            out.push(P::Ch('/'));
        }
        out.extend(s);
    }
    if out.is_empty() && absolute {
        out.push(P::Ch('/'));
    }
    out
}

/// The character set a piece consumes.
pub(crate) fn overlap(a: &P, b: &P) -> bool {
    match (a, b) {
        (P::Ch(x), P::Ch(y)) => x == y,
        (P::Ch(c), P::One | P::Run) | (P::One | P::Run, P::Ch(c)) => *c != '/',
        (P::Ch(c), P::Class { ranges, negated }) | (P::Class { ranges, negated }, P::Ch(c)) => {
            *c != '/' && ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated
        }
        _ => true,
    }
}

/// Whether some text matches both patterns, within `budget` steps.
pub(crate) fn intersects(a: &[P], b: &[P], budget: &Cell<usize>) -> Option<bool> {
    let width = b.len() + 1;
    let mut seen = vec![false; (a.len() + 1) * width];
    let mut stack = vec![(0usize, 0usize)];
    while let Some((i, j)) = stack.pop() {
        let slot = i * width + j;
        if seen[slot] {
            continue;
        }
        seen[slot] = true;
        let left = budget.get().checked_sub(1)?;
        budget.set(left);
        if i == a.len() && j == b.len() {
            return Some(true);
        }
        if a.get(i).is_some_and(P::is_star) {
            stack.push((i + 1, j));
        }
        if b.get(j).is_some_and(P::is_star) {
            stack.push((i, j + 1));
        }
        if let (Some(pa), Some(pb)) = (a.get(i), b.get(j))
            && overlap(pa, pb)
        {
            let ni = if pa.is_star() { i } else { i + 1 };
            let nj = if pb.is_star() { j } else { j + 1 };
            stack.push((ni, nj));
        }
    }
    Some(false)
}

/// The patterns a word may stand for: every brace alternative, each piece
/// between `=`, `@`, `:` and `,` (option values, `@file`, `src:dst`,
/// `source=...`) and each suffix after one.
pub(crate) fn candidates(word: &Word, env: &Env) -> Vec<Vec<P>> {
    let mut out = Vec::new();
    for flat in expand_braces(flatten(word, env)) {
        if flat.len() > MAX_SPLIT_WORD {
            out.push(to_pattern(&flat));
            continue;
        }
        let splits: Vec<usize> = flat
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c, Some(('=' | '@' | ':' | ',', _))))
            .map(|(k, _)| k)
            .take(MAX_SPLITS)
            .collect();
        let mut start = 0;
        for &k in &splits {
            out.push(to_pattern(&flat[start..k]));
            out.push(to_pattern(&flat[k + 1..]));
            start = k + 1;
        }
        out.push(to_pattern(&flat));
    }
    out
}

/// Where a pattern may point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// An absolute path, for a known working directory.
    Anchored,
    /// Its start is known only at run time (`$dir/x`).
    Floating,
    /// A relative name in an unknown working directory.
    Unplaced,
}

/// Where a pattern may point: one absolute pattern for each known working
/// directory, or one whose start is unknown.
pub(crate) fn placed(pattern: &[P], env: &Env) -> Vec<(Vec<P>, Place)> {
    let normal = normalize_pattern(pattern);
    // Nothing but unknown parts and slashes (`"$f"`, `/$dir`): it could be
    // anything, so only the sandbox can tell.
    if normal.contains(&P::All) && normal.iter().all(|p| matches!(p, P::All | P::Ch('/'))) {
        return Vec::new();
    }
    match normal.first() {
        // `/$x/...`: the first directory is unknown, so the start is too.
        Some(P::Ch('/')) if normal.get(1) == Some(&P::All) => vec![(normal, Place::Floating)],
        Some(P::Ch('/')) => vec![(normal, Place::Anchored)],
        Some(P::All) => vec![(normal, Place::Floating)],
        _ => env
            .cwds
            .iter()
            .map(|cwd| match cwd {
                Some(dir) => {
                    let mut joined: Vec<P> = dir.chars().map(P::Ch).collect();
                    joined.push(P::Ch('/'));
                    joined.extend_from_slice(&normal);
                    (normalize_pattern(&joined), Place::Anchored)
                }
                None => {
                    let mut joined = vec![P::All, P::Ch('/')];
                    joined.extend_from_slice(&normal);
                    (joined, Place::Unplaced)
                }
            })
            .collect(),
    }
}

/// A path with `//` and `.` removed but `..` kept: what the kernel walks
/// when a `..` follows a `/proc` link, which points somewhere else.
pub(crate) fn lightly_normalized(pattern: &[P]) -> Vec<P> {
    let mut out = Vec::new();
    for (i, segment) in pattern.split(|p| *p == P::Ch('/')).enumerate() {
        if (segment.is_empty() && i > 0) || segment == [P::Ch('.')] {
            continue;
        }
        if i > 0 {
            out.push(P::Ch('/'));
        }
        out.extend_from_slice(segment);
    }
    out
}
