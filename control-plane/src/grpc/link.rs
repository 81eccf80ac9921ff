//! The worker link: one bidirectional stream per connected worker.
//!
//! Who the worker is comes from its verified client certificate, never from what
//! it says. The first message must be a Hello for the certificate's site. Output
//! and results are stored before they are acknowledged, so a reconnecting worker
//! replays exactly what may have been lost.
//!
//! A link is alive while the worker speaks: a link silent for [`SILENCE_LIMIT`]
//! (three of the heartbeat intervals announced in the welcome) is closed and
//! unregistered here, long before HTTP/2 keepalive would notice. One worker id
//! has one live link: a second connection while the first is alive is refused
//! (the registry decides), so two copies of one state dir cannot take the link
//! from each other.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use claudeops_core::event::EventLevel;
use claudeops_core::link::{Ack, ToWorker};
use claudeops_core::{SessionOutcome, SessionStatus, SiteName};
use claudeops_pki::{RevocationSet, identity_from_cert_der};
use claudeops_proto::v1::worker_link_server::WorkerLink;
use claudeops_proto::v1::{ControlMessage, WorkerMessage};
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use crate::clock::now_ms;
use crate::context::Context;
use crate::grpc::wire::{self, FromWorker, Hello, RunningJob};
use crate::incidents::Incidents;
use crate::ledger::Alerts;
use crate::notifications::Notifications;
use crate::registry::{Refused, WorkerInfo};
use crate::sessions::{Reported, Sessions};

const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A link from which nothing arrived for this long is dead: three heartbeats.
pub const SILENCE_LIMIT: Duration = HEARTBEAT.saturating_mul(3);
/// How often `last_seen` is written to the store (heartbeats are in memory).
const TOUCH_EVERY_MS: i64 = 60_000;

/// The services a worker's messages reach.
#[derive(Clone)]
pub struct Peers {
    pub ctx: Context,
    pub sessions: Sessions,
    pub incidents: Incidents,
    pub notifications: Notifications,
    pub alerts: Alerts,
    pub approvals: crate::approvals::Approvals,
}

pub struct LinkService {
    pub peers: Peers,
    pub revocations: Arc<RevocationSet>,
    /// A link silent this long is closed ([`SILENCE_LIMIT`] unless a test says).
    pub silence_limit: Duration,
}

type ControlStream = Pin<Box<dyn Stream<Item = Result<ControlMessage, Status>> + Send>>;

#[tonic::async_trait]
impl WorkerLink for LinkService {
    type ConnectStream = ControlStream;

