//! Reads a server-sent-events answer of the router frame by frame, so a test
//! can assert on each event as it arrives and on the stream's end.

use axum::body::Body;
use http_body_util::BodyExt;

use crate::support::DEADLINE;

/// One event as a browser would see it.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// The `id` of a `line` event, its seq.
    pub fn seq(&self) -> i64 {
        self.id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("an event without a numeric id: {self:?}"))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {self:?}"))
    }
}

pub struct SseReader {
    body: Body,
    buffer: String,
    ended: bool,
}

impl SseReader {
    pub fn new(response: axum::response::Response) -> SseReader {
        assert_eq!(response.status(), axum::http::StatusCode::OK);
        let content_type = response
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        SseReader {
            body: response.into_body(),
            buffer: String::new(),
            ended: false,
        }
    }

    /// The next event, or `None` when the stream ended. Keep-alive comments are skipped.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return Some(event);
                }
                continue;
            }
            if self.ended {
                return None;
            }
            let frame = tokio::time::timeout(DEADLINE, self.body.frame())
                .await
                .unwrap_or_else(|_| panic!("no event within the deadline"));
            match frame {
                None => self.ended = true,
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.push_str(&String::from_utf8_lossy(&data));
                    }
                }
                Some(Err(e)) => panic!("the event stream failed: {e}"),
            }
        }
    }

    /// Every event until the stream ends.
    pub async fn rest(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        events
    }

    /// The next `n` events, failing the test if the stream ends first.
    pub async fn take(&mut self, n: usize) -> Vec<SseEvent> {
        let mut events = Vec::with_capacity(n);
        for i in 0..n {
            let event = self
                .next()
                .await
                .unwrap_or_else(|| panic!("the stream ended after {i} of {n} events: {events:?}"));
            events.push(event);
        }
        events
    }
}

fn parse(block: &str) -> Option<SseEvent> {
    let mut event = None;
    let mut id = None;
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        if let Some(value) = field(line, "event") {
            event = Some(value.to_owned());
        } else if let Some(value) = field(line, "id") {
            id = Some(value.to_owned());
        } else if let Some(value) = field(line, "data") {
            data.push(value);
        }
    }
    if event.is_none() && data.is_empty() {
        return None; // a comment (keep-alive)
    }
    Some(SseEvent {
        event: event.unwrap_or_else(|| "message".to_owned()),
        id,
        data: data.join("\n"),
    })
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(name)?.strip_prefix(':')?;
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}
