//! Reminders for unresolved incidents, and recovery notices when one closes.
//!
//! The caller reports the open set; this state decides when a reminder is due:
//! at `opened_at + k * interval`, so reminders stay on one rhythm across
//! restarts of the control plane (a restart neither repeats nor bunches them;
//! a slot missed while down is skipped). Pure: the caller passes `now`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use claudeops_core::site::SiteName;

/// An incident the control plane still considers open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIncident {
    pub site: SiteName,
    pub service: String,
    pub opened_at: SystemTime,
    pub summary: Option<String>,
}

type Key = (SiteName, String);

fn key(i: &OpenIncident) -> Key {
    (i.site.clone(), i.service.clone())
}

#[derive(Debug)]
struct Tracked {
    incident: OpenIncident,
    /// The last reminder slot accounted for (sent, or passed before we knew).
    last: SystemTime,
}

/// The open incidents and when each was last brought up.
#[derive(Debug)]
pub struct Reminders {
    interval: Option<Duration>,
    tracked: BTreeMap<Key, Tracked>,
}

/// The most recent slot `opened_at + k * interval` at or before `now`
/// (`opened_at` itself when `now` is earlier or there is no interval).
pub fn last_slot(opened_at: SystemTime, interval: Option<Duration>, now: SystemTime) -> SystemTime {
    let Some(interval) = interval.filter(|i| !i.is_zero()) else {
        return opened_at;
    };
    let elapsed = now.duration_since(opened_at).unwrap_or_default();
    let k = elapsed.as_nanos() / interval.as_nanos();
    let k = u32::try_from(k).unwrap_or(u32::MAX);
    interval
        .checked_mul(k)
        .and_then(|d| opened_at.checked_add(d))
        .unwrap_or(now)
}

impl Reminders {
    /// `None` turns reminders off; recovery notices still work.
    pub fn new(interval: Option<Duration>) -> Reminders {
        Reminders {
            interval: interval.filter(|i| !i.is_zero()),
            tracked: BTreeMap::new(),
        }
    }

    /// Replaces the open set with the caller's latest view. Returns the
    /// incidents that left it since the last view: they have recovered.
    pub fn sync(&mut self, open: &[OpenIncident], now: SystemTime) -> Vec<OpenIncident> {
        let mut next: BTreeMap<Key, Tracked> = BTreeMap::new();
        for incident in open {
            let k = key(incident);
            let last = match self.tracked.remove(&k) {
                Some(t) => t.last,
                None => last_slot(incident.opened_at, self.interval, now),
            };
            next.insert(
                k,
                Tracked {
                    incident: incident.clone(),
                    last,
                },
            );
        }
        let closed = std::mem::replace(&mut self.tracked, next);
        closed.into_values().map(|t| t.incident).collect()
    }

    /// Forgets an incident the caller announced as recovered, so its leaving
    /// the open set later brings no second notice. True if it was tracked.
    pub fn resolve(&mut self, site: &SiteName, service: &str) -> bool {
        self.tracked
            .remove(&(site.clone(), service.to_owned()))
            .is_some()
    }

    /// The incidents whose reminder is due, marking them reminded.
    pub fn take_due(&mut self, now: SystemTime) -> Vec<OpenIncident> {
        let Some(interval) = self.interval else {
            return Vec::new();
        };
        let mut due = Vec::new();
        for t in self.tracked.values_mut() {
            if now >= t.last + interval {
                t.last = last_slot(t.incident.opened_at, Some(interval), now);
                due.push(t.incident.clone());
            }
        }
        due
    }

    /// When the next reminder is due; `None` when none will be.
    pub fn next_due(&self) -> Option<SystemTime> {
        let interval = self.interval?;
        self.tracked.values().map(|t| t.last + interval).min()
    }

