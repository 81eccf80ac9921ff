//! `claudeops-worker mcp`: the MCP server (stdio transport) through which the
//! agent calls the typed remediation actions. The CLI starts it from the session's
//! `--mcp-config` and prefixes the tool names with `mcp__claudeops__`.
//!
//! It holds no power of its own: it lists the tools the session's tier may use
//! (from `CLAUDEOPS_TIER`, to keep the model from trying the others) and forwards
//! each call over the worker's action socket (`CLAUDEOPS_ACTIONS_SOCKET`), where
//! the worker checks the tier again from its own records, reserves a cooldown
//! slot, acts and verifies (`crate::actions`). It never runs Docker itself and
//! never runs a shell. It writes only protocol messages to stdout; anything else
//! goes to stderr.
//!
//! Protocol: JSON-RPC 2.0, one message per line. Calls run concurrently, so a
//! slow redeploy does not hold up `ping`. At the end of stdin it exits; an action
//! already handed to the worker still runs to its end there.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use claudeops_core::Tier;
use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::actions::socket::{self, Line, LineReader};
use crate::actions::{ActionKind, ActionRequest, actions_for};

/// The server name in the CLI's MCP config (tools become `mcp__claudeops__*`).
pub const SERVER_NAME: &str = claudeops_core::policy::ACTIONS_SERVER;
/// Environment variable with the worker's action socket path.
pub const SOCKET_ENV: &str = "CLAUDEOPS_ACTIONS_SOCKET";
/// How long one tool call may take: a redeployment can be slow, and an action
/// behind an approval gate waits up to 50 minutes for a human
/// (`CLAUDEOPS_APPROVAL_TIMEOUT`) before it starts.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(75 * 60);
/// The protocol version answered when the client's is not one of ours.
pub const LATEST_PROTOCOL: &str = "2025-06-18";
/// Protocol versions this server speaks (tools only; no feature here differs).
pub const PROTOCOL_VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// The longest message accepted on stdin.
const MAX_MESSAGE: usize = 4 * 1024 * 1024;

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

/// What the server knows about its session, from the environment the worker
/// gave the CLI.
#[derive(Debug, Clone)]
pub struct McpEnv {
    pub tier: Option<Tier>,
    pub session_id: Option<i64>,
    pub socket: Option<PathBuf>,
    pub call_timeout: Duration,
    /// `CLAUDEOPS_BROWSER=1`: the worker offers this session the browser actions.
    pub browser: bool,
}

impl McpEnv {
    /// Reads `CLAUDEOPS_TIER`, `CLAUDEOPS_SESSION_ID` and `CLAUDEOPS_ACTIONS_SOCKET`.
    pub fn from_env() -> McpEnv {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        McpEnv {
            tier: var("CLAUDEOPS_TIER")
                .and_then(|t| t.trim().parse::<i64>().ok())
                .and_then(|t| Tier::try_from(t).ok()),
            session_id: var("CLAUDEOPS_SESSION_ID").and_then(|s| s.trim().parse().ok()),
            socket: var(SOCKET_ENV).map(PathBuf::from),
            call_timeout: CALL_TIMEOUT,
            browser: var("CLAUDEOPS_BROWSER").is_some_and(|v| v.trim() == "1"),
        }
    }

    fn tools(&self) -> Vec<ActionKind> {
        self.tier.map(actions_for).unwrap_or_default()
    }
}

