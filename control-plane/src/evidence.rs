//! What every session starts knowing, not only incident sessions: the probes
//! that are not up (with their recent attempts), the site's recent events and
//! the typed actions taken on it, within a byte budget. It is added to the
//! session's handoff; the model reads it as data (it comes from the site's own
//! probes and records, and is marked as such).

use std::fmt::Write as _;

use claudeops_core::SiteName;
use claudeops_core::event::EventLevel;
use claudeops_core::health::IncidentStatus;
use claudeops_core::health::ProbeState;
use claudeops_store::{ActionFilter, EventFilter, IncidentFilter};

use crate::context::Context;

/// The most evidence a session starts with.
pub const BUDGET: usize = 8 * 1024;
const EVENTS: u32 = 12;
const ACTIONS: u32 = 8;
const ATTEMPTS: u32 = 6;
const INCIDENT_EVIDENCE: usize = 2 * 1024;

fn clock(ms: i64) -> String {
    let text = humantime::format_rfc3339_seconds(crate::clock::time_of_ms(ms)).to_string();
    text.get(11..19).map_or(text.clone(), str::to_owned)
}

/// The site's evidence now, as Markdown. `incidents`: with the open
/// incidents' evidence (the failing probes' output when they opened: a
/// container's state and last log lines), for a session whose handoff does
/// not already carry it.
pub async fn gather(ctx: &Context, site: &SiteName, incidents: bool) -> String {
    let mut out = String::new();
    let probes = ctx
        .store
        .list_probes(Some(site), ATTEMPTS)
        .await
        .unwrap_or_default();
    let failing: Vec<_> = probes
        .iter()
        .filter(|p| p.state != ProbeState::Up || !p.ok)
        .collect();
    let up = probes.len() - failing.len();
    let _ = writeln!(
        out,
        "\n## What the control plane knows now\n\nProbes of site {site}: {} up, {} not up.",
        up,
        failing.len()
    );
    for p in &failing {
        let attempts: String = p
            .history
            .iter()
            .map(|h| if h.ok { '+' } else { '-' })
            .collect();
        let _ = writeln!(
            out,
            "- {}/{} ({}): {} since {} ({}); latest attempts, oldest first: {attempts}",
            p.service,
            p.probe,
            p.kind,
            p.state,
            clock(p.since_ms),
            claudeops_core::text::shorten(&p.message, 300)
        );
    }
    if incidents {
        let open = ctx
            .store
            .list_incidents(&IncidentFilter {
                site: Some(site.clone()),
                status: Some(IncidentStatus::Open),
                limit: 5,
                ..IncidentFilter::default()
            })
            .await
            .unwrap_or_default();
        for incident in &open {
            let _ = writeln!(
                out,
                "\nOpen incident #{} ({} down since {}), its evidence:\n{}",
                incident.id,
                incident.service,
                clock(incident.opened_at_ms),
                cut(incident.evidence.clone(), INCIDENT_EVIDENCE)
            );
        }
    }
    // Events about services, and critical ones: what happened to the site's
    // services (discovery's problems are the repos', shown on the dashboard).
    let events: Vec<_> = ctx
        .store
        .list_events(&EventFilter {
            site: Some(site.clone()),
            limit: EVENTS * 4,
            ..EventFilter::default()
        })
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.service.is_some() || e.level == EventLevel::Critical)
        .take(EVENTS as usize)
        .collect();
    if !events.is_empty() {
        out.push_str("\nRecent events, newest first:\n");
        for e in &events {
            let _ = writeln!(
                out,
                "- {} {} {}{}",
                clock(e.ts_ms),
                e.level,
                e.service
                    .as_deref()
                    .map(|s| format!("[{s}] "))
                    .unwrap_or_default(),
                claudeops_core::text::shorten(&e.message, 240)
            );
        }
    }
    let actions = ctx
        .store
        .list_actions(&ActionFilter {
            site: Some(site.clone()),
            limit: ACTIONS,
            ..ActionFilter::default()
        })
        .await
        .unwrap_or_default();
    if !actions.is_empty() {
        out.push_str("\nRecent typed actions, newest first (the cooldown ledger's record):\n");
        for a in &actions {
            let _ = writeln!(
                out,
                "- {} {} of {}: {}{}",
                clock(a.reserved_at_ms),
                a.kind.as_str(),
                a.service,
                a.status.as_str(),
                a.result
                    .as_deref()
                    .map(|r| format!(" ({})", claudeops_core::text::shorten(r, 160)))
                    .unwrap_or_default()
            );
        }
    }
    cut(out, BUDGET)
}

fn cut(text: String, limit: usize) -> String {
    claudeops_core::text::cut(text, limit, "[... cut to the evidence budget]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_a_character_boundary() {
        let text = "é".repeat(10);
        let cut_text = cut(text, 5);
        assert!(cut_text.starts_with("éé"), "{cut_text}");
        assert!(cut_text.ends_with("budget]\n"), "{cut_text}");
        assert_eq!(cut("short".into(), 100), "short");
    }

    #[test]
    fn clock_shows_the_time_of_day() {
        assert_eq!(clock(3_723_000), "01:02:03");
    }
}
