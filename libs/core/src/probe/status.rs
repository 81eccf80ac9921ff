//! Up and down: the verdict a probe's thresholds give ([`Health`], the same
//! words the control plane stores as `health::ProbeState`) and a change of
//! verdict ([`Transition`]). Counting attempts towards a verdict is
//! `claudeops-probe`'s `ProbeState`.

use serde::{Deserialize, Serialize};

/// What is known about a probe's target: `Unknown` (no verdict yet), `Up` or
/// `Down`. One enum for the worker, the wire and the store.
pub use crate::health::ProbeState as Health;

/// A change of verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub from: Health,
    pub to: Health,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_the_stored_words() {
        let t = Transition {
            from: Health::Unknown,
            to: Health::Down,
        };
        let json = serde_json::to_value(t).unwrap_or_default();
        assert_eq!(json, serde_json::json!({"from": "unknown", "to": "down"}));
        assert_eq!(serde_json::from_value::<Transition>(json).ok(), Some(t));
    }
}
