//! A scripted worker that speaks the real link: a client certificate signed by
//! the control plane's CA from a CSR, mutual TLS on loopback, the `Connect`
//! stream of `WorkerMessage` / `ControlMessage`. Tests send what a worker would
//! send and assert on what comes back.
//!
//! Its identity and the TLS dial are in `identity.rs`.

use std::time::Duration;

use claudeops_core::worker::LLM_CAPABILITY;
use claudeops_proto::v1::worker_link_client::WorkerLinkClient;
use claudeops_proto::v1::{
    self as pb, ControlMessage, WorkerMessage, control_message, worker_message,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use crate::identity::{Identity, dial};
use crate::support::{DEADLINE, TestApp};

/// One connected fake worker: the sending half of its stream and the control
/// plane's messages.
pub struct FakeWorker {
    pub identity: Identity,
    tx: mpsc::Sender<WorkerMessage>,
    rx: Streaming<ControlMessage>,
    /// Messages read while waiting for another kind, kept in order.
    held: Vec<control_message::Body>,
}

impl FakeWorker {
    /// Enrolls a worker with the LLM capability and connects it.
    pub async fn connect_new(app: &TestApp, site: &str) -> FakeWorker {
        let identity = Identity::enroll(app, site, &format!("w-{site}")).await;
        FakeWorker::connect(app, identity, Vec::new()).await
    }

    /// Dials the link over mutual TLS, says hello (with the jobs it still
    /// holds) and waits for the welcome.
    pub async fn connect(
        app: &TestApp,
        identity: Identity,
        running: Vec<pb::RunningJob>,
    ) -> FakeWorker {
        FakeWorker::try_connect(app, identity, "fake-worker", running)
            .await
            .unwrap_or_else(|status| panic!("the link refused the worker: {status}"))
    }

    /// Like [`FakeWorker::connect`] from host `hostname`; a refusal is the
    /// link's answer.
    pub async fn try_connect(
        app: &TestApp,
        identity: Identity,
        hostname: &str,
        running: Vec<pb::RunningJob>,
    ) -> Result<FakeWorker, tonic::Status> {
        let sandbox = pb::SandboxState {
            kind: "bwrap".to_owned(),
            detail: "bubblewrap; sessions run as uid 64400 gid 64400".to_owned(),
        };
        FakeWorker::try_connect_with(app, identity, hostname, running, sandbox).await
    }

    /// Like [`FakeWorker::try_connect`], saying `sandbox` in its hello.
    pub async fn try_connect_with(
        app: &TestApp,
        identity: Identity,
        hostname: &str,
        running: Vec<pb::RunningJob>,
        sandbox: pb::SandboxState,
    ) -> Result<FakeWorker, tonic::Status> {
        let channel = dial(app.link_addr, identity.tls.clone()).await;
        let (tx, outbound) = mpsc::channel(1024);
        let hello = pb::Hello {
            site: identity.site.clone(),
            hostname: hostname.to_owned(),
            version: "test".to_owned(),
            capabilities: vec![LLM_CAPABILITY.to_owned()],
            running,
            sandbox: Some(sandbox),
            killed_leftovers: Vec::new(),
        };
        tx.send(message(worker_message::Body::Hello(hello)))
            .await
            .unwrap_or_else(|e| panic!("queueing the hello: {e}"));
        let rx = tokio::time::timeout(
            DEADLINE,
            WorkerLinkClient::new(channel).connect(ReceiverStream::new(outbound)),
        )
        .await
        .unwrap_or_else(|_| panic!("the link did not answer the hello"))?
        .into_inner();
        let mut worker = FakeWorker {
            identity,
            tx,
            rx,
            held: Vec::new(),
        };
        let welcome = worker
            .expect("the welcome", |body| match body {
                control_message::Body::Welcome(w) => Some(w),
                _ => None,
            })
            .await;
        assert_eq!(welcome.worker_id, worker.identity.worker_id);
        Ok(worker)
    }

    /// Sends a heartbeat every `every` until the link closes, as a real worker
    /// does, so a short silence limit does not close this one.
    pub fn keep_alive(&self, every: Duration) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let beat = || {
                message(worker_message::Body::Heartbeat(pb::Heartbeat {
                    sent_at_ms: 0,
                }))
            };
            while tx.send(beat()).await.is_ok() {
                tokio::time::sleep(every).await;
            }
        });
    }

    /// Waits until the control plane ends the stream (cleanly or with a
    /// status), failing the test after the deadline.
    pub async fn closed_by_server(&mut self) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.message()).await {
                Err(_) => panic!("the control plane kept the link open"),
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None) | Err(_)) => return,
            }
        }
    }

    pub async fn send(&self, body: worker_message::Body) {
        self.tx
            .send(message(body))
            .await
            .unwrap_or_else(|e| panic!("the link closed: {e}"));
    }

    /// Sends output lines `seqs` of a session, each line numbered by its seq.
    pub async fn output(&self, session: i64, seqs: impl IntoIterator<Item = i64>) {
        let lines = seqs
            .into_iter()
            .map(|seq| pb::OutputLine {
                seq,
                ts_ms: 1_000 + seq,
                line: crate::support::stream_line(seq),
            })
            .collect();
        self.send(worker_message::Body::Output(pb::SessionOutput {
            session_id: session,
            lines,
        }))
        .await;
    }

    /// Reports a session's end: completed, with a cost and a structured response.
    pub async fn finish(
        &self,
        session: i64,
        last_seq: i64,
        cost: f64,
        structured: &serde_json::Value,
    ) {
        self.send(worker_message::Body::Finished(pb::SessionFinished {
            session_id: session,
            status: pb::FinishStatus::Completed as i32,
            exit_code: Some(0),
            last_seq,
            cost_usd: cost,
            turns: 3,
            duration_ms: 1_500,
            result: "done".to_owned(),
            structured_output_json: structured.to_string(),
            ..pb::SessionFinished::default()
        }))
        .await;
    }

    /// The next message `pick` accepts, within the deadline. Messages of other
    /// kinds read meanwhile are held for later calls.
    pub async fn expect<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(control_message::Body) -> Option<T>,
    ) -> T {
        for i in 0..self.held.len() {
            if let Some(value) = pick(self.held[i].clone()) {
                self.held.remove(i);
                return value;
            }
        }
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let body = self
                .next_until(deadline)
                .await
                .unwrap_or_else(|| panic!("timed out waiting for {what}"));
            match pick(body.clone()) {
                Some(value) => return value,
                None => self.held.push(body),
            }
        }
    }

    /// Fails the test if a message `pick` accepts arrives within `quiet`.
    pub async fn expect_none<T: std::fmt::Debug>(
        &mut self,
        what: &str,
        quiet: Duration,
        mut pick: impl FnMut(control_message::Body) -> Option<T>,
    ) {
        for body in &self.held {
            if let Some(value) = pick(body.clone()) {
                panic!("unexpected {what}: {value:?}");
            }
        }
        let deadline = tokio::time::Instant::now() + quiet;
        while let Some(body) = self.next_until(deadline).await {
            if let Some(value) = pick(body.clone()) {
                panic!("unexpected {what}: {value:?}");
            }
            self.held.push(body);
        }
    }

    async fn next_until(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> Option<control_message::Body> {
        loop {
            match tokio::time::timeout_at(deadline, self.rx.message()).await {
                Err(_) => return None,
                Ok(Ok(Some(ControlMessage { body: Some(body) }))) => return Some(body),
                Ok(Ok(Some(ControlMessage { body: None }))) => {}
                Ok(Ok(None)) => panic!("the control plane closed the link"),
                Ok(Err(status)) => panic!("the link failed: {status}"),
            }
        }
    }

    /// The next RunJob, confirmed as a real worker does.
    pub async fn run_job(&mut self) -> pb::RunJob {
        let job = self.run_job_unconfirmed().await;
        self.send(worker_message::Body::Accepted(pb::JobAccepted {
            session_id: job.session_id,
        }))
        .await;
        job
    }

    /// The next RunJob, received but not confirmed (a worker whose link
    /// died before its confirmation left).
    pub async fn run_job_unconfirmed(&mut self) -> pb::RunJob {
        self.expect("a job", |body| match body {
            control_message::Body::RunJob(job) => Some(job),
            _ => None,
        })
        .await
    }

    /// The next Ack for `session`.
    pub async fn ack(&mut self, session: i64) -> pb::Ack {
        self.expect("an acknowledgement", |body| match body {
            control_message::Body::Ack(ack) if ack.session_id == session => Some(ack),
            _ => None,
        })
        .await
    }

    /// Waits for Acks of `session` until one covers `seq` (and, if asked, the end).
    pub async fn acked_upto(&mut self, session: i64, seq: i64, finished: bool) -> pb::Ack {
        self.expect("an acknowledgement", |body| match body {
            control_message::Body::Ack(ack)
                if ack.session_id == session
                    && ack.upto_seq >= seq
                    && (ack.finished || !finished) =>
            {
                Some(ack)
            }
            _ => None,
        })
        .await
    }

    /// Sends a ledger request and waits for its answer.
    pub async fn reserve(
        &mut self,
        request_id: u64,
        session: i64,
        kind: &str,
        service: &str,
    ) -> pb::LedgerAnswer {
        self.ask(request_id, session, kind, service).await;
        self.ledger_answer(request_id).await
    }

    /// Asks the ledger for a slot without waiting for the answer (an action
    /// behind an approval gate waits for a human).
    pub async fn ask(&self, request_id: u64, session: i64, kind: &str, service: &str) {
        self.send(worker_message::Body::Reserve(pb::LedgerReserve {
            request_id,
            session_id: session,
            kind: kind.to_owned(),
            service: service.to_owned(),
            args_json: serde_json::json!({ "service": service }).to_string(),
            traceparent: String::new(),
        }))
        .await;
    }

    /// The answer to ledger request `request_id`.
    pub async fn ledger_answer(&mut self, request_id: u64) -> pb::LedgerAnswer {
        self.expect("a ledger answer", |body| match body {
            control_message::Body::LedgerAnswer(a) if a.request_id == request_id => Some(a),
            _ => None,
        })
        .await
    }

    /// Ends the connection the way a crashed or cut-off worker does: the stream
    /// and the channel go away at once.
    pub fn disconnect(self) -> Identity {
        self.identity
    }
}

fn message(body: worker_message::Body) -> WorkerMessage {
    WorkerMessage { body: Some(body) }
}
