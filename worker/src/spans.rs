//! A session's model turns and tool calls as trace spans, read from the CLI's
//! stream-json lines as they arrive (their times are the lines' arrival
//! times). Pure: lines in, [`SpanRecord`]s out; the caller records them.
//!
//! A turn runs from the moment the model was asked (the CLI's start, or the
//! last tool result) to its answer's first line; a tool call from the line
//! that asked for it to the line that carried its result. Both are children
//! of the CLI's span. A tool call says whether it ran or was refused, and by
//! which layer: the CLI's own permissions, the worker's hook (the command
//! judge), the sandbox (the operating system said no) or the Docker filter.

use std::collections::{BTreeMap, HashSet};
use std::time::SystemTime;

use claudeops_core::stream::{StreamEvent, key_argument, parse_value};
use claudeops_telemetry::{SpanRecord, TraceContext};
use serde_json::Value;

/// Longest command or target kept on a tool span.
const MAX_TARGET: usize = 512;

/// Which layer refused a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// `--tools`, `--allowedTools`, `--disallowedTools`: the CLI asked no one.
    Cli,
    /// The PreToolUse hook (`claudeops-judge`).
    Hook,
    /// The operating system inside the sandbox (read-only, no permission).
    Sandbox,
    /// The session's Docker API filter (a write, answered 403).
    DockerFilter,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Cli => "cli",
            Layer::Hook => "hook",
            Layer::Sandbox => "sandbox",
            Layer::DockerFilter => "docker_filter",
        }
    }
}

/// What became of a tool call, read from its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub refused_by: Option<Layer>,
    /// A Bash command's exit status, when the result says it.
    pub exit_status: Option<i64>,
    pub is_error: bool,
}

