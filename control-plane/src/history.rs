//! What a probe and a service did over time: uptime over 24 hours, 7 days and
//! 30 days (from the hourly rollups), response times (hourly means), the
//! daily strip, the latest attempts, a certificate's days left; and the
//! public status pages and badges built from the same numbers.
//!
//! A read model like `queries`: it decides nothing. What a status page or
//! badge may show is decided by `CLAUDEOPS_STATUS_PAGES` alone: a service not
//! on a public page has no badge and no public trace.

use std::collections::BTreeMap;

use claudeops_core::SiteName;
use claudeops_core::health::{
    Incident, IncidentStatus, ProbeRecord, ProbeRollup, ProbeState, RollupPeriod,
};
use claudeops_store::{IncidentFilter, StoreError};

use crate::config::StatusPageSpec;
use crate::context::Context;

/// How many of a probe's latest attempts the pages show.
pub const RECENT: u32 = 90;
const DAY_MS: i64 = 86_400_000;

/// The uptime windows, with their names.
pub const WINDOWS: [(&str, i64); 3] = [("24h", DAY_MS), ("7d", 7 * DAY_MS), ("30d", 30 * DAY_MS)];

/// Uptime over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Uptime {
    pub window: &'static str,
    pub attempts: i64,
    pub successes: i64,
}

impl Uptime {
    /// Percent up, `None` without attempts.
    pub fn percent(&self) -> Option<f64> {
        (self.attempts > 0).then(|| self.successes as f64 * 100.0 / self.attempts as f64)
    }
}

/// One probe's history.
#[derive(Debug, Clone)]
pub struct ProbeHistory {
    /// Its latest state, with up to [`RECENT`] attempts, oldest first.
    pub record: ProbeRecord,
    pub uptime: Vec<Uptime>,
    /// The last 7 days, hourly, oldest first.
    pub hourly: Vec<ProbeRollup>,
    /// The last 30 days, daily, oldest first.
    pub daily: Vec<ProbeRollup>,
    pub certificate_days_left: Option<i64>,
}

/// One service's history: its probes' and their sum.
#[derive(Debug, Clone)]
pub struct ServiceHistory {
    pub site: SiteName,
    pub service: String,
    pub state: ProbeState,
    pub since_ms: i64,
    pub uptime: Vec<Uptime>,
    pub daily: Vec<ProbeRollup>,
    pub probes: Vec<ProbeHistory>,
}

/// A public status page's contents.
#[derive(Debug, Clone)]
pub struct StatusView {
    pub spec: StatusPageSpec,
    pub services: Vec<ServiceHistory>,
    /// Open incidents of its services: (service, opened at).
    pub open: Vec<(String, i64)>,
}

/// The worst of the states: down, then unknown, then up.
pub fn worst_of(states: impl IntoIterator<Item = ProbeState>) -> ProbeState {
    worst(states)
}

fn worst(states: impl IntoIterator<Item = ProbeState>) -> ProbeState {
    states
        .into_iter()
        .fold(ProbeState::Up, |acc, s| match (acc, s) {
            (ProbeState::Down, _) | (_, ProbeState::Down) => ProbeState::Down,
            (ProbeState::Unknown, _) | (_, ProbeState::Unknown) => ProbeState::Unknown,
            _ => ProbeState::Up,
        })
}

/// Uptime over each window, from hourly rollups (the hour holding the
/// window's start counts whole).
fn uptime(hourly: &[ProbeRollup], now_ms: i64) -> Vec<Uptime> {
    WINDOWS
        .iter()
        .map(|(window, span)| {
            let from = RollupPeriod::Hour.start_of(now_ms - span);
            let within = hourly.iter().filter(|r| r.start_ms >= from);
            let (attempts, successes) =
                within.fold((0, 0), |(a, s), r| (a + r.attempts, s + r.successes));
            Uptime {
                window,
                attempts,
                successes,
            }
        })
        .collect()
}

/// Rollups of several probes added up per period start.
fn sum(rollups: impl IntoIterator<Item = ProbeRollup>) -> Vec<ProbeRollup> {
    let mut by_start: BTreeMap<i64, ProbeRollup> = BTreeMap::new();
    for r in rollups {
        by_start
            .entry(r.start_ms)
            .and_modify(|t| {
                t.attempts += r.attempts;
                t.successes += r.successes;
                t.latency_sum_ms += r.latency_sum_ms;
                t.latency_min_ms = t.latency_min_ms.min(r.latency_min_ms);
                t.latency_max_ms = t.latency_max_ms.max(r.latency_max_ms);
            })
            .or_insert(r);
    }
    by_start.into_values().collect()
}

