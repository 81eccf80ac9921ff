//! What the scripted model says: scripts, turns and content blocks.
//!
//! A test describes a whole agent conversation up front as a [`Script`]: which
//! requests it answers (a [`Matcher`]) and the assistant [`Turn`]s in order.
//! The server stays stateless, so the same values can also be loaded from a
//! JSON file by the `claudeops-scripted-model` binary.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Name of the tool that `claude --json-schema` adds for the final answer.
pub const STRUCTURED_OUTPUT_TOOL: &str = "StructuredOutput";

/// One content block of an assistant turn.
///
/// In JSON: `{"text": "..."}`, `{"tool_use": {"name": "...", "input": {...}}}`,
/// or the shorthands `{"bash": "echo hi"}` and `{"structured": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", from = "BlockSpec")]
pub enum Block {
    /// Plain assistant text.
    Text(String),
    /// A call of the tool `name` with the arguments `input`.
    ToolUse {
        /// Tool name as the CLI offers it (`Bash`, `Read`, `StructuredOutput`, `mcp__s__t`).
        name: String,
        /// Tool arguments.
        input: Value,
    },
}

/// The JSON forms accepted for a [`Block`], shorthands included.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum BlockSpec {
    Text(String),
    ToolUse { name: String, input: Value },
    Bash(String),
    Structured(Value),
}

impl From<BlockSpec> for Block {
    fn from(spec: BlockSpec) -> Self {
        match spec {
            BlockSpec::Text(text) => Block::Text(text),
            BlockSpec::ToolUse { name, input } => Block::ToolUse { name, input },
            BlockSpec::Bash(command) => Block::bash(&command),
            BlockSpec::Structured(value) => Block::structured(value),
        }
    }
}

impl Block {
    /// A `Bash` tool call running `command`.
    pub fn bash(command: &str) -> Self {
        let input = serde_json::json!({
            "command": command,
            "description": format!("Run {command}"),
        });
        Block::tool("Bash", input)
    }

    /// A call of the `StructuredOutput` tool that `--json-schema` adds.
    pub fn structured(value: Value) -> Self {
        Block::tool(STRUCTURED_OUTPUT_TOOL, value)
    }

    /// A call of any tool.
    pub fn tool(name: &str, input: Value) -> Self {
        Block::ToolUse {
            name: name.to_owned(),
            input,
        }
    }

    /// Whether this block calls a tool.
    pub fn is_tool_use(&self) -> bool {
        matches!(self, Block::ToolUse { .. })
    }
}

/// Why an assistant turn ended, as the Messages API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The turn is the final answer.
    EndTurn,
    /// The turn calls tools and waits for their results.
    ToolUse,
}

impl StopReason {
    /// The wire name (`end_turn`, `tool_use`).
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::EndTurn => "end_turn",
            StopReason::ToolUse => "tool_use",
        }
    }
}

/// One assistant message. In JSON: an array of blocks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Turn {
    /// The content blocks, in order.
    pub blocks: Vec<Block>,
}

impl Turn {
    /// A turn made of `blocks`.
    pub fn new(blocks: Vec<Block>) -> Self {
        Turn { blocks }
    }

    /// A final text answer.
    pub fn text(text: &str) -> Self {
        Turn::new(vec![Block::Text(text.to_owned())])
    }

    /// A turn that runs `command` with the `Bash` tool.
    pub fn bash(command: &str) -> Self {
        Turn::new(vec![Block::bash(command)])
    }

    /// A turn that answers through the `StructuredOutput` tool (`--json-schema`).
    pub fn structured(value: Value) -> Self {
        Turn::new(vec![Block::structured(value)])
    }

    /// A turn that calls the tool `name` with `input`.
    pub fn tool(name: &str, input: Value) -> Self {
        Turn::new(vec![Block::tool(name, input)])
    }

    /// This turn with one more block at the end.
    pub fn and(mut self, block: Block) -> Self {
        self.blocks.push(block);
        self
    }

    /// `tool_use` when any block calls a tool, else `end_turn`.
    pub fn stop_reason(&self) -> StopReason {
        if self.blocks.iter().any(Block::is_tool_use) {
            StopReason::ToolUse
        } else {
            StopReason::EndTurn
        }
    }
}

