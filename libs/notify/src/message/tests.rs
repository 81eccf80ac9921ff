//! Titles and bodies of every kind, alone and grouped.

use super::*;

fn site(s: &str) -> SiteName {
    SiteName::new(s).unwrap()
}

fn t(secs: u64) -> SystemTime {
    // 2025-11-29 00:00:00 UTC + secs
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_374_400 + secs)
}

fn ctx() -> RenderContext {
    RenderContext {
        dashboard_url: None,
        now: t(12 * 3600),
    }
}

fn one(event: Notice) -> Message {
    render(&[event], &ctx()).unwrap()
}

fn opened(s: &str, service: &str) -> Notice {
    Notice::IncidentOpened {
        site: site(s),
        service: service.into(),
        summary: format!("{service} returns HTTP 502\nmore detail"),
        session: None,
    }
}

fn needs_human(reason: HumanReason, service: Option<&str>) -> Notice {
    Notice::NeedsHumanAttention {
        site: site("home"),
        service: service.map(String::from),
        reason,
        detail: "details here".into(),
        session: Some(42),
    }
}

#[test]
fn single_titles_and_levels() {
    let cases: Vec<(Notice, &str, Level, MessageKind)> = vec![
        (
            opened("home", "jellyfin"),
            "Claude Ops: Incident opened - jellyfin",
            Level::Failure,
            MessageKind::IncidentOpened,
        ),
        (
            Notice::IncidentRecovered {
                site: site("home"),
                service: "jellyfin".into(),
                open_for: Some(Duration::from_secs(3900)),
                detail: None,
            },
            "Claude Ops: Recovered jellyfin",
            Level::Success,
            MessageKind::IncidentRecovered,
        ),
        (
            Notice::AutoRemediated {
                site: site("home"),
                service: "jellyfin".into(),
                action: "restarted container jellyfin".into(),
                verification: Verification::Passed("HTTP 200".into()),
                session: None,
            },
            "Claude Ops: Auto-remediated jellyfin",
            Level::Success,
            MessageKind::AutoRemediated,
        ),
        (
            Notice::AutoRemediated {
                site: site("home"),
                service: "jellyfin".into(),
                action: "restarted container jellyfin".into(),
                verification: Verification::Failed("HTTP 502".into()),
                session: None,
            },
            "Claude Ops: Auto-remediated jellyfin (not verified)",
            Level::Warning,
            MessageKind::AutoRemediated,
        ),
        (
            Notice::Escalated {
                site: site("home"),
                service: Some("postgres".into()),
                tier: Tier::Remediate,
                reason: "restart did not help".into(),
                session: None,
            },
            "Claude Ops: Escalated to Tier 3 - postgres",
            Level::Warning,
            MessageKind::Escalated,
        ),
        (
            Notice::Escalated {
                site: site("home"),
                service: None,
                tier: Tier::Investigate,
                reason: "two checks failed".into(),
                session: None,
            },
            "Claude Ops: Escalated to Tier 2 - home",
            Level::Warning,
            MessageKind::Escalated,
        ),
        (
            needs_human(HumanReason::CooldownExceeded, Some("jellyfin")),
            "Claude Ops: Needs human attention - jellyfin",
            Level::Failure,
            MessageKind::NeedsHumanAttention,
        ),
        (
            needs_human(HumanReason::InvalidResponse, None),
            "Claude Ops: Needs human attention - home",
            Level::Failure,
            MessageKind::NeedsHumanAttention,
        ),
        (
            Notice::WorkerOffline {
                site: site("cabin"),
                worker: "nas-1".into(),
                last_seen: Some(t(3600)),
            },
            "Claude Ops: Worker offline - nas-1",
            Level::Warning,
            MessageKind::WorkerOffline,
        ),
        (
            Notice::WorkerBack {
                site: site("cabin"),
                worker: "nas-1".into(),
            },
            "Claude Ops: Worker back online - nas-1",
            Level::Success,
            MessageKind::WorkerBack,
        ),
        (
            Notice::Reminder {
                site: site("home"),
                service: "jellyfin".into(),
                opened_at: t(0),
                summary: None,
            },
            "Claude Ops: Still unresolved - jellyfin",
            Level::Warning,
            MessageKind::Reminder,
        ),
        (
            Notice::DailyDigest(DigestSummary::default()),
            "Claude Ops: Daily Health Summary",
            Level::Success,
            MessageKind::DailyDigest,
        ),
        (
            Notice::Test,
            "Claude Ops: Test notification",
            Level::Info,
            MessageKind::Test,
        ),
    ];
    for (event, title, level, kind) in cases {
        let m = one(event);
        assert_eq!(m.title, title);
        assert_eq!(m.level, level, "{title}");
        assert_eq!(m.kind, kind, "{title}");
    }
}

