//! What the control plane and a worker say to each other over their one link,
//! as domain types.
//!
//! Why it exists: the protobuf messages are the wire, not the model. Each side
//! converts them at its edge (`control-plane/src/grpc/wire.rs`,
//! `worker/src/wire.rs`) into these types, so sessions, incidents, the ledger
//! and the registry never see a protobuf type, and malformed wire input is a
//! typed error at the edge instead of a default deep inside.
//!
//! What it must not do: carry transport details (connections, TLS, retries);
//! those stay in the link code of each side.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::health::ProbeAttempt;
use crate::session::{SessionId, SessionStatus, Trigger};
use crate::tier::Tier;

/// A tier job: what a worker needs to run one session.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub session_id: SessionId,
    pub tier: Tier,
    pub model: String,
    pub prompt: String,
    /// What an earlier tier found, for an escalated session.
    pub handoff: String,
    pub trigger: Trigger,
    /// `--max-budget-usd`; 0 means no cap.
    pub max_budget_usd: f64,
    pub timeout: Duration,
    pub dry_run: bool,
    pub extra_allowed_tools: Vec<String>,
    pub extra_disallowed_tools: Vec<String>,
    /// The site's memories, rendered for the prompt.
    pub memories: String,
    /// The models the session may ask for (its tier's and the lower tiers');
    /// empty means only `model`.
    pub models: Vec<String>,
    /// What is left of the fleet's daily cost cap; `None` when there is none.
    pub daily_left_usd: Option<f64>,
    /// The W3C `traceparent` of the session's span; `None` when untraced.
    pub traceparent: Option<String>,
}

/// Everything the control plane sends a connected worker.
#[derive(Debug, Clone, PartialEq)]
pub enum ToWorker {
    /// The link is accepted; heartbeats are expected at this interval.
    Welcome {
        worker_id: String,
        heartbeat_interval: Duration,
    },
    Run(Job),
    Cancel {
        session_id: SessionId,
        reason: String,
    },
    Ack(Ack),
    LedgerAnswer(LedgerAnswer),
    Reprobe(ReprobeRequest),
    /// The site's probes added from the dashboard (the whole set).
    ProbeSet(ProbeSet),
}

/// Everything a connected worker sends the control plane.
#[derive(Debug, Clone, PartialEq)]
pub enum FromWorker {
    /// The first message of every connection.
    Hello(Hello),
    Heartbeat {
        sent_at_ms: i64,
    },
    Output(OutputBatch),
    Finished(SessionReport),
    Reserve(LedgerRequest),
    ActionDone(ActionDone),
    Probes(ProbeReport),
    /// The discovery inventory, serialised by the worker
    /// (`crate::inventory::Inventory::to_json`).
    Inventory(String),
    Reprobed(ReprobeResult),
    /// The worker holds the job of this session: it counts as started.
    Accepted {
        session_id: i64,
    },
    /// The worker's own metrics (Prometheus text exposition, cumulative).
    Metrics(String),
}

/// Who a worker says it is, and what it still holds after a reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub site: String,
    pub hostname: String,
    pub version: String,
    pub capabilities: Vec<String>,
    pub running: Vec<RunningJob>,
    pub sandbox: SandboxState,
    /// Sessions of an earlier run of this worker whose processes were still
    /// alive at its start, and were killed then.
    pub killed_leftovers: Vec<i64>,
}

/// How a worker confines its sessions, as it says in its hello.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxState {
    /// `bwrap`, `off` or `unavailable`; empty from a worker too old to say.
    pub kind: String,
    pub detail: String,
}

impl SandboxState {
    /// Sessions on this worker run without the operating system's confinement.
    pub fn is_unsandboxed(&self) -> bool {
        self.kind != "bwrap"
    }
}

/// A session a worker still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunningJob {
    pub session_id: SessionId,
    pub last_seq: i64,
    /// Its end is known but not yet acknowledged.
    pub finished: bool,
}

/// Everything up to `upto_seq` of a session is stored; with `finished`, its
/// end is recorded too and the worker may forget the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub session_id: SessionId,
    pub upto_seq: i64,
    pub finished: bool,
}

/// One line the CLI printed, numbered by the worker from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamLine {
    pub seq: i64,
    pub ts_ms: i64,
    pub line: String,
}

/// Lines of one session, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputBatch {
    pub session_id: SessionId,
    pub lines: Vec<StreamLine>,
}

/// How a session ended, as the worker saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionReport {
    pub session_id: SessionId,
    pub status: SessionStatus,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    /// The last output line's sequence number.
    pub last_seq: i64,
    /// When the worker saw the end; `None` if it did not say.
    pub ended_at_ms: Option<i64>,
    pub cost_usd: f64,
    pub turns: i64,
    /// How long the CLI said it ran.
    pub duration_ms: i64,
    pub result: Option<String>,
    /// The structured response, when the CLI produced valid JSON.
    pub structured: Option<Value>,
    /// What the worker's model proxy and Docker filter counted.
    pub metering: Metering,
}

/// What a session's model proxy and Docker filter counted on the worker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metering {
    pub requests: u64,
    pub refused: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cost_usd: f64,
    pub request_bytes_total: u64,
    pub request_bytes_max: u64,
    pub docker_forwarded: u64,
    pub docker_refused: u64,
    /// Why a cost cap stopped the session; `None` when none did.
    pub capped: Option<String>,
}

/// A typed action asks for a slot in the cooldown ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRequest {
    /// The worker's own number for matching the answer.
    pub request_id: u64,
    pub session_id: SessionId,
    /// `restart` or `redeploy` (checked by the ledger).
    pub kind: String,
    pub service: String,
    pub args_json: String,
    /// The W3C `traceparent` of the action asking; `None` when untraced.
    pub traceparent: Option<String>,
}

/// The ledger's answer to a [`LedgerRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerAnswer {
    pub request_id: u64,
    pub granted: bool,
    /// The ledger entry to finish, when granted.
    pub action_id: i64,
    /// Why not, when refused: shown to the model.
    pub reason: String,
    /// When the next slot opens, if the limit was the reason.
    pub next_allowed_ms: Option<i64>,
}

/// A granted action ran; how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionDone {
    pub action_id: i64,
    pub ok: bool,
    pub result: String,
    pub duration_ms: i64,
}

/// A worker's probe attempts since its last report.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReport {
    pub attempts: Vec<ProbeAttempt>,
    /// `probe_names` is every probe the worker runs now (others are retired).
    pub complete_set: bool,
    pub probe_names: Vec<String>,
}

/// The probes added from the dashboard for a worker's site: the whole set, each a
/// probe spec as JSON (paused ones left out), sent on every change and connect.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProbeSet {
    pub probes: Vec<String>,
    /// Grows with every change.
    pub version: u64,
}

/// The control plane asks for these probes to run again now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReprobeRequest {
    pub request_id: u64,
    pub probes: Vec<String>,
}

/// A worker's answer to a [`ReprobeRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReprobeResult {
    pub request_id: u64,
    pub attempts: Vec<ProbeAttempt>,
    /// Probes the worker does not know.
    pub unknown: Vec<String>,
}
