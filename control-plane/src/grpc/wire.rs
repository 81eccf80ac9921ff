//! The control plane's edge of the wire: every conversion between protobuf
//! messages and the domain types of `claudeops_core::link`.
//!
//! Why it exists: nothing past `grpc/` may see a protobuf type, so a renamed
//! field or a new message changes this file and the link, not sessions,
//! incidents or the ledger. Malformed input from a worker is a [`WireError`]
//! here, answered at the link, never a silent default deeper in.
//!
//! Free functions rather than `From` impls: both sides of each conversion are
//! foreign to this crate (orphan rule).

use claudeops_core::SessionStatus;
use claudeops_core::health::{ProbeAttempt, ProbeState};
use claudeops_core::link::{
    ActionDone, Job, LedgerAnswer, LedgerRequest, OutputBatch, ProbeReport, ReprobeRequest,
    ReprobeResult, SessionReport, StreamLine, ToWorker,
};
pub use claudeops_core::link::{FromWorker, Hello, Metering, RunningJob, SandboxState};
use claudeops_proto::v1::{self as pb, ControlMessage, control_message, worker_message};

/// Why a worker's message could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("a message without a body")]
    Empty,
    #[error("session #{session} was reported with an unknown status {status}")]
    UnknownStatus { session: i64, status: i32 },
}

/// Reads one message from a worker.
pub fn from_worker(msg: pb::WorkerMessage) -> Result<FromWorker, WireError> {
    use worker_message::Body;
    Ok(match msg.body.ok_or(WireError::Empty)? {
        Body::Hello(h) => FromWorker::Hello(hello(h)),
        Body::Heartbeat(h) => FromWorker::Heartbeat {
            sent_at_ms: h.sent_at_ms,
        },
        Body::Output(o) => FromWorker::Output(output(o)),
        Body::Finished(f) => FromWorker::Finished(finished(f)?),
        Body::Reserve(r) => FromWorker::Reserve(LedgerRequest {
            request_id: r.request_id,
            session_id: r.session_id,
            kind: r.kind,
            service: r.service,
            args_json: r.args_json,
            traceparent: Some(r.traceparent).filter(|t| !t.is_empty()),
        }),
        Body::FinishAction(f) => FromWorker::ActionDone(ActionDone {
            action_id: f.action_id,
            ok: f.ok,
            result: f.result,
            duration_ms: f.duration_ms,
        }),
        Body::Probes(p) => FromWorker::Probes(ProbeReport {
            attempts: p.results.into_iter().map(attempt).collect(),
            complete_set: p.complete_set,
            probe_names: p.probe_names,
        }),
        Body::Inventory(i) => FromWorker::Inventory(i.inventory_json),
        Body::Metrics(m) => FromWorker::Metrics(m.exposition),
        Body::ReprobeResult(r) => FromWorker::Reprobed(ReprobeResult {
            request_id: r.request_id,
            attempts: r.results.into_iter().map(attempt).collect(),
            unknown: r.unknown,
        }),
        Body::Accepted(a) => FromWorker::Accepted {
            session_id: a.session_id,
        },
    })
}

fn hello(h: pb::Hello) -> Hello {
    Hello {
        site: h.site,
        hostname: h.hostname,
        version: h.version,
        capabilities: h.capabilities,
        running: h
            .running
            .into_iter()
            .map(|j| RunningJob {
                session_id: j.session_id,
                last_seq: j.last_seq,
                finished: j.finished,
            })
            .collect(),
        sandbox: h
            .sandbox
            .map(|s| SandboxState {
                kind: s.kind,
                detail: s.detail,
            })
            .unwrap_or_default(),
        killed_leftovers: h.killed_leftovers,
    }
}

/// The first message of a link, which must be a hello.
pub fn expect_hello(msg: pb::WorkerMessage) -> Option<Hello> {
    match msg.body {
        Some(worker_message::Body::Hello(h)) => Some(hello(h)),
        _ => None,
    }
}

