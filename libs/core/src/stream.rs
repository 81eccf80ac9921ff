//! The `claude` CLI's `--output-format stream-json --verbose` lines, classified.
//!
//! The worker forwards every line unchanged; this module only reads them, so the
//! control plane can fill a session's outcome and the dashboard can show tool calls.
//! A line that is not what we expect is never an error for the session: it is kept
//! raw and flagged by the caller.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One thing a stream-json line says. An assistant line may say several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The CLI started: the model and tools it has.
    Init {
        model: Option<String>,
        tools: Vec<String>,
        mcp_servers: Vec<McpServerStatus>,
    },
    /// Text from the model.
    Text { text: String },
    /// The model called a tool.
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// A tool's answer (or the permission system's refusal).
    ToolResult {
        tool_use_id: String,
        content: String,
        is_error: bool,
    },
    /// A browser screenshot the worker added to the output for the operator
    /// (the model is not shown it), secrets masked before capture.
    Screenshot {
        n: i64,
        media_type: String,
        /// Base64 of the picture.
        data: String,
    },
    /// The final line.
    Result(RunResult),
    /// A well-formed line of a kind we do not show (kept raw by the caller).
    Other { line_type: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpServerStatus {
    pub name: String,
    pub status: String,
}

/// The CLI's final `{"type":"result"}` line.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunResult {
    pub subtype: String,
    pub is_error: bool,
    pub duration_ms: i64,
    pub num_turns: i64,
    pub total_cost_usd: f64,
    pub result: Option<String>,
    pub structured_output: Option<Value>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MalformedLine {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("JSON without a string \"type\" field")]
    NoType,
}

/// Reads one stdout line of the CLI.
pub fn parse_line(line: &str) -> Result<Vec<StreamEvent>, MalformedLine> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| MalformedLine::NotJson(e.to_string()))?;
    parse_value(&value)
}

/// Reads one stdout line of the CLI that is already JSON.
pub fn parse_value(value: &Value) -> Result<Vec<StreamEvent>, MalformedLine> {
    let line_type = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or(MalformedLine::NoType)?;
    let events = match line_type {
        "system" if value.get("subtype").and_then(Value::as_str) == Some("init") => {
            vec![init(value)]
        }
        "assistant" => content_blocks(value).filter_map(assistant_block).collect(),
        "user" => content_blocks(value).filter_map(user_block).collect(),
        "result" => vec![StreamEvent::Result(run_result(value))],
        "claudeops_screenshot" => match screenshot(value) {
            Some(event) => vec![event],
            None => vec![StreamEvent::Other {
                line_type: line_type.to_owned(),
            }],
        },
        other => vec![StreamEvent::Other {
            line_type: other.to_owned(),
        }],
    };
    Ok(events)
}

