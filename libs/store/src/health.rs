//! Argument handling for probes, incidents, inventories and notification deliveries,
//! shared by both backends.
//!
//! The backends write attempts in one order ([`lock_order`]) so that two reports
//! touching the same probes cannot deadlock, and keep an incident's probe list sorted
//! and free of duplicates ([`probe_list`], [`merge_probes`]) so both databases hold
//! the same canonical form. Nothing here touches the database.

use claudeops_core::health::ProbeAttempt;

use crate::StoreError;
use crate::error::is_foreign_key_violation;

/// How often `open_incident` looks again when the open incident it collided with was
/// resolved before it could be read (the next insert then opens a new one).
pub(crate) const OPEN_ATTEMPTS: usize = 3;

/// How often the SQLite backend starts `open_incident` over when its transaction met
/// "database is locked" (the busy timeout ran out under heavy contention).
pub(crate) const OPEN_BUSY_ATTEMPTS: usize = 10;

/// The attempts sorted by probe name, keeping the reported order among the attempts
/// of one probe (which decides its latest row and `since_ms`).
pub(crate) fn lock_order(attempts: &[ProbeAttempt]) -> Vec<&ProbeAttempt> {
    let mut ordered: Vec<&ProbeAttempt> = attempts.iter().collect();
    ordered.sort_by(|a, b| a.probe.cmp(&b.probe));
    ordered
}

/// A probe list as stored: sorted, without duplicates.
pub(crate) fn probe_list(probes: &[String]) -> Vec<String> {
    let mut list = probes.to_vec();
    list.sort();
    list.dedup();
    list
}

/// The union of an open incident's probes and newly failing ones, as stored.
pub(crate) fn merge_probes(stored: &[String], new: &[String]) -> Vec<String> {
    let mut union = stored.to_vec();
    union.extend_from_slice(new);
    probe_list(&union)
}

/// A list of names as its JSON text column.
pub(crate) fn names_text(names: &[String]) -> String {
    serde_json::Value::from(names.to_vec()).to_string()
}

/// Maps the errors of linking an incident to a session: a missing session is
/// `Conflict`, anything else `Database`.
pub(crate) fn session_link_error(error: sqlx::Error) -> StoreError {
    if is_foreign_key_violation(&error) {
        StoreError::Conflict("incident names a session that does not exist".to_owned())
    } else {
        StoreError::Database(error)
    }
}

#[cfg(test)]
mod tests {
    use claudeops_core::health::ProbeState;

    use super::*;

    fn attempt(probe: &str, at_ms: i64) -> ProbeAttempt {
        ProbeAttempt {
            probe: probe.to_owned(),
            service: "web".to_owned(),
            kind: "http".to_owned(),
            ok: true,
            latency_ms: 1,
            message: String::new(),
            evidence: String::new(),
            at_ms,
            state: ProbeState::Up,
        }
    }

    #[test]
    fn lock_order_keeps_each_probes_order() {
        let attempts = [
            attempt("b", 3),
            attempt("a", 2),
            attempt("b", 1),
            attempt("a", 4),
        ];
        let ordered: Vec<_> = lock_order(&attempts)
            .into_iter()
            .map(|a| (a.probe.as_str(), a.at_ms))
            .collect();
        assert_eq!(ordered, [("a", 2), ("a", 4), ("b", 3), ("b", 1)]);
    }

    #[test]
    fn probe_lists_are_sorted_unions() {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let cases: &[(&[&str], &[&str], &[&str])] = &[
            (&[], &[], &[]),
            (&["b", "a"], &[], &["a", "b"]),
            (&["a", "c"], &["b", "a"], &["a", "b", "c"]),
            (&[], &["z", "z", "y"], &["y", "z"]),
        ];
        for (stored, new, want) in cases {
            assert_eq!(
                merge_probes(&names(stored), &names(new)),
                names(want),
                "{stored:?} + {new:?}"
            );
        }
        assert_eq!(names_text(&names(&["a", "b\""])), r#"["a","b\""]"#);
    }
}
