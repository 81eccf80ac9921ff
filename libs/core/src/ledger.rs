//! The cooldown ledger: how often remediation (container restarts, redeployments)
//! may touch one service of one site, decided in code rather than by the agent.
//!
//! The rules:
//!
//! - at most [`CooldownLimits::max_restarts`] (default 2) restarts per (site, service) per
//!   [`CooldownLimits::restart_window_ms`] (default 4 h), and at most
//!   [`CooldownLimits::max_redeploys`] (default 1) redeploys per (site, service) per
//!   [`CooldownLimits::redeploy_window_ms`] (default 24 h); kinds, services and sites are
//!   counted independently;
//! - an action counts toward its limit when its status is [`ActionStatus::Reserved`],
//!   [`ActionStatus::Succeeded`] or [`ActionStatus::Failed`] (a failed restart may
//!   still have restarted something) and its `reserved_at_ms` lies within
//!   `(now - window, now]`; [`ActionStatus::Released`] (nothing was done) and
//!   [`ActionStatus::Denied`] never count. An action stamped after `now` (a caller
//!   whose clock runs behind another's) counts as well: the ledger errs on the side
//!   of doing less;
//! - an action is reserved *before* it is carried out and finished afterwards, so
//!   concurrent workers asking for the last slot cannot both get it. Reserving is
//!   the store's job (count and insert in one serialised transaction, applying
//!   [`decide`]); a denied attempt is recorded too, as part of the audit trail;
//! - service names are normalised by [`normalize_service`] (trimmed, lower-cased,
//!   1-[`MAX_SERVICE_CHARS`] characters).
//!
//! Pure decisions only: no clock, no storage. Times are unix milliseconds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::SiteName;
use crate::session::SessionId;

/// One hour in milliseconds.
const HOUR_MS: i64 = 3_600_000;
/// The longest service name, in characters.
pub const MAX_SERVICE_CHARS: usize = 200;
/// The longest stored result text, in characters; longer results are cut.
pub const MAX_RESULT_CHARS: usize = 4000;
/// The result recorded for a reservation its worker never finished.
pub const ABANDONED_RESULT: &str = "abandoned";
/// `next_allowed_ms` of a kind whose limit is 0: never.
pub const NEVER_MS: i64 = i64::MAX;

pub type ActionId = i64;

/// What a remediation does to a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Restart the service's container or unit.
    Restart,
    /// Redeploy the service (pull, recreate).
    Redeploy,
}

/// Where a ledger entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Granted and about to be (or being) carried out. Counts.
    Reserved,
    /// Carried out. Counts.
    Succeeded,
    /// Attempted and failed, or abandoned by a crashed worker. Counts: the action
    /// may have happened.
    Failed,
    /// Granted but not carried out after all. Does not count.
    Released,
    /// Refused by the limit; recorded for the audit trail. Does not count.
    Denied,
}

names!(ActionKind, "action kind", {
    Restart => "restart",
    Redeploy => "redeploy",
});

names!(ActionStatus, "action status", {
    Reserved => "reserved",
    Succeeded => "succeeded",
    Failed => "failed",
    Released => "released",
    Denied => "denied",
});

impl ActionKind {
    /// The plural noun for messages: "restarts", "redeploys".
    pub fn plural(self) -> &'static str {
        match self {
            ActionKind::Restart => "restarts",
            ActionKind::Redeploy => "redeploys",
        }
    }

    /// "1 restart", "2 restarts".
    pub fn counted(self, count: u32) -> String {
        if count == 1 {
            format!("1 {}", self.as_str())
        } else {
            format!("{count} {}", self.plural())
        }
    }
}

impl ActionStatus {
    /// Whether an action with this status counts toward its limit.
    pub fn counts(self) -> bool {
        matches!(
            self,
            ActionStatus::Reserved | ActionStatus::Succeeded | ActionStatus::Failed
        )
    }

    /// Whether a reserved action may finish with this status.
    pub fn is_finish(self) -> bool {
        matches!(
            self,
            ActionStatus::Succeeded | ActionStatus::Failed | ActionStatus::Released
        )
    }
}