/// Chooses which requests a script answers. Every field that is set must
/// match; a matcher with no field set matches every request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Matcher {
    /// Substring of the request's `model` (e.g. `haiku` matches `claude-haiku-4-5-20251001`).
    pub model: Option<String>,
    /// Substring of any text in the request's system prompt or messages.
    /// The CLI's own system prompt and reminders are long: pick a
    /// distinctive marker (a common word such as "report" matches them).
    pub contains: Option<String>,
}

impl Matcher {
    /// Whether a request for `model` whose system prompt and messages hold
    /// `text` is matched.
    pub fn matches(&self, model: &str, text: &str) -> bool {
        let model_ok = self.model.as_deref().is_none_or(|m| model.contains(m));
        let text_ok = self.contains.as_deref().is_none_or(|s| text.contains(s));
        model_ok && text_ok
    }
}

/// A conversation the model plays: turn `i` answers a request that already
/// holds `i` assistant messages.
///
/// In JSON: `{"model": "haiku", "contains": "disk", "turns": [[{"bash": "df -h"}], [{"text": "ok"}]]}`
/// (`model` and `contains` optional).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Script {
    /// Which requests this script answers.
    #[serde(flatten)]
    pub matcher: Matcher,
    /// The assistant turns, in order.
    pub turns: Vec<Turn>,
}

impl Script {
    /// A script that answers every request.
    pub fn new(turns: Vec<Turn>) -> Self {
        Script {
            matcher: Matcher::default(),
            turns,
        }
    }

    /// Answer only requests whose `model` contains `model`.
    pub fn for_model(mut self, model: &str) -> Self {
        self.matcher.model = Some(model.to_owned());
        self
    }

    /// Answer only requests whose system prompt or messages contain `text`.
    pub fn containing(mut self, text: &str) -> Self {
        self.matcher.contains = Some(text.to_owned());
        self
    }

    /// The turn to play when `index` assistant messages came before; past
    /// the end, a plain "done".
    pub fn turn(&self, index: usize) -> Turn {
        self.turns
            .get(index)
            .cloned()
            .unwrap_or_else(|| Turn::text(DONE_TEXT))
    }
}

/// What the model says past the end of a script, or when no script matches.
pub const DONE_TEXT: &str = "done";

/// The first script of `scripts` that matches, if any.
pub fn select<'a>(scripts: &'a [Script], model: &str, text: &str) -> Option<&'a Script> {
    scripts.iter().find(|s| s.matcher.matches(model, text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stop_reason_follows_blocks() {
        assert_eq!(Turn::text("hi").stop_reason(), StopReason::EndTurn);
        assert_eq!(Turn::bash("ls").stop_reason(), StopReason::ToolUse);
        let mixed = Turn::text("let me look").and(Block::bash("ls"));
        assert_eq!(mixed.stop_reason(), StopReason::ToolUse);
    }

    #[test]
    fn scripts_parse_from_json_with_shorthands() {
        let raw = json!([
            {"model": "haiku", "turns": [[{"bash": "echo hi"}], [{"text": "ok"}]]},
            {"contains": "schema", "turns": [[{"structured": {"ok": true}}]]},
            {"turns": [[{"tool_use": {"name": "Read", "input": {"file_path": "/x"}}}]]}
        ]);
        let scripts: Vec<Script> = serde_json::from_value(raw).expect("valid scripts");
        assert_eq!(scripts[0].matcher.model.as_deref(), Some("haiku"));
        assert_eq!(scripts[0].turns[0], Turn::bash("echo hi"));
        assert_eq!(scripts[1].turns[0], Turn::structured(json!({"ok": true})));
        assert_eq!(
            scripts[2].turns[0],
            Turn::tool("Read", json!({"file_path": "/x"}))
        );
    }

    #[test]
    fn selection_uses_model_and_text() {
        let scripts = vec![
            Script::new(vec![Turn::text("a")]).for_model("opus"),
            Script::new(vec![Turn::text("b")]).containing("disk"),
            Script::new(vec![Turn::text("c")]),
        ];
        let pick = |m: &str, t: &str| select(&scripts, m, t).map(|s| s.turn(0));
        assert_eq!(pick("claude-opus-4", "x"), Some(Turn::text("a")));
        assert_eq!(pick("claude-haiku", "disk full"), Some(Turn::text("b")));
        assert_eq!(pick("claude-haiku", "x"), Some(Turn::text("c")));
        assert_eq!(scripts[0].turn(5), Turn::text(DONE_TEXT));
    }
}
