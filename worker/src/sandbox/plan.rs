//! The mount plan of one session's sandbox, as `bwrap` arguments.
//!
//! Why an allow-list: a sandbox that starts from the host's whole filesystem
//! and hides the secrets it knows about leaks every secret it does not know
//! about. This one starts from an empty root and mounts only what a session
//! needs: the system's programs and libraries (`/usr`, `/etc`, read-only), the
//! logs (read-only), the repos (read-only), the CLI and the worker binary
//! (read-only), the session's workspace (the one writable place on disk), a
//! private `/tmp` and home (memory-backed, bounded), a `/proc` of its own
//! processes, a minimal `/dev`, and `/run/claudeops` holding the session's own
//! Docker filter and action sockets. The worker's state dir, its key, the
//! real Docker socket, `/root`, `/home` and `/var/lib` are not mounted at all.
//!
//! What it must not do: read the filesystem (the caller checks what exists),
//! or mount anything writable but the workspace and the memory-backed dirs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where the session's sockets appear inside the sandbox.
pub const RUN_DIR: &str = "/run/claudeops";
/// The Docker filter's socket inside the sandbox (`DOCKER_HOST`).
pub const DOCKER_SOCKET: &str = "/run/claudeops/docker.sock";
/// The typed actions' socket inside the sandbox.
pub const ACTIONS_SOCKET: &str = "/run/claudeops/actions.sock";
/// The session's home inside the sandbox (memory-backed, empty at start).
pub const HOME: &str = "/home/claudeops";
/// Size limit of each memory-backed directory.
const TMPFS_BYTES: u64 = 512 * 1024 * 1024;

/// Directories of the host system mounted read-only when they exist; a
/// top-level one that is a symlink on the host (merged `/usr`) is recreated as
/// the same symlink.
pub const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt",
];
/// Read-only extras a session's observer commands use, when they exist: logs,
/// the journal, and the system bus (so `systemctl status` works; what the bus
/// lets an unprivileged user do is the host's polkit policy).
pub const OPTIONAL_RO: &[&str] = &[
    "/var/log",
    "/run/log/journal",
    "/run/systemd/journal",
    "/run/dbus",
];

/// What a host path is, as far as the plan cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPath {
    Missing,
    Dir,
    /// A file, or anything else that is not a directory or a symlink.
    File,
    /// A symlink, with its target as written.
    Symlink(PathBuf),
}

/// Everything the plan needs to know about one session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session workspace (bound read-write at the same path).
    pub workspace: PathBuf,
    /// Files in the workspace the agent must not change (the CLI's settings
    /// with the hook, the MCP config): bound read-only over themselves.
    pub frozen: Vec<PathBuf>,
    /// The repos dir, bound read-only at the same path, when it exists.
    pub repos: Option<PathBuf>,
    /// Files to make available read-only at the same path: the CLI and the
    /// worker binary (hook, MCP server, privilege drop).
    pub programs: Vec<PathBuf>,
    /// The session's Docker filter socket on the host.
    pub docker_socket: Option<PathBuf>,
    /// The session's action socket on the host.
    pub actions_socket: Option<PathBuf>,
    /// Operator-named secrets (`CLAUDEOPS_PROTECTED_PATHS`) that lie inside a
    /// mounted directory (say `/etc/claudeops/env`): each is covered, a file
    /// by an empty one, a directory by an empty one.
    pub masked: Vec<PathBuf>,
}

impl Session {
    /// A session of one writable directory and these programs, with no
    /// repos, sockets or masked paths: the start-up trial's, and a browser's.
    pub fn bare(workspace: PathBuf, programs: Vec<PathBuf>) -> Session {
        Session {
            workspace,
            frozen: Vec::new(),
            repos: None,
            programs,
            docker_socket: None,
            actions_socket: None,
            masked: Vec::new(),
        }
    }
}

/// How the sandboxed program is started inside the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drop {
    /// The worker runs unprivileged: `bwrap` maps it into a user namespace and
    /// the program runs as the worker's own user.
    None,
    /// The worker runs as root: `bwrap` builds the namespace as root, then
    /// `HELPER sandbox-exec UID GID -- PROGRAM...` becomes the sandbox user
    /// (no capabilities, no supplementary groups) before the program starts.
    ToUser { helper: PathBuf, uid: u32, gid: u32 },
}

