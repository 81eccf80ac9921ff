//! Small text helpers shared by the parts that show or send text.

/// The first `max` characters of `text`, with `...` when it was cut.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// `text` cut to at most `limit` bytes on a character boundary, with `note`
/// on a line of its own when it was cut.
pub fn cut(mut text: String, limit: usize, note: &str) -> String {
    if text.len() > limit {
        let mut at = limit;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        text.push('\n');
        text.push_str(note);
        text.push('\n');
    }
    text
}

/// A span of time in its two largest units: "2d 3h", "5h 12m", "4m 10s", "9s".
pub fn age(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_characters() {
        assert_eq!(shorten("héllo", 2), "hé...");
        assert_eq!(shorten("héllo", 5), "héllo");
        assert_eq!(shorten("", 0), "");
    }

    #[test]
    fn cuts_on_a_character_boundary_with_a_note() {
        let cut_text = cut("é".repeat(10), 5, "[cut]");
        assert_eq!(cut_text, "éé\n[cut]\n");
        assert_eq!(cut("short".into(), 100, "[cut]"), "short");
    }

    #[test]
    fn ages_in_two_units() {
        assert_eq!(age(-5), "0s");
        assert_eq!(age(9_999), "9s");
        assert_eq!(age(250_000), "4m 10s");
        assert_eq!(age(5 * 3_600_000 + 720_000), "5h 12m");
        assert_eq!(age(2 * 86_400_000 + 3 * 3_600_000), "2d 3h");
    }
}
