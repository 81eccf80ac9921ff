//! `GET /sessions/{id}/stream`: a session's output as server-sent events.
//!
//! A viewer subscribes to the hub first, then replays the stored lines (from
//! `Last-Event-ID` if the browser reconnects), then follows live lines, skipping
//! any it already sent. Nothing is lost between replay and live, and nothing is
//! sent twice. A viewer that falls behind gets `reload` and reloads the page.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use claudeops_core::SessionId;
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::app::AppState;
use crate::http::api::{ApiError, ApiPath};
use crate::http::openapi::answers;
use crate::hub::{HubEvent, LineView, StatusView};
use crate::sessions::status_view;

const REPLAY_PAGE: u32 = 500;

#[utoipa::path(
    get,
    path = "/sessions/{id}/stream",
    operation_id = "session_stream",
    tag = "stream",
    summary = "A session's output as server-sent events",
    description = "The stored lines, then the live ones: `line` events (`id:` the line's number, data a `StreamLine`), `status` at the end (data a `StreamStatus`; the stream then closes), `reload` when the viewer fell behind. `Last-Event-ID` resumes after that line. A keep-alive comment every 15 s.",
    params(
        ("id" = i64, Path, description = "The session's id."),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this line."),
    ),
    responses(
        (status = 200, description = "The event stream.", content_type = "text/event-stream", body = crate::http::openapi::streams::SessionStreamEvent),
        (status = 400, description = "The id is not a number.", body = crate::http::openapi::schemas::ApiErrorBody),
        (status = 404, description = "No such session.", body = crate::http::openapi::schemas::ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<SessionId>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if state.sessions.get(id).await?.is_none() {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("no session #{id}"),
        ));
    }
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    let (tx, rx) = mpsc::channel::<Event>(64);
    tokio::spawn(feed(state, id, after, tx));
    Ok(sse(ReceiverStream::new(rx)).into_response())
}

fn sse(
    events: impl Stream<Item = Event> + Send + 'static,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    use tokio_stream::StreamExt;
    Sse::new(events.map(Ok)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn line_event(line: &LineView) -> Event {
    Event::default()
        .event("line")
        .id(line.seq.to_string())
        .json_data(line)
        .unwrap_or_else(|_| Event::default().event("line").data("{}"))
}

fn status_event(status: &StatusView) -> Event {
    Event::default()
        .event("status")
        .json_data(status)
        .unwrap_or_else(|_| Event::default().event("status").data("{}"))
}

/// Replays, then follows, as server-sent events.
async fn feed(state: AppState, id: SessionId, after: i64, tx: mpsc::Sender<Event>) {
    let (followed_tx, mut followed) = mpsc::channel(64);
    tokio::spawn(follow(state, id, after, followed_tx));
    while let Some(item) = followed.recv().await {
        let event = match &item {
            Followed::Line(line) => line_event(line),
            Followed::Status(status) => status_event(status),
            Followed::Behind => Event::default().event("reload").data("behind"),
        };
        if tx.send(event).await.is_err() {
            return;
        }
    }
}

/// What a follower of a session's output receives.
#[derive(Debug, Clone)]
pub enum Followed {
    Line(LineView),
    /// The end; nothing follows it.
    Status(StatusView),
    /// The follower fell behind the live lines; nothing follows it.
    Behind,
}

/// A session's output from line `sent + 1` on: the stored lines, then the
/// live ones (subscribed first, so none is lost between the two, and none
/// sent twice), then its end. Returns when the session ends or the receiver
/// is dropped. Used by the SSE stream and the chat endpoints alike.
pub async fn follow(state: AppState, id: SessionId, mut sent: i64, tx: mpsc::Sender<Followed>) {
    let mut live = state.sessions.follow(id);
    let sessions = &state.sessions;
    loop {
        let Ok(page) = sessions.output_after(id, sent, REPLAY_PAGE).await else {
            return;
        };
        let full = page.len() == REPLAY_PAGE as usize;
        for row in page {
            let view = LineView::new(row.seq, row.ts_ms, row.line);
            sent = view.seq;
            if tx.send(Followed::Line(view)).await.is_err() {
                return;
            }
        }
        if !full {
            break;
        }
    }
    // Ended before we subscribed: the hub will never say so.
    if let Ok(Some(session)) = sessions.get(id).await
        && session.status.is_finished()
    {
        let _ = tx.send(Followed::Status(status_view(&session))).await;
        return;
    }
    loop {
        let item = match live.recv().await {
            Ok(HubEvent::Line(line)) if line.seq <= sent => continue,
            Ok(HubEvent::Line(line)) => {
                sent = line.seq;
                Followed::Line(line)
            }
            Ok(HubEvent::Status(status)) => {
                let _ = tx.send(Followed::Status(status)).await;
                return;
            }
            Err(RecvError::Lagged(_)) => {
                let _ = tx.send(Followed::Behind).await;
                return;
            }
            Err(RecvError::Closed) => {
                // The session ended between replay and subscription checks.
                if let Ok(Some(session)) = sessions.get(id).await {
                    let _ = tx.send(Followed::Status(status_view(&session))).await;
                }
                return;
            }
        };
        if tx.send(item).await.is_err() {
            return;
        }
    }
}
