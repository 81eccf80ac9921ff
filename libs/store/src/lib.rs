//! The control plane's durable state: sessions and their output, workers,
//! enrollment tokens, events, memories, the cooldown ledger of remediations, probe
//! states and attempts, incidents, worker inventories, notification deliveries,
//! runtime settings and the probes added from the dashboard.
//!
//! One [`Store`] trait, two backends: SQLite (the default, one file) and PostgreSQL
//! (for a fleet). [`open`] picks the backend from the URL and runs the embedded
//! migrations. All SQL of the workspace lives in this crate: the statements both
//! databases share in the `sql` module, what each does its own way in `sqlite` and
//! `postgres`. Nothing outside them may write SQL, and callers never see which
//! backend they use.

mod error;
mod health;
mod ledger;
pub mod legacy;
mod memory;
mod model;
mod postgres;
mod rows;
mod sql;
mod sqlite;
mod store;
mod token;

use std::sync::Arc;

pub use claudeops_core::event::{Event, EventId, EventLevel, NewEvent};
pub use claudeops_core::health::{
    HistoryPoint, Incident, IncidentAck, IncidentId, IncidentStatus, InventoryRecord,
    MaintenanceWindow, NewIncident, NewMaintenance, ProbeAttempt, ProbeRecord, ProbeRollup,
    ProbeState, Resolution, RollupPeriod,
};
pub use claudeops_core::ledger::{
    ActionId, ActionKind, ActionRecord, ActionStatus, CooldownLimits, CooldownRow, NewAction, Slot,
};
pub use claudeops_core::memory::{Memory, MemoryId, NewMemory};
pub use claudeops_core::notification::DeliveryRecord;
pub use claudeops_core::worker::WorkerRecord;
pub use error::StoreError;
pub use model::{
    ActionFilter, Backend, ConfigChange, DEFAULT_PAGE_SIZE, DeliveryFilter, EnrollTokenRecord,
    EventFilter, IncidentFilter, MemoryFilter, MemoryListing, MemorySearch, OutputLine,
    RuntimeSettings, SessionFilter, Stats, UiProbe, UserRecord, WorkerSelector,
};
pub use store::Store;

/// Opens the store at `url` and brings its schema up to date.
///
/// `sqlite://PATH` (or `sqlite:PATH`; the file and its directory are created if
/// missing, `sqlite::memory:` for a private in-memory database) or
/// `postgres://...` / `postgresql://...`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else {
        Err(StoreError::InvalidUrl(
            "expected sqlite://PATH or postgres://...".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rejects_unknown_schemes() {
        for url in ["mysql://localhost/x", "", "/var/lib/claudeops.db"] {
            assert!(
                matches!(open(url).await, Err(StoreError::InvalidUrl(_))),
                "{url:?}"
            );
        }
    }

    #[tokio::test]
    async fn opens_in_memory_sqlite() {
        let store = match open("sqlite::memory:").await {
            Ok(store) => store,
            Err(e) => panic!("open: {e}"),
        };
        assert_eq!(store.backend(), Backend::Sqlite);
        assert!(store.health().await.is_ok());
    }
}
