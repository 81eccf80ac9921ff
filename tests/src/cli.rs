//! Finding and running the real `claude` CLI in tests.
//!
//! Tests never fake the CLI: they find the real binary (installed by
//! `tests/install-claude-cli.sh`) and fail loudly when it is missing. The
//! [`ClaudeRun`] builder runs it in print mode against a [`ScriptedModel`]
//! with a throw-away HOME, so a developer's own settings and keys never leak
//! into a test, and parses its `stream-json` output.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use crate::model::{ScriptedModel, cli_env};

/// Environment variable naming the `claude` binary to use.
pub const CLAUDE_BIN_ENV: &str = "CLAUDEOPS_CLAUDE_BIN";

/// Version of the CLI that `tests/install-claude-cli.sh` installs.
pub const CLI_VERSION: &str = "2.1.327";

/// Environment variable prefixes removed before running the CLI, so the
/// caller's credentials and switches cannot change a test.
const SCRUBBED_PREFIXES: [&str; 3] = ["ANTHROPIC_", "CLAUDE_CODE_", "CLAUDE_CONFIG_DIR"];

/// The `claude` binary: `$CLAUDEOPS_CLAUDE_BIN` if set, else `claude` on
/// `PATH`, else the one `tests/install-claude-cli.sh` caches.
///
/// # Panics
/// When none exists, with a message telling how to install it: a test that
/// needs the real CLI must fail, never skip.
pub fn claude_bin() -> PathBuf {
    if let Some(path) = std::env::var_os(CLAUDE_BIN_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            is_executable(&path),
            "{CLAUDE_BIN_ENV}={} is not an executable file; run tests/install-claude-cli.sh \
             and export {CLAUDE_BIN_ENV} to the path it prints",
            path.display()
        );
        return path;
    }
    if let Some(path) = find_on_path("claude") {
        return path;
    }
    let cached = cached_claude_bin();
    assert!(
        is_executable(&cached),
        "the real `claude` CLI was not found ({CLAUDE_BIN_ENV} unset, no `claude` on PATH, \
         nothing at {}); run tests/install-claude-cli.sh to install it",
        cached.display()
    );
    cached
}

/// Where `tests/install-claude-cli.sh` puts the binary:
/// `${XDG_CACHE_HOME:-$HOME/.cache}/claudeops/claude-VERSION/claude`.
pub fn cached_claude_bin() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home_dir().join(".cache"));
    cache
        .join("claudeops")
        .join(format!("claude-{CLI_VERSION}"))
        .join("claude")
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Why a CLI run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The process could not be started or waited for.
    #[error("running {bin}: {source}")]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The temporary HOME could not be made.
    #[error("making a temporary HOME: {0}")]
    Home(std::io::Error),
    /// The run took longer than its timeout and was killed.
    #[error("claude did not finish within {0:?}")]
    Timeout(Duration),
}

/// One `claude -p` run against a scripted model.
///
/// Starts from `-p PROMPT --output-format stream-json --verbose
/// --setting-sources ""` and the model's environment, in a fresh temporary HOME.
#[derive(Debug, Clone)]
pub struct ClaudeRun {
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    timeout: Duration,
}

impl ClaudeRun {
    /// A run of `prompt` against `model`.
    pub fn new(model: &ScriptedModel, prompt: &str) -> Self {
        Self::at(&model.base_url(), prompt)
    }

    /// A run of `prompt` against a scripted model at `base_url`
    /// (e.g. one started by the `claudeops-scripted-model` binary).
    pub fn at(base_url: &str, prompt: &str) -> Self {
        let args = ["-p", prompt, "--output-format", "stream-json", "--verbose"]
            .into_iter()
            .chain(["--setting-sources", ""])
            .map(OsString::from)
            .collect();
        let env = cli_env(base_url)
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        ClaudeRun {
            args,
            env,
            cwd: None,
            timeout: Duration::from_secs(120),
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the CLI.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs the CLI in `dir` (default: the temporary HOME).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Kills the CLI after `timeout` (default 120 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs the CLI to completion and parses its output.
    pub async fn run(self) -> Result<ClaudeOutput, CliError> {
        let home = tempfile::tempdir().map_err(CliError::Home)?;
        let bin = claude_bin();
        let mut command = self.command(&bin, home.path());
        let child = command.spawn().map_err(|source| CliError::Spawn {
            bin: bin.clone(),
            source,
        })?;
        let waited = tokio::time::timeout(self.timeout, child.wait_with_output()).await;
        let output = waited
            .map_err(|_| CliError::Timeout(self.timeout))?
            .map_err(|source| CliError::Spawn { bin, source })?;
        Ok(ClaudeOutput::new(
            output.status,
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }

    fn command(&self, bin: &Path, home: &Path) -> Command {
        let mut command = Command::new(bin);
        for (key, _) in std::env::vars_os() {
            let scrub = key
                .to_str()
                .is_some_and(|k| SCRUBBED_PREFIXES.iter().any(|p| k.starts_with(p)));
            if scrub {
                command.env_remove(&key);
            }
        }
        command
            .args(&self.args)
            .env("HOME", home)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.cwd.as_deref().unwrap_or(home))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }
}

/// What a `--output-format stream-json` run printed.
#[derive(Debug, Clone)]
pub struct ClaudeOutput {
    /// The exit status.
    pub status: ExitStatus,
    /// Every stdout line that parsed as JSON, in order.
    pub lines: Vec<Value>,
    /// Raw stdout.
    pub stdout: String,
    /// Raw stderr.
    pub stderr: String,
}

impl ClaudeOutput {
    /// Parses `stdout` line by line; lines that are not JSON are kept only in `stdout`.
    pub fn new(status: ExitStatus, stdout: String, stderr: String) -> Self {
        let lines = stdout
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        ClaudeOutput {
            status,
            lines,
            stdout,
            stderr,
        }
    }

    /// Lines whose `type` is `kind` (`system`, `assistant`, `user`, `result`).
    pub fn of_type(&self, kind: &str) -> Vec<&Value> {
        self.lines.iter().filter(|l| l["type"] == kind).collect()
    }

    /// The final `{"type":"result"}` line, if printed.
    pub fn result(&self) -> Option<&Value> {
        self.lines.iter().rev().find(|l| l["type"] == "result")
    }

    /// The `{"type":"system","subtype":"init"}` line, if printed.
    pub fn init(&self) -> Option<&Value> {
        self.lines
            .iter()
            .find(|l| l["type"] == "system" && l["subtype"] == "init")
    }

    /// Stdout and stderr, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}
