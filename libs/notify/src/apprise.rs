//! Runs the `apprise` CLI for one message and one URL.
//!
//! The URL goes to the child in the `APPRISE_URLS` environment variable, which
//! the Apprise CLI reads when no URL is given on the command line: argv is
//! readable by every user in `/proc/PID/cmdline`, the environment only by the
//! process owner. The body goes through stdin (no length limit, not in argv).
//! The child is a guarded child of `claudeops-process`: an allow-listed
//! environment, its own process group, and a timeout that kills the group. Its output is redacted before anything keeps it.
//! This module must not log a URL or return one in an error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use claudeops_process::{self as process, Spec};

use crate::message::Message;
use crate::urls::AppriseUrls;

/// Environment variables passed through to Apprise when set: the search path,
/// locale, home (plugin lookup) and the proxy and CA settings of `requests`.
const ENV_ALLOW: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// How much of each of Apprise's stdout and stderr is read (the last bytes).
const OUTPUT_CAP: usize = 1 << 20;

/// How much of Apprise's output an error keeps.
const DETAIL_CHARS: usize = 600;

/// Why a delivery failed. Texts are redacted and name a URL only by index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error(
        "apprise was not found at {program}: install it (Debian package apprise, or pip install apprise) or set its path"
    )]
    NotFound { program: String },
    #[error("apprise could not be started: {reason}")]
    Spawn { reason: String },
    #[error(
        "apprise took longer than {secs} s and was killed: check the destination or raise the send timeout"
    )]
    TimedOut { secs: u64 },
    #[error("apprise failed (exit status {status}): {detail}")]
    Failed { status: String, detail: String },
    #[error("there is no apprise url #{index}: check CLAUDEOPS_APPRISE_URLS")]
    NoSuchUrl { index: usize },
}

/// The Apprise CLI: its path and the per-delivery timeout.
#[derive(Debug, Clone)]
pub struct Apprise {
    program: PathBuf,
    timeout: Duration,
}

