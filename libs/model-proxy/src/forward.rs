//! One request through the proxy: route, token, body, cap, model, forward.
//!
//! Each check answers in the Messages API's error shape with a reason the
//! model can read. A forwarded answer goes back as it arrives, chunk by chunk;
//! a task of its own reads the upstream, reads usage from a copy on the side,
//! and cuts the stream when the session's cap is reached.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{ACCEPT_ENCODING, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use serde::Deserialize;
use tokio::sync::{Notify, mpsc};

use crate::reply::{ErrorKind, ProxyBody, Refusal};
use crate::session::{Registry, Session, State};
use crate::stream::{Account, Reading, pump};
use crate::upstream::{UpstreamClient, describe};

/// The largest request body forwarded, in bytes.
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// Chunks held between the upstream read and the client write.
const CHANNEL_CHUNKS: usize = 8;

/// Request headers never forwarded: hop-by-hop ones, the ones the client
/// library sets for its own connection, and the client's credentials (the
/// upstream's are added instead). `accept-encoding` is replaced by `identity`
/// so the answer can be read for usage.
const DROPPED_REQUEST_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "x-api-key",
    "authorization",
    "cookie",
    "accept-encoding",
];

/// Response headers never passed back: the hop-by-hop ones.
const DROPPED_RESPONSE_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// What every connection's service shares.
pub(crate) struct Shared {
    pub registry: Arc<Registry>,
    pub upstream: UpstreamClient,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Messages,
    CountTokens,
}

/// The hyper service: never fails, every problem is an answer.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    hang_up: Arc<Notify>,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    Ok(match serve(&shared, hang_up, req).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    })
}

type Answer = Result<Response<ProxyBody>, Refusal>;

/// `hang_up` closes the client's connection after the current answer (for a
/// stream that was cut).
async fn serve(shared: &Shared, hang_up: Arc<Notify>, req: Request<Incoming>) -> Answer {
    let endpoint = route(&req)?;
    let session = authenticate(&shared.registry, req.headers())?;
    let (parts, body) = req.into_parts();
    let body = read_body(&session, body).await?;
    let model = requested_model(&session, &body)?;
    match session.check_cap() {
        State::Open => {}
        State::Capped => {
            session.record_refused();
            return Err(stopped(&session));
        }
        // The key was dropped while the body was read.
        State::Ended => return Err(unknown_token()),
    }
    if !session.grant.allows(&model) {
        session.record_refused();
        tracing::info!(
            session_id = session.grant.session_id,
            model,
            "refused a model the session's tier may not use"
        );
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            ErrorKind::Permission,
            format!(
                "Claude Ops refused the model {model:?}: this session's tier may use only {}.",
                allowed_list(&session.grant.models)
            ),
        ));
    }
    session.record_forwarded(&model);
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let upstream = send(shared, path_and_query, &parts.headers, body).await?;
    tracing::info!(
        session_id = session.grant.session_id,
        model,
        status = upstream.status().as_u16(),
        "forwarded a model request"
    );
    Ok(answer(upstream, endpoint, model, session, hang_up))
}

fn route(req: &Request<Incoming>) -> Result<Endpoint, Refusal> {
    let endpoint = match req.uri().path() {
        "/v1/messages" => Some(Endpoint::Messages),
        "/v1/messages/count_tokens" => Some(Endpoint::CountTokens),
        _ => None,
    };
    match endpoint {
        Some(e) if req.method() == Method::POST => Ok(e),
        _ => Err(Refusal::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            format!(
                "the Claude Ops model proxy forwards only POST /v1/messages and \
                 POST /v1/messages/count_tokens, not {} {}",
                req.method(),
                req.uri().path()
            ),
        )),
    }
}

fn authenticate(registry: &Registry, headers: &HeaderMap) -> Result<Arc<Session>, Refusal> {
    let unauthorized =
        |message: &str| Refusal::new(StatusCode::UNAUTHORIZED, ErrorKind::Authentication, message);
    let Some(token) = presented_token(headers) else {
        return Err(unauthorized(
            "no session token: send it in x-api-key or as Authorization: Bearer",
        ));
    };
    match registry.find(token) {
        Some(session) if session.state() != State::Ended => Ok(session),
        _ => Err(unknown_token()),
    }
}

fn unknown_token() -> Refusal {
    Refusal::new(
        StatusCode::UNAUTHORIZED,
        ErrorKind::Authentication,
        "the session token is unknown, or its session has ended",
    )
}

fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let api_key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    api_key.or_else(|| {
        headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
    })
}

async fn read_body(session: &Session, body: Incoming) -> Result<Bytes, Refusal> {
    match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            session.record_body(bytes.len() as u64);
            Ok(bytes)
        }
        Err(e) => {
            session.record_refused();
            Err(if e.is::<LengthLimitError>() {
                Refusal::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorKind::RequestTooLarge,
                    format!(
                        "the request body is larger than the model proxy's limit of {} MiB",
                        MAX_REQUEST_BYTES / (1024 * 1024)
                    ),
                )
            } else {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    ErrorKind::InvalidRequest,
                    format!("the request body could not be read: {e}"),
                )
            })
        }
    }
}