/// The fleet-wide remediation limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CooldownLimits {
    /// Restarts allowed per (site, service) per restart window.
    pub max_restarts: u32,
    pub restart_window_ms: i64,
    /// Redeploys allowed per (site, service) per redeploy window.
    pub max_redeploys: u32,
    pub redeploy_window_ms: i64,
}

impl Default for CooldownLimits {
    /// 2 restarts per 4 h, 1 redeploy per 24 h.
    fn default() -> Self {
        CooldownLimits {
            max_restarts: 2,
            restart_window_ms: 4 * HOUR_MS,
            max_redeploys: 1,
            redeploy_window_ms: 24 * HOUR_MS,
        }
    }
}

impl CooldownLimits {
    /// The limit and window (ms) of a kind.
    pub fn limit_for(&self, kind: ActionKind) -> (u32, i64) {
        match kind {
            ActionKind::Restart => (self.max_restarts, self.restart_window_ms),
            ActionKind::Redeploy => (self.max_redeploys, self.redeploy_window_ms),
        }
    }

    /// The longest window of any kind (at least 0): how far back `cooldowns` looks.
    pub fn horizon_ms(&self) -> i64 {
        self.restart_window_ms.max(self.redeploy_window_ms).max(0)
    }
}

/// A remediation a worker asks to carry out.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAction {
    pub site: SiteName,
    /// Normalised with [`normalize_service`] before it is stored.
    pub service: String,
    pub kind: ActionKind,
    /// The session asking, if any.
    pub session_id: Option<SessionId>,
    /// What the action will be called with (command, container id, ...), for the
    /// audit trail.
    pub args: serde_json::Value,
    /// The time of the request: the reservation time of the entry.
    pub now_ms: i64,
}

/// One entry of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub id: ActionId,
    pub site: SiteName,
    pub service: String,
    pub kind: ActionKind,
    pub session_id: Option<SessionId>,
    pub status: ActionStatus,
    pub args: serde_json::Value,
    /// What the action reported when it finished; the reason of a denial;
    /// [`ABANDONED_RESULT`] for a reservation its worker never finished.
    pub result: Option<String>,
    pub reserved_at_ms: i64,
    /// When the entry reached its final status: the finish time, the time of the
    /// denial; `None` while reserved and for abandoned reservations (their end is
    /// unknown).
    pub finished_at_ms: Option<i64>,
    /// `finished_at_ms - reserved_at_ms` of a finished reservation.
    pub duration_ms: Option<i64>,
}

/// The answer to a reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Slot {
    /// Go ahead, then finish the entry `id` with the outcome.
    Granted { id: ActionId },
    /// The limit is reached. `count` actions are counted in the window;
    /// `next_allowed_ms` is the earliest time a reservation can be granted if nothing
    /// else happens ([`NEVER_MS`] when the limit is 0).
    Denied {
        reason: String,
        count: u32,
        limit: u32,
        next_allowed_ms: i64,
    },
}

impl Slot {
    pub fn is_granted(&self) -> bool {
        matches!(self, Slot::Granted { .. })
    }
}

/// The cooldown of one (site, service, kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CooldownRow {
    pub site: SiteName,
    pub service: String,
    pub kind: ActionKind,
    /// Counted actions within the kind's window.
    pub count_in_window: u32,
    pub limit: u32,
    /// The latest reservation time of a counted action within the longest window;
    /// `None` when only released or denied entries are that recent.
    pub last_action_ms: Option<i64>,
    /// When a slot frees up; `None` when one is free now.
    pub next_allowed_ms: Option<i64>,
}

/// One ledger entry as [`cooldowns`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub site: SiteName,
    pub service: String,
    pub kind: ActionKind,
    pub status: ActionStatus,
    pub reserved_at_ms: i64,
}

/// Why an argument of a ledger operation cannot be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum InvalidAction {
    #[error("service name is empty")]
    EmptyService,
    #[error("service name is longer than {MAX_SERVICE_CHARS} characters")]
    ServiceTooLong,
    #[error("service name {0:?} contains control characters")]
    ServiceControl(String),
    #[error("{0} is not a finishing status: use succeeded, failed or released")]
    NotAFinish(ActionStatus),
}

