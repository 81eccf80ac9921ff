//! Whether a scheduled sweep (the tier-1 run every `CLAUDEOPS_INTERVAL`) is worth
//! its tokens: under `CLAUDEOPS_SWEEP=auto` a site whose probes are all up and
//! where nothing changed since the last sweep (its inventory, its events, its
//! incidents) is skipped, with a forced sweep at least every
//! `CLAUDEOPS_SWEEP_MAX_SKIP`. `always` is the original's behaviour.
//!
//! Pure: the scheduler gathers a [`SiteSnapshot`] from the store and applies
//! the [`SweepDecision`]; the [`SweepMark`] it keeps between sweeps is stored
//! JSON, so a field may be added (with a default), never renamed.

use serde::{Deserialize, Serialize};

/// `CLAUDEOPS_SWEEP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SweepMode {
    /// Skip a sweep when the site is healthy and unchanged.
    #[default]
    Auto,
    /// Every sweep runs (the original's behaviour).
    Always,
}

names!(SweepMode, "sweep mode", { Auto => "auto", Always => "always" });

/// What the scheduler remembers of a site's sweeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SweepMark {
    /// When the last sweep that ran started.
    pub ran_at_ms: Option<i64>,
    /// Its session: what it wrote is not a change.
    pub session_id: Option<i64>,
    /// The site's inventory fingerprint when it ran.
    pub fingerprint: Option<String>,
    /// When a sweep was last due (run or skipped): the cadence runs from here.
    pub considered_at_ms: Option<i64>,
    /// Sweeps skipped since the last one that ran.
    pub skipped: u32,
}

/// What the scheduler found on the site when a sweep fell due.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteSnapshot {
    /// Probes of the site.
    pub probes: usize,
    /// The first probe (`service/name`) that is not up, if any.
    pub not_up: Option<String>,
    /// The fingerprint of the site's inventory now.
    pub fingerprint: String,
    /// Events since the last sweep ran, leaving out those of that sweep's session.
    pub events_since: usize,
    /// Incidents open now, or opened or resolved since the last sweep ran.
    pub incidents: usize,
}

/// The scheduler's answer, with the reason it logs and shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepDecision {
    Run(String),
    Skip(String),
}

impl SweepDecision {
    pub fn runs(&self) -> bool {
        matches!(self, SweepDecision::Run(_))
    }

    pub fn reason(&self) -> &str {
        match self {
            SweepDecision::Run(r) | SweepDecision::Skip(r) => r,
        }
    }
}

/// Decides a due sweep.
pub fn decide(
    mode: SweepMode,
    mark: &SweepMark,
    site: &SiteSnapshot,
    now_ms: i64,
    max_skip_ms: i64,
) -> SweepDecision {
    use SweepDecision::{Run, Skip};
    if mode == SweepMode::Always {
        return Run("CLAUDEOPS_SWEEP is always".into());
    }
    let Some(ran_at) = mark.ran_at_ms else {
        return Run("the site's first sweep".into());
    };
    if now_ms.saturating_sub(ran_at) >= max_skip_ms {
        return Run(format!(
            "forced: the last sweep ran {} ago (CLAUDEOPS_SWEEP_MAX_SKIP)",
            crate::text::age(now_ms.saturating_sub(ran_at))
        ));
    }
    if site.probes == 0 {
        return Run("no probe watches the site".into());
    }
    if let Some(probe) = &site.not_up {
        return Run(format!("probe {probe} is not up"));
    }
    if mark.fingerprint.as_deref() != Some(site.fingerprint.as_str()) {
        return Run("the site's inventory changed".into());
    }
    if site.incidents > 0 {
        return Run(format!(
            "{} incident(s) open or changed since the last sweep",
            site.incidents
        ));
    }
    if site.events_since > 0 {
        return Run(format!(
            "{} event(s) since the last sweep",
            site.events_since
        ));
    }
    Skip(format!(
        "all {} probes up and nothing changed since the last sweep {} ago",
        site.probes,
        crate::text::age(now_ms.saturating_sub(ran_at))
    ))
}

/// When the next sweep of a site is due: an interval after the later of the
/// last scheduled start and the last sweep considered (run or skipped).
pub fn next_due(
    last_scheduled_ms: Option<i64>,
    mark: &SweepMark,
    first_seen_ms: i64,
    interval_ms: i64,
) -> i64 {
    last_scheduled_ms
        .max(mark.considered_at_ms)
        .unwrap_or(first_seen_ms)
        .saturating_add(interval_ms)
}

