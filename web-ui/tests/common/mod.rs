//! Filled view models shared by the render tests and the `preview` example.
//!
//! Hostile text is planted on purpose (a prompt with `<script>`, a hostname with a
//! quote, a raw line with an `<img onerror>`) so every test also checks escaping.

#![allow(dead_code)]

use claudeops_web_ui::*;
use serde_json::{Value, json};

pub const TOKEN: &str = "csrf-TOKEN-123";
pub const EVIL_PROMPT: &str = "Check <script>alert('x')</script> & \"friends\"";
pub const EVIL_ERROR: &str = "worker lost: <b>boom</b>";
pub const EVIL_HOST: &str = "nas\"><i>x</i>";
pub const EVIL_RAW: &str = "not json <img src=x onerror=alert(1)>";
pub const STARTED_MS: i64 = 1_771_178_175_000; // 2026-02-15 17:56:15 UTC

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
        children: vec![RelatedSession {
            id: 19,
            tier: 2,
            status: "running".into(),
        }],
    }
}

pub fn session_page(running: bool) -> SessionPage {
    SessionPage {
        layout: layout(Nav::Sessions),
        session: session_detail(running),
        lines: demo_lines().into_iter().map(|(line, _)| line).collect(),
    }
}

pub fn sites_page() -> SitesPage {
    SitesPage {
        layout: layout(Nav::Sites),
        now_ms: STARTED_MS + 600_000,
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
                    },
                    WorkerView {
                        id: "wrk-old".into(),
                        hostname: EVIL_HOST.into(),
                        version: "0.0.9".into(),
                        connected: false,
                        last_heartbeat_ms: None,
                        capabilities: vec![],
                        revoked: true,
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
