//! The record of every delivery attempt, the trait that keeps it, an in-memory
//! keeper, and the retry schedule.
//!
//! A [`Delivery`] names its URL by 1-based index only; its error is redacted.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use claudeops_core::notification::DeliveryRecord;
use tokio::sync::Notify;

use crate::message::MessageKind;

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Failed; another attempt is scheduled.
    Retrying {
        next_attempt_at: SystemTime,
    },
    /// Failed, and it was the last attempt.
    GaveUp,
}

/// One attempt to deliver one message to one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The same for every attempt of one message to one URL: `{message_id}#{url_index}`.
    pub id: String,
    /// Shared by every URL's attempts for one message.
    pub message_id: String,
    pub kind: MessageKind,
    pub title: String,
    pub sites: Vec<String>,
    /// 1-based position of the URL in `CLAUDEOPS_APPRISE_URLS`.
    pub url_index: usize,
    /// 1 for the first try.
    pub attempt: u32,
    pub success: bool,
    /// Why it failed, redacted (never a URL or a piece of one).
    pub error: Option<String>,
    pub outcome: Outcome,
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
}

impl Delivery {
    /// The store's record of this attempt.
    pub fn to_record(&self) -> DeliveryRecord {
        let at_ms = self
            .finished_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        DeliveryRecord {
            notification_id: self.message_id.clone(),
            kind: self.kind.as_str().to_owned(),
            title: self.title.clone(),
            sites: self.sites.clone(),
            url_index: u32::try_from(self.url_index).unwrap_or(u32::MAX),
            attempt: self.attempt,
            ok: self.success,
            error: self.error.clone(),
            at_ms,
        }
    }
}

/// Where delivery attempts are recorded. The control plane implements it with
/// its store; an implementation handles (and logs) its own failures, since a
/// notifier cannot do anything useful about them.
#[async_trait]
pub trait DeliveryLog: Send + Sync + 'static {
    async fn record(&self, delivery: &Delivery);
}

/// Keeps the most recent attempts in memory: for a setup without a store and
/// for tests.
#[derive(Debug)]
pub struct MemoryDeliveryLog {
    capacity: usize,
    entries: Mutex<VecDeque<Delivery>>,
    changed: Notify,
}

impl MemoryDeliveryLog {
    /// Keeps at most `capacity` attempts, dropping the oldest.
    pub fn new(capacity: usize) -> MemoryDeliveryLog {
        MemoryDeliveryLog {
            capacity: capacity.max(1),
            entries: Mutex::new(VecDeque::new()),
            changed: Notify::new(),
        }
    }

    /// The attempts kept, oldest first.
    pub fn snapshot(&self) -> Vec<Delivery> {
        match self.entries.lock() {
            Ok(e) => e.iter().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().iter().cloned().collect(),
        }
    }

    /// Waits until `done` holds for the kept attempts, or the timeout passes.
    /// Returns the attempts as last seen.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&[Delivery]) -> bool,
    ) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before looking, so a record in between is not missed.
            notified.as_mut().enable();
            let now = self.snapshot();
            if done(&now) || tokio::time::Instant::now() >= deadline {
                return now;
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
}

impl Default for MemoryDeliveryLog {
    fn default() -> Self {
        MemoryDeliveryLog::new(1000)
    }
}

#[async_trait]
impl DeliveryLog for MemoryDeliveryLog {
    async fn record(&self, delivery: &Delivery) {
        {
            let mut entries = match self.entries.lock() {
                Ok(e) => e,
                Err(poisoned) => poisoned.into_inner(),
            };
            if entries.len() == self.capacity {
                entries.pop_front();
            }
            entries.push_back(delivery.clone());
        }
        self.changed.notify_waiters();
    }
}

/// The waits between attempts: after the first failed attempt the first delay,
/// and so on; when the list is used up the delivery is given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    delays: Vec<Duration>,
}

impl Backoff {
    pub fn new(delays: Vec<Duration>) -> Backoff {
        Backoff { delays }
    }

    /// The wait after failed attempt number `attempt` (1-based); `None` to give up.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        let i = usize::try_from(attempt.checked_sub(1)?).ok()?;
        self.delays.get(i).copied()
    }

    /// 10 s, 30 s, 2 min, 10 min.
    pub fn default_delays() -> Vec<Duration> {
        [10, 30, 120, 600]
            .into_iter()
            .map(Duration::from_secs)
            .collect()
    }

    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).map_or(u32::MAX, |n| n.saturating_add(1))
    }
}

impl Default for Backoff {
    /// 10 s, 30 s, 2 min, 10 min, then give up: five attempts over about 13 minutes.
    fn default() -> Self {
        Backoff::new(Backoff::default_delays())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_table() {
        let b = Backoff::default();
        let s = Duration::from_secs;
        let cases = [
            (0, None),
            (1, Some(s(10))),
            (2, Some(s(30))),
            (3, Some(s(120))),
            (4, Some(s(600))),
            (5, None),
            (99, None),
        ];
        for (attempt, want) in cases {
            assert_eq!(b.delay_after(attempt), want, "{attempt}");
        }
        assert_eq!(b.max_attempts(), 5);
        assert_eq!(Backoff::new(vec![]).delay_after(1), None);
        assert_eq!(Backoff::new(vec![]).max_attempts(), 1);
    }

    fn delivery(attempt: u32) -> Delivery {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        Delivery {
            id: "m1#2".into(),
            message_id: "m1".into(),
            kind: MessageKind::NeedsHumanAttention,
            title: "Claude Ops: Needs human attention - jellyfin".into(),
            sites: vec!["home".into()],
            url_index: 2,
            attempt,
            success: false,
            error: Some("apprise failed (exit status 1): url #2 refused".into()),
            outcome: Outcome::GaveUp,
            started_at: t,
            finished_at: t,
        }
    }

    #[test]
    fn to_record_maps_every_field() {
        let r = delivery(3).to_record();
        assert_eq!(r.notification_id, "m1");
        assert_eq!(r.kind, "needs_human_attention");
        assert_eq!(r.url_index, 2);
        assert_eq!(r.attempt, 3);
        assert!(!r.ok);
        assert_eq!(r.at_ms, 1_700_000_000_123);
        assert_eq!(r.sites, vec!["home".to_owned()]);
    }

    #[tokio::test]
    async fn memory_log_keeps_the_newest_and_wakes_waiters() {
        let log = std::sync::Arc::new(MemoryDeliveryLog::new(2));
        let waiter = {
            let log = log.clone();
            tokio::spawn(
                async move { log.wait_for(Duration::from_secs(5), |d| d.len() == 2).await },
            )
        };
        for attempt in 1..=3 {
            log.record(&delivery(attempt)).await;
        }
        let seen = waiter.await.unwrap();
        assert_eq!(seen.len(), 2);
        let kept: Vec<u32> = log.snapshot().iter().map(|d| d.attempt).collect();
        assert_eq!(kept, vec![2, 3]);
        // a condition that never holds returns at the timeout
        let none = log
            .wait_for(Duration::from_millis(50), |d| d.len() > 5)
            .await;
        assert_eq!(none.len(), 2);
    }
}
