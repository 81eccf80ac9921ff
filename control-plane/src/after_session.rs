//! What follows a finished session: the one consumer of [`Fact::SessionEnded`].
//!
//! It validates the structured response, records its events and memories, asks
//! [`escalation::decide`] (pure) what comes next, and applies the answer: the next
//! tier through [`Sessions::start`], verification of the chain's incidents through
//! [`Incidents::verify`], or "needs human attention" through [`Notifications`].
//! Sessions publish the fact and return, so nothing here runs inside a session's
//! `finish`, and `start` is not recursive. It must not change a session's record
//! itself: only `Sessions` does.

use std::sync::Arc;
use tracing::Instrument;

use claudeops_core::event::{EventLevel, NewEvent};
use claudeops_core::{Session, SessionStatus, Tier, Trigger};
use claudeops_store::IncidentFilter;

use crate::clock::now_ms;
use crate::context::{Context, Fact, FactsReceiver};
use crate::escalation::{self, AgentResponse, Cause, ChainLimits, Next, ResponseValidator};
use crate::incidents::{Incidents, Recheck};
use crate::notifications::Notifications;
use crate::sessions::{Sessions, StartError, StartRequest};
use crate::telemetry::{self, ChainEnd};
use claudeops_telemetry::{TraceContext, names};
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[derive(Clone)]
pub struct AfterSession {
    pub ctx: Context,
    pub sessions: Sessions,
    pub incidents: Incidents,
    pub notifications: Notifications,
    pub validator: Arc<ResponseValidator>,
}

impl AfterSession {
    /// Acts on facts until the bus closes. Each ended session is handled in its
    /// own task: a verification waits for workers and must not hold up others.
    pub async fn run(self, mut facts: FactsReceiver) {
        while let Some(fact) = facts.recv().await {
            match fact {
                Fact::SessionEnded { session } => {
                    let this = self.clone();
                    // What follows a session logs with its session, site and tier.
                    let span = tracing::info_span!(
                        "after_session",
                        session = session.id,
                        site = %session.site,
                        tier = %session.tier
                    );
                    // In the chain's trace, under the session that ended.
                    if let Some(parent) = session
                        .trace
                        .as_ref()
                        .and_then(|t| TraceContext::parse(&t.traceparent).ok())
                    {
                        let _ = span.set_parent(parent.as_remote_parent());
                    }
                    tokio::spawn(
                        async move { this.session_ended(&session).await }.instrument(span),
                    );
                }
            }
        }
    }

    /// Validates the response, records its events and memories, and decides in
    /// code what follows: nothing, the next tier, or a human.
    pub async fn session_ended(&self, session: &Session) {
        if let Some(end) = self.follow(session).await {
            let chain = self.sessions.chain(session).await;
            // The incidents the chain was started for, named on its root span.
            let incidents = match chain.last() {
                Some(first) if session.trace.is_some() => {
                    let filter = IncidentFilter {
                        session_id: Some(first.id),
                        limit: 100,
                        ..IncidentFilter::default()
                    };
                    self.incidents.list(&filter).await.unwrap_or_default()
                }
                _ => Vec::new(),
            };
            let ids: Vec<i64> = incidents.iter().map(|i| i.id).collect();
            telemetry::chain_ended(&chain, &ids, end, now_ms());
        }
    }

    /// What follows one session; `Some` with how the chain ended when no
    /// session follows.
    async fn follow(&self, session: &Session) -> Option<ChainEnd> {
        if session.status == SessionStatus::Stopped {
            return Some(ChainEnd::Stopped); // The operator stopped it; they know.
        }
        let response = self.validator.validate(session.structured.as_ref());
        if let Ok(response) = &response {
            self.record_response(session, response).await;
        }
        let limits = ChainLimits {
            max_tier: self.ctx.config.max_tier(),
            max_chain_cost_usd: self.ctx.config.max_chain_cost_usd,
        };
        let chain_cost = self.sessions.chain_cost(session).await;
        match escalation::decide(session, &response, chain_cost, limits) {
            Next::Done => self.verify(session).await,
            Next::NeedsHuman { cause, reason } => self.needs_human(session, cause, &reason).await,
            Next::Escalate { tier, handoff } => self.escalate(session, tier, handoff).await,
        }
    }

