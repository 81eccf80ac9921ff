//! What the control plane does with native probe results: store every attempt,
//! open an incident when a service's probes go down and start a session for it at
//! once, close it when they come back, and, after a session that was meant to fix
//! it, re-run the failing probes on the worker: only their result says "verified
//! fixed". The model's word alone never closes an incident.
//!
//! Verification answers a [`Recheck`]; what follows it (the next tier, a
//! human) is decided by `after_session.rs`, so this module never calls back into
//! escalation. It starts sessions only through `Sessions::start`.

use claudeops_telemetry::names;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use claudeops_core::event::EventLevel;
use claudeops_core::health::{
    Incident, IncidentAck, IncidentId, IncidentStatus, InventoryRecord, NewIncident, ProbeAttempt,
    ProbeState, Resolution, service_verdicts,
};
use claudeops_core::link::{ProbeReport, ReprobeRequest, ReprobeResult, ToWorker};
use claudeops_core::{Session, SessionId, SiteName};
use claudeops_store::{IncidentFilter, ProbeRecord, StoreError};
use tokio::sync::oneshot;

use crate::clock::now_ms;
use crate::context::Context;
use crate::dependencies::{self, Graph};
use crate::maintenance::Maintenance;
use crate::notifications::Notifications;
use crate::sessions::{Sessions, StartError, StartRequest};

mod alerts;

pub use alerts::{AlertAnswer, AlertOutcome};

/// How long the control plane waits for a worker to re-run probes.
pub const REPROBE_TIMEOUT: Duration = Duration::from_secs(90);
/// After its chain ends, an incident is left to the chain's re-run of the
/// probes this long before probes passing on their own may close it.
const VERIFY_GRACE_MS: i64 = 30_000;
/// At most this many waiting incidents go into one session (the oldest);
/// the others wait for the next.
pub const INCIDENTS_PER_SESSION: usize = 10;
/// At most this much evidence per incident, in bytes.
const EVIDENCE_LIMIT: usize = 6_000;

/// In-memory bookkeeping of the incident flow (re-probe requests in flight,
/// incidents whose session cannot start for a reason that will not pass by itself).
#[derive(Clone, Default)]
pub struct IncidentTracker {
    inner: Arc<TrackerInner>,
}

#[derive(Default)]
struct TrackerInner {
    next_request: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
    gave_up: Mutex<HashSet<IncidentId>>,
    /// Incidents whose session waits for a model-written brief (`alerts.rs`).
    held: Mutex<HashSet<IncidentId>>,
    /// The briefs written, by incident, until its session starts.
    briefs: Mutex<HashMap<IncidentId, String>>,
}

struct Pending {
    results: Vec<ProbeAttempt>,
    unknown: Vec<String>,
    waiting_for: usize,
    done: Option<oneshot::Sender<Reprobed>>,
}

/// The attempts of a re-run, and the probe names no worker knew.
pub type Reprobed = (Vec<ProbeAttempt>, Vec<String>);

impl IncidentTracker {
    fn register(&self, workers: usize) -> (u64, oneshot::Receiver<Reprobed>) {
        let id = self.inner.next_request.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = oneshot::channel();
        let pending = Pending {
            results: Vec::new(),
            unknown: Vec::new(),
            waiting_for: workers,
            done: Some(tx),
        };
        lock(&self.inner.pending).insert(id, pending);
        (id, rx)
    }

    /// Takes one worker's answer; the request completes when every asked worker answered.
    pub fn answer(&self, result: ReprobeResult) {
        let mut pending = lock(&self.inner.pending);
        let Some(entry) = pending.get_mut(&result.request_id) else {
            return;
        };
        entry.results.extend(result.attempts);
        entry.unknown.extend(result.unknown);
        entry.waiting_for = entry.waiting_for.saturating_sub(1);
        if entry.waiting_for == 0
            && let Some(mut done) = pending.remove(&result.request_id)
            && let Some(tx) = done.done.take()
        {
            let _ = tx.send((done.results, done.unknown));
        }
    }

    fn forget(&self, id: u64) {
        lock(&self.inner.pending).remove(&id);
    }

    fn give_up(&self, id: IncidentId) {
        lock(&self.inner.gave_up).insert(id);
    }

    fn has_given_up(&self, id: IncidentId) -> bool {
        lock(&self.inner.gave_up).contains(&id)
    }

    fn hold(&self, id: IncidentId) {
        lock(&self.inner.held).insert(id);
    }

    fn release(&self, id: IncidentId, brief: Option<String>) {
        if let Some(brief) = brief {
            lock(&self.inner.briefs).insert(id, brief);
        }
        lock(&self.inner.held).remove(&id);
    }

    fn is_held(&self, id: IncidentId) -> bool {
        lock(&self.inner.held).contains(&id)
    }

    fn take_brief(&self, id: IncidentId) -> Option<String> {
        lock(&self.inner.briefs).remove(&id)
    }

