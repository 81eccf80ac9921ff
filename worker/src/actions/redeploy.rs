//! Redeploying a service through its repo's own automation: which repo deploys
//! it, how (Compose, Ansible or Helm), and the one plan that is then run.
//!
//! A plan is fully resolved before anything is reserved or run, with read-only
//! look-ups only (`compose config`, `ansible-inventory --list`,
//! `ansible-playbook --list-hosts`, `helm list`), so a typo or a missing tool
//! never spends a cooldown slot and a dry run can show the exact command. The
//! rules each method uses to find what to run are in its own module: `compose`,
//! `ansible`, `helm`. A repo is named by a validated directory name under the
//! repos dir, never by a path, and is only read.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::docker::{Checked, Docker, failure};
use super::process::{self, Env, RunError};
use super::{ansible, compose, helm, valid_name};

/// Time limit of a redeployment itself (below the MCP call's 15 minutes, with
/// room to verify).
pub const DEPLOY_LIMIT: Duration = Duration::from_secs(12 * 60);
/// Time limit of a read-only look-up (listing services, hosts, releases).
pub const LOOKUP_LIMIT: Duration = Duration::from_secs(60);

/// The programs the redeployment methods run. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Programs {
    pub docker: Docker,
    pub ansible_playbook: PathBuf,
    pub ansible_inventory: PathBuf,
    pub helm: PathBuf,
}

impl Default for Programs {
    fn default() -> Programs {
        Programs::with_docker(Docker::default())
    }
}

impl Programs {
    /// `docker` as given; Ansible and Helm by their names on `PATH`.
    pub fn with_docker(docker: Docker) -> Programs {
        Programs {
            docker,
            ansible_playbook: PathBuf::from("ansible-playbook"),
            ansible_inventory: PathBuf::from("ansible-inventory"),
            helm: PathBuf::from("helm"),
        }
    }
}

/// How a repo deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// A compose file at the root.
    Compose(PathBuf),
    /// Ansible: the directory holding its configuration, inventory and
    /// playbooks (the repo itself, or its `ansible/` folder).
    Ansible(PathBuf),
    /// One or more Helm charts (the first marker found).
    Helm(PathBuf),
    /// Nothing this worker recognises.
    Unknown,
}

impl Method {
    pub fn label(&self) -> &'static str {
        match self {
            Method::Compose(_) => "Compose",
            Method::Ansible(_) => "Ansible",
            Method::Helm(_) => "Helm",
            Method::Unknown => "no known method",
        }
    }
}

/// Files and folders that mark a directory as an Ansible one.
const ANSIBLE_MARKERS: [&str; 6] = [
    "ansible.cfg",
    "site.yml",
    "site.yaml",
    "playbook.yml",
    "playbook.yaml",
    "playbooks",
];

/// Tells how the repo at `dir` deploys. When several are present, Compose wins,
/// then Ansible, then Helm.
pub fn method(dir: &Path) -> Method {
    if let Some(file) = compose::COMPOSE_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
    {
        return Method::Compose(file);
    }
    if ANSIBLE_MARKERS.iter().any(|m| dir.join(m).exists()) {
        return Method::Ansible(dir.to_owned());
    }
    if dir.join("ansible").is_dir() {
        return Method::Ansible(dir.join("ansible"));
    }
    let helm = ["Chart.yaml", "chart/Chart.yaml", "charts", "helm"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists());
    match helm {
        Some(path) => Method::Helm(path),
        None => Method::Unknown,
    }
}

/// A repo under the repos dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// Its directory name.
    pub name: String,
    pub dir: PathBuf,
}

/// Why a repo gives no plan for a service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Miss {
    /// The repo does not deploy the service (the usual answer while looking).
    #[error("{0}")]
    NotHere(String),
    /// The repo seems to deploy it, or could not be read, and something is wrong.
    #[error("{0}")]
    Broken(String),
    /// A program the method needs is not installed here.
    #[error("{0}")]
    Missing(String),
}

/// A redeployment, fully resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Compose(compose::Plan),
    Ansible(ansible::Plan),
    Helm(helm::Plan),
}

impl Plan {
    pub fn repo(&self) -> &str {
        match self {
            Plan::Compose(p) => &p.repo,
            Plan::Ansible(p) => &p.repo,
            Plan::Helm(p) => &p.repo,
        }
    }

