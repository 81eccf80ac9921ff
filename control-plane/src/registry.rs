//! Which workers are connected right now, and the channel to each.
//!
//! The registry is in memory only: a connection is a fact about this process. The
//! store keeps what outlives it (enrollment, last seen). Critical sections are
//! short and never await. [`Presence`] (pure) turns successive lists of connected
//! workers into "offline" and "back" changes.
//!
//! One identity, one connection: a worker id already connected on a live link
//! (its channel open, heard from within the silence limit) is not replaced by a
//! second connection; two hosts sharing one state dir would otherwise take the
//! link from each other forever. The registry only decides; the link refuses
//! and records the event.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use claudeops_core::SiteName;
use claudeops_core::link::ToWorker;
use serde::Serialize;
use tokio::sync::mpsc;

/// What a worker said about itself when it connected.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerInfo {
    pub worker_id: String,
    pub site: SiteName,
    pub hostname: String,
    pub version: String,
    pub capabilities: Vec<String>,
    /// How the worker confines its sessions.
    pub sandbox: claudeops_core::link::SandboxState,
    pub connected_at_ms: i64,
    pub last_heartbeat_ms: i64,
}

struct Connected {
    info: WorkerInfo,
    conn_id: u64,
    tx: mpsc::Sender<ToWorker>,
    /// When any message last arrived on this connection (unix ms).
    last_seen_ms: i64,
    /// The worker's latest metrics (Prometheus text, already checked).
    metrics: Option<Arc<str>>,
}

/// What the control plane's `/metrics` shows of one connected worker.
pub struct Scraped {
    pub site: SiteName,
    pub worker_id: String,
    pub last_seen_ms: i64,
    pub metrics: Option<Arc<str>>,
}

#[derive(Default)]
struct Inner {
    next_conn: u64,
    workers: BTreeMap<String, Connected>,
    /// When a refused second connection of each worker was last reported.
    refusals_reported_ms: HashMap<String, i64>,
}

/// How often a refused second connection of one worker is reported.
pub const REFUSAL_REPORT_EVERY_MS: i64 = 60_000;

/// A second connection of a worker whose link is alive, not registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The host the live connection said hello from.
    pub connected_hostname: String,
    /// True at most once per [`REFUSAL_REPORT_EVERY_MS`] per worker: record it then.
    pub report: bool,
}

pub use claudeops_core::worker::LLM_CAPABILITY;

/// Which worker a session goes to.
pub enum Pick {
    Worker(String, mpsc::Sender<ToWorker>),
    /// No worker of the site is connected.
    NoWorker,
    /// Workers are connected, but none has an API key.
    NoLlm,
}

