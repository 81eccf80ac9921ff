//! Questions from chat clients (Open WebUI, ChatBox, LM Studio, the `openai`
//! and `ollama` libraries): an OpenAI-compatible API under `/v1` and an
//! Ollama-compatible one under `/api`, both behind `CLAUDEOPS_CHAT_API_KEY`
//! (unset: every endpoint answers 503; nothing is open without the key).
//!
//! A question starts a session (trigger `chat`) on the site its model names
//! (`claude-ops-tier2@cabin`), with the conversation so far as context, and
//! the agent's text and tool calls stream back as they happen. A busy site
//! gets an honest answer at once, without a model call. A client that
//! disconnects stops nothing unless it asked to (`stop_on_disconnect`).
//!
//! This module holds what both dialects share: the key, the model names, the
//! prompt, starting the session and turning its output into [`Reply`] parts.

pub mod ollama;
pub mod openai;

use axum::http::{HeaderMap, StatusCode, header};
use claudeops_core::stream::StreamEvent;
use claudeops_core::{Session, SessionId, SiteName, Tier, Trigger};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::app::AppState;
use crate::clock::{now_ms, rfc3339};
use crate::http::sse::{Followed, follow};
use crate::sessions::{StartError, StartRequest};

/// The model names every client lists.
pub const MODEL_PREFIX: &str = "claude-ops";

/// Why the key check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// `CLAUDEOPS_CHAT_API_KEY` is unset: the endpoints are off.
    Disabled,
    /// Missing or wrong.
    Invalid,
}

/// Checks `Authorization: Bearer KEY` against `CLAUDEOPS_CHAT_API_KEY`, in
/// constant time.
pub fn check_key(state: &AppState, headers: &HeaderMap) -> Result<(), KeyError> {
    let Some(key) = state
        .context
        .config
        .chat_api_key
        .as_deref()
        .filter(|k| !k.trim().is_empty())
    else {
        return Err(KeyError::Disabled);
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if !given.is_empty() && claudeops_pki::constant_time_eq(given.as_bytes(), key.as_bytes()) {
        Ok(())
    } else {
        Err(KeyError::Invalid)
    }
}

/// A chat model: the tier it starts at and the site it runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatModel {
    pub tier: Tier,
    pub site: SiteName,
}

/// Reads `claude-ops-tierN[@site][:tag]` (`claude-ops` alone, or no model,
/// is tier 1, as in the original; Ollama clients add `:latest`).
pub fn parse_model(name: &str, default_site: &str) -> Result<ChatModel, String> {
    let unknown = || {
        format!(
            "unknown model {name:?}: use {MODEL_PREFIX}-tier1, -tier2 or -tier3, optionally with @SITE (e.g. {MODEL_PREFIX}-tier2@cabin)"
        )
    };
    let name = name.trim();
    let name = match name.rsplit_once(':') {
        Some((base, tag)) if !tag.contains('@') => base,
        _ => name,
    };
    let (base, site) = match name.split_once('@') {
        Some((base, site)) => (base, site),
        None => (name, default_site),
    };
    let tier = match base {
        // No model at all: tier 1, as in the original.
        "" | "claude-ops" | "claude-ops-tier1" => Tier::Observe,
        "claude-ops-tier2" => Tier::Investigate,
        "claude-ops-tier3" => Tier::Remediate,
        _ => return Err(unknown()),
    };
    let site = SiteName::new(site.to_owned()).map_err(|e| format!("model {name:?}: {e}"))?;
    Ok(ChatModel { tier, site })
}

/// The model ids to list: the three tiers, and each with every site's name.
pub async fn model_ids(state: &AppState) -> Vec<String> {
    let mut sites: Vec<String> = state
        .context
        .store
        .list_workers(None)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|w| !w.is_revoked())
        .map(|w| w.site.to_string())
        .collect();
    sites.sort();
    sites.dedup();
    sites.truncate(100);
    let mut ids = Vec::new();
    for tier in 1..=3 {
        ids.push(format!("{MODEL_PREFIX}-tier{tier}"));
        for site in &sites {
            ids.push(format!("{MODEL_PREFIX}-tier{tier}@{site}"));
        }
    }
    ids
}

/// One message of the conversation, in either dialect.
#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub role: String,
    /// A string, or OpenAI's list of parts (`{"type": "text", "text": ...}`).
    #[serde(default)]
    pub content: Value,
}

impl Message {
    pub fn text(&self) -> String {
        match &self.content {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        }
    }
}

/// The longest conversation taken into a prompt, in bytes (the newest part).
const CONVERSATION_LIMIT: usize = 24_000;

