//! The worker link: one bidirectional stream per connected worker.
//!
//! Who the worker is comes from its verified client certificate, never from what
//! it says. The first message must be a Hello for the certificate's site. Output
//! and results are stored before they are acknowledged, so a reconnecting worker
//! replays exactly what may have been lost.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use claudeops_core::{SessionOutcome, SessionStatus, SiteName};
use claudeops_pki::{RevocationSet, identity_from_cert_der};
use claudeops_proto::v1::worker_link_server::WorkerLink;
use claudeops_proto::v1::{
    self as pb, ControlMessage, WorkerMessage, control_message, worker_message,
};
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Request, Response, Status, Streaming};

use crate::registry::WorkerInfo;
use crate::sessions::{Sessions, now_ms};

const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
pub const HEARTBEAT_SECS: u32 = 10;
/// How often `last_seen` is written to the store (heartbeats are in memory).
const TOUCH_EVERY_MS: i64 = 60_000;

pub struct LinkService {
    pub sessions: Sessions,
    pub revocations: Arc<RevocationSet>,
    pub alerts: crate::ledger::Alerts,
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
        let store = &self.sessions.store;
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
        let hello = match tokio::time::timeout(HELLO_TIMEOUT, inbound.message()).await {
            Ok(Ok(Some(WorkerMessage {
                body: Some(worker_message::Body::Hello(hello)),
            }))) => hello,
            _ => {
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
            connected_at_ms: now,
            last_heartbeat_ms: now,
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
        let (tx, rx) = mpsc::channel(256);
        let welcome = control(control_message::Body::Welcome(pb::Welcome {
            worker_id: record.id.clone(),
            heartbeat_interval_secs: HEARTBEAT_SECS,
        }));
        let _ = tx.send(welcome).await;
        let conn_id = self.sessions.registry.register(info, tx.clone());
        tracing::info!(worker = %record.id, site = %record.site, hostname = %hello.hostname, version = %hello.version, "worker connected");
        reconcile(
            &self.sessions,
            &record.id,
            &record.site,
            &hello.running,
            &tx,
        )
        .await;
        let reader = Reader {
            sessions: self.sessions.clone(),
            site: record.site.clone(),
            worker_id: record.id,
            conn_id,
            tx: tx.downgrade(),
            last_touch_ms: now,
            hello,
            alerts: self.alerts.clone(),
        };
        drop(tx);
        tokio::spawn(reader.run(inbound));
        let outbound = ReceiverStream::new(rx).map(Ok);
        Ok(Response::new(Box::pin(outbound)))
    }
}

fn control(body: control_message::Body) -> ControlMessage {
    ControlMessage { body: Some(body) }
}

/// Squares what the worker says it holds with what the store says it runs.
async fn reconcile(
    sessions: &Sessions,
    worker_id: &str,
    site: &SiteName,
    running: &[pb::RunningJob],
    tx: &mpsc::Sender<ControlMessage>,
) {
    let Ok(ours) = sessions.store.running_sessions().await else {
        return;
    };
    for session in ours
        .iter()
        .filter(|s| s.worker_id.as_deref() == Some(worker_id))
    {
        if !running.iter().any(|j| j.session_id == session.id) {
            let outcome = SessionOutcome {
                status: SessionStatus::Failed,
                ..crate::sessions::failed_outcome(
                    "the worker restarted and no longer has this session",
                )
            };
            if let Err(error) = sessions.finish(session.id, outcome).await {
                tracing::error!(%error, "could not end a lost session");
            }
        }
    }
    for job in running.iter().filter(|j| !j.finished) {
        let still_running = ours.iter().any(|s| s.id == job.session_id);
        if !still_running {
            // We gave up on it (or never knew it): the worker must stop it.
            tracing::warn!(session = job.session_id, %site, "stopping a job the control plane no longer runs");
            let cancel = control(control_message::Body::CancelJob(pb::CancelJob {
                session_id: job.session_id,
                reason: "the control plane ended this session".to_owned(),
            }));
            let _ = tx.send(cancel).await;
        }
    }
}

struct Reader {
    sessions: Sessions,
    site: SiteName,
    worker_id: String,
    conn_id: u64,
    tx: mpsc::WeakSender<ControlMessage>,
    last_touch_ms: i64,
    hello: pb::Hello,
    alerts: crate::ledger::Alerts,
}

impl Reader {
    async fn run(mut self, mut inbound: Streaming<WorkerMessage>) {
        loop {
            match inbound.message().await {
                Ok(Some(msg)) => {
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
        self.sessions
            .registry
            .unregister(&self.worker_id, self.conn_id);
        tracing::info!(worker = %self.worker_id, "worker disconnected");
    }

    /// Returns false when the connection must end.
    async fn handle(&mut self, msg: WorkerMessage) -> bool {
        // A worker cut off (revoked, replaced) has no strong sender left.
        let Some(tx) = self.tx.upgrade() else {
            return false;
        };
        match msg.body {
            Some(worker_message::Body::Heartbeat(_)) => {
                let now = now_ms();
                self.sessions.registry.heartbeat(&self.worker_id, now);
                if now - self.last_touch_ms > TOUCH_EVERY_MS {
                    self.last_touch_ms = now;
                    let h = &self.hello;
                    let _ = self
                        .sessions
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
            Some(worker_message::Body::Output(output)) => {
                let id = output.session_id;
                match self.sessions.output(&self.worker_id, output).await {
                    Ok(Some(upto)) => {
                        let ack = pb::Ack {
                            session_id: id,
                            upto_seq: upto,
                            finished: false,
                        };
                        let _ = tx.send(control(control_message::Body::Ack(ack))).await;
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::error!(%error, session = id, "could not store output; the worker will replay it")
                    }
                }
            }
            Some(worker_message::Body::Finished(finished)) => {
                let id = finished.session_id;
                let last_seq = finished.last_seq;
                match self.sessions.finished(&self.worker_id, finished).await {
                    Ok(()) => {
                        let ack = pb::Ack {
                            session_id: id,
                            upto_seq: last_seq,
                            finished: true,
                        };
                        let _ = tx.send(control(control_message::Body::Ack(ack))).await;
                    }
                    Err(error) => {
                        tracing::error!(%error, session = id, "could not record a session's end")
                    }
                }
            }
            Some(worker_message::Body::Reserve(reserve)) => {
                // Answered in its own task: a slow store must not hold up output.
                let sessions = self.sessions.clone();
                let alerts = self.alerts.clone();
                let worker = self.worker_id.clone();
                tokio::spawn(async move {
                    let answer = crate::ledger::reserve(&sessions, &alerts, &worker, reserve).await;
                    let _ = tx
                        .send(control(control_message::Body::LedgerAnswer(answer)))
                        .await;
                });
            }
            Some(worker_message::Body::FinishAction(finish)) => {
                crate::ledger::finish(&self.sessions, finish).await;
            }
            Some(worker_message::Body::Probes(report)) => {
                // In its own task: starting an incident's session must not hold up output.
                let sessions = self.sessions.clone();
                let site = self.site.clone();
                tokio::spawn(async move { sessions.probe_report(&site, report).await });
            }
            Some(worker_message::Body::Inventory(report)) => {
                self.sessions
                    .inventory_report(&self.site, &self.worker_id, &report.inventory_json)
                    .await;
            }
            Some(worker_message::Body::ReprobeResult(result)) => {
                self.sessions.incidents.answer(result);
            }
            Some(worker_message::Body::Hello(_)) | None => {
                tracing::warn!(worker = %self.worker_id, "ignored an unexpected message");
            }
        }
        true
    }
}