#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<Mutex<Inner>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a connection at `now_ms`. An older connection of the same worker
    /// is replaced (and so closed) only when its link is dead: its channel closed,
    /// or nothing heard from it for `silence_limit_ms`. Otherwise the new one is
    /// [`Refused`]. Returns the connection's id for `unregister`.
    pub fn register(
        &self,
        info: WorkerInfo,
        tx: mpsc::Sender<ToWorker>,
        now_ms: i64,
        silence_limit_ms: i64,
    ) -> Result<u64, Refused> {
        let mut inner = self.lock();
        let id = info.worker_id.clone();
        if let Some(old) = inner.workers.get(&id)
            && !old.tx.is_closed()
            && now_ms - old.last_seen_ms < silence_limit_ms
        {
            let connected_hostname = old.info.hostname.clone();
            let last = inner.refusals_reported_ms.get(&id).copied();
            let report = last.is_none_or(|at| now_ms - at >= REFUSAL_REPORT_EVERY_MS);
            if report {
                inner.refusals_reported_ms.insert(id, now_ms);
            }
            return Err(Refused {
                connected_hostname,
                report,
            });
        }
        inner.next_conn += 1;
        let conn_id = inner.next_conn;
        let connected = Connected {
            info,
            conn_id,
            tx,
            last_seen_ms: now_ms,
            metrics: None,
        };
        inner.workers.insert(id, connected);
        Ok(conn_id)
    }

    /// Something arrived on connection `conn_id` at `now_ms`: its link is alive.
    pub fn seen(&self, worker_id: &str, conn_id: u64, now_ms: i64) {
        if let Some(c) = self.lock().workers.get_mut(worker_id)
            && c.conn_id == conn_id
        {
            c.last_seen_ms = now_ms;
        }
    }

    /// Forgets a connection, unless a newer one of the same worker replaced it.
    pub fn unregister(&self, worker_id: &str, conn_id: u64) {
        let mut inner = self.lock();
        if inner
            .workers
            .get(worker_id)
            .is_some_and(|c| c.conn_id == conn_id)
        {
            inner.workers.remove(worker_id);
        }
    }

    /// Cuts a worker off: its outbound stream ends.
    pub fn disconnect(&self, worker_id: &str) -> bool {
        self.lock().workers.remove(worker_id).is_some()
    }

    /// Keeps a worker's latest metrics, for `/metrics`.
    pub fn set_metrics(&self, worker_id: &str, conn_id: u64, exposition: Arc<str>) {
        if let Some(c) = self.lock().workers.get_mut(worker_id)
            && c.conn_id == conn_id
        {
            c.metrics = Some(exposition);
        }
    }

    /// Every connected worker, for `/metrics`.
    pub fn scrape(&self) -> Vec<Scraped> {
        self.lock()
            .workers
            .values()
            .map(|c| Scraped {
                site: c.info.site.clone(),
                worker_id: c.info.worker_id.clone(),
                last_seen_ms: c.last_seen_ms,
                metrics: c.metrics.clone(),
            })
            .collect()
    }

    pub fn heartbeat(&self, worker_id: &str, now_ms: i64) {
        if let Some(c) = self.lock().workers.get_mut(worker_id) {
            c.info.last_heartbeat_ms = now_ms;
        }
    }

    pub fn is_connected(&self, worker_id: &str) -> bool {
        self.lock().workers.contains_key(worker_id)
    }

    /// A connected worker of the site that can run the CLI (it has an API key or
    /// base URL: the `llm` capability): the one that spoke most recently, other
    /// than the workers in `except` (those a job already failed to reach).
    pub fn pick(&self, site: &SiteName, except: &[String]) -> Pick {
        let inner = self.lock();
        let of_site: Vec<&Connected> = inner
            .workers
            .values()
            .filter(|c| &c.info.site == site && !except.contains(&c.info.worker_id))
            .collect();
        if of_site.is_empty() {
            return Pick::NoWorker;
        }
        of_site
            .into_iter()
            .filter(|c| c.info.capabilities.iter().any(|cap| cap == LLM_CAPABILITY))
            .max_by_key(|c| c.info.last_heartbeat_ms)
            .map_or(Pick::NoLlm, |c| {
                Pick::Worker(c.info.worker_id.clone(), c.tx.clone())
            })
    }

    pub fn sender(&self, worker_id: &str) -> Option<mpsc::Sender<ToWorker>> {
        self.lock().workers.get(worker_id).map(|c| c.tx.clone())
    }

    pub fn list(&self) -> Vec<WorkerInfo> {
        self.lock()
            .workers
            .values()
            .map(|c| c.info.clone())
            .collect()
    }

    pub fn sites(&self) -> Vec<SiteName> {
        let mut sites: Vec<SiteName> = self
            .lock()
            .workers
            .values()
            .map(|c| c.info.site.clone())
            .collect();
        sites.sort();
        sites.dedup();
        sites
    }
}

/// How long a worker may be gone before it counts as offline (a quick reconnect
/// is not news).
pub const OFFLINE_AFTER_MS: i64 = 120_000;

/// A worker that went offline or came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceChange {
    Offline {
        worker: String,
        site: SiteName,
        since_ms: i64,
    },
    Back {
        worker: String,
        site: SiteName,
    },
}

