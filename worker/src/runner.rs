//! Runs one `claude` CLI process for one session and reports every stdout line.
//!
//! The process is a guarded child of `claudeops-process`: an allow-listed
//! environment (never the worker's own), its own process group (so stopping a
//! session, its timeout or dropping the run kills everything it started), and
//! concurrently drained stdout and stderr. This module knows nothing about gRPC:
//! it emits [`RunEvent`]s into a channel and returns the [`Finish`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use claudeops_core::stream::{self, RunResult, StreamEvent};
use claudeops_process::{self as process, EndedBy, Guarded, Kill, LineLimits, Piped, Spec};
use tokio::sync::{mpsc, oneshot};

/// Longest stdout line kept whole; longer lines are cut (the rest is dropped).
const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;
/// How much of stderr is kept for the failure message.
const STDERR_TAIL_BYTES: usize = 4096;
/// Time between SIGTERM and SIGKILL when a session is stopped.
const KILL_GRACE: Duration = Duration::from_secs(3);

/// Everything needed to start the CLI for one session.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// The complete environment of the process; nothing else is inherited.
    pub env: Vec<(OsString, OsString)>,
    pub workdir: PathBuf,
    pub timeout: Duration,
    /// How the session's processes are kept from outliving the worker;
    /// `None` runs without (tests of the runner alone).
    pub guard: Option<SessionGuard>,
}

/// What keeps a session's processes from outliving its worker.
#[derive(Debug, Clone)]
pub struct SessionGuard {
    /// The worker binary, started as the session's group guard (`crate::guard`).
    pub helper: PathBuf,
    /// Where the group is recorded while it runs, for the next worker to
    /// find if this one dies (`crate::leftovers`).
    pub records: PathBuf,
    pub session_id: i64,
}

/// One line of output, numbered from 1 within the session.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub seq: i64,
    pub ts_ms: i64,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishStatus {
    Completed,
    Failed,
    TimedOut,
    Stopped,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    pub status: FinishStatus,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub last_seq: i64,
    pub ended_at_ms: i64,
    pub result: Option<RunResult>,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Numbers lines and watches for the CLI's result line.
struct Numberer {
    next_seq: i64,
    tx: mpsc::Sender<Line>,
    result: Option<RunResult>,
}

impl Numberer {
    async fn emit(&mut self, text: String) {
        if let Ok(events) = stream::parse_line(&text) {
            for event in events {
                if let StreamEvent::Result(result) = event {
                    self.result = Some(result);
                }
            }
        }
        let line = Line {
            seq: self.next_seq,
            ts_ms: now_ms(),
            text,
        };
        self.next_seq += 1;
        // A closed receiver means nobody listens any more; the run still finishes.
        let _ = self.tx.send(line).await;
    }

    /// A line the worker itself adds to the session's output.
    async fn note(&mut self, kind: &str, message: &str) {
        let text = serde_json::json!({"type": kind, "message": message}).to_string();
        self.emit(text).await;
    }
}

/// A CLI line claiming a type of the worker's own (`claudeops_*`: a
/// screenshot, a warning) is kept, but as what it is: a line from the CLI,
/// which something in the session may have written.
fn from_cli(line: String) -> String {
    let claims = serde_json::from_str::<serde_json::Value>(&line).is_ok_and(|v| {
        v.get("type")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|t| t.starts_with("claudeops_"))
    });
    if claims {
        serde_json::json!({"type": "claudeops_forged", "raw": line}).to_string()
    } else {
        line
    }
}

/// Runs the CLI to the end. `cancel` stops it early with the given reason.
pub async fn run(
    invocation: Invocation,
    lines: mpsc::Sender<Line>,
    cancel: oneshot::Receiver<String>,
) -> Finish {
    let (_none, notes) = mpsc::channel(1);
    run_with_notes(invocation, lines, cancel, notes).await
}

