//! The worker's one long-lived stream to the control plane, and the jobs it runs.
//!
//! One task owns all state: the running jobs and whatever output the control plane
//! has not acknowledged yet. Output survives a lost connection: on reconnect the
//! worker says which jobs it holds and replays everything unacknowledged; sequence
//! numbers make the replay idempotent on the control plane's side.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use claudeops_core::link::{
    ActionDone, FromWorker, Hello, LedgerRequest, Metering, OutputBatch, ReprobeResult, RunningJob,
    SandboxState, SessionReport, StreamLine, ToWorker,
};
use claudeops_core::worker::LLM_CAPABILITY;
use claudeops_core::{SessionStatus, SiteName};
use claudeops_model_proxy::ModelProxy;
use claudeops_proto::v1::{ControlMessage, worker_link_client::WorkerLinkClient};
use claudeops_telemetry::TraceContext;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::config::WorkerConfig;
use crate::dial;
use crate::enclosure::{self, Enclosure};
use crate::enroll::Identity;
use crate::job::{self, Job};
use crate::runner::{self, Finish, FinishStatus, Line};
use crate::sandbox::Sandbox;
use crate::spans::StreamSpans;
use crate::{actions, wire, workspace};

/// Until the control plane's welcome says otherwise.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// A worker dials at least this often while the control plane is away, so it
/// is back within seconds of a long outage's end.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// A link that lasted this long was stable: the next reconnect starts at once.
/// One that died sooner keeps the backoff growing, so a control plane that
/// accepts and then drops the link is not dialled in a tight loop.
const STABLE_LINK: Duration = Duration::from_secs(10);
/// After the shutdown grace: how long stopped sessions have to end and be
/// reported before the worker exits anyway.
const DRAIN_FLUSH: Duration = Duration::from_secs(15);
/// How often a shutting-down worker checks whether it may exit.
/// How often the worker's own metrics go to the control plane (cumulative,
/// so a lost one costs nothing; the first goes at once on every connect).
pub const METRICS_EVERY: Duration = Duration::from_secs(15);
const DRAIN_TICK: Duration = Duration::from_millis(100);
/// Output lines sent in one message at most.
const BATCH: usize = 64;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How the worker is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM or SIGINT: no new jobs; running sessions get
    /// `CLAUDEOPS_SHUTDOWN_GRACE` to finish, then are stopped; every end is
    /// reported before the worker exits.
    Drain,
    /// The control plane that started this worker is gone: stop everything now.
    Now,
}

/// A worker on its way out (see [`Stop`]).
struct Drain {
    /// When sessions still running are stopped.
    stop_at: tokio::time::Instant,
    /// When the worker exits even with ends unreported (the link is down).
    give_up_at: tokio::time::Instant,
    stopped: bool,
}

/// A request from the typed actions (via the action socket) to the owner task.
pub enum LinkCommand {
    /// Ask the control plane's ledger for a slot; the answer is the action id.
    Reserve {
        session_id: i64,
        kind: String,
        service: String,
        args_json: String,
        /// The asking action's trace context.
        traceparent: Option<String>,
        reply: oneshot::Sender<Result<i64, String>>,
    },
    /// Tell the control plane how a granted action ended.
    Finish(ActionDone),
    /// Send if connected, else drop (probe reports: the next one says it again).
    Send(FromWorker),
    /// The latest inventory (JSON): sent now if connected and again on every connect.
    Inventory(String),
}

/// The typed actions' view of the ledger: requests travel over the link.
struct LinkLedger {
    commands: mpsc::Sender<LinkCommand>,
}

#[tonic::async_trait]
impl actions::Ledger for LinkLedger {
    async fn reserve(
        &self,
        session_id: i64,
        kind: &str,
        service: &str,
        args: &serde_json::Value,
    ) -> Result<actions::Reservation, String> {
        let (reply, answer) = oneshot::channel();
        let command = LinkCommand::Reserve {
            session_id,
            kind: kind.to_owned(),
            service: service.to_owned(),
            args_json: args.to_string(),
            traceparent: TraceContext::of(&tracing::Span::current().context())
                .map(|cx| cx.traceparent()),
            reply,
        };
        self.commands
            .send(command)
            .await
            .map_err(|_| "the worker is shutting down; nothing was done".to_owned())?;
        match answer.await {
            Ok(Ok(id)) => Ok(actions::Reservation { id }),
            Ok(Err(reason)) => Err(reason),
            Err(_) => Err("the ledger did not answer; nothing was done".to_owned()),
        }
    }

    async fn finish(&self, reservation_id: i64, ok: bool, result: &str, duration_ms: i64) {
        let finish = ActionDone {
            action_id: reservation_id,
            ok,
            result: result.to_owned(),
            duration_ms,
        };
        let _ = self.commands.send(LinkCommand::Finish(finish)).await;
    }
}

