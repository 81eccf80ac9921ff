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
        } else if session.structured.is_none() {
            self.record_markers(session).await;
        }
        let limits = ChainLimits {
            max_tier: self.ctx.runtime.site(&session.site).max_tier(),
            max_chain_cost_usd: self.ctx.runtime.global().max_chain_cost_usd,
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
        let cap = self.ctx.runtime.global().max_chain_cost_usd;
        let over_budget = cap > 0.0 && self.sessions.chain_cost(session).await >= cap;
        match session.tier.next() {
            Some(tier)
                if tier <= self.ctx.runtime.site(&session.site).max_tier() && !over_budget =>
            {
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

    /// The model's text of a session, in order: every text block of its stored
    /// output, then the final result when it is not the last block again.
    async fn model_text(&self, session: &Session) -> String {
        const MAX_LINES: u32 = 20_000;
        let mut texts: Vec<String> = Vec::new();
        let mut after = 0;
        let mut read = 0;
        while read < MAX_LINES {
            let page = match self.ctx.store.output(session.id, after, 1000).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, session = session.id, "could not read output for markers");
                    break;
                }
            };
            let Some(last) = page.last() else { break };
            after = last.seq;
            read += u32::try_from(page.len()).unwrap_or(MAX_LINES);
            for line in page.iter().filter(|l| !l.malformed) {
                for event in claudeops_core::stream::parse_line(&line.line).unwrap_or_default() {
                    if let claudeops_core::stream::StreamEvent::Text { text } = event {
                        texts.push(text);
                    }
                }
            }
        }
        if let Some(result) = &session.response
            && texts.last() != Some(result)
        {
            texts.push(result.clone());
        }
        texts.join("\n")
    }

    /// No structured response: the original's `[EVENT:...]`, `[MEMORY:...]` and
    /// `[COOLDOWN:...]` markers in the model's text are recorded instead. A
    /// cooldown marker is the model's word, so it becomes an event, never a
    /// ledger entry: the ledger counts only actions the worker carried out.
    async fn record_markers(&self, session: &Session) {
        let markers = claudeops_core::markers::parse(&self.model_text(session).await);
        if markers.is_empty() {
            return;
        }
        let store = &self.ctx.store;
        let said = markers
            .events
            .iter()
            .map(|e| (e.level, e.service.clone(), e.message.clone()));
        let actions = markers.cooldowns.iter().map(|c| {
            let (level, outcome) = if c.success {
                (EventLevel::Info, "succeeded")
            } else {
                (EventLevel::Warning, "failed")
            };
            let message = format!(
                "the agent reported that a {} of {} {outcome}: {}",
                c.action_type, c.service, c.message
            );
            (level, Some(c.service.clone()), message)
        });
        for (level, service, message) in said.chain(actions) {
            let event = NewEvent {
                ts_ms: now_ms(),
                site: session.site.clone(),
                session_id: Some(session.id),
                level,
                service,
                message,
            };
            if let Err(error) = store.insert_event(&event).await {
                tracing::error!(%error, "could not record an event from a marker");
            }
        }
        for m in &markers.memories {
            if let Err(error) = store
                .remember(
                    &session.site,
                    &m.key(),
                    &m.observation,
                    Some(session.id),
                    now_ms(),
                )
                .await
            {
                tracing::warn!(%error, key = %m.key(), "a memory from a marker was not kept");
            }
        }
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
