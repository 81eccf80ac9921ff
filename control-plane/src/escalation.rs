//! What happens after a session ends: its structured response is validated
//! against the agent-response schema, and the decision is made here, in code:
//! done, escalate to the next tier with a handoff, or "needs human attention".
//!
//! The decision is a pure function ([`decide`]); applying it (events, memories,
//! the next session) is `after_session.rs`. This module does no I/O and imports
//! no other module of the crate.

use claudeops_core::{Session, SessionStatus, Tier};
use serde::Deserialize;
use serde_json::Value;

/// The agent-response schema, as shipped (`schemas/agent-response.json`).
pub const BUILTIN_SCHEMA: &str = include_str!("../../schemas/agent-response.json");

/// A validated structured response.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct AgentResponse {
    pub summary: String,
    #[serde(default)]
    pub events: Vec<ResponseEvent>,
    #[serde(default)]
    pub memories: Vec<ResponseMemory>,
    pub escalation: Escalation,
    #[serde(default)]
    pub services_checked: Vec<ServiceChecked>,
    #[serde(default)]
    pub actions_taken: Vec<ActionTaken>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ResponseEvent {
    pub level: String,
    pub service: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ResponseMemory {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Escalation {
    pub needed: bool,
    pub reason: Option<String>,
    pub context: Option<String>,
    #[serde(default)]
    pub failed_checks: Vec<String>,
}

/// One service the agent looked at. The original named it `name` and had
/// `unreachable` among the statuses; both are accepted ([`normalize`]).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ServiceChecked {
    pub service: String,
    pub status: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ActionTaken {
    pub action: String,
    pub target: String,
    pub result: String,
}

/// Validates structured responses against the schema.
pub struct ResponseValidator {
    validator: jsonschema::Validator,
}

impl ResponseValidator {
    pub fn new(schema: &str) -> anyhow::Result<ResponseValidator> {
        let schema: Value = serde_json::from_str(schema)?;
        let validator = jsonschema::draft202012::new(&schema)
            .map_err(|e| anyhow::anyhow!("the agent-response schema is invalid: {e}"))?;
        Ok(ResponseValidator { validator })
    }

    /// The response, or every reason it is not valid.
    pub fn validate(&self, value: Option<&Value>) -> Result<AgentResponse, Vec<String>> {
        let Some(value) = value else {
            return Err(vec![
                "the session ended without a structured response".to_owned(),
            ]);
        };
        let errors: Vec<String> = self
            .validator
            .iter_errors(value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        serde_json::from_value(normalize(value)).map_err(|e| vec![e.to_string()])
    }
}

/// The original's shape in this system's names: `services_checked[].name`
/// becomes `service` when `service` is absent. Anything else the schema let
/// through is read as it is (unknown fields are ignored).
pub fn normalize(value: &Value) -> Value {
    let mut value = value.clone();
    if let Some(items) = value
        .get_mut("services_checked")
        .and_then(Value::as_array_mut)
    {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            if !item.contains_key("service")
                && let Some(name) = item.remove("name")
            {
                item.insert("service".to_owned(), name);
            } else {
                item.remove("name");
            }
        }
    }
    value
}

/// What to do after a session.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Nothing more to run.
    Done,
    /// Start the next tier with this handoff.
    Escalate { tier: Tier, handoff: String },
    /// Stop and tell a human, with the reason.
    NeedsHuman { cause: Cause, reason: String },
}

/// Why a human must step in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The session failed, timed out or could not start.
    SessionFailed,
    /// The structured response did not validate.
    InvalidResponse,
    /// The highest tier allowed could not resolve it.
    ChainExhausted,
    /// The chain reached CLAUDEOPS_MAX_CHAIN_COST_USD.
    CostCap,
    /// The cooldown ledger refused another remediation.
    CooldownExceeded,
    /// Re-running the probes after a fix showed it did not work.
    NotVerified,
}

/// The limits a chain runs under.
#[derive(Debug, Clone, Copy)]
pub struct ChainLimits {
    pub max_tier: Tier,
    /// 0 means no cap.
    pub max_chain_cost_usd: f64,
}

