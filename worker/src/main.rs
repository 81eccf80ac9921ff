//! `claudeops-worker`: parse, configure, run. Everything else is in the library.

use clap::{Parser, Subcommand};
use claudeops_worker::link::Stop;

#[derive(Parser)]
#[command(
    name = "claudeops-worker",
    version,
    about = "Claude Ops worker: runs tier jobs for a site"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Connect to the control plane and run jobs (the default).
    Run,
    /// Check the configuration and print every problem.
    ConfigCheck,
    /// The claude CLI's PreToolUse hook (run by the CLI, not by hand).
    #[command(hide = true)]
    Hook,
    /// The typed remediation actions as an MCP server (run by the CLI).
    #[command(hide = true)]
    Mcp,
    /// Kills a session's process group when this worker dies (run by the worker).
    #[command(hide = true)]
    Guard { pgid: String },
}

fn main() -> std::process::ExitCode {
    // Inside a session's sandbox, before anything else: drop to the sandbox
    // user and become the CLI (its arguments are passed on untouched).
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if raw
        .get(1)
        .is_some_and(|a| a == claudeops_worker::sandbox::EXEC_SUBCOMMAND)
    {
        return claudeops_worker::sandbox::exec_main(&raw[2..]);
    }
    // The browser of a session: hand over the DevTools pipe and become it,
    // before a runtime opens any file descriptor (the pipe must land on 3 and 4).
    if raw
        .get(1)
        .is_some_and(|a| a == claudeops_worker::browser::launch::PIPE_SUBCOMMAND)
    {
        return claudeops_worker::browser::launch::pipe_main(&raw[2..]);
    }
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(async_main()),
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn async_main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The hook answers on stdout and must start fast: no logging, no config.
    match cli.command {
        Some(Command::Hook) => return claudeops_worker::hook::main(),
        Some(Command::Mcp) => return claudeops_worker::mcp::main().await,
        Some(Command::Guard { pgid }) => return claudeops_worker::guard::main(&pgid),
        _ => {}
    }
    claudeops_pki::tls::install_crypto_provider();
    let config = match claudeops_worker::WorkerConfig::load() {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return std::process::ExitCode::from(2);
        }
    };
    let telemetry = match claudeops_telemetry::init(
        "claudeops-worker",
        config.log_format,
        if config.verbose {
            "info,claudeops=debug,claudeops_worker=debug"
        } else {
            "info"
        },
        claudeops_telemetry::names::describe_worker,
    ) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = run(cli.command, config).await;
    tokio::task::block_in_place(|| telemetry.shutdown());
    code
}

async fn run(
    command: Option<Command>,
    config: claudeops_worker::WorkerConfig,
) -> std::process::ExitCode {
    match command.unwrap_or(Command::Run) {
        Command::Hook => claudeops_worker::hook::main(),
        Command::Mcp => claudeops_worker::mcp::main().await,
        Command::Guard { pgid } => claudeops_worker::guard::main(&pgid),
        Command::ConfigCheck => {
            let names: Vec<String> = std::env::vars_os()
                .filter_map(|(k, _)| k.into_string().ok())
                .collect();
            let warnings = claudeops_config::unknown::warnings(
                names.iter().map(String::as_str),
                claudeops_config::unknown::Reader::Worker,
            );
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
            std::process::ExitCode::SUCCESS
        }
        Command::Run => {
            let shutdown = shutdown(config.exit_with_stdin);
            match claudeops_worker::run(config, shutdown).await {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}

/// Resolves on SIGINT or SIGTERM (a drain: sessions get their grace period),
/// and, for a worker run by `serve --local-worker`, when its parent dies (its
/// stdin pipe reaches end-of-file, even after `kill -9`): nobody is left to
/// report to, so everything stops at once.
async fn shutdown(exit_with_stdin: bool) -> Stop {
    use tokio::signal::unix::{SignalKind, signal};
    let parent_gone = async {
        if exit_with_stdin {
            // A plain thread, not the runtime's blocking pool: the runtime would
            // wait for a read that never ends before the process could exit.
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            std::thread::spawn(move || {
                use std::io::Read;
                let mut stdin = std::io::stdin();
                let mut buf = [0u8; 256];
                while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
                let _ = tx.send(());
            });
            let _ = rx.await;
            tracing::warn!("the control plane that started this worker is gone; stopping");
        } else {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Stop::Drain,
        () = terminate => Stop::Drain,
        () = parent_gone => Stop::Now,
    }
}