fn requested_model(session: &Session, body: &[u8]) -> Result<String, Refusal> {
    #[derive(Deserialize)]
    struct Head {
        model: String,
    }
    match serde_json::from_slice::<Head>(body) {
        Ok(head) => Ok(head.model),
        Err(e) => {
            session.record_refused();
            Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                ErrorKind::InvalidRequest,
                format!("the request body is not a JSON object with a \"model\" string: {e}"),
            ))
        }
    }
}

fn allowed_list(models: &[String]) -> String {
    if models.is_empty() {
        "no model at all".to_owned()
    } else {
        models.join(", ")
    }
}

fn stopped(session: &Session) -> Refusal {
    Refusal::new(
        StatusCode::FORBIDDEN,
        ErrorKind::Permission,
        session.stop_message(),
    )
}

/// The request headers to forward: the client's, less the dropped ones and
/// any it named in `Connection`.
fn forwarded_headers(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let n = name.as_str();
        if !DROPPED_REQUEST_HEADERS.contains(&n) && !named.iter().any(|c| c == n) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

async fn send(
    shared: &Shared,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<reqwest::Response, Refusal> {
    let upstream = &shared.upstream;
    let url = upstream.url(path_and_query).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::InvalidRequest,
            format!("the request path cannot be forwarded: {e}"),
        )
    })?;
    let mut headers = forwarded_headers(headers);
    headers.extend(upstream.auth.clone());
    headers.insert(
        ACCEPT_ENCODING,
        hyper::header::HeaderValue::from_static("identity"),
    );
    let result = upstream
        .client
        .post(url)
        .headers(headers)
        .body(body)
        .send()
        .await;
    result.map_err(|e| {
        let (status, message) = if e.is_timeout() {
            (
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "the Messages API at {} did not answer in time (the model proxy waits {:?} \
                     to connect and {:?} for each part of an answer): {}",
                    upstream.origin,
                    upstream.connect_timeout,
                    upstream.idle_timeout,
                    describe(&e)
                ),
            )
        } else {
            (
                StatusCode::BAD_GATEWAY,
                format!(
                    "the model proxy could not reach the Messages API at {}: {}",
                    upstream.origin,
                    describe(&e)
                ),
            )
        };
        tracing::warn!(status = status.as_u16(), error = %message, "a model request failed upstream");
        Refusal::new(status, ErrorKind::Api, message)
    })
}

/// The client's response: the upstream's status and headers now, its body as
/// it arrives.
fn answer(
    upstream: reqwest::Response,
    endpoint: Endpoint,
    model: String,
    session: Arc<Session>,
    hang_up: Arc<Notify>,
) -> Response<ProxyBody> {
    let content_type = upstream
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let reading = if endpoint != Endpoint::Messages || !upstream.status().is_success() {
        Reading::None
    } else if content_type.starts_with("text/event-stream") {
        Reading::Events
    } else if content_type.contains("json") {
        Reading::Json
    } else {
        Reading::None
    };
    let mut response = Response::new(ProxyBody::Full(None));
    *response.status_mut() = upstream.status();
    for (name, value) in upstream.headers() {
        if !DROPPED_RESPONSE_HEADERS.contains(&name.as_str()) {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    if reading == Reading::Events {
        // The stream may be cut short: its length is not promised.
        response.headers_mut().remove(CONTENT_LENGTH);
    }
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    *response.body_mut() = ProxyBody::Chunks(rx);
    let account = Account::new(session, model);
    tokio::spawn(pump(upstream, reading, account, tx, hang_up));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn credentials_and_hop_by_hop_headers_stay_behind() {
        let mut headers = HeaderMap::new();
        let pairs = [
            ("x-api-key", "claudeops-session-abc"),
            ("authorization", "Bearer claudeops-session-abc"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("host", "127.0.0.1:1"),
            ("accept-encoding", "gzip"),
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "a"),
            ("content-type", "application/json"),
        ];
        for (name, value) in pairs {
            headers.append(
                hyper::header::HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        headers.append("anthropic-beta", HeaderValue::from_static("b"));
        let out = forwarded_headers(&headers);
        let names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            ["anthropic-version", "anthropic-beta", "content-type"]
        );
        assert_eq!(out.get_all("anthropic-beta").iter().count(), 2);
    }

    #[test]
    fn tokens_come_from_either_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_token(&headers), None);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer tok-b"));
        assert_eq!(presented_token(&headers), Some("tok-b"));
        headers.insert("x-api-key", HeaderValue::from_static("tok-a"));
        assert_eq!(presented_token(&headers), Some("tok-a"));
        headers.insert("x-api-key", HeaderValue::from_static(""));
        assert_eq!(presented_token(&headers), Some("tok-b"));
    }
}
