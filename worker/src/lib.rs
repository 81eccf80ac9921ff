//! The worker: one per host or site. It dials the control plane over mutual TLS,
//! keeps one stream open, and runs tier jobs by spawning the `claude` CLI against
//! the host's Docker and repos, streaming every output line back.
//!
//! The worker keeps no durable state beyond its identity (key and certificate) and
//! session workspaces; the control plane owns everything else.

pub mod actions;
pub mod config;
pub mod content;
pub mod dial;
pub mod enroll;
pub mod guard;
pub mod hook;
pub mod job;
pub mod link;
pub mod mcp;
pub mod probes;
pub mod runner;
pub mod wire;
pub mod workspace;

use std::future::Future;

use anyhow::Context;
use claudeops_core::SiteName;
use tracing::Instrument;

pub use config::WorkerConfig;

/// Enrolls if needed, then serves jobs until `shutdown` resolves.
pub async fn run(config: WorkerConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
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
    // Every log line of this worker carries its site and id.
    let span = tracing::info_span!("worker", site = %identity.site, worker = %identity.worker_id);
    link::Worker::new(config, identity, host, port)
        .run(shutdown)
        .instrument(span)
        .await
}
