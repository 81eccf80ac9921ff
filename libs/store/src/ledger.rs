//! Argument checks and messages for the cooldown ledger, shared by both backends.
//!
//! The rule itself (what counts, when the next slot frees) is
//! `claudeops_core::ledger::decide`; the backends fetch the counted reservation
//! times and insert the entry inside one transaction that serialises per
//! (site, service, kind), and call [`judge`] in between. Service names are
//! normalised here before any SQL runs, so both databases hold the same canonical
//! forms; an invalid argument is `StoreError::Conflict`. Nothing here touches the
//! database.

use std::time::{Duration, UNIX_EPOCH};

use claudeops_core::ledger::{
    self, ActionId, ActionStatus, CooldownLimits, InvalidAction, NewAction, Slot,
};

use crate::StoreError;
use crate::error::is_foreign_key_violation;

/// How often the SQLite backend starts a reservation over when its transaction met
/// "database is locked" (the busy timeout ran out under heavy contention).
pub(crate) const RESERVE_ATTEMPTS: usize = 10;

/// The last millisecond `humantime` can render (the end of year 9999).
const MAX_RENDERED_MS: u64 = 253_402_300_799_999;

fn invalid(error: InvalidAction) -> StoreError {
    StoreError::Conflict(error.to_string())
}

/// The service name as stored (trimmed, lower-cased), or `Conflict`.
pub(crate) fn service(service: &str) -> Result<String, StoreError> {
    ledger::normalize_service(service).map_err(invalid)
}

/// `Conflict` unless a reservation may finish with `status`.
pub(crate) fn finish_status(status: ActionStatus) -> Result<(), StoreError> {
    ledger::check_finish(status).map_err(invalid)
}

/// The args as stored: JSON text.
pub(crate) fn args_text(args: &serde_json::Value) -> String {
    args.to_string()
}

/// A time as RFC 3339 in whole seconds, rounded up (a slot that frees at
/// 04:00:00.250 is free at 04:00:01, not yet at 04:00:00). Times humantime cannot
/// render are given in milliseconds.
pub(crate) fn rfc3339(ms: i64) -> String {
    if ms == ledger::NEVER_MS {
        return "never".to_owned();
    }
    match u64::try_from(ms) {
        Ok(ms) if ms <= MAX_RENDERED_MS => {
            let seconds = ms.div_ceil(1000).min(MAX_RENDERED_MS / 1000);
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(seconds)).to_string()
        }
        _ => format!("{ms} ms after the epoch"),
    }
}

/// What to write for one reservation: the entry's status and result, and the
/// denial to report, if any.
#[derive(Debug)]
pub(crate) struct Verdict {
    pub(crate) status: ActionStatus,
    pub(crate) result: Option<String>,
    pub(crate) finished_at_ms: Option<i64>,
    denied: Option<Slot>,
}

impl Verdict {
    /// The decision to return once the entry `id` is written.
    pub(crate) fn decision(self, id: ActionId) -> Slot {
        self.denied.unwrap_or(Slot::Granted { id })
    }
}

/// Applies `claudeops_core::ledger::decide` to the counted reservation times of the
/// new action's (site, service, kind): a reserved entry, or a denied one (finished at
/// once, its reason as the result).
pub(crate) fn judge(
    new: &NewAction,
    service: &str,
    limits: &CooldownLimits,
    counted_times_ms: &[i64],
) -> Verdict {
    let (limit, window_ms) = limits.limit_for(new.kind);
    match ledger::decide(counted_times_ms, limit, window_ms, new.now_ms) {
        Ok(()) => Verdict {
            status: ActionStatus::Reserved,
            result: None,
            finished_at_ms: None,
            denied: None,
        },
        Err((count, next_allowed_ms)) => {
            let reason = ledger::denial_reason(
                service,
                new.kind,
                count,
                limit,
                window_ms,
                &rfc3339(next_allowed_ms),
            );
            Verdict {
                status: ActionStatus::Denied,
                result: Some(reason.clone()),
                finished_at_ms: Some(new.now_ms),
                denied: Some(Slot::Denied {
                    reason,
                    count,
                    limit,
                    next_allowed_ms,
                }),
            }
        }
    }
}

/// The lower bound (exclusive) of reservation times that may count for `new`.
pub(crate) fn window_start(new: &NewAction, limits: &CooldownLimits) -> i64 {
    let (_, window_ms) = limits.limit_for(new.kind);
    new.now_ms.saturating_sub(window_ms)
}

/// Maps the errors an entry write can meet: a missing session is `Conflict`,
/// anything else `Database`.
pub(crate) fn write_error(error: sqlx::Error) -> StoreError {
    if is_foreign_key_violation(&error) {
        StoreError::Conflict("action names a session that does not exist".to_owned())
    } else {
        StoreError::Database(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(14_400_000), "1970-01-01T04:00:00Z");
        assert_eq!(rfc3339(14_400_001), "1970-01-01T04:00:01Z");
        assert_eq!(rfc3339(ledger::NEVER_MS), "never");
        assert_eq!(rfc3339(-5), "-5 ms after the epoch");
        assert_eq!(rfc3339(253_402_300_799_999), "9999-12-31T23:59:59Z");
    }
}
