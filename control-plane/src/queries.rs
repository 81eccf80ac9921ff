//! The read model the API and the dashboard show: events, workers, memories, the
//! ledger's actions and cooldowns, totals, the database's health; and the
//! operator's edits of memories, plain records with no decision attached.
//!
//! Thin on purpose: each method is one store call, so `http/` never holds the
//! store. Anything that decides (starting, escalating, opening or closing an
//! incident, telling a human) belongs to a service, not here.

use claudeops_core::SessionId;
use claudeops_core::ledger::{ActionRecord, CooldownRow};
use claudeops_core::memory::{Memory, MemoryId, NewMemory};
use claudeops_core::worker::WorkerRecord;
use claudeops_store::{
    ActionFilter, Event, EventFilter, MemoryListing, MemorySearch, Stats, StoreError,
};

use crate::clock::now_ms;
use crate::context::Context;

#[derive(Clone)]
pub struct Queries {
    ctx: Context,
}

impl Queries {
    pub fn new(ctx: Context) -> Queries {
        Queries { ctx }
    }

    /// Totals over all sessions; critical events counted since `critical_since_ms`.
    pub async fn stats(&self, critical_since_ms: i64) -> Result<Stats, StoreError> {
        self.ctx.store.stats(critical_since_ms).await
    }

    pub async fn events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        self.ctx.store.list_events(filter).await
    }

    /// Every enrolled worker (revoked ones too).
    pub async fn workers(&self) -> Result<Vec<WorkerRecord>, StoreError> {
        self.ctx.store.list_workers(None).await
    }

    pub async fn actions(&self, filter: &ActionFilter) -> Result<Vec<ActionRecord>, StoreError> {
        self.ctx.store.list_actions(filter).await
    }

    /// The ledger's rows under the configured limits, as of `now`.
    pub async fn cooldowns(&self, now: i64) -> Result<Vec<CooldownRow>, StoreError> {
        let limits = self.ctx.config.cooldown_limits();
        self.ctx.store.cooldowns(&limits, now).await
    }

    /// Memories by the key's parts, text and state, each with its session's tier.
    pub async fn search_memories(
        &self,
        search: &MemorySearch,
    ) -> Result<Vec<MemoryListing>, StoreError> {
        self.ctx.store.search_memories(search).await
    }

    pub async fn count_active_memories(&self) -> Result<i64, StoreError> {
        self.ctx.store.count_active_memories().await
    }

    pub async fn memory(&self, id: MemoryId) -> Result<Option<Memory>, StoreError> {
        self.ctx.store.get_memory(id).await
    }

    /// An operator's new memory; `Conflict` if the site has one with this key.
    pub async fn insert_memory(&self, new: &NewMemory) -> Result<Memory, StoreError> {
        self.ctx.store.insert_memory(new).await
    }

    /// An operator's edit; `None` for an unknown id.
    pub async fn update_memory(
        &self,
        id: MemoryId,
        value: &str,
        confidence: f64,
        active: bool,
        session_id: Option<SessionId>,
    ) -> Result<Option<Memory>, StoreError> {
        self.ctx
            .store
            .update_memory(id, value, confidence, active, session_id, now_ms())
            .await
    }

    /// `true` if the memory existed.
    pub async fn delete_memory(&self, id: MemoryId) -> Result<bool, StoreError> {
        self.ctx.store.delete_memory(id).await
    }
}