fn str_field(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn init(value: &Value) -> StreamEvent {
    let tools = value
        .get("tools")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mcp_servers = value
        .get("mcp_servers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| McpServerStatus {
                    name: str_field(s, "name").unwrap_or_default(),
                    status: str_field(s, "status").unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    StreamEvent::Init {
        model: str_field(value, "model"),
        tools,
        mcp_servers,
    }
}

fn content_blocks(value: &Value) -> impl Iterator<Item = &Value> {
    value
        .pointer("/message/content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn assistant_block(block: &Value) -> Option<StreamEvent> {
    match block.get("type").and_then(Value::as_str)? {
        "text" => Some(StreamEvent::Text {
            text: str_field(block, "text")?,
        }),
        "tool_use" => Some(StreamEvent::ToolUse {
            id: str_field(block, "id").unwrap_or_default(),
            name: str_field(block, "name").unwrap_or_default(),
            input: block.get("input").cloned().unwrap_or(Value::Null),
        }),
        _ => None,
    }
}

fn user_block(block: &Value) -> Option<StreamEvent> {
    if block.get("type").and_then(Value::as_str)? != "tool_result" {
        return None;
    }
    Some(StreamEvent::ToolResult {
        tool_use_id: str_field(block, "tool_use_id").unwrap_or_default(),
        content: tool_result_text(block.get("content")),
        is_error: block
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// A screenshot line: a PNG or JPEG in base64, nothing else (a page is
/// never given more than a picture).
fn screenshot(value: &Value) -> Option<StreamEvent> {
    let media_type = value.get("media_type").and_then(Value::as_str)?;
    let data = value.get("data").and_then(Value::as_str)?;
    let base64 = !data.is_empty()
        && data
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    (matches!(media_type, "image/png" | "image/jpeg") && base64).then(|| StreamEvent::Screenshot {
        n: value.get("n").and_then(Value::as_i64).unwrap_or(0),
        media_type: media_type.to_owned(),
        data: data.to_owned(),
    })
}

/// A tool result's content is a string or a list of text blocks.
fn tool_result_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn run_result(value: &Value) -> RunResult {
    RunResult {
        subtype: str_field(value, "subtype").unwrap_or_default(),
        is_error: value
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        duration_ms: value
            .get("duration_ms")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        num_turns: value.get("num_turns").and_then(Value::as_i64).unwrap_or(0),
        total_cost_usd: value
            .get("total_cost_usd")
            .and_then(Value::as_f64)
            .unwrap_or(0.0),
        result: str_field(value, "result"),
        structured_output: value
            .get("structured_output")
            .filter(|v| !v.is_null())
            .cloned(),
    }
}

/// One tool call of a session and its answer, from its output lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The output line that made the call.
    pub seq: i64,
    pub name: String,
    /// The argument worth showing ([`key_argument`]).
    pub target: Option<String>,
    /// `None` while no answer has come.
    pub ok: Option<bool>,
    /// The answer's text.
    pub result: String,
}

/// The calls of tools whose name starts with `prefix`, in order, each with its
/// answer: the audit of a session's browser actions, read from its output.
pub fn tool_calls<'a>(
    lines: impl IntoIterator<Item = (i64, &'a str)>,
    prefix: &str,
) -> Vec<ToolCall> {
    let mut calls: Vec<ToolCall> = Vec::new();
    let mut open: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (seq, line) in lines {
        let Ok(events) = parse_line(line) else {
            continue;
        };
        for event in events {
            match event {
                StreamEvent::ToolUse { id, name, input } if name.starts_with(prefix) => {
                    open.insert(id, calls.len());
                    calls.push(ToolCall {
                        seq,
                        target: key_argument(&name, &input),
                        name,
                        ok: None,
                        result: String::new(),
                    });
                }
                StreamEvent::ToolResult {
                    tool_use_id,
                    content,
                    is_error,
                } => {
                    if let Some(call) = open.remove(&tool_use_id).and_then(|i| calls.get_mut(i)) {
                        call.ok = Some(!is_error);
                        call.result = content;
                    }
                }
                _ => {}
            }
        }
    }
    calls
}

/// The argument worth showing beside a tool call's badge: the command for Bash,
/// the path for Read, and so on.
pub fn key_argument(tool: &str, input: &Value) -> Option<String> {
    let key = match tool {
        "Bash" => "command",
        "Read" | "Write" | "Edit" => "file_path",
        "Grep" | "Glob" => "pattern",
        "WebFetch" => "url",
        "Task" => "description",
        // The worker's browser actions: the credential's name, else the URL,
        // else the element.
        browser if browser.starts_with("mcp__claudeops__browser_") => {
            return ["name", "url", "ref", "text"]
                .iter()
                .find_map(|k| str_field(input, k));
        }
        _ => {
            return input
                .as_object()
                .and_then(|o| o.values().find_map(Value::as_str))
                .map(str::to_owned);
        }
    };
    str_field(input, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_lines() {
        let init = r#"{"type":"system","subtype":"init","model":"haiku","tools":["Bash","Read"],"mcp_servers":[{"name":"ops","status":"connected"}]}"#;
        assert_eq!(
            parse_line(init),
            Ok(vec![StreamEvent::Init {
                model: Some("haiku".into()),
                tools: vec!["Bash".into(), "Read".into()],
                mcp_servers: vec![McpServerStatus {
                    name: "ops".into(),
                    status: "connected".into()
                }],
            }])
        );

        let assistant = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"hi"},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]}}"#;
        let events = parse_line(assistant).unwrap_or_default();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0], StreamEvent::Text { text: "hi".into() });

        let user = r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"is_error":true}]}}"#;
        assert_eq!(
            parse_line(user),
            Ok(vec![StreamEvent::ToolResult {
                tool_use_id: "t1".into(),
                content: "a\nb".into(),
                is_error: true,
            }])
        );

        let result = r#"{"type":"result","subtype":"success","is_error":false,"duration_ms":12,"num_turns":3,"total_cost_usd":0.01,"result":"ok","structured_output":{"summary":"s"}}"#;
        match parse_line(result) {
            Ok(events) => match &events[..] {
                [StreamEvent::Result(r)] => {
                    assert_eq!(r.num_turns, 3);
                    assert_eq!(r.total_cost_usd, 0.01);
                    assert_eq!(
                        r.structured_output,
                        Some(serde_json::json!({"summary":"s"}))
                    );
                }
                other => panic!("unexpected {other:?}"),
            },
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn flags_malformed_lines() {
        assert!(matches!(
            parse_line("{oops"),
            Err(MalformedLine::NotJson(_))
        ));
        assert_eq!(parse_line("{\"a\":1}"), Err(MalformedLine::NoType));
        assert_eq!(parse_line("[1,2]"), Err(MalformedLine::NoType));
    }

    #[test]
    fn picks_key_arguments() {
        let cases = [
            (
                "Bash",
                r#"{"command":"docker ps","description":"x"}"#,
                Some("docker ps"),
            ),
            (
                "Read",
                r#"{"file_path":"/repos/a/CLAUDE-OPS.md"}"#,
                Some("/repos/a/CLAUDE-OPS.md"),
            ),
            (
                "mcp__ops__restart_container",
                r#"{"container":"web"}"#,
                Some("web"),
            ),
            ("Bash", r#"{}"#, None),
        ];
        for (tool, input, want) in cases {
            let input: Value = serde_json::from_str(input).unwrap_or(Value::Null);
            assert_eq!(key_argument(tool, &input).as_deref(), want, "{tool}");
        }
    }

    #[test]
    fn screenshots_are_pictures_only() {
        let ok =
            r#"{"type":"claudeops_screenshot","n":2,"media_type":"image/jpeg","data":"/9j/4AAQ"}"#;
        assert_eq!(
            parse_line(ok),
            Ok(vec![StreamEvent::Screenshot {
                n: 2,
                media_type: "image/jpeg".to_owned(),
                data: "/9j/4AAQ".to_owned()
            }])
        );
        for bad in [
            r#"{"type":"claudeops_screenshot","n":1,"media_type":"image/svg+xml","data":"PHN2Zz4="}"#,
            r#"{"type":"claudeops_screenshot","n":1,"media_type":"image/png","data":"\"><script>"}"#,
            r#"{"type":"claudeops_screenshot","n":1,"media_type":"image/png","data":""}"#,
        ] {
            assert!(
                matches!(parse_line(bad).as_deref(), Ok([StreamEvent::Other { .. }])),
                "{bad}"
            );
        }
    }

    #[test]
    fn tool_calls_pair_with_their_answers() {
        let lines = [
            (
                1,
                r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"a","name":"mcp__claudeops__browser_open","input":{"url":"http://127.0.0.1:1/"}},{"type":"tool_use","id":"b","name":"Bash","input":{"command":"ls"}}]}}"#,
            ),
            (
                2,
                r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"opened"}]}]}}"#,
            ),
            (
                3,
                r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"c","name":"mcp__claudeops__browser_click","input":{"ref":"e1"}}]}}"#,
            ),
            (4, "not json"),
        ];
        let calls = tool_calls(lines, "mcp__claudeops__browser_");
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].seq, 1);
        assert_eq!(calls[0].target.as_deref(), Some("http://127.0.0.1:1/"));
        assert_eq!(
            (calls[0].ok, calls[0].result.as_str()),
            (Some(true), "opened")
        );
        assert_eq!(
            (calls[1].ok, calls[1].target.as_deref()),
            (None, Some("e1"))
        );
    }
}