    pub fn method(&self) -> &'static str {
        match self {
            Plan::Compose(_) => "Compose",
            Plan::Ansible(_) => "Ansible",
            Plan::Helm(_) => "Helm",
        }
    }

    /// The command that redeploys, as a person would type it.
    pub fn command_line(&self, programs: &Programs) -> String {
        match self {
            Plan::Compose(p) => p.command_line(),
            Plan::Ansible(p) => p.command_line(&programs.ansible_playbook),
            Plan::Helm(p) => p.command_line(&programs.helm),
        }
    }

    /// What the plan would touch, for a dry run (may be empty).
    pub fn scope(&self) -> String {
        match self {
            Plan::Ansible(p) => format!(" (it would run on: {})", p.hosts.join(", ")),
            Plan::Helm(p) => format!(" (release {} in namespace {})", p.release, p.namespace),
            Plan::Compose(_) => String::new(),
        }
    }

    /// The arguments recorded with the ledger reservation.
    pub fn ledger_args(&self, programs: &Programs, service: &str, reason: &str) -> Value {
        let mut args = Map::new();
        args.insert("service".into(), json!(service));
        args.insert("repo".into(), json!(self.repo()));
        args.insert("reason".into(), json!(reason));
        args.insert("method".into(), json!(self.method().to_lowercase()));
        args.insert("command".into(), json!(self.command_line(programs)));
        let details = match self {
            Plan::Compose(p) => json!({
                "compose_file": p.file.display().to_string(),
                "project": p.project,
            }),
            Plan::Ansible(p) => json!({
                "playbook": p.playbook,
                "inventory": p.inventory,
                "limit": p.limit,
            }),
            Plan::Helm(p) => json!({
                "release": p.release,
                "chart": p.chart,
                "namespace": p.namespace,
            }),
        };
        if let Value::Object(details) = details {
            args.extend(details);
        }
        Value::Object(args)
    }

    /// Redeploys, then verifies within `within`.
    pub async fn run(&self, programs: &Programs, within: Duration) -> Checked {
        match self {
            Plan::Compose(p) => match compose::up(&programs.docker, p).await {
                Ok(()) => compose::verify(&programs.docker, p, within).await,
                Err(error) => Checked {
                    ok: false,
                    text: format!("`{}` failed: {error}", p.command_line()),
                },
            },
            Plan::Ansible(p) => ansible::run(programs, p, within).await,
            Plan::Helm(p) => helm::run(&programs.helm, p).await,
        }
    }
}

/// Finds the plan for `service`: in `repo` when given, else in the one repo
/// under `repos_dir` that deploys it.
pub async fn plan(
    programs: &Programs,
    repos_dir: &Path,
    repo: Option<&str>,
    service: &str,
) -> Result<Plan, String> {
    match repo {
        Some(name) => {
            if !valid_name(name) {
                return Err(format!("{name:?} is not a repo directory name"));
            }
            let dir = repos_dir.join(name);
            if !dir.is_dir() {
                return Err(format!(
                    "there is no repo `{name}` under {}",
                    repos_dir.display()
                ));
            }
            let repo = Repo {
                name: name.to_owned(),
                dir,
            };
            plan_in(programs, &repo, service)
                .await
                .map_err(|miss| miss.to_string())
        }
        None => discover(programs, repos_dir, service).await,
    }
}

/// The plan for `service` in one repo, by the repo's method.
pub async fn plan_in(programs: &Programs, repo: &Repo, service: &str) -> Result<Plan, Miss> {
    match method(&repo.dir) {
        Method::Compose(file) => compose::plan(&programs.docker, repo, file, service)
            .await
            .map(Plan::Compose),
        Method::Ansible(root) => ansible::plan(programs, repo, &root, service)
            .await
            .map(Plan::Ansible),
        Method::Helm(_) => helm::plan(&programs.helm, repo, service)
            .await
            .map(Plan::Helm),
        Method::Unknown => Err(Miss::NotHere(format!(
            "repo {} has no compose file ({}), Ansible playbooks or Helm chart: there is no redeployment method to run",
            repo.name,
            compose::COMPOSE_FILES.join(", ")
        ))),
    }
}

