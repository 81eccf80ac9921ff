//! The daily digest: when it is due (once a day at a configured UTC time) and
//! what it says. Pure: the control plane runs the loop, builds the
//! [`DigestSummary`] from its store and hands it over as `Notice::DailyDigest`.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use claudeops_core::site::SiteName;

use crate::text::{md, timestamp};

pub const TITLE: &str = "Claude Ops: Daily Health Summary";

const DAY: u64 = 86_400;

/// A day's activity across the fleet.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DigestSummary {
    pub period_start: Option<SystemTime>,
    pub period_end: Option<SystemTime>,
    /// Every site the digest covers.
    pub sites: Vec<SiteName>,
    pub sessions: u64,
    pub sessions_failed: u64,
    pub escalations: u64,
    pub incidents_opened: u64,
    pub incidents_resolved: u64,
    /// Remediation actions taken (restarts, redeployments).
    pub actions: u64,
    pub cost_usd: f64,
    /// Sites that still have open incidents, with the services affected.
    pub open_incidents: Vec<SiteIncidents>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteIncidents {
    pub site: SiteName,
    pub services: Vec<String>,
}

/// The time of day (UTC) the digest goes out, minutes precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestTime {
    secs: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest time {0:?}: write it as HH:MM in UTC, for example 08:00")]
pub struct InvalidDigestTime(pub String);

impl DigestTime {
    pub fn new(hour: u32, minute: u32) -> Option<DigestTime> {
        (hour < 24 && minute < 60).then_some(DigestTime {
            secs: hour * 3600 + minute * 60,
        })
    }

    fn offset(self) -> u64 {
        u64::from(self.secs)
    }
}

impl Default for DigestTime {
    /// 08:00 UTC.
    fn default() -> Self {
        DigestTime { secs: 8 * 3600 }
    }
}

impl FromStr for DigestTime {
    type Err = InvalidDigestTime;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidDigestTime(s.to_owned());
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        let parse = |v: &str| {
            (v.len() == 2 && v.bytes().all(|b| b.is_ascii_digit()))
                .then(|| v.parse::<u32>().ok())
                .flatten()
        };
        let (h, m) = (parse(h).ok_or_else(bad)?, parse(m).ok_or_else(bad)?);
        DigestTime::new(h, m).ok_or_else(bad)
    }
}

impl fmt::Display for DigestTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.secs / 3600, self.secs / 60 % 60)
    }
}

fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default()
}

/// The first digest slot at or after `t`.
fn slot_at_or_after(t: SystemTime, at: DigestTime) -> SystemTime {
    let d = since_epoch(t);
    let day_start = d.as_secs() / DAY * DAY;
    let slot = Duration::from_secs(day_start + at.offset());
    let slot = if slot < d {
        slot + Duration::from_secs(DAY)
    } else {
        slot
    };
    SystemTime::UNIX_EPOCH + slot
}

/// When the next digest is due. After one was sent, the next slot strictly
/// after it (one digest per day, even when one went out late); when none was
/// ever sent, the first slot from now (no digest of a day nobody watched).
pub fn next_due(last_sent: Option<SystemTime>, now: SystemTime, at: DigestTime) -> SystemTime {
    match last_sent {
        Some(last) => slot_at_or_after(last + Duration::from_secs(1), at),
        None => slot_at_or_after(now, at),
    }
}

/// Whether a digest should go out now.
pub fn is_due(last_sent: Option<SystemTime>, now: SystemTime, at: DigestTime) -> bool {
    now >= next_due(last_sent, now, at)
}