/// What a runner task reports to the owner task.
enum JobEvent {
    Line(i64, Line),
    Done(i64, Box<(Finish, Metering)>),
}

#[derive(Default)]
struct JobState {
    cancel: Option<oneshot::Sender<String>>,
    unacked: VecDeque<Line>,
    last_seq: i64,
    finished: Option<SessionReport>,
}

struct Connection {
    tx: mpsc::Sender<FromWorker>,
    inbound: Streaming<ControlMessage>,
}

pub struct Worker {
    config: WorkerConfig,
    identity: Identity,
    host: String,
    port: u16,
    jobs: BTreeMap<i64, JobState>,
    events_tx: mpsc::Sender<JobEvent>,
    events_rx: mpsc::Receiver<JobEvent>,
    commands_rx: mpsc::Receiver<LinkCommand>,
    pending: HashMap<u64, oneshot::Sender<Result<i64, String>>>,
    next_request: u64,
    unsent_finishes: Vec<ActionDone>,
    dispatcher: Arc<actions::Dispatcher>,
    inventory: Option<String>,
    reprobe_tx: Option<mpsc::Sender<crate::probes::ProbeCommand>>,
    probe_loop: Option<crate::probes::ProbeLoop>,
    sandbox: Arc<Sandbox>,
    proxy: ModelProxy,
    /// As the control plane's welcome asks.
    heartbeat_every: Duration,
    /// How long the next reconnect waits before its first attempt.
    reconnect_wait: Duration,
    drain: Option<Drain>,
    /// Sessions of an earlier run whose processes this one killed at start:
    /// said in the hello until the control plane has welcomed one.
    killed_leftovers: Vec<i64>,
}

impl Worker {
    /// A worker with its sandbox (found once at start, `Sandbox::detect`) and
    /// its model proxy.
    pub fn new(
        config: WorkerConfig,
        identity: Identity,
        endpoint: (String, u16),
        sandbox: Sandbox,
        proxy: ModelProxy,
    ) -> Worker {
        let (host, port) = endpoint;
        // Present from the first metrics report on, before any session runs.
        metrics::gauge!(claudeops_telemetry::names::WORKER_SESSIONS_RUNNING).set(0.0);
        let (events_tx, events_rx) = mpsc::channel(1024);
        let (commands_tx, commands_rx) = mpsc::channel(64);
        let ledger = Arc::new(LinkLedger {
            commands: commands_tx.clone(),
        });
        let mut dispatcher = actions::Dispatcher::new(ledger, actions::Docker::default());
        if let Some(browsers) = crate::browser::Browsers::from_config(&config, &sandbox) {
            dispatcher = dispatcher.with_browsers(Arc::new(browsers));
        }
        let dispatcher = Arc::new(dispatcher);
        let (reprobe_tx, probe_loop) = if config.probes {
            let (tx, rx) = mpsc::channel(16);
            let probe_loop = crate::probes::ProbeLoop::new(&config, commands_tx.clone(), rx);
            (Some(tx), Some(probe_loop))
        } else {
            (None, None)
        };
        Worker {
            config,
            identity,
            host,
            port,
            jobs: BTreeMap::new(),
            events_tx,
            events_rx,
            commands_rx,
            pending: HashMap::new(),
            next_request: 0,
            unsent_finishes: Vec::new(),
            dispatcher,
            inventory: None,
            reprobe_tx,
            probe_loop,
            sandbox: Arc::new(sandbox),
            proxy,
            heartbeat_every: HEARTBEAT,
            reconnect_wait: Duration::ZERO,
            drain: None,
            killed_leftovers: Vec::new(),
        }
    }

    /// Kills what an earlier run of this worker left of its sessions (see
    /// `crate::leftovers`), to be reported in the hello. Before any session runs.
    pub fn sweep_leftovers(mut self) -> Worker {
        let dir = crate::leftovers::groups_dir(&self.config.state_dir);
        for left in crate::leftovers::sweep(&dir) {
            if left.killed {
                tracing::warn!(
                    session = left.session_id,
                    "killed the processes an earlier run of this worker left of a session"
                );
                self.killed_leftovers.push(left.session_id);
            }
        }
        self
    }

