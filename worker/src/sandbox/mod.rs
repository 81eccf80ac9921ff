//! Each session's CLI, and everything it starts, runs in a sandbox the
//! operating system enforces (see `docs/security.md`).
//!
//! Why it exists: the PreToolUse judge reads Bash text, and a text judge of a
//! full shell cannot be made airtight. The judge stays as the fast first
//! answer; the guarantee is here: a mount namespace with a read-only system,
//! no state dir, no secrets and no real Docker socket ([`plan`]), a PID
//! namespace, and, when the worker runs as root, an unprivileged user of the
//! sandbox's own with no capabilities and `no_new_privs` set.
//!
//! The mechanism is bubblewrap (`bwrap`), chosen in `docs/decisions/0005`.
//! [`Sandbox::detect`] tries it once at start; `CLAUDEOPS_SANDBOX=auto` (the
//! default) uses it when it works and otherwise refuses LLM sessions, saying
//! why; `off` must be set explicitly and shows on the dashboard.
//!
//! What it must not do: run a session unsandboxed because the sandbox failed
//! (only `off` does that), or hand the sandbox a path of the state dir other
//! than the session's own workspace and sockets.

pub mod plan;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::{Deserialize, Serialize};

pub use plan::{Drop, HostPath, Session};

/// `CLAUDEOPS_SANDBOX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    /// Use bubblewrap when it works here; otherwise refuse LLM sessions.
    #[default]
    Auto,
    /// Require bubblewrap: the same as `auto`, named for clarity.
    Bwrap,
    /// No sandbox: sessions run with the worker's own view of the host.
    Off,
}

/// The uid the sandbox runs as when `CLAUDEOPS_SANDBOX_USER` is not set: one
/// no account of a Debian or Alpine system uses.
pub const DEFAULT_UID: u32 = 64400;

/// What this worker can do, found once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sandbox {
    /// Sessions run in bubblewrap.
    Bwrap { bwrap: PathBuf, drop: Drop },
    /// The operator turned the sandbox off.
    Off,
    /// No sandbox works here: LLM sessions are refused, with this reason.
    Unavailable(String),
}

impl Sandbox {
    /// Tries bubblewrap with the same kind of namespace a session gets.
    /// `helper` is the worker binary (the privilege drop runs through it).
    pub fn detect(mode: SandboxMode, bwrap: &Path, user: Option<&str>, helper: &Path) -> Sandbox {
        if mode == SandboxMode::Off {
            return Sandbox::Off;
        }
        let drop = if is_root() {
            match resolve_user(user) {
                Ok((uid, gid)) => Drop::ToUser {
                    helper: helper.to_path_buf(),
                    uid,
                    gid,
                },
                Err(reason) => return Sandbox::Unavailable(reason),
            }
        } else {
            Drop::None
        };
        let session = Session::bare(std::env::temp_dir(), vec![helper.to_path_buf()]);
        // The helper's `sandbox-exec` runs `true`'s stand-in: the helper itself
        // with `--version`, which exists inside (it is bound) and says little.
        let args = plan::bwrap_args(
            &session,
            &drop,
            helper,
            &[OsString::from("--version")],
            &plan::probe_host,
        );
        let trial = std::process::Command::new(bwrap)
            .args(&args)
            .env_clear()
            .stdin(std::process::Stdio::null())
            .output();
        match trial {
            Ok(out) if out.status.success() => Sandbox::Bwrap {
                bwrap: bwrap.to_path_buf(),
                drop,
            },
            Ok(out) => Sandbox::Unavailable(format!(
                "bubblewrap ({}) could not build a session sandbox here: {}{}",
                bwrap.display(),
                String::from_utf8_lossy(&out.stderr).trim(),
                container_hint()
            )),
            Err(error) => Sandbox::Unavailable(format!(
                "bubblewrap ({}) cannot be run: {error}; install the `bubblewrap` package, or set CLAUDEOPS_SANDBOX=off to run sessions unsandboxed",
                bwrap.display()
            )),
        }
    }

    /// A short word for the dashboard and the hello: `bwrap`, `off`, `unavailable`.
    pub fn kind(&self) -> &'static str {
        match self {
            Sandbox::Bwrap { .. } => "bwrap",
            Sandbox::Off => "off",
            Sandbox::Unavailable(_) => "unavailable",
        }
    }

    /// One sentence saying what the sandbox is.
    pub fn detail(&self) -> String {
        match self {
            Sandbox::Bwrap {
                drop: Drop::ToUser { uid, gid, .. },
                ..
            } => format!("bubblewrap; sessions run as uid {uid} gid {gid}"),
            Sandbox::Bwrap {
                drop: Drop::None, ..
            } => "bubblewrap in a user namespace; sessions run as the worker's own user".to_owned(),
            Sandbox::Off => "CLAUDEOPS_SANDBOX=off: sessions run unsandboxed".to_owned(),
            Sandbox::Unavailable(reason) => reason.clone(),
        }
    }

    /// The uid and gid that must own what the sandbox writes to (the
    /// workspace, its sockets); `None` when they need no change of owner.
    pub fn owner(&self) -> Option<(u32, u32)> {
        match self {
            Sandbox::Bwrap {
                drop: Drop::ToUser { uid, gid, .. },
                ..
            } => Some((*uid, *gid)),
            _ => None,
        }
    }

    /// Wraps `program args` for `session`; `None` when the sandbox is off.
    pub fn wrap(
        &self,
        session: &Session,
        program: &Path,
        args: &[OsString],
    ) -> Option<(PathBuf, Vec<OsString>)> {
        match self {
            Sandbox::Bwrap { bwrap, drop } => Some((
                bwrap.clone(),
                plan::bwrap_args(session, drop, program, args, &plan::probe_host),
            )),
            Sandbox::Off | Sandbox::Unavailable(_) => None,
        }
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn container_hint() -> &'static str {
    if Path::new("/.dockerenv").exists() {
        "; in a container, the worker needs `cap_add: [SYS_ADMIN]` and `security_opt: [seccomp=unconfined, apparmor=unconfined]` (see docs/security.md)"
    } else {
        ""
    }
}

