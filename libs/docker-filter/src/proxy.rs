//! One request through the filter: classify it with [`route`], refuse it with
//! a JSON message, or forward it to the Engine over a fresh connection and
//! stream the answer back as it comes.
//!
//! Why a fresh upstream connection per request: a hijacked exec stream or a
//! followed log owns its connection until it ends, and a connection per
//! request keeps each one's lifetime tied to the client's request.
//!
//! What it must not do: collect a forwarded answer (only an exec create's
//! small JSON answer is read, to learn the exec's id), or answer a refusal
//! before the request body is read (the client would see a broken pipe
//! instead of the message).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use crate::exec::check_exec;
use crate::route::{REFUSED_BY, Route, route};
use crate::{ExecPolicy, MAX_BODY, Shared};

/// How much of a refused request's body is read and thrown away so that the
/// client is still listening when the refusal comes (a `docker build`
/// context); past this the connection is closed.
const MAX_DRAINED: usize = 16 * 1024 * 1024;

type Body = BoxBody<Bytes, hyper::Error>;

/// Connection-level headers that belong to the client's connection, not to
/// the request (the upstream connection is the filter's own).
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "expect",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
];

/// Largest container inspect answer read whole (to hide its environment).
const MAX_INSPECT: usize = 16 * 1024 * 1024;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

fn json_message(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "message": message }).to_string();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(body))
        .unwrap_or_else(|_| Response::new(full("")))
}

fn bad_gateway(what: &str, error: impl std::fmt::Display) -> Response<Body> {
    json_message(
        StatusCode::BAD_GATEWAY,
        &format!("Claude Ops' Docker filter: {what}: {error}"),
    )
}

fn is_upgrade<B>(request: &Request<B>) -> bool {
    request.headers().contains_key(header::UPGRADE)
}

/// Reads and discards up to [`MAX_DRAINED`] bytes of a refused request's body.
async fn drain(mut body: Incoming) {
    let mut seen = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            seen += data.len();
            if seen > MAX_DRAINED {
                return;
            }
        }
    }
}

pub(crate) async fn handle(request: Request<Incoming>, shared: Arc<Shared>) -> Response<Body> {
    let method = request.method().as_str().to_owned();
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let absolute = request.uri().scheme().is_some() || request.uri().authority().is_some();
    let mut decided = if absolute {
        Route::Refuse(format!(
            "{REFUSED_BY}: the request target is not a plain API path"
        ))
    } else {
        route(&method, &target)
    };
    if is_upgrade(&request) && matches!(decided, Route::Read | Route::ExecCreate) {
        decided = Route::Refuse(format!(
            "{REFUSED_BY}: only an exec start may upgrade its connection"
        ));
    }
    tracing::debug!(%method, %target, ?decided, "docker filter request");
    let refuse = |status: StatusCode, message: &str| {
        shared.count_refusal(&method, &target, status.as_u16());
        tracing::info!(%method, %target, "docker filter refused a request");
        json_message(status, message)
    };
    match decided {
        Route::Refuse(message) => {
            drain(request.into_body()).await;
            refuse(StatusCode::FORBIDDEN, &message)
        }
        Route::Hidden(message) => {
            drain(request.into_body()).await;
            refuse(StatusCode::NOT_FOUND, &message)
        }
        Route::Read => forward(request, &shared, After::Stream).await,
        Route::Inspect => forward(request, &shared, After::HideEnv).await,
        Route::ExecCreate => {
            let ExecPolicy::Judged(judge) = &shared.policy.exec else {
                drain(request.into_body()).await;
                return refuse(
                    StatusCode::FORBIDDEN,
                    &format!(
                        "{REFUSED_BY}: docker exec is not allowed at this session's tier (CLAUDEOPS_DOCKER_EXEC_TIER); read the container's logs or inspect it instead"
                    ),
                );
            };
            let (parts, body) = request.into_parts();
            let Ok(body) = Limited::new(body, MAX_BODY).collect().await else {
                return refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!(
                        "{REFUSED_BY}: the exec request body is over {MAX_BODY} bytes or broken"
                    ),
                );
            };
            let checked = match check_exec(&body.to_bytes()) {
                Ok(checked) => checked,
                Err(message) => return refuse(StatusCode::FORBIDDEN, &message),
            };
            let body_len = checked.body.len();
            if let Err(reason) = judge(&checked.argv) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    &format!("{REFUSED_BY}: this exec's command is refused: {reason}"),
                );
            }
            let mut request = Request::from_parts(parts, full(checked.body));
            let headers = request.headers_mut();
            headers.remove(header::TRANSFER_ENCODING);
            headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from(body_len));
            forward(request, &shared, After::RememberExec).await
        }
        Route::Exec { id } => {
            if !shared.knows_exec(&id) {
                drain(request.into_body()).await;
                return refuse(
                    StatusCode::FORBIDDEN,
                    &format!(
                        "{REFUSED_BY}: exec {id} was not created through this session's socket"
                    ),
                );
            }
            forward(request, &shared, After::Stream).await
        }
    }
}