    /// Runs until `shutdown` resolves and the shutdown it asks for is done
    /// (see [`Stop`]).
    pub async fn run(mut self, shutdown: impl Future<Output = Stop>) -> anyhow::Result<()> {
        let tls = self.identity.client_tls()?;
        if let Some(probe_loop) = self.probe_loop.take() {
            tokio::spawn(probe_loop.run().in_current_span());
        }
        tokio::pin!(shutdown);
        loop {
            let connecting = connect(
                self.host.clone(),
                self.port,
                tls.clone(),
                self.hello(),
                self.reconnect_wait,
            );
            tokio::pin!(connecting);
            let mut drain_tick = tokio::time::interval(DRAIN_TICK);
            let dialled = loop {
                tokio::select! {
                    dialled = &mut connecting => break dialled,
                    Some(event) = self.events_rx.recv() => self.on_event(event, None).await,
                    Some(command) = self.commands_rx.recv() => self.on_command(command, None).await,
                    stop = &mut shutdown, if self.drain.is_none() => self.begin_drain(stop),
                    _ = drain_tick.tick(), if self.drain.is_some() => {
                        if self.drain_step() {
                            return Ok(());
                        }
                    }
                }
            };
            let conn = match dialled {
                Ok(conn) => conn,
                Err(reason) => {
                    self.cut_off(&reason);
                    self.reconnect_wait = MAX_BACKOFF;
                    continue;
                }
            };
            tracing::info!(host = %self.host, port = self.port, "connected to the control plane");
            let began = tokio::time::Instant::now();
            if self.serve(conn, &mut shutdown).await {
                return Ok(());
            }
            for (_, reply) in self.pending.drain() {
                let _ = reply.send(Err("lost the connection to the control plane before the ledger answered; this needs human attention".to_owned()));
            }
            self.reconnect_wait = if began.elapsed() >= STABLE_LINK {
                Duration::ZERO
            } else {
                (self.reconnect_wait * 2).clamp(MIN_BACKOFF, MAX_BACKOFF)
            };
            tracing::warn!(
                retry_in_ms = self.reconnect_wait.as_millis() as u64,
                "lost the control plane; reconnecting"
            );
        }
    }

    /// The control plane will not take this worker (its certificate was
    /// revoked): nothing it runs may go on.
    fn cut_off(&mut self, reason: &str) {
        let stop = format!("this worker was cut off: {reason}");
        self.stop_running("this worker was cut off", &stop);
    }

    /// Stops every session still running, telling it `reason`; `why` goes
    /// to the log.
    fn stop_running(&mut self, why: &str, reason: &str) {
        for (id, job) in &mut self.jobs {
            if let Some(cancel) = job.cancel.take() {
                tracing::warn!(session = id, %reason, "stopping a session: {why}");
                let _ = cancel.send(reason.to_owned());
            }
        }
    }

    /// Stops taking jobs; running sessions get the grace period (none when
    /// the control plane that started this worker is gone).
    fn begin_drain(&mut self, stop: Stop) {
        let now = tokio::time::Instant::now();
        let (grace, flush) = match stop {
            Stop::Drain => (self.config.shutdown_grace, DRAIN_FLUSH),
            // Nobody to report to: the session group is killed on exit.
            Stop::Now => (Duration::ZERO, Duration::from_secs(2)),
        };
        let running = self.jobs.values().filter(|j| j.finished.is_none()).count();
        tracing::info!(
            running,
            grace_s = grace.as_secs(),
            "shutting down: no new jobs; running sessions may finish within the grace period"
        );
        self.drain = Some(Drain {
            stop_at: now + grace,
            give_up_at: now + grace + flush,
            stopped: false,
        });
    }

    /// Moves a shutdown along: stops what still runs once the grace period
    /// is over. True when the worker may exit: every session's end is
    /// reported and acknowledged, or there is no more time.
    fn drain_step(&mut self) -> bool {
        let Some(drain) = &mut self.drain else {
            return false;
        };
        let now = tokio::time::Instant::now();
        let stop_now = !drain.stopped && now >= drain.stop_at;
        drain.stopped |= stop_now;
        let give_up_at = drain.give_up_at;
        if stop_now {
            self.stop_running(
                "the shutdown grace is over",
                "the worker is shutting down (CLAUDEOPS_SHUTDOWN_GRACE is over)",
            );
        }
        if self.jobs.is_empty() {
            tracing::info!("every session's end is reported; exiting");
            return true;
        }
        if now >= give_up_at {
            let unreported: Vec<i64> = self.jobs.keys().copied().collect();
            tracing::error!(
                sessions = ?unreported,
                "exiting with sessions whose end the control plane has not acknowledged"
            );
            return true;
        }
        false
    }

    fn hello(&self) -> FromWorker {
        let running = self
            .jobs
            .iter()
            .map(|(id, job)| RunningJob {
                session_id: *id,
                last_seq: job.last_seq,
                finished: job.finished.is_some(),
            })
            .collect();
        FromWorker::Hello(Hello {
            site: self.identity.site.to_string(),
            hostname: crate::enroll::hostname(),
            version: VERSION.to_owned(),
            capabilities: capabilities(&self.config, &self.sandbox),
            running,
            sandbox: SandboxState {
                kind: self.sandbox.kind().to_owned(),
                detail: self.sandbox.detail(),
            },
            killed_leftovers: self.killed_leftovers.clone(),
        })
    }

