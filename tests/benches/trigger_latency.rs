//! How long a trigger takes to reach the first streamed line: REST trigger ->
//! control plane -> worker (mTLS) -> `claude` CLI start -> first stdout line ->
//! control plane -> SSE viewer. Real binaries, real CLI, scripted model.
//!
//! `cargo bench -p claudeops-tests --bench trigger_latency` (set RUNS to change
//! the number of sessions; default 20; `CLAUDEOPS_SANDBOX=off` runs the worker's
//! sessions unsandboxed, for the side-by-side figure; `TRACING=on` exports
//! both processes' traces over OTLP gRPC to a real receiver in this process,
//! `TRACING=gone` to a collector whose port refuses, `off` (the default) sets
//! no endpoint).

use std::time::{Duration, Instant};

use claudeops_tests::bench::report;
use claudeops_tests::model::{Script, ScriptedModel, Turn};
use claudeops_tests::system::{ControlPlane, Worker};
use serde_json::json;

#[tokio::main]
async fn main() {
    claudeops_pki::tls::install_crypto_provider();
    let runs = claudeops_tests::bench::runs(20);
    let model = ScriptedModel::start(vec![Script::new(vec![Turn::text("ok")])]).await;
    let tracing = std::env::var("TRACING").unwrap_or_else(|_| "off".to_owned());
    let receiver = claudeops_tests::otlp::OtlpReceiver::start().await;
    let otel: Vec<(String, String)> = match tracing.as_str() {
        "on" => receiver.grpc_env(),
        "gone" => {
            let gone = claudeops_tests::otlp::OtlpReceiver::start().await;
            gone.grpc_env()
        }
        _ => Vec::new(),
    };
    println!("TRACING={tracing}");
    let otel_refs: Vec<(&str, &str)> = otel.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let cp = ControlPlane::start(&otel_refs).await;
    let token = cp.enroll_token("bench").await;
    let base = model.base_url();
    let sandbox = std::env::var("CLAUDEOPS_SANDBOX").unwrap_or_else(|_| "auto".to_owned());
    println!("CLAUDEOPS_SANDBOX={sandbox}");
    let mut env = vec![
        ("ANTHROPIC_BASE_URL", base.as_str()),
        ("ANTHROPIC_API_KEY", "test-key"),
        ("CLAUDEOPS_SANDBOX", sandbox.as_str()),
    ];
    env.extend(otel_refs.iter().copied());
    let _worker = Worker::start(&cp, "bench", Some(&token), &env);
    _worker.wait_connected().await;
    let http = cp.http();
    let mut first_line = Vec::with_capacity(runs);
    let mut whole = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let (status, session) = http
            .post("/api/v1/sessions/trigger", &json!({"site": "bench"}), true)
            .await;
        assert_eq!(status, 201, "{session}");
        let id = session["id"].as_i64().unwrap_or_default();
        let mut events = http.sse(&format!("/sessions/{id}/stream")).await;
        while let Some(event) = events.recv().await {
            if event.event == "line" {
                first_line.push(started.elapsed());
                break;
            }
        }
        http.wait_session_end(id, Duration::from_secs(60)).await;
        whole.push(started.elapsed());
    }
    report("trigger -> first streamed line", &mut first_line);
    report("trigger -> session completed", &mut whole);
    if tracing == "on" {
        // Give the last spans their export interval.
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!("receiver: {} spans", receiver.spans().len());
    }
}
