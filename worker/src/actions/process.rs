//! The one way the actions run a program, on top of the guarded child process
//! of `claudeops-process`: explicit arguments (never a shell), no stdin, stdout
//! and stderr drained together, a time limit, the program's own process group
//! (killed whole when the limit passes or the caller goes away), and, for the
//! deployment tools, an allow-listed environment.
//!
//! Nothing here decides whether a program may run; that is `super::run_action`'s
//! job. Errors are typed so a caller can tell "not installed" (escalate, nothing
//! spent) from a program that ran and failed.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use claudeops_process::{self as process, Spec};

/// Variables passed through from the worker's own environment to a deployment
/// tool (when set); everything else is dropped.
pub const BASE_ENV: &[&str] = &["PATH", "HOME", "USER", "LOGNAME", "TZ", "SSH_AUTH_SOCK"];

/// The environment a program starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Env {
    /// The worker's own (for `docker`, which needs its `DOCKER_*` settings).
    Inherit,
    /// Exactly these variables and nothing else.
    Only(Vec<(OsString, OsString)>),
}

impl Env {
    /// [`BASE_ENV`] plus the variables named in `extra`, as far as they are set
    /// in the worker's environment, plus a UTF-8 locale (Ansible refuses any
    /// other), plus `set` (which wins).
    pub fn allow_listed(extra: &[&str], set: &[(&str, &OsStr)]) -> Env {
        let mut vars: Vec<(OsString, OsString)> = BASE_ENV
            .iter()
            .chain(extra)
            .filter_map(|name| std::env::var_os(name).map(|v| (OsString::from(name), v)))
            .collect();
        vars.push(("LANG".into(), "C.UTF-8".into()));
        vars.push(("LC_ALL".into(), "C.UTF-8".into()));
        for (name, value) in set {
            vars.retain(|(k, _)| k != name);
            vars.push((OsString::from(name), (*value).to_owned()));
        }
        Env::Only(vars)
    }
}

/// Why a program did not give an output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The program is not installed (not found on `PATH` or at its path).
    #[error("{} is not installed on this host ({} was not found)", name(.0), .0.display())]
    Missing(PathBuf),
    #[error("cannot run {}: {}", .0.display(), .1)]
    Start(PathBuf, String),
    #[error("{} did not finish within {} s and was stopped", .0.display(), .1)]
    TimedOut(PathBuf, u64),
}

