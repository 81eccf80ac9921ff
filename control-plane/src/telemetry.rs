//! What the control plane tells the observability stack about sessions and
//! chains: their trace spans and their metrics. Pure translation of domain
//! values; the callers decide when.
//!
//! One trace per escalation chain. Its root span is the chain (from the first
//! session's start to the end of the last), each session a child of it, and
//! the worker's spans children of the session (the session's `traceparent`
//! goes with its job). The ids are chosen when a session starts and kept in
//! the store with it, so an escalated session joins its parent's trace even
//! after a restart of the control plane, and both spans are recorded whole
//! when they end ([`SpanRecord`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use claudeops_core::link::Metering;
use claudeops_core::{Session, SessionTrace};
use claudeops_telemetry::trace::{self, TraceContext};
use claudeops_telemetry::{SpanRecord, names};
use opentelemetry::trace::SpanId;

/// Runs a store call and records how long it took under `op`.
pub async fn timed<T>(op: &'static str, call: impl std::future::Future<Output = T>) -> T {
    let started = std::time::Instant::now();
    let out = call.await;
    metrics::histogram!(names::STORE_QUERY, "op" => op).record(started.elapsed().as_secs_f64());
    out
}

/// The trace place of a new session: in its parent's chain when it has a
/// traced parent, else the first session of a new chain. `None` when tracing
/// is off.
pub fn new_session_trace(parent: Option<&Session>) -> Option<SessionTrace> {
    if !trace::enabled() {
        return None;
    }
    let inherited = parent.and_then(|p| p.trace.as_ref()).and_then(|t| {
        Some((
            TraceContext::parse(&t.traceparent).ok()?,
            t.chain_span_id.clone(),
        ))
    });
    let (session, chain_span_id) = match inherited {
        Some((parent_span, chain)) => (parent_span.child(), chain),
        None => {
            let chain = TraceContext::new_root("chain");
            (chain.child(), chain.span_id.to_string())
        }
    };
    Some(SessionTrace {
        traceparent: session.traceparent(),
        chain_span_id,
    })
}

fn time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn place(session: &Session) -> Option<(TraceContext, SpanId)> {
    let t = session.trace.as_ref()?;
    let cx = TraceContext::parse(&t.traceparent).ok()?;
    let chain = SpanId::from_hex(&t.chain_span_id).ok()?;
    Some((cx, chain))
}

/// The session's span, recorded when it ended.
pub fn session_ended(session: &Session) {
    let labels = [
        ("site", session.site.to_string()),
        ("tier", session.tier.number().to_string()),
    ];
    metrics::counter!(
        names::SESSIONS_FINISHED,
        "site" => session.site.to_string(),
        "tier" => session.tier.number().to_string(),
        "trigger" => session.trigger.to_string(),
        "status" => session.status.to_string(),
    )
    .increment(1);
    let ended = session.ended_at_ms.unwrap_or(session.started_at_ms);
    let seconds = (ended - session.started_at_ms).max(0) as f64 / 1000.0;
    metrics::histogram!(names::SESSION_DURATION, &labels).record(seconds);
    metrics::histogram!(names::SESSION_COST, &labels).record(session.cost_usd);
    metrics::histogram!(names::SESSION_TURNS, &labels).record(session.turns as f64);
    let Some((cx, chain)) = place(session) else {
        return;
    };
    let mut span = SpanRecord::new(
        format!("session tier {}", session.tier.number()),
        cx,
        Some(chain),
        time(session.started_at_ms),
        time(ended),
    )
    .attr("claudeops.session", session.id)
    .attr("claudeops.site", session.site.to_string())
    .attr("claudeops.tier", i64::from(session.tier.number()))
    .attr("gen_ai.request.model", session.model.clone())
    .attr(
        "claudeops.worker",
        session.worker_id.clone().unwrap_or_default(),
    )
    .attr("claudeops.trigger", session.trigger.to_string())
    .attr("claudeops.status", session.status.to_string())
    .attr("claudeops.cost_usd", session.cost_usd)
    .attr("claudeops.turns", session.turns);
    if !matches!(
        session.status,
        claudeops_core::SessionStatus::Completed | claudeops_core::SessionStatus::Stopped
    ) {
        span.error = Some(
            session
                .error
                .clone()
                .unwrap_or_else(|| session.status.to_string()),
        );
    }
    span.record();
}

