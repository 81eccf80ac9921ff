//! The [`Notifier`] handle and the task behind it.
//!
//! `notify` never waits: events go into a bounded queue, and a full queue drops
//! the event and counts it, so a slow or failing notifier can never hold up a
//! session or a probe. One task owns the grouping and reminder state; each
//! (message, URL) delivery runs as its own task with its retries, a semaphore
//! bounding the Apprise processes running at once. Every attempt is recorded
//! through the [`DeliveryLog`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::apprise::Apprise;
use crate::config::{ConfigErrors, NotifyConfig};
use crate::delivery::{Backoff, Delivery, DeliveryLog, Outcome};
use crate::group::Grouper;
use crate::message::{Message, Notice, RenderContext, render};
use crate::reminder::{OpenIncident, Reminders};
use crate::urls::AppriseUrls;

/// The longest the task sleeps without looking at the clock again (the wall
/// clock may jump; reminders follow it).
const MAX_IDLE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    #[error("no apprise urls are configured: set CLAUDEOPS_APPRISE_URLS to send notifications")]
    NoUrls,
    #[error("the notifier has stopped: restart the control plane to send notifications again")]
    Stopped,
}

/// Counters since start, for the dashboard and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifierStats {
    /// Events taken into the queue.
    pub accepted: u64,
    /// Events dropped because the queue was full or the notifier had stopped.
    pub dropped: u64,
    /// Messages rendered (each goes to every URL).
    pub messages: u64,
    /// Deliveries that succeeded.
    pub sent: u64,
    /// Attempts that failed (retried or not).
    pub failed_attempts: u64,
    /// Deliveries given up after their last attempt.
    pub gave_up: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    dropped: AtomicU64,
    messages: AtomicU64,
    sent: AtomicU64,
    failed_attempts: AtomicU64,
    gave_up: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn snapshot(&self) -> NotifierStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        NotifierStats {
            accepted: get(&self.accepted),
            dropped: get(&self.dropped),
            messages: get(&self.messages),
            sent: get(&self.sent),
            failed_attempts: get(&self.failed_attempts),
            gave_up: get(&self.gave_up),
        }
    }
}

/// The result of a test notification for one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    /// 1-based position in `CLAUDEOPS_APPRISE_URLS`.
    pub url_index: usize,
    pub success: bool,
    /// Redacted.
    pub error: Option<String>,
}

/// What deliveries share: the URLs, the runner, the log, the limits.
struct Shared {
    urls: AppriseUrls,
    apprise: Apprise,
    log: Arc<dyn DeliveryLog>,
    backoff: Backoff,
    permits: Semaphore,
    dashboard_url: Option<String>,
    boot: String,
    next_id: AtomicU64,
    counters: Counters,
}

impl Shared {
    fn message_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}-{n}", self.boot)
    }

    fn render(&self, events: &[Notice]) -> Option<Message> {
        let ctx = RenderContext {
            dashboard_url: self.dashboard_url.clone(),
            now: SystemTime::now(),
        };
        render(events, &ctx)
    }

    /// One attempt: returns the redacted error on failure.
    async fn attempt(&self, index: usize, message: &Message) -> Result<(), String> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| "the notifier has stopped".to_owned())?;
        self.apprise
            .send(&self.urls, index, message)
            .await
            .map_err(|e| self.urls.redact_for(Some(index), &e.to_string()))
    }
}

enum Command {
    Notice(Notice),
    Shutdown(oneshot::Sender<()>),
}

struct Inner {
    tx: mpsc::Sender<Command>,
    open: watch::Sender<Vec<OpenIncident>>,
    shared: Arc<Shared>,
}

/// The handle the control plane keeps. Cheap to clone; every method returns at
/// once except [`Notifier::send_test`] and [`Notifier::shutdown`].
#[derive(Clone)]
pub struct Notifier {
    inner: Option<Arc<Inner>>,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            None => f.write_str("Notifier { disabled }"),
            Some(inner) => f
                .debug_struct("Notifier")
                .field("urls", &inner.shared.urls)
                .field("stats", &inner.shared.counters.snapshot())
                .finish(),
        }
    }
}

impl Notifier {
    /// A notifier that sends nothing (no URLs configured).
    pub fn disabled() -> Notifier {
        Notifier { inner: None }
    }