    /// After a chain started for incidents: the probes say whether it worked.
    async fn verify(&self, session: &Session) -> Option<ChainEnd> {
        let span = tracing::info_span!("verify", site = %session.site);
        let recheck = self
            .incidents
            .verify(session)
            .instrument(span.clone())
            .await;
        span.set_attribute("claudeops.recheck", recheck.label());
        drop(span);
        match recheck {
            Recheck::NothingToVerify => Some(ChainEnd::Done),
            Recheck::Fixed => Some(ChainEnd::Verified),
            // The incident stays open until its alert resolves and the probes agree.
            Recheck::AwaitingAlert => Some(ChainEnd::Done),
            Recheck::Unverified { reason } => {
                let reason = format!("the fix could not be verified: {reason}");
                self.needs_human(session, Cause::NotVerified, &reason).await
            }
            Recheck::StillFailing { handoff } => {
                self.escalate_or_human(
                    session,
                    Cause::NotVerified,
                    handoff,
                    "the fix was not verified by the probes",
                )
                .await
            }
        }
    }

    /// `None` when the next tier started (the chain goes on).
    async fn escalate(&self, session: &Session, tier: Tier, handoff: String) -> Option<ChainEnd> {
        let request = StartRequest {
            site: session.site.clone(),
            tier,
            trigger: Trigger::Escalation,
            prompt: session.prompt.clone(),
            handoff: Some(handoff),
            parent_id: Some(session.id),
        };
        match self.sessions.start(request).await {
            Ok(child) => {
                let message = format!(
                    "session #{} escalated to tier {tier} (session #{})",
                    session.id, child.id
                );
                self.ctx
                    .event(
                        &session.site,
                        Some(session.id),
                        EventLevel::Warning,
                        message,
                    )
                    .await;
                self.notifications.escalated(session, &child);
                metrics::counter!(
                    names::ESCALATIONS,
                    "site" => session.site.to_string(),
                    "tier" => tier.number().to_string(),
                )
                .increment(1);
                None
            }
            // Dry run already recorded what would have run.
            Err(StartError::DryRun(_)) => Some(ChainEnd::Done),
            Err(error) => {
                let reason = format!("tier {tier} could not start: {error}");
                self.needs_human(session, Cause::SessionFailed, &reason)
                    .await
            }
        }
    }

    /// Escalates to the next tier when the chain may go further (max tier, chain
    /// cost cap); otherwise a human is needed.
    async fn escalate_or_human(
        &self,
        session: &Session,
        cause: Cause,
        handoff: String,
        why: &str,
    ) -> Option<ChainEnd> {
        let cap = self.ctx.config.max_chain_cost_usd;
        let over_budget = cap > 0.0 && self.sessions.chain_cost(session).await >= cap;
        match session.tier.next() {
            Some(tier) if tier <= self.ctx.config.max_tier() && !over_budget => {
                self.escalate(session, tier, handoff).await
            }
            _ => {
                let (cause, limit) = if over_budget {
                    (Cause::CostCap, "the chain hit its cost cap")
                } else {
                    (cause, "no higher tier may run")
                };
                self.needs_human(session, cause, &format!("{why}, and {limit}"))
                    .await
            }
        }
    }

    async fn needs_human(&self, session: &Session, cause: Cause, reason: &str) -> Option<ChainEnd> {
        tracing::warn!(session = session.id, site = %session.site, reason, "needs human attention");
        metrics::counter!(names::NEEDS_HUMAN, "site" => session.site.to_string()).increment(1);
        self.notifications
            .session_needs_human(session, cause, reason);
        self.ctx
            .event(
                &session.site,
                Some(session.id),
                EventLevel::Critical,
                format!("needs human attention: {reason}"),
            )
            .await;
        Some(ChainEnd::NeedsHuman)
    }

    async fn record_response(&self, session: &Session, response: &AgentResponse) {
        let store = &self.ctx.store;
        for e in &response.events {
            let event = NewEvent {
                ts_ms: now_ms(),
                site: session.site.clone(),
                session_id: Some(session.id),
                level: e.level.parse().unwrap_or(EventLevel::Info),
                service: e.service.clone(),
                message: e.message.clone(),
            };
            if let Err(error) = store.insert_event(&event).await {
                tracing::error!(%error, "could not record an event from a response");
            }
        }
        for m in &response.memories {
            if let Err(error) = store
                .remember(&session.site, &m.key, &m.value, Some(session.id), now_ms())
                .await
            {
                tracing::warn!(%error, key = %m.key, "a memory from the response was not kept");
            }
        }
    }
}
