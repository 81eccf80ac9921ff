//! What every service of the control plane shares: the store, the registry of
//! connected workers, the hub of live viewers, the configuration, and the bus on
//! which services publish facts for each other.
//!
//! Built once in [`crate::build`] and cloned into each service (every part is a
//! handle, so a clone is a few reference counts). It holds no service: services
//! are peers that hold a `Context`, never each other through it. It must not
//! decide anything; it only records events, the one write every service makes.

use std::sync::Arc;

use claudeops_core::event::{EventLevel, NewEvent};
use claudeops_core::{Session, SessionId, SiteName};
use claudeops_store::Store;
use tokio::sync::mpsc;

use crate::changes::{Changes, Kind};
use crate::clock::now_ms;
use crate::config::Config;
use crate::hub::Hub;
use crate::registry::Registry;
use crate::runtime::Runtime;

/// Something that happened, told to whoever acts on it next.
#[derive(Debug, Clone)]
pub enum Fact {
    /// A session ended (completed, failed, timed out or stopped), as stored.
    SessionEnded { session: Session },
}

/// The sending side of the facts bus. Publishing never blocks and never fails
/// the publisher: with nobody listening, a fact is dropped.
#[derive(Clone)]
pub struct Facts {
    tx: mpsc::UnboundedSender<Fact>,
}

/// The receiving side of the facts bus, for the one task that acts on facts.
pub type FactsReceiver = mpsc::UnboundedReceiver<Fact>;

impl Facts {
    pub fn channel() -> (Facts, FactsReceiver) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Facts { tx }, rx)
    }

    pub fn publish(&self, fact: Fact) {
        if self.tx.send(fact).is_err() {
            tracing::debug!("a fact was published with nobody listening");
        }
    }
}

#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn Store>,
    pub registry: Registry,
    pub hub: Hub,
    /// The environment's configuration, as loaded at start.
    pub config: Arc<Config>,
    /// What is in effect now: `config` with the operator's runtime changes,
    /// per site. Read it at the moment of acting.
    pub runtime: Runtime,
    pub facts: Facts,
    /// What changed, for the pages that show it live.
    pub changes: Changes,
}

impl Context {
    /// A context with an empty registry and hub, and the receiving end of its bus.
    pub fn new(store: Arc<dyn Store>, config: Arc<Config>) -> (Context, FactsReceiver) {
        let (facts, rx) = Facts::channel();
        let context = Context {
            store,
            registry: Registry::default(),
            hub: Hub::default(),
            runtime: Runtime::new(config.clone()),
            config,
            facts,
            changes: Changes::default(),
        };
        (context, rx)
    }

    /// Records an event of a site (and session); a store error is logged here.
    pub async fn event(
        &self,
        site: &SiteName,
        session: Option<SessionId>,
        level: EventLevel,
        message: String,
    ) {
        self.event_for(site, session, level, None, message).await;
    }

    /// Records an event about one service of a site.
    pub async fn event_for(
        &self,
        site: &SiteName,
        session: Option<SessionId>,
        level: EventLevel,
        service: Option<String>,
        message: String,
    ) {
        let event = NewEvent {
            ts_ms: now_ms(),
            site: site.clone(),
            session_id: session,
            level,
            service,
            message,
        };
        match self.store.insert_event(&event).await {
            Ok(_) => self.changes.publish(Kind::Event, Some(site.as_str())),
            Err(error) => tracing::error!(%error, "could not record an event"),
        }
    }
}