    /// Validates the settings and starts the task (needs a tokio runtime).
    /// With no URLs the notifier is disabled.
    pub fn spawn(
        config: &NotifyConfig,
        urls: AppriseUrls,
        log: Arc<dyn DeliveryLog>,
    ) -> Result<Notifier, NotifyError> {
        config.validate()?;
        if urls.is_empty() {
            tracing::info!("notifications are off: CLAUDEOPS_APPRISE_URLS is empty");
            return Ok(Notifier::disabled());
        }
        let boot = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let shared = Arc::new(Shared {
            urls,
            apprise: Apprise::new(config.apprise_path.clone(), config.send_timeout),
            log,
            backoff: config.backoff(),
            permits: Semaphore::new(config.max_concurrent_sends),
            dashboard_url: config.dashboard_url.clone(),
            boot: format!("{boot:x}"),
            next_id: AtomicU64::new(0),
            counters: Counters::default(),
        });
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let (open, open_rx) = watch::channel(Vec::new());
        let task = Task {
            shared: shared.clone(),
            grouper: Grouper::new(config.group_window),
            reminders: Reminders::new(config.reminder_interval),
            inflight: JoinSet::new(),
            grace: config.shutdown_grace,
        };
        tokio::spawn(task.run(rx, open_rx));
        Ok(Notifier {
            inner: Some(Arc::new(Inner { tx, open, shared })),
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// How many URLs deliveries go to.
    pub fn url_count(&self) -> usize {
        self.inner.as_ref().map_or(0, |i| i.shared.urls.len())
    }

    /// Queues an event without waiting. False if it was dropped (queue full,
    /// notifier stopped) or notifications are off.
    pub fn notify(&self, event: Notice) -> bool {
        let Some(inner) = &self.inner else {
            return false;
        };
        let counters = &inner.shared.counters;
        match inner.tx.try_send(Command::Notice(event)) {
            Ok(()) => {
                Counters::bump(&counters.accepted);
                true
            }
            Err(e) => {
                let why = match e {
                    mpsc::error::TrySendError::Full(_) => "the queue is full",
                    mpsc::error::TrySendError::Closed(_) => "the notifier has stopped",
                };
                let dropped = Counters::bump(&counters.dropped);
                if dropped == 1 || dropped.is_multiple_of(100) {
                    tracing::warn!(dropped, "notification dropped: {why}");
                }
                false
            }
        }
    }

    /// Reports the incidents still open. Reminders are due for these at the
    /// configured interval; one that leaves the set gets a recovery notice
    /// (unless an `IncidentRecovered` event for it came first). Never waits.
    pub fn set_open_incidents(&self, open: Vec<OpenIncident>) {
        if let Some(inner) = &self.inner {
            inner.open.send_replace(open);
        }
    }

    pub fn stats(&self) -> NotifierStats {
        self.inner
            .as_ref()
            .map_or_else(NotifierStats::default, |i| i.shared.counters.snapshot())
    }

    /// Sends a test notification to every URL now (no grouping, no retries)
    /// and reports each URL's outcome. Each attempt is recorded too.
    pub async fn send_test(&self) -> Result<Vec<TestOutcome>, NotifyError> {
        let inner = self.inner.as_ref().ok_or(NotifyError::NoUrls)?;
        let shared = &inner.shared;
        let message = Arc::new(shared.render(&[Notice::Test]).ok_or(NotifyError::Stopped)?);
        let message_id = shared.message_id();
        Counters::bump(&shared.counters.messages);
        let mut tasks = JoinSet::new();
        for index in shared.urls.indexes() {
            let (shared, message, message_id) =
                (shared.clone(), message.clone(), message_id.clone());
            tasks.spawn(async move {
                let d = deliver_once(&shared, &message, &message_id, index, 1, false).await;
                TestOutcome {
                    url_index: index,
                    success: d.success,
                    error: d.error,
                }
            });
        }
        let mut outcomes = Vec::new();
        while let Some(done) = tasks.join_next().await {
            outcomes.push(done.map_err(|_| NotifyError::Stopped)?);
        }
        outcomes.sort_by_key(|o| o.url_index);
        Ok(outcomes)
    }

    /// Sends what is waiting in groups now, waits (up to the configured grace)
    /// for deliveries in flight, and stops the task. Later events are dropped.
    pub async fn shutdown(&self) {
        let Some(inner) = &self.inner else { return };
        let (ack, done) = oneshot::channel();
        if inner.tx.send(Command::Shutdown(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

/// Runs one attempt and records it. `retry_left` says whether a failure will be
/// retried (for the record's outcome).
async fn deliver_once(
    shared: &Shared,
    message: &Message,
    message_id: &str,
    index: usize,
    attempt: u32,
    retry_left: bool,
) -> Delivery {
    let started_at = SystemTime::now();
    let result = shared.attempt(index, message).await;
    let finished_at = SystemTime::now();
    let counters = &shared.counters;
    let outcome = match (&result, shared.backoff.delay_after(attempt)) {
        (Ok(()), _) => {
            Counters::bump(&counters.sent);
            Outcome::Sent
        }
        (Err(_), Some(delay)) if retry_left => {
            Counters::bump(&counters.failed_attempts);
            Outcome::Retrying {
                next_attempt_at: finished_at + delay,
            }
        }
        (Err(_), _) => {
            Counters::bump(&counters.failed_attempts);
            Counters::bump(&counters.gave_up);
            Outcome::GaveUp
        }
    };
    let delivery = Delivery {
        id: format!("{message_id}#{index}"),
        message_id: message_id.to_owned(),
        kind: message.kind,
        title: message.title.clone(),
        sites: message.sites.clone(),
        url_index: index,
        attempt,
        success: result.is_ok(),
        error: result.err(),
        outcome,
        started_at,
        finished_at,
    };
    match &delivery.outcome {
        Outcome::Sent => {
            tracing::debug!(
                kind = message.kind.as_str(),
                url = index,
                attempt,
                "notification sent"
            );
        }
        Outcome::Retrying { .. } => tracing::warn!(
            kind = message.kind.as_str(),
            url = index,
            attempt,
            error = delivery.error.as_deref().unwrap_or(""),
            "notification failed; will retry"
        ),
        Outcome::GaveUp => tracing::error!(
            kind = message.kind.as_str(),
            url = index,
            attempt,
            error = delivery.error.as_deref().unwrap_or(""),
            "notification failed; giving up"
        ),
    }
    shared.log.record(&delivery).await;
    delivery
}

/// Delivers one message to one URL, retrying on the backoff schedule.
async fn deliver(shared: Arc<Shared>, message: Arc<Message>, message_id: String, index: usize) {
    let mut attempt = 1;
    loop {
        let d = deliver_once(&shared, &message, &message_id, index, attempt, true).await;
        let Outcome::Retrying { .. } = d.outcome else {
            return;
        };
        let Some(delay) = shared.backoff.delay_after(attempt) else {
            return;
        };
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// The owner of the grouping and reminder state.
struct Task {
    shared: Arc<Shared>,
    grouper: Grouper,
    reminders: Reminders,
    inflight: JoinSet<()>,
    grace: Duration,
}

impl Task {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Command>,
        mut open_rx: watch::Receiver<Vec<OpenIncident>>,
    ) {
        let mut open_alive = true;
        let ack = loop {
            self.flush_due();
            let wake = self.next_wake();
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Command::Notice(event)) => self.on_event(event),
                    Some(Command::Shutdown(ack)) => break Some(ack),
                    None => break None,
                },
                changed = open_rx.changed(), if open_alive => {
                    if changed.is_err() {
                        open_alive = false;
                    } else {
                        let open = open_rx.borrow_and_update().clone();
                        self.on_open_set(&open);
                    }
                }
                Some(_) = self.inflight.join_next(), if !self.inflight.is_empty() => {}
                () = tokio::time::sleep_until(wake.into()) => {}
            }
        };
        rx.close();
        while let Ok(cmd) = rx.try_recv() {
            if let Command::Notice(event) = cmd {
                self.on_event(event);
            }
        }
        for group in self.grouper.take_all() {
            self.dispatch(&group);
        }
        let inflight = &mut self.inflight;
        let drained = tokio::time::timeout(self.grace, async {
            while inflight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                pending = self.inflight.len(),
                "notifier stopped with deliveries still pending; they are abandoned"
            );
            self.inflight.abort_all();
        }
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
    }

    fn on_event(&mut self, event: Notice) {
        if let Notice::IncidentRecovered { site, service, .. } = &event {
            self.reminders.resolve(site, service);
        }
        self.grouper.push(event, Instant::now());
    }

    fn on_open_set(&mut self, open: &[OpenIncident]) {
        let wall = SystemTime::now();
        for closed in self.reminders.sync(open, wall) {
            let open_for = wall.duration_since(closed.opened_at).ok();
            self.grouper.push(
                Notice::IncidentRecovered {
                    site: closed.site,
                    service: closed.service,
                    open_for,
                    detail: None,
                },
                Instant::now(),
            );
        }
    }

    fn flush_due(&mut self) {
        let now = Instant::now();
        for incident in self.reminders.take_due(SystemTime::now()) {
            self.grouper.push(
                Notice::Reminder {
                    site: incident.site,
                    service: incident.service,
                    opened_at: incident.opened_at,
                    summary: incident.summary,
                },
                now,
            );
        }
        for group in self.grouper.take_due(now) {
            self.dispatch(&group);
        }
    }

    fn next_wake(&self) -> Instant {
        let now = Instant::now();
        let mut wake = now + MAX_IDLE;
        if let Some(due) = self.grouper.next_due(now) {
            wake = wake.min(due);
        }
        if let Some(due) = self.reminders.next_due() {
            let wait = due.duration_since(SystemTime::now()).unwrap_or_default();
            wake = wake.min(now + wait);
        }
        wake
    }

    fn dispatch(&mut self, group: &[Notice]) {
        let Some(message) = self.shared.render(group) else {
            return;
        };
        Counters::bump(&self.shared.counters.messages);
        let message = Arc::new(message);
        let message_id = self.shared.message_id();
        for index in self.shared.urls.indexes() {
            self.inflight.spawn(deliver(
                self.shared.clone(),
                message.clone(),
                message_id.clone(),
                index,
            ));
        }
    }
}
