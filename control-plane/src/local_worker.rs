//! `serve --local-worker`: the single-host set-up. The control plane enrolls a
//! worker for site `local` and runs the `claudeops-worker` binary as its child,
//! restarting it if it dies, and stopping it when the control plane stops.
//!
//! Why a child process and not the worker library linked in: the control plane
//! must not run the CLI (ARCHITECTURE.md), and a separate process keeps the
//! agent's side of the host away from the control plane's memory and secrets:
//! the child gets an environment built here, without the API token, the
//! notification URLs, the database URL or the CA key, and its own state dir.
//! The worker then is exactly the program a fleet runs on other hosts.
//!
//! The child dies with the control plane even on `kill -9`: its stdin is a pipe
//! whose write end only this process holds, and the worker exits when it reads
//! end-of-file there (`CLAUDEOPS_EXIT_WITH_STDIN`).
//!
//! What it must not do: pass a control-plane secret to the child, or leave the
//! child running after `serve` returns.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use claudeops_core::SiteName;
use claudeops_pki::Ca;
use claudeops_store::Store;
use tokio::process::{Child, Command};

use crate::config::Config;
use crate::{Bound, LOCAL_SITE, create_enroll_token};

/// The worker binary's name, looked for beside the control plane's own binary.
pub const WORKER_BIN: &str = "claudeops-worker";
/// The exit code with which the worker reports an invalid configuration.
const CONFIG_INVALID: i32 = 2;
/// How long the worker may take to finish after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A worker that ran this long before dying is restarted without delay.
const STABLE: Duration = Duration::from_secs(60);

/// Variables of the control plane that never reach the worker: its secrets and
/// its own settings that mean something else to a worker.
const WITHHELD: &[&str] = &[
    "CLAUDEOPS_API_TOKEN",
    "CLAUDEOPS_APPRISE_URLS",
    "CLAUDEOPS_DATABASE_URL",
    "DATABASE_URL",
    "CLAUDEOPS_CA_CERT_FILE",
    "CLAUDEOPS_CA_KEY_FILE",
    "CLAUDEOPS_HOOK_COMMAND",
    "CLAUDEOPS_ENROLL_TOKEN",
    "CLAUDEOPS_WORKER_BIN",
    // The worker reports its spans as `claudeops-worker`, not as this process.
    "OTEL_SERVICE_NAME",
];

/// Whether a variable stays in the control plane: the list above, and every
/// secret of the catalogue that only the control plane reads (the chat key,
/// say), so a new secret cannot reach the worker by being forgotten here.
fn withheld(key: &str) -> bool {
    WITHHELD.contains(&key)
        || claudeops_config::SETTINGS
            .iter()
            .any(|s| s.var == key && s.secret && !s.scope.worker())
}

/// Where the local worker binary is: `CLAUDEOPS_WORKER_BIN`, else beside this
/// binary, else on `PATH`.
pub fn worker_binary(config: &Config) -> anyhow::Result<PathBuf> {
    if let Some(path) = &config.worker_bin {
        anyhow::ensure!(
            path.is_file(),
            "CLAUDEOPS_WORKER_BIN {} is not a file",
            path.display()
        );
        return Ok(path.clone());
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(WORKER_BIN)));
    if let Some(path) = beside.filter(|p| p.is_file()) {
        return Ok(path);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(WORKER_BIN))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--local-worker needs the {WORKER_BIN} binary beside the control plane or on PATH \
                 (build it with `cargo build --release -p claudeops-worker`, or set CLAUDEOPS_WORKER_BIN)"
            )
        })
}

/// What the supervisor needs to (re)start the local worker.
pub struct LocalWorker {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub ca: Arc<Ca>,
    pub bound: Bound,
    pub program: PathBuf,
}

impl LocalWorker {
    fn state_dir(&self) -> PathBuf {
        self.config.state_dir.join("worker")
    }

