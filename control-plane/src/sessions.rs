//! The life of a session on the control plane: start it on a worker of its site,
//! store and rebroadcast its output, record how it ended, stop it on request.
//!
//! Every path that starts a session (schedule, Run Now, API, incidents and
//! escalation) goes through [`Sessions::start`], so the one-session-per-site rule,
//! dry run and the tier models hold for all of them. When a session ends, this
//! module publishes [`Fact::SessionEnded`] and is done: what follows (validation,
//! escalation, verification) is `after_session.rs`. It must not know about
//! incidents or notifications.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use claudeops_core::event::EventLevel;
use claudeops_core::link::{Job, OutputBatch, SessionReport, ToWorker};
use claudeops_core::memory;
use claudeops_core::{
    NewSession, Session, SessionId, SessionOutcome, SessionStatus, SiteName, Tier, Trigger,
};
use claudeops_store::{MemoryFilter, OutputLine, SessionFilter, StoreError};

use crate::clock::now_ms;
use crate::context::{Context, Fact};
use crate::hub::{LineView, StatusView, Subscription};
use crate::registry::Pick;

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
        "LLM tiers are off on site {0}: its worker has no ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL), or no working sandbox (the worker's page says why)"
    )]
    LlmOff(SiteName),
    #[error("dry run is on: a tier {0} session would have run, but only tier 1 may run in dry run")]
    DryRun(Tier),
    #[error("tier {tier} is above CLAUDEOPS_MAX_TIER ({max})")]
    AboveMaxTier { tier: Tier, max: Tier },
    #[error(
        "the fleet's daily cost cap is reached: sessions started today cost ${spent:.2} of CLAUDEOPS_MAX_DAILY_COST_USD=${cap:.2}"
    )]
    DailyCap { spent: f64, cap: f64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Starts, follows and ends sessions.
#[derive(Clone)]
pub struct Sessions {
    ctx: Context,
    /// Per session whose output is arriving: how far it is stored without a
    /// hole. A cache of `Store::contiguous_output`, read from the store the
    /// first time a session is seen (after a restart, say).
    stored: Arc<Mutex<HashMap<SessionId, Stored>>>,
    /// Stops asked for and not yet ended, with their reason: sent again
    /// whenever the session's worker reconnects (a stop sent into a link that
    /// was already dead would otherwise be lost).
    stopping: Arc<Mutex<HashMap<SessionId, String>>>,
}

/// The highest seq up to which every line is stored, and the seqs stored
/// above it, waiting for a hole below them to be filled by a replay.
#[derive(Debug, Default)]
struct Stored {
    upto: i64,
    above: BTreeSet<i64>,
}

/// What became of a worker's report that a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// Recorded (or not this worker's to record): acknowledge it.
    Recorded,
    /// Lines above `upto` up to the session's last are missing: not recorded,
    /// so the worker, which keeps them, sends them again first.
    Incomplete { upto: i64, last_seq: i64 },
}

impl Sessions {
    pub fn new(ctx: Context) -> Sessions {
        Sessions {
            ctx,
            stored: Arc::default(),
            stopping: Arc::default(),
        }
    }

