//! Telemetry into the tools people already run: a real Prometheus scrapes the
//! control plane with the shipped configuration and answers the shipped
//! dashboard's queries; a real OTLP receiver gets one trace from the trigger
//! to each tool call of a tier 1 -> tier 2 chain that restarts a real
//! container; a collector that is gone costs sessions nothing and is counted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use claudeops_tests::docker::Container;
use claudeops_tests::model::{Script, ScriptedModel, Turn};
use claudeops_tests::otlp::{OtlpReceiver, ReceivedSpan};
use claudeops_tests::prometheus::{self, Prometheus};
use claudeops_tests::system::{ControlPlane, Http};
use serde_json::{Value, json};

use crate::support::*;

const TRACE_URL: &str = "http://198.51.100.7:16686/trace/{trace_id}";

fn deploy(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("deploy")
        .join(path)
}

fn done(summary: &str) -> Turn {
    Turn::structured(json!({"summary": summary, "escalation": {"needed": false}}))
}

fn escalate() -> Turn {
    Turn::structured(json!({
        "summary": "web answers 502",
        "services_checked": [{"service": "web", "status": "down", "detail": "502"}],
        "escalation": {"needed": true, "reason": "web answers 502", "context": "502 three times", "failed_checks": ["http:web"]}
    }))
}

async fn trigger(http: &Http, tier: i64) -> i64 {
    let (status, session) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "home", "start_tier": tier, "prompt": "check web"}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{session}");
    session["id"].as_i64().unwrap_or_default()
}

