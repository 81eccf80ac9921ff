//! The original's text markers, read from the model's text when a session ends
//! without a structured response:
//!
//! - `[EVENT:level] message` and `[EVENT:level:service] message`; the level is
//!   any word, mapped to info, warning or critical as the original did;
//! - `[MEMORY:category] observation` and `[MEMORY:category:service] observation`;
//!   the category is lower-case letters;
//! - `[COOLDOWN:restart|redeployment:service] success|failure - message` (an en
//!   or em dash also separates).
//!
//! One marker per line, anywhere in the line; the rest of the line is its text.
//! Names are `[A-Za-z0-9_-]+`. A line that does not match is not a marker.
//! Pure: the caller decides what a marker becomes.

use crate::event::EventLevel;

/// An `[EVENT:...]` marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMarker {
    pub level: EventLevel,
    pub service: Option<String>,
    pub message: String,
}

/// A `[MEMORY:...]` marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryMarker {
    pub category: String,
    pub service: Option<String>,
    pub observation: String,
}

impl MemoryMarker {
    /// The memory key in this system's form: `category` or `service:category`.
    pub fn key(&self) -> String {
        match &self.service {
            Some(service) => format!("{}:{}", service.to_lowercase(), self.category),
            None => self.category.clone(),
        }
    }
}

/// A `[COOLDOWN:...]` marker: an action the model says it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CooldownMarker {
    /// `restart` or `redeployment`.
    pub action_type: String,
    pub service: String,
    pub success: bool,
    pub message: String,
}

/// Every marker of a text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markers {
    pub events: Vec<EventMarker>,
    pub memories: Vec<MemoryMarker>,
    pub cooldowns: Vec<CooldownMarker>,
}

impl Markers {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.memories.is_empty() && self.cooldowns.is_empty()
    }
}

/// The original's mapping of a free-form level word.
pub fn event_level(word: &str) -> EventLevel {
    match word.to_ascii_lowercase().as_str() {
        "warning" | "warn" | "degraded" => EventLevel::Warning,
        "critical" | "error" | "err" | "fatal" | "failure" | "failed" => EventLevel::Critical,
        _ => EventLevel::Info,
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `[TAG:a]rest` or `[TAG:a:b]rest` somewhere in `line`: (a, b, rest trimmed).
fn fields<'a>(line: &'a str, tag: &str) -> Option<(&'a str, Option<&'a str>, &'a str)> {
    let open = format!("[{tag}:");
    let mut from = 0;
    while let Some(at) = line[from..].find(&open) {
        let start = from + at + open.len();
        from = start;
        let close = line[start..].find(']')?;
        let inside = &line[start..start + close];
        let rest = line[start + close + 1..].trim();
        let (first, second) = match inside.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (inside, None),
        };
        if is_name(first) && second.is_none_or(is_name) && !rest.is_empty() {
            return Some((first, second, rest));
        }
    }
    None
}

fn event(line: &str) -> Option<EventMarker> {
    let (level, service, message) = fields(line, "EVENT")?;
    Some(EventMarker {
        level: event_level(level),
        service: service.map(str::to_owned),
        message: message.to_owned(),
    })
}

fn memory(line: &str) -> Option<MemoryMarker> {
    let (category, service, observation) = fields(line, "MEMORY")?;
    if !category.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    Some(MemoryMarker {
        category: category.to_owned(),
        service: service.map(str::to_owned),
        observation: observation.to_owned(),
    })
}

fn cooldown(line: &str) -> Option<CooldownMarker> {
    let (action_type, service, rest) = fields(line, "COOLDOWN")?;
    if !matches!(action_type, "restart" | "redeployment") {
        return None;
    }
    let service = service?;
    let (success, rest) = if let Some(rest) = rest.strip_prefix("success") {
        (true, rest)
    } else {
        (false, rest.strip_prefix("failure")?)
    };
    let message = rest
        .trim_start()
        .strip_prefix(['-', '\u{2013}', '\u{2014}'])?
        .trim();
    if message.is_empty() {
        return None;
    }
    Some(CooldownMarker {
        action_type: action_type.to_owned(),
        service: service.to_owned(),
        success,
        message: message.to_owned(),
    })
}