/// Sends `request` to the Engine and answers with its response, streamed.
/// `exec_create`: read the (small) answer to learn the created exec's id.
/// What happens to an answer on its way back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    /// Passed through as it arrives (streams stay live).
    Stream,
    /// An exec create: its id is remembered.
    RememberExec,
    /// A container inspect: the environment's values are hidden.
    HideEnv,
}

/// The text that replaces each environment value in a container inspect.
pub const HIDDEN: &str = "(hidden by Claude Ops)";

/// `Config.Env` of a container inspect with every value replaced by [`HIDDEN`].
pub fn hide_env(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if let Some(env) = value
        .pointer_mut("/Config/Env")
        .and_then(serde_json::Value::as_array_mut)
    {
        for entry in env.iter_mut() {
            let name = entry
                .as_str()
                .map(|e| e.split_once('=').map_or(e, |(n, _)| n).to_owned())
                .unwrap_or_default();
            *entry = format!("{name}={HIDDEN}").into();
        }
    }
    serde_json::to_vec(&value).ok()
}

async fn forward<B>(mut request: Request<B>, shared: &Shared, after: After) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let client_upgrade = is_upgrade(&request).then(|| hyper::upgrade::on(&mut request));
    if client_upgrade.is_none() {
        for name in HOP_BY_HOP {
            request.headers_mut().remove(HeaderName::from_static(name));
        }
    }
    let request = request.map(|body| Limited::new(body, MAX_BODY));
    let stream = match UnixStream::connect(&shared.upstream).await {
        Ok(stream) => stream,
        Err(error) => return bad_gateway("cannot reach the Docker Engine", error),
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    {
        Ok(pair) => pair,
        Err(error) => return bad_gateway("the Docker Engine did not answer", error),
    };
    let mut stopped = shared.stopped.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = conn.with_upgrades() => {}
            _ = stopped.changed() => {}
        }
    });
    let mut response = match sender.send_request(request).await {
        Ok(response) => response,
        Err(error) => return bad_gateway("the Docker Engine did not answer", error),
    };
    shared.forwarded.fetch_add(1, Ordering::Relaxed);
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return bad_gateway("the Docker Engine upgraded a connection", "not asked to");
        };
        let upstream_upgrade = hyper::upgrade::on(&mut response);
        let mut stopped = shared.stopped.clone();
        tokio::spawn(async move {
            if let (Ok(client), Ok(upstream)) = (client_upgrade.await, upstream_upgrade.await) {
                let mut client = TokioIo::new(client);
                let mut upstream = TokioIo::new(upstream);
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                    _ = stopped.changed() => {}
                }
            }
        });
        let (parts, _) = response.into_parts();
        return Response::from_parts(parts, full(Bytes::new()));
    }
    if after == After::Stream {
        return response.map(BodyExt::boxed);
    }
    let (mut parts, body) = response.into_parts();
    if after == After::HideEnv {
        let bytes = match Limited::new(body, MAX_INSPECT).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => return bad_gateway("the inspect answer broke off", error),
        };
        if !parts.status.is_success() {
            return Response::from_parts(parts, full(bytes));
        }
        let Some(hidden) = hide_env(&bytes) else {
            return bad_gateway(
                "the inspect answer is not JSON",
                "cannot hide its environment",
            );
        };
        parts.headers.remove(hyper::header::CONTENT_LENGTH);
        return Response::from_parts(parts, full(hidden));
    }
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => return bad_gateway("the exec create answer broke off", error),
    };
    if parts.status.is_success() {
        let id = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["Id"].as_str().map(str::to_owned));
        if let Some(id) = id {
            shared.remember_exec(id);
        }
    }
    Response::from_parts(parts, full(bytes))
}