/// A program's bare name, for messages.
pub fn name(program: &Path) -> String {
    program.file_name().map_or_else(
        || program.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// How much of each of stdout and stderr is kept (the last bytes): far more than
/// any listing or recap the actions read, and a bound on a runaway program.
const OUTPUT_CAP: usize = 16 << 20;

/// Runs `program ARGS` in `dir` (when given) with `env`, through
/// [`claudeops_process`]: its own process group, killed whole past `limit` or
/// when the caller goes away (whatever the program left running, an Ansible
/// fork or an `ssh`, goes with it).
pub async fn run(
    program: &Path,
    args: &[OsString],
    dir: Option<&Path>,
    env: &Env,
    limit: Duration,
) -> Result<Output, RunError> {
    let mut spec = Spec::new(program, limit);
    spec.args(args.iter().cloned());
    if let Some(dir) = dir {
        spec.current_dir(dir);
    }
    match env {
        Env::Inherit => {
            spec.inherit_env();
        }
        Env::Only(vars) => {
            spec.envs(vars.iter().cloned());
        }
    }
    let done = match spec.spawn() {
        Ok(guarded) => guarded.output(OUTPUT_CAP).await,
        Err(error) => Err(error),
    };
    match done {
        Ok(out) => Ok(Output {
            status: out.status,
            stdout: out.stdout,
            stderr: out.stderr,
        }),
        Err(process::Error::NotFound { .. }) => Err(RunError::Missing(program.to_owned())),
        Err(process::Error::TimedOut { .. }) => {
            Err(RunError::TimedOut(program.to_owned(), limit.as_secs()))
        }
        Err(
            process::Error::PermissionDenied { source, .. }
            | process::Error::Spawn { source, .. }
            | process::Error::Io { source, .. },
        ) => Err(RunError::Start(program.to_owned(), source.to_string())),
    }
}

/// Arguments from string slices.
pub fn args(words: &[&str]) -> Vec<OsString> {
    words.iter().map(OsString::from).collect()
}

/// A command as a person would type it: the program's name and the arguments,
/// each quoted when it holds anything but plain characters.
pub fn command_line(program: &Path, args: &[OsString]) -> String {
    std::iter::once(name(program))
        .chain(args.iter().map(|a| quote(&a.to_string_lossy())))
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@^$".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A private directory (mode 0700) under the system temp dir, removed with
/// everything in it when dropped: where a deployment tool keeps its scratch
/// files, since the repo it reads is mounted read-only.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    pub fn new(prefix: &str) -> std::io::Result<ScratchDir> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let mut last = None;
        for _ in 0..8 {
            let path = base.join(format!(
                "{prefix}-{}-{:016x}",
                std::process::id(),
                rand::random::<u64>()
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(ScratchDir { path }),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    last = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free name")))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A subdirectory, made on first use.
    pub fn sub(&self, name: &str) -> std::io::Result<PathBuf> {
        let path = self.path.join(name);
        std::fs::create_dir_all(&path)?;
        Ok(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_commands_quoted_only_where_needed() {
        let args: Vec<OsString> = ["-i", "inventory", "a b.yml", "--limit", "web,db", "it's"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(
            command_line(Path::new("/usr/bin/ansible-playbook"), &args),
            r"ansible-playbook -i inventory 'a b.yml' --limit web,db 'it'\''s'"
        );
    }

    #[test]
    fn allow_lists_the_environment() {
        let Env::Only(vars) = Env::allow_listed(&[], &[("LC_ALL", OsStr::new("C"))]) else {
            panic!("an allow-listed environment");
        };
        let names: Vec<String> = vars
            .iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        for name in &names {
            assert!(
                BASE_ENV.contains(&name.as_str()) || name == "LANG" || name == "LC_ALL",
                "{name} must not be passed"
            );
        }
        let lc_all: Vec<_> = vars.iter().filter(|(k, _)| k == "LC_ALL").collect();
        assert_eq!(lc_all.len(), 1);
        assert_eq!(lc_all[0].1, "C");
    }

    #[tokio::test]
    async fn runs_kills_and_reports_missing_programs() {
        let env = Env::allow_listed(&[], &[("MARK", OsStr::new("x"))]);
        let out = run(
            Path::new("sh"),
            &["-c".into(), "printf %s \"$MARK$CARGO\"".into()],
            None,
            &env,
            Duration::from_secs(10),
        )
        .await;
        let out = out.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "x",
            "CARGO is dropped"
        );

        let slow = run(
            Path::new("sleep"),
            &["30".into()],
            None,
            &Env::Inherit,
            Duration::from_millis(200),
        )
        .await;
        assert_eq!(slow, Err(RunError::TimedOut(PathBuf::from("sleep"), 0)));

        let missing = run(
            Path::new("/nonexistent/helm"),
            &[],
            None,
            &Env::Inherit,
            Duration::from_secs(1),
        )
        .await;
        let error = missing.err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            error,
            "helm is not installed on this host (/nonexistent/helm was not found)"
        );
    }

    #[test]
    fn scratch_dirs_are_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let scratch = ScratchDir::new("claudeops-test").unwrap_or_else(|e| panic!("{e}"));
        let path = scratch.path().to_owned();
        let mode = std::fs::metadata(&path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_default();
        assert_eq!(mode, 0o700);
        let sub = scratch.sub("tmp").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(sub.join("f"), "x").unwrap_or_else(|e| panic!("{e}"));
        drop(scratch);
        assert!(!path.exists());
    }
}
