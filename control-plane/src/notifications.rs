//! What the control plane tells humans, through Apprise (`claudeops-notify`).
//!
//! The model never sees a notification URL: the control plane sends. Every send is
//! non-blocking (a queue in the notifier), so a failing notifier never holds up a
//! session or a probe report. Without `CLAUDEOPS_APPRISE_URLS` nothing is sent.
//!
//! Callers hand it domain values (a session, an incident, a presence change); it
//! imports neither sessions nor incidents and decides nothing about them.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use claudeops_core::event::EventLevel;
use claudeops_core::health::{Incident, IncidentStatus, Resolution};
use claudeops_core::{Session, SiteName};
use claudeops_notify::{
    AppriseUrls, Delivery, DeliveryLog, DigestSummary, HumanReason, Notice, NotifyConfig,
    OpenIncident, SiteIncidents, Verification,
};
use claudeops_store::{DeliveryFilter, DeliveryRecord, IncidentFilter, Store, StoreError};

use crate::clock::time_of_ms;
use crate::config::Config;
use crate::context::Context;
use crate::escalation::Cause;
use crate::registry::PresenceChange;

/// Where the time of the last daily digest is kept (settings).
const DIGEST_SETTING: &str = "notify.digest_last_ms";

/// Every delivery attempt goes to the store (`GET /api/v1/notifications`).
struct StoreLog(Arc<dyn Store>);

#[async_trait::async_trait]
impl DeliveryLog for StoreLog {
    async fn record(&self, delivery: &Delivery) {
        let result = match delivery.outcome {
            claudeops_notify::delivery::Outcome::Sent => "sent",
            claudeops_notify::delivery::Outcome::Retrying { .. } => "retrying",
            claudeops_notify::delivery::Outcome::GaveUp => "gave_up",
        };
        metrics::counter!(claudeops_telemetry::names::NOTIFICATIONS, "result" => result)
            .increment(1);
        if let Err(error) = self.0.record_delivery(&delivery.to_record()).await {
            tracing::warn!(%error, "could not record a notification delivery");
        }
    }
}

/// Starts the notifier when `CLAUDEOPS_APPRISE_URLS` is set (in the
/// environment or by a runtime change); without it, the service sends nothing.
pub fn start(ctx: Context) -> anyhow::Result<Notifications> {
    let notifier = build(&ctx, &ctx.runtime.global())?;
    Ok(Notifications::new(ctx, notifier))
}

/// A notifier for `config`'s URLs and timings; `None` without URLs.
fn build(ctx: &Context, config: &Config) -> anyhow::Result<Option<claudeops_notify::Notifier>> {
    let Some(list) = config
        .apprise_urls
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    else {
        return Ok(None);
    };
    let urls = AppriseUrls::parse(list).context("CLAUDEOPS_APPRISE_URLS")?;
    let reminder = Some(config.notify_reminder_interval).filter(|d| !d.is_zero());
    let defaults = NotifyConfig::default();
    let settings = NotifyConfig {
        apprise_path: config.apprise_bin.clone(),
        reminder_interval: reminder,
        group_window: config.notify_group_window,
        digest_time: config.digest_time(),
        dashboard_url: config.public_url.clone(),
        ..defaults
    };
    let log = Arc::new(StoreLog(ctx.store.clone()));
    let notifier = claudeops_notify::Notifier::spawn(&settings, urls, log)
        .context("starting notifications")?;
    tracing::info!(
        urls = notifier.url_count(),
        "notifications through apprise are on"
    );
    Ok(Some(notifier))
}

/// What is told to humans, from domain values; the notifier, when one is configured.
#[derive(Clone)]
pub struct Notifications {
    ctx: Context,
    notifier: Arc<std::sync::RwLock<Option<claudeops_notify::Notifier>>>,
}

impl Notifications {
    pub fn new(ctx: Context, notifier: Option<claudeops_notify::Notifier>) -> Notifications {
        Notifications {
            ctx,
            notifier: Arc::new(std::sync::RwLock::new(notifier)),
        }
    }

