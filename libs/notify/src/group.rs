//! Grouping: events of one kind arriving within a window become one message,
//! so a fleet-wide failure is one notification, not one per service.
//!
//! The window opens with the first event of a kind and does not slide, so a
//! steady trickle cannot hold a message back forever. A digest and a test are
//! never held, nor is an approval request (its links are its own). Pure state: the caller passes `now`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use claudeops_core::tier::Tier;

use crate::message::{MessageKind, Notice};

/// Events that are combined share a key: the kind, and for escalations the tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum GroupKey {
    Kind(MessageKind),
    Escalated(Tier),
}

fn group_key(event: &Notice) -> Option<GroupKey> {
    match event {
        Notice::DailyDigest(_) | Notice::Test | Notice::ApprovalRequested { .. } => None,
        Notice::Escalated { tier, .. } => Some(GroupKey::Escalated(*tier)),
        other => Some(GroupKey::Kind(other.kind())),
    }
}

#[derive(Debug)]
struct Batch {
    due: Instant,
    events: Vec<Notice>,
}

/// Open batches, by kind.
#[derive(Debug)]
pub struct Grouper {
    window: Duration,
    batches: BTreeMap<GroupKey, Batch>,
    /// Events sent on their own, in arrival order.
    ready: Vec<Vec<Notice>>,
}

impl Grouper {
    pub fn new(window: Duration) -> Grouper {
        Grouper {
            window,
            batches: BTreeMap::new(),
            ready: Vec::new(),
        }
    }

    /// Adds an event. An event about the same subject as one already waiting in
    /// its batch replaces it (the later news wins, keeping its place).
    pub fn push(&mut self, event: Notice, now: Instant) {
        let Some(key) = group_key(&event) else {
            self.ready.push(vec![event]);
            return;
        };
        let window = self.window;
        let batch = self.batches.entry(key).or_insert_with(|| Batch {
            due: now + window,
            events: Vec::new(),
        });
        let same = batch
            .events
            .iter()
            .position(|e| e.subject() == event.subject());
        match same {
            Some(i) => batch.events[i] = event,
            None => batch.events.push(event),
        }
    }

    /// Takes every group whose window has closed, oldest first.
    pub fn take_due(&mut self, now: Instant) -> Vec<Vec<Notice>> {
        let mut out = std::mem::take(&mut self.ready);
        let mut due: Vec<(Instant, GroupKey)> = self
            .batches
            .iter()
            .filter(|(_, b)| b.due <= now)
            .map(|(k, b)| (b.due, *k))
            .collect();
        due.sort();
        for (_, key) in due {
            if let Some(batch) = self.batches.remove(&key) {
                out.push(batch.events);
            }
        }
        out
    }

    /// Takes everything, due or not (shutdown).
    pub fn take_all(&mut self) -> Vec<Vec<Notice>> {
        let mut out = std::mem::take(&mut self.ready);
        let mut batches: Vec<Batch> = std::mem::take(&mut self.batches).into_values().collect();
        batches.sort_by_key(|b| b.due);
        out.extend(batches.into_iter().map(|b| b.events));
        out
    }

