//! A scripted Anthropic Messages API server for tests.
//!
//! The agent path is tested with the real `claude` CLI, its tools, hooks and
//! permission checks; only the model is replaced. Point the CLI at
//! [`ScriptedModel::base_url`] through `ANTHROPIC_BASE_URL` and it plays the
//! [`Script`]s given at start. The server is stateless: the turn it plays is
//! the number of assistant messages already in the request. Every request is
//! recorded so tests can assert on what the model was sent.

mod record;
mod script;
mod wire;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use record::{RecordedRequest, ToolResult};
pub use script::{Block, DONE_TEXT, Matcher, STRUCTURED_OUTPUT_TOOL, Script, StopReason, Turn};
pub use wire::Usage;

/// Largest request body accepted (the CLI's requests are tens of KB).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The listening socket could not be bound.
    #[error("scripted model: cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A running scripted model; stops when dropped.
#[derive(Debug)]
pub struct ScriptedModel {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    scripts: Mutex<Vec<Script>>,
    requests: Mutex<Vec<RecordedRequest>>,
    seq: AtomicU64,
}

impl Shared {
    fn scripts(&self) -> std::sync::MutexGuard<'_, Vec<Script>> {
        self.scripts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn requests(&self) -> std::sync::MutexGuard<'_, Vec<RecordedRequest>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ScriptedModel {
    /// Starts on a free loopback port. Panics if no port can be bound
    /// (a test cannot go on without its model).
    pub async fn start(scripts: Vec<Script>) -> ScriptedModel {
        match Self::try_start(scripts).await {
            Ok(model) => model,
            Err(err) => panic!("{err}"),
        }
    }

