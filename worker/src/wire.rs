//! The worker's edge of the wire: every conversion between protobuf messages
//! and the domain types of `claudeops_core::link`.
//!
//! Why it exists: the link's owner task, the job runner and the probe loop
//! speak domain types; only the stream to the control plane (`link.rs`'s
//! connection) sees protobuf. A message the worker cannot read (a job for an
//! unknown tier, say) is a [`WireError`] here, answered by failing that job
//! with the reason, never by guessing.

use std::time::Duration;

use claudeops_core::health::{ProbeAttempt, ProbeState};
use claudeops_core::link::{
    Ack, FromWorker, Hello, Job, LedgerAnswer, Metering, ProbeSet, ReprobeRequest, SessionReport,
    ToWorker,
};
use claudeops_core::{SessionStatus, Tier, Trigger};
use claudeops_proto::v1::{self as pb, WorkerMessage, control_message, worker_message};

/// Why a message from the control plane could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("a message without a body")]
    Empty,
    #[error("the job for session #{session_id} cannot run: {reason}")]
    BadJob { session_id: i64, reason: String },
}

/// Reads one message from the control plane.
pub fn from_control(msg: pb::ControlMessage) -> Result<ToWorker, WireError> {
    use control_message::Body;
    Ok(match msg.body.ok_or(WireError::Empty)? {
        Body::Welcome(w) => ToWorker::Welcome {
            worker_id: w.worker_id,
            heartbeat_interval: Duration::from_secs(u64::from(w.heartbeat_interval_secs)),
        },
        Body::RunJob(run) => ToWorker::Run(job(run)?),
        Body::CancelJob(c) => ToWorker::Cancel {
            session_id: c.session_id,
            reason: c.reason,
        },
        Body::Ack(a) => ToWorker::Ack(Ack {
            session_id: a.session_id,
            upto_seq: a.upto_seq,
            finished: a.finished,
        }),
        Body::LedgerAnswer(a) => ToWorker::LedgerAnswer(LedgerAnswer {
            request_id: a.request_id,
            granted: a.granted,
            action_id: a.action_id,
            reason: a.reason,
            next_allowed_ms: (a.next_allowed_ms > 0).then_some(a.next_allowed_ms),
        }),
        Body::Reprobe(r) => ToWorker::Reprobe(ReprobeRequest {
            request_id: r.request_id,
            probes: r.probes,
        }),
        Body::ProbeSet(set) => ToWorker::ProbeSet(ProbeSet {
            probes: set.probes,
            version: set.version,
        }),
    })
}

fn job(run: pb::RunJob) -> Result<Job, WireError> {
    let bad = |reason: String| WireError::BadJob {
        session_id: run.session_id,
        reason,
    };
    let tier = Tier::try_from(i64::from(run.tier)).map_err(|e| bad(e.to_string()))?;
    let trigger = run
        .trigger
        .parse::<Trigger>()
        .map_err(|e| bad(e.to_string()))?;
    Ok(Job {
        session_id: run.session_id,
        tier,
        model: run.model,
        prompt: run.prompt,
        handoff: run.handoff,
        trigger,
        max_budget_usd: run.max_budget_usd,
        timeout: Duration::from_secs(u64::from(run.timeout_secs)),
        dry_run: run.dry_run,
        extra_allowed_tools: run.extra_allowed_tools,
        extra_disallowed_tools: run.extra_disallowed_tools,
        memories: run.memories,
        models: run.models,
        daily_left_usd: run.daily_left_usd,
        traceparent: Some(run.traceparent).filter(|t| !t.is_empty()),
    })
}

