//! The life of a session on the control plane: start it on a worker of its site,
//! store and rebroadcast its output, record how it ended, stop it on request.
//!
//! Every path that starts a session (schedule, Run Now, API, later incidents and
//! escalation) goes through [`Sessions::start`], so the one-session-per-site rule,
//! dry run and the tier models hold for all of them.

use std::sync::Arc;

use claudeops_core::event::{EventLevel, NewEvent};
use claudeops_core::memory;
use claudeops_core::{
    NewSession, Session, SessionId, SessionOutcome, SessionStatus, SiteName, Tier, Trigger,
};
use claudeops_proto::v1::{self as pb, ControlMessage, control_message};
use claudeops_store::{MemoryFilter, OutputLine, Store, StoreError};

use crate::config::Config;
use crate::escalation::{self, AgentResponse, Cause, Limits, Next, ResponseValidator};
use crate::hub::{Hub, LineView, StatusView};
use crate::registry::{Pick, Registry};

/// What starts a session.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub site: SiteName,
    pub tier: Tier,
    pub trigger: Trigger,
    pub prompt: Option<String>,
    pub handoff: Option<String>,
    pub parent_id: Option<SessionId>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("site {site} already has a running session (#{running})")]
    Busy { site: SiteName, running: SessionId },
    #[error("no worker of site {0} is connected")]
    NoWorker(SiteName),
    #[error(
        "LLM tiers are off on site {0}: its worker has no ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL)"
    )]
    LlmOff(SiteName),
    #[error("dry run is on: a tier {0} session would have run, but only tier 1 may run in dry run")]
    DryRun(Tier),
    #[error("tier {tier} is above CLAUDEOPS_MAX_TIER ({max})")]
    AboveMaxTier { tier: Tier, max: Tier },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Sessions {
    pub store: Arc<dyn Store>,
    pub registry: Registry,
    pub hub: Hub,
    pub config: Arc<Config>,
    pub validator: Arc<ResponseValidator>,
    pub incidents: crate::incidents::IncidentTracker,
    pub notifier: crate::notifications::Notifications,
}

