//! The OpenAI-compatible endpoints: `POST /v1/chat/completions` (streamed as
//! server-sent `chat.completion.chunk`s ending with `[DONE]`, or one
//! `chat.completion`) and `GET /v1/models`. Errors use OpenAI's shape,
//! `{"error": {"message", "type", "code"}}`.

use std::convert::Infallible;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use claudeops_core::SessionId;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{
    ChatModel, KeyError, Message, Refusal, Reply, Started, StopOnDrop, Usage, check_key, model_ids,
    parse_model, prompt, replies, said, start, stop_on_disconnect,
};
use crate::app::AppState;
use crate::clock::now_ms;

/// How often a silent stream gets a keep-alive comment.
const PING_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The largest request body read (a long conversation fits).
const BODY_LIMIT: usize = 1024 * 1024;

pub fn error(status: StatusCode, message: &str, kind: &str, code: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "code": code, "param": null}});
    (status, Json(body)).into_response()
}

fn key_error(e: KeyError) -> Response {
    match e {
        KeyError::Disabled => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the chat endpoint is off: CLAUDEOPS_CHAT_API_KEY is not set",
            "service_unavailable",
            "chat_endpoint_disabled",
        ),
        KeyError::Invalid => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "invalid API key: send Authorization: Bearer CLAUDEOPS_CHAT_API_KEY",
                "authentication_error",
                "invalid_api_key",
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
    }
}

fn refusal(r: Refusal) -> Response {
    error(r.status, &r.message, r.kind, "session_not_started")
}

/// `GET /v1/models`.
#[utoipa::path(
    get,
    path = "/v1/models",
    operation_id = "openai_models",
    tag = "chat-openai",
    summary = "The chat models",
    description = "`claude-ops-tier1`, `-tier2` and `-tier3`, and each with every site's name (`claude-ops-tier2@cabin`).",
    security(("chat_key" = [])),
    responses(
        (status = 200, description = "The models.", body = crate::http::openapi::chat::OpenAiModelList),
        (status = 401, description = "No valid key.", body = crate::http::openapi::chat::OpenAiError),
        (status = 503, description = "The chat endpoints are off (`CLAUDEOPS_CHAT_API_KEY` is unset).", body = crate::http::openapi::chat::OpenAiError),
    )
)]
pub async fn models(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = check_key(&state, &headers) {
        return key_error(e);
    }
    let data: Vec<Value> = model_ids(&state)
        .await
        .into_iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "claude-ops"}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

#[derive(Debug, Deserialize)]
struct Request {
    #[serde(default)]
    model: String,
    messages: Vec<Message>,
    #[serde(default)]
    stream: bool,
    /// Ours: stop the session if the client disconnects before it ends.
    stop_on_disconnect: Option<bool>,
}

/// `POST /v1/chat/completions`.
#[utoipa::path(
    post,
    path = "/v1/chat/completions",
    operation_id = "openai_chat_completions",
    tag = "chat-openai",
    summary = "Ask a question: it starts a session",
    description = "Starts a session (trigger `chat`) on the site the model names, with the conversation so far as context, and streams the agent's text and tool calls as `chat.completion.chunk` server-sent events ending with `data: [DONE]` (`\"stream\": true`), or answers one `chat.completion` when the session ends. A busy site is answered at once, without a model.",
    request_body(content = crate::http::openapi::chat::ChatCompletionRequest, content_type = "application/json"),
    security(("chat_key" = [])),
    responses(
        (status = 200, description = "The answer.", content(
            (crate::http::openapi::chat::ChatCompletion = "application/json"),
            (crate::http::openapi::streams::ChatCompletionEvent = "text/event-stream"),
        )),
        (status = 400, description = "The body cannot be read, or no user message has text.", body = crate::http::openapi::chat::OpenAiError),
        (status = 401, description = "No valid key.", body = crate::http::openapi::chat::OpenAiError),
        (status = 403, description = "The tier is above the maximum, dry run refuses it, or the daily cost cap is reached.", body = crate::http::openapi::chat::OpenAiError),
        (status = 404, description = "Unknown model.", body = crate::http::openapi::chat::OpenAiError),
        (status = 413, description = "The body is larger than 1 MiB.", body = crate::http::openapi::chat::OpenAiError),
        (status = 503, description = "The chat endpoints are off, no worker of the site is connected, the model tiers are off, the control plane is shutting down, or the database is unavailable.", body = crate::http::openapi::chat::OpenAiError),
    )
)]
pub async fn completions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(e) = check_key(&state, &headers) {
        return key_error(e);
    }
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request is larger than 1 MiB",
                "invalid_request_error",
                "request_too_large",
            );
        }
    };
    let request: Request = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("invalid request body: {e}"),
                "invalid_request_error",
                "invalid_request",
            );
        }
    };
    let model = match parse_model(&request.model, &state.context.config.chat_default_site) {
        Ok(m) => m,
        Err(message) => {
            return error(
                StatusCode::NOT_FOUND,
                &message,
                "invalid_request_error",
                "model_not_found",
            );
        }
    };
    let Some(text) = prompt(&request.messages, "OpenAI-compatible API") else {
        return error(
            StatusCode::BAD_REQUEST,
            "no user message with text in messages",
            "invalid_request_error",
            "invalid_request",
        );
    };
    let stop = stop_on_disconnect(&headers, request.stop_on_disconnect);
    let reply_to = Answer {
        id: format!("chatcmpl-{}", crate::auth::random_token()),
        model: request.model.clone(),
        created: now_ms() / 1000,
    };
    match start(&state, "openai", &model, text, &headers).await {
        Err(r) => refusal(r),
        Ok(Started::Busy(answer)) => respond(reply_to, None, said(answer), request.stream).await,
        Ok(Started::Session(session)) => {
            tracing::info!(session, site = %model.site, tier = %model.tier, "chat question started a session");
            let (tx, rx) = mpsc::channel(64);
            tokio::spawn(replies(state.clone(), session, tx));
            let guard = StopOnDrop {
                state,
                session,
                armed: stop,
            };
            respond(reply_to, Some((guard, &model, session)), rx, request.stream).await
        }
    }
}