/// Writes one message to the control plane.
/// `msg` with every secret `redactor` knows replaced, in every text it carries
/// (output lines, results, errors, the structured response, action arguments
/// and results, probe messages and evidence, the inventory).
pub fn redacted(msg: FromWorker, redactor: &crate::browser::Redactor) -> FromWorker {
    if redactor.is_empty() {
        return msg;
    }
    let text = |s: &mut String| {
        redactor.redact_in_place(s);
    };
    let attempts = |attempts: &mut Vec<claudeops_core::health::ProbeAttempt>| {
        for a in attempts {
            redactor.redact_in_place(&mut a.message);
            redactor.redact_in_place(&mut a.evidence);
        }
    };
    match msg {
        FromWorker::Output(mut batch) => {
            batch.lines.iter_mut().for_each(|l| text(&mut l.line));
            FromWorker::Output(batch)
        }
        FromWorker::Finished(mut report) => {
            report.error.iter_mut().for_each(text);
            report.result.iter_mut().for_each(text);
            if let Some(structured) = report.structured.as_mut() {
                redactor.redact_json(structured);
            }
            FromWorker::Finished(report)
        }
        FromWorker::Reserve(mut request) => {
            text(&mut request.args_json);
            FromWorker::Reserve(request)
        }
        FromWorker::ActionDone(mut done) => {
            text(&mut done.result);
            FromWorker::ActionDone(done)
        }
        FromWorker::Probes(mut report) => {
            attempts(&mut report.attempts);
            FromWorker::Probes(report)
        }
        FromWorker::Reprobed(mut result) => {
            attempts(&mut result.attempts);
            FromWorker::Reprobed(result)
        }
        FromWorker::Inventory(mut inventory) => {
            text(&mut inventory);
            FromWorker::Inventory(inventory)
        }
        other => other,
    }
}

pub fn to_control(msg: FromWorker) -> WorkerMessage {
    use worker_message::Body;
    let body = match msg {
        FromWorker::Hello(h) => Body::Hello(hello(h)),
        FromWorker::Heartbeat { sent_at_ms } => Body::Heartbeat(pb::Heartbeat { sent_at_ms }),
        FromWorker::Output(o) => Body::Output(pb::SessionOutput {
            session_id: o.session_id,
            lines: o
                .lines
                .into_iter()
                .map(|l| pb::OutputLine {
                    seq: l.seq,
                    ts_ms: l.ts_ms,
                    line: l.line,
                })
                .collect(),
        }),
        FromWorker::Finished(report) => Body::Finished(finished(report)),
        FromWorker::Reserve(r) => Body::Reserve(pb::LedgerReserve {
            request_id: r.request_id,
            session_id: r.session_id,
            kind: r.kind,
            service: r.service,
            args_json: r.args_json,
            traceparent: r.traceparent.unwrap_or_default(),
        }),
        FromWorker::ActionDone(d) => Body::FinishAction(pb::LedgerFinish {
            action_id: d.action_id,
            ok: d.ok,
            result: d.result,
            duration_ms: d.duration_ms,
        }),
        FromWorker::Probes(p) => Body::Probes(pb::ProbeReport {
            results: p.attempts.into_iter().map(attempt).collect(),
            complete_set: p.complete_set,
            probe_names: p.probe_names,
        }),
        FromWorker::Metrics(exposition) => Body::Metrics(pb::WorkerMetrics { exposition }),
        FromWorker::Inventory(inventory_json) => {
            Body::Inventory(pb::InventoryReport { inventory_json })
        }
        FromWorker::Reprobed(r) => Body::ReprobeResult(pb::ReprobeResult {
            request_id: r.request_id,
            results: r.attempts.into_iter().map(attempt).collect(),
            unknown: r.unknown,
        }),
        FromWorker::Accepted { session_id } => Body::Accepted(pb::JobAccepted { session_id }),
    };
    WorkerMessage { body: Some(body) }
}

fn hello(h: Hello) -> pb::Hello {
    pb::Hello {
        site: h.site,
        hostname: h.hostname,
        version: h.version,
        capabilities: h.capabilities,
        running: h
            .running
            .into_iter()
            .map(|j| pb::RunningJob {
                session_id: j.session_id,
                last_seq: j.last_seq,
                finished: j.finished,
            })
            .collect(),
        sandbox: Some(pb::SandboxState {
            kind: h.sandbox.kind,
            detail: h.sandbox.detail,
        }),
        killed_leftovers: h.killed_leftovers,
    }
}

