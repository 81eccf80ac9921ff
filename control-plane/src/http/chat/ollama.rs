//! The Ollama-compatible endpoints: `POST /api/chat` and `POST /api/generate`
//! (NDJSON streaming by default, as Ollama does; one object with
//! `"stream": false`), `GET /api/tags` and `GET /api/version`. All behind the
//! same key as the OpenAI ones: unlike the original, none is open.

use std::convert::Infallible;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{
    KeyError, Message, Refusal, Reply, Started, StopOnDrop, Usage, check_key, model_ids,
    parse_model, prompt, replies, said, start, stop_on_disconnect,
};
use crate::app::AppState;
use crate::clock::{now_ms, rfc3339};
use crate::http::openapi::answers;

const BODY_LIMIT: usize = 1024 * 1024;

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

fn key_error(e: KeyError) -> Response {
    match e {
        KeyError::Disabled => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the Ollama-compatible endpoints are off: CLAUDEOPS_CHAT_API_KEY is not set",
        ),
        KeyError::Invalid => error(
            StatusCode::UNAUTHORIZED,
            "invalid API key: send Authorization: Bearer CLAUDEOPS_CHAT_API_KEY",
        ),
    }
}

/// `GET /api/version`.
#[utoipa::path(
    get,
    path = "/api/version",
    operation_id = "ollama_version",
    tag = "chat-ollama",
    summary = "The version, as Ollama answers it",
    security(("chat_key" = [])),
    responses(
        (status = 200, description = "The control plane's version.", body = crate::http::openapi::chat::OllamaVersion),
        answers::NoValidKey,
        answers::ChatOff,
    )
)]
pub async fn version(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = check_key(&state, &headers) {
        return key_error(e);
    }
    Json(json!({"version": env!("CARGO_PKG_VERSION")})).into_response()
}

/// `GET /api/tags`: the chat models, as Ollama lists local models.
#[utoipa::path(
    get,
    path = "/api/tags",
    operation_id = "ollama_tags",
    tag = "chat-ollama",
    summary = "The chat models, as Ollama lists local models",
    security(("chat_key" = [])),
    responses(
        (status = 200, description = "The models (`claude-ops-tier2@cabin:latest`, ...).", body = crate::http::openapi::chat::OllamaTags),
        answers::NoValidKey,
        answers::ChatOff,
    )
)]
pub async fn tags(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = check_key(&state, &headers) {
        return key_error(e);
    }
    let modified = rfc3339(now_ms());
    let models: Vec<Value> = model_ids(&state)
        .await
        .into_iter()
        .map(|id| {
            let name = format!("{id}:latest");
            let digest = format!("{:016x}", claudeops_core::alert::fnv1a(&[name.as_bytes()]));
            json!({
                "name": name,
                "model": name,
                "modified_at": modified,
                "size": 0,
                "digest": digest,
                "details": {
                    "parent_model": "",
                    "format": "claude-ops",
                    "family": "claude-ops",
                    "families": ["claude-ops"],
                    "parameter_size": "",
                    "quantization_level": "",
                },
            })
        })
        .collect();
    Json(json!({"models": models})).into_response()
}

#[derive(Debug, Deserialize)]
struct ChatRequest {
    #[serde(default)]
    model: String,
    #[serde(default)]
    messages: Vec<Message>,
    stream: Option<bool>,
    stop_on_disconnect: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct GenerateRequest {
    #[serde(default)]
    model: String,
    #[serde(default)]
    prompt: String,
    system: Option<String>,
    stream: Option<bool>,
    stop_on_disconnect: Option<bool>,
}

/// Which endpoint answers: their lines differ in where the text goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Chat,
    Generate,
}

async fn read<T: serde::de::DeserializeOwned>(body: Body) -> Result<T, Response> {
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request is larger than 1 MiB",
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("invalid request body: {e}"),
        )
    })
}

