//! Alerts from outside (the webhook) in the incident flow.
//!
//! A firing alert opens the incident of its service (or joins the open one
//! that carries its fingerprint, or the service's open one) with the alert as
//! evidence, and a session starts for it at the alert's tier, capped by
//! `CLAUDEOPS_WEBHOOK_MAX_TIER`; when the site is busy the incident waits and
//! the scheduler starts it later, so nothing is dropped. A repeat is counted,
//! not acted on. A resolved alert closes its incident only once the site's
//! probes of that service agree (re-run on the worker), and while an alert
//! fires its incident stays open whatever the probes say: the source has the
//! last word on what it watches, the probes on what they watch.
//!
//! A payload no parser knows opens its incident at once, held: its session
//! starts when a model has written the investigation brief (or failed to, in
//! which case it starts with the raw payload).

use claudeops_core::alert::{Alert, BRIEF_SOURCE, fnv1a, untrusted};
use claudeops_core::event::EventLevel;
use claudeops_core::health::{Incident, IncidentId, IncidentStatus, NewIncident, Resolution};
use claudeops_core::text::shorten;
use claudeops_core::{SessionId, SiteName, Tier, Trigger};
use claudeops_store::StoreError;
use serde::Serialize;

use super::Incidents;
use crate::clock::now_ms;
use crate::upstream::{DEFAULT_BRIEF_PROMPT, Upstream};

/// What became of one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertOutcome {
    /// A session started for it now.
    Triggered,
    /// Its incident waits for a session (a busy site, no worker yet, or a
    /// brief being written); the scheduler starts it.
    Queued,
    /// Its incident already had a session: the alert is added to its evidence.
    Joined,
    /// A repeat of a firing alert: counted, nothing else.
    Duplicate,
    /// Resolved by its source: the incident closes once the probes agree.
    Resolving,
    /// Resolved, but no open incident carries it.
    Unknown,
    /// No session can start for it (dry run above tier 1, LLM tiers off):
    /// a human was told.
    NotStarted,
}

/// The answer about one alert, as the webhook returns it.
#[derive(Debug, Clone, Serialize)]
pub struct AlertAnswer {
    pub status: AlertOutcome,
    pub source: String,
    pub site: SiteName,
    pub service: String,
    pub fingerprint: String,
    pub incident_id: Option<IncidentId>,
    pub session_id: Option<SessionId>,
    /// The tier its session starts at (after the caps).
    pub tier: Option<u8>,
    /// The tier the payload asked for, if it did.
    pub tier_requested: Option<u8>,
    pub message: String,
}

impl AlertAnswer {
    fn new(site: &SiteName, alert: &Alert, status: AlertOutcome, message: String) -> AlertAnswer {
        AlertAnswer {
            status,
            source: alert.source.clone(),
            site: site.clone(),
            service: alert.service.clone(),
            fingerprint: alert.fingerprint.clone(),
            incident_id: None,
            session_id: None,
            tier: None,
            tier_requested: alert.tier.map(Tier::number),
            message,
        }
    }
}

impl Incidents {
    /// Acts on one alert (firing or resolved). Never waits for a session or a
    /// model: a session is started (or queued) and the answer returned.
    pub async fn alert(&self, site: &SiteName, alert: Alert) -> Result<AlertAnswer, StoreError> {
        if alert.firing {
            self.alert_firing(site, alert, false).await
        } else {
            self.alert_resolved(site, alert).await
        }
    }