/// A session started (it counts once its worker holds the job, but the
/// counter is of starts asked for, like the original's).
pub fn session_started(session: &Session) {
    metrics::counter!(
        names::SESSIONS_STARTED,
        "site" => session.site.to_string(),
        "tier" => session.tier.number().to_string(),
        "trigger" => session.trigger.to_string(),
    )
    .increment(1);
}

/// Tokens the worker's model proxy metered for a session.
pub fn tokens(model: &str, metering: &Metering) {
    for (direction, n) in [
        ("input", metering.input_tokens),
        ("output", metering.output_tokens),
        ("cache_read", metering.cache_read_input_tokens),
        ("cache_creation", metering.cache_creation_input_tokens),
    ] {
        if n > 0 {
            metrics::counter!(names::MODEL_TOKENS, "model" => model.to_owned(), "direction" => direction)
                .increment(n);
        }
    }
}

/// How a chain ended, for its root span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainEnd {
    /// The last session was done and there was nothing to verify.
    Done,
    /// The probes verified the fix.
    Verified,
    NeedsHuman,
    /// The operator stopped a session.
    Stopped,
}

impl ChainEnd {
    fn as_str(self) -> &'static str {
        match self {
            ChainEnd::Done => "done",
            ChainEnd::Verified => "verified",
            ChainEnd::NeedsHuman => "needs_human",
            ChainEnd::Stopped => "stopped",
        }
    }
}

/// The chain's root span, recorded when its last session's aftermath is
/// over. `chain` is newest first (`Sessions::chain`).
pub fn chain_ended(chain: &[Session], incidents: &[i64], end: ChainEnd, at_ms: i64) {
    let (Some(last), Some(first)) = (chain.first(), chain.last()) else {
        return;
    };
    let Some((cx, chain_span)) = place(last) else {
        return;
    };
    let root = TraceContext {
        span_id: chain_span,
        ..cx
    };
    let cost: f64 = chain.iter().map(|s| s.cost_usd).sum();
    let mut span = SpanRecord::new(
        format!("chain {}", first.trigger),
        root,
        None,
        time(first.started_at_ms),
        time(at_ms),
    )
    .attr("claudeops.site", last.site.to_string())
    .attr("claudeops.trigger", first.trigger.to_string())
    .attr("claudeops.sessions", chain.len() as i64)
    .attr("claudeops.first_session", first.id)
    .attr("claudeops.last_session", last.id)
    .attr("claudeops.highest_tier", i64::from(last.tier.number()))
    .attr("claudeops.cost_usd", cost)
    .attr("claudeops.outcome", end.as_str());
    if !incidents.is_empty() {
        span = span.attr(
            "claudeops.incidents",
            opentelemetry::Value::Array(opentelemetry::Array::I64(incidents.to_vec())),
        );
    }
    if end == ChainEnd::NeedsHuman {
        span.error = Some("needs human attention".into());
    }
    span.record();
}

/// The link to a trace, from `CLAUDEOPS_TRACE_URL_TEMPLATE`.
pub fn trace_url(template: Option<&str>, session: &Session) -> Option<String> {
    let id = session.trace_id()?;
    Some(template?.replace("{trace_id}", id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_is_built_from_the_template() {
        let session = Session {
            trace: Some(SessionTrace {
                traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
                chain_span_id: "1111111111111111".into(),
            }),
            id: 7,
            site: claudeops_core::SiteName::new("home").unwrap_or_else(|e| panic!("{e}")),
            worker_id: None,
            tier: claudeops_core::Tier::Observe,
            model: "haiku".into(),
            trigger: claudeops_core::Trigger::Manual,
            status: claudeops_core::SessionStatus::Completed,
            prompt: None,
            parent_id: None,
            started_at_ms: 0,
            ended_at_ms: Some(1),
            cost_usd: 0.0,
            turns: 1,
            exit_code: Some(0),
            response: None,
            structured: None,
            error: None,
        };
        assert_eq!(
            trace_url(Some("http://198.51.100.7:16686/trace/{trace_id}"), &session).as_deref(),
            Some("http://198.51.100.7:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(trace_url(None, &session), None);
        let untraced = Session {
            trace: None,
            ..session
        };
        assert_eq!(trace_url(Some("x/{trace_id}"), &untraced), None);
    }
}
