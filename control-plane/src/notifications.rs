//! What the control plane tells humans, through Apprise (`claudeops-notify`).
//!
//! The model never sees a notification URL: the control plane sends. Every send is
//! non-blocking (a queue in the notifier), so a failing notifier never holds up a
//! session or a probe report. Without `CLAUDEOPS_APPRISE_URLS` nothing is sent.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use claudeops_core::health::{Incident, IncidentStatus, Resolution};
use claudeops_core::{Session, SiteName};
use claudeops_notify::{
    AppriseUrls, Delivery, DeliveryLog, DigestSummary, Event, HumanReason, NotifyConfig,
    OpenIncident, SiteIncidents, Verification,
};
use claudeops_store::{IncidentFilter, Store};

use crate::config::Config;
use crate::escalation::Cause;
use crate::sessions::{Sessions, time_of_ms};

/// Every delivery attempt goes to the store (`GET /api/v1/notifications`).
struct StoreLog(Arc<dyn Store>);

#[async_trait::async_trait]
impl DeliveryLog for StoreLog {
    async fn record(&self, delivery: &Delivery) {
        if let Err(error) = self.0.record_delivery(&delivery.to_record()).await {
            tracing::warn!(%error, "could not record a notification delivery");
        }
    }
}

/// Starts the notifier when `CLAUDEOPS_APPRISE_URLS` is set.
pub fn start(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<Notifications> {
    let Some(list) = config
        .apprise_urls
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    else {
        return Ok(Notifications::default());
    };
    let urls = AppriseUrls::parse(list).context("CLAUDEOPS_APPRISE_URLS")?;
    let reminder = humantime::parse_duration(&config.notify_reminder_interval)
        .ok()
        .filter(|d| !d.is_zero());
    let defaults = NotifyConfig::default();
    let settings = NotifyConfig {
        apprise_path: config.apprise_bin.clone(),
        reminder_interval: reminder,
        group_window: humantime::parse_duration(&config.notify_group_window)
            .unwrap_or(defaults.group_window),
        digest_time: config.digest_time(),
        ..defaults
    };
    let notifier = claudeops_notify::Notifier::spawn(&settings, urls, Arc::new(StoreLog(store)))
        .context("starting notifications")?;
    tracing::info!(
        urls = notifier.url_count(),
        "notifications through apprise are on"
    );
    Ok(Notifications::new(Some(notifier)))
}

/// The notifier, when one is configured.
#[derive(Clone, Default)]
pub struct Notifications {
    notifier: Option<claudeops_notify::Notifier>,
}

impl Notifications {
    pub fn new(notifier: Option<claudeops_notify::Notifier>) -> Notifications {
        Notifications { notifier }
    }

    pub fn notifier(&self) -> Option<&claudeops_notify::Notifier> {
        self.notifier.as_ref()
    }

    pub fn send(&self, event: Event) {
        if let Some(notifier) = &self.notifier {
            notifier.notify(event);
        }
    }
}

fn human_reason(cause: Cause) -> HumanReason {
    match cause {
        Cause::InvalidResponse => HumanReason::InvalidResponse,
        Cause::CostCap => HumanReason::CostCapHit,
        Cause::CooldownExceeded => HumanReason::CooldownExceeded,
        Cause::SessionFailed | Cause::ChainExhausted | Cause::NotVerified => {
            HumanReason::ChainExhausted
        }
    }
}

impl Sessions {
    pub(crate) fn notify_incident_opened(&self, incident: &Incident) {
        self.notifier.send(Event::IncidentOpened {
            site: incident.site.clone(),
            service: incident.service.clone(),
            summary: incident.evidence.clone(),
            session: incident.session_id,
        });
    }

    pub(crate) fn notify_incident_resolved(&self, incident: &Incident) {
        if incident.resolution == Some(Resolution::VerifiedFixed) {
            return; // `notify_remediated` says it, with the verification.
        }
        let open_for = incident.resolved_at_ms.map(|end| {
            std::time::Duration::from_millis(
                u64::try_from(end - incident.opened_at_ms).unwrap_or(0),
            )
        });
        self.notifier.send(Event::IncidentRecovered {
            site: incident.site.clone(),
            service: incident.service.clone(),
            open_for,
            detail: incident.resolution.map(|r| r.to_string()),
        });
    }

    pub(crate) fn notify_remediated(&self, incident: &Incident, session: &Session, verified: bool) {
        let check = format!("re-ran {}", incident.probes.join(", "));
        self.notifier.send(Event::AutoRemediated {
            site: incident.site.clone(),
            service: incident.service.clone(),
            action: format!("tier {} session #{}", session.tier, session.id),
            verification: if verified {
                Verification::Passed(check)
            } else {
                Verification::Failed(check)
            },
            session: Some(session.id),
        });
    }

    pub(crate) fn notify_escalated(&self, from: &Session, to: &Session) {
        self.notifier.send(Event::Escalated {
            site: from.site.clone(),
            service: None,
            tier: to.tier,
            reason: format!("session #{} handed over to session #{}", from.id, to.id),
            session: Some(to.id),
        });
    }

    pub(crate) fn notify_session_needs_human(&self, session: &Session, cause: Cause, reason: &str) {
        self.notifier.send(Event::NeedsHumanAttention {
            site: session.site.clone(),
            service: None,
            reason: human_reason(cause),
            detail: reason.to_owned(),
            session: Some(session.id),
        });
    }

    pub(crate) fn notify_needs_human(&self, site: &SiteName, service: &str, reason: &str) {
        self.notifier.send(Event::NeedsHumanAttention {
            site: site.clone(),
            service: Some(service.to_owned()),
            reason: HumanReason::ChainExhausted,
            detail: reason.to_owned(),
            session: None,
        });
    }

    pub(crate) fn notify_cooldown(&self, session: &Session, service: &str, reason: &str) {
        self.notifier.send(Event::NeedsHumanAttention {
            site: session.site.clone(),
            service: Some(service.to_owned()),
            reason: HumanReason::CooldownExceeded,
            detail: reason.to_owned(),
            session: Some(session.id),
        });
    }
}

impl Sessions {
    /// Tells the notifier which incidents are still open, for its reminders.
    pub async fn sync_open_incidents(&self) {
        let Some(notifier) = self.notifier.notifier() else {
            return;
        };
        let open = self.open_incidents(None, None).await;
        notifier.set_open_incidents(
            open.into_iter()
                .map(|i| OpenIncident {
                    site: i.site,
                    service: i.service,
                    opened_at: time_of_ms(i.opened_at_ms),
                    summary: i.evidence.lines().next().map(str::to_owned),
                })
                .collect(),
        );
    }

    /// The last day across the fleet, for the daily digest.
    pub async fn digest(&self, now_ms: i64) -> Result<DigestSummary, claudeops_store::StoreError> {
        const DAY_MS: i64 = 86_400_000;
        let since = now_ms - DAY_MS;
        let store = &self.store;
        let sessions = store
            .list_sessions(&claudeops_store::SessionFilter {
                site: None,
                limit: 10_000,
                offset: 0,
            })
            .await?;
        let today: Vec<&Session> = sessions
            .iter()
            .filter(|s| s.started_at_ms >= since)
            .collect();
        let incidents = store
            .list_incidents(&IncidentFilter {
                limit: 10_000,
                ..IncidentFilter::default()
            })
            .await?;
        let actions = store
            .list_actions(&claudeops_store::ActionFilter {
                limit: 10_000,
                ..claudeops_store::ActionFilter::default()
            })
            .await?;
        let mut open: BTreeMap<SiteName, Vec<String>> = BTreeMap::new();
        for i in incidents
            .iter()
            .filter(|i| i.status == IncidentStatus::Open)
        {
            open.entry(i.site.clone())
                .or_default()
                .push(i.service.clone());
        }
        let mut sites: Vec<SiteName> = self.registry.sites();
        sites.extend(today.iter().map(|s| s.site.clone()));
        sites.extend(open.keys().cloned());
        sites.sort();
        sites.dedup();
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        Ok(DigestSummary {
            period_start: Some(time_of_ms(since)),
            period_end: Some(time_of_ms(now_ms)),
            sites,
            sessions: count(today.len()),
            sessions_failed: count(
                today
                    .iter()
                    .filter(|s| {
                        s.status.is_finished()
                            && s.status != claudeops_core::SessionStatus::Completed
                    })
                    .count(),
            ),
            escalations: count(today.iter().filter(|s| s.parent_id.is_some()).count()),
            incidents_opened: count(incidents.iter().filter(|i| i.opened_at_ms >= since).count()),
            incidents_resolved: count(
                incidents
                    .iter()
                    .filter(|i| i.resolved_at_ms.is_some_and(|t| t >= since))
                    .count(),
            ),
            actions: count(
                actions
                    .iter()
                    .filter(|a| {
                        a.reserved_at_ms >= since
                            && matches!(
                                a.status,
                                claudeops_store::ActionStatus::Succeeded
                                    | claudeops_store::ActionStatus::Failed
                            )
                    })
                    .count(),
            ),
            cost_usd: today.iter().map(|s| s.cost_usd).sum(),
            open_incidents: open
                .into_iter()
                .map(|(site, services)| SiteIncidents { site, services })
                .collect(),
        })
    }
}

impl Sessions {
    /// A worker went offline or came back: an event, and a notification.
    pub async fn presence_changed(&self, change: crate::scheduler::PresenceChange) {
        use crate::scheduler::PresenceChange;
        use claudeops_core::event::EventLevel;
        match change {
            PresenceChange::Offline {
                worker,
                site,
                since_ms,
            } => {
                self.event(
                    &site,
                    None,
                    EventLevel::Warning,
                    format!("worker {worker} is offline"),
                )
                .await;
                self.notifier.send(Event::WorkerOffline {
                    site,
                    worker,
                    last_seen: Some(time_of_ms(since_ms)),
                });
            }
            PresenceChange::Back { worker, site } => {
                self.event(
                    &site,
                    None,
                    EventLevel::Info,
                    format!("worker {worker} is back"),
                )
                .await;
                self.notifier.send(Event::WorkerBack { site, worker });
            }
        }
    }
}
