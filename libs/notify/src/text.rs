//! Small text helpers for message bodies: Markdown escaping of names, one-line
//! excerpts, durations and timestamps in words. Pure.

use std::time::{Duration, SystemTime};

/// The longest excerpt of free text put on one list line.
const EXCERPT_CHARS: usize = 200;

/// Escapes a name (site, service, worker) for inline Markdown and folds it onto
/// one line, so a name can neither break the layout nor inject a link.
pub(crate) fn md(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in one_line(name).chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Control characters and runs of whitespace become one space.
pub(crate) fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first non-empty line, folded and cut to a readable length.
pub(crate) fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let line = one_line(line);
    if line.chars().count() <= EXCERPT_CHARS {
        return line;
    }
    let cut: String = line.chars().take(EXCERPT_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// "45s", "12m", "4h 5m", "2days 3h": minutes are the finest unit past a minute.
pub(crate) fn duration_words(d: Duration) -> String {
    let secs = d.as_secs();
    let rounded = if secs < 60 { secs } else { secs - secs % 60 };
    humantime::format_duration(Duration::from_secs(rounded)).to_string()
}

/// "2026-11-29 08:00 UTC".
pub(crate) fn timestamp(t: SystemTime) -> String {
    let rfc = humantime::format_rfc3339_seconds(t).to_string();
    // "2026-11-29T08:00:00Z" -> "2026-11-29 08:00 UTC"
    match (rfc.get(..10), rfc.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => rfc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md_escapes_and_folds() {
        let cases = [
            ("jellyfin", "jellyfin"),
            ("my_service", "my\\_service"),
            ("[x](http://evil)", "\\[x\\](http://evil)"),
            ("a\nb\tc", "a b c"),
            ("*bold*", "\\*bold\\*"),
        ];
        for (input, want) in cases {
            assert_eq!(md(input), want, "{input}");
        }
    }

    #[test]
    fn first_line_table() {
        let long = "x".repeat(500);
        let cases = [
            ("\n\n  first  line \nsecond", "first line".to_owned()),
            ("", String::new()),
            (long.as_str(), format!("{}…", "x".repeat(EXCERPT_CHARS - 1))),
        ];
        for (input, want) in cases {
            assert_eq!(first_line(input), want);
        }
    }

    #[test]
    fn duration_words_table() {
        let cases = [
            (0, "0s"),
            (45, "45s"),
            (60, "1m"),
            (125, "2m"),
            (4 * 3600 + 5 * 60 + 59, "4h 5m"),
            (2 * 86400 + 3 * 3600, "2days 3h"),
        ];
        for (secs, want) in cases {
            assert_eq!(duration_words(Duration::from_secs(secs)), want, "{secs}");
        }
    }

    #[test]
    fn timestamp_is_utc_minutes() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_374_400 + 8 * 3600 + 59);
        assert_eq!(timestamp(t), "2025-11-29 08:00 UTC");
    }
}
