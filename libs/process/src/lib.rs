//! The one guarded way to start a program.
//!
//! The worker starts the `claude` CLI and the deployment tools, the control plane
//! starts `apprise`; each of them must not leave anything behind. A [`Spec`]
//! names the program, its arguments (never a shell), its working directory, its
//! environment (cleared first; only what the caller lists is passed) and its
//! time limit. [`Spec::spawn`] starts it in its own process group and returns a
//! [`Guarded`] handle, which is consumed in one of two ways:
//!
//! - [`Guarded::output`]: stdin written, stdout and stderr collected (each capped
//!   to its last bytes), the exit status or [`Error::TimedOut`];
//! - [`Guarded::lines`]: stdout and stderr read line by line as they come
//!   ([`Lines::next`]), with a bounded tail of stderr kept, an explicit
//!   [`Lines::stop`], and an [`Ended`] that tells an exit from a timeout or a
//!   stop.
//!
//! Both pipes are always drained concurrently, so a chatty child cannot block on
//! one while the parent waits on the other. The whole group is killed at the time
//! limit, on stop (SIGKILL at once, or SIGTERM then SIGKILL after a grace: see
//! [`Kill`]) and, with SIGKILL, whenever the handle is dropped, so a background
//! grandchild goes with its parent. Once the leader has exited by itself and
//! its output is read, whatever it left in the group is killed too, and the
//! group id is forgotten (so a recycled id is never signalled).
//!
//! The parent-death signal (`PR_SET_PDEATHSIG`) is not set: it needs a
//! `pre_exec` hook, which is `unsafe`, and the workspace forbids unsafe code. A
//! child therefore outlives a parent that is killed with SIGKILL.
//!
//! Must not: run a shell, inherit the parent's environment unless the caller asks
//! for it by name ([`Spec::inherit_env`]), decide whether a program may run, or
//! log arguments or environment values (they may hold secrets).

mod collect;
mod lines;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, ChildStdin};
use tokio::time::Instant;

pub use collect::Output;
pub use lines::{Ended, EndedBy, LineLimits, Lines, Piped};

/// How the group is killed at the time limit or on [`Lines::stop`]. A dropped
/// handle always kills with SIGKILL: there is nobody left to wait for a grace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kill {
    /// SIGKILL to the whole group.
    Now,
    /// SIGTERM to the whole group, SIGKILL once the leader has exited or the
    /// grace has passed (whichever comes first), for whatever is left.
    Graceful(Duration),
}

/// Why a program gave no result.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{} was not found", .program.display())]
    NotFound { program: PathBuf },
    #[error("{} is not executable: {source}", .program.display())]
    PermissionDenied {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("could not start {}: {source}", .program.display())]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    /// Reading the pipes or waiting for the child failed.
    #[error("lost track of {}: {source}", .program.display())]
    Io {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("{} did not finish within {:?} and was killed", .program.display(), .limit)]
    TimedOut { program: PathBuf, limit: Duration },
}

/// What to start, and how.
#[derive(Debug, Clone)]
pub struct Spec {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    inherit_env: bool,
    dir: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    kill: Kill,
}

impl Spec {
    /// `program` with no arguments, an empty environment, the parent's working
    /// directory, no stdin, at most `timeout` from the start, killed with SIGKILL.
    pub fn new(program: impl Into<PathBuf>, timeout: Duration) -> Spec {
        Spec {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            inherit_env: false,
            dir: None,
            stdin: None,
            timeout,
            kill: Kill::Now,
        }
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn arg(&mut self, arg: impl Into<OsString>) -> &mut Spec {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Spec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds one variable to the environment (a later value for the same name wins).
    pub fn env(&mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> &mut Spec {
        let name = name.into();
        self.env.retain(|(k, _)| *k != name);
        self.env.push((name, value.into()));
        self
    }

    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Spec
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        for (name, value) in vars {
            self.env(name, value);
        }
        self
    }

    /// Starts from the parent's whole environment instead of an empty one. Only
    /// for programs configured through it (`docker` and its `DOCKER_*`).
    pub fn inherit_env(&mut self) -> &mut Spec {
        self.inherit_env = true;
        self
    }

    pub fn current_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Spec {
        self.dir = Some(dir.into());
        self
    }

    /// Bytes written to the child's stdin, which is then closed. Without it the
    /// child's stdin is `/dev/null`.
    pub fn stdin(&mut self, bytes: impl Into<Vec<u8>>) -> &mut Spec {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn kill(&mut self, kill: Kill) -> &mut Spec {
        self.kill = kill;
        self
    }

    /// Starts the program in a new process group; the time limit starts now.
    pub fn spawn(self) -> Result<Guarded, Error> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if !self.inherit_env {
            command.env_clear();
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let mut child = command.spawn().map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                program: self.program.clone(),
            },
            std::io::ErrorKind::PermissionDenied => Error::PermissionDenied {
                program: self.program.clone(),
                source,
            },
            _ => Error::Spawn {
                program: self.program.clone(),
                source,
            },
        })?;
        let group = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw);
        let stdin = child.stdin.take().zip(self.stdin);
        Ok(Guarded {
            child,
            group,
            program: self.program,
            deadline: Instant::now() + self.timeout,
            limit: self.timeout,
            kill: self.kill,
            stdin,
        })
    }
}

/// A started program. Dropping it kills its whole process group.
#[derive(Debug)]
pub struct Guarded {
    child: Child,
    /// The group id (the leader's pid), kept after the leader is reaped so the
    /// group's leftovers can still be killed.
    group: Option<Pid>,
    program: PathBuf,
    deadline: Instant,
    limit: Duration,
    kill: Kill,
    stdin: Option<(ChildStdin, Vec<u8>)>,
}

impl Guarded {
    /// The process group's id, which is also the leader's pid.
    pub fn group_id(&self) -> Option<i32> {
        self.group.map(Pid::as_raw)
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    fn signal_group(&self, signal: Signal) {
        if let Some(group) = self.group {
            // Fails harmlessly (ESRCH) when the group has already gone.
            let _ = killpg(group, signal);
        }
    }

    /// Kills the whole group the way the spec says, then SIGKILLs whatever is
    /// left of it (children that outlived the leader).
    async fn kill_group(&mut self) {
        if let Kill::Graceful(grace) = self.kill {
            self.signal_group(Signal::SIGTERM);
            let _ = tokio::time::timeout(grace, self.child.wait()).await;
        }
        self.signal_group(Signal::SIGKILL);
    }

    /// After the leader has been reaped: kills what it left in the group, and
    /// forgets the group, so a later drop cannot signal a recycled id.
    fn reap_group(&mut self) {
        self.signal_group(Signal::SIGKILL);
        self.group = None;
    }

    fn timed_out(&self) -> Error {
        Error::TimedOut {
            program: self.program.clone(),
            limit: self.limit,
        }
    }

    fn io_error(&self, source: std::io::Error) -> Error {
        Error::Io {
            program: self.program.clone(),
            source,
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // Whatever the program left running (an Ansible fork, an `ssh`, a
        // background job of the CLI) goes with it, also when the caller was
        // cancelled. The leader itself is also killed and reaped by tokio
        // (`kill_on_drop`).
        self.signal_group(Signal::SIGKILL);
    }
}