/// The service name as stored: trimmed and lower-cased, 1-[`MAX_SERVICE_CHARS`]
/// characters, no control characters.
pub fn normalize_service(service: &str) -> Result<String, InvalidAction> {
    let normalized = service.trim().to_lowercase();
    if normalized.is_empty() {
        Err(InvalidAction::EmptyService)
    } else if normalized.chars().count() > MAX_SERVICE_CHARS {
        Err(InvalidAction::ServiceTooLong)
    } else if normalized.chars().any(char::is_control) {
        Err(InvalidAction::ServiceControl(normalized))
    } else {
        Ok(normalized)
    }
}

/// A result text as stored: cut to [`MAX_RESULT_CHARS`] characters.
pub fn normalize_result(result: &str) -> String {
    match result.char_indices().nth(MAX_RESULT_CHARS) {
        Some((cut, _)) => result[..cut].to_owned(),
        None => result.to_owned(),
    }
}

/// Refuses a status a reservation cannot finish with.
pub fn check_finish(status: ActionStatus) -> Result<(), InvalidAction> {
    if status.is_finish() {
        Ok(())
    } else {
        Err(InvalidAction::NotAFinish(status))
    }
}

/// Whether an action reserved at `t` is inside the window ending at `now_ms`:
/// `t > now - window` (later times included, see the module docs).
pub fn in_window(t: i64, window_ms: i64, now_ms: i64) -> bool {
    t > now_ms.saturating_sub(window_ms)
}

/// The rule. `counted_times_ms` are the reservation times of the counting actions
/// (Reserved, Succeeded, Failed) of one (site, service, kind); times outside the
/// window are ignored. `Ok` when fewer than `limit` are in the window, else
/// `Err((count, next_allowed_ms))`: the time at which enough of them will have left
/// the window for one more (the oldest + window when `count == limit`; [`NEVER_MS`]
/// when `limit` is 0).
pub fn decide(
    counted_times_ms: &[i64],
    limit: u32,
    window_ms: i64,
    now_ms: i64,
) -> Result<(), (u32, i64)> {
    let mut times: Vec<i64> = counted_times_ms
        .iter()
        .copied()
        .filter(|t| in_window(*t, window_ms, now_ms))
        .collect();
    let count = u32::try_from(times.len()).unwrap_or(u32::MAX);
    if count < limit {
        return Ok(());
    }
    if limit == 0 {
        return Err((count, NEVER_MS));
    }
    times.sort_unstable();
    // One slot frees when `count - limit + 1` actions have left the window: the
    // `(count - limit)`-th (0-based) oldest leaves at its time + window.
    let index = usize::try_from(count - limit).unwrap_or(usize::MAX);
    let next = times
        .get(index)
        .map_or(NEVER_MS, |t| t.saturating_add(window_ms.max(0)));
    Err((count, next))
}

/// A window in words: "4h", "90m", "30s", "1500ms".
pub fn describe_window(window_ms: i64) -> String {
    if window_ms != 0 && window_ms % HOUR_MS == 0 {
        format!("{}h", window_ms / HOUR_MS)
    } else if window_ms != 0 && window_ms % 60_000 == 0 {
        format!("{}m", window_ms / 60_000)
    } else if window_ms != 0 && window_ms % 1000 == 0 {
        format!("{}s", window_ms / 1000)
    } else {
        format!("{window_ms}ms")
    }
}

/// The reason of a denial in words: "service web had 2 restarts in the last 4h
/// (limit 2); next allowed at 2025-01-01T04:00:00Z". `next_allowed` is the caller's
/// rendering of `next_allowed_ms` (this crate keeps no calendar); with a limit of 0
/// it is not used.
pub fn denial_reason(
    service: &str,
    kind: ActionKind,
    count: u32,
    limit: u32,
    window_ms: i64,
    next_allowed: &str,
) -> String {
    if limit == 0 {
        return format!(
            "service {service}: {} are disabled (limit 0)",
            kind.plural()
        );
    }
    format!(
        "service {service} had {} in the last {} (limit {limit}); next allowed at {next_allowed}",
        kind.counted(count),
        describe_window(window_ms),
    )
}

