//! The record of one probe attempt, as the worker reports and stores it.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// At most this many bytes of evidence are kept.
pub const EVIDENCE_LIMIT: usize = 2048;
/// At most this many bytes of message are kept.
pub const MESSAGE_LIMIT: usize = 400;

/// One attempt of one probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub probe: String,
    pub service: String,
    pub ok: bool,
    /// Wall time of the attempt, serialised as whole milliseconds (`latency_ms`).
    #[serde(rename = "latency_ms", with = "millis")]
    pub latency: Duration,
    /// One line: what it saw, or why it failed.
    pub message: String,
    /// An excerpt of at most about 2 KB: a body, a container's state and logs.
    pub evidence: String,
    /// When the attempt started, serialised as RFC 3339.
    #[serde(with = "rfc3339")]
    pub at: SystemTime,
}

/// `text` on one line (control characters become spaces), cut to `max` bytes.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&mut out, max);
    out
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max.saturating_sub(3);
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str("...");
}

/// The last `max` bytes of `text` (whole lines where possible), for log tails.
pub fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let cut = &text[start..];
    match cut.find('\n') {
        Some(i) if i + 1 < cut.len() => cut[i + 1..].to_owned(),
        _ => cut.to_owned(),
    }
}

/// A short span: `350ms`, `4.2s`, `12m 5s`, `7h 3m`, `89d 7h` (negative: `-` first).
pub fn span(ms: f64) -> String {
    let sign = if ms < 0.0 { "-" } else { "" };
    let ms = ms.abs();
    let secs = (ms / 1000.0) as u64;
    let text = if ms < 1000.0 {
        format!("{}ms", ms.round() as u64)
    } else if secs < 60 {
        format!("{:.1}s", ms / 1000.0)
    } else if secs < 3600 {
        format!("{}m {}s", secs / 60, secs % 60)
    } else if secs < 86_400 {
        format!("{}h {}m", secs / 3600, secs % 3600 / 60)
    } else {
        format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600)
    };
    format!("{sign}{text}")
}

/// Replaces every secret in `text` with `***`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        if !secret.is_empty() && out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_rfc3339_millis(*t).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_round_trip() {
        let a = Attempt {
            probe: "web".into(),
            service: "web".into(),
            ok: true,
            latency: Duration::from_millis(42),
            message: "HTTP 200".into(),
            evidence: String::new(),
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        };
        let json = serde_json::to_value(&a).expect("serialises");
        assert_eq!(json["latency_ms"], 42);
        assert_eq!(json["at"], "2023-11-14T22:13:20.123Z");
        let back: Attempt = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back, a);
    }

    #[test]
    fn shortens_text() {
        assert_eq!(one_line("a\nb\t c", 100), "a b c");
        assert_eq!(one_line("abcdef", 5), "ab...");
        assert_eq!(one_line("ééé", 5), "é...");
        assert_eq!(tail("one\ntwo\nthree\n", 8), "three\n");
        assert_eq!(tail("short", 8), "short");
        assert_eq!(span(350.4), "350ms");
        assert_eq!(span(4_250.0), "4.2s");
        assert_eq!(span(725_000.0), "12m 5s");
        assert_eq!(span(25_380_000.0), "7h 3m");
        assert_eq!(span(-(2.0 * 86_400_000.0 + 3_600_000.0)), "-2d 1h");
        assert_eq!(redact("key=s3cret!", &["s3cret".into()]), "key=***!");
    }
}