/// [`run`], with lines the worker adds to the session's output while the CLI
/// runs (`notes`: whole JSON lines, a browser screenshot say), numbered in
/// order with the CLI's own.
pub async fn run_with_notes(
    invocation: Invocation,
    lines: mpsc::Sender<Line>,
    cancel: oneshot::Receiver<String>,
    mut notes: mpsc::Receiver<String>,
) -> Finish {
    let mut out = Numberer {
        next_seq: 1,
        tx: lines,
        result: None,
    };
    let mut child = match spawn(&invocation) {
        Ok(child) => child.lines(LineLimits {
            max_line_bytes: MAX_LINE_BYTES,
            stderr_tail_bytes: STDERR_TAIL_BYTES,
        }),
        Err(error) => {
            out.note("claudeops_error", &error).await;
            return finish(&out, FinishStatus::Failed, None, Some(error));
        }
    };
    // Held until the session ends: kill the session's group if the worker
    // dies, or let the next worker find it.
    let (_guard, _record) = match (&invocation.guard, child.group_id()) {
        (Some(guarded), Some(pgid)) => {
            let record =
                crate::leftovers::GroupRecord::write(&guarded.records, guarded.session_id, pgid);
            let guard = crate::guard::GroupGuard::start(&guarded.helper, pgid);
            for (what, error) in [
                ("group guard", guard.as_ref().err()),
                ("group record", record.as_ref().err()),
            ] {
                if let Some(error) = error {
                    let text = format!(
                        "no {what} for this session ({error}); if the worker dies, its CLI may outlive it"
                    );
                    out.note("claudeops_warning", &text).await;
                }
            }
            (guard.ok(), record.ok())
        }
        _ => (None, None),
    };
    let mut cancel = cancel;
    let mut stop_reason: Option<String> = None;
    let mut notes_open = true;
    let ended = loop {
        tokio::select! {
            note = notes.recv(), if notes_open => match note {
                Some(text) => out.emit(text).await,
                None => notes_open = false,
            },
            event = child.next() => match event {
                Piped::Stdout(line) => out.emit(from_cli(line)).await,
                Piped::Stderr(line) => out.note("stderr", &line).await,
                Piped::Ended(ended) => break ended,
            },
            reason = &mut cancel, if stop_reason.is_none() && !child.is_ending() => {
                stop_reason = Some(reason.unwrap_or_else(|_| "worker shutting down".to_owned()));
                child.stop().await;
            }
        }
    };
    let exit_code = ended.status.and_then(|s| s.code());
    let stopped = match ended.by {
        EndedBy::Exit => None,
        EndedBy::TimedOut => Some((
            FinishStatus::TimedOut,
            format!("timed out after {}s", invocation.timeout.as_secs()),
        )),
        EndedBy::Stopped => Some((FinishStatus::Stopped, stop_reason.unwrap_or_default())),
    };
    if let Some((status, reason)) = stopped {
        out.note("claudeops_error", &reason).await;
        return finish(&out, status, exit_code, Some(reason));
    }
    let (status, error) = judge(exit_code, out.result.as_ref(), &ended.stderr_tail);
    finish(&out, status, exit_code, error)
}

fn finish(
    out: &Numberer,
    status: FinishStatus,
    exit_code: Option<i32>,
    error: Option<String>,
) -> Finish {
    Finish {
        status,
        exit_code,
        error,
        last_seq: out.next_seq - 1,
        ended_at_ms: now_ms(),
        result: out.result.clone(),
    }
}

/// Decides how a CLI that exited by itself ended.
fn judge(
    exit_code: Option<i32>,
    result: Option<&RunResult>,
    stderr_tail: &str,
) -> (FinishStatus, Option<String>) {
    match (exit_code, result) {
        (Some(0), Some(r)) if !r.is_error => (FinishStatus::Completed, None),
        (_, Some(r)) if r.is_error => {
            let detail = r.result.clone().unwrap_or_else(|| r.subtype.clone());
            (
                FinishStatus::Failed,
                Some(format!("the claude CLI reported an error: {detail}")),
            )
        }
        (code, _) => {
            let code = code.map_or_else(|| "a signal".to_owned(), |c| format!("code {c}"));
            let mut error = format!("the claude CLI exited with {code} without a result line");
            if !stderr_tail.is_empty() {
                error.push_str(": ");
                error.push_str(stderr_tail.trim());
            }
            (FinishStatus::Failed, Some(error))
        }
    }
}

/// What a session says when its CLI is not where the configuration says.
pub fn not_found(program: &std::path::Path) -> String {
    format!("the claude CLI was not found at {program:?}: install it or set CLAUDEOPS_CLAUDE_BIN")
}

