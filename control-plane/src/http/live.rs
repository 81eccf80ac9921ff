//! `GET /api/v1/changes`: what changed, for the pages that update live.
//!
//! Each notice of [`crate::changes`] becomes a `change` event; the page's
//! script (`live.js`) fetches the page again and swaps its live regions. A
//! viewer that falls behind gets one `change` of kind `all` and carries on: it
//! is never buffered for. A keep-alive comment every 15 s lets a departed
//! viewer be noticed.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::app::AppState;
use crate::changes::{Change, Kind};

#[utoipa::path(
    get,
    path = "/api/v1/changes",
    operation_id = "changes_stream",
    tag = "stream",
    summary = "What changed, as server-sent events, for pages that update live",
    description = "A `change` event per notice (data a `StreamChange`): a session started or ended, an event was recorded, a probe report arrived, a worker came or went. It names a kind and a site, never data. A viewer that fell behind gets kind `all`. A keep-alive comment every 15 s.",
    responses(
        (status = 200, description = "The event stream.", content_type = "text/event-stream", body = crate::http::openapi::streams::ChangeStreamEvent),
    )
)]
pub async fn changes(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.context.changes.subscribe();
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        let change = match rx.recv().await {
            Ok(change) => change,
            Err(RecvError::Lagged(_)) => Change {
                seq: 0,
                kind: Kind::All,
                site: None,
            },
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event(&change)), rx))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn event(change: &Change) -> Event {
    let event = Event::default().event("change");
    let event = if change.seq > 0 {
        event.id(change.seq.to_string())
    } else {
        event
    };
    event
        .json_data(change)
        .unwrap_or_else(|_| Event::default().event("change").data("{\"kind\":\"all\"}"))
}