/// Which workers this control plane has seen, and since when each is gone.
#[derive(Debug, Default)]
pub struct Presence {
    workers: HashMap<String, Seen>,
}

#[derive(Debug)]
struct Seen {
    site: SiteName,
    gone_since_ms: Option<i64>,
    reported_offline: bool,
}

impl Presence {
    /// Takes the workers connected now; answers who went offline (gone longer than
    /// `OFFLINE_AFTER_MS`, once) and who came back after being reported offline.
    pub fn update(&mut self, connected: &[(String, SiteName)], now: i64) -> Vec<PresenceChange> {
        let mut changes = Vec::new();
        for (id, site) in connected {
            let seen = self.workers.entry(id.clone()).or_insert(Seen {
                site: site.clone(),
                gone_since_ms: None,
                reported_offline: false,
            });
            seen.gone_since_ms = None;
            if std::mem::take(&mut seen.reported_offline) {
                changes.push(PresenceChange::Back {
                    worker: id.clone(),
                    site: site.clone(),
                });
            }
        }
        for (id, seen) in &mut self.workers {
            if connected.iter().any(|(c, _)| c == id) {
                continue;
            }
            let since = *seen.gone_since_ms.get_or_insert(now);
            if !seen.reported_offline && now - since >= OFFLINE_AFTER_MS {
                seen.reported_offline = true;
                changes.push(PresenceChange::Offline {
                    worker: id.clone(),
                    site: seen.site.clone(),
                    since_ms: since,
                });
            }
        }
        changes.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, site: &str, beat: i64) -> WorkerInfo {
        WorkerInfo {
            worker_id: id.into(),
            site: SiteName::new(site).unwrap_or_else(|e| panic!("{e}")),
            hostname: "h".into(),
            version: "0".into(),
            capabilities: vec![LLM_CAPABILITY.to_owned()],
            sandbox: Default::default(),
            connected_at_ms: 0,
            last_heartbeat_ms: beat,
        }
    }

    const LIMIT: i64 = 30_000;

    fn register(registry: &Registry, info: WorkerInfo, tx: mpsc::Sender<ToWorker>) -> u64 {
        registry
            .register(info, tx, 0, LIMIT)
            .unwrap_or_else(|e| panic!("refused: {e:?}"))
    }

    #[test]
    fn a_newer_connection_replaces_an_older_one() {
        let registry = Registry::default();
        let (old_tx, old_rx) = mpsc::channel(1);
        let old = register(&registry, info("w1", "home", 1), old_tx);
        // The old link died: its outbound stream (the receiver) is gone.
        drop(old_rx);
        let (tx, _rx) = mpsc::channel(1);
        let new = register(&registry, info("w1", "home", 2), tx);
        registry.unregister("w1", old);
        assert!(
            registry.is_connected("w1"),
            "the old connection's end must not remove the new one"
        );
        registry.unregister("w1", new);
        assert!(!registry.is_connected("w1"));
    }

