//! Line numbers for YAML nodes. The YAML parser reports where an error is but not
//! where a value that parsed well came from, so these helpers read block-style
//! YAML line by line to find a key's or a list item's line. Flow style
//! (`probes: [{...}]`) is not followed: callers fall back to the parent's line.

/// A meaningful line: its 1-based number, indentation and trimmed text.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    number: u32,
    indent: usize,
    text: &'a str,
}

fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    text.lines().enumerate().filter_map(|(i, raw)| {
        let trimmed = raw.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return None;
        }
        Some(Line {
            number: u32::try_from(i + 1).unwrap_or(u32::MAX),
            indent: raw.len() - trimmed.len(),
            text: trimmed.trim_end(),
        })
    })
}

/// The key a `key: value` or `key:` line starts with, unquoted.
fn key_of(text: &str) -> Option<&str> {
    let text = text.strip_prefix("- ").unwrap_or(text);
    let (key, rest) = if let Some(quoted) = text.strip_prefix('"') {
        let end = quoted.find('"')?;
        (&quoted[..end], &quoted[end + 1..])
    } else if let Some(quoted) = text.strip_prefix('\'') {
        let end = quoted.find('\'')?;
        (&quoted[..end], &quoted[end + 1..])
    } else {
        let end = text.find(':')?;
        (text[..end].trim_end(), &text[end..])
    };
    let rest = rest.trim_start();
    let after = rest.strip_prefix(':')?;
    (after.is_empty() || after.starts_with([' ', '\t'])).then_some(key)
}

/// The line of a top-level `key:`.
pub fn top_key_line(text: &str, key: &str) -> Option<u32> {
    lines(text)
        .find(|l| l.indent == 0 && key_of(l.text) == Some(key))
        .map(|l| l.number)
}

/// The lines of the block under the line `parent` (1-based): those after it,
/// up to the first line indented no deeper than it (a `-` item at the parent's
/// own indentation still belongs to it, as YAML allows for sequences).
fn block<'a>(text: &'a str, parent: u32) -> Vec<Line<'a>> {
    let mut all = lines(text).skip_while(|l| l.number < parent);
    let Some(head) = all.next().filter(|l| l.number == parent) else {
        return Vec::new();
    };
    all.take_while(|l| {
        l.indent > head.indent || (l.indent == head.indent && l.text.starts_with('-'))
    })
    .collect()
}

/// The keys of the mapping under line `parent`, with their lines.
pub fn child_keys(text: &str, parent: u32) -> Vec<(String, u32)> {
    let block = block(text, parent);
    let Some(first) = block.first() else {
        return Vec::new();
    };
    let indent = first.indent;
    block
        .iter()
        .filter(|l| l.indent == indent && !l.text.starts_with('-'))
        .filter_map(|l| key_of(l.text).map(|k| (k.to_owned(), l.number)))
        .collect()
}

/// The lines of the items (`- ...`) of the sequence under line `parent`.
pub fn item_lines(text: &str, parent: u32) -> Vec<u32> {
    let block = block(text, parent);
    let Some(first) = block.first().filter(|l| l.text.starts_with('-')) else {
        return Vec::new();
    };
    let indent = first.indent;
    block
        .iter()
        .filter(|l| l.indent == indent && (l.text == "-" || l.text.starts_with("- ")))
        .map(|l| l.number)
        .collect()
}

/// The first line in `from..to` (1-based, `to` exclusive) holding `key:`.
pub fn key_line_between(text: &str, from: u32, to: u32, key: &str) -> Option<u32> {
    lines(text)
        .filter(|l| l.number >= from && l.number < to)
        .find(|l| key_of(l.text) == Some(key))
        .map(|l| l.number)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
# comment
probes:
  - name: a   # first
    url: http://a
  -
    name: b
    url: http://b

other: 1
services:
  web:
    image: nginx
    ports:
      - \"80:80\"
  'db':
    image: postgres
";

    #[test]
    fn finds_keys_and_items() {
        assert_eq!(top_key_line(DOC, "probes"), Some(2));
        assert_eq!(top_key_line(DOC, "services"), Some(10));
        assert_eq!(top_key_line(DOC, "image"), None);
        assert_eq!(item_lines(DOC, 2), [3, 5]);
        assert_eq!(
            child_keys(DOC, 10),
            [("web".to_owned(), 11), ("db".to_owned(), 15)]
        );
        assert_eq!(key_line_between(DOC, 5, 9, "url"), Some(7));
        assert_eq!(key_line_between(DOC, 3, 5, "name"), Some(3));
    }

    #[test]
    fn items_at_the_parents_indent() {
        let doc = "probes:\n- name: a\n- name: b\nnext: 1\n";
        assert_eq!(item_lines(doc, 1), [2, 3]);
    }

    #[test]
    fn flow_style_has_no_items() {
        assert!(item_lines("probes: [{name: a}]\n", 1).is_empty());
        assert!(item_lines("", 1).is_empty());
        assert!(child_keys("a:\n", 7).is_empty());
    }
}