/// Reads a tool result: the CLI says "Exit code N" for a failed command;
/// refusals carry the words of the layer that refused.
pub fn outcome(content: &str, is_error: bool) -> Outcome {
    let exit_status = content
        .strip_prefix("Exit code ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .or((!is_error).then_some(0));
    let lower = content.to_ascii_lowercase();
    let refused_by = if !is_error {
        None
    } else if lower.contains("permission to use")
        || lower.contains("haven't granted")
        || lower.contains("requires approval")
        || lower.contains("needs approval")
    {
        Some(Layer::Cli)
    } else if lower.contains("this socket is read-only")
        || lower.contains("claude ops changes containers only")
    {
        Some(Layer::DockerFilter)
    } else if exit_status.is_some_and(|s| s != 0)
        && (lower.contains("read-only file system")
            || lower.contains("operation not permitted")
            || lower.contains("permission denied"))
    {
        Some(Layer::Sandbox)
    } else if exit_status.is_none() && lower.contains("hook") {
        Some(Layer::Hook)
    } else {
        None
    };
    Outcome {
        refused_by,
        exit_status: exit_status.filter(|_| refused_by.is_none_or(|l| l == Layer::Sandbox)),
        is_error,
    }
}

struct OpenTool {
    name: String,
    target: Option<String>,
    started: SystemTime,
}

/// Turns and tool calls of one CLI run.
pub struct StreamSpans {
    /// The CLI's span: the parent of every turn and tool call.
    parent: TraceContext,
    model: Option<String>,
    asked_at: SystemTime,
    turns: u64,
    seen_messages: HashSet<String>,
    open: BTreeMap<String, OpenTool>,
}

impl StreamSpans {
    pub fn new(parent: TraceContext, started: SystemTime) -> Self {
        StreamSpans {
            parent,
            model: None,
            asked_at: started,
            turns: 0,
            seen_messages: HashSet::new(),
            open: BTreeMap::new(),
        }
    }

    /// The spans one line ends. A line that is not stream-json ends none.
    pub fn line(&mut self, text: &str, at: SystemTime) -> Vec<SpanRecord> {
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return Vec::new();
        };
        let Ok(events) = parse_value(&value) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if value.get("type").and_then(Value::as_str) == Some("assistant")
            && let Some(message) = value.get("message")
        {
            out.extend(self.turn(message, at));
        }
        let mut answered = false;
        for event in events {
            match event {
                StreamEvent::Init { model, .. } => self.model = model,
                StreamEvent::ToolUse { id, name, input } => {
                    let target = key_argument(&name, &input).map(|t| clip(&t));
                    self.open.insert(
                        id,
                        OpenTool {
                            name,
                            target,
                            started: at,
                        },
                    );
                }
                StreamEvent::ToolResult {
                    tool_use_id,
                    content,
                    is_error,
                    ..
                } => {
                    answered = true;
                    if let Some(tool) = self.open.remove(&tool_use_id) {
                        out.push(self.tool_span(tool, &outcome(&content, is_error), at));
                    }
                }
                _ => {}
            }
        }
        if answered {
            self.asked_at = at;
        }
        out
    }

    /// Tool calls still open when the CLI ended (stopped, timed out): ended
    /// now, marked unanswered.
    pub fn finish(mut self, at: SystemTime) -> Vec<SpanRecord> {
        std::mem::take(&mut self.open)
            .into_values()
            .map(|tool| {
                let mut span = self.tool_span(
                    tool,
                    &Outcome {
                        refused_by: None,
                        exit_status: None,
                        is_error: true,
                    },
                    at,
                );
                span.error = Some("the CLI ended before the tool answered".into());
                span
            })
            .collect()
    }

    /// Model turns so far.
    pub fn turns(&self) -> u64 {
        self.turns
    }

    fn turn(&mut self, message: &Value, at: SystemTime) -> Option<SpanRecord> {
        let id = message
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        // The CLI writes one line per content block of a message.
        if !id.is_empty() && !self.seen_messages.insert(id) {
            return None;
        }
        self.turns += 1;
        let usage = message.get("usage");
        let tokens = |key: &str| {
            usage
                .and_then(|u| u.get(key))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        let model = message
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| self.model.clone())
            .unwrap_or_default();
        metrics::counter!(claudeops_telemetry::names::WORKER_MODEL_TURNS, "model" => model.clone())
            .increment(1);
        let span = SpanRecord::new(
            "model turn",
            self.parent.child(),
            Some(self.parent.span_id),
            self.asked_at,
            at,
        )
        .attr("gen_ai.request.model", model)
        .attr("gen_ai.usage.input_tokens", tokens("input_tokens"))
        .attr("gen_ai.usage.output_tokens", tokens("output_tokens"))
        .attr(
            "gen_ai.usage.cache_read_input_tokens",
            tokens("cache_read_input_tokens"),
        )
        .attr("claudeops.turn", self.turns as i64);
        Some(span)
    }

    fn tool_span(&self, tool: OpenTool, outcome: &Outcome, at: SystemTime) -> SpanRecord {
        let decision = if outcome.refused_by.is_some() {
            "refused"
        } else {
            "allowed"
        };
        let layer = outcome.refused_by.map_or("none", Layer::as_str);
        metrics::counter!(
            claudeops_telemetry::names::WORKER_TOOL_CALLS,
            "tool" => tool_label(&tool.name),
            "decision" => decision,
            "layer" => layer,
        )
        .increment(1);
        let mut span = SpanRecord::new(
            format!("tool {}", tool_label(&tool.name)),
            self.parent.child(),
            Some(self.parent.span_id),
            tool.started,
            at,
        )
        .attr("claudeops.tool", tool.name)
        .attr("claudeops.decision", decision)
        .attr("claudeops.refused_by", layer);
        if let Some(target) = tool.target {
            span = span.attr("claudeops.target", target);
        }
        if let Some(status) = outcome.exit_status {
            span = span.attr("process.exit.code", status);
        }
        if outcome.is_error {
            span.error = Some(match outcome.refused_by {
                Some(layer) => format!("refused by {}", layer.as_str()),
                None => "the tool answered with an error".to_owned(),
            });
        }
        span
    }
}

/// A tool name as a metric label: built-in names as they are, every MCP tool
/// by its server only (bounded), anything else "other".
fn tool_label(name: &str) -> String {
    if let Some(rest) = name.strip_prefix("mcp__") {
        let server = rest.split("__").next().unwrap_or_default();
        return format!("mcp__{server}");
    }
    if name.len() <= 32 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        name.to_owned()
    } else {
        "other".to_owned()
    }
}