    fn stored(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Stored>> {
        self.stored.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes note of lines just stored; returns how far the session's output
    /// is stored without a hole.
    async fn advance(&self, id: SessionId, seqs: &[i64]) -> Result<i64, StoreError> {
        if !self.stored().contains_key(&id) {
            let upto = self.ctx.store.contiguous_output(id).await?;
            self.stored().entry(id).or_insert(Stored {
                upto,
                above: BTreeSet::new(),
            });
        }
        let mut stored = self.stored();
        let w = stored.entry(id).or_default();
        w.above.extend(seqs.iter().copied().filter(|s| *s > w.upto));
        while w.above.remove(&(w.upto + 1)) {
            w.upto += 1;
        }
        Ok(w.upto)
    }

    /// Creates the session and sends its job to a worker of the site. Answers at
    /// once; never waits for the session to run.
    pub async fn start(&self, req: StartRequest) -> Result<Session, StartError> {
        let max = self.ctx.config.max_tier();
        if req.tier > max {
            return Err(StartError::AboveMaxTier {
                tier: req.tier,
                max,
            });
        }
        if self.ctx.config.dry_run && req.tier > Tier::Observe {
            self.ctx
                .event(
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
        let daily_left_usd = self.daily_left().await?;
        if let Some(left) = daily_left_usd.filter(|left| *left <= 0.0) {
            let cap = self.ctx.config.max_daily_cost_usd;
            return Err(StartError::DailyCap {
                spent: cap - left,
                cap,
            });
        }
        let (worker_id, tx) = match self.ctx.registry.pick(&req.site) {
            Pick::Worker(id, tx) => (id, tx),
            Pick::NoWorker => return Err(StartError::NoWorker(req.site.clone())),
            Pick::NoLlm => return Err(StartError::LlmOff(req.site.clone())),
        };
        let session = self
            .ctx
            .store
            .create_session(&NewSession {
                site: req.site.clone(),
                worker_id: Some(worker_id.clone()),
                tier: req.tier,
                model: self.ctx.config.model_for(req.tier).to_owned(),
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
        let mut job = self.job(&session, &req);
        job.memories = self.memories_for(&session.site).await;
        job.daily_left_usd = daily_left_usd;
        if tx.send(ToWorker::Run(job)).await.is_err() {
            let outcome = failed_outcome("the worker disconnected before the job could be sent");
            return Ok(self.finish(session.id, outcome).await?.unwrap_or(session));
        }
        Ok(session)
    }

    fn job(&self, session: &Session, req: &StartRequest) -> Job {
        let (extra_allowed_tools, extra_disallowed_tools) =
            self.ctx.config.tier_tools(session.tier);
        Job {
            session_id: session.id,
            tier: session.tier,
            model: session.model.clone(),
            prompt: req.prompt.clone().unwrap_or_default(),
            handoff: req.handoff.clone().unwrap_or_default(),
            trigger: session.trigger,
            max_budget_usd: self.ctx.config.max_session_cost_usd,
            timeout: self.ctx.config.session_timeout,
            dry_run: self.ctx.config.dry_run,
            extra_allowed_tools,
            extra_disallowed_tools,
            memories: String::new(),
            models: Tier::ALL
                .into_iter()
                .filter(|t| *t <= session.tier)
                .map(|t| self.ctx.config.model_for(t).to_owned())
                .collect(),
            daily_left_usd: None,
        }
    }

    /// What is left of the fleet's daily cost cap (the UTC day so far);
    /// `None` when there is no cap.
    async fn daily_left(&self) -> Result<Option<f64>, StoreError> {
        let cap = self.ctx.config.max_daily_cost_usd;
        if cap <= 0.0 {
            return Ok(None);
        }
        const DAY_MS: i64 = 24 * 60 * 60 * 1000;
        let day_start = now_ms() - now_ms().rem_euclid(DAY_MS);
        let spent = self.ctx.store.cost_since(day_start).await?;
        Ok(Some(cap - spent))
    }

    /// The site's active memories, rendered within the memory budget.
    async fn memories_for(&self, site: &SiteName) -> String {
        let filter = MemoryFilter {
            site: Some(site.clone()),
            active_only: true,
            limit: 200,
            offset: 0,
        };
        match self.ctx.store.list_memories(&filter).await {
            Ok(memories) => memory::render(&memory::select_for_prompt(
                &memories,
                self.ctx.config.memory_budget,
            )),
            Err(error) => {
                tracing::warn!(%error, "could not read memories; the session starts without them");
                String::new()
            }
        }
    }

    /// Stores output from a worker and rebroadcasts it. Returns the sequence number
    /// up to which every line of the session is stored (no hole below it), for
    /// the acknowledgement.
    pub async fn output(
        &self,
        worker_id: &str,
        output: OutputBatch,
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
        self.ctx
            .store
            .append_output(output.session_id, &rows)
            .await?;
        self.ctx.hub.publish_lines(output.session_id, views);
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        // Only what is stored without a hole is acknowledged: the worker keeps
        // everything above it and sends it again after a reconnect.
        Ok(Some(self.advance(output.session_id, &seqs).await?))
    }

    /// Records a worker's report that a session ended.
    pub async fn on_report(
        &self,
        worker_id: &str,
        report: SessionReport,
    ) -> Result<Reported, StoreError> {
        if !self.owns(worker_id, report.session_id).await? {
            return Ok(Reported::Recorded);
        }
        let upto = self.advance(report.session_id, &[]).await?;
        if upto < report.last_seq {
            return Ok(Reported::Incomplete {
                upto,
                last_seq: report.last_seq,
            });
        }
        let outcome = SessionOutcome {
            status: report.status,
            ended_at_ms: report.ended_at_ms.unwrap_or_else(now_ms),
            // The worker's proxy metered every request; the CLI's own figure
            // misses a session it could not finish (a cap, a kill).
            cost_usd: report.cost_usd.max(report.metering.cost_usd),
            turns: report.turns,
            exit_code: report.exit_code,
            response: report.result,
            structured: report.structured,
            error: report.error,
        };
        self.finish(report.session_id, outcome).await?;
        Ok(Reported::Recorded)
    }

    /// Ends a running session (a no-op if it already ended) and tells viewers.
    pub async fn finish(
        &self,
        id: SessionId,
        outcome: SessionOutcome,
    ) -> Result<Option<Session>, StoreError> {
        let ended = self.ctx.store.finish_session(id, &outcome).await?;
        // Ended (now or before): nothing more to stop or to count.
        self.stopping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        self.stored().remove(&id);
        let Some(session) = ended else {
            return Ok(None);
        };
        tracing::info!(session = id, status = %session.status, cost_usd = session.cost_usd, turns = session.turns, "session ended");
        self.ctx.hub.finish(id, status_view(&session));
        self.ctx.facts.publish(Fact::SessionEnded {
            session: session.clone(),
        });
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
            self.ctx
                .event(
                    &session.site,
                    Some(id),
                    level,
                    format!("session #{id} {}: {reason}", session.status),
                )
                .await;
        }
        Ok(Some(session))
    }

    /// The session and the sessions it escalated from, newest first (at most 16
    /// earlier hops).
    pub async fn chain(&self, session: &Session) -> Vec<Session> {
        let mut chain = vec![session.clone()];
        let mut parent = session.parent_id;
        while let (Some(id), true) = (parent, chain.len() <= 16) {
            match self.ctx.store.get_session(id).await {
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

    /// Asks the worker to stop a session; if the worker is gone, ends it here.
    pub async fn stop(&self, id: SessionId, reason: &str) -> Result<Option<Session>, StoreError> {
        let Some(session) = self.ctx.store.get_session(id).await? else {
            return Err(StoreError::NotFound);
        };
        if session.status.is_finished() {
            return Ok(Some(session));
        }
        let sender = session
            .worker_id
            .as_deref()
            .and_then(|w| self.ctx.registry.sender(w));
        let cancel = ToWorker::Cancel {
            session_id: id,
            reason: reason.to_owned(),
        };
        self.stopping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, reason.to_owned());
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

    /// The stop asked for `id` and not yet ended, if any (sent again on every
    /// reconnect of its worker).
    pub fn pending_stop(&self, id: SessionId) -> Option<String> {
        self.stopping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    /// Only the worker a session was given to may write to it.
    async fn owns(&self, worker_id: &str, session_id: SessionId) -> Result<bool, StoreError> {
        let session = self.ctx.store.get_session(session_id).await?;
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

    /// Follows a session's live output and end (nothing is replayed: see `hub`).
    pub fn follow(&self, id: SessionId) -> Subscription {
        self.ctx.hub.subscribe(id)
    }

    /// Sessions, newest first.
    pub async fn list(&self, filter: &SessionFilter) -> Result<Vec<Session>, StoreError> {
        self.ctx.store.list_sessions(filter).await
    }

    pub async fn get(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        self.ctx.store.get_session(id).await
    }

    /// The sessions a session escalated to.
    pub async fn children(&self, id: SessionId) -> Result<Vec<Session>, StoreError> {
        self.ctx.store.child_sessions(id).await
    }

    pub async fn running(&self) -> Result<Vec<Session>, StoreError> {
        self.ctx.store.running_sessions().await
    }

    /// Stored output of a session after `after_seq`, at most `limit` lines.
    pub async fn output_after(
        &self,
        id: SessionId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<OutputLine>, StoreError> {
        self.ctx.store.output(id, after_seq, limit).await
    }

    /// When the last session of a site with this trigger started.
    pub async fn last_started(
        &self,
        site: &SiteName,
        trigger: Trigger,
    ) -> Result<Option<i64>, StoreError> {
        self.ctx.store.last_session_started(site, trigger).await
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
