//! What changed, for the pages that show it live.
//!
//! Services tell [`Changes`] that something a page shows has changed (a session
//! started or ended, an event was recorded, a probe report arrived, a worker
//! came or went); `GET /api/v1/changes` passes each notice to every open
//! dashboard page, which fetches itself again and swaps the regions that
//! changed. A notice names a kind and a site, never data: what a viewer may
//! see is decided by the page it fetches, with its login.
//!
//! One broadcast channel, bounded: a viewer that falls behind is told to
//! refresh everything (`Kind::All`), never buffered for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tokio::sync::broadcast;

/// Notices kept for a slow viewer before it counts as behind.
const CAPACITY: usize = 256;

/// What kind of thing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A session started or ended.
    Session,
    /// An event was recorded (incidents opening and closing record one).
    Event,
    /// A worker's probe report arrived.
    Probes,
    /// A worker connected or went away.
    Worker,
    /// Anything: the viewer missed notices and must refresh all it shows.
    All,
}

/// One notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Increases by one per notice, from 1 at start.
    pub seq: u64,
    pub kind: Kind,
    /// The site it happened at, when it belongs to one.
    pub site: Option<String>,
}

#[derive(Clone)]
pub struct Changes {
    tx: broadcast::Sender<Change>,
    seq: Arc<AtomicU64>,
}

impl Default for Changes {
    fn default() -> Changes {
        let (tx, _) = broadcast::channel(CAPACITY);
        Changes {
            tx,
            seq: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Changes {
    /// Tells every viewer; never blocks, and with no viewer it is dropped.
    pub fn publish(&self, kind: Kind, site: Option<&str>) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let _nobody_watching = self.tx.send(Change {
            seq,
            kind,
            site: site.map(str::to_owned),
        });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }

    /// The last notice's number (0 before any).
    pub fn last_seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn viewers_get_notices_in_order_and_a_slow_one_is_told_to_refresh() {
        let changes = Changes::default();
        changes.publish(Kind::Event, Some("home"));
        let mut rx = changes.subscribe();
        changes.publish(Kind::Session, Some("home"));
        changes.publish(Kind::Worker, None);
        let first = rx.recv().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            first,
            Change {
                seq: 2,
                kind: Kind::Session,
                site: Some("home".into())
            }
        );
        assert_eq!(
            rx.recv().await.map(|c| c.kind),
            Ok(Kind::Worker),
            "in order"
        );
        for _ in 0..CAPACITY + 10 {
            changes.publish(Kind::Probes, Some("lab"));
        }
        assert!(
            matches!(
                rx.recv().await,
                Err(broadcast::error::RecvError::Lagged(n)) if n >= 10
            ),
            "a viewer that fell behind learns it, and is not buffered for"
        );
        assert_eq!(changes.last_seq(), 3 + CAPACITY as u64 + 10);
    }
}
