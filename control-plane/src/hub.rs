//! Fans session output out to live viewers (server-sent events).
//!
//! One broadcast channel per session that has viewers, created by the first
//! viewer and dropped when the session ends or its last viewer leaves, so the
//! hub holds nothing for sessions nobody watches (a finished session viewed a
//! thousand times leaves no channel behind). The hub holds no history: a viewer
//! replays what it missed from the store, then follows the hub, de-duplicating
//! by sequence.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use claudeops_core::SessionId;
use claudeops_core::stream::StreamEvent;
use serde::Serialize;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

/// Events a viewer of one session receives.
#[derive(Debug, Clone)]
pub enum HubEvent {
    Line(LineView),
    Status(StatusView),
}

/// One output line as viewers see it.
#[derive(Debug, Clone, Serialize)]
pub struct LineView {
    pub seq: i64,
    pub ts_ms: i64,
    pub raw: String,
    pub malformed: bool,
    pub events: Vec<StreamEvent>,
}

impl LineView {
    pub fn new(seq: i64, ts_ms: i64, raw: String) -> LineView {
        let (malformed, events) = match claudeops_core::stream::parse_line(&raw) {
            Ok(events) => (false, events),
            Err(_) => (true, Vec::new()),
        };
        LineView {
            seq,
            ts_ms,
            raw,
            malformed,
            events,
        }
    }
}

/// The end of a session as viewers see it.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub status: String,
    pub cost_usd: f64,
    pub turns: i64,
    pub ended_at_ms: Option<i64>,
    pub error: Option<String>,
    /// The CLI's exit code, once it has one.
    pub exit_code: Option<i32>,
    /// The structured response's summary, when the session gave one.
    pub summary: Option<String>,
}

/// Lines buffered per viewer before it counts as fallen behind.
const CAPACITY: usize = 1024;

#[derive(Clone, Default)]
pub struct Hub {
    channels: Arc<Mutex<HashMap<SessionId, broadcast::Sender<HubEvent>>>>,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, HashMap<SessionId, broadcast::Sender<HubEvent>>> {
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Follows a session's output; the channel goes when the last viewer does.
    pub fn subscribe(&self, session: SessionId) -> Subscription {
        let rx = self
            .lock()
            .entry(session)
            .or_insert_with(|| broadcast::channel(CAPACITY).0)
            .subscribe();
        Subscription {
            hub: self.clone(),
            session,
            rx: Some(rx),
        }
    }

    /// How many sessions have a channel (viewers or not yet finished).
    pub fn open_channels(&self) -> usize {
        self.lock().len()
    }

    pub fn publish_lines(&self, session: SessionId, lines: impl IntoIterator<Item = LineView>) {
        let channels = self.lock();
        if let Some(tx) = channels.get(&session) {
            for line in lines {
                // No receivers is fine: nobody is watching.
                let _ = tx.send(HubEvent::Line(line));
            }
        }
    }

    /// Sends the final status and closes the session's channel.
    pub fn finish(&self, session: SessionId, status: StatusView) {
        if let Some(tx) = self.lock().remove(&session) {
            let _ = tx.send(HubEvent::Status(status));
        }
    }

    /// Viewers of every session.
    pub fn total_viewers(&self) -> usize {
        self.lock()
            .values()
            .map(broadcast::Sender::receiver_count)
            .sum()
    }

    pub fn viewers(&self, session: SessionId) -> usize {
        self.lock()
            .get(&session)
            .map_or(0, broadcast::Sender::receiver_count)
    }
}

/// One viewer's place in a session's channel.
pub struct Subscription {
    hub: Hub,
    session: SessionId,
    rx: Option<broadcast::Receiver<HubEvent>>,
}

impl Subscription {
    pub async fn recv(&mut self) -> Result<HubEvent, RecvError> {
        match self.rx.as_mut() {
            Some(rx) => rx.recv().await,
            None => Err(RecvError::Closed),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Drop the receiver first, then look under the lock: a viewer that
        // subscribed meanwhile keeps the channel.
        drop(self.rx.take());
        let mut channels = self.hub.lock();
        if channels
            .get(&self.session)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            channels.remove(&self.session);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn viewers_get_lines_then_the_status() {
        let hub = Hub::default();
        let mut rx = hub.subscribe(1);
        hub.publish_lines(
            1,
            [
                LineView::new(1, 0, "{\"type\":\"x\"}".into()),
                LineView::new(2, 0, "oops".into()),
            ],
        );
        hub.finish(
            1,
            StatusView {
                status: "completed".into(),
                cost_usd: 0.0,
                turns: 1,
                ended_at_ms: Some(1),
                error: None,
                exit_code: Some(0),
                summary: None,
            },
        );
        let mut got = Vec::new();
        while let Ok(event) = rx.recv().await {
            got.push(event);
        }
        assert_eq!(got.len(), 3);
        assert!(matches!(&got[1], HubEvent::Line(l) if l.malformed && l.raw == "oops"));
        assert!(matches!(&got[2], HubEvent::Status(s) if s.status == "completed"));
        assert_eq!(hub.viewers(1), 0);
    }

    #[test]
    fn the_last_viewer_to_leave_takes_the_channel_with_it() {
        let hub = Hub::default();
        let first = hub.subscribe(7);
        let second = hub.subscribe(7);
        assert_eq!((hub.open_channels(), hub.viewers(7)), (1, 2));
        drop(first);
        assert_eq!((hub.open_channels(), hub.viewers(7)), (1, 1));
        drop(second);
        assert_eq!(hub.open_channels(), 0);
        // A finished session viewed many times leaves nothing behind.
        for id in 0..1000 {
            drop(hub.subscribe(id));
        }
        assert_eq!(hub.open_channels(), 0);
    }
}