/// The cooldown rows of every (site, service, kind) with an entry in `entries`
/// (which the caller limits to the last [`CooldownLimits::horizon_ms`]), sorted by site,
/// service, kind.
pub fn cooldowns(
    entries: &[LedgerEntry],
    limits: &CooldownLimits,
    now_ms: i64,
) -> Vec<CooldownRow> {
    let mut groups: BTreeMap<(&SiteName, &str, ActionKind), Vec<i64>> = BTreeMap::new();
    for entry in entries {
        let times = groups
            .entry((&entry.site, entry.service.as_str(), entry.kind))
            .or_default();
        if entry.status.counts() {
            times.push(entry.reserved_at_ms);
        }
    }
    groups
        .into_iter()
        .map(|((site, service, kind), times)| {
            let (limit, window_ms) = limits.limit_for(kind);
            let count_in_window = times
                .iter()
                .filter(|t| in_window(**t, window_ms, now_ms))
                .count();
            CooldownRow {
                site: site.clone(),
                service: service.to_owned(),
                kind,
                count_in_window: u32::try_from(count_in_window).unwrap_or(u32::MAX),
                limit,
                last_action_ms: times.iter().copied().max(),
                next_allowed_ms: decide(&times, limit, window_ms, now_ms)
                    .err()
                    .map(|(_, next)| next),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H: i64 = HOUR_MS;

    fn site(name: &str) -> SiteName {
        SiteName::new(name).expect("site")
    }

    #[test]
    fn names_round_trip() {
        for kind in ActionKind::ALL {
            assert_eq!(kind.as_str().parse::<ActionKind>(), Ok(*kind));
        }
        for status in ActionStatus::ALL {
            assert_eq!(status.as_str().parse::<ActionStatus>(), Ok(*status));
        }
        assert!("reboot".parse::<ActionKind>().is_err());
        assert!("done".parse::<ActionStatus>().is_err());
        assert_eq!(ActionKind::Restart.to_string(), "restart");
        assert_eq!(ActionKind::Redeploy.as_str(), "redeploy");
    }

    #[test]
    fn what_counts() {
        let counting: Vec<_> = ActionStatus::ALL
            .iter()
            .filter(|s| s.counts())
            .copied()
            .collect();
        assert_eq!(
            counting,
            [
                ActionStatus::Reserved,
                ActionStatus::Succeeded,
                ActionStatus::Failed
            ]
        );
        let finishes: Vec<_> = ActionStatus::ALL
            .iter()
            .filter(|s| s.is_finish())
            .copied()
            .collect();
        assert_eq!(
            finishes,
            [
                ActionStatus::Succeeded,
                ActionStatus::Failed,
                ActionStatus::Released
            ]
        );
        assert!(check_finish(ActionStatus::Denied).is_err());
        assert!(check_finish(ActionStatus::Reserved).is_err());
        assert!(check_finish(ActionStatus::Released).is_ok());
    }

    #[test]
    fn default_limits() {
        let limits = CooldownLimits::default();
        assert_eq!(limits.limit_for(ActionKind::Restart), (2, 4 * H));
        assert_eq!(limits.limit_for(ActionKind::Redeploy), (1, 24 * H));
        assert_eq!(limits.horizon_ms(), 24 * H);
        let partial: CooldownLimits =
            serde_json::from_str(r#"{"max_restarts": 5}"#).expect("limits");
        assert_eq!(partial.max_restarts, 5);
        assert_eq!(partial.restart_window_ms, 4 * H);
    }

    #[test]
    fn grants_up_to_the_limit() {
        let t = 1_000_000_000;
        assert_eq!(decide(&[], 2, 4 * H, t), Ok(()));
        assert_eq!(decide(&[t], 2, 4 * H, t + 1), Ok(()));
        assert_eq!(
            decide(&[t, t + H], 2, 4 * H, t + 2 * H),
            Err((2, t + 4 * H))
        );
        // The window is (now - window, now]: the oldest leaves at exactly t + 4h.
        assert_eq!(
            decide(&[t, t + H], 2, 4 * H, t + 4 * H - 1),
            Err((2, t + 4 * H))
        );
        assert_eq!(decide(&[t, t + H], 2, 4 * H, t + 4 * H), Ok(()));
        assert_eq!(decide(&[t, t + H], 2, 4 * H, t + 4 * H + 1), Ok(()));
        // Order of the input does not matter; old times are ignored.
        assert_eq!(
            decide(&[t + H, t - 10 * H, t], 2, 4 * H, t + 2 * H),
            Err((2, t + 4 * H))
        );
    }

    #[test]
    fn over_the_limit_waits_for_enough_to_expire() {
        // Three in the window with a limit of 2 (the limit was lowered): one slot
        // frees when two have left, i.e. at the second oldest + window.
        let t = 0;
        assert_eq!(
            decide(&[t, t + 1, t + 2], 2, 10, t + 5),
            Err((3, t + 1 + 10))
        );
        assert_eq!(decide(&[t, t + 1, t + 2], 2, 10, t + 11), Ok(()));
    }

    #[test]
    fn later_stamps_count_and_limit_zero_never_allows() {
        // Stamped after now (another clock ahead): counted.
        assert_eq!(decide(&[100, 200], 2, 50, 90), Err((2, 150)));
        assert_eq!(decide(&[], 0, 50, 90), Err((0, NEVER_MS)));
        assert_eq!(decide(&[80], 0, 50, 90), Err((1, NEVER_MS)));
    }

    #[test]
    fn normalizes_services() {
        assert_eq!(normalize_service("  Web ").as_deref(), Ok("web"));
        assert_eq!(normalize_service("   "), Err(InvalidAction::EmptyService));
        assert_eq!(normalize_service(""), Err(InvalidAction::EmptyService));
        assert!(normalize_service(&"s".repeat(200)).is_ok());
        assert_eq!(
            normalize_service(&"s".repeat(201)),
            Err(InvalidAction::ServiceTooLong)
        );
        assert_eq!(
            normalize_service(&"é".repeat(200)).map(|s| s.len()),
            Ok(400)
        );
        assert!(normalize_service("a\nb").is_err());
        assert_eq!(normalize_result(&"x".repeat(5000)).len(), MAX_RESULT_CHARS);
        assert_eq!(normalize_result("ok"), "ok");
    }

    #[test]
    fn reasons_in_words() {
        assert_eq!(
            denial_reason(
                "web",
                ActionKind::Restart,
                2,
                2,
                4 * H,
                "2025-01-01T04:00:00Z"
            ),
            "service web had 2 restarts in the last 4h (limit 2); \
             next allowed at 2025-01-01T04:00:00Z"
        );
        assert_eq!(
            denial_reason("db", ActionKind::Redeploy, 1, 1, 24 * H, "X"),
            "service db had 1 redeploy in the last 24h (limit 1); next allowed at X"
        );
        assert_eq!(
            denial_reason("db", ActionKind::Redeploy, 0, 0, 24 * H, "X"),
            "service db: redeploys are disabled (limit 0)"
        );
        assert_eq!(describe_window(90 * 60_000), "90m");
        assert_eq!(describe_window(30_000), "30s");
        assert_eq!(describe_window(1_500), "1500ms");
        assert_eq!(describe_window(0), "0ms");
    }

    #[test]
    fn decisions_serialize() {
        let denied = Slot::Denied {
            reason: "r".into(),
            count: 2,
            limit: 2,
            next_allowed_ms: 5,
        };
        let json = serde_json::to_value(&denied).expect("serialize");
        assert_eq!(json["decision"], "denied");
        assert_eq!(json["next_allowed_ms"], 5);
        assert!(!denied.is_granted());
        assert!(Slot::Granted { id: 1 }.is_granted());
    }

    #[test]
    fn cooldown_rows() {
        let entry = |site_name: &str, service: &str, kind, status, at| LedgerEntry {
            site: site(site_name),
            service: service.to_owned(),
            kind,
            status,
            reserved_at_ms: at,
        };
        let now = 100 * H;
        let entries = vec![
            entry(
                "b",
                "web",
                ActionKind::Restart,
                ActionStatus::Succeeded,
                now - H,
            ),
            entry(
                "b",
                "web",
                ActionKind::Restart,
                ActionStatus::Failed,
                now - 2 * H,
            ),
            entry(
                "b",
                "web",
                ActionKind::Restart,
                ActionStatus::Denied,
                now - H / 2,
            ),
            entry(
                "a",
                "db",
                ActionKind::Redeploy,
                ActionStatus::Released,
                now - H,
            ),
            // Outside the restart window, inside the redeploy one.
            entry(
                "a",
                "db",
                ActionKind::Restart,
                ActionStatus::Succeeded,
                now - 10 * H,
            ),
        ];
        let rows = cooldowns(&entries, &CooldownLimits::default(), now);
        let summary: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.site.as_str(),
                    r.service.as_str(),
                    r.kind,
                    r.count_in_window,
                    r.limit,
                    r.last_action_ms,
                    r.next_allowed_ms,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "a",
                    "db",
                    ActionKind::Restart,
                    0,
                    2,
                    Some(now - 10 * H),
                    None
                ),
                ("a", "db", ActionKind::Redeploy, 0, 1, None, None),
                (
                    "b",
                    "web",
                    ActionKind::Restart,
                    2,
                    2,
                    Some(now - H),
                    Some(now + 2 * H)
                ),
            ]
        );
    }

    /// One step of the ledger simulation.
    #[derive(Debug, Clone)]
    enum Op {
        /// Ask for a slot after `dt` ms.
        Reserve(i64),
        /// Finish the `n`-th reservation (modulo) as succeeded, failed or released.
        Finish(usize, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0i64..3_000).prop_map(Op::Reserve),
            (any::<usize>(), 0u8..3).prop_map(|(n, how)| Op::Finish(n, how)),
        ]
    }

    proptest! {
        #[test]
        fn counted_actions_never_exceed_the_limit(
            limit in 0u32..4,
            window in 1i64..5_000,
            ops in proptest::collection::vec(op(), 0..120),
        ) {
            let mut now = 0i64;
            let mut ledger: Vec<(i64, ActionStatus)> = Vec::new();
            for op in ops {
                match op {
                    Op::Reserve(dt) => {
                        now += dt;
                        let counted: Vec<i64> = ledger
                            .iter()
                            .filter(|(_, s)| s.counts())
                            .map(|(t, _)| *t)
                            .collect();
                        match decide(&counted, limit, window, now) {
                            Ok(()) => ledger.push((now, ActionStatus::Reserved)),
                            Err((count, next)) => {
                                prop_assert!(count >= limit);
                                prop_assert!(next > now);
                                // Nothing changes until then: denied until, granted at.
                                if next != NEVER_MS {
                                    prop_assert!(decide(&counted, limit, window, next - 1).is_err());
                                    prop_assert!(decide(&counted, limit, window, next).is_ok());
                                }
                                ledger.push((now, ActionStatus::Denied));
                            }
                        }
                    }
                    Op::Finish(n, how) => {
                        let reserved: Vec<usize> = ledger
                            .iter()
                            .enumerate()
                            .filter(|(_, (_, s))| *s == ActionStatus::Reserved)
                            .map(|(i, _)| i)
                            .collect();
                        if !reserved.is_empty() {
                            let i = reserved[n % reserved.len()];
                            ledger[i].1 = match how {
                                0 => ActionStatus::Succeeded,
                                1 => ActionStatus::Failed,
                                _ => ActionStatus::Released,
                            };
                        }
                    }
                }
                // Every window (ending at any recorded time) holds at most `limit`
                // counted actions.
                for (end, _) in &ledger {
                    let in_it = ledger
                        .iter()
                        .filter(|(t, s)| s.counts() && *t <= *end && in_window(*t, window, *end))
                        .count();
                    prop_assert!(in_it <= limit as usize, "{in_it} > {limit} at {end}: {ledger:?}");
                }
            }
        }
    }
}
