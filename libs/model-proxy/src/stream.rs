//! A forwarded answer on its way back: the upstream body goes to the client
//! chunk by chunk, usage is read from it on the side and charged to the
//! session, and the stream is cut when the session is stopped (its cap, or its
//! end) or the client goes away.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

use crate::pricing::Usage;
use crate::reply::{self, BrokenOff, ErrorKind};
use crate::session::{Session, State};
use crate::upstream::describe;
use crate::usage::{SseScanner, UsageEvent, UsageFields, json_usage};

/// A plain JSON answer larger than this is forwarded but not metered.
const MAX_METERED_JSON: usize = 32 * 1024 * 1024;

/// How an answer's body is read on the side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// Server-sent events: usage per event, cut at the cap.
    Events,
    /// One JSON object: usage at the end.
    Json,
    /// Passed through unread (errors, token counts).
    None,
}

/// The usage of one answer counted so far, and the session it is charged to.
pub(crate) struct Account {
    session: Arc<Session>,
    /// The model priced: the requested one until the answer names its own.
    model: String,
    counted: Usage,
}

impl Account {
    pub fn new(session: Arc<Session>, model: String) -> Account {
        Account {
            session,
            model,
            counted: Usage::default(),
        }
    }

    /// Charges what `fields` adds to what was counted; the session's state after.
    fn apply(&mut self, fields: &UsageFields) -> State {
        let now = fields.over(self.counted);
        let was = self.counted;
        let delta = Usage {
            input_tokens: now.input_tokens.saturating_sub(was.input_tokens),
            output_tokens: now.output_tokens.saturating_sub(was.output_tokens),
            cache_creation_input_tokens: now
                .cache_creation_input_tokens
                .saturating_sub(was.cache_creation_input_tokens),
            cache_read_input_tokens: now
                .cache_read_input_tokens
                .saturating_sub(was.cache_read_input_tokens),
        };
        self.counted = Usage {
            input_tokens: was.input_tokens.max(now.input_tokens),
            output_tokens: was.output_tokens.max(now.output_tokens),
            cache_creation_input_tokens: was
                .cache_creation_input_tokens
                .max(now.cache_creation_input_tokens),
            cache_read_input_tokens: was.cache_read_input_tokens.max(now.cache_read_input_tokens),
        };
        self.session.charge(&self.model, &delta)
    }

    fn named(&mut self, model: Option<String>) {
        if let Some(m) = model.filter(|m| !m.is_empty()) {
            self.model = m;
        }
    }
}

type Tx = mpsc::Sender<Result<Bytes, BrokenOff>>;

/// Moves the upstream body to the client, reading usage on the way. Returns
/// when the answer ends, the client goes away (the upstream connection is
/// then dropped), or the session is stopped. An answer cut short (stopped, or
/// broken off upstream) ends its client connection too, through `hang_up`.
pub(crate) async fn pump(
    mut upstream: reqwest::Response,
    reading: Reading,
    mut account: Account,
    tx: Tx,
    hang_up: Arc<Notify>,
) {
    let session = account.session.clone();
    let mut state = session.watch();
    let mut scanner = SseScanner::default();
    let mut json = Vec::new();
    let mut json_whole = true;
    loop {
        let next = tokio::select! {
            biased;
            // The client went away: stop reading (and paying for) the answer.
            () = tx.closed() => return,
            _ = state.wait_for(|s| *s != State::Open) => None,
            chunk = upstream.chunk() => Some(chunk),
        };
        let Some(chunk) = next else {
            // The session was stopped while this answer was open.
            end_early(&tx, reading, &scanner, &session).await;
            hang_up.notify_one();
            return;
        };
        let bytes = match chunk {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                if reading == Reading::Json
                    && json_whole
                    && let Some((model, fields)) = json_usage(&json)
                {
                    account.named(model);
                    account.apply(&fields);
                }
                return;
            }
            Err(e) => {
                let message = format!(
                    "the Messages API answer broke off in the model proxy: {}",
                    describe(&e)
                );
                tracing::warn!(session_id = session.grant.session_id, error = %message, "an upstream answer broke off");
                let last = match reading {
                    Reading::Events => Ok(closing_event(&scanner, ErrorKind::Api, &message)),
                    _ => Err(BrokenOff),
                };
                let _ = tx.send(last).await;
                hang_up.notify_one();
                return;
            }
        };
        match reading {
            Reading::Events => {
                if let Some(cut) = charge_events(&mut scanner, &mut account, &bytes) {
                    if cut > 0 && tx.send(Ok(bytes.slice(..cut))).await.is_err() {
                        return;
                    }
                    end_early(&tx, reading, &scanner, &session).await;
                    hang_up.notify_one();
                    return;
                }
            }
            Reading::Json if json_whole => {
                if json.len() + bytes.len() <= MAX_METERED_JSON {
                    json.extend_from_slice(&bytes);
                } else {
                    json_whole = false;
                    json = Vec::new();
                    tracing::warn!(
                        session_id = session.grant.session_id,
                        "a JSON answer too large to read for usage was not metered"
                    );
                }
            }
            _ => {}
        }
        if tx.send(Ok(bytes)).await.is_err() {
            return; // The client went away.
        }
    }
}

/// Charges the usage events completed in `bytes`; when one stops the session,
/// the offset just past it (what may still be forwarded).
fn charge_events(scanner: &mut SseScanner, account: &mut Account, bytes: &[u8]) -> Option<usize> {
    for (end, event) in scanner.feed(bytes) {
        let fields = match event {
            UsageEvent::Start { model, usage } => {
                account.named(model);
                usage
            }
            UsageEvent::Delta { usage } => usage,
        };
        if account.apply(&fields) != State::Open {
            return Some(end);
        }
    }
    None
}

/// Ends an answer the session's stop cut: a stream gets the reason as an
/// `error` event; any other body is broken off.
async fn end_early(tx: &Tx, reading: Reading, scanner: &SseScanner, session: &Session) {
    let last = match (reading, session.state()) {
        (Reading::Events, State::Ended) => Ok(closing_event(
            scanner,
            ErrorKind::Permission,
            "Claude Ops ended this session; its model requests are no longer forwarded.",
        )),
        (Reading::Events, _) => Ok(closing_event(
            scanner,
            ErrorKind::Permission,
            &session.stop_message(),
        )),
        _ => Err(BrokenOff),
    };
    let _ = tx.send(last).await;
}

/// The error event that ends a cut stream. When the part already forwarded
/// stops inside an event, blank lines end that one first, so the client reads
/// the error as an event of its own.
fn closing_event(scanner: &SseScanner, kind: ErrorKind, message: &str) -> Bytes {
    let event = reply::error_event(kind, message);
    if scanner.inside_event() {
        [&b"\n\n"[..], &event].concat().into()
    } else {
        event
    }
}