/// Starts the CLI in its own process group: SIGTERM, then SIGKILL after
/// [`KILL_GRACE`], to the whole group on timeout or stop.
fn spawn(invocation: &Invocation) -> Result<Guarded, String> {
    let mut spec = Spec::new(&invocation.program, invocation.timeout);
    spec.args(invocation.args.iter().cloned())
        .envs(invocation.env.iter().cloned())
        .current_dir(&invocation.workdir)
        .kill(Kill::Graceful(KILL_GRACE));
    spec.spawn().map_err(|error| match error {
        process::Error::NotFound { .. } => not_found(&invocation.program),
        process::Error::PermissionDenied { source, .. } => format!(
            "the claude CLI at {:?} is not executable: {source}",
            invocation.program
        ),
        process::Error::Spawn { source, .. } | process::Error::Io { source, .. } => format!(
            "could not start the claude CLI {:?}: {source}",
            invocation.program
        ),
        error @ process::Error::TimedOut { .. } => format!(
            "could not start the claude CLI {:?}: {error}",
            invocation.program
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> Invocation {
        Invocation {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            workdir: std::env::temp_dir(),
            timeout,
            guard: None,
        }
    }

    async fn collect(invocation: Invocation) -> (Finish, Vec<Line>) {
        let (tx, mut rx) = mpsc::channel(1024);
        let (_cancel_tx, cancel_rx) = oneshot::channel();
        let finish = run(invocation, tx, cancel_rx).await;
        let mut lines = Vec::new();
        while let Ok(line) = rx.try_recv() {
            lines.push(line);
        }
        (finish, lines)
    }

    #[tokio::test]
    async fn completes_on_a_good_result_line() {
        let script = r#"echo '{"type":"system","subtype":"init"}'; echo 'not json'; echo '{"type":"result","subtype":"success","is_error":false,"num_turns":2,"total_cost_usd":0.5,"duration_ms":9}'"#;
        let (finish, lines) = collect(sh(script, Duration::from_secs(10))).await;
        assert_eq!(finish.status, FinishStatus::Completed, "{finish:?}");
        assert_eq!(finish.last_seq, 3);
        assert_eq!(lines.iter().map(|l| l.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(lines[1].text, "not json");
        let result = finish.result.unwrap_or_default();
        assert_eq!((result.num_turns, result.total_cost_usd), (2, 0.5));
    }

    #[tokio::test]
    async fn fails_without_a_result_line_and_keeps_stderr() {
        let (finish, lines) = collect(sh("echo boom >&2; exit 3", Duration::from_secs(10))).await;
        assert_eq!(finish.status, FinishStatus::Failed);
        assert_eq!(finish.exit_code, Some(3));
        assert!(finish.error.unwrap_or_default().contains("boom"));
        assert!(lines.iter().any(|l| l.text.contains("\"stderr\"")));
    }

    #[tokio::test]
    async fn a_missing_binary_fails_with_a_clear_message() {
        let mut invocation = sh("", Duration::from_secs(5));
        invocation.program = "/nonexistent/claude".into();
        let (finish, lines) = collect(invocation).await;
        assert_eq!(finish.status, FinishStatus::Failed);
        let error = finish.error.unwrap_or_default();
        assert!(error.contains("CLAUDEOPS_CLAUDE_BIN"), "{error}");
        assert_eq!(lines.len(), 1, "the error is also in the output");
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let marker = dir.path().join("grandchild-survived");
        // A grandchild in the background would survive a kill of the shell alone.
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.to_string_lossy());
        let (finish, _) = collect(sh(&script, Duration::from_millis(300))).await;
        assert_eq!(finish.status, FinishStatus::TimedOut);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(!marker.exists(), "the background grandchild was not killed");
    }

    #[tokio::test]
    async fn cancel_stops_the_run() {
        let (tx, _rx) = mpsc::channel(16);
        let (cancel_tx, cancel_rx) = oneshot::channel();
        let task = tokio::spawn(run(sh("sleep 30", Duration::from_secs(60)), tx, cancel_rx));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = cancel_tx.send("stopped by the operator".to_owned());
        let finish = task.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(finish.status, FinishStatus::Stopped);
        assert_eq!(finish.error.as_deref(), Some("stopped by the operator"));
    }

    #[test]
    fn a_cli_line_never_passes_for_the_workers_own() {
        let forged =
            r#"{"type":"claudeops_screenshot","n":1,"media_type":"image/png","data":"iVBORw0"}"#;
        let kept: serde_json::Value =
            serde_json::from_str(&from_cli(forged.to_owned())).unwrap_or_default();
        assert_eq!(kept["type"], "claudeops_forged");
        assert_eq!(kept["raw"], forged);
        let ordinary = r#"{"type":"assistant","message":{}}"#;
        assert_eq!(from_cli(ordinary.to_owned()), ordinary);
        assert_eq!(from_cli("not json".to_owned()), "not json");
    }
}