/// Decides what follows a finished session. `chain_cost` includes this session.
pub fn decide(
    session: &Session,
    response: &Result<AgentResponse, Vec<String>>,
    chain_cost: f64,
    limits: ChainLimits,
) -> Next {
    if session.status != SessionStatus::Completed {
        let why = session
            .error
            .clone()
            .unwrap_or_else(|| session.status.to_string());
        return Next::NeedsHuman {
            cause: Cause::SessionFailed,
            reason: format!(
                "tier {} session #{} {}: {why}",
                session.tier, session.id, session.status
            ),
        };
    }
    let response = match response {
        Ok(response) => response,
        Err(errors) => {
            return Next::NeedsHuman {
                cause: Cause::InvalidResponse,
                reason: format!(
                    "tier {} session #{} returned an invalid response: {}",
                    session.tier,
                    session.id,
                    errors.join("; ")
                ),
            };
        }
    };
    if !response.escalation.needed {
        return Next::Done;
    }
    let asked = response
        .escalation
        .reason
        .clone()
        .unwrap_or_else(|| "no reason given".to_owned());
    let Some(next) = session.tier.next().filter(|t| *t <= limits.max_tier) else {
        return Next::NeedsHuman {
            cause: Cause::ChainExhausted,
            reason: format!(
                "tier {} could not resolve it and no higher tier may run (CLAUDEOPS_MAX_TIER is {}): {asked}",
                session.tier, limits.max_tier
            ),
        };
    };
    if limits.max_chain_cost_usd > 0.0 && chain_cost >= limits.max_chain_cost_usd {
        return Next::NeedsHuman {
            cause: Cause::CostCap,
            reason: format!(
                "the escalation chain has cost ${chain_cost:.4}, at or over CLAUDEOPS_MAX_CHAIN_COST_USD (${:.2}); tier {next} did not start: {asked}",
                limits.max_chain_cost_usd
            ),
        };
    }
    Next::Escalate {
        tier: next,
        handoff: handoff(session, response),
    }
}