    /// Whether a session may start for the incident now.
    fn waits(&self, incident: &Incident) -> bool {
        incident.session_id.is_none()
            && !self.has_given_up(incident.id)
            && !self.is_held(incident.id)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The failing attempts of one service, as evidence for an incident or a prompt.
pub fn evidence(attempts: &[&ProbeAttempt]) -> String {
    let mut out = String::new();
    for a in attempts {
        out.push_str(&format!(
            "- probe {} ({}): {}\n",
            a.probe, a.kind, a.message
        ));
        if !a.evidence.trim().is_empty() {
            out.push_str("  ```\n");
            for line in a.evidence.trim_end().lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
            out.push_str("  ```\n");
        }
    }
    truncate(out, EVIDENCE_LIMIT)
}

fn truncate(text: String, limit: usize) -> String {
    claudeops_core::text::cut(text, limit, "[... cut]")
}

/// The context a session opened by incidents starts with: what failed, the evidence,
/// and what discovery knows about each service.
pub fn incident_handoff(
    incidents: &[Incident],
    facts: &BTreeMap<String, serde_json::Value>,
    graph: &Graph,
) -> String {
    let mut out = String::from(
        "Native probes on this site found a failure. Investigate and fix it within your tier.\n\
         After this session the control plane re-runs the failing probes: only their result \
         closes the incident, so say plainly what you did and whether it worked.\n",
    );
    for incident in incidents {
        out.push_str(&format!(
            "\n## Incident #{}: service {} is down (probes: {})\n\n{}",
            incident.id,
            incident.service,
            incident.probes.join(", "),
            incident.evidence
        ));
        if let Some(graph) = graph.describe(&incident.service) {
            out.push_str(&format!(
                "\nDependencies around {} (a fault in a dependency is fixed there; \
                 services that depend on it are impacted, not broken themselves):\n{graph}",
                incident.service
            ));
        }
        if let Some(fact) = facts.get(&incident.service) {
            let text = serde_json::to_string_pretty(fact).unwrap_or_default();
            out.push_str(&format!(
                "\nWhat discovery knows about {}:\n```json\n{}\n```\n",
                incident.service,
                truncate(text, 2_000)
            ));
        }
    }
    out
}

/// The services an inventory describes, by name (the `services` list of the
/// discovery report; entries without a name are skipped).
pub fn service_facts(inventories: &[InventoryRecord]) -> BTreeMap<String, serde_json::Value> {
    let mut facts = BTreeMap::new();
    for record in inventories {
        let Some(services) = record.inventory.get("services").and_then(|s| s.as_array()) else {
            continue;
        };
        for service in services {
            if let Some(name) = service.get("name").and_then(|n| n.as_str()) {
                facts.insert(name.to_owned(), service.clone());
            }
        }
    }
    facts
}

/// What re-running a finished chain's failing probes showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recheck {
    /// The chain was not started for an open incident.
    NothingToVerify,
    /// Every incident's probes pass: resolved as verified fixed.
    Fixed,
    /// The probes could not be re-run (no worker, no answer in time).
    Unverified { reason: String },
    /// Some still fail: the handoff for the next tier, with the new evidence.
    StillFailing { handoff: String },
    /// The probes pass, but an alert of the incident still fires: it closes
    /// when its source says it is resolved and the probes agree.
    AwaitingAlert,
}

impl Recheck {
    /// One word for a span or a metric.
    pub fn label(&self) -> &'static str {
        match self {
            Recheck::NothingToVerify => "nothing_to_verify",
            Recheck::Fixed => "verified",
            Recheck::Unverified { .. } => "unverified",
            Recheck::StillFailing { .. } => "still_failing",
            Recheck::AwaitingAlert => "awaiting_alert",
        }
    }
}

/// Incidents: probe and inventory reports, opening and closing, the incident's
/// session, re-probes and verification.
/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineItem {
    pub at_ms: i64,
    /// `opened`, `session`, `action`, `event`, `notification`,
    /// `acknowledged`, `resolved`.
    pub kind: &'static str,
    pub text: String,
    /// A page about it (a session).
    pub link: Option<String>,
}

#[derive(Clone)]
pub struct Incidents {
    ctx: Context,
    sessions: Sessions,
    notifications: Notifications,
    tracker: IncidentTracker,
    maintenance: Maintenance,
    /// (site, service) of the services now impacted by a failing dependency.
    impacted: Arc<Mutex<HashSet<(String, String)>>>,
}

impl Incidents {
    pub fn new(ctx: Context, sessions: Sessions, notifications: Notifications) -> Incidents {
        Incidents {
            sessions,
            notifications,
            tracker: IncidentTracker::default(),
            maintenance: Maintenance::new(ctx.clone()),
            impacted: Arc::default(),
            ctx,
        }
    }

    /// The maintenance windows that silence this service's failures.
    pub fn maintenance(&self) -> &Maintenance {
        &self.maintenance
    }

    /// Records who acknowledged an incident (its reminders stop); false if it
    /// already was. `NotFound` without the incident.
    pub async fn acknowledge(&self, id: i64, who: &str) -> Result<bool, StoreError> {
        let Some(incident) = self.ctx.store.get_incident(id).await? else {
            return Err(StoreError::NotFound);
        };
        let new = self
            .ctx
            .store
            .acknowledge_incident(&IncidentAck {
                incident_id: id,
                by: who.to_owned(),
                at_ms: now_ms(),
            })
            .await?;
        if new {
            self.ctx
                .event_for(
                    &incident.site,
                    incident.session_id,
                    EventLevel::Info,
                    Some(incident.service.clone()),
                    format!("incident #{id} acknowledged by {who}: reminders stop"),
                )
                .await;
            if self.notifications.notifier().is_some() {
                let remind = self.remindable().await;
                self.notifications.set_open_incidents(remind);
            }
        }
        Ok(new)
    }

