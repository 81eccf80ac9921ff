//! Filled view models shared by the render tests and the `preview` example.
//!
//! Hostile text is planted on purpose (a prompt with `<script>`, a hostname with a
//! quote, a raw line with an `<img onerror>`, an event message with `<script>`, a
//! service name with `<svg onload>`, an action result with `<iframe>`) so every test
//! also checks escaping.

#![allow(dead_code)]

use claudeops_web_ui::*;
use serde_json::{Value, json};

pub const TOKEN: &str = "csrf-TOKEN-123";
pub const EVIL_PROMPT: &str = "Check <script>alert('x')</script> & \"friends\"";
pub const EVIL_ERROR: &str = "worker lost: <b>boom</b>";
pub const EVIL_HOST: &str = "nas\"><i>x</i>";
pub const EVIL_RAW: &str = "not json <img src=x onerror=alert(1)>";
pub const EVIL_MESSAGE: &str = "disk full <script>alert('event')</script>";
pub const EVIL_SERVICE: &str = "web<svg onload=alert(2)>";
pub const EVIL_RESULT: &str = "exit 1: <iframe src=x></iframe>";
pub const EVIL_SUMMARY: &str = "Sonarr restarted <u>twice</u>; queue moving again.";
pub const STARTED_MS: i64 = 1_771_178_175_000; // 2026-02-15 17:56:15 UTC
/// "Now" on the cooldowns and sites pages.
pub const NOW_MS: i64 = STARTED_MS + 600_000;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

pub fn layout(nav: Nav) -> Layout {
    Layout::logged_in("0.1.0", TOKEN, nav)
}

pub fn sessions_page() -> SessionsPage {
    let row = |id: i64, tier: u8, status: &str, parent_id: Option<i64>| SessionRow {
        id,
        site: "home-lab".into(),
        tier,
        model: ["haiku", "sonnet", "opus"][usize::from(tier.clamp(1, 3) - 1)].into(),
        status: status.into(),
        trigger: if parent_id.is_some() {
            "escalation".into()
        } else {
            "scheduled".into()
        },
        started_at_ms: STARTED_MS + id * 60_000,
        duration_ms: 125_000,
        cost_usd: 0.0123 * f64::from(tier),
        turns: 3 * i64::from(tier),
        parent_id,
    };
    SessionsPage {
        layout: layout(Nav::Sessions),
        sessions: vec![
            row(21, 1, "running", None),
            row(20, 3, "failed", Some(19)),
            row(19, 2, "completed", Some(18)),
            row(18, 1, "completed", None),
            row(17, 1, "timed_out", None),
            row(16, 1, "stopped", None),
            row(15, 2, "completed", Some(3)),
        ],
        paging: Paging {
            offset: 50,
            limit: 50,
            total: Some(157),
            has_more: true,
        },
    }
}

pub fn session_detail(running: bool) -> SessionDetail {
    SessionDetail {
        id: 18,
        site: "home-lab".into(),
        worker_id: Some("wrk-7f3a".into()),
        tier: 1,
        model: "haiku".into(),
        status: if running { "running" } else { "failed" }.into(),
        trigger: "manual".into(),
        started_at_ms: STARTED_MS,
        ended_at_ms: (!running).then_some(STARTED_MS + 84_000),
        duration_ms: if running { 17_000 } else { 84_000 },
        cost_usd: 0.0731,
        turns: 9,
        exit_code: (!running).then_some(1),
        error: (!running).then(|| EVIL_ERROR.to_owned()),
        prompt: Some(EVIL_PROMPT.into()),
        parent: Some(RelatedSession {
            id: 17,
            tier: 1,
            status: "completed".into(),
        }),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        trace_url: Some(
            "http://198.51.100.7:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736?a=1&b=\"><script>"
                .into(),
        ),
        children: vec![RelatedSession {
            id: 19,
            tier: 2,
            status: "running".into(),
        }],
    }
}