fn output(o: pb::SessionOutput) -> OutputBatch {
    OutputBatch {
        session_id: o.session_id,
        lines: o
            .lines
            .into_iter()
            .map(|l| StreamLine {
                seq: l.seq,
                ts_ms: l.ts_ms,
                line: l.line,
            })
            .collect(),
    }
}

fn finished(f: pb::SessionFinished) -> Result<SessionReport, WireError> {
    let status = match pb::FinishStatus::try_from(f.status) {
        Ok(pb::FinishStatus::Completed) => SessionStatus::Completed,
        Ok(pb::FinishStatus::TimedOut) => SessionStatus::TimedOut,
        Ok(pb::FinishStatus::Stopped) => SessionStatus::Stopped,
        Ok(pb::FinishStatus::Failed) => SessionStatus::Failed,
        Ok(pb::FinishStatus::Unspecified) | Err(_) => {
            return Err(WireError::UnknownStatus {
                session: f.session_id,
                status: f.status,
            });
        }
    };
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    Ok(SessionReport {
        session_id: f.session_id,
        status,
        exit_code: f.exit_code,
        error: non_empty(f.error),
        last_seq: f.last_seq,
        ended_at_ms: (f.ended_at_ms > 0).then_some(f.ended_at_ms),
        cost_usd: f.cost_usd,
        turns: f.turns,
        duration_ms: f.duration_ms,
        result: non_empty(f.result),
        // A response that is not JSON counts as no structured response; the
        // escalation rules treat that as invalid.
        structured: non_empty(f.structured_output_json)
            .and_then(|json| serde_json::from_str(&json).ok()),
        metering: f.metering.map(metering).unwrap_or_default(),
    })
}

fn metering(m: pb::Metering) -> Metering {
    Metering {
        requests: m.requests,
        refused: m.refused,
        input_tokens: m.input_tokens,
        output_tokens: m.output_tokens,
        cache_creation_input_tokens: m.cache_creation_input_tokens,
        cache_read_input_tokens: m.cache_read_input_tokens,
        cost_usd: m.cost_usd,
        request_bytes_total: m.request_bytes_total,
        request_bytes_max: m.request_bytes_max,
        docker_forwarded: m.docker_forwarded,
        docker_refused: m.docker_refused,
        capped: (!m.capped.is_empty()).then_some(m.capped),
    }
}

fn attempt(r: pb::ProbeResult) -> ProbeAttempt {
    let state = match pb::ProbeState::try_from(r.state) {
        Ok(pb::ProbeState::Up) => ProbeState::Up,
        Ok(pb::ProbeState::Down) => ProbeState::Down,
        _ => ProbeState::Unknown,
    };
    ProbeAttempt {
        probe: r.probe,
        service: r.service,
        kind: r.kind,
        ok: r.ok,
        latency_ms: r.latency_ms,
        message: r.message,
        evidence: r.evidence,
        at_ms: r.at_ms,
        state,
    }
}

/// Writes one message to a worker.
pub fn to_worker(msg: ToWorker) -> ControlMessage {
    use control_message::Body;
    let body = match msg {
        ToWorker::Welcome {
            worker_id,
            heartbeat_interval,
        } => Body::Welcome(pb::Welcome {
            worker_id,
            heartbeat_interval_secs: u32::try_from(heartbeat_interval.as_secs())
                .unwrap_or(u32::MAX),
        }),
        ToWorker::Run(job) => Body::RunJob(run_job(job)),
        ToWorker::Cancel { session_id, reason } => {
            Body::CancelJob(pb::CancelJob { session_id, reason })
        }
        ToWorker::Ack(ack) => Body::Ack(pb::Ack {
            session_id: ack.session_id,
            upto_seq: ack.upto_seq,
            finished: ack.finished,
        }),
        ToWorker::LedgerAnswer(a) => Body::LedgerAnswer(ledger_answer(a)),
        ToWorker::Reprobe(ReprobeRequest { request_id, probes }) => {
            Body::Reprobe(pb::Reprobe { request_id, probes })
        }
        ToWorker::ProbeSet(set) => Body::ProbeSet(pb::ProbeSet {
            probes: set.probes,
            version: set.version,
        }),
    };
    ControlMessage { body: Some(body) }
}

