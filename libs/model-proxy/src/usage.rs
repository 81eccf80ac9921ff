//! Reading token usage out of an answer while it passes through.
//!
//! The bytes are forwarded untouched; this module only looks at a copy. A
//! streamed answer reports usage in two events: `message_start` (the input and
//! cache tokens, in `message.usage`) and `message_delta` (in `usage`, with the
//! output tokens so far; every number there is cumulative). A plain JSON answer
//! has one `usage` object. Nothing here may fail the forwarding: what cannot be
//! read is skipped.

use serde::Deserialize;

use crate::pricing::Usage;

/// A line longer than this is dropped unread: no usage event comes close, and
/// the scanner must not grow without bound on a broken stream.
const MAX_LINE: usize = 4 * 1024 * 1024;

/// One server-sent event that may carry usage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum UsageEvent {
    /// `message_start`: the model of the answer and its first usage.
    Start {
        model: Option<String>,
        usage: UsageFields,
    },
    /// `message_delta`: cumulative usage.
    Delta { usage: UsageFields },
}

/// The usage fields an event carries; absent or null ones are `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct UsageFields {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl UsageFields {
    /// `base` with every field present here replacing its value.
    pub fn over(&self, base: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.unwrap_or(base.input_tokens),
            output_tokens: self.output_tokens.unwrap_or(base.output_tokens),
            cache_creation_input_tokens: self
                .cache_creation_input_tokens
                .unwrap_or(base.cache_creation_input_tokens),
            cache_read_input_tokens: self
                .cache_read_input_tokens
                .unwrap_or(base.cache_read_input_tokens),
        }
    }
}

/// Splits a byte stream into server-sent events, across chunk boundaries.
#[derive(Debug, Default)]
pub(crate) struct SseScanner {
    line: Vec<u8>,
    overlong: bool,
    event: String,
    data: Vec<u8>,
}

impl SseScanner {
    /// Feeds one chunk; returns each usage event completed in it with the
    /// offset just past the blank line that ended it.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<(usize, UsageEvent)> {
        let mut found = Vec::new();
        let mut start = 0;
        while let Some(nl) = chunk[start..].iter().position(|&b| b == b'\n') {
            let end = start + nl;
            self.push(&chunk[start..end]);
            let completed = self.end_line();
            start = end + 1;
            if let Some(event) = completed {
                found.push((start, event));
            }
        }
        self.push(&chunk[start..]);
        found
    }

    /// Whether the bytes fed so far stop inside an event (a part of a line, or
    /// fields without the blank line that ends them).
    pub fn inside_event(&self) -> bool {
        !self.line.is_empty() || self.overlong || !self.event.is_empty() || !self.data.is_empty()
    }

    fn push(&mut self, part: &[u8]) {
        if self.overlong || self.line.len() + part.len() > MAX_LINE {
            self.overlong = true;
            self.line.clear();
        } else {
            self.line.extend_from_slice(part);
        }
    }

    /// Handles the line gathered so far; returns a usage event when it was the
    /// blank line ending one.
    fn end_line(&mut self) -> Option<UsageEvent> {
        let mut line = std::mem::take(&mut self.line);
        if std::mem::take(&mut self.overlong) {
            return None;
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            let data = std::mem::take(&mut self.data);
            return parse_event(&event, &data);
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(0) => return None, // a comment
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (&line[..], &[][..]),
        };
        match field {
            b"event" => self.event = String::from_utf8_lossy(value).into_owned(),
            b"data" if self.data.len() + value.len() <= MAX_LINE => {
                if !self.data.is_empty() {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
            }
            _ => {}
        }
        None
    }
}