    async fn connect(
        &self,
        request: Request<Streaming<WorkerMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let peer = request
            .extensions()
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(TlsConnectInfo::peer_certs)
            .and_then(|certs| certs.first().map(|c| identity_from_cert_der(c.as_ref())))
            .ok_or_else(|| Status::unauthenticated("no client certificate"))?
            .map_err(|e| Status::unauthenticated(format!("unreadable client certificate: {e}")))?;
        let store = &self.peers.ctx.store;
        let record = store
            .get_worker(&peer.worker_id)
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .ok_or_else(|| Status::permission_denied("unknown worker: enroll it again"))?;
        if record.is_revoked()
            || self
                .revocations
                .is_cert_revoked(&peer.serial_hex, &peer.fingerprint)
        {
            return Err(Status::permission_denied(
                "this worker's certificate was revoked",
            ));
        }
        if record.cert_serial != peer.serial_hex || record.site.as_str() != peer.site {
            return Err(Status::permission_denied(
                "certificate does not match the enrolled worker",
            ));
        }
        let mut inbound = request.into_inner();
        let first = tokio::time::timeout(HELLO_TIMEOUT, inbound.message()).await;
        let hello = match first
            .ok()
            .and_then(Result::ok)
            .flatten()
            .and_then(wire::expect_hello)
        {
            Some(hello) => hello,
            None => {
                return Err(Status::invalid_argument(
                    "the first message must be a hello",
                ));
            }
        };
        if hello.site != record.site.as_str() {
            return Err(Status::permission_denied(format!(
                "this worker is enrolled for site {}, not {}",
                record.site, hello.site
            )));
        }
        let now = now_ms();
        let info = WorkerInfo {
            worker_id: record.id.clone(),
            site: record.site.clone(),
            hostname: hello.hostname.clone(),
            version: hello.version.clone(),
            capabilities: hello.capabilities.clone(),
            sandbox: hello.sandbox.clone(),
            connected_at_ms: now,
            last_heartbeat_ms: now,
        };
        let (tx, rx) = mpsc::channel(256);
        let welcome = ToWorker::Welcome {
            worker_id: record.id.clone(),
            heartbeat_interval: HEARTBEAT,
        };
        let _ = tx.send(welcome).await;
        let limit_ms = i64::try_from(self.silence_limit.as_millis()).unwrap_or(i64::MAX);
        let registered = self
            .peers
            .ctx
            .registry
            .register(info, tx.clone(), now, limit_ms);
        let conn_id = match registered {
            Ok(conn_id) => {
                self.peers
                    .ctx
                    .changes
                    .publish(crate::changes::Kind::Worker, Some(record.site.as_str()));
                conn_id
            }
            Err(refused) => {
                return Err(self
                    .refuse(&record.id, &record.site, &hello.hostname, refused)
                    .await);
            }
        };
        if let Err(error) = store
            .touch_worker(
                &record.id,
                &hello.hostname,
                &hello.version,
                &hello.capabilities,
                now,
            )
            .await
        {
            tracing::warn!(%error, "could not record a worker's hello");
        }
        tracing::info!(worker = %record.id, site = %record.site, hostname = %hello.hostname, version = %hello.version, "worker connected");
        self.report_sandbox(&record.id, &record.site, &hello).await;
        reconcile(&self.peers, &record.id, &record.site, &hello, &tx).await;
        crate::ui_probes::UiProbes::new(&self.peers.ctx)
            .send_to(&record.site, &tx)
            .await;
        let reader = Reader {
            peers: self.peers.clone(),
            site: record.site.clone(),
            worker_id: record.id,
            conn_id,
            silence_limit: self.silence_limit,
            tx: tx.downgrade(),
            last_touch_ms: now,
            hello,
        };
        drop(tx);
        // Every log line of this worker's link carries its id and site.
        let span = tracing::info_span!("worker", worker = %reader.worker_id, site = %reader.site);
        tokio::spawn(reader.run(inbound).instrument(span));
        let outbound = ReceiverStream::new(rx).map(|msg| Ok(wire::to_worker(msg)));
        Ok(Response::new(Box::pin(outbound)))
    }
}

impl LinkService {
    /// A worker that cannot sandbox its sessions is news: unavailable means no
    /// LLM session runs there (critical), off means they run unconfined.
    async fn report_sandbox(&self, worker_id: &str, site: &SiteName, hello: &Hello) {
        let sandbox = &hello.sandbox;
        let (level, message) = match sandbox.kind.as_str() {
            "unavailable" => (
                EventLevel::Critical,
                format!(
                    "worker {worker_id} ({}) refuses LLM sessions: no sandbox works there: {}",
                    hello.hostname, sandbox.detail
                ),
            ),
            "off" => (
                EventLevel::Warning,
                format!(
                    "worker {worker_id} ({}) runs sessions UNSANDBOXED (CLAUDEOPS_SANDBOX=off): a tier's limits rest on the command judge alone",
                    hello.hostname
                ),
            ),
            _ => return,
        };
        tracing::warn!(worker = worker_id, sandbox = %sandbox.kind, detail = %sandbox.detail, "worker sandbox");
        self.peers.ctx.event(site, None, level, message).await;
    }

    /// The answer to a second connection of a worker whose link is alive; the
    /// first refusal in a while is logged and recorded as a critical event.
    async fn refuse(
        &self,
        worker_id: &str,
        site: &SiteName,
        hostname: &str,
        refused: Refused,
    ) -> Status {
        let connected = &refused.connected_hostname;
        let message = format!(
            "worker {worker_id} is already connected from {connected}; a second copy from {hostname} was refused: is its state dir copied?"
        );
        if refused.report {
            tracing::error!(worker = %worker_id, %site, %connected, refused = %hostname, "refused a second connection of a connected worker");
            let event = message.clone();
            self.peers
                .ctx
                .event(site, None, EventLevel::Critical, event)
                .await;
        } else {
            tracing::debug!(worker = %worker_id, refused = %hostname, "refused a second connection again");
        }
        Status::already_exists(message)
    }
}