/// The tool definition the model reads.
pub fn tool_definition(kind: ActionKind) -> Value {
    let reason = json!({
        "type": "string",
        "description": "One line: what is wrong and why this fixes it (recorded in the audit log)."
    });
    match kind {
        ActionKind::Restart => json!({
            "name": kind.tool(),
            "description": "Restart one Docker container on this host, then wait up to 60 s and report whether it is running and healthy. Checks the cooldown ledger first. A refusal is final: do not retry and never fall back to `docker restart`; escalate with the refusal.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "container": {"type": "string", "description": "The container's name, as in `docker ps`."},
                    "service": {"type": "string", "description": "The service it belongs to, the cooldown key (default: the container name)."},
                    "reason": reason,
                },
                "required": ["container", "reason"],
                "additionalProperties": false,
            },
        }),
        ActionKind::Redeploy => json!({
            "name": kind.tool(),
            "description": "Redeploy one service with its repo's own automation, then verify it. The method follows the repo: Docker Compose (`up -d --no-deps SERVICE` with the repo's compose file: only that service; verified by its containers running and healthy); Ansible (`ansible-playbook -i INVENTORY PLAYBOOK --limit HOSTS`: the playbook named after the service, else site.yml; the hosts are the inventory group or host named after the service, or the hosts listing it in `claudeops_services`; verified by a clean PLAY RECAP and, if the service has containers on this host, by those being healthy); Helm (`helm upgrade RELEASE CHART --reuse-values --wait` of the release named after the service, with the repo's chart; verified by `helm status` deployed). Checks the cooldown ledger first; in dry run it shows the exact command and changes nothing. A refusal, a missing tool or a failed run is final: do not retry and never run compose, ansible-playbook or helm yourself; escalate with the result.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "service": {"type": "string", "description": "The service name: the compose service, the Ansible group, host or `claudeops_services` entry, or the Helm release."},
                    "repo": {"type": "string", "description": "The repo's directory name under the repos dir (default: the one repo that deploys the service)."},
                    "reason": reason,
                },
                "required": ["service", "reason"],
                "additionalProperties": false,
            },
        }),
    }
}

/// Serves MCP on stdin and stdout until stdin ends.
pub async fn main() -> ExitCode {
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    match serve(stdin, tokio::io::stdout(), McpEnv::from_env()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("claudeops mcp: {error}");
            // Tokio's stdin reader thread cannot be cancelled: exit here rather
            // than wait for it on runtime shutdown.
            std::process::exit(1);
        }
    }
}

/// The protocol loop over any line-based transport: reads requests from
/// `reader`, writes responses to `writer`. Returns at the end of input (calls
/// still in flight are abandoned; the worker finishes their actions) or when
/// `writer` fails.
pub async fn serve<R, W>(reader: R, mut writer: W, env: McpEnv) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let env = Arc::new(env);
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let read = async move {
        let mut lines = LineReader::new(reader, MAX_MESSAGE);
        let mut calls = JoinSet::new();
        loop {
            while calls.try_join_next().is_some() {}
            let text = match lines.next().await? {
                Line::Eof => break,
                Line::TooLong => {
                    let _ = tx.send(error(Value::Null, INVALID_REQUEST, "message too long"));
                    continue;
                }
                Line::Text(text) if text.trim().is_empty() => continue,
                Line::Text(text) => text,
            };
            let message = match serde_json::from_str::<Value>(&text) {
                Ok(message) => message,
                Err(e) => {
                    let _ = tx.send(error(
                        Value::Null,
                        PARSE_ERROR,
                        &format!("parse error: {e}"),
                    ));
                    continue;
                }
            };
            match dispatch(message, &env) {
                Dispatch::Reply(reply) => {
                    let _ = tx.send(reply);
                }
                Dispatch::Nothing => {}
                Dispatch::Call { id, params } => {
                    let tx = tx.clone();
                    let env = env.clone();
                    calls.spawn(async move {
                        let result = call_tool(&params, &env).await;
                        let _ = tx.send(json!({"jsonrpc": "2.0", "id": id, "result": result}));
                    });
                }
            }
        }
        calls.shutdown().await;
        drop(tx);
        Ok::<(), std::io::Error>(())
    };
    let write = async move {
        while let Some(message) = rx.recv().await {
            let mut line = serde_json::to_vec(&message).map_err(std::io::Error::other)?;
            line.push(b'\n');
            writer.write_all(&line).await?;
            writer.flush().await?;
        }
        Ok::<(), std::io::Error>(())
    };
    tokio::try_join!(read, write).map(|_| ())
}

enum Dispatch {
    Reply(Value),
    Nothing,
    Call { id: Value, params: Value },
}