/// The sum of a metric's samples in an exposition whose labels contain `having`.
fn sample_sum(text: &str, name: &str, having: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| l.contains(having))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn shipped_alert_rules_pass_promtool() {
    // The scrape configuration reads the API token from a file; promtool
    // checks that the file exists, so point it at one.
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let token_file = work.path().join("claudeops-api-token");
    std::fs::write(&token_file, "token").unwrap_or_else(|e| panic!("{e}"));
    let shipped = std::fs::read_to_string(deploy("prometheus/prometheus.yml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(shipped.contains("credentials_file: /etc/prometheus/claudeops-api-token"));
    let config = work.path().join("prometheus.yml");
    std::fs::write(
        &config,
        shipped
            .replace(
                "/etc/prometheus/claudeops-api-token",
                &token_file.display().to_string(),
            )
            .replace(
                "  - alerts.yml",
                &format!("  - {}", deploy("prometheus/alerts.yml").display()),
            ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for args in [
        vec!["check", "rules"],
        vec!["test", "rules"],
        vec!["check", "config"],
    ] {
        let file = match args[0..2] {
            ["test", _] => "alerts_test.yml",
            [_, "config"] => "prometheus.yml",
            _ => "alerts.yml",
        };
        let path = if file == "prometheus.yml" {
            config.clone()
        } else {
            deploy("prometheus").join(file)
        };
        let out = std::process::Command::new(prometheus::program("promtool"))
            .args(&args)
            .arg(path)
            .output()
            .unwrap_or_else(|e| panic!("promtool: {e}"));
        assert!(
            out.status.success(),
            "promtool {args:?} {file}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn prometheus_scrapes_the_fleet_through_the_control_plane() {
    let model = ScriptedModel::start(vec![Script::new(vec![
        Turn::bash("echo checking"),
        done("all good"),
    ])])
    .await;
    let cp = ControlPlane::start(&[("CLAUDEOPS_MAX_DAILY_COST_USD", "25")]).await;
    let env = model_env(&model);
    let _worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let http = cp.http();

    // The shipped scrape configuration, pointed at this control plane.
    let shipped = std::fs::read_to_string(deploy("prometheus/prometheus.yml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let target = http.base.trim_start_matches("http://").to_owned();
    let token_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let token_file = token_dir.path().join("claudeops-api-token");
    std::fs::write(&token_file, &http.token).unwrap_or_else(|e| panic!("{e}"));
    let config = shipped
        .replace("claudeops:8080", &target)
        .replace(
            "/etc/prometheus/claudeops-api-token",
            &token_file.display().to_string(),
        )
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace(
            "  - alerts.yml",
            &format!("  - {}", deploy("prometheus/alerts.yml").display()),
        );
    assert_ne!(config, shipped, "the shipped config names its target");
    let prom = Prometheus::start(&config).await;

    let id = trigger(&http, 1).await;
    let ended = http.wait_session_end(id, WAIT).await;
    assert_eq!(ended["status"], "completed", "{ended}");

    let wait = Duration::from_secs(60);
    let finished = prom
        .wait_for(
            r#"claudeops_sessions_finished_total{site="home",tier="1",trigger="api",status="completed"}"#,
            wait,
        )
        .await;
    assert_eq!(finished[0]["value"][1], "1", "{finished:?}");
    let cost = prom
        .wait_for(
            r#"claudeops_session_cost_usd_count{site="home",tier="1"}"#,
            wait,
        )
        .await;
    assert_eq!(cost[0]["value"][1], "1", "{cost:?}");
    prom.wait_for(
        r#"claudeops_session_cost_usd_bucket{site="home",le="+Inf"}"#,
        wait,
    )
    .await;
    // A worker's own metric, labelled with its site and id by the control plane.
    let worker = prom
        .wait_for(
            r#"claudeops_worker_tool_calls_total{site="home",tool="Bash",decision="allowed"}"#,
            wait,
        )
        .await;
    assert!(
        worker[0]["metric"]["worker"]
            .as_str()
            .is_some_and(|w| !w.is_empty()),
        "{worker:?}"
    );
    prom.wait_for(r#"claudeops_worker_model_turns_total{site="home"}"#, wait)
        .await;
    let connected = prom
        .wait_for(r#"claudeops_workers_connected{site="home"}"#, wait)
        .await;
    assert_eq!(connected[0]["value"][1], "1");
    prom.wait_for(
        r#"claudeops_worker_heartbeat_age_seconds{site="home"} < 30"#,
        wait,
    )
    .await;
    prom.wait_for("claudeops_daily_cost_budget_usd == 25", wait)
        .await;

    // Every query of the shipped dashboard is valid PromQL against real data,
    // and the panels of what just happened have something to show.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(deploy("grafana/claudeops-fleet.json"))
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("the dashboard is not JSON: {e}"));
    let mut answered = BTreeMap::new();
    for panel in dashboard["panels"].as_array().cloned().unwrap_or_default() {
        for target in panel["targets"].as_array().cloned().unwrap_or_default() {
            let expr = target["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("a target without expr: {panel}"))
                .replace("$site", ".*")
                .replace("$__rate_interval", "1m");
            let result = prom.query(&expr).await;
            answered.insert(
                panel["title"].as_str().unwrap_or_default().to_owned(),
                !result.is_empty(),
            );
        }
    }
    for title in [
        "Workers connected",
        "Cost today",
        "Sessions by status",
        "Sessions started by tier and trigger",
        "Worker heartbeat age",
        "Store call latency p95",
    ] {
        assert_eq!(
            answered.get(title),
            Some(&true),
            "panel {title:?}: {answered:#?}"
        );
    }
}

/// Spans of one trace by name prefix.
fn named<'a>(spans: &'a [ReceivedSpan], prefix: &str) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.name.starts_with(prefix))
        .collect()
}

#[tokio::test]
async fn one_trace_holds_a_chain_from_trigger_to_tool_call() {
    // Labelled for this test's worker, whose probes watch it (a probe cycle
    // is a trace of its own).
    let label = claudeops_tests::docker::unique("telemetry");
    let container = Container::run(
        "web",
        &["--label", &format!("claudeops.test={label}")],
        &["sleep", "infinity"],
    );
    let model = ScriptedModel::start(vec![
        Script::new(vec![escalate()]).for_model("haiku"),
        Script::new(vec![
            Turn::bash("docker ps --format '{{.Names}}'"),
            Turn::tool(
                "mcp__claudeops__restart_container",
                json!({"container": container.name, "service": "web", "reason": "web answers 502"}),
            ),
            done("restarted web"),
        ])
        .for_model("sonnet"),
    ])
    .await;
    let otlp = OtlpReceiver::start().await;
    let mut env = otlp.grpc_env();
    env.push(("CLAUDEOPS_TRACE_URL_TEMPLATE".into(), TRACE_URL.into()));
    let cp = ControlPlane::start(&as_refs(&env)).await;
    let mut worker_env = model_env(&model);
    worker_env.extend(otlp.grpc_env());
    // The worker also logs JSON for a shipper and serves its own /metrics.
    let worker_metrics = format!("127.0.0.1:{}", claudeops_tests::servers::free_port());
    worker_env.push(("CLAUDEOPS_LOG_FORMAT".into(), "json".into()));
    worker_env.push(("CLAUDEOPS_METRICS_ADDR".into(), worker_metrics.clone()));
    worker_env.push(("CLAUDEOPS_DISCOVER_CONTAINERS".into(), "true".into()));
    worker_env.push((
        "CLAUDEOPS_CONTAINER_LABEL".into(),
        format!("claudeops.test={label}"),
    ));
    let worker = enrolled_worker(&cp, "home", &as_refs(&worker_env)).await;
    let http = cp.http();

    let first = trigger(&http, 1).await;
    http.wait_session_end(first, WAIT).await;
    let (_, sessions) = http.get("/api/v1/sessions").await;
    let second = sessions["sessions"]
        .as_array()
        .and_then(|list| list.iter().find(|s| s["parent_session_id"] == first))
        .and_then(|s| s["id"].as_i64())
        .unwrap_or_else(|| panic!("tier 1 did not escalate: {sessions}"));
    let ended = http.wait_session_end(second, WAIT).await;
    assert_eq!(ended["status"], "completed", "{ended}");

    let spans = otlp
        .wait_for("the chain's root span", WAIT, |spans| {
            spans.iter().any(|s| s.name.starts_with("chain "))
        })
        .await;
    let chain = named(&spans, "chain ")[0].clone();
    assert_eq!(chain.service, "claudeops-control-plane");
    assert!(chain.parent_span_id.is_empty(), "the chain is the root");
    assert_eq!(chain.attr("claudeops.sessions"), Some("2"));
    assert_eq!(chain.attr("claudeops.outcome"), Some("done"));
    // The worker's last spans may still be on their way.
    let spans = otlp
        .wait_for("every span of the trace", WAIT, |spans| {
            let of_trace: Vec<&ReceivedSpan> = spans
                .iter()
                .filter(|s| s.trace_id == chain.trace_id)
                .collect();
            of_trace.iter().filter(|s| s.name == "cli").count() == 2
                && of_trace.iter().any(|s| s.name == "tool mcp__claudeops")
                && of_trace.iter().any(|s| s.name == "ledger reserve")
                && of_trace.iter().any(|s| s.name == "action")
        })
        .await;
    let trace: Vec<ReceivedSpan> = spans
        .into_iter()
        .filter(|s| s.trace_id == chain.trace_id)
        .collect();
    let by_id: BTreeMap<&str, &ReceivedSpan> =
        trace.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let parent_of = |s: &ReceivedSpan| -> &ReceivedSpan {
        by_id
            .get(s.parent_span_id.as_str())
            .copied()
            .unwrap_or_else(|| panic!("{} has no parent in the trace: {trace:#?}", s.name))
    };

    // The control plane: one span per session, children of the chain.
    let sessions: Vec<&ReceivedSpan> = named(&trace, "session tier ");
    assert_eq!(sessions.len(), 2, "{trace:#?}");
    for s in &sessions {
        assert_eq!(s.parent_span_id, chain.span_id);
        assert_eq!(s.service, "claudeops-control-plane");
        assert_eq!(s.attr("claudeops.site"), Some("home"));
        assert_eq!(s.attr("claudeops.status"), Some("completed"));
        assert!(s.attr("claudeops.worker").is_some_and(|w| !w.is_empty()));
    }
    let tier2 = sessions
        .iter()
        .find(|s| s.attr("claudeops.tier") == Some("2"))
        .unwrap_or_else(|| panic!("no tier 2 session span"));
    assert_eq!(tier2.attr("claudeops.trigger"), Some("escalation"));

    // The worker: its session span under the control plane's, the CLI under it.
    let clis = named(&trace, "cli");
    assert_eq!(clis.len(), 2);
    for cli in &clis {
        assert_eq!(cli.service, "claudeops-worker");
        let session = parent_of(cli);
        assert_eq!(session.name, "session");
        assert_eq!(session.service, "claudeops-worker");
        assert!(parent_of(session).name.starts_with("session tier "));
    }
    // Model turns and tool calls under the CLI, with what they did.
    let turns = named(&trace, "model turn");
    assert!(
        turns.len() >= 4,
        "two turns per session at least: {turns:#?}"
    );
    for turn in &turns {
        assert_eq!(parent_of(turn).name, "cli");
        assert!(turn.attr("gen_ai.usage.output_tokens").is_some());
        assert!(turn.end_ns >= turn.start_ns);
    }
    let bash = named(&trace, "tool Bash")
        .into_iter()
        .find(|s| s.attr("claudeops.target") == Some("docker ps --format '{{.Names}}'"))
        .unwrap_or_else(|| panic!("no span of the Bash call: {trace:#?}"));
    assert_eq!(parent_of(bash).name, "cli");
    assert_eq!(bash.attr("claudeops.decision"), Some("allowed"));
    assert_eq!(bash.attr("process.exit.code"), Some("0"));
    let restart = named(&trace, "tool mcp__claudeops")[0];
    assert_eq!(
        restart.attr("claudeops.tool"),
        Some("mcp__claudeops__restart_container")
    );
    assert_eq!(
        restart.attr("claudeops.target"),
        Some(container.name.as_str())
    );
    assert_eq!(restart.attr("claudeops.decision"), Some("allowed"));
    // The typed action on the worker, under its session, and the control
    // plane's ledger reservation under the action.
    let action = named(&trace, "action")[0];
    assert_eq!(action.service, "claudeops-worker");
    assert_eq!(action.attr("claudeops.action.ok"), Some("true"));
    let action_session = parent_of(action);
    assert_eq!(action_session.name, "session");
    assert_eq!(action_session.parent_span_id, tier2.span_id);
    let reserve = named(&trace, "ledger reserve")[0];
    assert_eq!(reserve.service, "claudeops-control-plane");
    assert_eq!(reserve.parent_span_id, action.span_id);
    assert_eq!(reserve.attr("claudeops.ledger.result"), Some("granted"));
    assert_eq!(reserve.attr("claudeops.action.kind"), Some("restart"));
    // What followed each session, under that session.
    for after in named(&trace, "after_session") {
        assert!(parent_of(after).name.starts_with("session tier "));
    }

    // The worker's log lines are JSON, and those written inside a session
    // carry the chain's trace id and their span's id.
    let logged: Vec<Value> = worker
        .proc
        .log()
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}")))
        .collect();
    assert!(
        !logged.is_empty(),
        "no JSON log lines: {}",
        worker.proc.log()
    );
    for line in &logged {
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    let in_trace: Vec<&Value> = logged
        .iter()
        .filter(|l| l["trace_id"] == chain.trace_id.as_str())
        .collect();
    assert!(
        !in_trace.is_empty(),
        "no log line carries the trace id: {logged:#?}"
    );
    assert!(
        in_trace.iter().all(|l| l["span_id"]
            .as_str()
            .is_some_and(|id| by_id.contains_key(id))),
        "{in_trace:#?}"
    );
    // The worker's own /metrics, beside the control plane's.
    let own = reqwest::get(format!("http://{worker_metrics}/metrics"))
        .await
        .unwrap_or_else(|e| panic!("the worker's /metrics: {e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(
        own.contains("claudeops_worker_tool_calls_total{tool=\"mcp__claudeops\",decision=\"allowed\",layer=\"none\"} 1"),
        "{own}"
    );

    // Probe cycles are traces of their own: one span per cycle, its attempts
    // as events.
    let spans = otlp
        .wait_for("a probe cycle's span", WAIT, |spans| {
            spans.iter().any(|s| s.name == "probe cycle")
        })
        .await;
    let cycle = spans
        .iter()
        .find(|s| s.name == "probe cycle")
        .unwrap_or_else(|| panic!("no probe cycle"));
    assert_eq!(cycle.service, "claudeops-worker");
    assert!(cycle.parent_span_id.is_empty(), "{cycle:?}");
    assert_ne!(cycle.trace_id, chain.trace_id);
    assert!(!cycle.events.is_empty() && cycle.events.iter().all(|e| e == "attempt"));

    // The trace id and its link, on the session's JSON and page.
    let (_, json) = http.get(&format!("/api/v1/sessions/{second}")).await;
    assert_eq!(json["trace_id"], chain.trace_id.as_str(), "{json}");
    let link = TRACE_URL.replace("{trace_id}", &chain.trace_id);
    assert_eq!(json["trace_url"], link.as_str());
    let page = http.text(&format!("/sessions/{second}")).await;
    // The template escapes `/` in attributes as `&#x2f;`, which a browser reads back.
    let page = page.replace("&#x2f;", "/");
    assert!(page.contains(&format!("href=\"{link}\"")), "{page}");
}

#[tokio::test]
async fn a_gone_collector_drops_spans_and_slows_nothing() {
    // A collector that was there and is gone: its port refuses.
    let gone = {
        let otlp = OtlpReceiver::start().await;
        otlp.http_env()
    };
    let model = ScriptedModel::start(vec![Script::new(vec![
        Turn::bash("echo checking"),
        done("all good"),
    ])])
    .await;
    let cp = ControlPlane::start(&as_refs(&gone)).await;
    let mut env = model_env(&model);
    env.extend(gone.clone());
    let _worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let http = cp.http();
    let id = trigger(&http, 1).await;
    let ended = http.wait_session_end(id, WAIT).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    assert!(
        ended["trace_id"].as_str().is_some_and(|t| t.len() == 32),
        "traced all the same: {ended}"
    );
    // Both processes count what they could not export (the worker's count
    // reaches the control plane's /metrics with its next report, within 15 s).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let text = http.text("/metrics").await;
        let own = sample_sum(
            &text,
            "claudeops_trace_spans_dropped_total",
            "{reason=\"export_failed\"}",
        );
        let worker = sample_sum(
            &text,
            "claudeops_trace_spans_dropped_total",
            "site=\"home\"",
        );
        if own > 0.0 && worker > 0.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "drops not counted (own {own}, worker {worker}):\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
