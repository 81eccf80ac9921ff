//! Just enough Markdown for manifests: headings, pipe tables, bullets, outside
//! fenced code blocks. Never fails: what it cannot read is left to the caller.

/// A block of a Markdown document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Heading {
        level: usize,
        text: String,
        line: u32,
    },
    /// Consecutive lines starting with `|`.
    Table { rows: Vec<Row> },
    /// A `-`, `*` or `+` bullet with its continuation lines joined by spaces.
    Bullet { text: String, line: u32 },
    /// A paragraph's lines joined by spaces.
    Paragraph { text: String, line: u32 },
}

/// One table line split into cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub cells: Vec<String>,
    pub line: u32,
}

fn number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// Splits a document into blocks.
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    let mut open: Option<Block> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = number(i);
        let indent = raw.len() - raw.trim_start().len();
        let trimmed = raw.trim();
        if let Some(marker) = fence {
            if trimmed.starts_with(marker) {
                fence = None;
            }
            continue;
        }
        if indent < 4 && (trimmed.starts_with("```") || trimmed.starts_with("~~~")) {
            out.extend(open.take());
            fence = Some(if trimmed.starts_with("```") {
                "```"
            } else {
                "~~~"
            });
            continue;
        }
        if trimmed.is_empty() {
            out.extend(open.take());
            continue;
        }
        if indent < 4 && trimmed.starts_with('#') {
            let level = trimmed.chars().take_while(|c| *c == '#').count();
            let rest = &trimmed[level..];
            if level <= 6 && (rest.is_empty() || rest.starts_with(' ')) {
                out.extend(open.take());
                let text = rest.trim().trim_end_matches('#').trim().to_owned();
                out.push(Block::Heading { level, text, line });
                continue;
            }
        }
        if indent < 4 && trimmed.starts_with('|') {
            let row = Row {
                cells: split_row(trimmed),
                line,
            };
            match &mut open {
                Some(Block::Table { rows }) => rows.push(row),
                _ => {
                    out.extend(open.take());
                    open = Some(Block::Table { rows: vec![row] });
                }
            }
            continue;
        }
        if let Some(item) = bullet(trimmed).filter(|_| indent < 2) {
            out.extend(open.take());
            open = Some(Block::Bullet {
                text: item.to_owned(),
                line,
            });
            continue;
        }
        match &mut open {
            Some(Block::Bullet { text, .. } | Block::Paragraph { text, .. }) => {
                text.push(' ');
                text.push_str(trimmed);
            }
            _ => {
                out.extend(open.take());
                open = Some(Block::Paragraph {
                    text: trimmed.to_owned(),
                    line,
                });
            }
        }
    }
    out.extend(open);
    out
}

/// The text of a bullet line, without its marker.
fn bullet(trimmed: &str) -> Option<&str> {
    ["- ", "* ", "+ "]
        .iter()
        .find_map(|m| trimmed.strip_prefix(m))
        .map(str::trim)
}

/// The cells of a `| a | b |` line (`\|` is a literal pipe).
pub fn split_row(line: &str) -> Vec<String> {
    let inner = line.trim();
    let inner = inner.strip_prefix('|').unwrap_or(inner);
    let inner = if inner.ends_with('|') && !inner.ends_with("\\|") {
        &inner[..inner.len() - 1]
    } else {
        inner
    };
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                if let Some(cell) = cells.last_mut() {
                    cell.push('|');
                }
            }
            '|' => cells.push(String::new()),
            _ => {
                if let Some(cell) = cells.last_mut() {
                    cell.push(c);
                }
            }
        }
    }
    cells.iter().map(|c| c.trim().to_owned()).collect()
}

/// A `|---|:---:|` row.
pub fn is_separator(row: &Row) -> bool {
    !row.cells.is_empty()
        && row.cells.iter().all(|c| {
            let c = c.trim();
            let c = c.strip_prefix(':').unwrap_or(c);
            let c = c.strip_suffix(':').unwrap_or(c);
            !c.is_empty() && c.chars().all(|ch| ch == '-')
        })
}

/// Inline Markdown removed: `**bold**`, `` `code` ``, `[text](url)` becomes `text`.
pub fn plain(cell: &str) -> String {
    let (text, _) = link(cell);
    text.replace("**", "")
        .replace("__", "")
        .replace('`', "")
        .trim()
        .to_owned()
}

/// The URL a cell holds: a `[text](url)` target, an `<url>`, or the cell itself.
pub fn url_in(cell: &str) -> String {
    let (text, target) = link(cell);
    let raw = target.unwrap_or(text);
    let raw = raw.replace('`', "");
    let raw = raw.trim();
    raw.strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or(raw)
        .trim()
        .to_owned()
}

/// A whole-cell `[text](target)` link, split; otherwise the cell and no target.
fn link(cell: &str) -> (String, Option<String>) {
    let cell = cell.trim();
    let parsed = cell.strip_prefix('[').and_then(|rest| {
        let (text, rest) = rest.split_once("](")?;
        let target = rest.strip_suffix(')')?;
        Some((text.to_owned(), Some(target.trim().to_owned())))
    });
    parsed.unwrap_or_else(|| (cell.to_owned(), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_blocks() {
        let text = "# Title\n\nSome text\nmore.\n\n## Hosts\n\n| a | b |\n|---|---|\n| 1 | x\\|y |\n\n- one\n  continued\n- two\n\n```\n| not | a table |\n```\n";
        let got = blocks(text);
        assert_eq!(got.len(), 6, "{got:?}");
        assert_eq!(
            got[1],
            Block::Paragraph {
                text: "Some text more.".into(),
                line: 3
            }
        );
        let Block::Table { rows } = &got[3] else {
            panic!("{got:?}")
        };
        assert_eq!(rows.len(), 3);
        assert!(is_separator(&rows[1]));
        assert_eq!(rows[2].cells, ["1", "x|y"]);
        assert_eq!(
            got[4],
            Block::Bullet {
                text: "one continued".into(),
                line: 12
            }
        );
    }

    #[test]
    fn inline_markup() {
        assert_eq!(plain("**`jellyfin`**"), "jellyfin");
        assert_eq!(plain("[Sonarr](https://s.lan)"), "Sonarr");
        assert_eq!(url_in("[s](https://s.lan/health)"), "https://s.lan/health");
        assert_eq!(url_in("<https://s.lan>"), "https://s.lan");
        assert_eq!(url_in("`/health`"), "/health");
        assert_eq!(split_row("|a|b"), ["a", "b"]);
        assert_eq!(split_row("|"), [""]);
    }
}