    #[test]
    fn picks_a_worker_of_the_site() {
        let registry = Registry::default();
        let (tx, _rx) = mpsc::channel(1);
        register(&registry, info("a", "home", 5), tx.clone());
        register(&registry, info("b", "home", 9), tx.clone());
        register(&registry, info("c", "cabin", 99), tx);
        let home = SiteName::new("home").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(registry.pick(&home, &[]), Pick::Worker(id, _) if id == "b"));
        // A job that could not reach b goes to a.
        let tried = ["b".to_owned()];
        assert!(matches!(registry.pick(&home, &tried), Pick::Worker(id, _) if id == "a"));
        let both = ["a".to_owned(), "b".to_owned()];
        assert!(matches!(registry.pick(&home, &both), Pick::NoWorker));
        let nowhere = SiteName::new("nowhere").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(registry.pick(&nowhere, &[]), Pick::NoWorker));
        let (tx, _rx) = mpsc::channel(1);
        let mut keyless = info("k", "attic", 1);
        keyless.capabilities.clear();
        register(&registry, keyless, tx);
        let attic = SiteName::new("attic").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(registry.pick(&attic, &[]), Pick::NoLlm));
        assert_eq!(registry.sites().len(), 3);
    }

    #[test]
    fn a_second_connection_of_a_live_worker_is_refused_and_reported_once_a_minute() {
        let registry = Registry::default();
        let (tx, _rx) = mpsc::channel(1);
        let mut first = info("w1", "home", 1);
        first.hostname = "host-a".into();
        let live = register(&registry, first, tx);
        registry.seen("w1", live, 20_000);
        let second = || {
            let (tx, _rx) = mpsc::channel(1);
            let mut copy = info("w1", "home", 2);
            copy.hostname = "host-b".into();
            (copy, tx)
        };
        let mut reports = Vec::new();
        for now in [21_000, 22_000, 30_000, 40_000] {
            let (copy, tx) = second();
            let refused = registry.register(copy, tx, now, LIMIT);
            let refused = refused.err().unwrap_or_else(|| panic!("accepted at {now}"));
            assert_eq!(refused.connected_hostname, "host-a");
            reports.push(refused.report);
        }
        assert_eq!(reports, [true, false, false, false]);
        registry.seen("w1", live, 21_000 + REFUSAL_REPORT_EVERY_MS);
        let (copy, tx) = second();
        let again = registry.register(copy, tx, 21_000 + REFUSAL_REPORT_EVERY_MS, LIMIT);
        assert!(
            matches!(again, Err(Refused { report: true, .. })),
            "a minute later"
        );
        assert!(registry.sender("w1").is_some());
        assert_eq!(registry.list()[0].hostname, "host-a", "the live one stays");
    }

    #[test]
    fn a_silent_connection_is_replaced() {
        let registry = Registry::default();
        let (tx, _rx) = mpsc::channel(1);
        let old = register(&registry, info("w1", "home", 1), tx);
        registry.seen("w1", old, 5_000);
        let (tx, _rx2) = mpsc::channel(1);
        let early = registry.register(info("w1", "home", 2), tx.clone(), 5_000 + LIMIT - 1, LIMIT);
        assert!(early.is_err(), "heard from within the limit");
        let late = registry.register(info("w1", "home", 2), tx, 5_000 + LIMIT, LIMIT);
        let new = late.unwrap_or_else(|e| panic!("refused: {e:?}"));
        assert_ne!(new, old);
        registry.seen("w1", old, 99_999);
        registry.unregister("w1", old);
        assert!(
            registry.is_connected("w1"),
            "the old one's end leaves the new one"
        );
    }

    #[test]
    fn presence_reports_offline_once_and_back_once() {
        let site = SiteName::new("home").unwrap_or_else(|e| panic!("{e}"));
        let w = |id: &str| (id.to_owned(), site.clone());
        let mut p = Presence::default();
        assert!(p.update(&[w("a"), w("b")], 0).is_empty());
        // b goes away; a short absence is no news.
        assert!(p.update(&[w("a")], 1_000).is_empty());
        assert!(p.update(&[w("a")], 1_000 + OFFLINE_AFTER_MS - 1).is_empty());
        let offline = p.update(&[w("a")], 1_000 + OFFLINE_AFTER_MS);
        assert_eq!(
            offline,
            vec![PresenceChange::Offline {
                worker: "b".into(),
                site: site.clone(),
                since_ms: 1_000
            }]
        );
        assert!(
            p.update(&[w("a")], 10 * OFFLINE_AFTER_MS).is_empty(),
            "once"
        );
        let back = p.update(&[w("a"), w("b")], 11 * OFFLINE_AFTER_MS);
        assert_eq!(
            back,
            vec![PresenceChange::Back {
                worker: "b".into(),
                site: site.clone()
            }]
        );
        // A quick reconnect never reported offline is not "back".
        assert!(p.update(&[w("b")], 11 * OFFLINE_AFTER_MS + 5).is_empty());
        assert!(
            p.update(&[w("a"), w("b")], 11 * OFFLINE_AFTER_MS + 10)
                .is_empty()
        );
    }
}
