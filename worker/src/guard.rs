//! A session's process group dies with its worker, even on `kill -9`.
//!
//! Why it exists: the CLI runs in a process group of its own, which the worker
//! kills on stop, timeout and shutdown; but a worker killed with SIGKILL (or
//! crashing) kills nothing, and the CLI went on calling the model and running
//! tools for a session already marked failed. A parent-death signal would reach
//! only the CLI itself (not the tools it started), and setting one needs unsafe
//! code. Instead, for each session the worker starts `claudeops-worker guard
//! PGID`: a small process in its own group whose stdin is a pipe only the
//! worker holds. When the worker dies the pipe closes, and the guard kills the
//! session's whole group. When a session ends normally the worker kills the
//! guard first (SIGKILL, before the pipe closes), so the group id is never
//! signalled after its processes are gone.
//!
//! What it must not do: log, read configuration, or outlive its worker.

use std::io::Read;
use std::path::Path;
use std::process::{ExitCode, Stdio};

use tokio::process::{Child, ChildStdin, Command};

/// A running guard for one session's process group.
pub struct GroupGuard {
    child: Child,
    /// Held open while the worker lives; its end-of-file is the guard's cue.
    pipe: Option<ChildStdin>,
}

impl GroupGuard {
    /// Starts `helper guard PGID`.
    pub fn start(helper: &Path, pgid: i32) -> std::io::Result<GroupGuard> {
        let mut child = Command::new(helper)
            .arg("guard")
            .arg(pgid.to_string())
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group: a Ctrl-C meant for the worker's terminal must not
            // reach it, nor a kill of the session's group.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        let pipe = child.stdin.take();
        Ok(GroupGuard { child, pipe })
    }

    /// The guard's process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        // The session ended here: stop the guard before its pipe closes, so it
        // never acts on a group that is already gone.
        let _ = self.child.start_kill();
        drop(self.pipe.take());
    }
}

/// `claudeops-worker guard PGID`: waits for end-of-file on stdin, then kills
/// the process group.
pub fn main(pgid: &str) -> ExitCode {
    let Ok(pgid) = pgid.parse::<i32>() else {
        return ExitCode::from(2);
    };
    if pgid <= 1 {
        return ExitCode::from(2);
    }
    let mut stdin = std::io::stdin();
    let mut buf = [0u8; 64];
    while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
    let group = nix::unistd::Pid::from_raw(-pgid);
    match nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