pub fn session_page(running: bool) -> SessionPage {
    let actions = if running {
        vec![ActionView {
            status: "reserved".into(),
            result: None,
            duration_ms: None,
            ..actions()[0].clone()
        }]
    } else {
        actions()
            .into_iter()
            .filter(|a| a.session_id == Some(18))
            .collect()
    };
    SessionPage {
        layout: layout(Nav::Sessions),
        session: session_detail(running),
        lines: demo_lines().into_iter().map(|(line, _)| line).collect(),
        actions,
        summary: (!running).then(|| EVIL_SUMMARY.to_owned()),
        approvals: approvals(running),
        browser: browser_calls(),
    }
}

/// A hostile page title in a browser action's answer (the page chose it).
pub const EVIL_BROWSER_RESULT: &str = "opened; the page is now <script>alert(3)</script>";

/// A session's browser actions: one that worked, one refused, one waiting.
pub fn browser_calls() -> Vec<BrowserCallView> {
    vec![
        BrowserCallView {
            seq: 12,
            action: "browser_open".into(),
            target: Some("http://192.0.2.10:8989/login".into()),
            outcome: "ok".into(),
            result: EVIL_BROWSER_RESULT.into(),
        },
        BrowserCallView {
            seq: 14,
            action: "browser_fill_credential".into(),
            target: Some("e2".into()),
            outcome: "refused".into(),
            result:
                "browser_fill_credential: refused: SONARR_PASS is typed only into a password field"
                    .into(),
        },
        BrowserCallView {
            seq: 15,
            action: "browser_snapshot".into(),
            target: None,
            outcome: "pending".into(),
            result: String::new(),
        },
    ]
}

/// A hostile service name in an approval request (the model chose it).
pub const EVIL_APPROVAL_SERVICE: &str = "web<img src=x onerror=alert(2)>";

/// A running session's pending request and an earlier denied one; a finished
/// session's expired one.
pub fn approvals(running: bool) -> Vec<ApprovalView> {
    let base = ApprovalView {
        id: 4,
        session_id: 18,
        site: "home-lab".into(),
        service: EVIL_APPROVAL_SERVICE.into(),
        kind: "redeploy".into(),
        what: format!("redeploy of {EVIL_APPROVAL_SERVICE}"),
        args: r#"{"service":"web","reason":"[Approve](http://203.0.113.9/)"}"#.into(),
        status: "pending".into(),
        requested_at_ms: NOW_MS - 60_000,
        expires_at_ms: NOW_MS + 540_000,
        decided_at_ms: None,
        decided_by: None,
        reason: None,
    };
    if running {
        vec![
            base.clone(),
            ApprovalView {
                id: 3,
                kind: "restart".into(),
                what: "restart of cache".into(),
                service: "cache".into(),
                status: "denied".into(),
                decided_at_ms: Some(NOW_MS - 120_000),
                decided_by: Some("alice".into()),
                reason: Some("denied by alice".into()),
                ..base
            },
        ]
    } else {
        vec![ApprovalView {
            status: "expired".into(),
            decided_at_ms: Some(NOW_MS),
            reason: Some("no decision within 10m".into()),
            ..base
        }]
    }
}

