//! `.claude-ops/probes/*.yaml`: a top-level `probes:` list of probe specs, in the
//! exact serde shape of [`ProbeSpec`] (kebab-case keys), like Gatus `endpoints:`.
//!
//! One bad entry is a problem on its own line; the other entries still load.

use std::fmt;

use claudeops_core::probe::ProbeSpec;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::model::{Problem, file_source};
use crate::yaml_lines;

/// The top-level key holding the list.
pub const PROBES_KEY: &str = "probes";

/// Whether a probe may use this URL scheme (the probe engine's list, see
/// `docs/probes.md`).
pub fn known_scheme(scheme: &str) -> bool {
    claudeops_core::probe::ProbeKind::from_scheme(scheme).is_some()
}

/// Probes read from one file, with the problems found in it.
#[derive(Debug, Default)]
pub struct Parsed {
    pub probes: Vec<ProbeSpec>,
    pub problems: Vec<Problem>,
}

/// Reads one probe file. `path` (relative to the repos directory) names it in
/// problems and in each probe's source.
pub fn parse(text: &str, path: &str) -> Parsed {
    let mut out = Parsed::default();
    let doc: serde_norway::Value = match serde_norway::from_str(text) {
        Ok(doc) => doc,
        Err(e) => {
            let (line, message) = yaml_error(&e);
            out.problems.push(Problem::new(
                path,
                line.map(|l| within(text, l)),
                format!("not valid YAML: {message}; fix the syntax"),
            ));
            return out;
        }
    };
    let map = match doc {
        serde_norway::Value::Null => return out,
        serde_norway::Value::Mapping(map) => map,
        _ => {
            out.problems.push(Problem::new(
                path,
                Some(1),
                "expected a mapping with a `probes:` list at the top",
            ));
            return out;
        }
    };
    for key in map.keys() {
        let name = key.as_str().unwrap_or("(not a string)");
        if name != PROBES_KEY {
            let line = key.as_str().and_then(|k| yaml_lines::top_key_line(text, k));
            out.problems.push(Problem::new(
                path,
                line,
                format!("unknown top-level key `{name}`; only `probes:` is read"),
            ));
        }
    }
    let probes_line = yaml_lines::top_key_line(text, PROBES_KEY);
    let items = match map.get(PROBES_KEY) {
        None | Some(serde_norway::Value::Null) => return out,
        Some(serde_norway::Value::Sequence(items)) => items,
        Some(_) => {
            out.problems.push(Problem::new(
                path,
                probes_line,
                "`probes:` must be a list of probes",
            ));
            return out;
        }
    };
    let mut lines = probes_line.map_or_else(Vec::new, |l| yaml_lines::item_lines(text, l));
    if lines.len() != items.len() {
        lines = vec![probes_line.unwrap_or(1); items.len()];
    }
    let ends: Vec<u32> = lines.iter().skip(1).copied().chain([u32::MAX]).collect();
    for (index, ((item, line), end)) in items.iter().zip(lines).zip(ends).enumerate() {
        if let Some((at, message)) = bad_duration(item, text, line, end) {
            out.problems.push(Problem::new(
                path,
                Some(at),
                format!("probes[{index}].{message}"),
            ));
            continue;
        }
        match serde_norway::from_value::<ProbeSpec>(item.clone()) {
            Ok(mut spec) => match check(&mut spec) {
                Ok(()) => {
                    spec.source = file_source(path, line);
                    out.probes.push(spec);
                }
                Err(message) => out.problems.push(Problem::new(
                    path,
                    Some(line),
                    format!("probes[{index}]: {message}"),
                )),
            },
            Err(e) => {
                let (at, message) = entry_error(text, index)
                    .unwrap_or_else(|| (Some(line), format!("probes[{index}]: {e}")));
                out.problems.push(Problem::new(
                    path,
                    at.or(Some(line)),
                    format!("{message}; see docs/discovery.md for the format"),
                ));
            }
        }
    }
    out
}