    /// When the next group is due; `None` when nothing waits.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        if !self.ready.is_empty() {
            return Some(now);
        }
        self.batches.values().map(|b| b.due).min()
    }

    pub fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.batches.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DigestSummary;
    use crate::message::{HumanReason, Verification};
    use claudeops_core::site::SiteName;

    fn site(s: &str) -> SiteName {
        SiteName::new(s).unwrap()
    }

    fn opened(s: &str, service: &str, summary: &str) -> Notice {
        Notice::IncidentOpened {
            site: site(s),
            service: service.into(),
            summary: summary.into(),
            session: None,
        }
    }

    fn escalated(s: &str, tier: Tier) -> Notice {
        Notice::Escalated {
            site: site(s),
            service: None,
            tier,
            reason: "r".into(),
            session: None,
        }
    }

    /// Which services came out together, per flushed group.
    fn shape(groups: &[Vec<Notice>]) -> Vec<Vec<String>> {
        groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|e| match e.subject() {
                        Some((s, Some(n))) => format!("{s}/{n}"),
                        Some((s, None)) => s.to_string(),
                        None => e.kind().as_str().to_owned(),
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn grouping_table() {
        let w = Duration::from_secs(30);
        let s = Duration::from_secs;
        // (events at offsets, flush at offset, expected groups)
        type Case = (Vec<(u64, Notice)>, u64, Vec<Vec<&'static str>>);
        let cases: Vec<Case> = vec![
            // three services on two sites within the window: one message
            (
                vec![
                    (0, opened("home", "jellyfin", "a")),
                    (5, opened("home", "sonarr", "b")),
                    (29, opened("cabin", "plex", "c")),
                ],
                30,
                vec![vec!["home/jellyfin", "home/sonarr", "cabin/plex"]],
            ),
            // the window has not closed yet: nothing
            (vec![(0, opened("home", "jellyfin", "a"))], 29, vec![]),
            // a different kind is a different message
            (
                vec![
                    (0, opened("home", "jellyfin", "a")),
                    (
                        1,
                        Notice::WorkerBack {
                            site: site("home"),
                            worker: "w1".into(),
                        },
                    ),
                ],
                31,
                vec![vec!["home/jellyfin"], vec!["home/w1"]],
            ),
            // escalations group per tier
            (
                vec![
                    (0, escalated("home", Tier::Investigate)),
                    (1, escalated("cabin", Tier::Remediate)),
                    (2, escalated("lake", Tier::Investigate)),
                ],
                40,
                vec![vec!["home", "lake"], vec!["cabin"]],
            ),
            // the same subject twice: one line, the later wins
            (
                vec![
                    (0, opened("home", "jellyfin", "first")),
                    (3, opened("home", "jellyfin", "second")),
                ],
                30,
                vec![vec!["home/jellyfin"]],
            ),
            // digest and test never wait
            (
                vec![
                    (0, Notice::Test),
                    (1, Notice::DailyDigest(DigestSummary::default())),
                ],
                1,
                vec![vec!["test"], vec!["daily_digest"]],
            ),
        ];
        for (events, flush, want) in cases {
            let t0 = Instant::now();
            let mut g = Grouper::new(w);
            for (offset, e) in events {
                g.push(e, t0 + s(offset));
            }
            let got = shape(&g.take_due(t0 + s(flush)));
            let want: Vec<Vec<String>> = want
                .into_iter()
                .map(|v| v.into_iter().map(String::from).collect())
                .collect();
            assert_eq!(got, want, "flush at {flush}");
        }
    }

    #[test]
    fn later_event_for_same_subject_replaces_the_earlier() {
        let t0 = Instant::now();
        let mut g = Grouper::new(Duration::from_secs(30));
        g.push(opened("home", "jellyfin", "first"), t0);
        g.push(opened("home", "jellyfin", "second"), t0);
        let groups = g.take_due(t0 + Duration::from_secs(30));
        assert_eq!(groups, vec![vec![opened("home", "jellyfin", "second")]]);
    }

    #[test]
    fn window_does_not_slide_and_next_due_follows_the_oldest() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut g = Grouper::new(s(30));
        assert_eq!(g.next_due(t0), None);
        g.push(opened("home", "a", "x"), t0);
        g.push(
            Notice::NeedsHumanAttention {
                site: site("home"),
                service: Some("b".into()),
                reason: HumanReason::ChainExhausted,
                detail: "d".into(),
                session: None,
            },
            t0 + s(10),
        );
        assert_eq!(g.next_due(t0 + s(10)), Some(t0 + s(30)));
        // an event at 25 s joins the batch opened at 0 s; it does not push it out
        g.push(opened("home", "c", "x"), t0 + s(25));
        let first = g.take_due(t0 + s(30));
        assert_eq!(shape(&first), vec![vec!["home/a", "home/c"]]);
        assert_eq!(g.next_due(t0 + s(30)), Some(t0 + s(40)));
        g.push(
            Notice::AutoRemediated {
                site: site("home"),
                service: "d".into(),
                action: "restart".into(),
                verification: Verification::NotRun,
                session: None,
            },
            t0 + s(31),
        );
        let all = g.take_all();
        assert_eq!(shape(&all), vec![vec!["home/b"], vec!["home/d"]]);
        assert!(g.is_empty());
    }
}