/// `CLAUDEOPS_SANDBOX_USER`: a user name from `/etc/passwd`, or `UID[:GID]`;
/// unset means [`DEFAULT_UID`]. Root is refused.
pub fn resolve_user(user: Option<&str>) -> Result<(u32, u32), String> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    parse_user(user, &passwd)
}

fn parse_user(user: Option<&str>, passwd: &str) -> Result<(u32, u32), String> {
    let ids = match user.map(str::trim).filter(|u| !u.is_empty()) {
        None => (DEFAULT_UID, DEFAULT_UID),
        Some(spec) if spec.starts_with(|c: char| c.is_ascii_digit()) => {
            let (uid, gid) = spec.split_once(':').unwrap_or((spec, spec));
            let num = |s: &str| {
                s.parse::<u32>().map_err(|_| {
                    format!("CLAUDEOPS_SANDBOX_USER={spec}: expected a user name or UID[:GID]")
                })
            };
            (num(uid)?, num(gid)?)
        }
        Some(name) => passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 3 && f[0] == name)
            .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .ok_or_else(|| format!("CLAUDEOPS_SANDBOX_USER={name}: no such user in /etc/passwd"))?,
    };
    if ids.0 == 0 || ids.1 == 0 {
        return Err("CLAUDEOPS_SANDBOX_USER must not be root (uid or gid 0)".to_owned());
    }
    Ok(ids)
}

/// Gives `path` (and, for a directory, everything in it but `keep`) to the
/// sandbox's user, so the session can write its workspace.
pub fn give(path: &Path, owner: (u32, u32), keep: &[PathBuf]) -> std::io::Result<()> {
    if keep.iter().any(|k| k == path) {
        return Ok(());
    }
    std::os::unix::fs::lchown(path, Some(owner.0), Some(owner.1))?;
    if std::fs::symlink_metadata(path)?.is_dir() {
        for entry in std::fs::read_dir(path)? {
            give(&entry?.path(), owner, keep)?;
        }
    }
    Ok(())
}

/// `claudeops-worker sandbox-exec UID GID -- PROGRAM ARGS...`, run by bwrap
/// as root inside the namespace: becomes UID/GID (dropping every capability
/// and supplementary group) and executes PROGRAM. Never returns on success.
pub fn exec_main(args: &[OsString]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let usage = || {
        eprintln!("usage: claudeops-worker sandbox-exec UID GID -- PROGRAM [ARGS...]");
        ExitCode::from(2)
    };
    let [uid, gid, sep, program, rest @ ..] = args else {
        return usage();
    };
    let (Some(uid), Some(gid)) = (
        uid.to_str().and_then(|u| u.parse::<u32>().ok()),
        gid.to_str().and_then(|g| g.parse::<u32>().ok()),
    ) else {
        return usage();
    };
    if sep != "--" || uid == 0 || gid == 0 {
        return usage();
    }
    // `uid()` after `gid()`; as root, std also clears the supplementary groups.
    let error = std::process::Command::new(program)
        .args(rest)
        .gid(gid)
        .uid(uid)
        .exec();
    eprintln!("claudeops-worker sandbox-exec: cannot start {program:?}: {error}");
    ExitCode::from(126)
}

/// The hidden subcommand's name.
pub const EXEC_SUBCOMMAND: &str = "sandbox-exec";

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nops:x:1001:1002::/home/ops:/bin/sh\n";

    #[test]
    fn the_sandbox_user_is_a_name_or_ids_never_root() {
        assert_eq!(parse_user(None, PASSWD), Ok((DEFAULT_UID, DEFAULT_UID)));
        assert_eq!(parse_user(Some("ops"), PASSWD), Ok((1001, 1002)));
        assert_eq!(parse_user(Some("5000"), PASSWD), Ok((5000, 5000)));
        assert_eq!(parse_user(Some("5000:6000"), PASSWD), Ok((5000, 6000)));
        assert!(parse_user(Some("root"), PASSWD).is_err_and(|e| e.contains("root")));
        assert!(parse_user(Some("0"), PASSWD).is_err());
        assert!(parse_user(Some("nobody-here"), PASSWD).is_err_and(|e| e.contains("no such user")));
        assert!(parse_user(Some("12x"), PASSWD).is_err_and(|e| e.contains("UID[:GID]")));
    }
}