/// Days left on a certificate, from a certificate probe's message ("...
/// expires in 12d 3h (2026-12-11T10:00:00Z)"): the time in the last brackets.
pub fn certificate_days_left(record: &ProbeRecord, now_ms: i64) -> Option<i64> {
    if record.kind != "tls" && !record.message.starts_with("certificate of ") {
        return None;
    }
    let open = record.message.rfind('(')?;
    let close = record.message[open..].find(')')? + open;
    let when = humantime::parse_rfc3339(record.message[open + 1..close].trim()).ok()?;
    let at_ms = i64::try_from(when.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis()).ok()?;
    Some((at_ms - now_ms).div_euclid(DAY_MS))
}

#[derive(Clone)]
pub struct History {
    ctx: Context,
}

impl History {
    pub fn new(ctx: Context) -> History {
        History { ctx }
    }

    async fn of(&self, record: ProbeRecord, now_ms: i64) -> Result<ProbeHistory, StoreError> {
        let store = &self.ctx.store;
        let hourly_all = store
            .probe_rollups(
                &record.site,
                &record.probe,
                RollupPeriod::Hour,
                RollupPeriod::Hour.start_of(now_ms - 30 * DAY_MS),
            )
            .await?;
        let daily = store
            .probe_rollups(
                &record.site,
                &record.probe,
                RollupPeriod::Day,
                RollupPeriod::Day.start_of(now_ms - 29 * DAY_MS),
            )
            .await?;
        let week = RollupPeriod::Hour.start_of(now_ms - 7 * DAY_MS);
        Ok(ProbeHistory {
            uptime: uptime(&hourly_all, now_ms),
            hourly: hourly_all
                .into_iter()
                .filter(|r| r.start_ms >= week)
                .collect(),
            daily,
            certificate_days_left: certificate_days_left(&record, now_ms),
            record,
        })
    }

    /// A probe of a site, with its history; `None` if there is no such probe.
    pub async fn probe(
        &self,
        site: &SiteName,
        name: &str,
        now_ms: i64,
    ) -> Result<Option<ProbeHistory>, StoreError> {
        let found = self
            .ctx
            .store
            .list_probes(Some(site), RECENT)
            .await?
            .into_iter()
            .find(|p| p.probe == name);
        match found {
            Some(record) => Ok(Some(self.of(record, now_ms).await?)),
            None => Ok(None),
        }
    }

    /// A service of a site, with its probes' histories; `None` if no probe of
    /// it has reported.
    pub async fn service(
        &self,
        site: &SiteName,
        service: &str,
        now_ms: i64,
    ) -> Result<Option<ServiceHistory>, StoreError> {
        let records: Vec<ProbeRecord> = self
            .ctx
            .store
            .list_probes(Some(site), RECENT)
            .await?
            .into_iter()
            .filter(|p| p.service == service)
            .collect();
        if records.is_empty() {
            return Ok(None);
        }
        let mut probes = Vec::with_capacity(records.len());
        for record in records {
            probes.push(self.of(record, now_ms).await?);
        }
        Ok(Some(Self::summed(site, service, probes, now_ms)))
    }

    fn summed(
        site: &SiteName,
        service: &str,
        probes: Vec<ProbeHistory>,
        now_ms: i64,
    ) -> ServiceHistory {
        let hourly = sum(probes.iter().flat_map(|p| p.hourly.iter().copied()));
        let mut uptime_all = uptime(&hourly, now_ms);
        // The 30-day window reaches past the hourly rows kept for the chart:
        // add it up from each probe's own.
        for (i, window) in uptime_all.iter_mut().enumerate() {
            window.attempts = probes.iter().map(|p| p.uptime[i].attempts).sum();
            window.successes = probes.iter().map(|p| p.uptime[i].successes).sum();
        }
        ServiceHistory {
            site: site.clone(),
            service: service.to_owned(),
            state: worst(probes.iter().map(|p| p.record.state)),
            since_ms: probes
                .iter()
                .map(|p| p.record.since_ms)
                .max()
                .unwrap_or_default(),
            uptime: uptime_all,
            daily: sum(probes.iter().flat_map(|p| p.daily.iter().copied())),
            probes,
        }
    }

    /// A service's recent incidents, newest first.
    pub async fn incidents(
        &self,
        site: &SiteName,
        service: &str,
    ) -> Result<Vec<Incident>, StoreError> {
        self.ctx
            .store
            .list_incidents(&IncidentFilter {
                site: Some(site.clone()),
                service: Some(service.to_owned()),
                limit: 20,
                ..IncidentFilter::default()
            })
            .await
    }

    fn pages(&self) -> Vec<StatusPageSpec> {
        self.ctx.config.status_page_list().unwrap_or_default()
    }

