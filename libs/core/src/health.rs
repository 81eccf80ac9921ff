//! What the control plane records about native probes: each attempt a worker
//! reports, each probe's latest state, incidents (a service whose probes went down)
//! and each worker's inventory report. The probes themselves run on workers
//! (`claudeops-probe`); these are the records and the pure rules about them.

use serde::{Deserialize, Serialize};

use crate::SiteName;
use crate::session::SessionId;

/// A probe's verdict after its thresholds: one failed attempt is not yet `Down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeState {
    /// No verdict yet (fewer attempts than a threshold).
    Unknown,
    Up,
    Down,
}

names!(ProbeState, "probe state", {
    Unknown => "unknown",
    Up => "up",
    Down => "down",
});

/// One probe attempt as a worker reported it. Times are unix milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeAttempt {
    pub probe: String,
    pub service: String,
    /// `http`, `tcp`, `tls`, `dns`, `docker`, `postgres`, `redis`, `mysql`.
    pub kind: String,
    pub ok: bool,
    pub latency_ms: i64,
    /// One line: what the probe saw or why it failed.
    pub message: String,
    /// An excerpt for the model and the incident (response body, container state
    /// and log lines); empty when the attempt succeeded.
    pub evidence: String,
    pub at_ms: i64,
    /// The probe's state after this attempt.
    pub state: ProbeState,
}

/// A probe's latest state with a short history, for the health grid and the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRecord {
    pub site: SiteName,
    pub probe: String,
    pub service: String,
    pub kind: String,
    pub state: ProbeState,
    pub ok: bool,
    pub latency_ms: i64,
    pub message: String,
    pub last_at_ms: i64,
    /// When the state last changed.
    pub since_ms: i64,
    /// The latest attempts, oldest first (for the latency history).
    pub history: Vec<HistoryPoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub at_ms: i64,
    pub latency_ms: i64,
    pub ok: bool,
}

/// How long one rollup of probe attempts spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollupPeriod {
    Hour,
    Day,
}

impl RollupPeriod {
    pub const ALL: [RollupPeriod; 2] = [RollupPeriod::Hour, RollupPeriod::Day];

    pub fn as_str(self) -> &'static str {
        match self {
            RollupPeriod::Hour => "hour",
            RollupPeriod::Day => "day",
        }
    }

    pub fn millis(self) -> i64 {
        match self {
            RollupPeriod::Hour => 3_600_000,
            RollupPeriod::Day => 86_400_000,
        }
    }

    /// The start of the period holding `at_ms` (UTC days).
    pub fn start_of(self, at_ms: i64) -> i64 {
        at_ms.div_euclid(self.millis()) * self.millis()
    }
}

/// The attempts of one probe in one hour or UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRollup {
    pub start_ms: i64,
    pub attempts: i64,
    pub successes: i64,
    pub latency_sum_ms: i64,
    pub latency_min_ms: i64,
    pub latency_max_ms: i64,
}

impl ProbeRollup {
    pub fn mean_latency_ms(&self) -> i64 {
        if self.attempts == 0 {
            0
        } else {
            self.latency_sum_ms / self.attempts
        }
    }
}

pub type IncidentId = i64;

/// A maintenance window (a silence): while it lasts, the failures of its site's
/// services (or of its one service) open no incident, start no session and
/// send no notification; probes keep running and are recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    pub id: i64,
    pub site: SiteName,
    /// `None`: every service of the site.
    pub service: Option<String>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub reason: String,
    pub created_by: String,
    pub created_at_ms: i64,
}

impl MaintenanceWindow {
    /// In effect at `now_ms`.
    pub fn active(&self, now_ms: i64) -> bool {
        self.starts_at_ms <= now_ms && now_ms < self.ends_at_ms
    }

    /// In effect at `now_ms` for this service of this site.
    pub fn silences(&self, site: &SiteName, service: &str, now_ms: i64) -> bool {
        self.active(now_ms)
            && &self.site == site
            && self.service.as_deref().is_none_or(|s| s == service)
    }
}

/// A window to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMaintenance {
    pub site: SiteName,
    pub service: Option<String>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub reason: String,
    pub created_by: String,
    pub created_at_ms: i64,
}

/// Who acknowledged an incident, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentAck {
    pub incident_id: IncidentId,
    pub by: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Open,
    Resolved,
}

