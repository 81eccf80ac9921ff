//! The Messages API wire format for a scripted [`Turn`]: the server-sent
//! events of a streaming reply and the JSON of a non-streaming one.
//!
//! Kept apart from the server so the exact event shapes the `claude` CLI
//! parses live in one place and can be unit-tested without sockets.

use serde_json::{Value, json};

use super::script::{Block, Turn};

/// Token counts reported for one reply; the CLI turns them into a cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Tokens the request would cost as input.
    pub input_tokens: u64,
    /// Tokens of the generated reply.
    pub output_tokens: u64,
}

impl Usage {
    /// Rough counts: about four bytes a token, never zero.
    pub fn estimate(request_bytes: usize, turn: &Turn) -> Self {
        let output_bytes: usize = turn.blocks.iter().map(block_len).sum();
        Usage {
            input_tokens: tokens(request_bytes),
            output_tokens: tokens(output_bytes) + 8 * turn.blocks.len() as u64,
        }
    }
}

fn tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4).max(1)
}

fn block_len(block: &Block) -> usize {
    match block {
        Block::Text(text) => text.len(),
        Block::ToolUse { name, input } => name.len() + input.to_string().len(),
    }
}

/// Identifiers of one reply: the message id and one id per tool call.
#[derive(Debug, Clone)]
pub struct Ids {
    /// `msg_...`
    pub message: String,
    /// Stem for tool-use ids; block `i` gets `{tool_stem}_{i}`.
    pub tool_stem: String,
}

impl Ids {
    /// Ids derived from a per-server sequence number.
    pub fn from_seq(seq: u64) -> Self {
        Ids {
            message: format!("msg_scripted_{seq:08}"),
            tool_stem: format!("toolu_scripted_{seq:08}"),
        }
    }

    fn tool(&self, index: usize) -> String {
        format!("{}_{index}", self.tool_stem)
    }
}

/// One server-sent event, already framed (`event: ...\ndata: ...\n\n`).
fn frame(data: &Value) -> String {
    let name = data["type"].as_str().unwrap_or("message");
    format!("event: {name}\ndata: {data}\n\n")
}

/// The server-sent events of a streaming reply, one framed event each.
pub fn stream_events(turn: &Turn, model: &str, usage: Usage, ids: &Ids) -> Vec<String> {
    let mut events = vec![frame(&message_start(model, usage, ids))];
    for (index, block) in turn.blocks.iter().enumerate() {
        events.push(frame(&block_start(index, block, ids)));
        for delta in block_deltas(block) {
            events.push(frame(&json!({
                "type": "content_block_delta", "index": index, "delta": delta,
            })));
        }
        events.push(frame(
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push(frame(&message_delta(turn, usage)));
    events.push(frame(&json!({"type": "message_stop"})));
    events
}

fn message_start(model: &str, usage: Usage, ids: &Ids) -> Value {
    json!({
        "type": "message_start",
        "message": {
            "id": ids.message, "type": "message", "role": "assistant",
            "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null,
            "usage": {
                "input_tokens": usage.input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 1,
            },
        },
    })
}

fn block_start(index: usize, block: &Block, ids: &Ids) -> Value {
    let content_block = match block {
        Block::Text(_) => json!({"type": "text", "text": ""}),
        Block::ToolUse { name, .. } => json!({
            "type": "tool_use", "id": ids.tool(index), "name": name, "input": {},
        }),
    };
    json!({"type": "content_block_start", "index": index, "content_block": content_block})
}

/// Deltas of one block; text and JSON are split in two to exercise the
/// client's reassembly.
fn block_deltas(block: &Block) -> Vec<Value> {
    match block {
        Block::Text(text) => halves(text)
            .into_iter()
            .map(|part| json!({"type": "text_delta", "text": part}))
            .collect(),
        Block::ToolUse { input, .. } => halves(&input.to_string())
            .into_iter()
            .map(|part| json!({"type": "input_json_delta", "partial_json": part}))
            .collect(),
    }
}

/// `text` cut in two at a character boundary near the middle (one part if short).
fn halves(text: &str) -> Vec<&str> {
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid += 1;
    }
    let (head, tail) = text.split_at(mid);
    [head, tail].into_iter().filter(|p| !p.is_empty()).collect()
}

fn message_delta(turn: &Turn, usage: Usage) -> Value {
    json!({
        "type": "message_delta",
        "delta": {"stop_reason": turn.stop_reason().as_str(), "stop_sequence": null},
        "usage": {
            "input_tokens": usage.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": usage.output_tokens,
        },
    })
}

/// The JSON body of a non-streaming reply.
pub fn message(turn: &Turn, model: &str, usage: Usage, ids: &Ids) -> Value {
    let content: Vec<Value> = turn
        .blocks
        .iter()
        .enumerate()
        .map(|(index, block)| match block {
            Block::Text(text) => json!({"type": "text", "text": text}),
            Block::ToolUse { name, input } => json!({
                "type": "tool_use", "id": ids.tool(index), "name": name, "input": input,
            }),
        })
        .collect();
    json!({
        "id": ids.message, "type": "message", "role": "assistant",
        "model": model, "content": content,
        "stop_reason": turn.stop_reason().as_str(), "stop_sequence": null,
        "usage": {
            "input_tokens": usage.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": usage.output_tokens,
        },
    })
}

/// An Anthropic-style error body.
pub fn error(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_of(event: &str) -> Value {
        let line = event
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .expect("data line");
        serde_json::from_str(line).expect("json data")
    }

    #[test]
    fn tool_turn_streams_reassemblable_json() {
        let turn = Turn::text("é checking").and(Block::bash("echo hi"));
        let ids = Ids::from_seq(7);
        let usage = Usage::estimate(400, &turn);
        let events: Vec<Value> = stream_events(&turn, "m", usage, &ids)
            .iter()
            .map(|e| data_of(e))
            .collect();
        let json: String = events
            .iter()
            .filter_map(|e| e["delta"]["partial_json"].as_str())
            .collect();
        let input: Value = serde_json::from_str(&json).expect("input reassembles");
        assert_eq!(input["command"], "echo hi");
        let text: String = events
            .iter()
            .filter_map(|e| e["delta"]["text"].as_str())
            .collect();
        assert_eq!(text, "é checking");
        let last_delta = &events[events.len() - 2];
        assert_eq!(last_delta["delta"]["stop_reason"], "tool_use");
        assert_eq!(events[0]["message"]["usage"]["input_tokens"], 100);
    }

    #[test]
    fn non_streaming_message_has_ids_and_stop_reason() {
        let body = message(
            &Turn::bash("ls"),
            "m",
            Usage::estimate(8, &Turn::bash("ls")),
            &Ids::from_seq(1),
        );
        assert_eq!(body["content"][0]["id"], "toolu_scripted_00000001_0");
        assert_eq!(body["stop_reason"], "tool_use");
    }
}
