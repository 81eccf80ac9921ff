//! What the proxy itself answers: errors in the Messages API's shape, and the
//! response body type that carries either those or a forwarded answer.
//!
//! Errors use the shape the CLI already understands
//! (`{"type":"error","error":{"type":...,"message":...}}`), so the model and
//! the operator read the reason. No message here may contain the model key or
//! a session token.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;

/// The Messages API error types the proxy answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    RequestTooLarge,
    Api,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::RequestTooLarge => "request_too_large",
            ErrorKind::Api => "api_error",
        }
    }
}

fn error_json(kind: ErrorKind, message: &str) -> String {
    // Written out by hand to keep the API's field order.
    format!(
        r#"{{"type":"error","error":{{"type":"{}","message":{}}}}}"#,
        kind.as_str(),
        serde_json::Value::String(message.to_owned())
    )
}

/// A request the proxy answers itself, with an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub kind: ErrorKind,
    pub message: String,
}

impl Refusal {
    pub fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            kind,
            message: message.into(),
        }
    }

    /// The whole error response.
    pub fn into_response(self) -> Response<ProxyBody> {
        let mut response = Response::new(ProxyBody::full(error_json(self.kind, &self.message)));
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

/// An error as one server-sent event, to end a stream that is cut.
pub(crate) fn error_event(kind: ErrorKind, message: &str) -> Bytes {
    Bytes::from(format!(
        "event: error\ndata: {}\n\n",
        error_json(kind, message)
    ))
}

/// A forwarded body that broke off: the client's connection is closed
/// without a proper end, so it cannot take the part it got for a whole.
#[derive(Debug)]
pub(crate) struct BrokenOff;

impl fmt::Display for BrokenOff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the upstream answer broke off")
    }
}

impl std::error::Error for BrokenOff {}

/// A response body: a small whole one, or the chunks of a forwarded answer as
/// the forwarding task hands them over (a bounded channel, so a slow client
/// slows the upstream read instead of filling memory).
pub(crate) enum ProxyBody {
    Full(Option<Bytes>),
    Chunks(mpsc::Receiver<Result<Bytes, BrokenOff>>),
}

impl ProxyBody {
    pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
        ProxyBody::Full(Some(bytes.into()))
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BrokenOff;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BrokenOff>>> {
        match self.get_mut() {
            ProxyBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ProxyBody::Chunks(rx) => rx.poll_recv(cx).map(|c| c.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ProxyBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            ProxyBody::Full(None) => SizeHint::with_exact(0),
            ProxyBody::Chunks(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_the_messages_api_shape() {
        let event = error_event(ErrorKind::Permission, "stopped \"here\"");
        let text = String::from_utf8_lossy(&event);
        let data = text
            .strip_prefix("event: error\ndata: ")
            .and_then(|t| t.strip_suffix("\n\n"))
            .unwrap_or_else(|| panic!("not one event: {text}"));
        let value: serde_json::Value = serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            value,
            serde_json::json!({"type":"error","error":{"type":"permission_error","message":"stopped \"here\""}})
        );
        let response =
            Refusal::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, "no").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.body().size_hint().exact(),
            Some(
                r#"{"type":"error","error":{"type":"not_found_error","message":"no"}}"#.len()
                    as u64
            )
        );
    }
}