/// Every marker in `text`, in order.
pub fn parse(text: &str) -> Markers {
    let mut markers = Markers::default();
    for line in text.lines() {
        if let Some(e) = event(line) {
            markers.events.push(e);
        }
        if let Some(m) = memory(line) {
            markers.memories.push(m);
        }
        if let Some(c) = cooldown(line) {
            markers.cooldowns.push(c);
        }
    }
    markers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_with_and_without_service() {
        let m = parse(
            "checking\n[EVENT:warning:jellyfin] slow answers\n  [EVENT:health-check-success] all good\n[EVENT:ERROR:db] down",
        );
        assert_eq!(
            m.events,
            vec![
                EventMarker {
                    level: EventLevel::Warning,
                    service: Some("jellyfin".into()),
                    message: "slow answers".into()
                },
                EventMarker {
                    level: EventLevel::Info,
                    service: None,
                    message: "all good".into()
                },
                EventMarker {
                    level: EventLevel::Critical,
                    service: Some("db".into()),
                    message: "down".into()
                },
            ]
        );
    }

    #[test]
    fn memories_as_the_original_wrote_them() {
        let m = parse(
            "[MEMORY:timing:jellyfin] Takes 60s to start after restart\n[MEMORY:remediation] DNS fails during reconnects\n[MEMORY:behavior:adguard-home] Redirects to login",
        );
        assert_eq!(m.memories.len(), 3);
        assert_eq!(m.memories[0].key(), "jellyfin:timing");
        assert_eq!(
            m.memories[0].observation,
            "Takes 60s to start after restart"
        );
        assert_eq!(m.memories[1].key(), "remediation");
        assert_eq!(m.memories[1].service, None);
        assert_eq!(m.memories[2].service.as_deref(), Some("adguard-home"));
    }

    #[test]
    fn not_markers() {
        for text in [
            "[MEMORY:TIMING] upper-case category",
            "[MEMORY:timing]",
            "[MEMORY:timing:svc]   ",
            "[MEMORY:] empty",
            "MEMORY:timing no brackets",
            "[EVENT:info] ",
            "[EVENT:in fo] space in level",
            "[EVENT:info:a:b] too many fields",
            "[COOLDOWN:reboot:web] success - not a kind",
            "[COOLDOWN:restart:web] maybe - not a result",
            "[COOLDOWN:restart:web] success no dash",
            "[COOLDOWN:restart] success - no service",
            "",
        ] {
            assert!(parse(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn cooldowns_with_each_dash() {
        let m = parse(
            "[COOLDOWN:restart:web] success - restarted\n[COOLDOWN:redeployment:db] failure \u{2014} compose failed\n[COOLDOWN:restart:x] success\u{2013}ok",
        );
        assert_eq!(m.cooldowns.len(), 3);
        assert!(m.cooldowns[0].success);
        assert_eq!(m.cooldowns[1].action_type, "redeployment");
        assert!(!m.cooldowns[1].success);
        assert_eq!(m.cooldowns[1].message, "compose failed");
        assert_eq!(m.cooldowns[2].message, "ok");
    }

    #[test]
    fn a_marker_later_in_a_line_and_odd_text() {
        let m = parse("note: [x] then [EVENT:critical:web] 502 from upstream [really]");
        assert_eq!(m.events[0].message, "502 from upstream [really]");
        for text in [
            "[EVENT:",
            "[EVENT:a",
            "]]]][[[",
            "[MEMORY:é:ü] x",
            "[EVENT:\u{1F600}] x",
        ] {
            assert!(parse(text).is_empty(), "{text:?}");
        }
    }
}