/// Squares what the worker says it holds with what the store says it runs.
async fn reconcile(
    peers: &Peers,
    worker_id: &str,
    site: &SiteName,
    hello: &Hello,
    tx: &mpsc::Sender<ToWorker>,
) {
    let running: &[RunningJob] = &hello.running;
    for id in &hello.killed_leftovers {
        let message = format!(
            "worker {worker_id} restarted and found processes of session #{id} still running: it killed them"
        );
        peers
            .ctx
            .event(site, Some(*id), EventLevel::Warning, message)
            .await;
    }
    let Ok(ours) = peers.sessions.running().await else {
        return;
    };
    for session in ours
        .iter()
        .filter(|s| s.worker_id.as_deref() == Some(worker_id))
    {
        if !running.iter().any(|j| j.session_id == session.id) {
            let reason = if hello.killed_leftovers.contains(&session.id) {
                "the worker restarted and no longer has this session; it killed what was left of it"
            } else {
                "the worker restarted and no longer has this session"
            };
            let outcome = SessionOutcome {
                status: SessionStatus::Failed,
                ..crate::sessions::failed_outcome(reason)
            };
            if let Err(error) = peers.sessions.finish(session.id, outcome).await {
                tracing::error!(%error, "could not end a lost session");
            }
        }
    }
    for job in running.iter().filter(|j| !j.finished) {
        // Still running, and still this worker's (a job it never confirmed
        // may have gone to another worker meanwhile).
        let still_running = ours
            .iter()
            .any(|s| s.id == job.session_id && s.worker_id.as_deref() == Some(worker_id));
        if still_running {
            // It holds the job: a confirmation lost with the old link.
            peers.sessions.confirmed(worker_id, job.session_id).await;
        }
        let pending = if still_running {
            peers.sessions.pending_stop(job.session_id).await
        } else {
            None
        };
        if let Some(reason) = pending {
            // A stop the worker may never have received: the link it went
            // into may have been dead already. Stopping twice is harmless.
            tracing::info!(session = job.session_id, %site, "sending a pending stop again");
            let cancel = ToWorker::Cancel {
                session_id: job.session_id,
                reason,
            };
            let _ = tx.send(cancel).await;
        }
        if !still_running {
            // We gave up on it (or never knew it): the worker must stop it.
            tracing::warn!(session = job.session_id, %site, "stopping a job the control plane no longer runs");
            let cancel = ToWorker::Cancel {
                session_id: job.session_id,
                reason: "the control plane ended this session".to_owned(),
            };
            let _ = tx.send(cancel).await;
        }
    }
}

struct Reader {
    peers: Peers,
    site: SiteName,
    worker_id: String,
    conn_id: u64,
    silence_limit: Duration,
    tx: mpsc::WeakSender<ToWorker>,
    last_touch_ms: i64,
    hello: Hello,
}

impl Reader {
    async fn run(mut self, mut inbound: Streaming<WorkerMessage>) {
        loop {
            let waiting = tokio::time::Instant::now();
            let Ok(next) = tokio::time::timeout(self.silence_limit, inbound.message()).await else {
                let silent_ms = u64::try_from(waiting.elapsed().as_millis()).unwrap_or(u64::MAX);
                tracing::warn!(worker = %self.worker_id, silent_ms, "closing a silent worker link");
                break;
            };
            match next {
                Ok(Some(msg)) => {
                    let registry = &self.peers.ctx.registry;
                    registry.seen(&self.worker_id, self.conn_id, now_ms());
                    if !self.handle(msg).await {
                        break;
                    }
                }
                Ok(None) => break,
                Err(status) => {
                    tracing::info!(worker = %self.worker_id, reason = %status.message(), "worker stream ended");
                    break;
                }
            }
        }
        self.peers
            .ctx
            .registry
            .unregister(&self.worker_id, self.conn_id);
        self.peers
            .ctx
            .changes
            .publish(crate::changes::Kind::Worker, None);
        tracing::info!(worker = %self.worker_id, "worker disconnected");
        if !self.peers.ctx.registry.is_connected(&self.worker_id) {
            self.peers.sessions.link_lost(&self.worker_id).await;
        }
    }