    /// A payload no parser knows: its incident opens now, held, and a model
    /// writes the brief in the background (`upstream`); the session starts
    /// when the brief is there, or with the raw payload if it cannot be written.
    pub async fn alert_unparsed(
        &self,
        site: &SiteName,
        service: Option<String>,
        payload: String,
        tier: Option<Tier>,
        upstream: &Upstream,
    ) -> Result<AlertAnswer, StoreError> {
        let alert = Alert {
            source: BRIEF_SOURCE.to_owned(),
            site: Some(site.clone()),
            service: service.unwrap_or_else(|| "webhook".to_owned()),
            severity: "unknown".to_owned(),
            summary: "an alert in a format no parser knows (a model writes its brief)".to_owned(),
            fingerprint: format!(
                "{BRIEF_SOURCE}:{:016x}",
                fnv1a(&[site.as_str().as_bytes(), payload.as_bytes()])
            ),
            description: payload.clone(),
            labels: Default::default(),
            firing: true,
            tier,
            url: None,
        };
        let answer = self.alert_firing(site, alert, true).await?;
        if let (AlertOutcome::Queued, Some(id)) = (answer.status, answer.incident_id)
            && self.tracker.is_held(id)
        {
            let (incidents, upstream) = (self.clone(), upstream.clone());
            let site = site.clone();
            tokio::spawn(
                async move { incidents.write_brief(&site, id, &payload, &upstream).await },
            );
        }
        Ok(answer)
    }

    async fn write_brief(
        &self,
        site: &SiteName,
        id: IncidentId,
        payload: &str,
        upstream: &Upstream,
    ) {
        let config = &self.ctx.config;
        let system = config
            .webhook_system_prompt
            .as_deref()
            .unwrap_or(DEFAULT_BRIEF_PROMPT);
        let wrapped = untrusted(BRIEF_SOURCE, payload, &id.to_string());
        let brief = match upstream
            .brief(&config.webhook_model, system, &wrapped)
            .await
        {
            Ok(brief) => {
                self.ctx
                    .event(
                        site,
                        None,
                        EventLevel::Info,
                        format!("incident #{id}: the alert's brief is written; its session starts"),
                    )
                    .await;
                // Written by a model from untrusted text: still data, not orders.
                Some(format!(
                    "## A brief of the alert, written by {} from its raw payload\n\n{}",
                    config.webhook_model,
                    untrusted("model-brief", &brief, &format!("brief-{id}"))
                ))
            }
            Err(reason) => {
                tracing::warn!(incident = id, %reason, "could not write an alert's brief");
                self.ctx
                    .event(
                        site,
                        None,
                        EventLevel::Warning,
                        format!(
                            "incident #{id}: no brief of the alert ({reason}); its session starts with the raw payload"
                        ),
                    )
                    .await;
                None
            }
        };
        self.tracker.release(id, brief);
        self.start_incident_sessions(site).await;
    }

    async fn alert_firing(
        &self,
        site: &SiteName,
        alert: Alert,
        hold: bool,
    ) -> Result<AlertAnswer, StoreError> {
        let tier = self.ctx.runtime.site(site).alert_tier(alert.tier);
        let joined = match self
            .ctx
            .store
            .alert_incident(site, &alert.fingerprint)
            .await?
        {
            Some(id) => self
                .ctx
                .store
                .get_incident(id)
                .await?
                .filter(|i| i.status == IncidentStatus::Open),
            None => None,
        };
        let incident = match joined {
            Some(incident) => incident,
            None => self.open_for_alert(site, &alert).await?,
        };
        let record = self
            .ctx
            .store
            .record_alert(incident.id, &alert, Some(tier), now_ms())
            .await?;
        let mut answer = AlertAnswer::new(site, &alert, AlertOutcome::Queued, String::new());
        answer.incident_id = Some(incident.id);
        answer.tier = Some(tier.number());
        answer.session_id = incident.session_id;
        if record.received > 1 {
            answer.status = AlertOutcome::Duplicate;
            answer.message = format!(
                "a repeat (seen {} times) of an alert incident #{} already has",
                record.received, incident.id
            );
            return Ok(answer);
        }
        if let Some(session) = incident.session_id {
            answer.status = AlertOutcome::Joined;
            answer.message = format!(
                "added to incident #{}, which session #{session} was started for",
                incident.id
            );
            return Ok(answer);
        }
        if hold {
            self.tracker.hold(incident.id);
            answer.message = format!(
                "incident #{} opened; its session starts once a model has written the alert's brief",
                incident.id
            );
            return Ok(answer);
        }
        let started = self.start_incident_sessions(site).await;
        let now = self.ctx.store.get_incident(incident.id).await?;
        match now.and_then(|i| i.session_id) {
            Some(session) => {
                answer.session_id = Some(session);
                answer.status = AlertOutcome::Triggered;
                answer.message = format!(
                    "incident #{}: session #{session} started at tier {tier}",
                    incident.id
                );
            }
            None if self.tracker.has_given_up(incident.id) => {
                answer.status = AlertOutcome::NotStarted;
                answer.message = format!(
                    "incident #{} opened, but no session can start: {}",
                    incident.id,
                    started.unwrap_or_default()
                );
            }
            None => {
                answer.message = format!(
                    "incident #{} waits for a session ({}); the scheduler starts it",
                    incident.id,
                    started.unwrap_or_else(|| "it is queued".to_owned())
                );
            }
        }
        Ok(answer)
    }

