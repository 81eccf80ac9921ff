//! The worker: one per host or site. It dials the control plane over mutual TLS,
//! keeps one stream open, and runs tier jobs by spawning the `claude` CLI against
//! the host's Docker and repos, streaming every output line back.
//!
//! The worker keeps no durable state beyond its identity (key and certificate) and
//! session workspaces; the control plane owns everything else.

pub mod actions;
pub mod browser;
pub mod config;
pub mod content;
pub mod dial;
pub mod enclosure;
pub mod enroll;
pub mod guard;
pub mod hook;
pub mod job;
pub mod leftovers;
pub mod link;
pub mod mcp;
pub mod probes;
pub mod runner;
pub mod sandbox;
pub mod spans;
pub mod wire;
pub mod workspace;

use std::future::Future;

use anyhow::Context;
use claudeops_core::SiteName;
use tracing::Instrument;

pub use config::WorkerConfig;

/// Tries the configured sandbox once (off the async threads: it starts a process).
async fn find_sandbox(config: &WorkerConfig) -> sandbox::Sandbox {
    let mode = config.sandbox;
    let bwrap = config.bwrap.clone();
    let user = config.sandbox_user.clone();
    let helper = std::path::PathBuf::from(config.helper_exe());
    tokio::task::spawn_blocking(move || {
        sandbox::Sandbox::detect(mode, &bwrap, user.as_deref(), &helper)
    })
    .await
    .unwrap_or_else(|e| sandbox::Sandbox::Unavailable(format!("sandbox detection failed: {e}")))
}

/// Enrolls if needed, then serves jobs until `shutdown` resolves and the
/// shutdown it asks for is done.
pub async fn run(
    config: WorkerConfig,
    shutdown: impl Future<Output = link::Stop>,
) -> anyhow::Result<()> {
    config.validate()?;
    let endpoint = config.control_plane.clone().unwrap_or_default();
    let (host, port) = config::parse_endpoint(&endpoint).map_err(anyhow::Error::msg)?;
    let site = SiteName::new(config.site.clone().unwrap_or_default())?;
    let identity = enroll::load_or_enroll(
        &config.state_dir,
        &host,
        &site,
        config.enroll_token.as_deref(),
    )
    .await
    .context("enrollment")?;
    tracing::info!(site = %identity.site, worker_id = %identity.worker_id, "worker identity ready");
    if config.anthropic_api_key.is_none() && config.anthropic_base_url.is_none() {
        tracing::warn!(
            "ANTHROPIC_API_KEY is not set: LLM tiers are off on this worker until it is"
        );
    }
    let sandbox = find_sandbox(&config).await;
    match &sandbox {
        sandbox::Sandbox::Unavailable(reason) => tracing::error!(
            %reason,
            "no sandbox works here: this worker refuses LLM sessions until one does (or CLAUDEOPS_SANDBOX=off)"
        ),
        sandbox::Sandbox::Off => tracing::warn!(
            "CLAUDEOPS_SANDBOX=off: sessions run unsandboxed; a tier's limits rest on the command judge alone"
        ),
        sandbox::Sandbox::Bwrap { .. } => {
            tracing::info!(sandbox = %sandbox.detail(), "sessions are sandboxed")
        }
    }
    let proxy = claudeops_model_proxy::ModelProxy::start(claudeops_model_proxy::Upstream {
        base_url: config
            .anthropic_base_url
            .clone()
            .unwrap_or_else(|| "https://api.anthropic.com".to_owned()),
        api_key: config.anthropic_api_key.clone(),
        auth_token: None,
        ..claudeops_model_proxy::Upstream::default()
    })
    .await
    .context("starting the model proxy")?;
    tracing::info!(
        upstream = %config.anthropic_base_url.as_deref().unwrap_or("https://api.anthropic.com"),
        key = config.anthropic_api_key.is_some(),
        proxy = %proxy.base_url(),
        "model proxy ready: sessions get a token of their own, never the key"
    );
    if let Some(addr) = config.metrics_addr {
        let bound = claudeops_telemetry::metrics::serve(addr)
            .await
            .with_context(|| format!("CLAUDEOPS_METRICS_ADDR={addr}: cannot listen"))?;
        tracing::info!(%bound, "serving this worker's metrics at /metrics");
    }
    // Every log line of this worker carries its site and id.
    let span = tracing::info_span!("worker", site = %identity.site, worker = %identity.worker_id);
    link::Worker::new(config, identity, (host, port), sandbox, proxy)
        .sweep_leftovers()
        .run(shutdown)
        .instrument(span)
        .await
}
