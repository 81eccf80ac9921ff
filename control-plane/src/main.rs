//! `claudeops-control-plane`: parse, configure, run. Everything else is in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use claudeops_control_plane::{
    ControlPlaneConfig, LOCAL_SITE, create_enroll_token, legacy_import, load_ca, open_store, serve,
};
use claudeops_core::SiteName;
use claudeops_store::WorkerSelector;

#[derive(Parser)]
#[command(
    name = "claudeops-control-plane",
    version,
    about = "Claude Ops control plane"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane (dashboard, worker link, scheduler).
    Serve {
        /// Also run a worker for site `local` in this process.
        #[arg(long)]
        local_worker: bool,
    },
    /// Print a one-time token that enrolls one worker for a site.
    EnrollToken {
        #[arg(long)]
        site: String,
        /// How long the token stays valid, e.g. "1h" or "30m".
        #[arg(long)]
        ttl: Option<humantime::Duration>,
    },
    /// Revoke the certificates of a site's workers, or of one worker.
    Revoke {
        #[arg(long, conflicts_with = "worker", required_unless_present = "worker")]
        site: Option<String>,
        #[arg(long)]
        worker: Option<String>,
    },
    /// Check the configuration and print every problem.
    ConfigCheck,
    /// Import the original Claude Ops's history from its SQLite database
    /// (sessions, events, memories, cooldown actions); running it again adds
    /// nothing.
    ImportLegacy {
        /// The original's database file (`claudeops.db` in its state dir).
        path: PathBuf,
        /// The site its history belongs to.
        #[arg(long, default_value = LOCAL_SITE)]
        site: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    claudeops_pki::tls::install_crypto_provider();
    let config = match ControlPlaneConfig::load() {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let telemetry = match claudeops_telemetry::init(
            "claudeops-control-plane",
            config.log_format,
            if config.verbose {
                "info,claudeops=debug,claudeops_control_plane=debug,sqlx=warn,h2=warn,tower=warn"
            } else {
                "info,sqlx=warn,h2=warn,tower=warn"
            },
            claudeops_telemetry::names::describe_control_plane,
        ) {
            Ok(telemetry) => telemetry,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        let result = run(cli.command, config).await;
        tokio::task::block_in_place(|| telemetry.shutdown());
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn run(command: Command, config: ControlPlaneConfig) -> anyhow::Result<()> {
    match command {
        Command::Serve { local_worker } => {
            for warning in environment_warnings() {
                tracing::warn!("{warning}");
            }
            let shutdown = terminated();
            serve(config, local_worker, shutdown, |bound| {
                println!(
                    "claudeops listening dashboard=http://{} grpc={} enroll={}",
                    bound.dashboard, bound.grpc, bound.enroll
                );
            })
            .await
        }
        Command::EnrollToken { site, ttl } => {
            let site = SiteName::new(site)?;
            let store = open_store(&config).await?;
            let ca = load_ca(&config)?;
            let ttl = ttl.map_or(config.enroll_token_ttl, Into::into);
            let token =
                create_enroll_token(store.as_ref(), &ca, &site, config.enroll_port, ttl).await?;
            store.close().await;
            eprintln!(
                "enrollment token for site {site}, valid for {}, usable once:",
                humantime::format_duration(ttl)
            );
            println!("{token}");
            Ok(())
        }
        Command::Revoke { site, worker } => {
            let selector = match (site, worker) {
                (Some(site), _) => WorkerSelector::Site(SiteName::new(site)?),
                (None, Some(worker)) => WorkerSelector::Id(worker),
                (None, None) => anyhow::bail!("give --site or --worker"),
            };
            let store = open_store(&config).await?;
            let revoked = store
                .revoke_workers(&selector, claudeops_control_plane::clock::now_ms())
                .await
                .context("revoking")?;
            store.close().await;
            if revoked.is_empty() {
                anyhow::bail!("no unrevoked worker matched");
            }
            for worker in revoked {
                println!(
                    "revoked {} (site {}, serial {})",
                    worker.id, worker.site, worker.cert_serial
                );
            }
            eprintln!("a running control plane cuts revoked workers off within seconds");
            Ok(())
        }
        Command::ConfigCheck => {
            let warnings = environment_warnings();
            if warnings.is_empty() {
                println!("configuration is valid");
            } else {
                println!(
                    "configuration is valid, with {} warning(s):",
                    warnings.len()
                );
                for warning in &warnings {
                    println!("  warning: {warning}");
                }
            }
            Ok(())
        }
        Command::ImportLegacy { path, site } => {
            let site = SiteName::new(site)?;
            let report = legacy_import::run(&config, &path, &site).await?;
            print!("{report}");
            Ok(())
        }
    }
}

/// What the environment holds that this binary will not use.
fn environment_warnings() -> Vec<String> {
    let names: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .collect();
    claudeops_config::unknown::warnings(
        names.iter().map(String::as_str),
        claudeops_config::unknown::Reader::ControlPlane,
    )
}

/// Resolves on SIGINT or SIGTERM (`docker stop` sends SIGTERM).
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