fn clip(text: &str) -> String {
    if text.len() <= MAX_TARGET {
        return text.to_owned();
    }
    let mut end = MAX_TARGET;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn parent() -> TraceContext {
        TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_000_000 + ms)
    }

    fn attr(span: &SpanRecord, key: &str) -> Option<String> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    }

    #[test]
    fn turns_and_tool_calls_get_their_times_tokens_and_outcomes() {
        let mut spans = StreamSpans::new(parent(), at(0));
        assert!(spans.line(r#"{"type":"system","subtype":"init","model":"claude-haiku-4-5","tools":["Bash"]}"#, at(10)).is_empty());
        let first = r#"{"type":"assistant","message":{"id":"m1","model":"claude-haiku-4-5","usage":{"input_tokens":120,"output_tokens":30},"content":[{"type":"text","text":"checking"}]}}"#;
        let turn = spans.line(first, at(900));
        assert_eq!(turn.len(), 1);
        assert_eq!(turn[0].name, "model turn");
        assert_eq!(turn[0].start, at(0));
        assert_eq!(turn[0].end, at(900));
        assert_eq!(turn[0].parent, Some(parent().span_id));
        assert_eq!(turn[0].context.trace_id, parent().trace_id);
        assert_eq!(
            attr(&turn[0], "gen_ai.usage.input_tokens").as_deref(),
            Some("120")
        );
        assert_eq!(
            attr(&turn[0], "gen_ai.usage.output_tokens").as_deref(),
            Some("30")
        );
        // The same message's next block is not another turn.
        let same = r#"{"type":"assistant","message":{"id":"m1","usage":{"input_tokens":120,"output_tokens":30},"content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"docker ps"}},{"type":"tool_use","id":"t2","name":"Bash","input":{"command":"touch /repos/x"}}]}}"#;
        assert!(spans.line(same, at(950)).is_empty());
        let results = r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"NAMES\nweb","is_error":false},{"type":"tool_result","tool_use_id":"t2","content":"Exit code 1\ntouch: cannot touch '/repos/x': Read-only file system","is_error":true}]}}"#;
        let tools = spans.line(results, at(1500));
        assert_eq!(tools.len(), 2);
        let ran = &tools[0];
        assert_eq!(ran.name, "tool Bash");
        assert_eq!((ran.start, ran.end), (at(950), at(1500)));
        assert_eq!(attr(ran, "claudeops.target").as_deref(), Some("docker ps"));
        assert_eq!(attr(ran, "claudeops.decision").as_deref(), Some("allowed"));
        assert_eq!(attr(ran, "process.exit.code").as_deref(), Some("0"));
        assert!(ran.error.is_none());
        let refused = &tools[1];
        assert_eq!(
            attr(refused, "claudeops.refused_by").as_deref(),
            Some("sandbox")
        );
        assert_eq!(attr(refused, "process.exit.code").as_deref(), Some("1"));
        assert!(refused.error.is_some());
        // The next turn starts when the results went back.
        let second = r#"{"type":"assistant","message":{"id":"m2","usage":{"input_tokens":300,"output_tokens":5},"content":[{"type":"text","text":"done"}]}}"#;
        let turn = spans.line(second, at(2000));
        assert_eq!((turn[0].start, turn[0].end), (at(1500), at(2000)));
        assert_eq!(
            attr(&turn[0], "gen_ai.request.model").as_deref(),
            Some("claude-haiku-4-5")
        );
        assert_eq!(spans.turns(), 2);
    }

    #[test]
    fn each_layer_is_named() {
        let cases = [
            (
                "Permission to use Bash with command rm -rf / has been denied.",
                true,
                Some(Layer::Cli),
                None,
            ),
            (
                "Claude requested permissions to use mcp__x__y, but you haven't granted it yet.",
                true,
                Some(Layer::Cli),
                None,
            ),
            (
                "PreToolUse:Bash hook error: restarts in Bash bypass the cooldown ledger",
                true,
                Some(Layer::Hook),
                None,
            ),
            (
                "Exit code 1\nError response from daemon: this socket is read-only: Claude Ops changes containers only through its typed actions",
                true,
                Some(Layer::DockerFilter),
                None,
            ),
            (
                "Exit code 1\nrm: cannot remove '/etc/hosts': Read-only file system",
                true,
                Some(Layer::Sandbox),
                Some(1),
            ),
            (
                "Exit code 2\nls: cannot access 'x': No such file or directory",
                true,
                None,
                Some(2),
            ),
            ("ok", false, None, Some(0)),
        ];
        for (content, is_error, layer, status) in cases {
            let got = outcome(content, is_error);
            assert_eq!(got.refused_by, layer, "{content}");
            assert_eq!(got.exit_status, status, "{content}");
        }
    }

    #[test]
    fn unanswered_tools_end_with_the_cli_and_garbage_is_ignored() {
        let mut spans = StreamSpans::new(parent(), at(0));
        assert!(spans.line("not json", at(1)).is_empty());
        assert!(spans.line(r#"{"no":"type"}"#, at(2)).is_empty());
        let ask = r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"tool_use","id":"t1","name":"mcp__claudeops__restart_container","input":{"container":"web"}}]}}"#;
        assert_eq!(spans.line(ask, at(5)).len(), 1);
        let left = spans.finish(at(50));
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].name, "tool mcp__claudeops");
        assert_eq!(attr(&left[0], "claudeops.target").as_deref(), Some("web"));
        assert!(left[0].error.is_some());
    }

    #[test]
    fn long_targets_are_clipped_on_a_char_boundary() {
        let long = "é".repeat(MAX_TARGET);
        let clipped = clip(&long);
        assert!(clipped.len() <= MAX_TARGET + "…".len());
        assert!(clipped.ends_with('…'));
    }
}
