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
use crate::sessions::{Sessions, failed_outcome};

pub struct App {
    pub context: Context,
    pub sessions: Sessions,
    pub incidents: Incidents,
    pub notifications: Notifications,
    /// Typed actions waiting for a human (`CLAUDEOPS_APPROVAL_*`).
    pub approvals: crate::approvals::Approvals,
    pub queries: Queries,
    /// Probe and service history, status pages and badges.
    pub history: crate::history::History,
    /// Maintenance windows (the incidents service's, shared).
    pub maintenance: crate::maintenance::Maintenance,
    /// The model upstream, for the alert brief and the model list.
    pub upstream: crate::upstream::Upstream,
    pub auth: Auth,
    /// Named dashboard users (`user add`), checked at login.
    pub users: crate::users::Users,
    /// `CLAUDEOPS_PUBLIC_READS`: pages and reads open to anyone, as the
    /// original had them.
    pub public_reads: bool,
    pub ui: Ui,
    pub ca: Arc<Ca>,
    pub revocations: Arc<RevocationSet>,
    /// Where the generated API token is kept, if it was generated.
    pub token_path: Option<PathBuf>,
    /// The store's latest fault, as its watcher saw it (`store_watch`).
    pub store_health: crate::store_watch::StoreHealth,
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
        self.cut_off(&revoked).await;
        Ok(revoked.into_iter().map(|w| w.id).collect())
    }

    /// Ends the dashboard logins of users removed or changed elsewhere
    /// (`claudeops-control-plane user …` in another process).
    pub async fn sync_users(&self) {
        match self.users.list().await {
            Ok(users) => self.auth.end_stale_logins(
                &users
                    .into_iter()
                    .map(|u| (u.name, u.role, u.updated_at_ms))
                    .collect::<Vec<_>>(),
            ),
            Err(error) => tracing::debug!(%error, "could not read the users"),
        }
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
        self.cut_off(&revoked).await;
    }

    /// Refuses the revoked workers' certificates, closes their links, and ends
    /// their running sessions at once (not when the reaper notices), so their
    /// sites can run the next session on another worker.
    async fn cut_off(&self, revoked: &[WorkerRecord]) {
        for worker in revoked {
            self.revocations.revoke(&worker.cert_serial);
        }
        // The sessions end first, with the true reason: a closed link would
        // otherwise move a job its worker had not confirmed yet.
        self.end_sessions_of(revoked).await;
        for worker in revoked {
            if self.context.registry.disconnect(&worker.id) {
                tracing::warn!(worker = %worker.id, site = %worker.site, "revoked worker cut off");
            }
        }
    }

    async fn end_sessions_of(&self, revoked: &[WorkerRecord]) {
        let Ok(running) = self.sessions.running().await else {
            return;
        };
        for session in running {
            let Some(worker) = session.worker_id.as_deref() else {
                continue;
            };
            if !revoked.iter().any(|w| w.id == worker) {
                continue;
            }
            let outcome = failed_outcome(&format!(
                "worker {worker} was revoked while the session ran"
            ));
            if let Err(error) = self.sessions.finish(session.id, outcome).await {
                tracing::error!(%error, session = session.id, "could not end a revoked worker's session");
            }
        }
    }
}