    /// An incident and what happened about it, in time order: opened (with
    /// the failing probes), the sessions of its chain (started, ended, cost),
    /// their typed actions, the events of its service meanwhile (the
    /// verification among them), the notifications sent, the
    /// acknowledgement, and the resolution. `None` without the incident.
    pub async fn timeline(
        &self,
        id: i64,
    ) -> Result<Option<(Incident, Option<IncidentAck>, Vec<TimelineItem>)>, StoreError> {
        let store = &self.ctx.store;
        let Some(incident) = store.get_incident(id).await? else {
            return Ok(None);
        };
        let ack = store.incident_ack(id).await?;
        let until = incident.resolved_at_ms.map_or(i64::MAX, |r| r + 60_000);
        let from = incident.opened_at_ms - 60_000;
        let mut items = vec![TimelineItem {
            at_ms: incident.opened_at_ms,
            kind: "opened",
            text: format!(
                "{} is down: {}",
                incident.service,
                if incident.probes.is_empty() {
                    "an alert".to_owned()
                } else {
                    incident.probes.join(", ")
                }
            ),
            link: None,
        }];
        // The chain of sessions: the incident's, and those escalated from it.
        let mut chain: Vec<Session> = Vec::new();
        if let Some(first) = incident.session_id
            && let Some(session) = store.get_session(first).await?
        {
            chain.push(session);
            let mut i = 0;
            while i < chain.len() && chain.len() < 10 {
                let children = store.child_sessions(chain[i].id).await?;
                chain.extend(children);
                i += 1;
            }
        }
        for s in &chain {
            items.push(TimelineItem {
                at_ms: s.started_at_ms,
                kind: "session",
                text: format!(
                    "session #{} started at tier {} ({})",
                    s.id,
                    s.tier.number(),
                    s.model
                ),
                link: Some(format!("/sessions/{}", s.id)),
            });
            if let Some(ended) = s.ended_at_ms {
                items.push(TimelineItem {
                    at_ms: ended,
                    kind: "session",
                    text: format!(
                        "session #{} ended {} after {} turns, ${:.4}",
                        s.id,
                        s.status.as_str(),
                        s.turns,
                        s.cost_usd
                    ),
                    link: Some(format!("/sessions/{}", s.id)),
                });
            }
            let actions = store
                .list_actions(&claudeops_store::ActionFilter {
                    session_id: Some(s.id),
                    limit: 100,
                    ..claudeops_store::ActionFilter::default()
                })
                .await?;
            for a in actions {
                items.push(TimelineItem {
                    at_ms: a.finished_at_ms.unwrap_or(a.reserved_at_ms),
                    kind: "action",
                    text: format!(
                        "{} {}: {}{}",
                        a.kind.as_str(),
                        a.service,
                        a.status.as_str(),
                        a.result.map(|r| format!(" ({r})")).unwrap_or_default()
                    ),
                    link: Some(format!("/sessions/{}", s.id)),
                });
            }
        }
        // The service's events meanwhile, and the chain's.
        let events = store
            .list_events(&claudeops_store::EventFilter {
                site: Some(incident.site.clone()),
                limit: 1_000,
                ..claudeops_store::EventFilter::default()
            })
            .await?;
        for e in events {
            let of_chain = e
                .session_id
                .is_some_and(|sid| chain.iter().any(|s| s.id == sid));
            let of_service = e.service.as_deref() == Some(incident.service.as_str());
            if (of_chain || of_service) && e.ts_ms >= from && e.ts_ms <= until {
                items.push(TimelineItem {
                    at_ms: e.ts_ms,
                    kind: "event",
                    text: e.message,
                    link: e.session_id.map(|s| format!("/sessions/{s}")),
                });
            }
        }
        // Notifications about its site meanwhile, one entry a message.
        let deliveries = store
            .list_deliveries(&claudeops_store::DeliveryFilter {
                limit: 1_000,
                ..claudeops_store::DeliveryFilter::default()
            })
            .await?;
        let mut seen = HashSet::new();
        for d in deliveries {
            if d.at_ms < from
                || d.at_ms > until
                || !d.sites.iter().any(|s| s == incident.site.as_str())
                || !d.title.contains(&incident.service)
                || !seen.insert(d.notification_id.clone())
            {
                continue;
            }
            items.push(TimelineItem {
                at_ms: d.at_ms,
                kind: "notification",
                text: format!("{}: {}", d.kind.replace('_', " "), d.title),
                link: None,
            });
        }
        if let Some(ack) = &ack {
            items.push(TimelineItem {
                at_ms: ack.at_ms,
                kind: "acknowledged",
                text: format!("acknowledged by {}", ack.by),
                link: None,
            });
        }
        if let Some(at) = incident.resolved_at_ms {
            items.push(TimelineItem {
                at_ms: at,
                kind: "resolved",
                text: incident
                    .resolution
                    .map_or("resolved".to_owned(), |r| r.as_str().replace('_', " ")),
                link: None,
            });
        }
        items.sort_by_key(|i| i.at_ms);
        Ok(Some((incident, ack, items)))
    }