/// A stable fingerprint of inventory reports (their stored JSON): FNV-1a, 64 bits.
pub fn fingerprint<'a>(reports: impl IntoIterator<Item = &'a str>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for report in reports {
        for byte in report.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const DAY: i64 = 24 * H;

    fn healthy() -> SiteSnapshot {
        SiteSnapshot {
            probes: 3,
            not_up: None,
            fingerprint: "f".into(),
            events_since: 0,
            incidents: 0,
        }
    }

    fn ran_at(ms: i64) -> SweepMark {
        SweepMark {
            ran_at_ms: Some(ms),
            session_id: Some(1),
            fingerprint: Some("f".into()),
            considered_at_ms: Some(ms),
            skipped: 0,
        }
    }

    #[test]
    fn decides_each_case() {
        let now = 10 * H;
        let cases: Vec<(&str, SweepMode, SweepMark, SiteSnapshot, bool, &str)> = vec![
            (
                "healthy",
                SweepMode::Auto,
                ran_at(now - H),
                healthy(),
                false,
                "all 3 probes up",
            ),
            (
                "always",
                SweepMode::Always,
                ran_at(now - H),
                healthy(),
                true,
                "always",
            ),
            (
                "first",
                SweepMode::Auto,
                SweepMark::default(),
                healthy(),
                true,
                "first",
            ),
            (
                "forced",
                SweepMode::Auto,
                ran_at(now - DAY),
                healthy(),
                true,
                "forced",
            ),
            (
                "not quite forced",
                SweepMode::Auto,
                ran_at(now - DAY + 1),
                healthy(),
                false,
                "up",
            ),
            (
                "no probes",
                SweepMode::Auto,
                ran_at(now - H),
                SiteSnapshot {
                    probes: 0,
                    ..healthy()
                },
                true,
                "no probe",
            ),
            (
                "down",
                SweepMode::Auto,
                ran_at(now - H),
                SiteSnapshot {
                    not_up: Some("web/http".into()),
                    ..healthy()
                },
                true,
                "web/http",
            ),
            (
                "inventory",
                SweepMode::Auto,
                ran_at(now - H),
                SiteSnapshot {
                    fingerprint: "g".into(),
                    ..healthy()
                },
                true,
                "inventory",
            ),
            (
                "incident",
                SweepMode::Auto,
                ran_at(now - H),
                SiteSnapshot {
                    incidents: 1,
                    ..healthy()
                },
                true,
                "incident",
            ),
            (
                "event",
                SweepMode::Auto,
                ran_at(now - H),
                SiteSnapshot {
                    events_since: 2,
                    ..healthy()
                },
                true,
                "2 event",
            ),
        ];
        for (name, mode, mark, site, runs, reason) in cases {
            let got = decide(mode, &mark, &site, now, DAY);
            assert_eq!(got.runs(), runs, "{name}: {got:?}");
            assert!(got.reason().contains(reason), "{name}: {got:?}");
        }
    }

    #[test]
    fn the_cadence_runs_from_the_last_sweep_considered() {
        let mut mark = SweepMark::default();
        assert_eq!(next_due(None, &mark, 5, 10), 15);
        assert_eq!(next_due(Some(100), &mark, 5, 10), 110);
        mark.considered_at_ms = Some(300);
        assert_eq!(next_due(Some(100), &mark, 5, 10), 310);
        assert_eq!(next_due(Some(400), &mark, 5, 10), 410);
    }

    #[test]
    fn a_healthy_day_runs_one_sweep_a_day() {
        // Hourly sweeps over two days, nothing changing: the first runs, then
        // one forced sweep a day.
        let mut mark = SweepMark::default();
        let mut ran = 0;
        for hour in 0..48 {
            let now = hour * H;
            let decision = decide(SweepMode::Auto, &mark, &healthy(), now, DAY);
            if decision.runs() {
                ran += 1;
                mark = ran_at(now);
            } else {
                mark.considered_at_ms = Some(now);
                mark.skipped += 1;
            }
        }
        assert_eq!(ran, 2);
    }

    #[test]
    fn fingerprints_are_stable_and_tell_reports_apart() {
        assert_eq!(fingerprint(["a", "b"]), fingerprint(["a", "b"]));
        assert_ne!(fingerprint(["a", "b"]), fingerprint(["ab"]));
        assert_ne!(fingerprint(["a"]), fingerprint(["b"]));
        assert_eq!(fingerprint([]).len(), 16);
    }

    #[test]
    fn a_mark_reads_back_and_tolerates_missing_fields() {
        let mark = ran_at(7);
        let json = serde_json::to_string(&mark).unwrap_or_else(|e| panic!("{e}"));
        let back: SweepMark = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, mark);
        let old: SweepMark = serde_json::from_str("{}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(old, SweepMark::default());
    }
}