fn finished(r: SessionReport) -> pb::SessionFinished {
    let status = match r.status {
        SessionStatus::Completed => pb::FinishStatus::Completed,
        SessionStatus::TimedOut => pb::FinishStatus::TimedOut,
        SessionStatus::Stopped => pb::FinishStatus::Stopped,
        SessionStatus::Failed | SessionStatus::Running => pb::FinishStatus::Failed,
    };
    pb::SessionFinished {
        session_id: r.session_id,
        status: status.into(),
        exit_code: r.exit_code,
        error: r.error.unwrap_or_default(),
        last_seq: r.last_seq,
        ended_at_ms: r.ended_at_ms.unwrap_or(0),
        cost_usd: r.cost_usd,
        turns: r.turns,
        duration_ms: r.duration_ms,
        result: r.result.unwrap_or_default(),
        structured_output_json: r.structured.map(|v| v.to_string()).unwrap_or_default(),
        metering: Some(metering(r.metering)),
    }
}

fn metering(m: Metering) -> pb::Metering {
    pb::Metering {
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
        capped: m.capped.unwrap_or_default(),
    }
}

fn attempt(a: ProbeAttempt) -> pb::ProbeResult {
    let state = match a.state {
        ProbeState::Up => pb::ProbeState::Up,
        ProbeState::Down => pb::ProbeState::Down,
        ProbeState::Unknown => pb::ProbeState::Unknown,
    };
    pb::ProbeResult {
        probe: a.probe,
        service: a.service,
        kind: a.kind,
        ok: a.ok,
        latency_ms: a.latency_ms,
        message: a.message,
        evidence: a.evidence,
        at_ms: a.at_ms,
        state: state.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_job(tier: u32, trigger: &str) -> pb::ControlMessage {
        pb::ControlMessage {
            body: Some(control_message::Body::RunJob(pb::RunJob {
                session_id: 5,
                tier,
                trigger: trigger.into(),
                timeout_secs: 60,
                ..Default::default()
            })),
        }
    }

    #[test]
    fn a_job_for_an_unknown_tier_or_trigger_names_its_session() {
        for (tier, trigger) in [(7, "api"), (0, "api"), (1, "gossip")] {
            match from_control(run_job(tier, trigger)) {
                Err(WireError::BadJob {
                    session_id: 5,
                    reason,
                }) => assert!(!reason.is_empty()),
                other => panic!("tier {tier} trigger {trigger}: {other:?}"),
            }
        }
        let Ok(ToWorker::Run(job)) = from_control(run_job(2, "incident")) else {
            panic!("a good job was refused");
        };
        assert_eq!(
            (job.tier, job.trigger, job.timeout),
            (
                Tier::Investigate,
                Trigger::Incident,
                Duration::from_secs(60)
            )
        );
        assert_eq!(
            from_control(pb::ControlMessage { body: None }),
            Err(WireError::Empty)
        );
    }

    #[test]
    fn a_report_keeps_its_status_and_absent_fields_read_as_empty() {
        let msg = to_control(FromWorker::Finished(SessionReport {
            session_id: 3,
            status: SessionStatus::TimedOut,
            exit_code: None,
            error: None,
            last_seq: 12,
            ended_at_ms: Some(99),
            cost_usd: 0.5,
            turns: 2,
            duration_ms: 7,
            result: None,
            structured: Some(serde_json::json!({"summary": "x"})),
            metering: Metering {
                requests: 4,
                output_tokens: 900,
                cost_usd: 0.25,
                docker_refused: 2,
                capped: Some("the session cap".into()),
                ..Metering::default()
            },
        }));
        let Some(worker_message::Body::Finished(f)) = msg.body else {
            panic!("not a report");
        };
        assert_eq!(f.status, pb::FinishStatus::TimedOut as i32);
        assert_eq!((f.last_seq, f.ended_at_ms, f.error.as_str()), (12, 99, ""));
        assert_eq!(f.structured_output_json, r#"{"summary":"x"}"#);
        let m = f.metering.unwrap_or_default();
        assert_eq!((m.requests, m.output_tokens, m.docker_refused), (4, 900, 2));
        assert_eq!(m.capped, "the session cap");
    }
}