async fn discover(programs: &Programs, repos_dir: &Path, service: &str) -> Result<Plan, String> {
    let mut names = match std::fs::read_dir(repos_dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|name| valid_name(name))
            .collect::<Vec<_>>(),
        Err(error) => {
            return Err(format!(
                "cannot list the repos in {}: {error}",
                repos_dir.display()
            ));
        }
    };
    names.sort();
    let mut found = Vec::new();
    let mut looked = Vec::new();
    let mut missing = Vec::new();
    let mut broken = Vec::new();
    for name in names {
        let dir = repos_dir.join(&name);
        if !dir.is_dir() {
            continue;
        }
        let label = method(&dir).label();
        if label == Method::Unknown.label() {
            continue;
        }
        looked.push(format!("{name} ({label})"));
        let repo = Repo { name, dir };
        match plan_in(programs, &repo, service).await {
            Ok(plan) => found.push(plan),
            Err(Miss::NotHere(_)) => {}
            Err(Miss::Broken(why)) => broken.push(why),
            Err(Miss::Missing(why)) => missing.push(why),
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => {
            // A missing tool comes first: it is what the model must act on.
            let mut text = if missing.is_empty() {
                format!(
                    "no repo under {} defines service `{service}`",
                    repos_dir.display()
                )
            } else {
                format!(
                    "cannot redeploy service `{service}`: {}",
                    missing.join("; ")
                )
            };
            if looked.is_empty() {
                text.push_str(": none has a compose file, Ansible playbooks or a Helm chart");
            } else {
                text.push_str(&format!("; looked in {}", looked.join(", ")));
            }
            if !broken.is_empty() {
                text.push_str(&format!("; problems: {}", broken.join("; ")));
            }
            Err(text)
        }
        _ => Err(format!(
            "service `{service}` is deployed by several repos ({}); name the one to use with `repo`",
            found.iter().map(Plan::repo).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Runs a read-only look-up for a plan in `dir`. A failure is the repo's
/// problem (`Broken`, prefixed with `context`); a missing program is this
/// host's (`Missing`: `cannot` says what cannot be done then).
pub(crate) async fn look_up(
    program: &Path,
    args: &[OsString],
    dir: &Path,
    env: &Env,
    context: &str,
    cannot: &str,
) -> Result<Output, Miss> {
    match process::run(program, args, Some(dir), env, LOOKUP_LIMIT).await {
        Ok(out) if out.status.success() => Ok(out),
        Ok(out) => Err(Miss::Broken(format!(
            "{context}: {}",
            failure(&process::name(program), &out)
        ))),
        Err(error @ RunError::Missing(_)) => Err(Miss::Missing(format!(
            "{error}, so {cannot} from here; escalate: needs human attention"
        ))),
        Err(error) => Err(Miss::Broken(format!("{context}: {error}"))),
    }
}

/// The first of `candidates` (paths relative to `dir`) that exists, relative.
pub(crate) fn first_existing<S: AsRef<str>>(dir: &Path, candidates: &[S]) -> Option<String> {
    candidates
        .iter()
        .map(AsRef::as_ref)
        .find(|c| dir.join(c).exists())
        .map(str::to_owned)
}

/// The value of a top-level `key: value` line of a YAML file (no nesting, no
/// anchors: enough for `name:` in a compose file or a `Chart.yaml`), without
/// its quotes and trailing comment.
pub(crate) fn top_level(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        let value = unquote(value.split(" #").next().unwrap_or_default());
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// `value` trimmed and without one pair of surrounding quotes.
pub(crate) fn unquote(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value)
}

/// Writes `text` to `path`, making its parent directories (for tests).
#[cfg(test)]
pub(crate) fn write_file(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        write_file(path, "x: 1\n");
    }

    #[test]
    fn detects_the_method() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let repo = |name: &str| {
            let path = dir.path().join(name);
            std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{e}"));
            path
        };
        let empty = repo("empty");
        assert_eq!(method(&empty), Method::Unknown);

        let chart = repo("chart");
        touch(&chart.join("Chart.yaml"));
        assert_eq!(method(&chart), Method::Helm(chart.join("Chart.yaml")));
        let charts = repo("charts");
        touch(&charts.join("charts/web/Chart.yaml"));
        assert_eq!(method(&charts), Method::Helm(charts.join("charts")));

        let infra = repo("infra");
        touch(&infra.join("playbooks/web.yml"));
        touch(&infra.join("Chart.yaml"));
        assert_eq!(
            method(&infra),
            Method::Ansible(infra.clone()),
            "Ansible beats Helm"
        );
        let nested = repo("nested");
        touch(&nested.join("ansible/site.yml"));
        assert_eq!(method(&nested), Method::Ansible(nested.join("ansible")));
        let cfg = repo("cfg");
        touch(&cfg.join("ansible.cfg"));
        assert_eq!(method(&cfg), Method::Ansible(cfg.clone()));

        touch(&infra.join("compose.yml"));
        assert_eq!(
            method(&infra),
            Method::Compose(infra.join("compose.yml")),
            "Compose beats the others"
        );
    }

    #[test]
    fn reads_top_level_yaml_values() {
        let text = "apiVersion: v2\n  name: nested\nname: \"web\" # the app\nversion: 1\n";
        assert_eq!(top_level(text, "name"), Some("web".into()));
        assert_eq!(top_level(text, "version"), Some("1".into()));
        assert_eq!(top_level(text, "kind"), None);
        assert_eq!(top_level("names: x\n", "name"), None);
        assert_eq!(unquote(" 'a' "), "a");
    }

    #[tokio::test]
    async fn a_repo_without_a_method_is_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(dir.path().join("docs")).unwrap_or_else(|e| panic!("{e}"));
        let programs = Programs::default();
        let named = plan(&programs, dir.path(), Some("docs"), "web").await;
        assert!(
            named
                .as_ref()
                .is_err_and(|e| e.contains("no redeployment method")),
            "{named:?}"
        );
        let found = plan(&programs, dir.path(), None, "web").await;
        assert!(
            found
                .as_ref()
                .is_err_and(|e| e.contains("none has a compose file")),
            "{found:?}"
        );
        let bad = plan(&programs, dir.path(), Some("../etc"), "web").await;
        assert!(bad.is_err());
    }
}
