//! Sessions: one run of the `claude` CLI at one tier on one site's worker.

use serde::{Deserialize, Serialize};

use crate::{SiteName, Tier};

pub type SessionId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Running,
    Completed,
    Failed,
    TimedOut,
    Stopped,
}

/// What started a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The per-site interval timer.
    Scheduled,
    /// Run Now in the dashboard.
    Manual,
    /// `POST /api/v1/sessions/trigger`.
    Api,
    /// A probe went down and opened an incident.
    Incident,
    /// The previous tier asked for escalation.
    Escalation,
    /// An alert arrived on the webhook.
    Webhook,
    /// A question from a chat client (OpenAI- or Ollama-compatible endpoint).
    Chat,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
}

names!(SessionStatus, "session status", {
    Running => "running",
    Completed => "completed",
    Failed => "failed",
    TimedOut => "timed_out",
    Stopped => "stopped",
});

names!(Trigger, "trigger", {
    Scheduled => "scheduled",
    Manual => "manual",
    Api => "api",
    Incident => "incident",
    Escalation => "escalation",
    Webhook => "webhook",
    Chat => "chat",
});

impl SessionStatus {
    pub fn is_finished(self) -> bool {
        self != SessionStatus::Running
    }
}

/// A session as the store keeps it. Times are unix milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub site: SiteName,
    pub worker_id: Option<String>,
    pub tier: Tier,
    pub model: String,
    pub trigger: Trigger,
    pub status: SessionStatus,
    /// The operator's prompt, if the run was started with one.
    pub prompt: Option<String>,
    /// The session that escalated into this one.
    pub parent_id: Option<SessionId>,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub cost_usd: f64,
    pub turns: i64,
    pub exit_code: Option<i32>,
    /// The CLI's final `result` text.
    pub response: Option<String>,
    /// The validated structured response, as JSON.
    pub structured: Option<serde_json::Value>,
    /// Why the session failed, timed out or was stopped, in words for the operator.
    pub error: Option<String>,
    /// Where the session sits in its chain's trace; `None` when untraced.
    pub trace: Option<SessionTrace>,
}

/// A session's place in its escalation chain's trace (OpenTelemetry, W3C
/// trace context), kept as text so this crate stays free of a tracing SDK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTrace {
    /// `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>` of the session's span.
    pub traceparent: String,
    /// The chain's root span id (16 hex), shared by every session of the chain.
    pub chain_span_id: String,
}

impl SessionTrace {
    /// The 32-hex trace id, if the traceparent has the W3C shape.
    pub fn trace_id(&self) -> Option<&str> {
        let id = self.traceparent.get(3..35)?;
        id.bytes().all(|b| b.is_ascii_hexdigit()).then_some(id)
    }
}

impl Session {
    /// Its chain's trace id (32 hex), when traced.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace.as_ref()?.trace_id()
    }

    /// Duration so far (running) or in total (finished), given the current time.
    pub fn duration_ms(&self, now_ms: i64) -> i64 {
        self.ended_at_ms
            .unwrap_or(now_ms)
            .saturating_sub(self.started_at_ms)
            .max(0)
    }
}

/// What is known when a session is created.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub site: SiteName,
    pub worker_id: Option<String>,
    pub tier: Tier,
    pub model: String,
    pub trigger: Trigger,
    pub prompt: Option<String>,
    pub parent_id: Option<SessionId>,
    pub started_at_ms: i64,
    pub trace: Option<SessionTrace>,
}

/// What is known when a session ends.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionOutcome {
    pub status: SessionStatus,
    pub ended_at_ms: i64,
    pub cost_usd: f64,
    pub turns: i64,
    pub exit_code: Option<i32>,
    pub response: Option<String>,
    pub structured: Option<serde_json::Value>,
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in SessionStatus::ALL {
            assert_eq!(s.as_str().parse::<SessionStatus>(), Ok(*s));
        }
        for t in Trigger::ALL {
            assert_eq!(t.as_str().parse::<Trigger>(), Ok(*t));
        }
        assert!("bogus".parse::<Trigger>().is_err());
        assert_eq!(
            serde_json::to_string(&SessionStatus::TimedOut).unwrap_or_default(),
            "\"timed_out\""
        );
    }
}