/// The context the next tier starts from: what was found, what failed, what was
/// tried. Built from the response, never from free text the model did not mark.
pub fn handoff(session: &Session, response: &AgentResponse) -> String {
    let mut out = format!(
        "Tier {} (session #{}, {}) escalated to you.\n",
        session.tier, session.id, session.model
    );
    let esc = &response.escalation;
    if let Some(reason) = &esc.reason {
        out.push_str(&format!("Reason: {reason}\n"));
    }
    if !esc.failed_checks.is_empty() {
        out.push_str("Failed checks:\n");
        for check in &esc.failed_checks {
            out.push_str(&format!("- {check}\n"));
        }
    }
    if let Some(context) = &esc.context {
        out.push_str(&format!("Evidence: {context}\n"));
    }
    let troubled: Vec<&ServiceChecked> = response
        .services_checked
        .iter()
        .filter(|s| s.status != "healthy")
        .collect();
    if !troubled.is_empty() {
        out.push_str("Services not healthy:\n");
        for s in troubled {
            let detail = s
                .detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            out.push_str(&format!("- {}: {}{detail}\n", s.service, s.status));
        }
    }
    if !response.actions_taken.is_empty() {
        out.push_str("Actions already taken:\n");
        for a in &response.actions_taken {
            out.push_str(&format!("- {} {}: {}\n", a.action, a.target, a.result));
        }
    }
    out.push_str(&format!("Their summary: {}\n", response.summary));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use claudeops_core::{SiteName, Trigger};
    use serde_json::json;

    fn session(tier: Tier, status: SessionStatus) -> Session {
        Session {
            id: 7,
            site: SiteName::new("home").unwrap_or_else(|e| panic!("{e}")),
            worker_id: None,
            tier,
            model: "haiku".into(),
            trigger: Trigger::Scheduled,
            status,
            prompt: None,
            parent_id: None,
            started_at_ms: 0,
            ended_at_ms: Some(1),
            cost_usd: 0.01,
            turns: 2,
            exit_code: Some(0),
            response: None,
            structured: None,
            error: None,
            trace: None,
        }
    }

    fn validator() -> ResponseValidator {
        ResponseValidator::new(BUILTIN_SCHEMA).unwrap_or_else(|e| panic!("{e}"))
    }

    fn escalating() -> Value {
        json!({
            "summary": "web is down",
            "services_checked": [{"service": "web", "status": "down", "detail": "502"}],
            "escalation": {"needed": true, "reason": "web answers 502", "context": "curl -> 502 three times", "failed_checks": ["http:web"]},
            "actions_taken": [{"action": "inspect", "target": "web", "result": "exited 137"}]
        })
    }

    const LIMITS: ChainLimits = ChainLimits {
        max_tier: Tier::Remediate,
        max_chain_cost_usd: 0.0,
    };

    #[test]
    fn validates_against_the_schema() {
        let v = validator();
        assert!(
            v.validate(Some(
                &json!({"summary": "ok", "escalation": {"needed": false}})
            ))
            .is_ok()
        );
        assert!(v.validate(Some(&escalating())).is_ok());
        let cases = [
            json!({"escalation": {"needed": false}}),
            json!({"summary": "x", "escalation": {"needed": false}, "events": [{"level": "fatal", "message": "m"}]}),
            json!({"summary": "x", "escalation": {"needed": false}, "services_checked": [{"status": "down"}]}),
            json!({"summary": "x", "escalation": {"needed": false}, "services_checked": [{"service": "a", "status": "on fire"}]}),
            json!("just text"),
        ];
        for case in cases {
            assert!(v.validate(Some(&case)).is_err(), "{case}");
        }
        assert!(v.validate(None).is_err());
    }

    /// A response valid under the original's `schemas/agent-response.json`
    /// (`name`, `unreachable`, an escalation with no reason, extra fields).
    #[test]
    fn accepts_the_original_shape() {
        let original = json!({
            "summary": "jellyfin unreachable",
            "events": [{"level": "warning", "service": "jellyfin", "message": "no answer"}],
            "memories": [{"key": "jellyfin:timing", "value": "takes 60s to start"}],
            "escalation": {"needed": true},
            "services_checked": [
                {"name": "jellyfin", "status": "unreachable", "detail": "timeout"},
                {"name": "caddy", "status": "healthy"}
            ],
            "confidence_note": "an extra field the original allowed"
        });
        let response = validator()
            .validate(Some(&original))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(response.services_checked[0].service, "jellyfin");
        assert_eq!(response.services_checked[0].status, "unreachable");
        assert_eq!(response.services_checked[1].service, "caddy");
        assert!(response.escalation.needed);
        assert_eq!(response.escalation.reason, None);
        assert!(matches!(
            decide(
                &session(Tier::Observe, SessionStatus::Completed),
                &Ok(response),
                0.0,
                LIMITS
            ),
            Next::Escalate {
                tier: Tier::Investigate,
                ..
            }
        ));
    }

    #[test]
    fn decides_what_follows() {
        let v = validator();
        let esc = v.validate(Some(&escalating()));
        let calm = v.validate(Some(
            &json!({"summary": "ok", "escalation": {"needed": false}}),
        ));
        let bad = v.validate(Some(&json!({"summary": 3})));
        let t1 = session(Tier::Observe, SessionStatus::Completed);
        assert_eq!(decide(&t1, &calm, 0.01, LIMITS), Next::Done);
        match decide(&t1, &esc, 0.01, LIMITS) {
            Next::Escalate { tier, handoff } => {
                assert_eq!(tier, Tier::Investigate);
                for part in [
                    "web answers 502",
                    "http:web",
                    "curl -> 502",
                    "web: down (502)",
                    "inspect web: exited 137",
                ] {
                    assert!(handoff.contains(part), "{part} missing from {handoff}");
                }
            }
            other => panic!("{other:?}"),
        }
        let needs_human = |next: Next| matches!(next, Next::NeedsHuman { .. });
        assert!(
            needs_human(decide(&t1, &bad, 0.01, LIMITS)),
            "invalid response"
        );
        let t3 = session(Tier::Remediate, SessionStatus::Completed);
        assert!(
            needs_human(decide(&t3, &esc, 0.01, LIMITS)),
            "no tier above 3"
        );
        let capped = ChainLimits {
            max_tier: Tier::Observe,
            ..LIMITS
        };
        assert!(needs_human(decide(&t1, &esc, 0.01, capped)), "max tier");
        let cost = ChainLimits {
            max_chain_cost_usd: 0.5,
            ..LIMITS
        };
        assert!(needs_human(decide(&t1, &esc, 0.5, cost)), "cost cap");
        assert!(matches!(
            decide(&t1, &esc, 0.49, cost),
            Next::Escalate { .. }
        ));
        let failed = session(Tier::Investigate, SessionStatus::TimedOut);
        assert!(
            needs_human(decide(&failed, &calm, 0.0, LIMITS)),
            "a session that did not complete"
        );
    }
}
