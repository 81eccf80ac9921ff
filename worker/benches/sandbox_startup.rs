//! What the session sandbox and the model proxy add to a session's start-up.
//!
//! Three ways to run the same short program (`/bin/true`, standing in for the
//! CLI, whose own start-up is the same in all three) through the worker's
//! runner, from "the job is prepared" to "the process has exited":
//! 1. bare: the runner alone (no enclosure: how sessions started before);
//! 2. off: the session enclosure with `CLAUDEOPS_SANDBOX=off` (action socket,
//!    Docker filter socket, model-proxy token), no bubblewrap;
//! 3. sandboxed: the enclosure with bubblewrap, as sessions run by default.
//!
//! `cargo bench -p claudeops-worker --bench sandbox_startup` (RUNS=60 by default).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use claudeops_core::Tier;
use claudeops_model_proxy::{ModelProxy, Upstream};
use claudeops_worker::actions::{ActionHandler, ActionReply, ActionRequest};
use claudeops_worker::enclosure::{Enclosure, Parts};
use claudeops_worker::job::Job;
use claudeops_worker::runner::{self, Invocation};
use claudeops_worker::sandbox::{Sandbox, SandboxMode};
use claudeops_worker::{WorkerConfig, workspace};
use tokio::sync::{mpsc, oneshot};

struct Nothing;

#[async_trait]
impl ActionHandler for Nothing {
    async fn handle(&self, _: ActionRequest) -> ActionReply {
        ActionReply::failed("no actions in a benchmark")
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

async fn run_once(
    config: &WorkerConfig,
    sandbox: Option<&Sandbox>,
    proxy: &ModelProxy,
    id: i64,
) -> Duration {
    let dir = config.state_dir.join("sessions").join(id.to_string());
    let ws = workspace::prepare(
        &dir,
        Tier::Observe,
        &workspace::Content::builtin(),
        "true",
        &serde_json::json!({}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut invocation = Invocation {
        program: PathBuf::from("/bin/true"),
        args: vec![],
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        workdir: dir.clone(),
        timeout: Duration::from_secs(10),
        guard: None,
    };
    let job = Job {
        session_id: id,
        tier: Tier::Observe,
        model: "haiku".into(),
        prompt: None,
        handoff: None,
        max_budget_usd: 0.0,
        timeout_secs: 10,
        dry_run: false,
        extra_allowed_tools: vec![],
        extra_disallowed_tools: vec![],
        memories: None,
        models: vec!["haiku".into()],
        daily_left_usd: None,
        trace: None,
    };
    let started = Instant::now();
    let enclosure = sandbox.map(|sandbox| {
        let parts = Parts {
            config,
            sandbox,
            proxy,
            actions: Arc::new(Nothing),
        };
        Enclosure::open(&parts, &job, &ws, &mut invocation).unwrap_or_else(|e| panic!("{e}"))
    });
    let (tx, mut rx) = mpsc::channel(64);
    let (_cancel, cancel_rx) = oneshot::channel();
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let finish = runner::run(invocation, tx, cancel_rx).await;
    let elapsed = started.elapsed();
    assert_eq!(finish.exit_code, Some(0), "{finish:?}");
    drop(enclosure);
    let _ = drain.await;
    elapsed
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = WorkerConfig {
        state_dir: dir.path().join("state"),
        repos_dir: dir.path().join("repos"),
        ..WorkerConfig::default()
    };
    std::fs::create_dir_all(&config.repos_dir).unwrap_or_else(|e| panic!("{e}"));
    let proxy = ModelProxy::start(Upstream {
        base_url: "http://127.0.0.1:9".into(),
        api_key: Some("bench".into()),
        auth_token: None,
        ..Upstream::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let helper = PathBuf::from(env!("CARGO_BIN_EXE_claudeops-worker"));
    let bwrap = Sandbox::detect(SandboxMode::Auto, &PathBuf::from("bwrap"), None, &helper);
    assert!(matches!(bwrap, Sandbox::Bwrap { .. }), "{}", bwrap.detail());
    let off = Sandbox::Off;
    let mut id = 0;
    println!("| mode | runs | p50 | p95 | max |");
    println!("| --- | --- | --- | --- | --- |");
    let mut medians = Vec::new();
    for (name, sandbox) in [
        ("bare runner", None),
        ("enclosure, sandbox off", Some(&off)),
        ("enclosure, bubblewrap", Some(&bwrap)),
    ] {
        // Two warm-up runs (page cache, first socket binds).
        for _ in 0..2 {
            id += 1;
            run_once(&config, sandbox, &proxy, id).await;
        }
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            id += 1;
            times.push(run_once(&config, sandbox, &proxy, id).await);
        }
        times.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!(
            "| {name} | {runs} | {} | {} | {} |",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            ms(times[times.len() - 1])
        );
        medians.push(percentile(&times, 0.5));
    }
    let added = medians[2].saturating_sub(medians[0]);
    println!(
        "\nadded at the median by the enclosure and sandbox: {:.1} ms (goal: under 50 ms)",
        added.as_secs_f64() * 1000.0
    );
}