    /// Returns false when the connection must end.
    async fn handle(&mut self, msg: WorkerMessage) -> bool {
        // A worker cut off (revoked, replaced) has no strong sender left.
        let Some(tx) = self.tx.upgrade() else {
            return false;
        };
        let msg = match wire::from_worker(msg) {
            Ok(msg) => msg,
            Err(error) => {
                tracing::warn!(worker = %self.worker_id, %error, "ignored a malformed message");
                return true;
            }
        };
        match msg {
            FromWorker::Heartbeat { .. } => {
                let now = now_ms();
                self.peers.ctx.registry.heartbeat(&self.worker_id, now);
                if now - self.last_touch_ms > TOUCH_EVERY_MS {
                    self.last_touch_ms = now;
                    let h = &self.hello;
                    let _ = self
                        .peers
                        .ctx
                        .store
                        .touch_worker(
                            &self.worker_id,
                            &h.hostname,
                            &h.version,
                            &h.capabilities,
                            now,
                        )
                        .await;
                }
            }
            FromWorker::Output(output) => {
                let id = output.session_id;
                match self.peers.sessions.output(&self.worker_id, output).await {
                    Ok(Some(upto)) => {
                        let ack = Ack {
                            session_id: id,
                            upto_seq: upto,
                            finished: false,
                        };
                        let _ = tx.send(ToWorker::Ack(ack)).await;
                    }
                    Ok(None) => {}
                    Err(error) => {
                        // Closing the link makes the worker reconnect and send
                        // again everything above its last acknowledgement.
                        tracing::error!(%error, session = id, "could not store output; closing the link so the worker replays it");
                        return false;
                    }
                }
            }
            FromWorker::Finished(report) => {
                let id = report.session_id;
                let last_seq = report.last_seq;
                match self.peers.sessions.on_report(&self.worker_id, report).await {
                    Ok(Reported::Incomplete { upto, last_seq }) => {
                        tracing::warn!(
                            session = id,
                            upto,
                            last_seq,
                            "a session ended with lines missing; closing the link so the worker replays them"
                        );
                        return false;
                    }
                    Ok(Reported::Recorded) => {
                        let ack = Ack {
                            session_id: id,
                            upto_seq: last_seq,
                            finished: true,
                        };
                        let _ = tx.send(ToWorker::Ack(ack)).await;
                    }
                    Err(error) => {
                        // As for output: the worker keeps the report and
                        // sends it again after reconnecting.
                        tracing::error!(%error, session = id, "could not record a session's end; closing the link so the worker sends it again");
                        return false;
                    }
                }
            }
            FromWorker::Reserve(request) => {
                // Answered in its own task: a slow store, or a person's
                // decision, must not hold up output. It holds only a weak
                // sender, so a worker cut off meanwhile is not kept alive.
                let peers = self.peers.clone();
                let weak = self.tx.clone();
                drop(tx);
                let worker = self.worker_id.clone();
                tokio::spawn(
                    async move {
                        let answer = crate::ledger::reserve(
                            &peers.ctx,
                            &peers.notifications,
                            &peers.alerts,
                            &peers.approvals,
                            &worker,
                            request,
                        )
                        .await;
                        let granted = answer.granted.then_some(answer.action_id);
                        let sent = match weak.upgrade() {
                            Some(tx) => tx.send(ToWorker::LedgerAnswer(answer)).await.is_ok(),
                            None => false,
                        };
                        if !sent && let Some(id) = granted {
                            // The worker went away while the answer was made
                            // (an approval can take minutes): nothing will be done.
                            crate::ledger::release(
                                &peers.ctx,
                                id,
                                "the worker's link closed before the slot was granted",
                            )
                            .await;
                        }
                    }
                    .in_current_span(),
                );
            }
            FromWorker::ActionDone(done) => {
                crate::ledger::finish(&self.peers.ctx, done).await;
            }
            FromWorker::Probes(report) => {
                // In its own task: starting an incident's session must not hold up output.
                let incidents = self.peers.incidents.clone();
                let site = self.site.clone();
                tokio::spawn(
                    async move { incidents.probe_report(&site, report).await }.in_current_span(),
                );
            }
            FromWorker::Inventory(json) => {
                self.peers
                    .incidents
                    .inventory_report(&self.site, &self.worker_id, &json)
                    .await;
            }
            FromWorker::Metrics(exposition) => {
                let labels = [
                    ("site", self.site.as_str()),
                    ("worker", self.worker_id.as_str()),
                ];
                match claudeops_telemetry::metrics::Merged::default().add(&exposition, &labels) {
                    Ok(()) => self.peers.ctx.registry.set_metrics(
                        &self.worker_id,
                        self.conn_id,
                        exposition.into(),
                    ),
                    Err(error) => {
                        tracing::warn!(worker = %self.worker_id, %error, "the worker's metrics were refused");
                    }
                }
            }
            FromWorker::Reprobed(result) => {
                self.peers.incidents.reprobed(result);
            }
            FromWorker::Accepted { session_id } => {
                self.peers
                    .sessions
                    .confirmed(&self.worker_id, session_id)
                    .await;
            }
            FromWorker::Hello(_) => {
                tracing::warn!(worker = %self.worker_id, "ignored a second hello");
            }
        }
        true
    }
}
