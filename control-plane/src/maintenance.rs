//! Maintenance windows (silences) per site or per service: while one lasts,
//! the site's (or the service's) failures open no incident, start no session
//! and send no notification or reminder; probes keep running and are
//! recorded. A failure still there when the window ends is handled then, as
//! any other: the next probe report opens its incident.
//!
//! The windows in effect are kept in memory for the pages' banner (the
//! layout is built without waiting) and read again from the store on every
//! change, every probe report and every few seconds, so a window added by
//! another control plane or an operator command is seen within seconds.

use std::sync::{Arc, RwLock};

use claudeops_core::SiteName;
use claudeops_core::event::EventLevel;
use claudeops_core::health::{MaintenanceWindow, NewMaintenance};
use claudeops_store::StoreError;

use crate::context::Context;

/// The longest window: a silence forgotten for longer is a monitor turned off.
pub const MAX_WINDOW_MS: i64 = 30 * 86_400_000;

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A window to add, as the operator asked for it.
#[derive(Debug, Clone)]
pub struct WindowRequest {
    pub site: String,
    pub service: Option<String>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub reason: String,
}

#[derive(Clone)]
pub struct Maintenance {
    ctx: Context,
    /// Windows running or to come, as last read.
    known: Arc<RwLock<Vec<MaintenanceWindow>>>,
}

impl Maintenance {
    pub fn new(ctx: Context) -> Maintenance {
        Maintenance {
            ctx,
            known: Arc::new(RwLock::new(Vec::new())),
        }
    }

    /// Reads the windows running or to come from the store.
    pub async fn refresh(&self, now_ms: i64) -> Result<Vec<MaintenanceWindow>, StoreError> {
        let windows = self.ctx.store.list_maintenance(now_ms).await?;
        *self
            .known
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = windows.clone();
        Ok(windows)
    }

    /// The windows in effect now, as last read (for the banner on every page).
    pub fn in_effect(&self, now_ms: i64) -> Vec<MaintenanceWindow> {
        self.known
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|w| w.active(now_ms))
            .cloned()
            .collect()
    }

    /// The window silencing this service of this site now, read from the
    /// store (a probe report's decision must not rest on a stale copy).
    pub async fn silencing(
        &self,
        site: &SiteName,
        service: &str,
        now_ms: i64,
    ) -> Option<MaintenanceWindow> {
        match self.refresh(now_ms).await {
            Ok(windows) => windows
                .into_iter()
                .find(|w| w.silences(site, service, now_ms)),
            Err(error) => {
                // Unknown: fall back on the last copy rather than page anyone
                // during a window because the database blinked.
                tracing::warn!(%error, "could not read the maintenance windows");
                self.in_effect(now_ms)
                    .into_iter()
                    .find(|w| w.silences(site, service, now_ms))
            }
        }
    }

    /// Adds a window after checking it; records an event and tells the pages.
    pub async fn add(
        &self,
        request: WindowRequest,
        who: &str,
        now_ms: i64,
    ) -> Result<MaintenanceWindow, MaintenanceError> {
        let site = SiteName::new(request.site.trim().to_owned())
            .map_err(|e| MaintenanceError::Invalid(format!("site: {e}")))?;
        let service = request
            .service
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        if let Some(service) = &service
            && (service.len() > 128 || service.chars().any(char::is_control))
        {
            return Err(MaintenanceError::Invalid(
                "service: at most 128 characters, no control characters".to_owned(),
            ));
        }
        let reason = request.reason.trim().to_owned();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(MaintenanceError::Invalid(
                "reason: say why, in 1 to 500 characters".to_owned(),
            ));
        }
        if request.ends_at_ms <= request.starts_at_ms {
            return Err(MaintenanceError::Invalid(
                "the window must end after it starts".to_owned(),
            ));
        }
        if request.ends_at_ms <= now_ms {
            return Err(MaintenanceError::Invalid(
                "the window has already ended".to_owned(),
            ));
        }
        if request.ends_at_ms - request.starts_at_ms > MAX_WINDOW_MS {
            return Err(MaintenanceError::Invalid(
                "a window lasts 30 days at most".to_owned(),
            ));
        }
        let window = self
            .ctx
            .store
            .add_maintenance(&NewMaintenance {
                site: site.clone(),
                service: service.clone(),
                starts_at_ms: request.starts_at_ms,
                ends_at_ms: request.ends_at_ms,
                reason: reason.clone(),
                created_by: who.to_owned(),
                created_at_ms: now_ms,
            })
            .await?;
        self.changed(now_ms).await;
        self.ctx
            .event_for(
                &site,
                None,
                EventLevel::Info,
                service.clone(),
                format!(
                    "maintenance #{} of {} from {} to {} by {who}: {reason}",
                    window.id,
                    scope(&window),
                    crate::clock::rfc3339(window.starts_at_ms),
                    crate::clock::rfc3339(window.ends_at_ms),
                ),
            )
            .await;
        Ok(window)
    }

    /// Ends a running window now, or removes one to come. False if there was
    /// none by that id in effect or to come.
    pub async fn end(&self, id: i64, who: &str, now_ms: i64) -> Result<bool, StoreError> {
        let before = self.ctx.store.list_maintenance(now_ms).await?;
        let ended = self.ctx.store.end_maintenance(id, now_ms).await?;
        self.changed(now_ms).await;
        if ended && let Some(window) = before.iter().find(|w| w.id == id) {
            self.ctx
                .event_for(
                    &window.site,
                    None,
                    EventLevel::Info,
                    window.service.clone(),
                    format!(
                        "maintenance #{id} of {} ended early by {who}",
                        scope(window)
                    ),
                )
                .await;
        }
        Ok(ended)
    }

    async fn changed(&self, now_ms: i64) {
        if let Err(error) = self.refresh(now_ms).await {
            tracing::warn!(%error, "could not read the maintenance windows");
        }
        self.ctx.changes.publish(crate::changes::Kind::All, None);
    }
}

/// "site home" or "home / web".
pub fn scope(window: &MaintenanceWindow) -> String {
    match &window.service {
        Some(service) => format!("{} / {service}", window.site),
        None => format!("site {}", window.site),
    }
}
