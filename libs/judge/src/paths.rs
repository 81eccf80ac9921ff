//! Where a path argument points, and which places are special.
//!
//! Why it exists: "never write into the repos dir", "never change secrets or
//! network configuration" and "never delete data volumes" are rules about
//! paths. A path is resolved against every working directory the command may
//! be in (`cd` inside the same line counts), with `$CLAUDEOPS_REPOS_DIR` and
//! `..` segments resolved.
//! What it must not do: touch the file system (no symlink resolution, no
//! `$HOME` lookup). A path it cannot resolve is never treated as safe.

use std::cell::Cell;

use crate::ast::{Word, WordPart};
use crate::opts::listed;
use crate::vocab::Category;
use crate::vocab::Context;

/// What the judge knows while classifying one command.
pub(crate) struct Env<'a> {
    pub ctx: &'a Context,
    /// The repos dir, normalised.
    pub repos: String,
    /// Every working directory the command may run in; `None` is unknown.
    pub cwds: Vec<Option<String>>,
    /// Steps left for checking words against protected paths (`reach`).
    pub budget: Cell<usize>,
    /// Variables whose every value in the line is a word that cannot start
    /// with `-` (`for f in /var/log/*.log`): `"$f"` is then no option.
    pub safe_vars: Vec<String>,
}

/// Steps one judge call may spend checking words against protected paths;
/// past it a word is refused.
pub(crate) const REACH_BUDGET: usize = 4_000_000;

impl<'a> Env<'a> {
    pub(crate) fn new(ctx: &'a Context, cwds: Vec<Option<String>>) -> Env<'a> {
        Env::with_budget(ctx, cwds, REACH_BUDGET)
    }

    /// An `Env` with `budget` steps left for path checks.
    pub(crate) fn with_budget(
        ctx: &'a Context,
        cwds: Vec<Option<String>>,
        budget: usize,
    ) -> Env<'a> {
        let repos = if ctx.repos_dir.starts_with('/') {
            normalize(&ctx.repos_dir)
        } else {
            "/".to_owned()
        };
        Env {
            ctx,
            repos,
            cwds,
            budget: Cell::new(budget),
            safe_vars: Vec::new(),
        }
    }

    /// Whether the word is one variable that cannot expand to an option: set
    /// in the line to a plain word, or one of the directories the session's
    /// environment names (absolute paths).
    pub(crate) fn is_safe_word(&self, word: &Word) -> bool {
        const DIRS: &str = "CLAUDEOPS_REPOS_DIR CLAUDEOPS_WORKSPACE HOME PWD OLDPWD TMPDIR";
        match word.parts.as_slice() {
            [WordPart::Param { name, .. }] => {
                listed(DIRS, name) || self.safe_vars.iter().any(|v| v == name)
            }
            _ => false,
        }
    }

    pub(crate) fn in_repos(&self, path: &str) -> bool {
        inside(path, &self.repos)
    }

    pub(crate) fn repos_rule(&self) -> String {
        format!("writing inside the repos dir {}", self.repos)
    }
}

pub(crate) const SECRETS: &str = "changing passwords or secrets";
pub(crate) const NETWORK: &str = "changing network configuration";
pub(crate) const DEVICE: &str = "writing to a disk device";
pub(crate) const VOLUMES: &str = "deleting data volumes";
pub(crate) const ROOT_DELETE: &str = "deleting the root filesystem or a top-level directory";

/// A path after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// The full absolute path.
    Known(String),
    /// The absolute path starts with this; the rest is known only at run time.
    Prefix(String),
    Unknown,
}

/// `.` and `..` resolved, `//` collapsed, no trailing slash. Relative input is
/// treated as relative to `/`.
pub(crate) fn normalize(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    format!("/{}", segments.join("/"))
}