fn parse_event(event: &str, data: &[u8]) -> Option<UsageEvent> {
    // Only two events carry usage; the many content deltas are not parsed.
    let named = matches!(event, "message_start" | "message_delta");
    let unnamed_with_usage = event.is_empty() && contains(data, b"\"usage\"");
    if !(named || unnamed_with_usage) {
        return None;
    }
    #[derive(Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Wire {
        MessageStart { message: StartMessage },
        MessageDelta { usage: Option<UsageFields> },
    }
    #[derive(Deserialize)]
    struct StartMessage {
        model: Option<String>,
        usage: Option<UsageFields>,
    }
    match serde_json::from_slice::<Wire>(data).ok()? {
        Wire::MessageStart { message } => Some(UsageEvent::Start {
            model: message.model,
            usage: message.usage.unwrap_or_default(),
        }),
        Wire::MessageDelta { usage } => Some(UsageEvent::Delta {
            usage: usage.unwrap_or_default(),
        }),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The model and usage of a whole (non-streamed) JSON answer.
pub(crate) fn json_usage(body: &[u8]) -> Option<(Option<String>, UsageFields)> {
    #[derive(Deserialize)]
    struct Answer {
        model: Option<String>,
        usage: Option<UsageFields>,
    }
    let answer: Answer = serde_json::from_slice(body).ok()?;
    Some((answer.model, answer.usage?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STREAM: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-haiku-4-5-20251001\",",
        "\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":3,\"cache_read_input_tokens\":4,\"output_tokens\":1}}}\n",
        "\n",
        ": a comment\r\n",
        "event: ping\r\n",
        "data: {\"type\": \"ping\"}\r\n",
        "\r\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"usage\"}}\n",
        "\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":7,\"input_tokens\":null}}\n",
        "\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n",
        "\n",
    );

    fn expected() -> Vec<UsageEvent> {
        vec![
            UsageEvent::Start {
                model: Some("claude-haiku-4-5-20251001".into()),
                usage: UsageFields {
                    input_tokens: Some(12),
                    output_tokens: Some(1),
                    cache_creation_input_tokens: Some(3),
                    cache_read_input_tokens: Some(4),
                },
            },
            UsageEvent::Delta {
                usage: UsageFields {
                    output_tokens: Some(7),
                    ..UsageFields::default()
                },
            },
        ]
    }

    #[test]
    fn finds_usage_events_and_where_they_end() {
        let mut scanner = SseScanner::default();
        let found = scanner.feed(STREAM.as_bytes());
        let events: Vec<UsageEvent> = found.iter().map(|(_, e)| e.clone()).collect();
        assert_eq!(events, expected());
        let start_end = STREAM.find("\n\n").map(|i| i + 2);
        assert_eq!(Some(found[0].0), start_end);
        let delta_end = STREAM.find("\"input_tokens\":null}}\n\n").map(|i| i + 23);
        assert_eq!(Some(found[1].0), delta_end);
        assert_eq!(&STREAM[found[1].0..found[1].0 + 19], "event: message_stop");
    }

    #[test]
    fn an_overlong_line_is_dropped_and_scanning_goes_on() {
        let mut scanner = SseScanner::default();
        let long = vec![b'x'; MAX_LINE + 10];
        assert!(scanner.feed(b"data: ").is_empty());
        assert!(scanner.feed(&long).is_empty());
        assert!(scanner.feed(b"\n\n").is_empty());
        let found = scanner.feed(STREAM.as_bytes());
        assert_eq!(found.len(), 2);
        assert!(!scanner.inside_event());
        scanner.feed(b"event: message_delta\n");
        assert!(scanner.inside_event());
        scanner.feed(b"\n");
        assert!(!scanner.inside_event());
        scanner.feed(b"eve");
        assert!(scanner.inside_event());
    }

    #[test]
    fn a_json_answer_gives_its_usage() {
        let body = br#"{"id":"msg_2","model":"claude-sonnet-4-5","content":[],"usage":{"input_tokens":5,"output_tokens":9}}"#;
        let (model, usage) = json_usage(body).unwrap_or_else(|| panic!("no usage read"));
        assert_eq!(model.as_deref(), Some("claude-sonnet-4-5"));
        assert_eq!(
            usage.over(Usage::default()),
            Usage {
                input_tokens: 5,
                output_tokens: 9,
                ..Usage::default()
            }
        );
        assert!(json_usage(b"not json").is_none());
        assert!(json_usage(br#"{"input_tokens": 3}"#).is_none());
    }

    proptest! {
        #[test]
        fn chunk_boundaries_do_not_matter(cuts in proptest::collection::vec(0..STREAM.len(), 0..12)) {
            let bytes = STREAM.as_bytes();
            let mut cuts = cuts;
            cuts.push(bytes.len());
            cuts.sort_unstable();
            let mut scanner = SseScanner::default();
            let mut events = Vec::new();
            let mut from = 0;
            for cut in cuts {
                for (end, e) in scanner.feed(&bytes[from..cut]) {
                    prop_assert!(end <= cut - from);
                    events.push(e);
                }
                from = cut;
            }
            prop_assert_eq!(events, expected());
        }
    }
}