fn run_job(job: Job) -> pb::RunJob {
    pb::RunJob {
        session_id: job.session_id,
        tier: u32::from(job.tier.number()),
        model: job.model,
        prompt: job.prompt,
        handoff: job.handoff,
        trigger: job.trigger.to_string(),
        max_budget_usd: job.max_budget_usd,
        timeout_secs: u32::try_from(job.timeout.as_secs()).unwrap_or(u32::MAX),
        dry_run: job.dry_run,
        extra_allowed_tools: job.extra_allowed_tools,
        extra_disallowed_tools: job.extra_disallowed_tools,
        memories: job.memories,
        models: job.models,
        daily_left_usd: job.daily_left_usd,
        traceparent: job.traceparent.unwrap_or_default(),
    }
}

fn ledger_answer(a: LedgerAnswer) -> pb::LedgerAnswer {
    pb::LedgerAnswer {
        request_id: a.request_id,
        granted: a.granted,
        action_id: a.action_id,
        reason: a.reason,
        next_allowed_ms: a.next_allowed_ms.unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_finished_session_with_an_unknown_status_is_a_typed_error() {
        let msg = pb::WorkerMessage {
            body: Some(worker_message::Body::Finished(pb::SessionFinished {
                session_id: 4,
                status: 99,
                ..Default::default()
            })),
        };
        assert_eq!(
            from_worker(msg),
            Err(WireError::UnknownStatus {
                session: 4,
                status: 99
            })
        );
        assert_eq!(
            from_worker(pb::WorkerMessage { body: None }),
            Err(WireError::Empty)
        );
    }

    #[test]
    fn a_report_reads_empty_strings_as_absent_and_bad_json_as_no_response() {
        let msg = pb::WorkerMessage {
            body: Some(worker_message::Body::Finished(pb::SessionFinished {
                session_id: 1,
                status: pb::FinishStatus::Completed as i32,
                structured_output_json: "{not json".into(),
                result: "done".into(),
                ended_at_ms: 0,
                ..Default::default()
            })),
        };
        let Ok(FromWorker::Finished(report)) = from_worker(msg) else {
            panic!("not a report");
        };
        assert_eq!(report.status, SessionStatus::Completed);
        assert_eq!(report.structured, None);
        assert_eq!(report.error, None);
        assert_eq!(report.ended_at_ms, None);
        assert_eq!(report.result.as_deref(), Some("done"));
    }

    #[test]
    fn a_job_keeps_every_field_on_the_wire() {
        let job = Job {
            session_id: 9,
            tier: claudeops_core::Tier::Investigate,
            model: "sonnet".into(),
            prompt: "p".into(),
            handoff: "h".into(),
            trigger: claudeops_core::Trigger::Escalation,
            max_budget_usd: 1.5,
            timeout: Duration::from_secs(600),
            dry_run: true,
            extra_allowed_tools: vec!["A".into()],
            extra_disallowed_tools: vec!["B".into()],
            memories: "m".into(),
            models: vec!["haiku".into(), "sonnet".into()],
            daily_left_usd: Some(2.5),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        };
        let ControlMessage {
            body: Some(control_message::Body::RunJob(wire)),
        } = to_worker(ToWorker::Run(job))
        else {
            panic!("not a job");
        };
        assert_eq!(
            (
                wire.session_id,
                wire.tier,
                wire.trigger.as_str(),
                wire.timeout_secs
            ),
            (9, 2, "escalation", 600)
        );
        assert!(wire.dry_run);
        assert_eq!(wire.extra_allowed_tools, ["A"]);
        assert_eq!(wire.memories, "m");
        assert_eq!(wire.models, ["haiku", "sonnet"]);
        assert_eq!(wire.daily_left_usd, Some(2.5));
        assert_eq!(
            wire.traceparent,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
    }
}
