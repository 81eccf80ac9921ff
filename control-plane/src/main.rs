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
    /// Named dashboard users: viewers watch, operators also press Run Now,
    /// Stop and approve, admins also change settings and revoke workers.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user, or give an existing one a new role and password. The
    /// password is read from the first line of standard input, e.g.
    /// `printf '%s\n' "$PASSWORD" | claudeops-control-plane user add alice --role operator`.
    Add {
        name: String,
        #[arg(long, value_parser = ["viewer", "operator", "admin"])]
        role: String,
    },
    /// List the users and their roles.
    List,
    /// Remove a user.
    Remove { name: String },
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
        Command::User { command } => user(command, &config).await,
        Command::ImportLegacy { path, site } => {
            let site = SiteName::new(site)?;
            let report = legacy_import::run(&config, &path, &site).await?;
            print!("{report}");
            Ok(())
        }
    }
}

/// `user add | list | remove`. A running control plane checks passwords and
/// roles at login, so a change applies from the user's next login.
async fn user(command: UserCommand, config: &ControlPlaneConfig) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let users = claudeops_control_plane::users::Users::new(store.clone());
    let result = match command {
        UserCommand::Add { name, role } => {
            let role: claudeops_control_plane::auth::Role =
                role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            use std::io::IsTerminal;
            if std::io::stdin().is_terminal() {
                eprint!("password for {name} (the characters show as you type): ");
            }
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let new = users
                .put(
                    &name,
                    role,
                    password,
                    claudeops_control_plane::clock::now_ms(),
                )
                .await?;
            println!(
                "{} user {name} ({role}){}",
                if new { "added" } else { "updated" },
                if new {
                    ""
                } else {
                    "; its current logins end within seconds"
                }
            );
            Ok(())
        }
        UserCommand::List => {
            let list = users.list().await?;
            if list.is_empty() {
                println!("no users: log in with the API token, or add one with `user add`");
            }
            for user in list {
                println!("{}\t{}", user.name, user.role);
            }
            Ok(())
        }
        UserCommand::Remove { name } => {
            if users.remove(&name).await? {
                println!("removed user {name}; a running dashboard ends its logins within seconds");
                Ok(())
            } else {
                Err(anyhow::anyhow!("no user named {name:?}"))
            }
        }
    };
    store.close().await;
    result
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