    /// Serves one connection. Returns true when the worker may exit.
    async fn serve(
        &mut self,
        mut conn: Connection,
        shutdown: &mut std::pin::Pin<&mut impl Future<Output = Stop>>,
    ) -> bool {
        if self.replay(&conn.tx).await.is_err() {
            return false;
        }
        let mut heartbeat = tokio::time::interval(self.heartbeat_every);
        let mut drain_tick = tokio::time::interval(DRAIN_TICK);
        let mut metrics_tick = tokio::time::interval(METRICS_EVERY);
        loop {
            if heartbeat.period() != self.heartbeat_every {
                heartbeat = tokio::time::interval(self.heartbeat_every);
            }
            tokio::select! {
                Some(event) = self.events_rx.recv() => self.on_event(event, Some(&conn.tx)).await,
                Some(command) = self.commands_rx.recv() => self.on_command(command, Some(&conn.tx)).await,
                msg = conn.inbound.message() => match msg {
                    Ok(Some(msg)) => match wire::from_control(msg) {
                        Ok(msg) => self.on_control(msg, &conn.tx).await,
                        Err(wire::WireError::BadJob { session_id, reason }) => {
                            self.refuse_job(session_id, reason).await;
                        }
                        Err(error) => tracing::warn!(%error, "ignored a malformed message"),
                    },
                    Ok(None) => return false,
                    Err(status) => {
                        tracing::warn!(error = %status.message(), "control plane stream ended");
                        return false;
                    }
                },
                _ = heartbeat.tick() => {
                    let beat = FromWorker::Heartbeat {
                        sent_at_ms: runner::now_ms(),
                    };
                    if conn.tx.send(beat).await.is_err() {
                        return false;
                    }
                }
                _ = metrics_tick.tick() => {
                    if let Some(handle) = claudeops_telemetry::metrics::installed() {
                        let text = claudeops_telemetry::metrics::render(handle);
                        if conn.tx.send(FromWorker::Metrics(text)).await.is_err() {
                            return false;
                        }
                    }
                }
                stop = &mut *shutdown, if self.drain.is_none() => self.begin_drain(stop),
                _ = drain_tick.tick(), if self.drain.is_some() => {
                    if self.drain_step() {
                        return true;
                    }
                }
            }
        }
    }

    async fn on_command(&mut self, command: LinkCommand, tx: Option<&mpsc::Sender<FromWorker>>) {
        match command {
            LinkCommand::Reserve {
                session_id,
                kind,
                service,
                args_json,
                traceparent,
                reply,
            } => {
                let Some(tx) = tx else {
                    let _ = reply.send(Err("the control plane is unreachable, and remediation needs its cooldown ledger; this needs human attention".to_owned()));
                    return;
                };
                self.next_request += 1;
                let request_id = self.next_request;
                let msg = FromWorker::Reserve(LedgerRequest {
                    request_id,
                    session_id,
                    kind,
                    service,
                    args_json,
                    traceparent,
                });
                if tx.send(msg).await.is_ok() {
                    self.pending.insert(request_id, reply);
                } else {
                    let _ = reply.send(Err(
                        "the connection to the control plane closed; this needs human attention"
                            .to_owned(),
                    ));
                }
            }
            LinkCommand::Finish(finish) => match tx {
                Some(tx) => {
                    let msg = FromWorker::ActionDone(finish.clone());
                    if tx.send(msg).await.is_err() {
                        self.unsent_finishes.push(finish);
                    }
                }
                None => self.unsent_finishes.push(finish),
            },
            LinkCommand::Send(msg) => {
                if let Some(tx) = tx {
                    let _ = tx.send(msg).await;
                }
            }
            LinkCommand::Inventory(json) => {
                if let Some(tx) = tx {
                    let _ = tx.send(FromWorker::Inventory(json.clone())).await;
                }
                self.inventory = Some(json);
            }
        }
    }

    /// Sends everything not yet acknowledged, after the hello.
    async fn replay(&mut self, tx: &mpsc::Sender<FromWorker>) -> Result<(), ()> {
        if let Some(json) = &self.inventory {
            tx.send(FromWorker::Inventory(json.clone()))
                .await
                .map_err(|_| ())?;
        }
        for finish in std::mem::take(&mut self.unsent_finishes) {
            tx.send(FromWorker::ActionDone(finish))
                .await
                .map_err(|_| ())?;
        }
        for (id, job) in &self.jobs {
            let lines: Vec<Line> = job.unacked.iter().cloned().collect();
            for chunk in lines.chunks(BATCH) {
                tx.send(output(*id, chunk)).await.map_err(|_| ())?;
            }
            if let Some(finished) = &job.finished {
                tx.send(FromWorker::Finished(finished.clone()))
                    .await
                    .map_err(|_| ())?;
            }
        }
        Ok(())
    }