    /// The public status page `slug`, if the operator made one.
    pub async fn status_page(
        &self,
        slug: &str,
        now_ms: i64,
    ) -> Result<Option<StatusView>, StoreError> {
        let Some(spec) = self.pages().into_iter().find(|p| p.slug == slug) else {
            return Ok(None);
        };
        let records = self.ctx.store.list_probes(Some(&spec.site), RECENT).await?;
        let mut by_service: BTreeMap<String, Vec<ProbeRecord>> = BTreeMap::new();
        for record in records {
            if spec.services.is_empty() || spec.services.contains(&record.service) {
                by_service
                    .entry(record.service.clone())
                    .or_default()
                    .push(record);
            }
        }
        let mut services = Vec::with_capacity(by_service.len());
        for (service, records) in by_service {
            let mut probes = Vec::with_capacity(records.len());
            for record in records {
                probes.push(self.of(record, now_ms).await?);
            }
            services.push(Self::summed(&spec.site, &service, probes, now_ms));
        }
        let open = self
            .ctx
            .store
            .list_incidents(&IncidentFilter {
                site: Some(spec.site.clone()),
                status: Some(IncidentStatus::Open),
                limit: 200,
                ..IncidentFilter::default()
            })
            .await?
            .into_iter()
            .filter(|i| services.iter().any(|s| s.service == i.service))
            .map(|i| (i.service, i.opened_at_ms))
            .collect();
        Ok(Some(StatusView {
            spec,
            services,
            open,
        }))
    }

    /// A service on a public status page, for its badge: the first page that
    /// shows it (of `site`, when given). `None` when no public page shows it.
    pub async fn public_service(
        &self,
        service: &str,
        site: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<ServiceHistory>, StoreError> {
        for spec in self.pages() {
            if site.is_some_and(|s| s != spec.site.as_str())
                || !(spec.services.is_empty() || spec.services.iter().any(|s| s == service))
            {
                continue;
            }
            if let Some(history) = self.service(&spec.site, service, now_ms).await? {
                return Ok(Some(history));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: &str, message: &str) -> ProbeRecord {
        ProbeRecord {
            site: SiteName::new("home".to_owned()).unwrap_or_else(|e| panic!("{e}")),
            probe: "p".into(),
            service: "web".into(),
            kind: kind.into(),
            state: ProbeState::Up,
            ok: true,
            latency_ms: 1,
            message: message.into(),
            last_at_ms: 0,
            since_ms: 0,
            history: Vec::new(),
        }
    }

    #[test]
    fn certificate_days_come_from_the_probes_message() {
        let now = humantime::parse_rfc3339("2026-12-01T00:00:00Z")
            .map(|t| {
                t.duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64)
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let tls = record(
            "tls",
            "certificate of web.example.invalid expires in 10d 2h (2026-12-11T02:00:00Z)",
        );
        assert_eq!(certificate_days_left(&tls, now), Some(10));
        let expired = record(
            "tls",
            "certificate of web.example.invalid expired 3d ago (2026-11-28T00:00:00Z)",
        );
        assert_eq!(certificate_days_left(&expired, now), Some(-3));
        assert_eq!(
            certificate_days_left(&record("http", "HTTP 200 (12 ms)"), now),
            None
        );
        assert_eq!(
            certificate_days_left(&record("tls", "handshake failed"), now),
            None
        );
    }

    #[test]
    fn uptime_counts_the_windows_hours() {
        let hour = 3_600_000;
        let now = 100 * DAY_MS + 5 * hour + 10;
        let r = |start_ms, attempts, successes| ProbeRollup {
            start_ms,
            attempts,
            successes,
            latency_sum_ms: 0,
            latency_min_ms: 0,
            latency_max_ms: 0,
        };
        let hourly = [
            r(now - 20 * DAY_MS, 10, 0),
            r(now - 3 * DAY_MS, 10, 5),
            r(RollupPeriod::Hour.start_of(now - hour), 60, 60),
        ];
        let got = uptime(&hourly, now);
        assert_eq!(
            got.iter()
                .map(|u| (u.window, u.attempts, u.successes))
                .collect::<Vec<_>>(),
            [("24h", 60, 60), ("7d", 70, 65), ("30d", 80, 65)]
        );
        assert_eq!(got[0].percent(), Some(100.0));
        assert_eq!(
            Uptime {
                window: "24h",
                attempts: 0,
                successes: 0
            }
            .percent(),
            None
        );
        assert_eq!(
            worst([ProbeState::Up, ProbeState::Unknown]),
            ProbeState::Unknown
        );
        assert_eq!(
            worst([ProbeState::Unknown, ProbeState::Down]),
            ProbeState::Down
        );
        assert_eq!(worst([]), ProbeState::Up);
    }
}
