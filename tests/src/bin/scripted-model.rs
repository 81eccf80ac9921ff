//! Serves scripted model replies from a JSON file, so a developer can run
//! Claude Ops end to end without a real Anthropic key.
//!
//! Usage: `claudeops-scripted-model SCRIPTS.json [--port PORT]`, then run the
//! system with `ANTHROPIC_BASE_URL` set to the printed URL. The file holds a
//! JSON array of scripts, for example
//! `[{"model": "haiku", "turns": [[{"bash": "uptime"}], [{"text": "all good"}]]}]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use claudeops_tests::model::{Script, ScriptedModel};

const USAGE: &str = "usage: claudeops-scripted-model SCRIPTS.json [--port PORT]";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("{USAGE}")]
    Usage,
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Start(#[from] claudeops_tests::model::ModelError),
}

struct Args {
    scripts: PathBuf,
    port: u16,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, Error> {
    let mut scripts = None;
    let mut port = 0;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().ok_or(Error::Usage)?;
                port = value.parse().map_err(|_| Error::Usage)?;
            }
            "-h" | "--help" => return Err(Error::Usage),
            _ if scripts.is_none() => scripts = Some(PathBuf::from(arg)),
            _ => return Err(Error::Usage),
        }
    }
    let scripts = scripts.ok_or(Error::Usage)?;
    Ok(Args { scripts, port })
}

fn load(path: PathBuf) -> Result<Vec<Script>, Error> {
    let raw = std::fs::read(&path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    serde_json::from_slice(&raw).map_err(|source| Error::Parse { path, source })
}

async fn run() -> Result<(), Error> {
    let args = parse_args(std::env::args().skip(1))?;
    let scripts = load(args.scripts)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let model = ScriptedModel::start_on(addr, scripts).await?;
    println!("listening on {}", model.base_url());
    std::future::pending::<()>().await;
    Ok(())
}

/// Logs each request to stderr (`RUST_LOG` overrides the `info` default).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("claudeops-scripted-model: {err}");
            ExitCode::FAILURE
        }
    }
}