    /// Opens (or joins) the incident of the alert's service, with the
    /// service's probes (for verification) and the alert as evidence.
    async fn open_for_alert(&self, site: &SiteName, alert: &Alert) -> Result<Incident, StoreError> {
        let probes: Vec<String> = self
            .ctx
            .store
            .list_probes(Some(site), 0)
            .await?
            .into_iter()
            .filter(|p| p.service == alert.service)
            .map(|p| p.probe)
            .collect();
        let new = NewIncident {
            site: site.clone(),
            service: alert.service.clone(),
            probes,
            evidence: alert.evidence(),
            opened_at_ms: now_ms(),
        };
        let (incident, opened) = self.ctx.store.open_incident(&new).await?;
        if opened {
            tracing::warn!(incident = incident.id, %site, service = %alert.service, source = %alert.source, "incident opened by an alert");
            self.ctx
                .event_for(
                    site,
                    None,
                    EventLevel::Critical,
                    Some(alert.service.clone()),
                    format!(
                        "incident #{} opened by a {} alert ({}): {}",
                        incident.id,
                        alert.source,
                        alert.severity,
                        shorten(&alert.summary, 200)
                    ),
                )
                .await;
            self.notifications.incident_opened(&incident);
        }
        Ok(incident)
    }

    async fn alert_resolved(
        &self,
        site: &SiteName,
        alert: Alert,
    ) -> Result<AlertAnswer, StoreError> {
        let Some(id) = self
            .ctx
            .store
            .alert_incident(site, &alert.fingerprint)
            .await?
        else {
            return Ok(AlertAnswer::new(
                site,
                &alert,
                AlertOutcome::Unknown,
                "no open incident carries this alert: nothing to close".to_owned(),
            ));
        };
        self.ctx
            .store
            .resolve_alert(id, &alert.fingerprint, now_ms())
            .await?;
        let incidents = self.clone();
        let at = site.clone();
        tokio::spawn(async move { incidents.confirm_resolved(&at, id).await });
        let mut answer = AlertAnswer::new(
            site,
            &alert,
            AlertOutcome::Resolving,
            format!("incident #{id} closes once the site's probes of the service agree"),
        );
        answer.incident_id = Some(id);
        Ok(answer)
    }