/// A unix-milliseconds time as a `SystemTime` (before 1970 reads as 1970).
pub fn time_of_ms(ms: i64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Sessions {
    /// Creates the session and sends its job to a worker of the site. Answers at
    /// once; never waits for the session to run.
    pub fn start(
        &self,
        req: StartRequest,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Session, StartError>> + Send + '_>>
    {
        // Boxed with an explicit `Send`: start -> finish -> escalation -> start is a cycle
        // the compiler cannot infer `Send` through.
        Box::pin(self.start_inner(req))
    }

    async fn start_inner(&self, req: StartRequest) -> Result<Session, StartError> {
        let max = self.config.max_tier();
        if req.tier > max {
            return Err(StartError::AboveMaxTier {
                tier: req.tier,
                max,
            });
        }
        if self.config.dry_run && req.tier > Tier::Observe {
            self.event(
                &req.site,
                None,
                EventLevel::Warning,
                format!(
                    "dry run: a tier {} session ({} trigger) would have run{}",
                    req.tier,
                    req.trigger,
                    req.prompt
                        .as_deref()
                        .map(|p| format!(" with the prompt {p:?}"))
                        .unwrap_or_default()
                ),
            )
            .await;
            return Err(StartError::DryRun(req.tier));
        }
        let (worker_id, tx) = match self.registry.pick(&req.site) {
            Pick::Worker(id, tx) => (id, tx),
            Pick::NoWorker => return Err(StartError::NoWorker(req.site.clone())),
            Pick::NoLlm => return Err(StartError::LlmOff(req.site.clone())),
        };
        let session = self
            .store
            .create_session(&NewSession {
                site: req.site.clone(),
                worker_id: Some(worker_id.clone()),
                tier: req.tier,
                model: self.config.model_for(req.tier).to_owned(),
                trigger: req.trigger,
                prompt: req.prompt.clone(),
                parent_id: req.parent_id,
                started_at_ms: now_ms(),
            })
            .await
            .map_err(|e| match e {
                StoreError::SiteBusy { running } => StartError::Busy {
                    site: req.site.clone(),
                    running,
                },
                other => StartError::Store(other),
            })?;
        tracing::info!(session = session.id, site = %session.site, tier = %session.tier, trigger = %session.trigger, worker = %worker_id, "session started");
        let mut run = self.job(&session, &req);
        run.memories = self.memories_for(&session.site).await;
        let job = ControlMessage {
            body: Some(control_message::Body::RunJob(run)),
        };
        if tx.send(job).await.is_err() {
            let outcome = failed_outcome("the worker disconnected before the job could be sent");
            return Ok(self.finish(session.id, outcome).await?.unwrap_or(session));
        }
        Ok(session)
    }

    fn job(&self, session: &Session, req: &StartRequest) -> pb::RunJob {
        let (extra_allowed_tools, extra_disallowed_tools) = self.config.tier_tools(session.tier);
        pb::RunJob {
            session_id: session.id,
            tier: u32::from(session.tier.number()),
            model: session.model.clone(),
            prompt: req.prompt.clone().unwrap_or_default(),
            handoff: req.handoff.clone().unwrap_or_default(),
            trigger: session.trigger.to_string(),
            max_budget_usd: self.config.max_session_cost_usd,
            timeout_secs: u32::try_from(self.config.session_timeout).unwrap_or(u32::MAX),
            dry_run: self.config.dry_run,
            extra_allowed_tools,
            extra_disallowed_tools,
            memories: String::new(),
        }
    }

    /// The site's active memories, rendered within the memory budget.
    async fn memories_for(&self, site: &SiteName) -> String {
        let filter = MemoryFilter {
            site: Some(site.clone()),
            active_only: true,
            limit: 200,
            offset: 0,
        };
        match self.store.list_memories(&filter).await {
            Ok(memories) => memory::render(&memory::select_for_prompt(
                &memories,
                self.config.memory_budget,
            )),
            Err(error) => {
                tracing::warn!(%error, "could not read memories; the session starts without them");
                String::new()
            }
        }
    }

    /// Stores output from a worker and rebroadcasts it. Returns the sequence number
    /// up to which everything is stored, for the acknowledgement.
    pub async fn output(
        &self,
        worker_id: &str,
        output: pb::SessionOutput,
    ) -> Result<Option<i64>, StoreError> {
        if !self.owns(worker_id, output.session_id).await? {
            return Ok(None);
        }
        let views: Vec<LineView> = output
            .lines
            .into_iter()
            .map(|l| LineView::new(l.seq, l.ts_ms, l.line))
            .collect();
        let rows: Vec<OutputLine> = views
            .iter()
            .map(|v| OutputLine {
                seq: v.seq,
                ts_ms: v.ts_ms,
                line: v.raw.clone(),
                malformed: v.malformed,
            })
            .collect();
        let upto = rows.iter().map(|r| r.seq).max();
        self.store.append_output(output.session_id, &rows).await?;
        self.hub.publish_lines(output.session_id, views);
        Ok(upto)
    }

    /// Records a worker's report that a session ended.
    pub async fn finished(
        &self,
        worker_id: &str,
        finished: pb::SessionFinished,
    ) -> Result<(), StoreError> {
        if !self.owns(worker_id, finished.session_id).await? {
            return Ok(());
        }
        let status = match pb::FinishStatus::try_from(finished.status) {
            Ok(pb::FinishStatus::Completed) => SessionStatus::Completed,
            Ok(pb::FinishStatus::TimedOut) => SessionStatus::TimedOut,
            Ok(pb::FinishStatus::Stopped) => SessionStatus::Stopped,
            _ => SessionStatus::Failed,
        };
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        let structured = non_empty(finished.structured_output_json)
            .and_then(|json| serde_json::from_str(&json).ok());
        let outcome = SessionOutcome {
            status,
            ended_at_ms: if finished.ended_at_ms > 0 {
                finished.ended_at_ms
            } else {
                now_ms()
            },
            cost_usd: finished.cost_usd,
            turns: finished.turns,
            exit_code: finished.exit_code,
            response: non_empty(finished.result),
            structured,
            error: non_empty(finished.error),
        };
        self.finish(finished.session_id, outcome).await?;
        Ok(())
    }

    /// Ends a running session (a no-op if it already ended) and tells viewers.
    pub async fn finish(
        &self,
        id: SessionId,
        outcome: SessionOutcome,
    ) -> Result<Option<Session>, StoreError> {
        let Some(session) = self.store.finish_session(id, &outcome).await? else {
            return Ok(None);
        };
        tracing::info!(session = id, status = %session.status, cost_usd = session.cost_usd, turns = session.turns, "session ended");
        self.hub.finish(id, status_view(&session));
        let this = self.clone();
        let ended = session.clone();
        tokio::spawn(async move { this.after_finish(&ended).await });
        if session.status != SessionStatus::Completed {
            let level = if session.status == SessionStatus::Stopped {
                EventLevel::Info
            } else {
                EventLevel::Warning
            };
            let reason = session
                .error
                .clone()
                .unwrap_or_else(|| session.status.to_string());
            self.event(
                &session.site,
                Some(id),
                level,
                format!("session #{id} {}: {reason}", session.status),
            )
            .await;
        }
        Ok(Some(session))
    }

    /// Validates the response, records its events and memories, and decides in
    /// code what follows: nothing, the next tier, or a human.
    async fn after_finish(&self, session: &Session) {
        if session.status == SessionStatus::Stopped {
            return; // The operator stopped it; they know.
        }
        let response = self.validator.validate(session.structured.as_ref());
        if let Ok(response) = &response {
            self.record_response(session, response).await;
        }
        let limits = Limits {
            max_tier: self.config.max_tier(),
            max_chain_cost_usd: self.config.max_chain_cost_usd,
        };
        let chain_cost = self.chain_cost(session).await;
        match escalation::decide(session, &response, chain_cost, limits) {
            Next::Done => self.verify_incidents(session).await,
            Next::NeedsHuman { cause, reason } => self.needs_human(session, cause, &reason).await,
            Next::Escalate { tier, handoff } => self.escalate(session, tier, handoff).await,
        }
    }

    async fn escalate(&self, session: &Session, tier: Tier, handoff: String) {
        let request = StartRequest {
            site: session.site.clone(),
            tier,
            trigger: Trigger::Escalation,
            prompt: session.prompt.clone(),
            handoff: Some(handoff),
            parent_id: Some(session.id),
        };
        match self.start(request).await {
            Ok(child) => {
                let message = format!(
                    "session #{} escalated to tier {tier} (session #{})",
                    session.id, child.id
                );
                self.event(
                    &session.site,
                    Some(session.id),
                    EventLevel::Warning,
                    message,
                )
                .await;
                self.notify_escalated(session, &child);
            }
            // Dry run already recorded what would have run.
            Err(StartError::DryRun(_)) => {}
            Err(error) => {
                let reason = format!("tier {tier} could not start: {error}");
                self.needs_human(session, Cause::SessionFailed, &reason)
                    .await;
            }
        }
    }

    /// Escalates to the next tier when the chain may go further (max tier, chain
    /// cost cap); otherwise a human is needed.
    pub(crate) async fn escalate_or_human(
        &self,
        session: &Session,
        cause: Cause,
        handoff: String,
        why: &str,
    ) {
        let cap = self.config.max_chain_cost_usd;
        let over_budget = cap > 0.0 && self.chain_cost(session).await >= cap;
        match session.tier.next() {
            Some(tier) if tier <= self.config.max_tier() && !over_budget => {
                self.escalate(session, tier, handoff).await;
            }
            _ => {
                let (cause, limit) = if over_budget {
                    (Cause::CostCap, "the chain hit its cost cap")
                } else {
                    (cause, "no higher tier may run")
                };
                self.needs_human(session, cause, &format!("{why}, and {limit}"))
                    .await;
            }
        }
    }

    pub(crate) async fn needs_human(&self, session: &Session, cause: Cause, reason: &str) {
        tracing::warn!(session = session.id, site = %session.site, reason, "needs human attention");
        self.notify_session_needs_human(session, cause, reason);
        self.event(
            &session.site,
            Some(session.id),
            EventLevel::Critical,
            format!("needs human attention: {reason}"),
        )
        .await;
    }

    /// The session and the sessions it escalated from, newest first (at most 16
    /// earlier hops).
    pub async fn chain(&self, session: &Session) -> Vec<Session> {
        let mut chain = vec![session.clone()];
        let mut parent = session.parent_id;
        while let (Some(id), true) = (parent, chain.len() <= 16) {
            match self.store.get_session(id).await {
                Ok(Some(p)) => {
                    parent = p.parent_id;
                    chain.push(p);
                }
                _ => break,
            }
        }
        chain
    }

    /// The cost of the escalation chain ending at `session`.
    pub async fn chain_cost(&self, session: &Session) -> f64 {
        self.chain(session).await.iter().map(|s| s.cost_usd).sum()
    }

    async fn record_response(&self, session: &Session, response: &AgentResponse) {
        for e in &response.events {
            let event = NewEvent {
                ts_ms: now_ms(),
                site: session.site.clone(),
                session_id: Some(session.id),
                level: e.level.parse().unwrap_or(EventLevel::Info),
                service: e.service.clone(),
                message: e.message.clone(),
            };
            if let Err(error) = self.store.insert_event(&event).await {
                tracing::error!(%error, "could not record an event from a response");
            }
        }
        for m in &response.memories {
            if let Err(error) = self
                .store
                .remember(&session.site, &m.key, &m.value, Some(session.id), now_ms())
                .await
            {
                tracing::warn!(%error, key = %m.key, "a memory from the response was not kept");
            }
        }
    }

    /// Asks the worker to stop a session; if the worker is gone, ends it here.
    pub async fn stop(&self, id: SessionId, reason: &str) -> Result<Option<Session>, StoreError> {
        let Some(session) = self.store.get_session(id).await? else {
            return Err(StoreError::NotFound);
        };
        if session.status.is_finished() {
            return Ok(Some(session));
        }
        let sender = session
            .worker_id
            .as_deref()
            .and_then(|w| self.registry.sender(w));
        let cancel = ControlMessage {
            body: Some(control_message::Body::CancelJob(pb::CancelJob {
                session_id: id,
                reason: reason.to_owned(),
            })),
        };
        match sender {
            Some(tx) if tx.send(cancel).await.is_ok() => Ok(Some(session)),
            _ => {
                let outcome = SessionOutcome {
                    status: SessionStatus::Stopped,
                    ..failed_outcome(&format!("{reason} (the worker was not connected)"))
                };
                self.finish(id, outcome).await
            }
        }
    }

    /// Only the worker a session was given to may write to it.
    async fn owns(&self, worker_id: &str, session_id: SessionId) -> Result<bool, StoreError> {
        let session = self.store.get_session(session_id).await?;
        let owns = session
            .as_ref()
            .is_some_and(|s| s.worker_id.as_deref() == Some(worker_id));
        if !owns {
            tracing::warn!(
                worker = worker_id,
                session = session_id,
                "ignored output for a session this worker does not run"
            );
        }
        Ok(owns)
    }

    pub async fn event(
        &self,
        site: &SiteName,
        session: Option<SessionId>,
        level: EventLevel,
        message: String,
    ) {
        self.event_for(site, session, level, None, message).await;
    }

    pub async fn event_for(
        &self,
        site: &SiteName,
        session: Option<SessionId>,
        level: EventLevel,
        service: Option<String>,
        message: String,
    ) {
        let event = NewEvent {
            ts_ms: now_ms(),
            site: site.clone(),
            session_id: session,
            level,
            service,
            message,
        };
        if let Err(error) = self.store.insert_event(&event).await {
            tracing::error!(%error, "could not record an event");
        }
    }
}

pub fn failed_outcome(error: &str) -> SessionOutcome {
    SessionOutcome {
        status: SessionStatus::Failed,
        ended_at_ms: now_ms(),
        cost_usd: 0.0,
        turns: 0,
        exit_code: None,
        response: None,
        structured: None,
        error: Some(error.to_owned()),
    }
}

pub fn status_view(session: &Session) -> StatusView {
    StatusView {
        status: session.status.to_string(),
        cost_usd: session.cost_usd,
        turns: session.turns,
        ended_at_ms: session.ended_at_ms,
        error: session.error.clone(),
    }
}
