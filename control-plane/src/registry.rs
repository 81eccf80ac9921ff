//! Which workers are connected right now, and the channel to each.
//!
//! The registry is in memory only: a connection is a fact about this process. The
//! store keeps what outlives it (enrollment, last seen). Critical sections are
//! short and never await. [`Presence`] (pure) turns successive lists of connected
//! workers into "offline" and "back" changes.

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
    pub connected_at_ms: i64,
    pub last_heartbeat_ms: i64,
}

struct Connected {
    info: WorkerInfo,
    conn_id: u64,
    tx: mpsc::Sender<ToWorker>,
}

#[derive(Default)]
struct Inner {
    next_conn: u64,
    workers: BTreeMap<String, Connected>,
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

    /// Registers a connection, replacing (and so closing) an older one of the
    /// same worker. Returns the connection's id for `unregister`.
    pub fn register(&self, info: WorkerInfo, tx: mpsc::Sender<ToWorker>) -> u64 {
        let mut inner = self.lock();
        inner.next_conn += 1;
        let conn_id = inner.next_conn;
        let id = info.worker_id.clone();
        inner.workers.insert(id, Connected { info, conn_id, tx });
        conn_id
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

    pub fn heartbeat(&self, worker_id: &str, now_ms: i64) {
        if let Some(c) = self.lock().workers.get_mut(worker_id) {
            c.info.last_heartbeat_ms = now_ms;
        }
    }

    pub fn is_connected(&self, worker_id: &str) -> bool {
        self.lock().workers.contains_key(worker_id)
    }

    /// A connected worker of the site that can run the CLI (it has an API key or
    /// base URL: the `llm` capability): the one that spoke most recently.
    pub fn pick(&self, site: &SiteName) -> Pick {
        let inner = self.lock();
        let of_site: Vec<&Connected> = inner
            .workers
            .values()
            .filter(|c| &c.info.site == site)
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
            connected_at_ms: 0,
            last_heartbeat_ms: beat,
        }
    }

    #[test]
    fn a_newer_connection_replaces_an_older_one() {
        let registry = Registry::default();
        let (tx, _rx) = mpsc::channel(1);
        let old = registry.register(info("w1", "home", 1), tx.clone());
        let new = registry.register(info("w1", "home", 2), tx);
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
        registry.register(info("a", "home", 5), tx.clone());
        registry.register(info("b", "home", 9), tx.clone());
        registry.register(info("c", "cabin", 99), tx);
        let home = SiteName::new("home").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(registry.pick(&home), Pick::Worker(id, _) if id == "b"));
        let nowhere = SiteName::new("nowhere").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(registry.pick(&nowhere), Pick::NoWorker));
        let (tx, _rx) = mpsc::channel(1);
        let mut keyless = info("k", "attic", 1);
        keyless.capabilities.clear();
        registry.register(keyless, tx);
        let attic = SiteName::new("attic").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(registry.pick(&attic), Pick::NoLlm));
        assert_eq!(registry.sites().len(), 3);
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