/// Checks what serde cannot: a name, a URL with a known scheme. Fills `service`
/// with the name when it is empty.
pub fn check(spec: &mut ProbeSpec) -> Result<(), String> {
    spec.name = spec.name.trim().to_owned();
    if spec.name.is_empty() {
        return Err("missing name: give every probe a unique `name`".to_owned());
    }
    spec.url = spec.url.trim().to_owned();
    let scheme = spec
        .url
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase());
    match scheme {
        Some(s) if known_scheme(&s) => {}
        Some(s) => {
            return Err(format!(
                "probe `{}` has unknown URL scheme `{s}://`; use one of {}",
                spec.name,
                claudeops_core::probe::SCHEMES
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        None => {
            return Err(format!(
                "probe `{}` has no URL scheme in `{}`; write e.g. `https://host/health` or `tcp://host:port`",
                spec.name, spec.url
            ));
        }
    }
    if spec.service.trim().is_empty() {
        spec.service = spec.name.clone();
    }
    Ok(())
}

/// A duration field (`interval`, `timeout`) that does not parse, with its line
/// (searched between the entry's first line and the next entry's).
fn bad_duration(
    item: &serde_norway::Value,
    text: &str,
    from: u32,
    to: u32,
) -> Option<(u32, String)> {
    ["interval", "timeout"].into_iter().find_map(|key| {
        let value = item.get(key)?;
        let shown = match value {
            serde_norway::Value::String(s) => s.clone(),
            serde_norway::Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let e = humantime::parse_duration(shown.trim()).err()?;
        let line = yaml_lines::key_line_between(text, from, to, key).unwrap_or(from);
        Some((
            line,
            format!("{key}: `{shown}` is not a duration ({e}); write e.g. `30s`, `5m` or `1h30m`"),
        ))
    })
}

/// The line and message of a YAML error, without the position suffix.
pub fn yaml_error(e: &serde_norway::Error) -> (Option<u32>, String) {
    let text = e.to_string();
    match e.location() {
        Some(loc) => {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
            (u32::try_from(loc.line()).ok(), message)
        }
        None => (None, text),
    }
}

/// A line the parser gave, kept inside the file: an unclosed `[`, `{` or
/// quote is found at the end of input, a line past the last one; the last
/// line with text is where it is.
fn within(text: &str, line: u32) -> u32 {
    let last = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, _)| u32::try_from(i + 1).unwrap_or(u32::MAX))
        .last()
        .unwrap_or(1);
    line.min(last)
}

/// Reads entry `index` again, straight from the text, so the parser's error
/// carries the line it happened on and the entry's path (`probes[1]: ...`).
fn entry_error(text: &str, index: usize) -> Option<(Option<u32>, String)> {
    let de = serde_norway::Deserializer::from_str(text);
    let e = FileSeed(index).deserialize(de).err()?;
    let (line, message) = yaml_error(&e);
    message
        .starts_with(&format!("{PROBES_KEY}[{index}]"))
        .then_some((line, message))
}

struct FileSeed(usize);

impl<'de> DeserializeSeed<'de> for FileSeed {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FileSeed {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping with a `probes:` list")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == PROBES_KEY {
                map.next_value_seed(ListSeed(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct ListSeed(usize);

impl<'de> DeserializeSeed<'de> for ListSeed {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of probes")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for _ in 0..self.0 {
            seq.next_element::<IgnoredAny>()?;
        }
        seq.next_element::<ProbeSpec>()?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use claudeops_core::probe::Source;
    use std::time::Duration;

    fn lines_of(parsed: &Parsed) -> Vec<(String, u32)> {
        parsed
            .probes
            .iter()
            .map(|p| match &p.source {
                Source::File { line, .. } => (p.name.clone(), *line),
                other => panic!("unexpected source {other:?}"),
            })
            .collect()
    }

    #[test]
    fn reads_entries_with_their_lines() {
        let text = "\
probes:
  - name: web
    url: https://web.lan/health
    conditions: ['[STATUS] == 200']
    interval: 30s
  # a comment
  - name: dns
    url: dns://192.0.2.1:53
    dns:
      query-name: nas.lan
";
        let parsed = parse(text, "r/.claude-ops/probes/a.yaml");
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        assert_eq!(
            lines_of(&parsed),
            [("web".to_owned(), 2), ("dns".to_owned(), 7)]
        );
        assert_eq!(parsed.probes[0].interval, Some(Duration::from_secs(30)));
        assert_eq!(parsed.probes[0].service, "web");
        assert_eq!(
            parsed.probes[1].dns.as_ref().map(|d| d.query_type.as_str()),
            Some("A")
        );
    }

    #[test]
    fn a_bad_entry_is_a_problem_on_its_line() {
        let text = "\
probes:
  - name: ok
    url: tcp://nas.lan:22
  - name: bad
    url: https://x
    retries: 3
  - name: slow
    url: https://y
    interval: 5 fortnights
  - url: https://nameless
  - name: odd
    url: gopher://z
";
        let parsed = parse(text, "p.yaml");
        assert_eq!(lines_of(&parsed), [("ok".to_owned(), 2)]);
        let got: Vec<(Option<u32>, &str)> = parsed
            .problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0].0, Some(6));
        assert!(
            got[0].1.starts_with("probes[1]: unknown field `retries`"),
            "{got:?}"
        );
        assert_eq!(got[1].0, Some(9));
        assert!(
            got[1]
                .1
                .starts_with("probes[2].interval: `5 fortnights` is not a duration"),
            "{got:?}"
        );
        assert_eq!(got[2].0, Some(10));
        assert!(got[2].1.contains("missing field `name`"), "{got:?}");
        assert_eq!(got[3].0, Some(11));
        assert!(
            got[3].1.contains("unknown URL scheme `gopher://`"),
            "{got:?}"
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let parsed = parse("probes:\n  - name: a\n    url: [x\n", "p.yaml");
        assert!(parsed.probes.is_empty());
        assert_eq!(parsed.problems.len(), 1);
        assert_eq!(parsed.problems[0].line, Some(3), "the unclosed `[`'s line");
        let parsed = parse(
            "probes:\n  - name: a\n    url: http://a\n   bad: indent\n  - name: b\n",
            "p.yaml",
        );
        assert_eq!(parsed.problems.len(), 1, "{:?}", parsed.problems);
        assert_eq!(parsed.problems[0].line, Some(4), "{:?}", parsed.problems);
        assert!(parsed.problems[0].message.starts_with("not valid YAML"));
    }

    #[test]
    fn odd_shapes_are_problems_not_panics() {
        for text in [
            "",
            "# nothing\n",
            "probes:\n",
            "- a\n",
            "probes: 3\n",
            "x: 1\n",
            "probes: [{name: a, url: 'http://a'}]\n",
        ] {
            let parsed = parse(text, "p.yaml");
            assert!(parsed.probes.len() <= 1, "{text:?}");
        }
        let flow = parse("probes: [{name: a, url: 'http://a'}]\n", "p.yaml");
        assert_eq!(lines_of(&flow), [("a".to_owned(), 1)]);
        assert_eq!(
            parse("x: 1\nprobes: []\n", "p.yaml").problems[0].line,
            Some(1)
        );
    }
}