/// Whether `path` is `dir` or below it (both normalised).
pub(crate) fn inside(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The text of a path word, with `$CLAUDEOPS_REPOS_DIR` filled in; the bool is
/// false when only a prefix is known.
fn path_text(word: &Word, ctx: &Context) -> (String, bool) {
    let mut out = String::new();
    for (i, part) in word.parts.iter().enumerate() {
        match part {
            WordPart::Lit { text, quoted: true } => out.push_str(text),
            WordPart::Lit {
                text,
                quoted: false,
            } => {
                if i == 0 && text.starts_with('~') {
                    return (out, false);
                }
                let stop = text.find(['*', '?', '[', '{']).unwrap_or(text.len());
                out.push_str(&text[..stop]);
                if stop < text.len() {
                    return (out, false);
                }
            }
            WordPart::Param { name, .. } if name == "CLAUDEOPS_REPOS_DIR" => {
                out.push_str(&ctx.repos_dir)
            }
            _ => return (out, false),
        }
    }
    (out, true)
}

/// Every place the word may point to, one per possible working directory.
pub(crate) fn resolve(word: &Word, env: &Env) -> Vec<Resolved> {
    let (text, complete) = path_text(word, env.ctx);
    let make = |abs: String| {
        if complete {
            Resolved::Known(normalize(&abs))
        } else {
            Resolved::Prefix(normalize_prefix(&abs))
        }
    };
    if text.starts_with('/') {
        return vec![make(text)];
    }
    if text.is_empty() && !complete {
        return vec![Resolved::Unknown];
    }
    env.cwds
        .iter()
        .map(|cwd| match cwd {
            Some(dir) => make(format!("{dir}/{text}")),
            None => Resolved::Unknown,
        })
        .collect()
}

/// Normalises the complete segments of a prefix and keeps the partial last one.
fn normalize_prefix(prefix: &str) -> String {
    match prefix.rfind('/') {
        Some(i) => {
            let dir = normalize(&prefix[..i]);
            let rest = &prefix[i + 1..];
            if dir == "/" {
                format!("/{rest}")
            } else {
                format!("{dir}/{rest}")
            }
        }
        None => prefix.to_owned(),
    }
}

/// Places whose writes go nowhere or to the terminal.
pub(crate) fn is_sink(path: &str) -> bool {
    matches!(
        path,
        "/dev/null" | "/dev/stdout" | "/dev/stderr" | "/dev/tty" | "/dev/fd/1" | "/dev/fd/2"
    )
}

const SECRET_SUFFIXES: &str = ".env .key .pem .p12 .pfx .jks .kdbx .keystore .secret .secrets";
const SECRET_NAMES: &str = ".env secrets secret credentials .htpasswd htpasswd shadow gshadow passwd .netrc .pgpass authorized_keys .git-credentials .my.cnf";
const SECRET_PREFIXES: &str =
    ".env. secrets. secret. credentials. id_rsa id_ed25519 id_ecdsa id_dsa";

/// Files named like secrets, keys or password databases.
pub(crate) fn is_secret(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let mut segments = lower.split('/').filter(|s| !s.is_empty());
    if lower.split('/').any(|s| s == "secrets" || s == ".ssh") {
        return true;
    }
    let Some(name) = segments.next_back() else {
        return false;
    };
    listed(SECRET_NAMES, name)
        || SECRET_SUFFIXES
            .split_whitespace()
            .any(|s| name.ends_with(s))
        || SECRET_PREFIXES
            .split_whitespace()
            .any(|p| name.starts_with(p))
}

const NETWORK_FILES: &str = "/etc/hosts /etc/resolv.conf /etc/nftables.conf /etc/dhcpcd.conf /etc/systemd/resolved.conf /etc/iproute2";
const NETWORK_DIRS: &str = "/etc/network /etc/netplan /etc/systemd/network /etc/NetworkManager /etc/sysconfig/network-scripts /etc/iptables /etc/ufw /etc/firewalld /etc/wpa_supplicant";

pub(crate) fn is_network_config(path: &str) -> bool {
    NETWORK_FILES
        .split_whitespace()
        .chain(NETWORK_DIRS.split_whitespace())
        .any(|d| inside(path, d))
}

const DEVICE_PREFIXES: &str =
    "sd hd vd xvd nvme mmcblk md dm- loop nbd sr mapper/ disk/ mem kmem port zram";

pub(crate) fn is_device(path: &str) -> bool {
    path.strip_prefix("/dev/").is_some_and(|name| {
        DEVICE_PREFIXES
            .split_whitespace()
            .any(|p| name.starts_with(p))
    })
}

const DATA_DIRS: &str = "/var/lib/docker /var/lib/containerd /var/lib/postgresql /var/lib/mysql /var/lib/redis /var/lib/kubelet /var/lib/rancher /var/lib/longhorn /var/lib/influxdb /var/lib/prometheus";

pub(crate) fn is_data_dir(path: &str) -> bool {
    DATA_DIRS.split_whitespace().any(|d| inside(path, d))
}

/// Files and directories that decide who can log in or use sudo.
pub(crate) fn is_account_file(path: &str) -> bool {
    let exact = "/etc/shadow /etc/gshadow /etc/passwd /etc/group /etc/sudoers";
    listed(exact, path) || inside(path, "/etc/sudoers.d") || path.split('/').any(|s| s == ".ssh")
}

/// `/` or a directory directly below it.
pub(crate) fn is_top_level(path: &str) -> bool {
    path.matches('/').count() <= 1
}

/// Whether a write is a deletion (then data directories are volumes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Write,
    Delete,
}

/// The category of writing to (or deleting) the path in `word`; `None` when
/// the write goes nowhere (`/dev/null`).
pub(crate) fn write_target(word: &Word, env: &Env, verb: &str, action: Action) -> Option<Category> {
    if let Some(text) = word.literal() {
        if is_sink(&text) {
            return None;
        }
        if is_secret(&text) {
            return Some(Category::never(SECRETS));
        }
    }
    for place in resolve(word, env) {
        let (path, known) = match place {
            Resolved::Known(p) => (p, true),
            Resolved::Prefix(p) => (p, false),
            Resolved::Unknown => continue,
        };
        if known && is_sink(&path) {
            return None;
        }
        if env.in_repos(&path) {
            return Some(Category::Never {
                reason: env.repos_rule(),
            });
        }
        if known && is_secret(&path) {
            return Some(Category::never(SECRETS));
        }
        if is_network_config(&path) {
            return Some(Category::never(NETWORK));
        }
        if is_device(&path) {
            return Some(Category::never(DEVICE));
        }
        if action == Action::Delete && is_data_dir(&path) {
            return Some(Category::never(VOLUMES));
        }
    }
    Some(Category::write(format!("{verb} `{}`", word.raw)))
}

/// Every known absolute path for the word, or `None` if any possibility is
/// not fully known.
pub(crate) fn known_paths(word: &Word, env: &Env) -> Option<Vec<String>> {
    resolve(word, env)
        .into_iter()
        .map(|r| match r {
            Resolved::Known(p) => Some(p),
            _ => None,
        })
        .collect()
}
