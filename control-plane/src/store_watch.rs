//! The store as a watched dependency: its readiness checked every few
//! seconds, its faults logged when they start and end, recorded as a critical
//! event and notified once the store can take them again.
//!
//! What counts as ready is the store's to say (`Store::readiness`: answers,
//! takes a write, schema current, file still the one opened). This module
//! only keeps the latest answer for `GET /api/v1/health` and turns changes
//! into news. A lost database (its file deleted or replaced) is final: the
//! store refuses every call from then on, and the control plane must be
//! restarted once the file is restored.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use claudeops_core::SiteName;
use claudeops_core::event::EventLevel;
use claudeops_notify::{HumanReason, Notice};
use claudeops_store::StoreError;

use crate::clock::now_ms;
use crate::clock::rfc3339;
use crate::context::Context;
use crate::notifications::Notifications;

/// How often the store is checked.
pub const EVERY: Duration = Duration::from_secs(2);
/// A check that takes longer than this counts as not ready.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(3);
/// Events about the control plane itself, rather than a site, are filed
/// under this name.
pub const CONTROL_PLANE_SITE: &str = "control-plane";

/// The latest answer of the store, shared with the health endpoint.
#[derive(Clone, Default)]
pub struct StoreHealth {
    inner: Arc<Mutex<Option<Fault>>>,
}

/// Since when the store has not been ready, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub since_ms: i64,
    pub reason: String,
    pub lost: bool,
}

impl StoreHealth {
    /// The fault now, if any.
    pub fn fault(&self) -> Option<Fault> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, fault: Option<Fault>) {
        *self.inner.lock().unwrap_or_else(PoisonError::into_inner) = fault;
    }
}

/// Checks the store once, bounded by [`ANSWER_WITHIN`].
pub async fn check(ctx: &Context) -> Result<(), StoreError> {
    match tokio::time::timeout(
        ANSWER_WITHIN,
        crate::telemetry::timed("readiness", ctx.store.readiness(now_ms())),
    )
    .await
    {
        Ok(answer) => answer,
        Err(_) => Err(StoreError::NotReady(format!(
            "it did not answer within {} s",
            ANSWER_WITHIN.as_secs()
        ))),
    }
}

/// Watches the store until the task is dropped.
pub async fn watch(ctx: Context, notifications: Notifications, health: StoreHealth) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        let answer = check(&ctx).await;
        let before = health.fault();
        match (before, answer) {
            (None, Ok(())) => {}
            (None, Err(error)) => {
                let fault = Fault {
                    since_ms: now_ms(),
                    reason: error.to_string(),
                    lost: matches!(error, StoreError::Lost(_)),
                };
                tracing::error!(reason = %fault.reason, "the database is not ready: sessions' output and ends wait on their workers until it is");
                if fault.lost {
                    // Nothing can be recorded now or later: say it now.
                    notify(&notifications, &fault.reason);
                }
                health.set(Some(fault));
            }
            (Some(fault), Ok(())) => {
                health.set(None);
                recovered(&ctx, &notifications, &fault).await;
            }
            (Some(fault), Err(error)) => {
                let lost = matches!(error, StoreError::Lost(_));
                if lost && !fault.lost {
                    tracing::error!(reason = %error, "the database is lost");
                    notify(&notifications, &error.to_string());
                }
                health.set(Some(Fault {
                    reason: error.to_string(),
                    lost,
                    ..fault
                }));
            }
        }
    }
}

/// The store is ready again: the fault goes into the record it could not
/// reach, and out to the operator.
async fn recovered(ctx: &Context, notifications: &Notifications, fault: &Fault) {
    let now = now_ms();
    let message = format!(
        "the database was not ready from {} to {} ({} s): {}",
        rfc3339(fault.since_ms),
        rfc3339(now),
        (now - fault.since_ms) / 1000,
        fault.reason
    );
    tracing::info!(%message, "the database is ready again");
    if let Ok(site) = SiteName::new(CONTROL_PLANE_SITE) {
        ctx.event(&site, None, EventLevel::Critical, message.clone())
            .await;
    }
    notify(notifications, &message);
}

fn notify(notifications: &Notifications, detail: &str) {
    let Ok(site) = SiteName::new(CONTROL_PLANE_SITE) else {
        return;
    };
    notifications.send(Notice::NeedsHumanAttention {
        site,
        service: Some("database".to_owned()),
        reason: HumanReason::DatabaseFault,
        detail: detail.to_owned(),
        session: None,
    });
}
