//! The control plane's shared parts, built once at start (`crate::build`) and
//! handed to every listener and task: the [`Context`] and the peer services over
//! it. Listeners (`grpc/`, `http/`) reach services through here; services never
//! reach back.

use std::path::PathBuf;
use std::sync::Arc;

use claudeops_core::worker::WorkerRecord;
use claudeops_pki::{Ca, RevocationSet};
use claudeops_store::{StoreError, WorkerSelector};
use claudeops_web_ui::Ui;

use crate::auth::Auth;
use crate::clock::now_ms;
use crate::context::Context;
use crate::incidents::Incidents;
use crate::notifications::Notifications;
use crate::queries::Queries;
use crate::registry::Registry;
use crate::sessions::Sessions;

pub struct App {
    pub context: Context,
    pub sessions: Sessions,
    pub incidents: Incidents,
    pub notifications: Notifications,
    pub queries: Queries,
    pub auth: Auth,
    pub ui: Ui,
    pub ca: Arc<Ca>,
    pub revocations: Arc<RevocationSet>,
    /// Where the generated API token is kept, if it was generated.
    pub token_path: Option<PathBuf>,
}

pub type AppState = Arc<App>;

impl App {
    /// Revokes workers in the store and, if this process serves them, cuts them off.
    pub async fn revoke(&self, selector: WorkerSelector) -> Result<Vec<String>, StoreError> {
        let revoked = self
            .context
            .store
            .revoke_workers(&selector, now_ms())
            .await?;
        apply_revocations(&self.revocations, &self.context.registry, &revoked);
        Ok(revoked.into_iter().map(|w| w.id).collect())
    }

    /// Takes revocations made elsewhere (`claudeops-control-plane revoke` in
    /// another process) from the store.
    pub async fn sync_revocations(&self) {
        let Ok(workers) = self.context.store.list_workers(None).await else {
            return;
        };
        let revoked: Vec<WorkerRecord> = workers
            .into_iter()
            .filter(WorkerRecord::is_revoked)
            .collect();
        apply_revocations(&self.revocations, &self.context.registry, &revoked);
    }
}

fn apply_revocations(set: &RevocationSet, registry: &Registry, revoked: &[WorkerRecord]) {
    for worker in revoked {
        set.revoke(&worker.cert_serial);
        if registry.disconnect(&worker.id) {
            tracing::warn!(worker = %worker.id, site = %worker.site, "revoked worker cut off");
        }
    }
}