    /// Starts on a free loopback port.
    pub async fn try_start(scripts: Vec<Script>) -> Result<ScriptedModel, ModelError> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), scripts).await
    }

    /// Starts on `addr` (port 0 for any free port).
    pub async fn start_on(
        addr: SocketAddr,
        scripts: Vec<Script>,
    ) -> Result<ScriptedModel, ModelError> {
        let bind_err = |source| ModelError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let shared = Arc::new(Shared::default());
        *shared.scripts() = scripts;
        let (tx, rx) = oneshot::channel();
        tokio::spawn(serve(listener, router(shared.clone()), rx));
        Ok(ScriptedModel {
            addr,
            shared,
            shutdown: Some(tx),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the value for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Environment that points the `claude` CLI at this server.
    pub fn cli_env(&self) -> Vec<(String, String)> {
        cli_env(&self.base_url())
    }

    /// Replaces the scripts for the requests to come.
    pub fn set_scripts(&self, scripts: Vec<Script>) {
        *self.shared.scripts() = scripts;
    }

    /// Adds a script after the existing ones (it answers what they do not match).
    pub fn push_script(&self, script: Script) {
        self.shared.scripts().push(script);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests().clone()
    }

    /// The `POST /v1/messages` requests (model turns) received so far.
    pub fn message_requests(&self) -> Vec<RecordedRequest> {
        self.filtered(RecordedRequest::is_messages)
    }

    /// Model turns whose system prompt or messages contain `needle`.
    pub fn requests_matching(&self, needle: &str) -> Vec<RecordedRequest> {
        self.filtered(|r| r.is_messages() && r.text().contains(needle))
    }

    /// Model turns that asked for a model whose name contains `model`.
    pub fn requests_for_model(&self, model: &str) -> Vec<RecordedRequest> {
        self.filtered(|r| r.is_messages() && r.model().is_some_and(|m| m.contains(model)))
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        self.shared.requests().clear();
    }

    fn filtered(&self, keep: impl Fn(&RecordedRequest) -> bool) -> Vec<RecordedRequest> {
        let requests = self.shared.requests();
        requests.iter().filter(|r| keep(r)).cloned().collect()
    }
}

/// Environment that points the `claude` CLI at a scripted model at
/// `base_url`: `ANTHROPIC_BASE_URL`, a dummy `ANTHROPIC_API_KEY`, and
/// `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`.
pub fn cli_env(base_url: &str) -> Vec<(String, String)> {
    [
        ("ANTHROPIC_BASE_URL", base_url),
        ("ANTHROPIC_API_KEY", "test"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

impl Drop for ScriptedModel {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

async fn serve(listener: TcpListener, router: Router, stop: oneshot::Receiver<()>) {
    let shutdown = async {
        let _ = stop.await;
    };
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await;
    if let Err(err) = served {
        tracing::warn!(%err, "scripted model stopped with an error");
    }
}

/// Records every request, then answers it by path.
async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = RecordedRequest::new(
        method.as_str(),
        uri.path(),
        uri.query(),
        header_pairs(&headers),
        &body,
    );
    tracing::info!(method = %method, uri = %uri, bytes = body.len(), "scripted model request");
    shared.requests().push(request.clone());
    match (method, request.path.as_str()) {
        (Method::POST, "/v1/messages") => messages(&shared, &request),
        (Method::POST, "/v1/messages/count_tokens") => count_tokens(&request),
        (Method::GET, "/v1/models") => {
            // Slow enough that concurrent callers overlap (the cache's one
            // request in flight is tested against it).
            tokio::time::sleep(MODELS_DELAY).await;
            models()
        }
        (Method::HEAD | Method::GET, "/" | "/api/hello") => StatusCode::OK.into_response(),
        _ => not_found(&request),
    }
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect()
}

/// A model turn: picks the script and its turn, then streams or returns it.
fn messages(shared: &Shared, request: &RecordedRequest) -> Response {
    if !request.body.is_object() {
        let body = wire::error("invalid_request_error", "body is not a JSON object");
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    let model = request.model().unwrap_or("claude-scripted").to_owned();
    let turn = pick_turn(shared, &model, request);
    let usage = Usage::estimate(request.body_bytes, &turn);
    let ids = wire::Ids::from_seq(shared.seq.fetch_add(1, Ordering::Relaxed) + 1);
    if request.is_streaming() {
        stream_response(wire::stream_events(&turn, &model, usage, &ids))
    } else {
        axum::Json(wire::message(&turn, &model, usage, &ids)).into_response()
    }
}

fn pick_turn(shared: &Shared, model: &str, request: &RecordedRequest) -> Turn {
    let scripts = shared.scripts();
    match script::select(&scripts, model, &request.text()) {
        Some(script) => script.turn(request.assistant_turns()),
        None => Turn::text(DONE_TEXT),
    }
}

fn stream_response(events: Vec<String>) -> Response {
    let chunks = events
        .into_iter()
        .map(|e| Ok::<_, std::convert::Infallible>(Bytes::from(e)));
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let headers = [
        (header::CONTENT_TYPE, "text/event-stream"),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    (headers, body).into_response()
}

/// How long `GET /v1/models` takes.
pub const MODELS_DELAY: std::time::Duration = std::time::Duration::from_millis(300);

/// The models a scripted upstream lists (`GET /v1/models`, the Anthropic shape).
pub const LISTED_MODELS: &[&str] = &[
    "claude-haiku-4-5",
    "claude-opus-4-1",
    "claude-scripted",
    "claude-sonnet-4-5",
];

fn models() -> Response {
    let data: Vec<Value> = LISTED_MODELS
        .iter()
        .map(|id| {
            json!({"type": "model", "id": id, "display_name": format!("Scripted {id}"),
                   "created_at": "2025-10-01T00:00:00Z"})
        })
        .collect();
    axum::Json(json!({"data": data, "has_more": false,
                      "first_id": LISTED_MODELS.first(), "last_id": LISTED_MODELS.last()}))
    .into_response()
}

/// `count_tokens`: the same rough estimate the streamed usage uses.
fn count_tokens(request: &RecordedRequest) -> Response {
    let usage = Usage::estimate(request.body_bytes, &Turn::default());
    axum::Json(json!({"input_tokens": usage.input_tokens})).into_response()
}

fn not_found(request: &RecordedRequest) -> Response {
    let message = format!(
        "scripted model does not serve {} {}",
        request.method, request.path
    );
    let body: Value = wire::error("not_found_error", &message);
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}