struct Answer {
    id: String,
    model: String,
    created: i64,
}

impl Answer {
    fn chunk(&self, delta: Value, finish: Option<&str>, usage: Option<Usage>) -> Bytes {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        if let Some(usage) = usage {
            chunk["usage"] = usage_json(usage);
        }
        Bytes::from(format!("data: {chunk}\n\n"))
    }
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    })
}

async fn respond(
    answer: Answer,
    session: Option<(StopOnDrop, &ChatModel, SessionId)>,
    rx: mpsc::Receiver<Reply>,
    stream: bool,
) -> Response {
    let extra = session.as_ref().map(
        |(_, model, id)| json!({"session_id": id, "site": model.site, "tier": model.tier.number()}),
    );
    let guard = session.map(|(guard, _, _)| guard);
    if stream {
        streamed(answer, guard, rx)
    } else {
        whole(answer, guard, rx, extra).await
    }
}

fn streamed(answer: Answer, guard: Option<StopOnDrop>, mut rx: mpsc::Receiver<Reply>) -> Response {
    let (tx, body_rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    tokio::spawn(async move {
        // The guard lives as long as the client reads: a failed send means it left.
        let mut guard = guard;
        let send = |bytes: Bytes| {
            let tx = tx.clone();
            async move { tx.send(Ok(bytes)).await.is_ok() }
        };
        if !send(answer.chunk(json!({"role": "assistant", "content": ""}), None, None)).await {
            return;
        }
        let mut tool_index = 0;
        let mut ended = false;
        // A comment now and then: a client that left is noticed by the failed
        // write even while the session is silent.
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        loop {
            let reply = tokio::select! {
                reply = rx.recv() => reply,
                _ = ping.tick() => {
                    if send(Bytes::from_static(b": keep-alive\n\n")).await {
                        continue;
                    }
                    return;
                }
                () = tx.closed() => return,
            };
            let Some(reply) = reply else { break };
            let chunk = match reply {
                Reply::Text(text) => answer.chunk(json!({"content": text}), None, None),
                Reply::ToolCall {
                    id,
                    name,
                    arguments,
                } => {
                    let delta = json!({"tool_calls": [{
                        "index": tool_index,
                        "id": id,
                        "type": "function",
                        "function": {"name": name, "arguments": arguments.to_string()},
                    }]});
                    tool_index += 1;
                    answer.chunk(delta, None, None)
                }
                Reply::End { usage, note } => {
                    if let Some(note) = note
                        && !send(answer.chunk(
                            json!({"content": format!("\n\n{note}")}),
                            None,
                            None,
                        ))
                        .await
                    {
                        return;
                    }
                    ended = true;
                    answer.chunk(json!({}), Some("stop"), Some(usage))
                }
            };
            if !send(chunk).await {
                return;
            }
        }
        if !ended
            && !send(answer.chunk(
                json!({"content": "\n\n(the session's output ended unexpectedly)"}),
                Some("stop"),
                None,
            ))
            .await
        {
            return;
        }
        if send(Bytes::from_static(b"data: [DONE]\n\n")).await
            && let Some(g) = guard.as_mut()
        {
            g.armed = false;
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(body_rx));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        body,
    )
        .into_response()
}

async fn whole(
    answer: Answer,
    mut guard: Option<StopOnDrop>,
    mut rx: mpsc::Receiver<Reply>,
    extra: Option<Value>,
) -> Response {
    let mut content = String::new();
    let mut usage = Usage::default();
    while let Some(reply) = rx.recv().await {
        match reply {
            Reply::Text(text) => content.push_str(&text),
            Reply::ToolCall { .. } => {}
            Reply::End { usage: u, note } => {
                usage = u;
                if let Some(note) = note {
                    if !content.is_empty() {
                        content.push_str("\n\n");
                    }
                    content.push_str(&note);
                }
            }
        }
    }
    // Answered: the client did not leave early.
    if let Some(g) = guard.as_mut() {
        g.armed = false;
    }
    let mut body = json!({
        "id": answer.id,
        "object": "chat.completion",
        "created": answer.created,
        "model": answer.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop",
        }],
        "usage": usage_json(usage),
    });
    if let Some(extra) = extra {
        body["claudeops"] = extra;
    }
    Json(body).into_response()
}