    async fn on_event(&mut self, event: JobEvent, tx: Option<&mpsc::Sender<FromWorker>>) {
        match event {
            JobEvent::Line(id, first) => {
                // Batch whatever else is already waiting for the same session.
                let mut lines = vec![first];
                let mut rest = Vec::new();
                while lines.len() < BATCH {
                    match self.events_rx.try_recv() {
                        Ok(JobEvent::Line(other, line)) if other == id => lines.push(line),
                        Ok(other) => {
                            rest.push(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if let Some(job) = self.jobs.get_mut(&id) {
                    job.last_seq = lines.last().map_or(job.last_seq, |l| l.seq);
                    job.unacked.extend(lines.iter().cloned());
                }
                if let Some(tx) = tx {
                    let _ = tx.send(output(id, &lines)).await;
                }
                for event in rest {
                    Box::pin(self.on_event(event, tx)).await;
                }
            }
            JobEvent::Done(id, done) => {
                let (finish, metering) = *done;
                tracing::info!(session = id, status = ?finish.status, "session finished");
                self.dispatcher.unregister(id);
                let finished = report(id, &finish, metering);
                if let Some(job) = self.jobs.get_mut(&id) {
                    job.cancel = None;
                    job.finished = Some(finished.clone());
                }
                if let Some(tx) = tx {
                    let _ = tx.send(FromWorker::Finished(finished)).await;
                }
            }
        }
    }

    async fn on_control(&mut self, msg: ToWorker, tx: &mpsc::Sender<FromWorker>) {
        match msg {
            ToWorker::Welcome {
                worker_id,
                heartbeat_interval,
            } => {
                tracing::info!(worker_id = %worker_id, "welcomed by the control plane");
                // The hello that said them was taken.
                self.killed_leftovers.clear();
                self.heartbeat_every =
                    heartbeat_interval.clamp(Duration::from_secs(1), Duration::from_secs(60));
            }
            ToWorker::Run(job) => {
                let session_id = job.session_id;
                if self.drain.is_some() {
                    let reason = "the worker is shutting down".to_owned();
                    self.refuse_job(session_id, reason).await;
                } else {
                    self.start(job).await;
                }
                // Held (or already refused, which the report says): either
                // way the job reached this worker.
                let _ = tx.send(FromWorker::Accepted { session_id }).await;
            }
            ToWorker::Cancel { session_id, reason } => {
                if let Some(tx) = self.jobs.get_mut(&session_id).and_then(|j| j.cancel.take()) {
                    tracing::info!(session = session_id, reason = %reason, "stopping session");
                    let _ = tx.send(reason);
                }
            }
            ToWorker::LedgerAnswer(answer) => {
                if let Some(reply) = self.pending.remove(&answer.request_id) {
                    let result = if answer.granted {
                        Ok(answer.action_id)
                    } else {
                        Err(answer.reason)
                    };
                    let _ = reply.send(result);
                }
            }
            ToWorker::Ack(ack) => {
                let Some(job) = self.jobs.get_mut(&ack.session_id) else {
                    return;
                };
                while job.unacked.front().is_some_and(|l| l.seq <= ack.upto_seq) {
                    job.unacked.pop_front();
                }
                if ack.finished && job.finished.is_some() {
                    self.jobs.remove(&ack.session_id);
                }
            }
            ToWorker::ProbeSet(set) => {
                if let Some(probes) = &self.reprobe_tx {
                    let _ = probes.send(crate::probes::ProbeCommand::Set(set)).await;
                }
            }
            ToWorker::Reprobe(reprobe) => match &self.reprobe_tx {
                Some(probes) => {
                    let _ = probes
                        .send(crate::probes::ProbeCommand::Reprobe(reprobe))
                        .await;
                }
                None => {
                    // Probes are off here: every name is unknown to this worker.
                    let answer = ReprobeResult {
                        request_id: reprobe.request_id,
                        attempts: Vec::new(),
                        unknown: reprobe.probes,
                    };
                    let _ = tx.send(FromWorker::Reprobed(answer)).await;
                }
            },
        }
    }

    /// A job this worker cannot read ends at once, failed with the reason.
    async fn refuse_job(&mut self, session_id: i64, reason: String) {
        if self.jobs.contains_key(&session_id) {
            return;
        }
        tracing::warn!(session = session_id, %reason, "refused a job");
        self.jobs.insert(session_id, JobState::default());
        let finish = failed_before_start(reason);
        let _ = self
            .events_tx
            .send(JobEvent::Done(
                session_id,
                Box::new((finish, Metering::default())),
            ))
            .await;
    }

    async fn start(&mut self, run: claudeops_core::link::Job) {
        let id = run.session_id;
        if self.jobs.contains_key(&id) {
            return; // A repeated job after a reconnect: already running.
        }
        let (cancel_tx, cancel_rx) = oneshot::channel();
        let (notes_tx, notes_rx) = mpsc::channel::<String>(8);
        self.jobs.insert(
            id,
            JobState {
                cancel: Some(cancel_tx),
                ..JobState::default()
            },
        );
        let job = Job::from(run);
        // Every log line of the session's task carries its session and tier.
        let span = tracing::info_span!("session", session = id, tier = %job.tier);
        if let Some(trace) = &job.trace {
            // The control plane's span of this session is the parent: one trace
            // from the trigger to each tool call.
            let _ = span.set_parent(trace.as_remote_parent());
        }
        span.set_attribute("claudeops.site", self.identity.site.to_string());
        span.set_attribute("claudeops.worker", self.identity.worker_id.clone());
        span.set_attribute("gen_ai.request.model", job.model.clone());
        let ctx = actions::ActionContext {
            tier: job.tier,
            dry_run: job.dry_run,
            repos_dir: self.config.repos_dir.clone(),
            span: span.clone(),
            notes: Some(notes_tx),
        };
        self.dispatcher.register(id, ctx);
        let handler: Arc<dyn actions::ActionHandler> = self.dispatcher.clone();
        let parts = enclosure::Parts {
            config: &self.config,
            sandbox: &self.sandbox,
            proxy: &self.proxy,
            actions: handler,
        };
        let prepared = prepare(&parts, &self.identity.site, &job).await;
        let events = self.events_tx.clone();
        tokio::spawn(
            async move {
                let (finish, metering) = match prepared {
                    Ok((invocation, enclosure)) => {
                        let run = Run {
                            id,
                            invocation,
                            enclosure,
                            cancel: cancel_rx,
                            notes: notes_rx,
                        };
                        run_forwarding(run, events.clone()).await
                    }
                    Err(error) => (failed_before_start(error), Metering::default()),
                };
                let _ = events
                    .send(JobEvent::Done(id, Box::new((finish, metering))))
                    .await;
            }
            .instrument(span),
        );
    }
}

/// One session's CLI run, ready to start.
struct Run {
    id: i64,
    invocation: runner::Invocation,
    enclosure: Enclosure,
    cancel: oneshot::Receiver<String>,
    /// Lines the worker adds to the output while the CLI runs.
    notes: mpsc::Receiver<String>,
}

async fn run_forwarding(run: Run, events: mpsc::Sender<JobEvent>) -> (Finish, Metering) {
    let Run {
        id,
        invocation,
        enclosure,
        cancel,
        notes,
    } = run;
    // A stop from the control plane, or the model proxy's cost cap.
    let (stop_tx, stop_rx) = oneshot::channel::<String>();
    let enclosure = Arc::new(enclosure);
    let watched = enclosure.clone();
    let stopper = tokio::spawn(async move {
        let reason = tokio::select! {
            reason = cancel => reason.unwrap_or_else(|_| "worker shutting down".to_owned()),
            reason = watched.capped() => reason,
        };
        let _ = stop_tx.send(reason);
    });
    let (lines_tx, mut lines_rx) = mpsc::channel::<Line>(256);
    let forward_events = events.clone();
    // The CLI's run, and its model turns and tool calls as its children.
    let cli = tracing::info_span!("cli");
    let cli_trace =
        TraceContext::of(&cli.context()).unwrap_or_else(|| TraceContext::new_root("cli"));
    let mut stream_spans = StreamSpans::new(cli_trace, std::time::SystemTime::now());
    let forward = tokio::spawn(async move {
        while let Some(mut line) = lines_rx.recv().await {
            // Before the line is traced, stored or sent: no known secret in it.
            crate::browser::Redactor::global().redact_in_place(&mut line.text);
            let at = std::time::UNIX_EPOCH
                + Duration::from_millis(u64::try_from(line.ts_ms).unwrap_or(0));
            for span in stream_spans.line(&line.text, at) {
                span.record();
            }
            if forward_events.send(JobEvent::Line(id, line)).await.is_err() {
                break;
            }
        }
        for span in stream_spans.finish(std::time::SystemTime::now()) {
            span.record();
        }
    });
    metrics::gauge!(claudeops_telemetry::names::WORKER_SESSIONS_RUNNING).increment(1.0);
    let mut finish = runner::run_with_notes(invocation, lines_tx, stop_rx, notes)
        .instrument(cli.clone())
        .await;
    metrics::gauge!(claudeops_telemetry::names::WORKER_SESSIONS_RUNNING).decrement(1.0);
    cli.set_attribute("claudeops.status", format!("{:?}", finish.status));
    if let Some(code) = finish.exit_code {
        cli.set_attribute("process.exit.code", i64::from(code));
    }
    drop(cli);
    stopper.abort();
    // Every line is forwarded before the finish, so the order holds on the wire.
    let _ = forward.await;
    let metering = enclosure.metering();
    // What the proxy and the filter counted joins the session's stored output.
    finish.last_seq += 1;
    let line = Line {
        seq: finish.last_seq,
        ts_ms: runner::now_ms(),
        text: metering_line(&metering),
    };
    let _ = events.send(JobEvent::Line(id, line)).await;
    (finish, metering)
}

/// The session's last output line: `{"type": "claudeops_metering", ...}`.
fn metering_line(metering: &Metering) -> String {
    let mut value = serde_json::to_value(metering).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("type".to_owned(), "claudeops_metering".into());
    }
    value.to_string()
}

/// Creates the session's workspace, builds the CLI invocation and encloses it
/// (sandbox, sockets, model token).
async fn prepare(
    parts: &enclosure::Parts<'_>,
    site: &SiteName,
    job: &Job,
) -> Result<(runner::Invocation, Enclosure), String> {
    let config = parts.config;
    let workdir = job::session_dir(&config.state_dir, job.session_id);
    let home = config.state_dir.join("claude-home");
    tokio::fs::create_dir_all(&home)
        .await
        .map_err(|e| format!("cannot create {home:?}: {e}"))?;
    // Files and repo discovery: off the owner task, which must keep the link moving.
    let hook = config.hook_command();
    let socket = enclosure::actions_socket_for_cli(config, parts.sandbox, job.session_id);
    let servers = mcp_servers(config, job, &socket);
    let repos_dir = config.repos_dir.clone();
    let tier = job.tier;
    let ws = tokio::task::spawn_blocking(move || {
        let content = workspace::Content::builtin();
        workspace::prepare(&workdir, tier, &content, &hook, &servers)
            .map(|ws| job::with_repos(&ws, tier, &repos_dir))
            .map_err(|e| format!("cannot prepare the session workspace {workdir:?}: {e}"))
    })
    .await
    .map_err(|e| format!("preparing the session workspace failed: {e}"))??;
    let mut invocation = job::invocation(job, site, config, &ws, &home);
    let enclosure = Enclosure::open(parts, job, &ws, &mut invocation)?;
    Ok((invocation, enclosure))
}

/// The MCP servers of a session: the worker's typed actions, for tiers that have any.
fn mcp_servers(config: &WorkerConfig, job: &Job, socket: &std::path::Path) -> serde_json::Value {
    if claudeops_core::policy::actions(job.tier).is_empty() {
        return serde_json::json!({});
    }
    serde_json::json!({
        claudeops_core::policy::ACTIONS_SERVER: {
            "command": config.helper_exe(),
            "args": ["mcp"],
            "env": {
                "CLAUDEOPS_ACTIONS_SOCKET": socket,
                "CLAUDEOPS_SESSION_ID": job.session_id.to_string(),
                "CLAUDEOPS_TIER": job.tier.to_string(),
                "CLAUDEOPS_BROWSER": if browser_for(config, job.tier) { "1" } else { "0" },
            }
        }
    })
}

/// Whether sessions at `tier` get the browser actions on this worker.
pub fn browser_for(config: &WorkerConfig, tier: claudeops_core::Tier) -> bool {
    config.browser().is_some_and(|b| tier >= b.tier)
}

fn failed_before_start(error: String) -> Finish {
    Finish {
        status: FinishStatus::Failed,
        exit_code: None,
        error: Some(error),
        last_seq: 0,
        ended_at_ms: runner::now_ms(),
        result: None,
    }
}

/// How a session ended, for the control plane.
fn report(id: i64, finish: &Finish, metering: Metering) -> SessionReport {
    let status = match finish.status {
        FinishStatus::Completed => SessionStatus::Completed,
        FinishStatus::Failed => SessionStatus::Failed,
        FinishStatus::TimedOut => SessionStatus::TimedOut,
        FinishStatus::Stopped => SessionStatus::Stopped,
    };
    let result = finish.result.clone().unwrap_or_default();
    SessionReport {
        session_id: id,
        status,
        exit_code: finish.exit_code,
        error: finish.error.clone(),
        last_seq: finish.last_seq,
        ended_at_ms: Some(finish.ended_at_ms),
        cost_usd: result.total_cost_usd,
        turns: result.num_turns,
        duration_ms: result.duration_ms,
        result: result.result,
        structured: result.structured_output,
        metering,
    }
}

fn output(id: i64, lines: &[Line]) -> FromWorker {
    FromWorker::Output(OutputBatch {
        session_id: id,
        lines: lines
            .iter()
            .map(|l| StreamLine {
                seq: l.seq,
                ts_ms: l.ts_ms,
                line: l.text.clone(),
            })
            .collect(),
    })
}

fn capabilities(config: &WorkerConfig, sandbox: &Sandbox) -> Vec<String> {
    let mut caps = vec!["claude-cli".to_owned()];
    let model = config.anthropic_api_key.is_some() || config.anthropic_base_url.is_some();
    // No working sandbox, no LLM session: the control plane sends none here.
    if model && !matches!(sandbox, Sandbox::Unavailable(_)) {
        caps.push(LLM_CAPABILITY.to_owned());
    }
    if config.repos_dir.is_dir() {
        caps.push("repos".to_owned());
    }
    caps
}

/// Dials until connected, with exponential backoff and jitter. Refusals are logged
/// with their reason, once per attempt (a revoked or foreign certificate shows up
/// here, and so does a second copy of this worker refused while the first is
/// connected): every failed attempt waits out the backoff, never a tight loop.
/// `Err` when the control plane has cut this worker off (revoked): the
/// caller stops its sessions, then dials again.
async fn connect(
    host: String,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    hello: FromWorker,
    first_wait: Duration,
) -> Result<Connection, String> {
    if !first_wait.is_zero() {
        tokio::time::sleep(first_wait + jitter(first_wait)).await;
    }
    let mut backoff = (first_wait * 2).clamp(MIN_BACKOFF, MAX_BACKOFF);
    loop {
        match try_connect(&host, port, tls.clone(), hello.clone()).await {
            Ok(conn) => return Ok(conn),
            Err(failure) => {
                let error = &failure.message;
                tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "cannot connect to the control plane");
                if failure.cut_off {
                    return Err(failure.message);
                }
            }
        }
        tokio::time::sleep(backoff + jitter(backoff)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Up to a quarter of `wait` at random, so that workers cut off together do
/// not all dial back at the same instant.
fn jitter(wait: Duration) -> Duration {
    Duration::from_millis(rand::random::<u64>() % (wait.as_millis() as u64 / 4 + 1))
}

/// What a refusal of the link means, for the log line of a failed attempt.
fn refusal(status: &tonic::Status) -> String {
    match status.code() {
        tonic::Code::AlreadyExists | tonic::Code::FailedPrecondition => format!(
            "the control plane refused this worker while another copy is connected: {}",
            status.message()
        ),
        _ => format!(
            "the control plane refused this worker: {}",
            status.message()
        ),
    }
}

/// Why a connection attempt failed.
struct Failure {
    message: String,
    /// The control plane will not take this worker again (revoked, or not
    /// enrolled): its sessions must stop.
    cut_off: bool,
}

impl Failure {
    fn other(message: impl std::fmt::Display) -> Failure {
        Failure {
            message: message.to_string(),
            cut_off: false,
        }
    }
}

async fn try_connect(
    host: &str,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    hello: FromWorker,
) -> Result<Connection, Failure> {
    let channel = dial::channel(host, port, tls.clone())
        .await
        .map_err(|e| Failure::other(dial::root_cause(&e)))?;
    let (tx, rx) = mpsc::channel(256);
    tx.send(hello).await.map_err(Failure::other)?;
    let response =
        match WorkerLinkClient::new(channel)
            .connect(ReceiverStream::new(rx).map(|msg| {
                wire::to_control(wire::redacted(msg, crate::browser::Redactor::global()))
            }))
            .await
        {
            Ok(response) => response,
            Err(status)
                if status.code() == tonic::Code::Unavailable
                    || status.code() == tonic::Code::Cancelled
                    || status.code() == tonic::Code::Unknown =>
            {
                let diagnosis = dial::diagnose(host, port, tls).await;
                let reason = diagnosis
                    .as_ref()
                    .map_or_else(|| status.message().to_owned(), |d| d.reason.clone());
                return Err(Failure {
                    message: format!("the control plane refused the connection: {reason}"),
                    cut_off: diagnosis.is_some_and(|d| d.revoked),
                });
            }
            Err(status) => {
                return Err(Failure {
                    message: refusal(&status),
                    cut_off: status.code() == tonic::Code::PermissionDenied,
                });
            }
        };
    Ok(Connection {
        tx,
        inbound: response.into_inner(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_copy_refused_says_so_with_the_servers_reason() {
        let reason = "worker w-1 is already connected from host-a; a second copy from host-b was refused: is its state dir copied?";
        for status in [
            tonic::Status::already_exists(reason),
            tonic::Status::failed_precondition(reason),
        ] {
            let said = refusal(&status);
            assert!(said.contains("another copy is connected"), "{said}");
            assert!(said.ends_with(reason), "{said}");
        }
        let revoked = refusal(&tonic::Status::permission_denied("revoked"));
        assert_eq!(revoked, "the control plane refused this worker: revoked");
    }
}