    /// The notifier in use now (a handle), if notifications are on.
    pub fn notifier(&self) -> Option<claudeops_notify::Notifier> {
        self.notifier
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Rebuilds the notifier from `config` (a runtime change of the URLs or
    /// timings): the new one takes over at once; the old one delivers what it
    /// had queued, then stops.
    pub async fn reconfigure(&self, config: &Config) -> anyhow::Result<()> {
        let next = build(&self.ctx, config)?;
        let old = std::mem::replace(
            &mut *self
                .notifier
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            next,
        );
        if let Some(old) = old {
            old.shutdown().await;
        }
        Ok(())
    }

    pub fn send(&self, event: Notice) {
        if let Some(notifier) = self.notifier() {
            notifier.notify(event);
        }
    }

    /// One page of delivery attempts, newest first.
    pub async fn deliveries(
        &self,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.ctx.store.list_deliveries(filter).await
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

impl Notifications {
    pub fn incident_opened(&self, incident: &Incident) {
        self.send(Notice::IncidentOpened {
            site: incident.site.clone(),
            service: incident.service.clone(),
            summary: incident.evidence.clone(),
            session: incident.session_id,
        });
    }

    pub fn incident_resolved(&self, incident: &Incident) {
        if incident.resolution == Some(Resolution::VerifiedFixed) {
            return; // `remediated` says it, with the verification.
        }
        let open_for = incident.resolved_at_ms.map(|end| {
            std::time::Duration::from_millis(
                u64::try_from(end - incident.opened_at_ms).unwrap_or(0),
            )
        });
        self.send(Notice::IncidentRecovered {
            site: incident.site.clone(),
            service: incident.service.clone(),
            open_for,
            detail: incident.resolution.map(|r| r.to_string()),
        });
    }

    pub fn remediated(&self, incident: &Incident, session: &Session, verified: bool) {
        let check = format!("re-ran {}", incident.probes.join(", "));
        self.send(Notice::AutoRemediated {
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

    pub fn escalated(&self, from: &Session, to: &Session) {
        self.send(Notice::Escalated {
            site: from.site.clone(),
            service: None,
            tier: to.tier,
            reason: format!("session #{} handed over to session #{}", from.id, to.id),
            session: Some(to.id),
        });
    }

    pub fn session_needs_human(&self, session: &Session, cause: Cause, reason: &str) {
        self.send(Notice::NeedsHumanAttention {
            site: session.site.clone(),
            service: None,
            reason: human_reason(cause),
            detail: reason.to_owned(),
            session: Some(session.id),
        });
    }

    pub fn needs_human(&self, site: &SiteName, service: &str, reason: &str) {
        self.send(Notice::NeedsHumanAttention {
            site: site.clone(),
            service: Some(service.to_owned()),
            reason: HumanReason::ChainExhausted,
            detail: reason.to_owned(),
            session: None,
        });
    }

    /// A typed action waits for a human: its links (absolute, or `None`
    /// without `CLAUDEOPS_PUBLIC_URL`) and its deadline.
    pub fn approval_requested(
        &self,
        approval: &claudeops_core::approval::Approval,
        approve_url: Option<String>,
        deny_url: Option<String>,
        expires_at: std::time::SystemTime,
    ) {
        let args = match &approval.args {
            serde_json::Value::Null => String::new(),
            // The model wrote them: inside a code span, with no backtick or
            // line break to leave it, no Markdown of theirs is read.
            args => format!(
                "\n\nArguments: `{}`",
                claudeops_core::text::cut(args.to_string(), 400, "…")
                    .replace(['`', '\n', '\r'], "'")
            ),
        };
        self.send(Notice::ApprovalRequested {
            site: approval.site.clone(),
            service: approval.service.clone(),
            action: approval.what(),
            detail: format!(
                "Session #{} asks to carry out this {}; it waits, using no tokens, until someone decides.{args}",
                approval.session_id,
                approval.kind.as_str(),
            ),
            session: Some(approval.session_id),
            approve_url,
            deny_url,
            expires_at,
        });
    }

    pub fn cooldown(&self, session: &Session, service: &str, reason: &str) {
        self.send(Notice::NeedsHumanAttention {
            site: session.site.clone(),
            service: Some(service.to_owned()),
            reason: HumanReason::CooldownExceeded,
            detail: reason.to_owned(),
            session: Some(session.id),
        });
    }
}

impl Notifications {
    /// Tells the notifier which incidents are still open, for its reminders.
    pub fn set_open_incidents(&self, open: Vec<Incident>) {
        let Some(notifier) = self.notifier() else {
            return;
        };
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

    /// Sends the daily digest when it is due (the last one's time is in the store,
    /// so a restart neither skips nor repeats it).
    pub async fn daily_digest(&self, now: i64) {
        let Some(notifier) = self.notifier() else {
            return;
        };
        let store = &self.ctx.store;
        let last = match store.get_setting(DIGEST_SETTING).await {
            Ok(value) => value.and_then(|v| v.parse::<i64>().ok()),
            Err(_) => return,
        };
        let Some(last) = last else {
            // A new installation: the first digest covers a whole day.
            let _ = store.put_setting(DIGEST_SETTING, &now.to_string()).await;
            return;
        };
        let Some(at) = self.ctx.config.digest_time() else {
            return; // CLAUDEOPS_NOTIFY_DIGEST_TIME=off
        };
        if !claudeops_notify::digest::is_due(Some(time_of_ms(last)), time_of_ms(now), at) {
            return;
        }
        if store
            .put_setting(DIGEST_SETTING, &now.to_string())
            .await
            .is_err()
        {
            return;
        }
        match self.digest(now).await {
            Ok(summary) => {
                notifier.notify(Notice::DailyDigest(summary));
            }
            Err(error) => tracing::warn!(%error, "could not build the daily digest"),
        }
    }

    /// The last day across the fleet, for the daily digest.
    pub async fn digest(&self, now_ms: i64) -> Result<DigestSummary, StoreError> {
        const DAY_MS: i64 = 86_400_000;
        let since = now_ms - DAY_MS;
        let store = &self.ctx.store;
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
        let mut sites: Vec<SiteName> = self.ctx.registry.sites();
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

impl Notifications {
    /// A worker went offline or came back: an event, and a notification.
    pub async fn presence_changed(&self, change: PresenceChange) {
        match change {
            PresenceChange::Offline {
                worker,
                site,
                since_ms,
            } => {
                self.ctx
                    .event(
                        &site,
                        None,
                        EventLevel::Warning,
                        format!("worker {worker} is offline"),
                    )
                    .await;
                self.send(Notice::WorkerOffline {
                    site,
                    worker,
                    last_seen: Some(time_of_ms(since_ms)),
                });
            }
            PresenceChange::Back { worker, site } => {
                self.ctx
                    .event(
                        &site,
                        None,
                        EventLevel::Info,
                        format!("worker {worker} is back"),
                    )
                    .await;
                self.send(Notice::WorkerBack { site, worker });
            }
        }
    }
}