    /// Runs the worker until `stopped` resolves, restarting it when it dies.
    /// Returns an error only when the worker cannot run at all.
    pub async fn supervise(
        self,
        stopped: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::pin!(stopped);
        let mut backoff = Duration::from_secs(1);
        loop {
            let started = tokio::time::Instant::now();
            let mut child = self.spawn().await?;
            // Held until the child exits: `wait` would close it, and the worker
            // takes end-of-file there as its parent's death.
            let _parent_alive = child.stdin.take();
            let status = tokio::select! {
                status = child.wait() => status.context("waiting for the local worker")?,
                () = &mut stopped => {
                    stop(&mut child).await;
                    return Ok(());
                }
            };
            if status.code() == Some(CONFIG_INVALID) {
                anyhow::bail!("the local worker refused its configuration (see its errors above)");
            }
            if started.elapsed() >= STABLE {
                backoff = Duration::from_secs(1);
            }
            tracing::warn!(status = %describe(status), restart_in = ?backoff, "the local worker exited; restarting it");
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = &mut stopped => return Ok(()),
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn spawn(&self) -> anyhow::Result<Child> {
        let env = self.environment().await?;
        let mut command = Command::new(&self.program);
        command
            .arg("run")
            .env_clear()
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("starting the local worker {:?}", self.program))?;
        tracing::info!(pid = child.id(), program = %self.program.display(), "local worker started");
        Ok(child)
    }

    /// The worker's environment: this process's, less its secrets, plus where
    /// to find the control plane and (on first start) an enrollment token.
    async fn environment(&self) -> anyhow::Result<Vec<(String, String)>> {
        let config = &self.config;
        let mut env: Vec<(String, String)> =
            std::env::vars().filter(|(key, _)| !withheld(key)).collect();
        let mut set = |key: &str, value: String| {
            env.retain(|(k, _)| k != key);
            env.push((key.to_owned(), value));
        };
        set(
            "CLAUDEOPS_CONTROL_PLANE",
            format!("https://127.0.0.1:{}", self.bound.grpc.port()),
        );
        set("CLAUDEOPS_SITE", LOCAL_SITE.to_owned());
        set(
            "CLAUDEOPS_WORKER_STATE_DIR",
            self.state_dir().display().to_string(),
        );
        set(
            "CLAUDEOPS_REPOS_DIR",
            config.repos_dir.display().to_string(),
        );
        set(
            "CLAUDEOPS_CLAUDE_BIN",
            config.claude_bin.display().to_string(),
        );
        set(
            "CLAUDEOPS_SESSION_TIMEOUT",
            config.session_timeout.as_secs().to_string(),
        );
        set("CLAUDEOPS_ALLOWED_TOOLS", config.allowed_tools.join(","));
        // This control plane lets sessions finish before it stops the worker
        // (`serve`): by then the worker has nothing left to wait for.
        set("CLAUDEOPS_SHUTDOWN_GRACE", "2s".to_owned());
        if let Some(path) = &config.schema_path {
            set("CLAUDEOPS_SCHEMA_PATH", path.display().to_string());
        }
        // The local worker shares this host: keep the control plane's files from the agent.
        set(
            "CLAUDEOPS_PROTECTED_PATHS",
            protected_paths(&config.state_dir),
        );
        set("CLAUDEOPS_EXIT_WITH_STDIN", "true".to_owned());
        if let Some(token) = self.enroll_token().await? {
            set("CLAUDEOPS_ENROLL_TOKEN", token);
        }
        Ok(env)
    }

    /// A token when the kept identity is missing, unknown to this database or
    /// revoked (a new database, or a revoked local worker): enroll afresh.
    async fn enroll_token(&self) -> anyhow::Result<Option<String>> {
        let state_dir = self.state_dir();
        let usable = match kept_worker_id(&state_dir) {
            Some(id) => self
                .store
                .get_worker(&id)
                .await?
                .is_some_and(|w| !w.is_revoked()),
            None => false,
        };
        if usable {
            return Ok(None);
        }
        forget_identity(&state_dir)?;
        let site = SiteName::new(LOCAL_SITE)?;
        let token = create_enroll_token(
            self.store.as_ref(),
            &self.ca,
            &site,
            self.bound.enroll.port(),
            Duration::from_secs(300),
        )
        .await?;
        Ok(Some(token))
    }
}

/// SIGTERM, then SIGKILL after the grace period.
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(Ok(status)) => tracing::info!(status = %describe(status), "local worker stopped"),
        _ => {
            tracing::warn!("the local worker did not stop in time; killing it");
            let _ = child.kill().await;
        }
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => status.to_string(),
    }
}

/// The control plane's files in its state dir, which the agent may never read.
fn protected_paths(state_dir: &Path) -> String {
    [
        "ca.key",
        "api-token",
        "claudeops.db",
        "claudeops.db-wal",
        "claudeops.db-shm",
    ]
    .iter()
    .map(|f| state_dir.join(f).display().to_string())
    .collect::<Vec<_>>()
    .join(":")
}

// The worker keeps its identity in its state dir (`worker/src/enroll.rs`):
// `identity.json` names the worker id, `worker.pem` is its certificate. These
// two names are the contract between the binaries for the local worker.
const IDENTITY_FILE: &str = "identity.json";
const CERT_FILE: &str = "worker.pem";

/// The id of the worker whose identity is kept in `state_dir`, if any.
fn kept_worker_id(state_dir: &Path) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Kept {
        worker_id: String,
    }
    if !state_dir.join(CERT_FILE).exists() {
        return None;
    }
    let text = std::fs::read_to_string(state_dir.join(IDENTITY_FILE)).ok()?;
    serde_json::from_str::<Kept>(&text)
        .ok()
        .map(|k| k.worker_id)
}

/// Removes a kept certificate, so the worker enrolls with the token it gets.
fn forget_identity(state_dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(state_dir.join(CERT_FILE)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing the identity in {state_dir:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_identity_is_read_only_with_its_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(IDENTITY_FILE),
            r#"{"site":"local","worker_id":"w-1"}"#,
        )
        .expect("write");
        assert_eq!(kept_worker_id(dir.path()), None);
        std::fs::write(dir.path().join(CERT_FILE), "pem").expect("write");
        assert_eq!(kept_worker_id(dir.path()).as_deref(), Some("w-1"));
        forget_identity(dir.path()).expect("forget");
        assert_eq!(kept_worker_id(dir.path()), None);
        forget_identity(dir.path()).expect("forgetting twice is fine");
    }

    #[test]
    fn control_plane_secrets_are_withheld_from_the_worker() {
        for key in [
            "CLAUDEOPS_API_TOKEN",
            "CLAUDEOPS_CHAT_API_KEY",
            "CLAUDEOPS_APPRISE_URLS",
            "CLAUDEOPS_DATABASE_URL",
        ] {
            assert!(withheld(key), "{key}");
        }
        // What the worker needs goes through.
        for key in [
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            "CLAUDEOPS_TIER1_MODEL",
        ] {
            assert!(!withheld(key), "{key}");
        }
    }

    #[test]
    fn protected_paths_name_the_control_planes_secrets() {
        let paths = protected_paths(Path::new("/state"));
        for name in ["/state/ca.key", "/state/api-token", "/state/claudeops.db"] {
            assert!(paths.split(':').any(|p| p == name), "{name} in {paths}");
        }
    }
}
