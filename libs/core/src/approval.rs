//! Approval gates: which typed actions wait for a human before they run, and
//! the record of each request and its decision.
//!
//! An action's tier is the lowest tier that may take it ([`ActionKind::tier`]:
//! a restart is tier 2, a redeployment tier 3). With `CLAUDEOPS_APPROVAL_TIER`
//! set, every action at or above that tier waits; `CLAUDEOPS_APPROVAL_KINDS`
//! names kinds that wait whatever their tier. The ledger slot is reserved when
//! the request is made (so a concurrent request counts it) and held until the
//! decision: approved, the action runs in it; denied or expired, the slot is
//! given back (`denied`, which never counts).

use serde::Serialize;

use crate::ledger::ActionKind;
use crate::{SessionId, SiteName, Tier};

/// Where a request stands. Only `pending` may change, and only once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Denied,
    /// Nobody decided in time, the session ended, or the control plane
    /// restarted while it waited: denied, with the reason recorded.
    Expired,
}

names!(ApprovalStatus, "approval status", {
    Pending => "pending",
    Approved => "approved",
    Denied => "denied",
    Expired => "expired",
});

/// A human's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Approve,
    Deny,
}

names!(Decision, "decision", {
    Approve => "approve",
    Deny => "deny",
});

impl Decision {
    /// The status a pending request takes on this decision.
    pub fn status(self) -> ApprovalStatus {
        match self {
            Decision::Approve => ApprovalStatus::Approved,
            Decision::Deny => ApprovalStatus::Denied,
        }
    }
}

impl ActionKind {
    /// The lowest tier that may take this action: its tier for the gates.
    pub fn tier(self) -> Tier {
        match self {
            ActionKind::Restart => Tier::Investigate,
            ActionKind::Redeploy => Tier::Remediate,
        }
    }
}

/// Which actions wait for a human.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gate {
    /// Actions of this tier and above wait; `None`: no tier waits.
    pub tier: Option<Tier>,
    /// Kinds that wait whatever their tier.
    pub kinds: Vec<ActionKind>,
}

impl Gate {
    pub fn needs_approval(&self, kind: ActionKind) -> bool {
        self.kinds.contains(&kind) || self.tier.is_some_and(|t| kind.tier() >= t)
    }

    /// True when nothing waits.
    pub fn is_open(&self) -> bool {
        ActionKind::ALL.iter().all(|k| !self.needs_approval(*k))
    }
}

/// A request about to be recorded, with the ledger entry it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApproval {
    pub action_id: i64,
    pub session_id: SessionId,
    pub site: SiteName,
    pub service: String,
    pub kind: ActionKind,
    pub requested_at_ms: i64,
    pub expires_at_ms: i64,
}

/// A request and, once made, its decision: the audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub id: i64,
    pub action_id: i64,
    pub session_id: SessionId,
    pub site: SiteName,
    pub service: String,
    pub kind: ActionKind,
    /// The action's arguments, as the ledger holds them.
    pub args: serde_json::Value,
    pub status: ApprovalStatus,
    pub requested_at_ms: i64,
    pub expires_at_ms: i64,
    pub decided_at_ms: Option<i64>,
    /// Who decided: a dashboard user, the API token, or the holder of a
    /// signed link (with the name they gave); `None` while pending and for an
    /// expiry.
    pub decided_by: Option<String>,
    /// Why it ended as it did, in words ("no decision within 10m").
    pub reason: Option<String>,
}

impl Approval {
    /// "redeploy of web"; "restart of web (container web-1)" when the
    /// container the action names is not the service's own name, so a person
    /// approves the target that would really change.
    pub fn what(&self) -> String {
        let base = format!("{} of {}", self.kind.as_str(), self.service);
        match self.args.get("container").and_then(|c| c.as_str()) {
            Some(container) if container != self.service => {
                format!("{base} (container {container})")
            }
            _ => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_holds_actions_at_or_above_its_tier_and_listed_kinds() {
        let off = Gate::default();
        assert!(off.is_open());
        assert!(!off.needs_approval(ActionKind::Redeploy));

        let tier3 = Gate {
            tier: Some(Tier::Remediate),
            kinds: vec![],
        };
        assert!(tier3.needs_approval(ActionKind::Redeploy));
        assert!(!tier3.needs_approval(ActionKind::Restart));
        assert!(!tier3.is_open());

        let tier2 = Gate {
            tier: Some(Tier::Investigate),
            kinds: vec![],
        };
        assert!(tier2.needs_approval(ActionKind::Restart));
        assert!(tier2.needs_approval(ActionKind::Redeploy));

        let restarts = Gate {
            tier: None,
            kinds: vec![ActionKind::Restart],
        };
        assert!(restarts.needs_approval(ActionKind::Restart));
        assert!(!restarts.needs_approval(ActionKind::Redeploy));
    }

    #[test]
    fn what_names_the_container_that_would_change() {
        let site = SiteName::new("home").unwrap_or_else(|e| panic!("{e}"));
        let mut a = Approval {
            id: 1,
            action_id: 1,
            session_id: 1,
            site,
            service: "web".into(),
            kind: ActionKind::Restart,
            args: serde_json::json!({"container": "web"}),
            status: ApprovalStatus::Pending,
            requested_at_ms: 0,
            expires_at_ms: 1,
            decided_at_ms: None,
            decided_by: None,
            reason: None,
        };
        assert_eq!(a.what(), "restart of web");
        a.args = serde_json::json!({"container": "db-1", "service": "web"});
        assert_eq!(a.what(), "restart of web (container db-1)");
        a.args = serde_json::Value::Null;
        assert_eq!(a.what(), "restart of web");
    }

    #[test]
    fn a_decision_names_its_status() {
        assert_eq!(Decision::Approve.status(), ApprovalStatus::Approved);
        assert_eq!(Decision::Deny.status(), ApprovalStatus::Denied);
        assert_eq!("deny".parse::<Decision>().ok(), Some(Decision::Deny));
        assert!("maybe".parse::<Decision>().is_err());
        assert_eq!(ApprovalStatus::Expired.as_str(), "expired");
    }
}
