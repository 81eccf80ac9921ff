//! How fast alerts and questions are answered: the webhook's 202 for a new
//! alert (opens an incident; the first starts a session, the rest queue
//! behind it), for a repeat, for an Alertmanager group of 20, and for a payload
//! no parser knows (its brief is written in the background); and a chat
//! question to a busy site. Real binaries; the busy site's worker runs a
//! stand-in CLI that sleeps, the other the real CLI against the scripted model.
//!
//! `cargo bench -p claudeops-tests --bench webhook_latency` (RUNS sets the
//! number of requests of each kind; default 50).

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use claudeops_tests::bench::report;
use claudeops_tests::model::{Script, ScriptedModel, Turn};
use claudeops_tests::system::{ControlPlane, Http, Worker};
use serde_json::{Value, json};

const KEY: &str = "bench-key-0123456789";

#[tokio::main]
async fn main() {
    claudeops_pki::tls::install_crypto_provider();
    let runs = claudeops_tests::bench::runs(50);
    let model = ScriptedModel::start(vec![Script::new(vec![Turn::text("ok")])]).await;
    let base = model.base_url();
    let cp = ControlPlane::start(&[
        ("CLAUDEOPS_CHAT_API_KEY", KEY),
        ("CLAUDEOPS_WEBHOOK_DEFAULT_SITE", "bench"),
        ("ANTHROPIC_BASE_URL", &base),
        ("ANTHROPIC_API_KEY", "test-key"),
    ])
    .await;
    let model_env = [
        ("ANTHROPIC_BASE_URL", base.as_str()),
        ("ANTHROPIC_API_KEY", "test-key"),
    ];
    let token = cp.enroll_token("bench").await;
    let worker = Worker::start(&cp, "bench", Some(&token), &model_env);
    worker.wait_connected().await;
    // The busy site: a stand-in CLI that holds its session for the whole run.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fake = dir.path().join("claude");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho '{\"type\":\"system\",\"subtype\":\"init\"}'\nsleep 600\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let fake = fake.display().to_string();
    let token = cp.enroll_token("busy").await;
    let busy_worker = Worker::start(
        &cp,
        "busy",
        Some(&token),
        &[
            ("CLAUDEOPS_CLAUDE_BIN", fake.as_str()),
            ("ANTHROPIC_API_KEY", "k"),
        ],
    );
    busy_worker.wait_connected().await;
    let http = cp.http();

    let mut new = Vec::with_capacity(runs);
    for i in 0..runs {
        let body = json!({"service": format!("svc-{i}"), "summary": "down", "site": "bench"});
        new.push(post(&http, "/api/v1/webhook/generic", body.to_string()).await);
    }
    report(
        "new alert -> 202 (incident opened, session started or queued)",
        &mut new,
    );

    let mut repeat = Vec::with_capacity(runs);
    let body = json!({"service": "svc-0", "summary": "down", "site": "bench"}).to_string();
    for _ in 0..runs {
        repeat.push(post(&http, "/api/v1/webhook/generic", body.clone()).await);
    }
    report("repeated alert -> 202 (duplicate)", &mut repeat);

    let mut group = Vec::with_capacity(runs);
    for i in 0..runs {
        let alerts: Vec<Value> = (0..20)
            .map(|j| {
                json!({"status": "firing", "fingerprint": format!("g{i}-{j}"),
                       "labels": {"alertname": "Bench", "service": format!("grp-{i}-{j}"), "site": "bench"},
                       "annotations": {"summary": "bench"}})
            })
            .collect();
        let body =
            json!({"version": "4", "groupKey": "bench", "status": "firing", "alerts": alerts});
        group.push(post(&http, "/api/v1/webhook/alertmanager", body.to_string()).await);
    }
    report("Alertmanager group of 20 -> 202", &mut group);

    let mut unknown = Vec::with_capacity(runs);
    for i in 0..runs {
        unknown.push(post(&http, "/api/v1/webhook", format!("disk {i} is on fire")).await);
    }
    report(
        "unparsed payload -> 202 (brief written in the background)",
        &mut unknown,
    );

    // Hold the busy site, then ask it questions.
    let (status, session) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "busy", "start_tier": 1}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let mut busy = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let answer: Value = http
            .client
            .post(format!("{}/v1/chat/completions", http.base))
            .bearer_auth(KEY)
            .json(&json!({"model": "claude-ops-tier1@busy",
                          "messages": [{"role": "user", "content": "anything?"}]}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or(Value::Null);
        busy.push(started.elapsed());
        let text = answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or("");
        assert!(text.contains("is busy"), "{answer}");
    }
    report("chat question to a busy site -> whole answer", &mut busy);
    let id = session["id"].as_i64().unwrap_or_default();
    http.post(&format!("/api/v1/sessions/{id}/stop"), &json!({}), true)
        .await;
    drop((worker, busy_worker));
}

async fn post(http: &Http, path: &str, body: String) -> Duration {
    let started = Instant::now();
    let response = http
        .client
        .post(format!("{}{path}", http.base))
        .bearer_auth(KEY)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    let took = started.elapsed();
    assert_eq!(status, 202, "{answer}");
    took
}
