//! `.claude-ops/mcp.json`: `{"mcpServers": {"NAME": SERVER}}` where a server is
//! stdio (`command`, optional `args` list and `env` map of strings, optional
//! `"type": "stdio"`) or remote (`"type": "http"` or `"sse"` with a `url`,
//! optional `headers` map). A server that does not fit is a problem and left out;
//! the others are kept.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::{McpServer, McpTransport, Problem};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "mcpServers")]
    mcp_servers: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read only to validate the shape
struct Stdio {
    #[serde(default, rename = "type")]
    kind: Option<StdioType>,
    command: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum StdioType {
    Stdio,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read only to validate the shape
struct Remote {
    #[serde(rename = "type")]
    kind: McpTransport,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// Reads an MCP file; `path` names it in problems.
pub fn parse(text: &str, path: &str) -> (Vec<McpServer>, Vec<Problem>) {
    let file: File = match serde_json::from_str(text) {
        Ok(file) => file,
        Err(e) => {
            let line = u32::try_from(e.line()).ok().filter(|l| *l > 0);
            return (
                Vec::new(),
                vec![Problem::new(
                    path,
                    line,
                    format!(
                        "not a valid MCP config: {}; expected {{\"mcpServers\": {{...}}}}",
                        strip_position(&e)
                    ),
                )],
            );
        }
    };
    let mut servers = Vec::new();
    let mut problems = Vec::new();
    for (name, config) in file.mcp_servers {
        match server(&config) {
            Ok(transport) if !name.trim().is_empty() => servers.push(McpServer {
                name,
                transport,
                config,
            }),
            Ok(_) => problems.push(Problem::new(
                path,
                key_line(text, &name),
                "MCP server with an empty name; give it a name",
            )),
            Err(message) => problems.push(Problem::new(
                path,
                key_line(text, &name),
                format!("MCP server `{name}`: {message}"),
            )),
        }
    }
    (servers, problems)
}

fn server(config: &serde_json::Value) -> Result<McpTransport, String> {
    let kind = config.get("type").and_then(serde_json::Value::as_str);
    match kind {
        None | Some("stdio") => Stdio::deserialize(config)
            .map(|_| McpTransport::Stdio)
            .map_err(|e| {
                format!("{e}; a stdio server needs `command` (and may have `args`, `env`)")
            }),
        Some("http" | "sse") => Remote::deserialize(config).map(|r| r.kind).map_err(|e| {
            format!("{e}; a remote server needs `type` and `url` (and may have `headers`)")
        }),
        Some(other) => Err(format!(
            "unknown type `{other}`; use `stdio`, `http` or `sse`"
        )),
    }
}

/// A serde_json message without its ` at line L column C` suffix.
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// The line where `"name":` first appears.
fn key_line(text: &str, name: &str) -> Option<u32> {
    let quoted = serde_json::to_string(name).ok()?;
    text.lines()
        .position(|l| {
            l.find(&quoted)
                .is_some_and(|at| l[at + quoted.len()..].trim_start().starts_with(':'))
        })
        .and_then(|i| u32::try_from(i + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_validates_servers() {
        let text = r#"{
  "mcpServers": {
    "inventory": {"command": "npx", "args": ["-y", "inv"], "env": {"P": "/x"}},
    "grafana": {"type": "http", "url": "https://g.lan/mcp"},
    "events": {"type": "sse", "url": "https://e.lan/sse"},
    "broken": {"args": ["x"]},
    "weird": {"type": "websocket", "url": "wss://x"},
    "typo": {"command": "x", "enviroment": {}}
  }
}"#;
        let (servers, problems) = parse(text, "mcp.json");
        let names: Vec<(&str, McpTransport)> = servers
            .iter()
            .map(|s| (s.name.as_str(), s.transport))
            .collect();
        assert_eq!(
            names,
            [
                ("events", McpTransport::Sse),
                ("grafana", McpTransport::Http),
                ("inventory", McpTransport::Stdio)
            ]
        );
        let got: Vec<(Option<u32>, &str)> = problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].0, Some(6));
        assert!(got[0].1.contains("missing field `command`"), "{got:?}");
        assert_eq!(got[1].0, Some(8));
        assert!(got[1].1.contains("unknown field `enviroment`"), "{got:?}");
        assert_eq!(got[2].0, Some(7));
        assert!(got[2].1.contains("unknown type `websocket`"), "{got:?}");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let (servers, problems) = parse(
            "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\",}\n  }\n}\n",
            "m.json",
        );
        assert!(servers.is_empty());
        assert_eq!(problems[0].line, Some(3));
        assert!(problems[0].message.starts_with("not a valid MCP config"));
        let (_, problems) = parse("[]", "m.json");
        assert_eq!(problems.len(), 1);
    }
}