fn dispatch(message: Value, env: &McpEnv) -> Dispatch {
    let Value::Object(message) = message else {
        let what = if message.is_array() {
            "batches are not supported"
        } else {
            "a message must be a JSON object"
        };
        return Dispatch::Reply(error(Value::Null, INVALID_REQUEST, what));
    };
    let id = message.get("id").cloned();
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        // A response to a request we never sent, or junk: answer junk only.
        return match id {
            Some(id) if !message.contains_key("result") && !message.contains_key("error") => {
                Dispatch::Reply(error(id, INVALID_REQUEST, "missing method"))
            }
            _ => Dispatch::Nothing,
        };
    };
    // Notifications (no id) are never answered.
    let Some(id) = id else {
        return Dispatch::Nothing;
    };
    let params = message.get("params").cloned().unwrap_or(Value::Null);
    let ok = |result: Value| Dispatch::Reply(json!({"jsonrpc": "2.0", "id": id, "result": result}));
    match method {
        "initialize" => {
            let asked = params.get("protocolVersion").and_then(Value::as_str);
            let version = asked
                .filter(|v| PROTOCOL_VERSIONS.contains(v))
                .unwrap_or(LATEST_PROTOCOL);
            ok(json!({
                "protocolVersion": version,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": SERVER_NAME, "version": env!("CARGO_PKG_VERSION")},
            }))
        }
        "ping" => ok(json!({})),
        "tools/list" => {
            let mut tools: Vec<Value> = env.tools().into_iter().map(tool_definition).collect();
            if env.browser {
                tools.extend(crate::browser::tool_definitions());
            }
            ok(json!({ "tools": tools }))
        }
        "tools/call" => {
            let name = params.get("name").and_then(Value::as_str);
            match name {
                Some(name)
                    if ActionKind::from_tool(name).is_some()
                        || (env.browser && crate::browser::is_tool(name)) =>
                {
                    Dispatch::Call { id, params }
                }
                Some(name) => {
                    Dispatch::Reply(error(id, INVALID_PARAMS, &format!("unknown tool: {name}")))
                }
                None => Dispatch::Reply(error(id, INVALID_PARAMS, "tools/call needs a tool name")),
            }
        }
        other => Dispatch::Reply(error(
            id,
            METHOD_NOT_FOUND,
            &format!("method not found: {other}"),
        )),
    }
}

/// Runs one `tools/call` (a known tool name) and returns its result object.
async fn call_tool(params: &Value, env: &McpEnv) -> Value {
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = ActionKind::from_tool(name);
    if kind.is_none() && !crate::browser::is_tool(name) {
        return tool_result(false, &format!("unknown tool {name}"));
    }
    let Some(tier) = env.tier else {
        return tool_result(
            false,
            "this session's tier is unknown (CLAUDEOPS_TIER is not set), so no action may run; nothing was done",
        );
    };
    if let Some(kind) = kind
        && tier < kind.min_tier()
    {
        return tool_result(
            false,
            &format!(
                "{name} needs tier {} ({}) or higher; this session runs at tier {tier} ({}). Report what you found and recommend escalation instead. Nothing was done.",
                kind.min_tier(),
                kind.min_tier().role(),
                tier.role()
            ),
        );
    }
    let (Some(session_id), Some(socket_path)) = (env.session_id, env.socket.as_deref()) else {
        return tool_result(
            false,
            "this MCP server was started without CLAUDEOPS_SESSION_ID or CLAUDEOPS_ACTIONS_SOCKET, so it cannot reach the Claude Ops worker; nothing was done. Escalate: needs human attention.",
        );
    };
    let arguments = params
        .get("arguments")
        .cloned()
        .filter(|a| !a.is_null())
        .unwrap_or_else(|| json!({}));
    let request = ActionRequest {
        session_id,
        tool: name.to_owned(),
        arguments,
    };
    match socket::request(socket_path, &request, env.call_timeout).await {
        Ok(reply) => tool_result(reply.ok, &reply.text),
        Err(problem) => tool_result(
            false,
            &format!("{problem}. Do not retry by other means; escalate: needs human attention."),
        ),
    }
}

fn tool_result(ok: bool, text: &str) -> Value {
    json!({
        "content": [{"type": "text", "text": text}],
        "isError": !ok,
    })
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}