#[test]
fn every_message_names_its_site() {
    let events = vec![
        opened("home", "jellyfin"),
        Notice::IncidentRecovered {
            site: site("home"),
            service: "jellyfin".into(),
            open_for: None,
            detail: None,
        },
        needs_human(HumanReason::ChainExhausted, None),
        Notice::WorkerBack {
            site: site("home"),
            worker: "w".into(),
        },
        Notice::Reminder {
            site: site("home"),
            service: "x".into(),
            opened_at: t(0),
            summary: None,
        },
        Notice::DailyDigest(DigestSummary {
            sites: vec![site("home")],
            ..DigestSummary::default()
        }),
    ];
    for e in events {
        let m = one(e);
        assert!(
            m.body.contains("**Site:** home") || m.body.contains("**Sites:** home"),
            "{}",
            m.body
        );
        assert_eq!(m.sites, vec!["home".to_owned()], "{}", m.title);
    }
    let test = one(Notice::Test);
    assert!(
        test.body.starts_with("**Site:** all sites"),
        "{}",
        test.body
    );
}

#[test]
fn single_bodies() {
    let cases: Vec<(Notice, &str)> = vec![
        (
            opened("home", "jellyfin"),
            "**Site:** home  \n**Service:** jellyfin\n\njellyfin returns HTTP 502\nmore detail",
        ),
        (
            Notice::IncidentRecovered {
                site: site("home"),
                service: "jellyfin".into(),
                open_for: Some(Duration::from_secs(3900)),
                detail: Some("verified by re-probe".into()),
            },
            "**Site:** home  \n**Service:** jellyfin  \n**Down for:** 1h 5m\n\nverified by re-probe",
        ),
        (
            Notice::AutoRemediated {
                site: site("home"),
                service: "jellyfin".into(),
                action: "restarted container jellyfin".into(),
                verification: Verification::Passed("HTTP 200 in 80 ms".into()),
                session: None,
            },
            "**Site:** home  \n**Service:** jellyfin  \n**Action:** restarted container jellyfin  \n\
             **Verification:** passed (HTTP 200 in 80 ms)",
        ),
        (
            needs_human(HumanReason::CooldownExceeded, Some("jellyfin")),
            "**Site:** home  \n**Service:** jellyfin  \n**Reason:** cooldown limit exceeded\n\ndetails here",
        ),
        (
            needs_human(HumanReason::ChainExhausted, None),
            "**Site:** home  \n**Reason:** escalation chain exhausted\n\ndetails here",
        ),
        (
            needs_human(HumanReason::CostCapHit, None),
            "**Site:** home  \n**Reason:** cost cap reached\n\ndetails here",
        ),
        (
            Notice::Escalated {
                site: site("home"),
                service: Some("postgres".into()),
                tier: Tier::Investigate,
                reason: "dead tuples at 40%".into(),
                session: None,
            },
            "**Site:** home  \n**Service:** postgres  \n**Now at:** Tier 2 (Investigate)\n\ndead tuples at 40%",
        ),
        (
            Notice::WorkerOffline {
                site: site("cabin"),
                worker: "nas_1".into(),
                last_seen: Some(t(3600)),
            },
            "**Site:** cabin  \n**Worker:** nas\\_1  \n**Last seen:** 2025-11-29 01:00 UTC\n\n\
             Its probes and sessions are paused until it reconnects.",
        ),
        (
            Notice::Reminder {
                site: site("home"),
                service: "jellyfin".into(),
                opened_at: t(4 * 3600),
                summary: Some("HTTP 502".into()),
            },
            "**Site:** home  \n**Service:** jellyfin  \n**Open for:** 8h (since 2025-11-29 04:00 UTC)\n\nHTTP 502",
        ),
    ];
    for (event, want) in cases {
        assert_eq!(one(event).body, want);
    }
}

#[test]
fn dashboard_links_sessions_and_the_dashboard() {
    let ctx = RenderContext {
        dashboard_url: Some("https://ops.example/".into()),
        now: t(0),
    };
    let m = render(&[needs_human(HumanReason::InvalidResponse, None)], &ctx).unwrap();
    assert!(
        m.body
            .contains("**Session:** [session 42](https://ops.example/sessions/42)"),
        "{}",
        m.body
    );
    assert!(
        m.body
            .ends_with("[Open the dashboard](https://ops.example)"),
        "{}",
        m.body
    );
}

