//! What the scheduler reads and keeps for `CLAUDEOPS_SWEEP=auto`: the site's
//! snapshot when a sweep falls due, and the [`SweepMark`] between sweeps (in the
//! store's settings, so a restart neither repeats a sweep nor forgets a skip).

use claudeops_core::SiteName;
use claudeops_core::health::{IncidentStatus, ProbeState};
use claudeops_core::sweep::{self, SiteSnapshot, SweepMark};
use claudeops_store::{EventFilter, IncidentFilter, StoreError};

use crate::context::Context;

/// Events and incidents read back to find what changed since the last sweep;
/// more than this is a change either way.
const LOOK_BACK: u32 = 200;

fn key(site: &SiteName) -> String {
    format!("sweep.{site}")
}

/// The site's mark; an unreadable one reads as none (the next sweep runs).
pub(super) async fn load(ctx: &Context, site: &SiteName) -> SweepMark {
    match ctx.store.get_setting(&key(site)).await {
        Ok(Some(json)) => serde_json::from_str(&json).unwrap_or_else(|error| {
            tracing::warn!(%site, %error, "an unreadable sweep mark was ignored");
            SweepMark::default()
        }),
        Ok(None) => SweepMark::default(),
        Err(error) => {
            tracing::warn!(%site, %error, "could not read the sweep mark");
            SweepMark::default()
        }
    }
}

pub(super) async fn save(ctx: &Context, site: &SiteName, mark: &SweepMark) {
    let json = match serde_json::to_string(mark) {
        Ok(json) => json,
        Err(error) => {
            tracing::error!(%site, %error, "could not write the sweep mark");
            return;
        }
    };
    if let Err(error) = ctx.store.put_setting(&key(site), &json).await {
        tracing::warn!(%site, %error, "could not store the sweep mark");
    }
}

/// The site as the store knows it now, against the last sweep that ran.
pub(super) async fn snapshot(
    ctx: &Context,
    site: &SiteName,
    mark: &SweepMark,
) -> Result<SiteSnapshot, StoreError> {
    let probes = ctx.store.list_probes(Some(site), 0).await?;
    let not_up = probes
        .iter()
        .find(|p| p.state != ProbeState::Up || !p.ok)
        .map(|p| format!("{}/{}", p.service, p.probe));
    let reports: Vec<String> = ctx
        .store
        .inventories(site)
        .await?
        .iter()
        .map(|r| r.inventory.to_string())
        .collect();
    let since = mark.ran_at_ms.unwrap_or(i64::MIN);
    let events = ctx
        .store
        .list_events(&EventFilter {
            site: Some(site.clone()),
            limit: LOOK_BACK,
            ..EventFilter::default()
        })
        .await?;
    let events_since = events
        .iter()
        .filter(|e| e.ts_ms > since && (e.session_id.is_none() || e.session_id != mark.session_id))
        .count();
    let incidents = ctx
        .store
        .list_incidents(&IncidentFilter {
            site: Some(site.clone()),
            limit: LOOK_BACK,
            ..IncidentFilter::default()
        })
        .await?
        .iter()
        .filter(|i| {
            i.status == IncidentStatus::Open
                || i.opened_at_ms > since
                || i.resolved_at_ms.is_some_and(|at| at > since)
        })
        .count();
    Ok(SiteSnapshot {
        probes: probes.len(),
        not_up,
        fingerprint: sweep::fingerprint(reports.iter().map(String::as_str)),
        events_since,
        incidents,
    })
}
