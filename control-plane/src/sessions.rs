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
use crate::run_logs::RunLogs;
use crate::telemetry;

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
    #[error("the control plane is shutting down: no new session starts")]
    ShuttingDown,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How long a worker has to confirm a job before it goes to another worker of
/// the site (or the session fails with the reason). Three heartbeats: a link
/// that cannot carry a confirmation in that time is dead anyway.
pub const CONFIRM_WITHIN: std::time::Duration = std::time::Duration::from_secs(15);

/// On shutdown, how long stopped sessions have to report their end.
const DRAIN_REPORTS: std::time::Duration = std::time::Duration::from_secs(10);

/// A job sent to a worker and not yet confirmed by it.
struct Dispatch {
    worker_id: String,
    /// The workers the job was sent to before, and did not reach.
    tried: Vec<String>,
    job: Job,
    site: SiteName,
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
    /// The run logs' writer.
    run_logs: RunLogs,
    /// Jobs sent and not yet confirmed: given to another worker of the site
    /// if their worker's link dies first or they stay unconfirmed for
    /// [`CONFIRM_WITHIN`].
    dispatched: Arc<Mutex<HashMap<SessionId, Dispatch>>>,
    /// Set on shutdown: no new session starts.
    draining: Arc<std::sync::atomic::AtomicBool>,
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
            dispatched: Arc::default(),
            draining: Arc::default(),
            run_logs: RunLogs::off(),
        }
    }

    /// Writes each session's run log (`CLAUDEOPS_RESULTS_DIR`) through `logs`.
    pub fn with_run_logs(mut self, logs: RunLogs) -> Sessions {
        self.run_logs = logs;
        self
    }

    /// Shuts down: no new session starts; those running may finish for
    /// `grace`, then are stopped. Returns once none runs, or (with the ones
    /// left) when stopped sessions did not report their end in time.
    pub async fn drain(&self, grace: std::time::Duration) -> Vec<SessionId> {
        use std::sync::atomic::Ordering;
        self.draining.store(true, Ordering::SeqCst);
        let running = self.wait_none_running(grace).await;
        if running.is_empty() {
            return running;
        }
        tracing::warn!(sessions = ?running, "stopping sessions: the shutdown grace is over");
        for id in &running {
            let reason = "the control plane is shutting down (CLAUDEOPS_SHUTDOWN_GRACE is over)";
            if let Err(error) = self.stop(*id, reason).await {
                tracing::error!(%error, session = id, "could not stop a session on shutdown");
            }
        }
        self.wait_none_running(DRAIN_REPORTS).await
    }

    /// Whether this control plane is shutting down.
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits up to `limit` for no session to run; the ones still running.
    async fn wait_none_running(&self, limit: std::time::Duration) -> Vec<SessionId> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let running: Vec<SessionId> = match self.ctx.store.running_sessions().await {
                Ok(running) => running.iter().map(|s| s.id).collect(),
                Err(error) => {
                    tracing::error!(%error, "cannot read running sessions while shutting down");
                    return Vec::new();
                }
            };
            if running.is_empty() || tokio::time::Instant::now() >= deadline {
                return running;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    fn dispatched(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Dispatch>> {
        self.dispatched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn stopping(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, String>> {
        self.stopping.lock().unwrap_or_else(PoisonError::into_inner)
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
        if self.draining.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StartError::ShuttingDown);
        }
        let config = self.ctx.runtime.site(&req.site);
        let max = config.max_tier();
        if req.tier > max {
            return Err(StartError::AboveMaxTier {
                tier: req.tier,
                max,
            });
        }
        if config.dry_run && req.tier > Tier::Observe {
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
            let cap = self.ctx.runtime.global().max_daily_cost_usd;
            return Err(StartError::DailyCap {
                spent: cap - left,
                cap,
            });
        }
        let parent = match req.parent_id {
            Some(id) => self.ctx.store.get_session(id).await?,
            None => None,
        };
        let (worker_id, tx) = match self.ctx.registry.pick(&req.site, &[]) {
            Pick::Worker(id, tx) => (id, tx),
            Pick::NoWorker => return Err(StartError::NoWorker(req.site.clone())),
            Pick::NoLlm => return Err(StartError::LlmOff(req.site.clone())),
        };
        let session = telemetry::timed(
            "create_session",
            self.ctx.store.create_session(&NewSession {
                site: req.site.clone(),
                worker_id: Some(worker_id.clone()),
                tier: req.tier,
                model: config.model_for(req.tier).to_owned(),
                trigger: req.trigger,
                prompt: req.prompt.clone(),
                parent_id: req.parent_id,
                started_at_ms: now_ms(),
                trace: telemetry::new_session_trace(parent.as_ref()),
            }),
        )
        .await
        .map_err(|e| match e {
            StoreError::SiteBusy { running } => StartError::Busy {
                site: req.site.clone(),
                running,
            },
            other => StartError::Store(other),
        })?;
        tracing::info!(session = session.id, site = %session.site, tier = %session.tier, trigger = %session.trigger, worker = %worker_id, "session started");
        telemetry::session_started(&session);
        self.ctx
            .changes
            .publish(crate::changes::Kind::Session, Some(session.site.as_str()));
        let mut job = self.job(&session, &req);
        // An incident's or alert's handoff carries its own evidence already.
        let incidents = !matches!(session.trigger, Trigger::Incident | Trigger::Webhook);
        job.handoff
            .push_str(&crate::evidence::gather(&self.ctx, &session.site, incidents).await);
        job.memories = self.memories_for(&session.site).await;
        job.daily_left_usd = daily_left_usd;
        let dispatch = Dispatch {
            worker_id,
            tried: Vec::new(),
            job,
            site: session.site.clone(),
        };
        if let Err(why) = self.deliver(session.id, dispatch, tx).await {
            let outcome = failed_outcome(&why);
            return Ok(self.finish(session.id, outcome).await?.unwrap_or(session));
        }
        Ok(session)
    }

    /// Sends a job to its worker and waits (in the background) for the
    /// worker to confirm it; when the send fails, the job goes to the next
    /// worker of the site. `Err` with the whole story when none is left.
    async fn deliver(
        &self,
        id: SessionId,
        mut dispatch: Dispatch,
        mut tx: tokio::sync::mpsc::Sender<ToWorker>,
    ) -> Result<(), String> {
        loop {
            let worker = dispatch.worker_id.clone();
            let job = ToWorker::Run(dispatch.job.clone());
            self.dispatched().insert(id, dispatch);
            if tx.send(job).await.is_ok() {
                let sessions = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(CONFIRM_WITHIN).await;
                    let why = format!(
                        "worker {worker} did not confirm the job within {} s",
                        CONFIRM_WITHIN.as_secs()
                    );
                    sessions.redeliver(id, &worker, &why).await;
                });
                return Ok(());
            }
            let Some(taken) = self.dispatched().remove(&id) else {
                return Ok(()); // Confirmed or ended meanwhile.
            };
            let why = format!("worker {worker}'s link closed before the job could be sent");
            (dispatch, tx) = self.next_worker(id, taken, &why).await?;
        }
    }

    /// The next worker of the site for a job that did not reach `dispatch`'s
    /// worker, recorded as the session's worker.
    async fn next_worker(
        &self,
        id: SessionId,
        mut dispatch: Dispatch,
        why: &str,
    ) -> Result<(Dispatch, tokio::sync::mpsc::Sender<ToWorker>), String> {
        let from = std::mem::take(&mut dispatch.worker_id);
        dispatch.tried.push(from.clone());
        let Pick::Worker(to, tx) = self.ctx.registry.pick(&dispatch.site, &dispatch.tried) else {
            return Err(format!(
                "the job never reached a worker: {why}, and no other worker of site {} can take it",
                dispatch.site
            ));
        };
        self.ctx
            .store
            .set_session_worker(id, &to)
            .await
            .map_err(|e| format!("the job never reached a worker: {why}; moving it failed: {e}"))?;
        tracing::warn!(session = id, %from, %to, reason = why, "job given to another worker");
        self.ctx
            .event(
                &dispatch.site,
                Some(id),
                EventLevel::Warning,
                format!("session #{id} moved from worker {from} to {to}: {why}"),
            )
            .await;
        dispatch.worker_id = to;
        Ok((dispatch, tx))
    }

    /// A job `worker` has not confirmed goes to another worker of the site, or
    /// its session fails with the reason. A no-op once confirmed or moved.
    /// (Boxed: it sends the job again, which waits for the confirmation by
    /// calling this.)
    fn redeliver<'a>(
        &'a self,
        id: SessionId,
        worker: &'a str,
        why: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(self.redeliver_now(id, worker, why))
    }

    async fn redeliver_now(&self, id: SessionId, worker: &str, why: &str) {
        let taken = {
            let mut dispatched = self.dispatched();
            match dispatched.get(&id) {
                Some(d) if d.worker_id == worker => dispatched.remove(&id),
                _ => None,
            }
        };
        let Some(dispatch) = taken else {
            return;
        };
        let result = match self.next_worker(id, dispatch, why).await {
            Ok((dispatch, tx)) => self.deliver(id, dispatch, tx).await,
            Err(why) => Err(why),
        };
        if let Err(why) = result
            && let Err(error) = self.finish(id, failed_outcome(&why)).await
        {
            tracing::error!(%error, session = id, "could not end a session whose job was lost");
        }
    }

    /// The worker holds the session's job: it counts as started. (Also
    /// after a restart of this control plane, when nothing waits in memory:
    /// the worker's hello confirms what it holds.)
    pub async fn confirmed(&self, worker_id: &str, id: SessionId) {
        let waited = {
            let mut dispatched = self.dispatched();
            match dispatched.get(&id) {
                Some(d) if d.worker_id == worker_id => dispatched.remove(&id).is_some(),
                // Sent to another worker since: not this one's to confirm.
                Some(_) => return,
                None => false,
            }
        };
        if !waited {
            let session = self.ctx.store.get_session(id).await.ok().flatten();
            if session.is_none_or(|s| s.worker_id.as_deref() != Some(worker_id)) {
                return;
            }
        }
        if let Err(error) = self.ctx.store.confirm_session(id, now_ms()).await {
            tracing::warn!(%error, session = id, "could not record a job's confirmation");
        }
    }

    /// A worker's link is gone: the jobs it never confirmed go elsewhere now,
    /// rather than wait for the confirmation deadline.
    pub async fn link_lost(&self, worker_id: &str) {
        let lost: Vec<SessionId> = self
            .dispatched()
            .iter()
            .filter(|(_, d)| d.worker_id == worker_id)
            .map(|(id, _)| *id)
            .collect();
        let why = format!("worker {worker_id}'s link was lost before it confirmed the job");
        for id in lost {
            self.redeliver(id, worker_id, &why).await;
        }
    }

    fn job(&self, session: &Session, req: &StartRequest) -> Job {
        let (extra_allowed_tools, extra_disallowed_tools) =
            self.ctx.config.tier_tools(session.tier);
        let config = self.ctx.runtime.site(&session.site);
        Job {
            session_id: session.id,
            tier: session.tier,
            model: session.model.clone(),
            prompt: req.prompt.clone().unwrap_or_default(),
            handoff: req.handoff.clone().unwrap_or_default(),
            trigger: session.trigger,
            max_budget_usd: config.max_session_cost_usd,
            timeout: self.ctx.config.session_timeout,
            dry_run: config.dry_run,
            extra_allowed_tools,
            extra_disallowed_tools,
            memories: String::new(),
            models: Tier::ALL
                .into_iter()
                .filter(|t| *t <= session.tier)
                .map(|t| config.model_for(t).to_owned())
                .collect(),
            daily_left_usd: None,
            traceparent: session.trace.as_ref().map(|t| t.traceparent.clone()),
        }
    }

    /// What is left of the fleet's daily cost cap (the UTC day so far);
    /// `None` when there is no cap.
    async fn daily_left(&self) -> Result<Option<f64>, StoreError> {
        let cap = self.ctx.runtime.global().max_daily_cost_usd;
        if cap <= 0.0 {
            return Ok(None);
        }
        Ok(Some(cap - self.spent_today().await?))
    }

    /// What sessions started today (UTC) cost.
    pub async fn spent_today(&self) -> Result<f64, StoreError> {
        const DAY_MS: i64 = 24 * 60 * 60 * 1000;
        let day_start = now_ms() - now_ms().rem_euclid(DAY_MS);
        self.ctx.store.cost_since(day_start).await
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
        let appended = self.ctx.store.append_output(output.session_id, &rows);
        telemetry::timed("append_output", appended).await?;
        self.run_logs.stored(output.session_id);
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
        if let Some(session) = self.finish(report.session_id, outcome).await? {
            telemetry::tokens(&session.model, &report.metering);
        }
        Ok(Reported::Recorded)
    }

    /// Ends a running session (a no-op if it already ended) and tells viewers.
    pub async fn finish(
        &self,
        id: SessionId,
        outcome: SessionOutcome,
    ) -> Result<Option<Session>, StoreError> {
        let ended = telemetry::timed(
            "finish_session",
            self.ctx.store.finish_session(id, &outcome),
        )
        .await?;
        // Ended (now or before): nothing more to stop, count or deliver.
        self.stopping().remove(&id);
        self.stored().remove(&id);
        self.run_logs.stored(id);
        self.dispatched().remove(&id);
        let Some(session) = ended else {
            return Ok(None);
        };
        tracing::info!(session = id, status = %session.status, cost_usd = session.cost_usd, turns = session.turns, "session ended");
        telemetry::session_ended(&session);
        self.ctx.hub.finish(id, status_view(&session));
        self.ctx
            .changes
            .publish(crate::changes::Kind::Session, Some(session.site.as_str()));
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
        self.stopping().insert(id, reason.to_owned());
        // Recorded too, so that a restart of this control plane still sends it.
        if let Err(error) = self.ctx.store.request_stop(id, reason).await {
            tracing::warn!(%error, session = id, "could not record a stop; it is kept in memory only");
        }
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
    /// reconnect of its worker): from memory, else from the store (a stop
    /// asked before a restart of this control plane).
    pub async fn pending_stop(&self, id: SessionId) -> Option<String> {
        if let Some(reason) = self.stopping().get(&id).cloned() {
            return Some(reason);
        }
        match self.ctx.store.stop_requested(id).await {
            Ok(reason) => reason,
            Err(error) => {
                tracing::warn!(%error, session = id, "could not read a recorded stop");
                None
            }
        }
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
        exit_code: session.exit_code,
        summary: summary(session),
    }
}

/// The structured response's `summary`, when the session gave one.
pub fn summary(session: &Session) -> Option<String> {
    session
        .structured
        .as_ref()
        .and_then(|v| v.get("summary"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}