/// `POST /api/chat`.
#[utoipa::path(
    post,
    path = "/api/chat",
    operation_id = "ollama_chat",
    tag = "chat-ollama",
    summary = "Ask a question: it starts a session",
    description = "As `POST /v1/chat/completions`, in Ollama's shape: NDJSON lines as the agent answers (the default), or one object with `\"stream\": false`.",
    request_body(content = crate::http::openapi::chat::OllamaChatRequest, content_type = "application/json"),
    security(("chat_key" = [])),
    responses(
        (status = 200, description = "The answer.", content(
            (crate::http::openapi::chat::OllamaChatAnswer = "application/json"),
            (crate::http::openapi::chat::OllamaChatAnswer = "application/x-ndjson"),
        )),
        (status = 400, description = "The body cannot be read, or no user message has text.", body = crate::http::openapi::schemas::ApiErrorBody),
        answers::NoValidKey,
        answers::ChatRefused,
        answers::BodyTooLarge,
    )
)]
pub async fn chat(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    if let Err(e) = check_key(&state, &headers) {
        return key_error(e);
    }
    let request: ChatRequest = match read(body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let stop = stop_on_disconnect(&headers, request.stop_on_disconnect);
    let stream = request.stream.unwrap_or(true);
    answer(
        state,
        headers,
        Dialect::Chat,
        request.model,
        &request.messages,
        stream,
        stop,
    )
    .await
}

/// `POST /api/generate`.
#[utoipa::path(
    post,
    path = "/api/generate",
    operation_id = "ollama_generate",
    tag = "chat-ollama",
    summary = "Ask one prompt: it starts a session",
    description = "As `POST /api/chat` with one prompt (and an optional system text); the text is in `response`.",
    request_body(content = crate::http::openapi::chat::OllamaGenerateRequest, content_type = "application/json"),
    security(("chat_key" = [])),
    responses(
        (status = 200, description = "The answer.", content(
            (crate::http::openapi::chat::OllamaGenerateAnswer = "application/json"),
            (crate::http::openapi::chat::OllamaGenerateAnswer = "application/x-ndjson"),
        )),
        (status = 400, description = "The body cannot be read, or the prompt is empty.", body = crate::http::openapi::schemas::ApiErrorBody),
        answers::NoValidKey,
        answers::ChatRefused,
        answers::BodyTooLarge,
    )
)]
pub async fn generate(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    if let Err(e) = check_key(&state, &headers) {
        return key_error(e);
    }
    let request: GenerateRequest = match read(body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let stop = stop_on_disconnect(&headers, request.stop_on_disconnect);
    let mut messages = Vec::new();
    if let Some(system) = request.system {
        messages.push(Message {
            role: "system".into(),
            content: Value::String(system),
        });
    }
    messages.push(Message {
        role: "user".into(),
        content: Value::String(request.prompt),
    });
    let stream = request.stream.unwrap_or(true);
    answer(
        state,
        headers,
        Dialect::Generate,
        request.model,
        &messages,
        stream,
        stop,
    )
    .await
}

async fn answer(
    state: AppState,
    headers: HeaderMap,
    dialect: Dialect,
    model_name: String,
    messages: &[Message],
    stream: bool,
    stop: bool,
) -> Response {
    let model = match parse_model(&model_name, &state.context.config.chat_default_site) {
        Ok(m) => m,
        Err(message) => return error(StatusCode::NOT_FOUND, &message),
    };
    let Some(text) = prompt(messages, "Ollama-compatible API") else {
        return error(StatusCode::BAD_REQUEST, "no user message with text");
    };
    let (rx, guard) = match start(&state, "ollama", &model, text, &headers).await {
        Err(Refusal {
            status, message, ..
        }) => return error(status, &message),
        Ok(Started::Busy(text)) => (said(text), None),
        Ok(Started::Session(session)) => {
            let (tx, rx) = mpsc::channel(64);
            tokio::spawn(replies(state.clone(), session, tx));
            let guard = StopOnDrop {
                state,
                session,
                armed: stop,
            };
            (rx, Some(guard))
        }
    };
    let lines = Lines {
        dialect,
        model: model_name,
        started: std::time::Instant::now(),
    };
    if stream {
        streamed(lines, guard, rx)
    } else {
        whole(lines, guard, rx).await
    }
}

struct Lines {
    dialect: Dialect,
    model: String,
    started: std::time::Instant,
}

impl Lines {
    fn part(&self, text: &str, tool_calls: Option<Value>) -> Value {
        let mut line = json!({"model": self.model, "created_at": rfc3339(now_ms()), "done": false});
        match self.dialect {
            Dialect::Chat => {
                let mut message = json!({"role": "assistant", "content": text});
                if let Some(calls) = tool_calls {
                    message["tool_calls"] = calls;
                }
                line["message"] = message;
            }
            Dialect::Generate => line["response"] = Value::String(text.to_owned()),
        }
        line
    }

    fn last(&self, text: &str, usage: Usage) -> Value {
        let mut line = self.part(text, None);
        line["done"] = Value::Bool(true);
        line["done_reason"] = Value::String("stop".into());
        let nanos = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        line["total_duration"] = json!(nanos);
        line["load_duration"] = json!(0);
        line["prompt_eval_count"] = json!(usage.prompt_tokens);
        line["prompt_eval_duration"] = json!(0);
        line["eval_count"] = json!(usage.completion_tokens);
        line["eval_duration"] = json!(nanos);
        line
    }
}

fn tool_calls(name: &str, arguments: Value) -> Value {
    json!([{"function": {"name": name, "arguments": arguments}}])
}

fn streamed(lines: Lines, guard: Option<StopOnDrop>, mut rx: mpsc::Receiver<Reply>) -> Response {
    let (tx, body_rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    tokio::spawn(async move {
        let mut guard = guard;
        let mut ended = false;
        loop {
            let reply = tokio::select! {
                reply = rx.recv() => reply,
                () = tx.closed() => return,
            };
            let Some(reply) = reply else { break };
            let line = match reply {
                Reply::Text(text) => lines.part(&text, None),
                Reply::ToolCall {
                    name, arguments, ..
                } if lines.dialect == Dialect::Chat => {
                    lines.part("", Some(tool_calls(&name, arguments)))
                }
                Reply::ToolCall { .. } => continue,
                Reply::End { usage, note } => {
                    ended = true;
                    let text = note.map(|n| format!("\n\n{n}")).unwrap_or_default();
                    lines.last(&text, usage)
                }
            };
            if tx.send(Ok(Bytes::from(format!("{line}\n")))).await.is_err() {
                return;
            }
        }
        if !ended {
            let line = lines.last(
                "\n\n(the session's output ended unexpectedly)",
                Usage::default(),
            );
            if tx.send(Ok(Bytes::from(format!("{line}\n")))).await.is_err() {
                return;
            }
        }
        if let Some(g) = guard.as_mut() {
            g.armed = false;
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(body_rx));
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        )],
        body,
    )
        .into_response()
}

async fn whole(
    lines: Lines,
    mut guard: Option<StopOnDrop>,
    mut rx: mpsc::Receiver<Reply>,
) -> Response {
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut usage = Usage::default();
    while let Some(reply) = rx.recv().await {
        match reply {
            Reply::Text(t) => text.push_str(&t),
            Reply::ToolCall {
                name, arguments, ..
            } => calls.push(json!({"function": {"name": name, "arguments": arguments}})),
            Reply::End { usage: u, note } => {
                usage = u;
                if let Some(note) = note {
                    text.push_str(&format!("\n\n{note}"));
                }
            }
        }
    }
    if let Some(g) = guard.as_mut() {
        g.armed = false;
    }
    let mut line = lines.last(text.trim_start(), usage);
    if lines.dialect == Dialect::Chat && !calls.is_empty() {
        line["message"]["tool_calls"] = Value::Array(calls);
    }
    Json(line).into_response()
}
