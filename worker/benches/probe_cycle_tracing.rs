//! What tracing adds to a probe cycle of 1,000 probes: building the cycle's
//! span (one span, the attempts as events, failures first) and handing it to
//! the export queue, with traces on (exported over OTLP gRPC to a real
//! receiver in this process) and off (no endpoint: the worker skips it on a
//! branch). Compare with the cycle itself (`cargo bench -p claudeops-probe
//! --bench http_cycle`).
//!
//! ```text
//! cargo bench -p claudeops-worker --bench probe_cycle_tracing
//! ```
//! `PROBES` (1000) and `CYCLES` (200) change the defaults.

use std::time::{Duration, Instant, SystemTime};

use claudeops_core::health::{ProbeAttempt, ProbeState};
use claudeops_tests::otlp::OtlpReceiver;

const CHILD: &str = "CLAUDEOPS_BENCH_CHILD";

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn attempts(n: usize) -> Vec<ProbeAttempt> {
    let at_ms = 1_700_000_000_000;
    (0..n)
        .map(|i| ProbeAttempt {
            probe: format!("bench-{i}"),
            service: format!("service-{}", i % 50),
            kind: "http".into(),
            ok: i % 100 != 0,
            latency_ms: 3,
            message: "200 OK".into(),
            evidence: String::new(),
            at_ms,
            state: ProbeState::Up,
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let probes = setting("PROBES", 1000);
    let cycles = setting("CYCLES", 200);
    if std::env::var_os(CHILD).is_some() {
        child(probes, cycles).await;
        return;
    }
    let otlp = OtlpReceiver::start().await;
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("own path: {e}"));
    for (mode, env) in [("off", Vec::new()), ("on", otlp.grpc_env())] {
        let out = tokio::process::Command::new(&exe)
            .env(CHILD, mode)
            .envs(env)
            .output()
            .await
            .unwrap_or_else(|e| panic!("the {mode} run: {e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
    let spans = otlp.spans();
    let exported = spans.iter().filter(|s| s.name == "probe cycle").count();
    let events = spans.first().map_or(0, |s| s.events.len());
    println!("receiver: {exported} cycle spans, {events} events on the first");
}

async fn child(probes: usize, cycles: usize) {
    let telemetry = claudeops_telemetry::init(
        "claudeops-worker",
        claudeops_telemetry::LogFormat::Text,
        "warn",
        claudeops_telemetry::names::describe_worker,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mode = std::env::var(CHILD).unwrap_or_default();
    let attempts = attempts(probes);
    let mut samples: Vec<Duration> = Vec::with_capacity(cycles);
    for _ in 0..cycles {
        let started = Instant::now();
        // What the worker's probe loop does after each cycle.
        if claudeops_telemetry::trace::enabled() {
            claudeops_worker::probes::cycle_span(
                SystemTime::now(),
                Duration::from_millis(40),
                std::hint::black_box(&attempts),
            )
            .record();
        }
        samples.push(started.elapsed());
        // One cycle per 5 ms: the export thread keeps up as it would.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "traces {mode}: {probes}-probe cycle span, {cycles} cycles: p50 {:.1} µs, p95 {:.1} µs, max {:.1} µs",
        at(0.5).as_secs_f64() * 1e6,
        at(0.95).as_secs_f64() * 1e6,
        at(1.0).as_secs_f64() * 1e6
    );
    tokio::task::block_in_place(|| telemetry.shutdown());
}
