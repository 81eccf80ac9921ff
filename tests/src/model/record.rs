//! What the scripted model received: every HTTP request, kept so tests can
//! assert on what the real `claude` CLI sent (prompts, tool results, tools,
//! sizes) rather than on what it printed.

use serde::Serialize;
use serde_json::Value;

/// Headers that carry credentials; never recorded.
const SECRET_HEADERS: [&str; 3] = ["authorization", "x-api-key", "proxy-authorization"];

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedRequest {
    /// HTTP method (`POST`).
    pub method: String,
    /// Path without the query (`/v1/messages`).
    pub path: String,
    /// Query string without `?` (`beta=true`), if any.
    pub query: Option<String>,
    /// Headers in arrival order, names lower-case, credentials left out.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON; `Value::Null` when empty or not JSON.
    pub body: Value,
    /// Size of the raw body in bytes.
    pub body_bytes: usize,
}

/// A `tool_result` block found in a request's last user message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolResult {
    /// The `tool_use` id it answers.
    pub tool_use_id: String,
    /// Its content, text parts joined with newlines.
    pub content: String,
    /// Whether the CLI marked it as an error (denied, failed).
    pub is_error: bool,
}

impl RecordedRequest {
    /// Builds a record, dropping credential headers.
    pub fn new(
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: Vec<(String, String)>,
        body: &[u8],
    ) -> Self {
        let headers = headers
            .into_iter()
            .filter(|(name, _)| !SECRET_HEADERS.contains(&name.as_str()))
            .collect();
        RecordedRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.map(str::to_owned),
            headers,
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
            body_bytes: body.len(),
        }
    }

    /// Whether this is a `POST /v1/messages` (a model turn).
    pub fn is_messages(&self) -> bool {
        self.method == "POST" && self.path == "/v1/messages"
    }

    /// Value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The requested `model`, if any.
    pub fn model(&self) -> Option<&str> {
        self.body["model"].as_str()
    }

    /// Whether the request asked for a streamed reply.
    pub fn is_streaming(&self) -> bool {
        self.body["stream"].as_bool().unwrap_or(false)
    }

    /// All text of the system prompt, one string per line.
    pub fn system_text(&self) -> String {
        strings_of(&self.body["system"]).join("\n")
    }

    /// All text of the system prompt and the messages (including tool
    /// inputs and results): what script matchers search.
    pub fn text(&self) -> String {
        let mut parts = strings_of(&self.body["system"]);
        parts.extend(strings_of(&self.body["messages"]));
        parts.join("\n")
    }

    /// Names of the tools offered to the model.
    pub fn tool_names(&self) -> Vec<String> {
        array_of(&self.body["tools"])
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// Number of assistant messages already in the conversation.
    pub fn assistant_turns(&self) -> usize {
        array_of(&self.body["messages"])
            .iter()
            .filter(|m| m["role"] == "assistant")
            .count()
    }

    /// The `tool_result` blocks of the last user message.
    pub fn tool_results(&self) -> Vec<ToolResult> {
        let messages = array_of(&self.body["messages"]);
        let Some(last) = messages.iter().rev().find(|m| m["role"] == "user") else {
            return Vec::new();
        };
        array_of(&last["content"])
            .iter()
            .filter(|b| b["type"] == "tool_result")
            .map(tool_result)
            .collect()
    }
}

fn tool_result(block: &Value) -> ToolResult {
    ToolResult {
        tool_use_id: block["tool_use_id"].as_str().unwrap_or_default().to_owned(),
        content: strings_of(&block["content"]).join("\n"),
        is_error: block["is_error"].as_bool().unwrap_or(false),
    }
}

fn array_of(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// Keys whose strings are structure or ids, not conversation text.
const STRUCTURAL_KEYS: [&str; 8] = [
    "type",
    "role",
    "id",
    "tool_use_id",
    "cache_control",
    "media_type",
    "signature",
    "data",
];

/// Every string leaf under `value` (structural keys left out), in document order.
pub(crate) fn strings_of(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_strings(value, &mut out);
    out
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map
            .iter()
            .filter(|(key, _)| !STRUCTURAL_KEYS.contains(&key.as_str()))
            .for_each(|(_, v)| collect_strings(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(body: Value) -> RecordedRequest {
        let headers = vec![
            ("x-api-key".to_owned(), "secret".to_owned()),
            ("anthropic-version".to_owned(), "2023-06-01".to_owned()),
        ];
        let raw = serde_json::to_vec(&body).expect("serializable");
        RecordedRequest::new("POST", "/v1/messages", Some("beta=true"), headers, &raw)
    }

    #[test]
    fn credentials_are_not_recorded() {
        let r = record(json!({}));
        assert_eq!(r.header("X-API-Key"), None);
        assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
        assert!(r.is_messages());
    }

    #[test]
    fn conversation_helpers_read_the_body() {
        let r = record(json!({
            "model": "claude-haiku",
            "system": [{"type": "text", "text": "be brief"}],
            "tools": [{"name": "Bash"}, {"name": "Read"}],
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                    "content": [{"type": "text", "text": "out"}], "is_error": true}]},
            ],
        }));
        assert_eq!(r.model(), Some("claude-haiku"));
        assert_eq!(r.system_text(), "be brief");
        assert_eq!(r.tool_names(), ["Bash", "Read"]);
        assert_eq!(r.assistant_turns(), 1);
        assert!(r.text().contains("be brief") && r.text().contains("hi"));
        let results = r.tool_results();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].content, "out");
        assert!(results[0].is_error);
    }
}