#[test]
fn grouped_messages_list_every_site_and_service() {
    let cases: Vec<(Vec<Notice>, &str, &str)> = vec![
        (
            vec![
                opened("home", "jellyfin"),
                opened("home", "sonarr"),
                opened("cabin", "plex"),
            ],
            "Claude Ops: Incident opened - 3 services on 2 sites",
            "**Sites:** cabin, home\n\n\
             - **home** / jellyfin: jellyfin returns HTTP 502\n\
             - **home** / sonarr: sonarr returns HTTP 502\n\
             - **cabin** / plex: plex returns HTTP 502",
        ),
        (
            vec![opened("home", "jellyfin"), opened("home", "sonarr")],
            "Claude Ops: Incident opened - 2 services on home",
            "**Sites:** home\n\n\
             - **home** / jellyfin: jellyfin returns HTTP 502\n\
             - **home** / sonarr: sonarr returns HTTP 502",
        ),
        (
            vec![
                needs_human(HumanReason::CooldownExceeded, Some("jellyfin")),
                needs_human(HumanReason::InvalidResponse, None),
            ],
            "Claude Ops: Needs human attention - 2 issues on home",
            "**Sites:** home\n\n\
             - **home** / jellyfin: cooldown limit exceeded: details here\n\
             - **home**: invalid session response: details here",
        ),
        (
            vec![
                Notice::WorkerOffline {
                    site: site("home"),
                    worker: "a".into(),
                    last_seen: None,
                },
                Notice::WorkerOffline {
                    site: site("lake"),
                    worker: "b".into(),
                    last_seen: None,
                },
            ],
            "Claude Ops: Worker offline - 2 workers on 2 sites",
            "**Sites:** home, lake\n\n- **home** / a: offline\n- **lake** / b: offline",
        ),
        (
            vec![
                Notice::Reminder {
                    site: site("home"),
                    service: "a".into(),
                    opened_at: t(0),
                    summary: None,
                },
                Notice::Reminder {
                    site: site("home"),
                    service: "b".into(),
                    opened_at: t(3600),
                    summary: None,
                },
            ],
            "Claude Ops: Still unresolved - 2 incidents on home",
            "**Sites:** home\n\n- **home** / a: open for 12h\n- **home** / b: open for 11h",
        ),
        (
            vec![
                opened("home", "a"),
                Notice::WorkerBack {
                    site: site("cabin"),
                    worker: "w".into(),
                },
            ],
            "Claude Ops: 2 updates on 2 sites",
            "**Sites:** cabin, home\n\n- **home** / a: a returns HTTP 502\n- **cabin** / w: back online",
        ),
    ];
    for (events, title, body) in cases {
        let m = render(&events, &ctx()).unwrap();
        assert_eq!(m.title, title);
        assert_eq!(m.body, body, "{title}");
    }
}

#[test]
fn grouped_level_is_the_worst_and_names_cannot_inject_markdown() {
    let events = vec![
        Notice::AutoRemediated {
            site: site("home"),
            service: "a".into(),
            action: "restart".into(),
            verification: Verification::Passed("ok".into()),
            session: None,
        },
        Notice::AutoRemediated {
            site: site("home"),
            service: "[x](http://evil)\nline".into(),
            action: "restart".into(),
            verification: Verification::NotRun,
            session: None,
        },
    ];
    let m = render(&events, &ctx()).unwrap();
    assert_eq!(m.level, Level::Warning);
    assert_eq!(m.title, "Claude Ops: Auto-remediated 2 services on home");
    assert!(
        m.body
            .contains("\\[x\\](http://evil) line: restart; verification not run"),
        "{}",
        m.body
    );
    assert!(render(&[], &ctx()).is_none());
}

#[test]
fn an_approval_request_carries_its_links_and_deadline() {
    let request = |links: bool| Notice::ApprovalRequested {
        site: site("home"),
        service: "web".into(),
        action: "redeploy of web".into(),
        detail: "The published port is wrong; compose.yaml says 8080.".into(),
        session: Some(7),
        approve_url: links.then(|| "https://ops.example.invalid/approval/3?d=approve".into()),
        deny_url: links.then(|| "https://ops.example.invalid/approval/3?d=deny".into()),
        expires_at: t(600),
    };
    let m = one(request(true));
    assert_eq!(m.title, "Claude Ops: Approval needed - redeploy of web");
    assert_eq!(m.kind, MessageKind::ApprovalRequested);
    assert_eq!(m.kind.as_str(), "approval_requested");
    assert_eq!(m.level, Level::Warning);
    assert!(
        m.body.contains(
            "[Approve](https://ops.example.invalid/approval/3?d=approve) · \
             [Deny](https://ops.example.invalid/approval/3?d=deny)"
        ),
        "{}",
        m.body
    );
    assert!(m.body.contains("2025-11-29 00:10"), "{}", m.body);
    assert!(m.body.contains("compose.yaml says 8080"), "{}", m.body);
    let without = one(request(false));
    assert!(
        without.body.contains("on the session's page"),
        "{}",
        without.body
    );
    assert!(!without.body.contains("[Approve]"), "{}", without.body);
}