names!(IncidentStatus, "incident status", {
    Open => "open",
    Resolved => "resolved",
});

/// How an incident ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The probes came back up on their own (or before a fix was verified).
    Recovered,
    /// A remediation ran and the re-run probes passed.
    VerifiedFixed,
    /// An operator closed it.
    Dismissed,
}

names!(Resolution, "incident resolution", {
    Recovered => "recovered",
    VerifiedFixed => "verified_fixed",
    Dismissed => "dismissed",
});

/// A service of a site whose probes went down. At most one is open per
/// (site, service); the database enforces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    pub site: SiteName,
    pub service: String,
    pub status: IncidentStatus,
    /// The failing probes when it opened (and any that failed later).
    pub probes: Vec<String>,
    /// What the failing probes reported, for the session's context.
    pub evidence: String,
    pub opened_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    pub resolution: Option<Resolution>,
    /// The session started for it, if one was.
    pub session_id: Option<SessionId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncident {
    pub site: SiteName,
    pub service: String,
    pub probes: Vec<String>,
    pub evidence: String,
    pub opened_at_ms: i64,
}

/// What one worker found on its host, as it reported it (the JSON of
/// `claudeops_discovery::Inventory`), and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryRecord {
    pub site: SiteName,
    pub worker_id: String,
    pub inventory: serde_json::Value,
    pub reported_at_ms: i64,
}

/// The services of a report that have a probe down and failing, and those whose
/// probes are all up, from the latest attempt of each probe in `attempts` (later
/// attempts win). A probe that is still `Down` but passed its latest attempt is on
/// its way back (a verified fix, or the first of its successes): its service is in
/// neither list, as is one with an `Unknown` probe and none down.
pub fn service_verdicts(attempts: &[ProbeAttempt]) -> (Vec<String>, Vec<String>) {
    use std::collections::BTreeMap;
    let mut latest: BTreeMap<(&str, &str), (ProbeState, bool)> = BTreeMap::new();
    for a in attempts {
        latest.insert((a.service.as_str(), a.probe.as_str()), (a.state, a.ok));
    }
    let mut by_service: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    for ((service, _), (state, ok)) in latest {
        let entry = by_service.entry(service).or_insert((false, true));
        entry.0 |= state == ProbeState::Down && !ok;
        entry.1 &= state == ProbeState::Up;
    }
    let mut down = Vec::new();
    let mut up = Vec::new();
    for (service, (any_down, all_up)) in by_service {
        if any_down {
            down.push(service.to_owned());
        } else if all_up {
            up.push(service.to_owned());
        }
    }
    (down, up)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(service: &str, probe: &str, state: ProbeState) -> ProbeAttempt {
        attempt_ok(service, probe, state, state == ProbeState::Up)
    }

    fn attempt_ok(service: &str, probe: &str, state: ProbeState, ok: bool) -> ProbeAttempt {
        ProbeAttempt {
            probe: probe.to_owned(),
            service: service.to_owned(),
            kind: "http".to_owned(),
            ok,
            latency_ms: 1,
            message: String::new(),
            evidence: String::new(),
            at_ms: 0,
            state,
        }
    }

    #[test]
    fn verdicts_per_service() {
        use ProbeState::*;
        type Case<'a> = (
            &'a [(&'a str, &'a str, ProbeState)],
            &'a [&'a str],
            &'a [&'a str],
        );
        let cases: &[Case] = &[
            (&[], &[], &[]),
            (&[("web", "a", Up)], &[], &["web"]),
            (&[("web", "a", Up), ("web", "b", Down)], &["web"], &[]),
            (&[("web", "a", Up), ("web", "b", Unknown)], &[], &[]),
            (&[("web", "a", Down), ("web", "a", Up)], &[], &["web"]),
            (&[("db", "a", Down), ("web", "a", Up)], &["db"], &["web"]),
        ];
        for (input, down, up) in cases {
            let attempts: Vec<_> = input.iter().map(|(s, p, st)| attempt(s, p, *st)).collect();
            let (d, u) = service_verdicts(&attempts);
            assert_eq!(d, *down, "down for {input:?}");
            assert_eq!(u, *up, "up for {input:?}");
        }
        // Down but passing: on its way back, neither down nor up.
        let recovering = [attempt_ok("web", "a", Down, true)];
        assert_eq!(service_verdicts(&recovering), (vec![], vec![]));
    }
}