pub(crate) fn render_body(s: &DigestSummary) -> String {
    let mut out = String::new();
    if let (Some(start), Some(end)) = (s.period_start, s.period_end) {
        out.push_str(&format!(
            "**Period:** {} to {}  \n",
            timestamp(start),
            timestamp(end)
        ));
    }
    let sites: Vec<String> = s.sites.iter().map(|x| md(x.as_str())).collect();
    if sites.is_empty() {
        out.push_str("**Sites:** none reported\n\n");
    } else {
        out.push_str(&format!("**Sites:** {}\n\n", sites.join(", ")));
    }
    out.push_str(&format!(
        "- Sessions: {} ({} failed, {} escalations)\n",
        s.sessions, s.sessions_failed, s.escalations
    ));
    out.push_str(&format!(
        "- Incidents: {} opened, {} resolved\n",
        s.incidents_opened, s.incidents_resolved
    ));
    out.push_str(&format!("- Remediation actions: {}\n", s.actions));
    out.push_str(&format!("- Cost: ${:.2}\n\n", s.cost_usd));
    if s.open_incidents.is_empty() {
        out.push_str("No open incidents: every site is healthy.");
    } else {
        out.push_str("**Open incidents**\n");
        for site in &s.open_incidents {
            let services: Vec<String> = site.services.iter().map(|x| md(x)).collect();
            out.push_str(&format!(
                "\n- **{}**: {}",
                md(site.site.as_str()),
                services.join(", ")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-11-29 00:00:00 UTC.
    const DAY0: u64 = 1_764_374_400;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn next_due_table() {
        let eight = DigestTime::new(8, 0).unwrap();
        let h = 3600;
        // (last sent, now, expected due)
        let cases = [
            // never sent: first slot from now
            (None, DAY0 + 7 * h, DAY0 + 8 * h),
            (None, DAY0 + 8 * h, DAY0 + 8 * h),
            (None, DAY0 + 9 * h, DAY0 + DAY + 8 * h),
            // sent at the slot: the next day's slot
            (Some(DAY0 + 8 * h), DAY0 + 9 * h, DAY0 + DAY + 8 * h),
            // sent late (down at 08:00): still the next day's slot, once a day
            (Some(DAY0 + 23 * h), DAY0 + 23 * h, DAY0 + DAY + 8 * h),
            // sent yesterday, down over today's slot: due now (catch up)
            (Some(DAY0 + 8 * h), DAY0 + DAY + 10 * h, DAY0 + DAY + 8 * h),
            // sent just before a slot (clock drift): the slot right after
            (Some(DAY0 + 8 * h - 30), DAY0 + 8 * h, DAY0 + 8 * h),
        ];
        for (last, now, want) in cases {
            let got = next_due(last.map(at), at(now), eight);
            assert_eq!(got, at(want), "last {last:?} now {now}");
        }
    }

    #[test]
    fn is_due_table() {
        let t = DigestTime::default();
        let cases = [
            (Some(DAY0 + 8 * 3600), DAY0 + DAY + 8 * 3600 - 1, false),
            (Some(DAY0 + 8 * 3600), DAY0 + DAY + 8 * 3600, true),
            (Some(DAY0 + 8 * 3600), DAY0 + 8 * 3600 + 60, false),
            (None, DAY0 + 12 * 3600, false),
        ];
        for (last, now, want) in cases {
            assert_eq!(is_due(last.map(at), at(now), t), want, "{last:?} {now}");
        }
    }

    #[test]
    fn digest_time_parse_table() {
        let cases = [
            ("08:00", Some("08:00")),
            (" 23:59 ", Some("23:59")),
            ("00:00", Some("00:00")),
            ("24:00", None),
            ("8:00", None),
            ("08:60", None),
            ("0800", None),
            ("", None),
        ];
        for (input, want) in cases {
            let got = input.parse::<DigestTime>().ok().map(|t| t.to_string());
            assert_eq!(got.as_deref(), want, "{input}");
        }
    }

    #[test]
    fn body_lists_counts_sites_and_open_incidents() {
        let home = SiteName::new("home").unwrap();
        let cabin = SiteName::new("cabin").unwrap();
        let summary = DigestSummary {
            period_start: Some(at(DAY0 + 8 * 3600)),
            period_end: Some(at(DAY0 + DAY + 8 * 3600)),
            sites: vec![cabin.clone(), home.clone()],
            sessions: 24,
            sessions_failed: 1,
            escalations: 2,
            incidents_opened: 3,
            incidents_resolved: 2,
            actions: 2,
            cost_usd: 1.234,
            open_incidents: vec![SiteIncidents {
                site: home,
                services: vec!["jellyfin".into(), "my_app".into()],
            }],
        };
        let body = render_body(&summary);
        let want = "**Period:** 2025-11-29 08:00 UTC to 2025-11-30 08:00 UTC  \n\
                    **Sites:** cabin, home\n\n\
                    - Sessions: 24 (1 failed, 2 escalations)\n\
                    - Incidents: 3 opened, 2 resolved\n\
                    - Remediation actions: 2\n\
                    - Cost: $1.23\n\n\
                    **Open incidents**\n\n\
                    - **home**: jellyfin, my\\_app";
        assert_eq!(body, want);

        let healthy = DigestSummary {
            sites: vec![cabin],
            ..DigestSummary::default()
        };
        let body = render_body(&healthy);
        assert!(body.starts_with("**Sites:** cabin\n"), "{body}");
        assert!(
            body.ends_with("No open incidents: every site is healthy."),
            "{body}"
        );
    }
}