    pub async fn acknowledgement(&self, id: i64) -> Result<Option<IncidentAck>, StoreError> {
        self.ctx.store.incident_ack(id).await
    }

    /// The latest acknowledgements, for the lists.
    pub async fn acknowledgements(&self) -> Result<Vec<IncidentAck>, StoreError> {
        self.ctx.store.recent_incident_acks(500).await
    }

    /// The open incidents reminders are for: not acknowledged, not silenced
    /// by a maintenance window.
    pub async fn remindable(&self) -> Vec<Incident> {
        let now = now_ms();
        let acked: HashSet<i64> = self
            .acknowledgements()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.incident_id)
            .collect();
        let mut open = Vec::new();
        for incident in self.open_incidents(None, None).await {
            if acked.contains(&incident.id)
                || self
                    .maintenance
                    .silencing(&incident.site, &incident.service, now)
                    .await
                    .is_some()
            {
                continue;
            }
            open.push(incident);
        }
        open
    }

    /// Takes a worker's answer to a re-probe request.
    pub fn reprobed(&self, result: ReprobeResult) {
        self.tracker.answer(result);
    }

    /// One page of incidents.
    pub async fn list(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        self.ctx.store.list_incidents(filter).await
    }

    /// What the workers of a site last reported finding.
    pub async fn inventories(&self, site: &SiteName) -> Result<Vec<InventoryRecord>, StoreError> {
        self.ctx.store.inventories(site).await
    }

    /// Every probe's latest state (of one site or all), with `history` attempts.
    pub async fn probes(
        &self,
        site: Option<&SiteName>,
        history: u32,
    ) -> Result<Vec<ProbeRecord>, StoreError> {
        self.ctx.store.list_probes(site, history).await
    }

    /// The open incidents of one site (and service) or of all, at most 1,000.
    pub async fn open_incidents(
        &self,
        site: Option<&SiteName>,
        service: Option<&str>,
    ) -> Vec<Incident> {
        let filter = IncidentFilter {
            site: site.cloned(),
            service: service.map(str::to_owned),
            status: Some(IncidentStatus::Open),
            limit: 1_000,
            ..IncidentFilter::default()
        };
        match self.ctx.store.list_incidents(&filter).await {
            Ok(list) => list,
            Err(error) => {
                tracing::warn!(%error, "could not read the open incidents");
                Vec::new()
            }
        }
    }

    /// Records one probe report of a worker and acts on it: incidents open for
    /// services with a probe down, and close for services whose probes are all up.
    pub async fn probe_report(&self, site: &SiteName, report: ProbeReport) {
        self.ctx
            .changes
            .publish(crate::changes::Kind::Probes, Some(site.as_str()));
        let attempts = report.attempts;
        for a in &attempts {
            let result = if a.ok { "up" } else { "down" };
            metrics::counter!(names::PROBE_ATTEMPTS, "site" => site.to_string(), "kind" => a.kind.clone(), "result" => result)
                .increment(1);
            metrics::histogram!(names::PROBE_LATENCY, "site" => site.to_string(), "kind" => a.kind.clone())
                .record(a.latency_ms.max(0) as f64 / 1000.0);
        }
        let recorded = crate::telemetry::timed(
            "record_probe_attempts",
            self.ctx.store.record_probe_attempts(site, &attempts),
        )
        .await;
        if let Err(error) = recorded {
            tracing::error!(%error, %site, "could not record probe attempts");
            return;
        }
        if report.complete_set
            && let Err(error) = self
                .ctx
                .store
                .retire_probes(site, &report.probe_names)
                .await
        {
            tracing::warn!(%error, %site, "could not forget retired probes");
        }
        let (mut down, up) = service_verdicts(&attempts);
        let now = now_ms();
        let mut silenced = Vec::new();
        for service in &down {
            if let Some(window) = self.maintenance.silencing(site, service, now).await {
                tracing::info!(%site, service, window = window.id, "a failure during maintenance: no incident");
                silenced.push(service.clone());
            }
        }
        down.retain(|s| !silenced.contains(s));
        let (graph, failing_services) = if down.is_empty() {
            (Graph::default(), HashSet::new())
        } else {
            (
                Graph::of_site(&self.ctx, site).await,
                self.failing_services(site, &down).await,
            )
        };
        for service in &down {
            // A fault in a dependency is the root's incident: this one is impacted.
            if let Some(root) = graph
                .dependencies(service)
                .into_iter()
                .find(|d| failing_services.contains(&dependencies::key(d)))
            {
                self.mark_impacted(site, service, &root).await;
                continue;
            }
            let failing: Vec<&ProbeAttempt> = attempts
                .iter()
                .filter(|a| &a.service == service && a.state == ProbeState::Down && !a.ok)
                .collect();
            self.open_incident(site, service, &failing).await;
        }
        if !down.is_empty() {
            self.start_incident_sessions(site).await;
        }
        for service in &up {
            self.impacted_lock()
                .remove(&(site.to_string(), service.clone()));
            self.close_recovered(site, service).await;
        }
    }

    fn impacted_lock(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.impacted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The services of a site failing now (normalised): down in this report,
    /// with an open incident, or with a probe whose latest attempt failed.
    async fn failing_services(&self, site: &SiteName, down: &[String]) -> HashSet<String> {
        let mut failing: HashSet<String> = down.iter().map(|s| dependencies::key(s)).collect();
        for incident in self.open_incidents(Some(site), None).await {
            failing.insert(dependencies::key(&incident.service));
        }
        for probe in self
            .ctx
            .store
            .list_probes(Some(site), 0)
            .await
            .unwrap_or_default()
        {
            if !probe.ok || probe.state == ProbeState::Down {
                failing.insert(dependencies::key(&probe.service));
            }
        }
        failing
    }

    /// Says once (until the service is up again) that `service` is impacted by `root`.
    async fn mark_impacted(&self, site: &SiteName, service: &str, root: &str) {
        let first = self
            .impacted_lock()
            .insert((site.to_string(), service.to_owned()));
        if first {
            tracing::info!(%site, service, root, "impacted by a failing dependency: no incident of its own");
            self.ctx
                .event_for(
                    site,
                    None,
                    EventLevel::Info,
                    Some(service.to_owned()),
                    format!(
                        "{service} is impacted: it depends on {root}, which is failing; \
                         no incident of its own (the root's incident covers it)"
                    ),
                )
                .await;
        }
    }

    async fn open_incident(&self, site: &SiteName, service: &str, failing: &[&ProbeAttempt]) {
        let new = NewIncident {
            site: site.clone(),
            service: service.to_owned(),
            probes: failing.iter().map(|a| a.probe.clone()).collect(),
            evidence: evidence(failing),
            opened_at_ms: now_ms(),
        };
        match self.ctx.store.open_incident(&new).await {
            Ok((incident, true)) => {
                tracing::warn!(incident = incident.id, %site, service, "incident opened");
                if let Some(first) = self.first_failure(site, &incident.probes).await {
                    metrics::histogram!(names::TIME_TO_DETECT, "site" => site.to_string())
                        .record((incident.opened_at_ms - first).max(0) as f64 / 1000.0);
                }
                let first = failing.first().map(|a| a.message.as_str()).unwrap_or("");
                self.ctx
                    .event_for(
                        site,
                        None,
                        EventLevel::Critical,
                        Some(service.to_owned()),
                        format!(
                            "incident #{} opened: {service} is down ({}): {first}",
                            incident.id,
                            incident.probes.join(", ")
                        ),
                    )
                    .await;
                self.notifications.incident_opened(&incident);
            }
            Ok((_, false)) => {}
            Err(error) => tracing::error!(%error, %site, service, "could not open an incident"),
        }
    }

    /// When the current run of failures of these probes began: the earliest
    /// failed attempt after their last success, from their recent history.
    async fn first_failure(&self, site: &SiteName, probes: &[String]) -> Option<i64> {
        let records = self.ctx.store.list_probes(Some(site), 50).await.ok()?;
        records
            .iter()
            .filter(|r| probes.contains(&r.probe))
            .filter_map(|r| {
                r.history
                    .iter()
                    .rev()
                    .take_while(|p| !p.ok)
                    .last()
                    .map(|p| p.at_ms)
            })
            .min()
    }

    async fn close_recovered(&self, site: &SiteName, service: &str) {
        let working = self.chains_running(site).await;
        for incident in self.open_incidents(Some(site), Some(service)).await {
            // An alert that still fires keeps it open: its source has the last word.
            if self.firing_alerts(&incident).await > 0 {
                continue;
            }
            // A chain at work on it decides when it ends: the re-run probes
            // then say "verified fixed" (the probes passing meanwhile are most
            // likely its fix taking hold, not a recovery of their own).
            if incident.session_id.is_some_and(|id| working.contains(&id)) {
                continue;
            }
            // Nor does one just ended, whose re-run of the probes is on its way.
            if let Some(id) = incident.session_id
                && self.chain_ended_within(id, VERIFY_GRACE_MS).await
            {
                continue;
            }
            self.resolve(&incident, Resolution::Recovered, "its probes are up again")
                .await;
        }
    }

    /// Whether the chain that began with session `first` (it and its
    /// escalations) ended less than `grace_ms` ago.
    async fn chain_ended_within(&self, first: SessionId, grace_ms: i64) -> bool {
        let now = now_ms();
        let mut next = vec![first];
        let mut depth = 0;
        while let Some(id) = next.pop() {
            depth += 1;
            if depth > 16 {
                break;
            }
            if let Ok(Some(session)) = self.ctx.store.get_session(id).await
                && session
                    .ended_at_ms
                    .is_some_and(|ended| now - ended < grace_ms)
            {
                return true;
            }
            next.extend(
                self.ctx
                    .store
                    .child_sessions(id)
                    .await
                    .unwrap_or_default()
                    .iter()
                    .map(|s| s.id),
            );
        }
        false
    }

    /// The sessions of the site's running chains (the running ones and their ancestors).
    async fn chains_running(&self, site: &SiteName) -> Vec<SessionId> {
        let running = self.ctx.store.running_sessions().await.unwrap_or_default();
        let mut ids = Vec::new();
        for session in running.iter().filter(|s| &s.site == site) {
            ids.extend(self.sessions.chain(session).await.iter().map(|s| s.id));
        }
        ids
    }

    async fn resolve(&self, incident: &Incident, resolution: Resolution, why: &str) {
        match self
            .ctx
            .store
            .resolve_incident(incident.id, resolution, now_ms())
            .await
        {
            Ok(Some(resolved)) => {
                tracing::info!(incident = incident.id, site = %incident.site, service = %incident.service, %resolution, "incident resolved");
                if resolution == Resolution::VerifiedFixed
                    && let Some(at) = resolved.resolved_at_ms
                {
                    metrics::histogram!(names::TIME_TO_FIX, "site" => incident.site.to_string())
                        .record((at - incident.opened_at_ms).max(0) as f64 / 1000.0);
                }
                let words = match resolution {
                    Resolution::VerifiedFixed => "verified fixed",
                    Resolution::Recovered => "recovered",
                    Resolution::Dismissed => "dismissed",
                };
                self.ctx
                    .event_for(
                        &incident.site,
                        incident.session_id,
                        EventLevel::Info,
                        Some(incident.service.clone()),
                        format!("incident #{} {words}: {why}", incident.id),
                    )
                    .await;
                self.notifications.incident_resolved(&resolved);
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(%error, incident = incident.id, "could not resolve an incident")
            }
        }
    }

    /// Starts one session for the site's open incidents that have none yet. A busy
    /// site or an absent worker is retried by the scheduler; a reason that will not
    /// pass by itself (dry run, LLM tiers off) is recorded once. Returns why no
    /// session started (`None` when one did, or none was needed).
    pub async fn start_incident_sessions(&self, site: &SiteName) -> Option<String> {
        // A busy site is known before its incidents are even read.
        if let Ok(running) = self.ctx.store.running_sessions().await
            && let Some(session) = running.iter().find(|s| &s.site == site)
        {
            return Some(
                StartError::Busy {
                    site: site.clone(),
                    running: session.id,
                }
                .to_string(),
            );
        }
        // Oldest first, at most a handful per session: an alert storm makes
        // a queue of sessions, not one prompt of a thousand incidents.
        let waiting: Vec<Incident> = self
            .open_incidents(Some(site), None)
            .await
            .into_iter()
            .filter(|i| self.tracker.waits(i))
            .collect();
        let now = now_ms();
        let mut unsilenced = Vec::with_capacity(waiting.len());
        for incident in waiting {
            if self
                .maintenance
                .silencing(&incident.site, &incident.service, now)
                .await
                .is_none()
            {
                unsilenced.push(incident);
            }
        }
        // An incident whose service depends on one with an open incident of
        // its own waits for the root (it opened before its root failed).
        let graph = Graph::of_site(&self.ctx, site).await;
        let open: HashSet<String> = self
            .open_incidents(Some(site), None)
            .await
            .iter()
            .map(|i| dependencies::key(&i.service))
            .collect();
        unsilenced.retain(|i| {
            !graph
                .dependencies(&i.service)
                .iter()
                .any(|d| open.contains(&dependencies::key(d)))
        });
        let mut waiting = unsilenced;
        if waiting.is_empty() {
            return None;
        }
        waiting.reverse();
        waiting.truncate(INCIDENTS_PER_SESSION);
        let facts = match self.ctx.store.inventories(site).await {
            Ok(records) => service_facts(&records),
            Err(_) => BTreeMap::new(),
        };
        let (tier, trigger, alerts) = self.alerts_of_waiting(&waiting).await;
        let request = StartRequest {
            site: site.clone(),
            tier,
            trigger,
            prompt: None,
            handoff: Some(incident_handoff(&waiting, &facts, &graph) + &alerts),
            parent_id: None,
        };
        match self.sessions.start(request).await {
            Ok(session) => {
                for incident in &waiting {
                    if let Err(error) = self
                        .ctx
                        .store
                        .set_incident_session(incident.id, session.id)
                        .await
                    {
                        tracing::error!(%error, incident = incident.id, "could not link an incident to its session");
                    }
                }
                let services: Vec<&str> = waiting.iter().map(|i| i.service.as_str()).collect();
                self.ctx
                    .event(
                        site,
                        Some(session.id),
                        EventLevel::Warning,
                        format!(
                            "session #{} (tier {}) started for incident(s) on {}",
                            session.id,
                            session.tier,
                            services.join(", ")
                        ),
                    )
                    .await;
                None
            }
            // Tried again later (by the next control plane, when shutting down).
            Err(
                error @ (StartError::Busy { .. }
                | StartError::NoWorker(_)
                | StartError::ShuttingDown),
            ) => Some(error.to_string()),
            Err(error) => {
                for incident in &waiting {
                    self.tracker.give_up(incident.id);
                }
                let reason = format!("no session can start for the incident: {error}");
                self.ctx
                    .event(
                        site,
                        None,
                        EventLevel::Critical,
                        format!("needs human attention: {reason}"),
                    )
                    .await;
                for incident in &waiting {
                    self.notifications
                        .needs_human(site, &incident.service, &reason);
                }
                Some(reason)
            }
        }
    }

    /// Every site with an open incident that has no session yet gets one (the
    /// scheduler calls this; a busy site is tried again next tick).
    pub async fn retry_incident_sessions(&self) {
        let mut sites: Vec<SiteName> = self
            .open_incidents(None, None)
            .await
            .into_iter()
            .filter(|i| self.tracker.waits(i))
            .map(|i| i.site)
            .collect();
        sites.sort();
        sites.dedup();
        for site in sites {
            self.start_incident_sessions(&site).await;
        }
    }

    /// Re-runs probes on every connected worker of the site and returns their attempts
    /// (and the names no worker knew). Errors when no worker answers in time.
    pub async fn reprobe(&self, site: &SiteName, probes: &[String]) -> Result<Reprobed, String> {
        let senders: Vec<_> = self
            .ctx
            .registry
            .list()
            .into_iter()
            .filter(|w| &w.site == site)
            .filter_map(|w| self.ctx.registry.sender(&w.worker_id))
            .collect();
        if senders.is_empty() {
            return Err(format!("no worker of site {site} is connected"));
        }
        let (id, rx) = self.tracker.register(senders.len());
        for tx in senders {
            let msg = ToWorker::Reprobe(ReprobeRequest {
                request_id: id,
                probes: probes.to_vec(),
            });
            let _ = tx.send(msg).await;
        }
        match tokio::time::timeout(REPROBE_TIMEOUT, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            _ => {
                self.tracker.forget(id);
                Err(format!(
                    "the workers of site {site} did not re-run the probes in time"
                ))
            }
        }
    }

    /// The open incidents a finished chain of sessions was started for.
    async fn incidents_of_chain(&self, session: &Session) -> Vec<Incident> {
        let ids: Vec<SessionId> = self
            .sessions
            .chain(session)
            .await
            .iter()
            .map(|s| s.id)
            .collect();
        let mut found = Vec::new();
        for id in ids {
            let filter = IncidentFilter {
                session_id: Some(id),
                status: Some(IncidentStatus::Open),
                ..IncidentFilter::default()
            };
            if let Ok(list) = self.ctx.store.list_incidents(&filter).await {
                found.extend(list);
            }
        }
        found
    }

    /// After a chain that was started for incidents ends without asking for more:
    /// re-run the failing probes. All passing: "verified fixed". Still failing: the
    /// next tier gets the new evidence (the caller decides; it may be a human).
    pub async fn verify(&self, session: &Session) -> Recheck {
        let incidents = self.incidents_of_chain(session).await;
        if incidents.is_empty() {
            return Recheck::NothingToVerify;
        }
        let mut probes: Vec<String> = incidents.iter().flat_map(|i| i.probes.clone()).collect();
        probes.sort();
        probes.dedup();
        // Incidents opened by alerts may have no probe: nothing to re-run for them.
        let (attempts, unknown) = if probes.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            match self.reprobe(&session.site, &probes).await {
                Ok(answer) => answer,
                Err(reason) => return Recheck::Unverified { reason },
            }
        };
        let mut still_failing = Vec::new();
        let mut awaiting = 0;
        for incident in &incidents {
            let failing: Vec<&ProbeAttempt> = attempts
                .iter()
                .filter(|a| incident.probes.contains(&a.probe) && !a.ok)
                .collect();
            let missing = incident.probes.iter().any(|p| unknown.contains(p))
                || incident
                    .probes
                    .iter()
                    .any(|p| !attempts.iter().any(|a| &a.probe == p));
            if failing.is_empty() && !missing && self.firing_alerts(incident).await > 0 {
                awaiting += 1;
                self.ctx
                    .event_for(
                        &incident.site,
                        Some(session.id),
                        EventLevel::Info,
                        Some(incident.service.clone()),
                        format!(
                            "incident #{}: the probes pass after session #{}, but its alert still \
                             fires; it closes when the alert's source resolves it",
                            incident.id, session.id
                        ),
                    )
                    .await;
            } else if failing.is_empty() && !missing {
                self.resolve(
                    incident,
                    Resolution::VerifiedFixed,
                    &format!(
                        "re-ran {} after session #{}: all pass",
                        incident.probes.join(", "),
                        session.id
                    ),
                )
                .await;
                self.notifications.remediated(incident, session, true);
            } else {
                still_failing.push((incident, evidence(&failing), missing));
            }
        }
        if still_failing.is_empty() {
            return if awaiting > 0 {
                Recheck::AwaitingAlert
            } else {
                Recheck::Fixed
            };
        }
        let mut handoff = format!(
            "Session #{} (tier {}) ended, but re-running the failing probes shows the problem is not fixed:\n",
            session.id, session.tier
        );
        for (incident, evidence, missing) in &still_failing {
            handoff.push_str(&format!(
                "\n## Incident #{}: service {} still failing\n\n{}",
                incident.id, incident.service, evidence
            ));
            if *missing {
                handoff.push_str("- some of its probes are no longer run by any worker\n");
            }
        }
        self.ctx
            .event(
                &session.site,
                Some(session.id),
                EventLevel::Warning,
                format!(
                    "fix not verified after session #{}: {} still failing",
                    session.id,
                    still_failing
                        .iter()
                        .map(|(i, _, _)| i.service.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .await;
        Recheck::StillFailing { handoff }
    }

    /// Records what a worker found on its host; new problems become events naming
    /// the file and line.
    pub async fn inventory_report(&self, site: &SiteName, worker_id: &str, json: &str) {
        let inventory: serde_json::Value = match serde_json::from_str(json) {
            Ok(value) => value,
            Err(error) => {
                tracing::warn!(%error, worker = worker_id, "ignored an unreadable inventory report");
                return;
            }
        };
        let previous = self
            .ctx
            .store
            .inventories(site)
            .await
            .unwrap_or_default()
            .into_iter()
            .find(|r| r.worker_id == worker_id);
        let before: HashSet<String> = previous
            .as_ref()
            .map(|r| problems(&r.inventory).into_iter().collect())
            .unwrap_or_default();
        let record = InventoryRecord {
            site: site.clone(),
            worker_id: worker_id.to_owned(),
            inventory,
            reported_at_ms: now_ms(),
        };
        if let Err(error) = self.ctx.store.put_inventory(&record).await {
            tracing::error!(%error, worker = worker_id, "could not store an inventory report");
            return;
        }
        for problem in problems(&record.inventory) {
            if !before.contains(&problem) {
                self.ctx
                    .event(site, None, EventLevel::Warning, problem)
                    .await;
            }
        }
    }
}

/// The problems of an inventory report, one line each ("path:line: message").
pub fn problems(inventory: &serde_json::Value) -> Vec<String> {
    let Some(list) = inventory.get("problems").and_then(|p| p.as_array()) else {
        return Vec::new();
    };
    list.iter()
        .map(|p| {
            let path = p.get("path").and_then(|v| v.as_str()).unwrap_or("?");
            let message = p.get("message").and_then(|v| v.as_str()).unwrap_or("");
            match p.get("line").and_then(serde_json::Value::as_u64) {
                Some(line) => format!("{path}:{line}: {message}"),
                None => format!("{path}: {message}"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(probe: &str, message: &str, evidence: &str) -> ProbeAttempt {
        ProbeAttempt {
            probe: probe.to_owned(),
            service: "web".to_owned(),
            kind: "http".to_owned(),
            ok: false,
            latency_ms: 3,
            message: message.to_owned(),
            evidence: evidence.to_owned(),
            at_ms: 1,
            state: ProbeState::Down,
        }
    }

    #[test]
    fn evidence_lists_each_probe_and_is_bounded() {
        let a = attempt(
            "web-http",
            "status 502, expected 200",
            "<html>bad gateway</html>",
        );
        let b = attempt("web-tcp", "connection refused", "");
        let text = evidence(&[&a, &b]);
        assert!(text.contains("- probe web-http (http): status 502, expected 200"));
        assert!(text.contains("  <html>bad gateway</html>"));
        assert!(text.contains("- probe web-tcp (http): connection refused"));
        let huge = attempt("big", "x", &"é".repeat(10_000));
        let text = evidence(&[&huge]);
        assert!(text.len() <= EVIDENCE_LIMIT + 20, "{}", text.len());
        assert!(text.ends_with("[... cut]\n"));
    }

    #[test]
    fn handoff_carries_evidence_and_facts() {
        let incident = Incident {
            id: 7,
            site: SiteName::new("home").unwrap_or_else(|e| panic!("{e}")),
            service: "sonarr".to_owned(),
            status: IncidentStatus::Open,
            probes: vec!["sonarr-health".to_owned()],
            evidence: "- probe sonarr-health (http): status 503\n".to_owned(),
            opened_at_ms: 1,
            resolved_at_ms: None,
            resolution: None,
            session_id: None,
        };
        let inventory = InventoryRecord {
            site: incident.site.clone(),
            worker_id: "w1".to_owned(),
            inventory: serde_json::json!({"services": [{"name": "sonarr", "image": "linuxserver/sonarr"}, {"image": "nameless"}]}),
            reported_at_ms: 1,
        };
        let facts = service_facts(&[inventory]);
        assert_eq!(facts.len(), 1);
        let text = incident_handoff(&[incident], &facts, &Graph::default());
        assert!(text.contains("## Incident #7: service sonarr is down (probes: sonarr-health)"));
        assert!(text.contains("status 503"));
        assert!(text.contains("linuxserver/sonarr"));
        assert!(text.contains("re-runs the failing probes"));
    }

    #[test]
    fn problems_name_file_and_line() {
        let inventory = serde_json::json!({"problems": [
            {"path": "repo/.claude-ops/probes/a.yaml", "line": 4, "message": "unknown field `urll`"},
            {"path": "repo/.claude-ops/mcp.json", "message": "expected an object"},
        ]});
        assert_eq!(
            problems(&inventory),
            vec![
                "repo/.claude-ops/probes/a.yaml:4: unknown field `urll`".to_owned(),
                "repo/.claude-ops/mcp.json: expected an object".to_owned(),
            ]
        );
        assert!(problems(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn reprobe_answers_complete_when_every_worker_answered() {
        let tracker = IncidentTracker::default();
        let (id, mut rx) = tracker.register(2);
        let result = |probe: &str| ReprobeResult {
            request_id: id,
            attempts: vec![ProbeAttempt {
                probe: probe.to_owned(),
                service: "svc".to_owned(),
                kind: "http".to_owned(),
                ok: true,
                latency_ms: 1,
                message: String::new(),
                evidence: String::new(),
                at_ms: 1,
                state: ProbeState::Up,
            }],
            unknown: vec!["other".to_owned()],
        };
        tracker.answer(result("a"));
        assert!(rx.try_recv().is_err(), "one of two workers answered");
        tracker.answer(result("b"));
        let (attempts, unknown) = rx.try_recv().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[0].state, ProbeState::Up);
        assert_eq!(unknown.len(), 2);
        tracker.answer(result("late"));
    }
}