/// The `bwrap` arguments that run `program args` in the session's sandbox.
/// `probe` tells what each host path is (the real one is [`probe_host`]).
pub fn bwrap_args(
    session: &Session,
    drop: &Drop,
    program: &Path,
    args: &[OsString],
    probe: &dyn Fn(&Path) -> HostPath,
) -> Vec<OsString> {
    let mut b = Builder::default();
    b.flags(&[
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-cgroup-try",
    ]);
    for dir in SYSTEM_DIRS {
        let path = Path::new(dir);
        match probe(path) {
            HostPath::Missing | HostPath::File => {}
            HostPath::Dir => b.ro_bind(path, path),
            HostPath::Symlink(target) => b.symlink(&target, path),
        }
    }
    b.flags(&["--proc", "/proc", "--dev", "/dev"]);
    b.tmpfs("/tmp", "1777");
    b.tmpfs("/var/tmp", "1777");
    b.tmpfs("/run", "0755");
    b.symlink(Path::new("../run"), Path::new("/var/run"));
    for dir in OPTIONAL_RO {
        let path = Path::new(dir);
        if probe(path) == HostPath::Dir {
            b.ro_bind(path, path);
        }
    }
    b.tmpfs(HOME, "0777");
    if let Some(repos) = &session.repos {
        b.ro_bind(repos, repos);
    }
    for program in &session.programs {
        b.ro_bind(program, program);
    }
    if let Drop::ToUser { helper, .. } = drop
        && !session.programs.contains(helper)
    {
        b.ro_bind(helper, helper);
    }
    b.dirs(&session.workspace);
    b.push(&["--bind"]);
    b.path(&session.workspace);
    b.path(&session.workspace);
    for file in &session.frozen {
        b.ro_bind(file, file);
    }
    let mounted = |p: &Path| {
        SYSTEM_DIRS
            .iter()
            .chain(OPTIONAL_RO)
            .any(|d| p.starts_with(d))
            || session.repos.as_ref().is_some_and(|r| p.starts_with(r))
            || p.starts_with(&session.workspace)
    };
    for secret in session.masked.iter().filter(|p| mounted(p)) {
        match probe(secret) {
            HostPath::Dir => b.tmpfs_at(secret, "0000"),
            HostPath::Missing => {}
            HostPath::File | HostPath::Symlink(_) => {
                b.push(&["--ro-bind", "/dev/null"]);
                b.path(secret);
            }
        }
    }
    if session.docker_socket.is_some() || session.actions_socket.is_some() {
        b.dirs(Path::new(RUN_DIR));
    }
    if let Some(socket) = &session.docker_socket {
        b.bind(socket, Path::new(DOCKER_SOCKET));
    }
    if let Some(socket) = &session.actions_socket {
        b.bind(socket, Path::new(ACTIONS_SOCKET));
    }
    b.push(&["--chdir"]);
    b.path(&session.workspace);
    b.push(&["--"]);
    if let Drop::ToUser { helper, uid, gid } = drop {
        b.path(helper);
        b.push(&["sandbox-exec", &uid.to_string(), &gid.to_string(), "--"]);
    }
    b.path(program);
    b.args.extend(args.iter().cloned());
    b.args
}

/// What a host path is, read from the filesystem.
pub fn probe_host(path: &Path) -> HostPath {
    match std::fs::symlink_metadata(path) {
        Err(_) => HostPath::Missing,
        Ok(meta) if meta.file_type().is_symlink() => std::fs::read_link(path)
            .map(HostPath::Symlink)
            .unwrap_or(HostPath::Missing),
        Ok(meta) if meta.is_dir() => HostPath::Dir,
        Ok(_) => HostPath::File,
    }
}

#[derive(Default)]
struct Builder {
    args: Vec<OsString>,
    /// Directories already created in the sandbox's root.
    made: Vec<PathBuf>,
}

impl Builder {
    fn push(&mut self, words: &[&str]) {
        self.args.extend(words.iter().map(OsString::from));
    }

    fn flags(&mut self, words: &[&str]) {
        self.push(words);
    }

    fn path(&mut self, path: &Path) {
        self.args.push(path.as_os_str().to_owned());
    }

    /// Creates every ancestor of `path` (and `path`) as a world-readable
    /// directory: left to itself, `bwrap` running as root makes them 0700,
    /// which the sandbox user cannot cross.
    fn dirs(&mut self, path: &Path) {
        let mut chain: Vec<&Path> = path.ancestors().filter(|p| p.parent().is_some()).collect();
        chain.reverse();
        for dir in chain {
            if self.made.iter().any(|m| m == dir) {
                continue;
            }
            self.made.push(dir.to_path_buf());
            self.push(&["--perms", "0755", "--dir"]);
            self.path(dir);
        }
    }

    fn parents(&mut self, path: &Path) {
        if let Some(parent) = path.parent() {
            self.dirs(parent);
        }
    }

    fn ro_bind(&mut self, source: &Path, target: &Path) {
        self.parents(target);
        self.push(&["--ro-bind"]);
        self.path(source);
        self.path(target);
    }

    fn bind(&mut self, source: &Path, target: &Path) {
        self.parents(target);
        self.push(&["--bind"]);
        self.path(source);
        self.path(target);
    }

    fn symlink(&mut self, target: &Path, link: &Path) {
        self.parents(link);
        self.push(&["--symlink"]);
        self.path(target);
        self.path(link);
    }

    fn tmpfs(&mut self, at: &str, perms: &str) {
        self.tmpfs_at(Path::new(at), perms);
    }