    /// After an alert resolved: closes its incident if no other alert of it
    /// fires and the service's probes pass when re-run now (or no probe
    /// watches the service, and the source's word is all there is).
    async fn confirm_resolved(&self, site: &SiteName, id: IncidentId) {
        let Ok(Some(incident)) = self.ctx.store.get_incident(id).await else {
            return;
        };
        if incident.status != IncidentStatus::Open {
            return;
        }
        let still = self.firing_alerts(&incident).await;
        if still > 0 {
            self.note(
                &incident,
                format!(
                    "an alert of incident #{id} resolved; {still} other alert(s) of it still fire"
                ),
            )
            .await;
            return;
        }
        let mut probes = incident.probes.clone();
        if let Ok(records) = self.ctx.store.list_probes(Some(site), 0).await {
            probes.extend(
                records
                    .into_iter()
                    .filter(|p| p.service == incident.service)
                    .map(|p| p.probe),
            );
        }
        probes.sort();
        probes.dedup();
        let resolution = if incident.session_id.is_some() {
            Resolution::VerifiedFixed
        } else {
            Resolution::Recovered
        };
        if probes.is_empty() {
            let why = format!(
                "its alert resolved; no probe watches service {}, so the alert's source has the last word",
                incident.service
            );
            self.resolve(&incident, resolution, &why).await;
            return;
        }
        match self.reprobe(site, &probes).await {
            Ok((attempts, unknown)) => {
                let failing: Vec<&str> = attempts
                    .iter()
                    .filter(|a| !a.ok)
                    .map(|a| a.probe.as_str())
                    .collect();
                let missing = probes
                    .iter()
                    .any(|p| unknown.contains(p) || !attempts.iter().any(|a| &a.probe == p));
                if failing.is_empty() && !missing {
                    let why = format!(
                        "its alert resolved and re-running {} agrees",
                        probes.join(", ")
                    );
                    self.resolve(&incident, resolution, &why).await;
                } else {
                    self.note(&incident, format!(
                        "the alert of incident #{id} resolved, but the probes disagree ({} still failing{}); it stays open until they pass",
                        failing.join(", "),
                        if missing { ", some not run" } else { "" }
                    ))
                    .await;
                }
            }
            Err(reason) => {
                self.note(&incident, format!(
                    "the alert of incident #{id} resolved, but the probes could not be re-run ({reason}); it closes when they report up"
                ))
                .await;
            }
        }
    }

    async fn note(&self, incident: &Incident, message: String) {
        self.ctx
            .event_for(
                &incident.site,
                incident.session_id,
                EventLevel::Warning,
                Some(incident.service.clone()),
                message,
            )
            .await;
    }

    /// How many alerts keep the incident open (firing, from a source that
    /// can resolve them). A store error counts as none: the probes decide.
    pub(super) async fn firing_alerts(&self, incident: &Incident) -> usize {
        match self.ctx.store.incident_alerts(incident.id).await {
            Ok(alerts) => alerts.iter().filter(|a| a.holds_open()).count(),
            Err(error) => {
                tracing::warn!(%error, incident = incident.id, "could not read an incident's alerts");
                0
            }
        }
    }

    /// For the session of waiting incidents: its tier (the highest any of
    /// them asks for: the incident tier for probes, each alert's capped
    /// tier), its trigger, and the alerts' evidence (with any brief) that
    /// the incidents' own evidence does not hold yet.
    pub(super) async fn alerts_of_waiting(&self, waiting: &[Incident]) -> (Tier, Trigger, String) {
        let incident_tier = waiting.first().map_or_else(
            || self.ctx.runtime.global().incident_tier(),
            |i| self.ctx.runtime.site(&i.site).incident_tier(),
        );
        let mut tier = None::<Tier>;
        let mut from_alerts = true;
        let mut text = String::new();
        for incident in waiting {
            let alerts = self
                .ctx
                .store
                .incident_alerts(incident.id)
                .await
                .unwrap_or_default();
            if alerts.is_empty() {
                from_alerts = false;
                tier = tier.max(Some(incident_tier));
            }
            for alert in &alerts {
                tier = tier.max(Some(alert.tier.unwrap_or(incident_tier)));
                if alert.firing && !incident.evidence.contains(alert.evidence.trim()) {
                    text.push_str(&format!(
                        "\n### Another alert on incident #{} ({})\n\n{}",
                        incident.id, alert.source, alert.evidence
                    ));
                }
            }
            if let Some(brief) = self.tracker.take_brief(incident.id) {
                text.push('\n');
                text.push_str(&brief);
            }
        }
        let trigger = if from_alerts {
            Trigger::Webhook
        } else {
            Trigger::Incident
        };
        (tier.unwrap_or(incident_tier), trigger, text)
    }
}