/// The session's prompt: the last user message is the question, what came
/// before it the context. `None` when there is no user message.
pub fn prompt(messages: &[Message], client: &str) -> Option<String> {
    let last_user = messages.iter().rposition(|m| m.role == "user")?;
    let question = messages[last_user].text();
    if question.trim().is_empty() {
        return None;
    }
    let mut earlier = String::new();
    for message in &messages[..last_user] {
        let text = message.text();
        if !text.trim().is_empty() {
            earlier.push_str(&format!("**{}**: {}\n\n", message.role, text.trim()));
        }
    }
    if earlier.len() > CONVERSATION_LIMIT {
        let mut cut = earlier.len() - CONVERSATION_LIMIT;
        while !earlier.is_char_boundary(cut) {
            cut += 1;
        }
        earlier = format!("[... earlier messages cut]\n{}", &earlier[cut..]);
    }
    let mut text = format!(
        "The operator asks a question through a chat client ({client}). Answer it within your \
         tier: look at what you need to, say plainly what you found and what you did, and keep \
         the answer readable in a chat window.\n"
    );
    if !earlier.is_empty() {
        text.push_str(&format!("\n## The conversation so far\n\n{earlier}"));
    }
    text.push_str(&format!("\n## The question\n\n{}\n", question.trim()));
    Some(text)
}

/// What a question led to.
pub enum Started {
    /// The session started (its id).
    Session(SessionId),
    /// The site is busy: the answer to give at once, without a model.
    Busy(String),
}

/// Why a question cannot be answered, with an HTTP status.
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
    /// OpenAI's error `type`.
    pub kind: &'static str,
}

/// Starts the session for a question, or says why not.
pub async fn start(
    state: &AppState,
    dialect: &'static str,
    model: &ChatModel,
    prompt: String,
    headers: &HeaderMap,
) -> Result<Started, Refusal> {
    let request = StartRequest {
        site: model.site.clone(),
        tier: model.tier,
        trigger: Trigger::Chat,
        prompt: Some(prompt),
        handoff: None,
        parent_id: None,
    };
    let started = started(state, request, headers).await;
    let outcome = match &started {
        Ok(Started::Session(_)) => "started",
        Ok(Started::Busy(_)) => "busy",
        Err(_) => "refused",
    };
    metrics::counter!(claudeops_telemetry::names::CHAT_QUESTIONS, "dialect" => dialect, "outcome" => outcome)
        .increment(1);
    started
}

async fn started(
    state: &AppState,
    request: StartRequest,
    headers: &HeaderMap,
) -> Result<Started, Refusal> {
    let refusal = |status, kind, message: String| Refusal {
        status,
        message,
        kind,
    };
    match state.sessions.start(request).await {
        Ok(session) => Ok(Started::Session(session.id)),
        Err(StartError::Busy { site, running }) => {
            let session = state.sessions.get(running).await.ok().flatten();
            Ok(Started::Busy(busy_answer(
                &site,
                running,
                session.as_ref(),
                headers,
            )))
        }
        Err(
            e @ (StartError::AboveMaxTier { .. }
            | StartError::DryRun(_)
            | StartError::DailyCap { .. }),
        ) => Err(refusal(
            StatusCode::FORBIDDEN,
            "permission_error",
            e.to_string(),
        )),
        Err(e @ (StartError::NoWorker(_) | StartError::LlmOff(_) | StartError::ShuttingDown)) => {
            Err(refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                e.to_string(),
            ))
        }
        Err(StartError::Store(e)) => {
            tracing::error!(error = %e, "a chat question could not start a session");
            Err(refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                format!("the database could not start a session: {e}"),
            ))
        }
    }
}

/// Where the dashboard is, as the client reached it.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or("localhost:8080");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

fn busy_answer(
    site: &SiteName,
    running: SessionId,
    session: Option<&Session>,
    headers: &HeaderMap,
) -> String {
    let link = format!("{}/sessions/{running}", base_url(headers));
    match session {
        Some(s) => {
            let minutes = (now_ms() - s.started_at_ms).max(0) / 60_000;
            format!(
                "Site {site} is busy: session #{running} (tier {}, started by {}) has been running \
                 since {} ({minutes} min). I did not start another session and no model was asked. \
                 Follow it at {link}, and ask again when it has ended.",
                s.tier,
                s.trigger,
                rfc3339(s.started_at_ms)
            )
        }
        None => format!(
            "Site {site} is busy: session #{running} is running. I did not start another session \
             and no model was asked. Follow it at {link}, and ask again when it has ended."
        ),
    }
}

/// One part of the answer, as the session produces it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Text(String),
    ToolCall {
        id: String,
        name: String,
        arguments: Value,
    },
    /// The end: the tokens, and a closing note when the session did not
    /// complete (or its summary, when no text came before it).
    End {
        usage: Usage,
        note: Option<String>,
    },
}

/// Tokens of a session, from the CLI's final `result` line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens, cached ones included.
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    fn from_result_line(raw: &str) -> Option<Usage> {
        let value: Value = serde_json::from_str(raw).ok()?;
        let usage = value.get("usage")?;
        let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
        Some(Usage {
            prompt_tokens: n("input_tokens")
                + n("cache_creation_input_tokens")
                + n("cache_read_input_tokens"),
            completion_tokens: n("output_tokens"),
        })
    }
}

/// A whole answer known at once (a busy site's), as the parts a session's would be.
pub fn said(text: String) -> mpsc::Receiver<Reply> {
    let (tx, rx) = mpsc::channel(2);
    // The channel has room for both: neither send can fail or wait.
    let _ = tx.try_send(Reply::Text(text));
    let _ = tx.try_send(Reply::End {
        usage: Usage::default(),
        note: None,
    });
    rx
}