    fn tmpfs_at(&mut self, path: &Path, perms: &str) {
        self.parents(path);
        self.made.push(path.to_path_buf());
        self.push(&[
            "--perms",
            perms,
            "--size",
            &TMPFS_BYTES.to_string(),
            "--tmpfs",
        ]);
        self.path(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            workspace: "/var/lib/claudeops/sessions/7".into(),
            frozen: vec!["/var/lib/claudeops/sessions/7/settings.json".into()],
            repos: Some("/srv/repos".into()),
            programs: vec![
                "/opt/claude/claude".into(),
                "/usr/local/bin/claudeops-worker".into(),
            ],
            docker_socket: Some("/var/lib/claudeops/run/7/docker.sock".into()),
            actions_socket: Some("/var/lib/claudeops/run/7/actions.sock".into()),
            masked: vec!["/etc/claudeops/env".into(), "/etc/claudeops-secrets".into()],
        }
    }

    fn merged_usr(path: &Path) -> HostPath {
        match path.to_str() {
            Some("/bin") => HostPath::Symlink("usr/bin".into()),
            Some("/lib") => HostPath::Symlink("usr/lib".into()),
            Some("/usr" | "/etc" | "/var/log" | "/etc/claudeops-secrets") => HostPath::Dir,
            Some("/etc/claudeops/env") => HostPath::File,
            _ => HostPath::Missing,
        }
    }

    fn words(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    /// The index of `seq` as consecutive words in `args`.
    fn find(args: &[String], seq: &[&str]) -> Option<usize> {
        args.windows(seq.len())
            .position(|w| w.iter().zip(seq).all(|(a, b)| a == b))
    }

    #[test]
    fn mounts_only_what_a_session_needs() {
        let drop = Drop::ToUser {
            helper: "/usr/local/bin/claudeops-worker".into(),
            uid: 64400,
            gid: 64400,
        };
        let args = words(&bwrap_args(
            &session(),
            &drop,
            Path::new("/opt/claude/claude"),
            &["-p".into(), "hello".into()],
            &merged_usr,
        ));
        assert!(find(&args, &["--ro-bind", "/usr", "/usr"]).is_some());
        assert!(find(&args, &["--symlink", "usr/bin", "/bin"]).is_some());
        assert!(find(&args, &["--ro-bind", "/srv/repos", "/srv/repos"]).is_some());
        assert!(find(&args, &["--ro-bind", "/var/log", "/var/log"]).is_some());
        let ws = "/var/lib/claudeops/sessions/7";
        let rw = find(&args, &["--bind", ws, ws]).unwrap_or_else(|| panic!("{args:?}"));
        let settings = "/var/lib/claudeops/sessions/7/settings.json";
        let frozen =
            find(&args, &["--ro-bind", settings, settings]).unwrap_or_else(|| panic!("{args:?}"));
        assert!(frozen > rw, "the frozen files are bound over the workspace");
        assert!(
            find(
                &args,
                &[
                    "--bind",
                    "/var/lib/claudeops/run/7/docker.sock",
                    DOCKER_SOCKET
                ]
            )
            .is_some()
        );
        // Operator-named secrets inside a mounted directory are covered.
        assert!(find(&args, &["--ro-bind", "/dev/null", "/etc/claudeops/env"]).is_some());
        assert!(find(&args, &["--tmpfs", "/etc/claudeops-secrets"]).is_some());
        // Nothing of the state dir but the workspace; never the host's root.
        for (i, w) in args.iter().enumerate() {
            if w == "--bind" || w == "--ro-bind" {
                let source = &args[i + 1];
                assert_ne!(source, "/", "the host root is never mounted");
                assert!(
                    !source.starts_with("/var/lib/claudeops")
                        || source.starts_with(ws)
                        || source.starts_with("/var/lib/claudeops/run/7/"),
                    "{source} mounted"
                );
            }
        }
        let sep = find(&args, &["--"]).unwrap_or_else(|| panic!("{args:?}"));
        assert_eq!(
            &args[sep..],
            &[
                "--",
                "/usr/local/bin/claudeops-worker",
                "sandbox-exec",
                "64400",
                "64400",
                "--",
                "/opt/claude/claude",
                "-p",
                "hello"
            ]
        );
        // Every ancestor of a bind target is made crossable before it is used.
        let made = find(
            &args,
            &["--perms", "0755", "--dir", "/var/lib/claudeops/sessions"],
        );
        assert!(made.is_some_and(|m| m < rw), "{args:?}");
    }

    #[test]
    fn an_unprivileged_worker_runs_the_program_directly() {
        let args = words(&bwrap_args(
            &session(),
            &Drop::None,
            Path::new("/opt/claude/claude"),
            &[],
            &merged_usr,
        ));
        assert_eq!(args.last().map(String::as_str), Some("/opt/claude/claude"));
        assert!(!args.iter().any(|a| a == "sandbox-exec"));
    }
}
