//! What a day of scheduled sweeps costs, time-compressed: one "hour" is
//! `HOUR_S` seconds (`CLAUDEOPS_INTERVAL`), the day is 24 of them, and
//! `CLAUDEOPS_SWEEP_MAX_SKIP` is one day. A healthy day and a day with two
//! faults (the web service answers 500 for two "hours", twice), each under
//! `CLAUDEOPS_SWEEP=always` and `auto`: sessions started (by trigger) and
//! dollars, as the control plane recorded them. Real binaries, the real CLI
//! against the scripted model (whose usage the CLI prices as a real model's).
//!
//! `cargo bench -p claudeops-tests --bench sweep_day` (`HOUR_S`, default 3).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use claudeops_tests::model::{Script, ScriptedModel, Turn};
use claudeops_tests::system::{ControlPlane, Worker};
use serde_json::json;

struct Day {
    sessions: BTreeMap<String, usize>,
    dollars: f64,
}

async fn day(mode: &str, faults: bool, hour_s: u64) -> Day {
    let (port, code) = claudeops_tests::web::service_with_code().await;
    let model = ScriptedModel::start(vec![Script::new(vec![Turn::structured(json!({
        "summary": "checked the site",
        "escalation": {"needed": false}
    }))])])
    .await;
    let interval = hour_s.to_string();
    let max_skip = (hour_s * 24).to_string();
    let cp = ControlPlane::start(&[
        ("CLAUDEOPS_INTERVAL", interval.as_str()),
        ("CLAUDEOPS_SWEEP", mode),
        ("CLAUDEOPS_SWEEP_MAX_SKIP", max_skip.as_str()),
    ])
    .await;
    let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    claudeops_tests::web::web_probe_repo(&state.path().join("repos"), port);
    let token = cp.enroll_token("home").await;
    let base = model.base_url();
    let worker = Worker::start_in(
        &cp,
        "home",
        Some(&token),
        &[
            ("ANTHROPIC_BASE_URL", &base),
            ("ANTHROPIC_API_KEY", "bench-key"),
        ],
        state,
    );
    worker.wait_connected().await;
    let hour = Duration::from_secs(hour_s);
    for h in 0..24 {
        if faults && (h == 6 || h == 15) {
            code.store(500, Ordering::SeqCst);
        }
        if faults && (h == 8 || h == 17) {
            code.store(200, Ordering::SeqCst);
        }
        tokio::time::sleep(hour).await;
    }
    let (_, body) = cp.http().get("/api/v1/sessions?site=home&limit=1000").await;
    let mut sessions = BTreeMap::new();
    let mut dollars = 0.0;
    for s in body["sessions"].as_array().into_iter().flatten() {
        *sessions
            .entry(s["trigger_detail"].as_str().unwrap_or("?").to_owned())
            .or_insert(0) += 1;
        dollars += s["cost_usd"].as_f64().unwrap_or(0.0);
    }
    drop(worker);
    Day { sessions, dollars }
}

fn show(sessions: &BTreeMap<String, usize>) -> String {
    let parts: Vec<String> = sessions.iter().map(|(k, v)| format!("{v} {k}")).collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

#[tokio::main]
async fn main() {
    claudeops_pki::tls::install_crypto_provider();
    let hour_s: u64 = std::env::var("HOUR_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    println!("| day | CLAUDEOPS_SWEEP | sessions | total | dollars |");
    println!("| --- | --- | --- | --- | --- |");
    for (name, faults) in [("healthy", false), ("two faults", true)] {
        for mode in ["always", "auto"] {
            let d = day(mode, faults, hour_s).await;
            let total: usize = d.sessions.values().sum();
            println!(
                "| {name} | {mode} | {} | {total} | ${:.4} |",
                show(&d.sessions),
                d.dollars
            );
        }
    }
}
