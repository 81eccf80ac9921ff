//! Schema-only types of the chat dialects (`http/chat/`): the OpenAI- and
//! Ollama-compatible requests and answers as the handlers read and build
//! them. Never built, only described (see `schemas.rs`).

// Described, never constructed.
#![allow(dead_code)]

use serde_json::Value;
use utoipa::ToSchema;

/// One message of the conversation, in either dialect.
#[derive(ToSchema)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// A string, or OpenAI's list of parts (`{"type": "text", "text": ...}`).
    #[schema(value_type = Option<Object>)]
    pub content: Option<Value>,
}

/// `POST /v1/chat/completions`: the model names the tier and site
/// (`claude-ops-tier2@cabin`; none is tier 1 of the default site).
#[derive(ToSchema)]
pub struct ChatCompletionRequest {
    pub model: Option<String>,
    pub messages: Vec<ChatMessage>,
    /// Stream `chat.completion.chunk`s as server-sent events.
    pub stream: Option<bool>,
    /// Stop the session if the client leaves before it ends (also the header
    /// `X-ClaudeOps-Stop-On-Disconnect: true`).
    pub stop_on_disconnect: Option<bool>,
}

/// The whole answer (`"stream": false`).
#[derive(ToSchema)]
pub struct ChatCompletion {
    pub id: String,
    #[schema(value_type = ChatCompletionObject)]
    pub object: String,
    /// Unix seconds.
    pub created: i64,
    pub model: String,
    pub choices: Vec<ChatChoice>,
    pub usage: ChatUsage,
    /// The session that answered (absent when the site was busy).
    #[schema(nullable = false)]
    pub claudeops: Option<ChatSession>,
}

/// One chunk of a streamed answer (`"stream": true`).
#[derive(ToSchema)]
pub struct ChatCompletionChunk {
    pub id: String,
    /// `chat.completion.chunk`.
    pub object: String,
    /// Unix seconds.
    pub created: i64,
    pub model: String,
    pub choices: Vec<ChatChunkChoice>,
    /// The tokens, on the last chunk.
    #[schema(nullable = false)]
    pub usage: Option<ChatUsage>,
}

#[derive(ToSchema)]
pub struct ChatChunkChoice {
    pub index: u32,
    /// `{"role", "content"}` first, then `{"content"}` or `{"tool_calls"}`,
    /// and `{}` on the last chunk.
    #[schema(value_type = Object)]
    pub delta: Value,
    /// `stop` on the last chunk.
    pub finish_reason: Option<String>,
}

#[derive(ToSchema)]
pub enum ChatCompletionObject {
    #[schema(rename = "chat.completion")]
    ChatCompletion,
}

#[derive(ToSchema)]
pub struct ChatChoice {
    pub index: u32,
    pub message: ChatAnswerMessage,
    pub finish_reason: String,
}

#[derive(ToSchema)]
pub struct ChatAnswerMessage {
    pub role: String,
    pub content: String,
}

#[derive(ToSchema)]
pub struct ChatUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// The session a question started.
#[derive(ToSchema)]
pub struct ChatSession {
    pub session_id: i64,
    pub site: String,
    pub tier: u8,
}

/// OpenAI's error shape.
#[derive(ToSchema)]
pub struct OpenAiError {
    pub error: OpenAiErrorDetail,
}

#[derive(ToSchema)]
pub struct OpenAiErrorDetail {
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `permission_error`,
    /// `service_unavailable`.
    #[schema(rename = "type")]
    pub kind: String,
    pub code: String,
    /// Always `null`.
    pub param: Option<String>,
}

/// `GET /v1/models`.
#[derive(ToSchema)]
pub struct OpenAiModelList {
    pub object: String,
    pub data: Vec<OpenAiModel>,
}

#[derive(ToSchema)]
pub struct OpenAiModel {
    pub id: String,
    pub object: String,
    pub created: i64,
    pub owned_by: String,
}

/// `POST /api/chat`.
#[derive(ToSchema)]
pub struct OllamaChatRequest {
    pub model: Option<String>,
    pub messages: Option<Vec<ChatMessage>>,
    /// NDJSON lines unless `false` (Ollama's default is to stream).
    pub stream: Option<bool>,
    pub stop_on_disconnect: Option<bool>,
}

/// `POST /api/generate`.
#[derive(ToSchema)]
pub struct OllamaGenerateRequest {
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub system: Option<String>,
    pub stream: Option<bool>,
    pub stop_on_disconnect: Option<bool>,
}

/// `POST /api/chat`'s last line, or its whole answer (`"stream": false`).
#[derive(ToSchema)]
pub struct OllamaChatAnswer {
    pub model: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub done: bool,
    pub message: OllamaMessage,
    #[schema(nullable = false)]
    pub done_reason: Option<String>,
    #[schema(nullable = false)]
    pub total_duration: Option<u64>,
    #[schema(nullable = false)]
    pub load_duration: Option<u64>,
    #[schema(nullable = false)]
    pub prompt_eval_count: Option<u64>,
    #[schema(nullable = false)]
    pub prompt_eval_duration: Option<u64>,
    #[schema(nullable = false)]
    pub eval_count: Option<u64>,
    #[schema(nullable = false)]
    pub eval_duration: Option<u64>,
}

#[derive(ToSchema)]
pub struct OllamaMessage {
    pub role: String,
    pub content: String,
    #[schema(nullable = false)]
    pub tool_calls: Option<Vec<Value>>,
}

/// `POST /api/generate`'s last line, or its whole answer.
#[derive(ToSchema)]
pub struct OllamaGenerateAnswer {
    pub model: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub done: bool,
    pub response: String,
    #[schema(nullable = false)]
    pub done_reason: Option<String>,
    #[schema(nullable = false)]
    pub total_duration: Option<u64>,
    #[schema(nullable = false)]
    pub load_duration: Option<u64>,
    #[schema(nullable = false)]
    pub prompt_eval_count: Option<u64>,
    #[schema(nullable = false)]
    pub prompt_eval_duration: Option<u64>,
    #[schema(nullable = false)]
    pub eval_count: Option<u64>,
    #[schema(nullable = false)]
    pub eval_duration: Option<u64>,
}

/// `GET /api/tags`: the chat models, as Ollama lists local models.
#[derive(ToSchema)]
pub struct OllamaTags {
    pub models: Vec<OllamaModel>,
}

#[derive(ToSchema)]
pub struct OllamaModel {
    pub name: String,
    pub model: String,
    #[schema(format = DateTime)]
    pub modified_at: String,
    pub size: u64,
    pub digest: String,
    pub details: OllamaModelDetails,
}

#[derive(ToSchema)]
pub struct OllamaModelDetails {
    pub parent_model: String,
    pub format: String,
    pub family: String,
    pub families: Vec<String>,
    pub parameter_size: String,
    pub quantization_level: String,
}

/// `GET /api/version`.
#[derive(ToSchema)]
pub struct OllamaVersion {
    pub version: String,
}