impl Apprise {
    pub fn new(program: impl Into<PathBuf>, timeout: Duration) -> Apprise {
        Apprise {
            program: program.into(),
            timeout,
        }
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// `apprise --version`'s first line, to check the installation.
    pub async fn version(&self) -> Result<String, SendError> {
        let mut cmd = self.command();
        cmd.arg("--version");
        let out = self.run(cmd, None, &AppriseUrls::default(), None).await?;
        Ok(out.lines().next().unwrap_or("").trim().to_owned())
    }

    /// Sends one message to the URL at a 1-based index.
    pub async fn send(
        &self,
        urls: &AppriseUrls,
        index: usize,
        message: &Message,
    ) -> Result<(), SendError> {
        let url = urls.get(index).ok_or(SendError::NoSuchUrl { index })?;
        let mut cmd = self.command();
        cmd.env("APPRISE_URLS", url)
            .arg("-vv")
            .arg("--input-format=markdown")
            .arg(format!("--notification-type={}", message.level.as_str()))
            .arg("--title")
            .arg(&message.title);
        self.run(cmd, Some(message.body.as_bytes()), urls, Some(index))
            .await
            .map(|_| ())
    }

    /// The child's spec: the allow-listed environment, no arguments yet.
    fn command(&self) -> Spec {
        let mut spec = Spec::new(&self.program, self.timeout);
        for name in ENV_ALLOW {
            if let Some(v) = std::env::var_os(name) {
                spec.env(*name, v);
            }
        }
        if std::env::var_os("PATH").is_none() {
            spec.env("PATH", "/usr/local/bin:/usr/bin:/bin");
        }
        spec.env("PYTHONDONTWRITEBYTECODE", "1");
        spec
    }

    /// Runs the child: stdin written, both pipes drained, a timeout that kills
    /// the process group. Returns stdout on success.
    async fn run(
        &self,
        mut spec: Spec,
        stdin: Option<&[u8]>,
        urls: &AppriseUrls,
        index: Option<usize>,
    ) -> Result<String, SendError> {
        let redact = |text: &str| urls.redact_for(index, text);
        spec.stdin(stdin.unwrap_or_default());
        let done = match spec.spawn() {
            Ok(child) => child.output(OUTPUT_CAP).await,
            Err(error) => Err(error),
        };
        let output = done.map_err(|error| match error {
            process::Error::NotFound { .. } => SendError::NotFound {
                program: self.program.display().to_string(),
            },
            process::Error::TimedOut { .. } => SendError::TimedOut {
                secs: self.timeout.as_secs().max(1),
            },
            process::Error::PermissionDenied { source, .. }
            | process::Error::Spawn { source, .. }
            | process::Error::Io { source, .. } => SendError::Spawn {
                reason: redact(&source.to_string()),
            },
        })?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        let status = output
            .status
            .code()
            .map_or_else(|| "killed by a signal".to_owned(), |c| c.to_string());
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        Err(SendError::Failed {
            status,
            detail: failure_detail(&redact(&stderr), &redact(&stdout)),
        })
    }
}

/// The useful part of Apprise's output: its ERROR and WARNING lines without the
/// timestamp, else the last non-empty line; cut to a readable length.
/// Expects text that is already redacted.
pub(crate) fn failure_detail(stderr: &str, stdout: &str) -> String {
    let mut picked: Vec<&str> = Vec::new();
    for line in stderr.lines() {
        for marker in [" - ERROR - ", " - WARNING - ", " - CRITICAL - "] {
            if let Some((_, msg)) = line.split_once(marker) {
                picked.push(msg.trim());
            }
        }
    }
    let text = if picked.is_empty() {
        let last = stderr
            .lines()
            .chain(stdout.lines())
            .map(str::trim)
            .rfind(|l| !l.is_empty());
        last.unwrap_or("no output").to_owned()
    } else {
        picked.join("; ")
    };
    if text.chars().count() <= DETAIL_CHARS {
        return text;
    }
    let cut: String = text.chars().take(DETAIL_CHARS).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_detail_table() {
        let cases = [
            (
                "2026-11-29 17:46:22,842 - INFO - Notifying 1 service(s) asynchronously.\n\
                 2026-11-29 17:46:22,845 - WARNING - Failed to send JSON POST notification: Internal server error., error=500.\n",
                "",
                "Failed to send JSON POST notification: Internal server error., error=500.",
            ),
            (
                "2026-11-29 17:46:23,474 - ERROR - Unsupported URL: url #1\n\
                 2026-11-29 17:46:23,474 - ERROR - You must specify at least one server URL or populated configuration file.\nUsage: ...\n",
                "",
                "Unsupported URL: url #1; You must specify at least one server URL or populated configuration file.",
            ),
            (
                "Traceback...\nModuleNotFoundError: x\n",
                "",
                "ModuleNotFoundError: x",
            ),
            ("", "", "no output"),
        ];
        for (stderr, stdout, want) in cases {
            assert_eq!(failure_detail(stderr, stdout), want);
        }
        let long = format!("x - ERROR - {}", "y".repeat(2000));
        assert_eq!(failure_detail(&long, "").chars().count(), DETAIL_CHARS + 1);
    }

    #[tokio::test]
    async fn a_missing_program_says_to_install_apprise() {
        let a = Apprise::new("/nonexistent/apprise-binary", Duration::from_secs(5));
        let err = a.version().await.unwrap_err();
        assert!(matches!(err, SendError::NotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("Debian package apprise"), "{err}");
    }

    #[tokio::test]
    async fn a_slow_child_is_killed_at_the_timeout() {
        // `sleep` stands in for a hanging apprise: the runner must not wait for it.
        let a = Apprise::new("sleep", Duration::from_millis(300));
        let mut cmd = a.command();
        cmd.arg("30");
        let started = std::time::Instant::now();
        let err = a
            .run(cmd, None, &AppriseUrls::default(), None)
            .await
            .unwrap_err();
        assert_eq!(err, SendError::TimedOut { secs: 1 });
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn the_url_is_not_in_argv_and_the_environment_is_allow_listed() {
        // `sh -c` prints its own argv and environment; the URL must appear only
        // as APPRISE_URLS.
        let urls = AppriseUrls::parse("json://user:tok3n@127.0.0.1:9/secretpath").unwrap();
        let a = Apprise::new("sh", Duration::from_secs(5));
        let mut cmd = a.command();
        cmd.env("APPRISE_URLS", urls.get(1).unwrap())
            .arg("-c")
            .arg("cat /proc/$$/cmdline | tr '\\0' ' '; echo; env");
        let out = a.run(cmd, None, &urls, Some(1)).await.unwrap();
        let (argv, env) = out.split_once('\n').unwrap();
        assert!(!argv.contains("tok3n"), "{argv}");
        let names: Vec<&str> = env
            .lines()
            .filter_map(|l| l.split_once('=').map(|p| p.0))
            .collect();
        for name in &names {
            let allowed = ENV_ALLOW.contains(name)
                || [
                    "APPRISE_URLS",
                    "PYTHONDONTWRITEBYTECODE",
                    "PWD",
                    "SHLVL",
                    "_",
                ]
                .contains(name);
            assert!(allowed, "unexpected variable {name}");
        }
        assert!(env.contains("APPRISE_URLS=json://user:tok3n@127.0.0.1:9/secretpath"));
    }
}