/// The audit trail, newest first: every status, a hostile service and result.
pub fn actions() -> Vec<ActionView> {
    let action = |id: i64, service: &str, kind: &str, status: &str, ago_ms: i64| ActionView {
        id,
        site: "home-lab".into(),
        service: service.into(),
        kind: kind.into(),
        session_id: Some(18),
        status: status.into(),
        args: format!(r#"{{"container":"{service}","timeout_s":30}}"#),
        result: Some("restarted in 4.2s".into()),
        reserved_at_ms: NOW_MS - ago_ms,
        duration_ms: Some(4_200),
    };
    vec![
        ActionView {
            result: None,
            duration_ms: None,
            ..action(8, "sonarr", "redeploy", "reserved", 2 * MINUTE_MS)
        },
        action(7, "sonarr", "restart", "succeeded", 5 * MINUTE_MS),
        ActionView {
            result: Some(EVIL_RESULT.into()),
            ..action(6, EVIL_SERVICE, "restart", "failed", 40 * MINUTE_MS)
        },
        ActionView {
            result: Some("limit reached: 2 restarts in 4h".into()),
            duration_ms: None,
            session_id: None,
            ..action(5, "sonarr", "restart", "denied", 50 * MINUTE_MS)
        },
        ActionView {
            site: "office".into(),
            session_id: Some(12),
            ..action(
                4,
                "nextcloud",
                "redeploy",
                "succeeded",
                3 * HOUR_MS + 55 * MINUTE_MS,
            )
        },
        ActionView {
            result: None,
            duration_ms: None,
            ..action(3, "sonarr", "restart", "released", 6 * HOUR_MS)
        },
    ]
}

pub fn cooldowns_page() -> CooldownsPage {
    CooldownsPage {
        layout: layout(Nav::Cooldowns),
        now_ms: NOW_MS,
        limits: vec![
            LimitView {
                kind: "restart".into(),
                max: 2,
                window: "4h".into(),
            },
            LimitView {
                kind: "redeploy".into(),
                max: 1,
                window: "24h".into(),
            },
        ],
        rows: vec![
            // At its limit: the older of the two restarts leaves the window in 2h 13m.
            CooldownView {
                site: "home-lab".into(),
                service: "sonarr".into(),
                kind: "restart".into(),
                count_in_window: 2,
                limit: 2,
                last_action_ms: Some(NOW_MS - 5 * MINUTE_MS),
                next_allowed_ms: Some(NOW_MS + 2 * HOUR_MS + 13 * MINUTE_MS),
            },
            CooldownView {
                site: "home-lab".into(),
                service: EVIL_SERVICE.into(),
                kind: "restart".into(),
                count_in_window: 1,
                limit: 2,
                last_action_ms: Some(NOW_MS - 40 * MINUTE_MS),
                next_allowed_ms: None,
            },
            CooldownView {
                site: "office".into(),
                service: "nextcloud".into(),
                kind: "redeploy".into(),
                count_in_window: 1,
                limit: 1,
                last_action_ms: Some(NOW_MS - 3 * HOUR_MS - 55 * MINUTE_MS),
                next_allowed_ms: Some(NOW_MS + 20 * HOUR_MS + 5 * MINUTE_MS),
            },
        ],
        actions: actions(),
    }
}

/// Events newest first, one of each level, plus hostile text.
pub fn events() -> Vec<EventRow> {
    let event = |id: i64, level: &str, service: Option<&str>, message: &str| EventRow {
        id,
        ts_ms: STARTED_MS + id * MINUTE_MS,
        site: "home-lab".into(),
        session_id: Some(18),
        level: level.into(),
        service: service.map(str::to_owned),
        message: message.into(),
    };
    vec![
        event(
            44,
            "critical",
            Some("sonarr"),
            "Queue stalled for 3h; restarts did not help. Needs a human.",
        ),
        event(43, "warning", None, "disk /srv at 87%"),
        event(42, "info", Some("jellyfin"), "HTTP 200 in 84 ms"),
        EventRow {
            site: "office".into(),
            session_id: None,
            ..event(41, "critical", Some(EVIL_SERVICE), EVIL_MESSAGE)
        },
    ]
}

pub fn events_page() -> EventsPage {
    EventsPage {
        layout: layout(Nav::Events),
        events: events(),
        filter: EventFilterView {
            level: None,
            service: None,
            site: Some("home lab&co".into()),
        },
        paging: Paging {
            offset: 50,
            limit: 50,
            total: Some(120),
            has_more: true,
        },
    }
}

pub fn overview_page() -> OverviewPage {
    OverviewPage {
        layout: layout(Nav::Overview),
        stats: StatsView {
            total_runs: 157,
            escalations: 12,
            remediations: 9,
            success_rate: 0.934,
            total_cost_usd: 4.2817,
            active_memories: 23,
            critical_events_24h: 2,
            avg_duration_ms: 125_000,
            next_run_ms: Some(NOW_MS + 50 * MINUTE_MS),
            interval_seconds: 3600,
        },
        latest: Some(LatestView {
            session_id: 18,
            site: "home-lab".into(),
            tier: 2,
            status: "completed".into(),
            started_at_ms: STARTED_MS,
            summary: Some(EVIL_SUMMARY.into()),
        }),
        attention: events()
            .into_iter()
            .filter(|e| e.level == "critical")
            .collect(),
        sites: vec![
            SiteHealth {
                name: "home-lab".into(),
                workers_connected: 1,
                running_session_id: Some(21),
            },
            SiteHealth {
                name: "office".into(),
                workers_connected: 0,
                running_session_id: None,
            },
        ],
    }
}

pub fn sites_page() -> SitesPage {
    SitesPage {
        layout: layout(Nav::Sites),
        now_ms: NOW_MS,
        sites: vec![
            SiteView {
                name: "home-lab".into(),
                running_session_id: Some(21),
                workers: vec![
                    WorkerView {
                        id: "wrk-7f3a".into(),
                        hostname: "pve-01".into(),
                        version: "0.1.0".into(),
                        connected: true,
                        last_heartbeat_ms: Some(STARTED_MS + 588_000),
                        capabilities: vec!["docker".into(), "ssh".into()],
                        revoked: false,
                        sandbox: "off".into(),
                        sandbox_detail: "CLAUDEOPS_SANDBOX=off: sessions run unsandboxed".into(),
                    },
                    WorkerView {
                        id: "wrk-old".into(),
                        hostname: EVIL_HOST.into(),
                        version: "0.0.9".into(),
                        connected: false,
                        last_heartbeat_ms: None,
                        capabilities: vec![],
                        revoked: true,
                        sandbox: String::new(),
                        sandbox_detail: String::new(),
                    },
                ],
            },
            SiteView {
                name: "office".into(),
                running_session_id: None,
                workers: vec![],
            },
        ],
    }
}

pub fn run_now_page() -> RunNowPage {
    RunNowPage {
        layout: layout(Nav::RunNow),
        sites: vec!["home-lab".into(), "office".into()],
        site: Some("office".into()),
        tier: Some(2),
        prompt: EVIL_PROMPT.into(),
        max_tier: 2,
        dry_run: true,
    }
}

pub fn login_page() -> LoginPage {
    LoginPage {
        layout: Layout {
            version: "0.1.0".into(),
            logged_in: false,
            csrf_token: Some(TOKEN.into()),
            flash: None,
            nav: Nav::None,
            user: None,
            maintenance: Vec::new(),
        },
        error: Some("wrong token".into()),
        next: Some("/sessions/18".into()),
        token_path: "/state/api-token".into(),
    }
}

pub fn error_page() -> ErrorPage {
    ErrorPage {
        layout: layout(Nav::None).with_flash(FlashLevel::Error, "<i>flash</i>"),
        status: 404,
        title: "Session not found".into(),
        message: "No session #999 <here>.".into(),
        next: Some(("/sessions/7".into(), "Watch session #7".into())),
    }
}

/// A Tier 1 run as the SSE stream sends it: each line with its parsed events.
pub fn demo_lines() -> Vec<(LineView, Value)> {
    let structured = json!({
        "summary": "2 of 3 services healthy; Sonarr's queue is stuck.",
        "events": [
            {"level": "info", "service": "jellyfin", "message": "HTTP 200 in 84 ms"},
            {"level": "critical", "service": "sonarr", "message": "queue stalled for 3h <b>"},
            {"level": "warning", "message": "disk /srv at 87%"}
        ],
        "services_checked": [
            {"service": "jellyfin", "status": "healthy"},
            {"service": "sonarr", "status": "degraded"}
        ],
        "memories": [{"key": "sonarr:queue", "value": "stalls after indexer timeouts"}],
        "escalation": {"needed": true, "reason": "restart sonarr", "failed_checks": ["sonarr queue"]}
    });
    let long_output: String = (1..=40)
        .map(|i| format!("CONTAINER{i:02}   nginx:1.27   Up {i} hours (healthy)\n"))
        .collect();
    let steps: Vec<(Value, Value)> = vec![
        (
            json!({"type":"system","subtype":"init","model":"claude-haiku-4-5","tools":["Bash","Read","Grep","mcp__grafana__query"],"mcp_servers":[{"name":"grafana","status":"connected"},{"name":"browser","status":"failed"}]}),
            json!([{"kind":"init","model":"claude-haiku-4-5","tools":["Bash","Read","Grep","mcp__grafana__query"],"mcp_servers":[{"name":"grafana","status":"connected"},{"name":"browser","status":"failed"}]}]),
        ),
        (
            json!({"type":"assistant","message":{"content":[{"type":"text","text":"I'll check the containers first. <script>alert('model')</script>"}]}}),
            json!([{"kind":"text","text":"I'll check the containers first. <script>alert('model')</script>"}]),
        ),
        (
            json!({"type":"assistant","message":{"content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"docker ps --format '{{.Names}}'","description":"List running containers"}}]}}),
            json!([{"kind":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"docker ps --format '{{.Names}}'","description":"List running containers"}}]),
        ),
        (
            json!({"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"toolu_1","content":long_output}]}}),
            json!([{"kind":"tool_result","tool_use_id":"toolu_1","content":long_output,"is_error":false}]),
        ),
        (
            json!({"type":"assistant","message":{"content":[{"type":"tool_use","id":"toolu_2","name":"Read","input":{"file_path":"/repos/home-lab/CLAUDE-OPS.md"}}]}}),
            json!([{"kind":"tool_use","id":"toolu_2","name":"Read","input":{"file_path":"/repos/home-lab/CLAUDE-OPS.md"}}]),
        ),
        (
            json!({"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"toolu_2","content":"1→# Claude Ops Manifest\n2→kind: home lab"}]}}),
            json!([{"kind":"tool_result","tool_use_id":"toolu_2","content":"1→# Claude Ops Manifest\n2→kind: home lab","is_error":false}]),
        ),
        (
            json!({"type":"assistant","message":{"content":[{"type":"text","text":"Now the Grafana alerts and a restart attempt."},{"type":"tool_use","id":"toolu_3","name":"mcp__grafana__query","input":{"expr":"up{job=\"sonarr\"}","range":"1h"}},{"type":"tool_use","id":"toolu_4","name":"Bash","input":{"command":"docker restart sonarr"}}]}}),
            json!([{"kind":"text","text":"Now the Grafana alerts and a restart attempt."},{"kind":"tool_use","id":"toolu_3","name":"mcp__grafana__query","input":{"expr":"up{job=\"sonarr\"}","range":"1h"}},{"kind":"tool_use","id":"toolu_4","name":"Bash","input":{"command":"docker restart sonarr"}}]),
        ),
        (
            json!({"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"toolu_3","content":"up=0 since 14:02"},{"type":"tool_result","tool_use_id":"toolu_4","content":"Permission to use Bash with command docker restart sonarr has been denied.","is_error":true}]}}),
            json!([{"kind":"tool_result","tool_use_id":"toolu_3","content":"up=0 since 14:02","is_error":false},{"kind":"tool_result","tool_use_id":"toolu_4","content":"Permission to use Bash with command docker restart sonarr has been denied.","is_error":true}]),
        ),
        (
            json!({"type":"rate_limit_event","info":{}}),
            json!([{"kind":"other","line_type":"rate_limit_event"}]),
        ),
        (Value::Null, json!([])),
        (
            json!({"type":"result","subtype":"success","is_error":false,"duration_ms":84_000,"num_turns":9,"total_cost_usd":0.0731,"result":"done","structured_output":structured}),
            json!([{"kind":"result","subtype":"success","is_error":false,"duration_ms":84_000,"num_turns":9,"total_cost_usd":0.0731,"result":"done","structured_output":structured}]),
        ),
    ];
    steps
        .into_iter()
        .enumerate()
        .map(|(i, (raw, events))| {
            let seq = i64::try_from(i).unwrap_or(0) + 1;
            let malformed = raw.is_null();
            let line = LineView {
                seq,
                ts_ms: STARTED_MS + 2_000 * seq,
                raw: if malformed {
                    EVIL_RAW.to_owned()
                } else {
                    raw.to_string()
                },
                malformed,
            };
            (line, events)
        })
        .collect()
}

/// The SSE `line` event's data for one line.
pub fn line_event(line: &LineView, events: &Value) -> Value {
    json!({
        "seq": line.seq,
        "ts_ms": line.ts_ms,
        "raw": line.raw,
        "malformed": line.malformed,
        "events": events,
    })
}