/// Follows the session and sends its answer as [`Reply`] parts, ending
/// with [`Reply::End`]. Returns when the session ends or the receiver goes.
pub async fn replies(state: AppState, id: SessionId, tx: mpsc::Sender<Reply>) {
    let mut sent_seq = 0;
    let mut usage = Usage::default();
    let mut wrote_text = false;
    let mut summary = None;
    'follow: loop {
        let (ftx, mut frx) = mpsc::channel(64);
        tokio::spawn(follow(state.clone(), id, sent_seq, ftx));
        while let Some(item) = frx.recv().await {
            match item {
                Followed::Line(line) => {
                    sent_seq = line.seq;
                    for event in line.events {
                        let reply = match event {
                            StreamEvent::Text { text } if !text.trim().is_empty() => {
                                wrote_text = true;
                                Reply::Text(text)
                            }
                            StreamEvent::ToolUse { id, name, input } => Reply::ToolCall {
                                id,
                                name,
                                arguments: input,
                            },
                            StreamEvent::Result(result) => {
                                usage = Usage::from_result_line(&line.raw).unwrap_or_default();
                                summary = result
                                    .structured_output
                                    .as_ref()
                                    .and_then(|s| s["summary"].as_str())
                                    .map(str::to_owned)
                                    .or(result.result);
                                continue;
                            }
                            _ => continue,
                        };
                        if tx.send(reply).await.is_err() {
                            return;
                        }
                    }
                }
                Followed::Status(status) => {
                    let note = if status.status != "completed" {
                        Some(format!(
                            "Session #{id} {}{}.",
                            status.status,
                            status.error.map(|e| format!(": {e}")).unwrap_or_default()
                        ))
                    } else if !wrote_text {
                        summary.clone()
                    } else {
                        None
                    };
                    let _ = tx.send(Reply::End { usage, note }).await;
                    return;
                }
                // Fell behind the live lines: read on from the store.
                Followed::Behind => continue 'follow,
            }
        }
        return;
    }
}

/// Stops the session when the client that asked for it is gone, if it asked
/// for that (`stop_on_disconnect`); otherwise leaves it running.
pub struct StopOnDrop {
    pub state: AppState,
    pub session: SessionId,
    pub armed: bool,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (state, id) = (self.state.clone(), self.session);
        tokio::spawn(async move {
            tracing::info!(
                session = id,
                "the chat client disconnected and asked for its session to stop"
            );
            if let Err(error) = state
                .sessions
                .stop(
                    id,
                    "the chat client disconnected (it asked for stop_on_disconnect)",
                )
                .await
            {
                tracing::warn!(%error, session = id, "could not stop a chat session");
            }
        });
    }
}

/// Whether the request asks for its session to stop when it disconnects:
/// `"stop_on_disconnect": true` in the body, or the header
/// `X-ClaudeOps-Stop-On-Disconnect: true`.
pub fn stop_on_disconnect(headers: &HeaderMap, body_flag: Option<bool>) -> bool {
    body_flag.unwrap_or(false)
        || headers
            .get("x-claudeops-stop-on-disconnect")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names() {
        let m = parse_model("claude-ops-tier2@cabin", "local").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((m.tier, m.site.as_str()), (Tier::Investigate, "cabin"));
        let m = parse_model("claude-ops-tier3:latest", "home").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((m.tier, m.site.as_str()), (Tier::Remediate, "home"));
        let m =
            parse_model("claude-ops-tier1@cabin:latest", "home").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.site.as_str(), "cabin");
        let m = parse_model("claude-ops", "home").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.tier, Tier::Observe);
        let m = parse_model("", "home").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((m.tier, m.site.as_str()), (Tier::Observe, "home"));
        assert!(parse_model("gpt-4o", "home").is_err());
        assert!(parse_model("claude-ops-tier4", "home").is_err());
        assert!(parse_model("claude-ops-tier2@../x", "home").is_err());
    }

    #[test]
    fn the_last_user_message_is_the_question() {
        let messages: Vec<Message> = serde_json::from_value(serde_json::json!([
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "is the NAS ok?"},
            {"role": "assistant", "content": "yes"},
            {"role": "user", "content": [{"type": "text", "text": "and the backups?"}]}
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let text = prompt(&messages, "openai").unwrap_or_default();
        let question = text.find("## The question").unwrap_or(0);
        assert!(text[question..].contains("and the backups?"), "{text}");
        assert!(
            text[..question].contains("**user**: is the NAS ok?"),
            "{text}"
        );
        assert!(text[..question].contains("**assistant**: yes"), "{text}");
        assert!(prompt(&messages[..1], "openai").is_none());
    }

    #[test]
    fn usage_from_the_result_line() {
        let raw = r#"{"type":"result","usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":7}}"#;
        assert_eq!(
            Usage::from_result_line(raw),
            Some(Usage {
                prompt_tokens: 15,
                completion_tokens: 7
            })
        );
    }
}