    pub fn open_count(&self) -> usize {
        self.tracked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn inc(service: &str, opened: u64) -> OpenIncident {
        OpenIncident {
            site: SiteName::new("home").unwrap(),
            service: service.into(),
            opened_at: at(opened),
            summary: None,
        }
    }

    #[test]
    fn last_slot_table() {
        let h = Duration::from_secs(3600);
        let cases = [
            (0, Some(h), 0, 0),
            (0, Some(h), 3599, 0),
            (0, Some(h), 3600, 3600),
            (0, Some(h), 3 * 3600 + 10, 3 * 3600),
            (100, Some(h), 50, 100),
            (100, None, 9999, 100),
            (100, Some(Duration::ZERO), 9999, 100),
        ];
        for (opened, interval, now, want) in cases {
            assert_eq!(
                last_slot(at(opened), interval, at(now)),
                at(want),
                "{opened} {interval:?} {now}"
            );
        }
    }

    /// Steps of (time, open set or None to only check reminders) and the
    /// expected reminded services and recovered services at each step.
    #[test]
    fn reminder_timeline_table() {
        let hour = Duration::from_secs(3600);
        type Step = (
            u64,
            Option<Vec<OpenIncident>>,
            Vec<&'static str>,
            Vec<&'static str>,
        );
        let steps: Vec<Step> = vec![
            (10, Some(vec![inc("jellyfin", 0)]), vec![], vec![]),
            (3599, None, vec![], vec![]),
            (3600, None, vec!["jellyfin"], vec![]),
            // not again within the same interval
            (3700, None, vec![], vec![]),
            (
                1800 + 3600,
                Some(vec![inc("jellyfin", 0), inc("plex", 1800)]),
                vec![],
                vec![],
            ),
            (7200, None, vec!["jellyfin"], vec![]),
            (1800 + 7200, None, vec!["plex"], vec![]),
            // jellyfin leaves the open set: recovered, no more reminders for it
            (
                9100,
                Some(vec![inc("plex", 1800)]),
                vec![],
                vec!["jellyfin"],
            ),
            (10800, None, vec![], vec![]),
            (1800 + 10800, None, vec!["plex"], vec![]),
        ];
        let mut r = Reminders::new(Some(hour));
        for (now, open, want_due, want_closed) in steps {
            let closed: Vec<String> = match open {
                Some(open) => r
                    .sync(&open, at(now))
                    .into_iter()
                    .map(|i| i.service)
                    .collect(),
                None => Vec::new(),
            };
            assert_eq!(closed, want_closed, "closed at {now}");
            let due: Vec<String> = r.take_due(at(now)).into_iter().map(|i| i.service).collect();
            assert_eq!(due, want_due, "due at {now}");
        }
    }

    #[test]
    fn a_restart_keeps_the_rhythm() {
        let hour = Duration::from_secs(3600);
        // first seen 2.5 h after opening: the 2 h slot has passed, next at 3 h
        let mut r = Reminders::new(Some(hour));
        r.sync(&[inc("jellyfin", 0)], at(9000));
        assert!(r.take_due(at(9000)).is_empty());
        assert_eq!(r.next_due(), Some(at(3 * 3600)));
        assert_eq!(r.take_due(at(3 * 3600)).len(), 1);
    }

    #[test]
    fn explicit_resolve_prevents_a_second_recovery_notice() {
        let mut r = Reminders::new(Some(Duration::from_secs(60)));
        r.sync(&[inc("jellyfin", 0), inc("plex", 0)], at(1));
        assert!(r.resolve(&SiteName::new("home").unwrap(), "jellyfin"));
        assert!(!r.resolve(&SiteName::new("home").unwrap(), "jellyfin"));
        let closed = r.sync(&[], at(2));
        assert_eq!(closed, vec![inc("plex", 0)]);
        assert_eq!(r.open_count(), 0);
        assert_eq!(r.next_due(), None);
    }

    #[test]
    fn no_interval_means_no_reminders_but_recoveries() {
        let mut r = Reminders::new(None);
        r.sync(&[inc("jellyfin", 0)], at(0));
        assert!(r.take_due(at(1_000_000)).is_empty());
        assert_eq!(r.next_due(), None);
        assert_eq!(r.sync(&[], at(1_000_001)).len(), 1);
    }
}
