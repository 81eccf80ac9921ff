//! Redeploying a service through its repo's own automation.
//!
//! Only Docker Compose is run: `up -d --no-deps SERVICE` with the repo's compose
//! file, under the project name the repo's own runs use, so exactly that one
//! service is re-applied and nothing else is touched. Repos that deploy with
//! Ansible or Helm are recognised and answered honestly as not supported yet;
//! nothing is faked.
//!
//! The repo is only read: compose reads the compose file (and `.env`) and writes
//! nothing into the repo directory; this module writes nothing anywhere. A repo is
//! named by a validated directory name under the repos dir, never by a path.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::docker::{Docker, Verdict, failure};
use super::valid_name;

/// Compose file names looked for at a repo's root, in this order.
pub const COMPOSE_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// Time limit of `compose up` (below the MCP call's 15 minutes, with room to verify).
const UP_LIMIT: Duration = Duration::from_secs(12 * 60);
/// Time limit of `compose config`.
const CONFIG_LIMIT: Duration = Duration::from_secs(30);

/// How a repo deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// A compose file at the root.
    Compose(PathBuf),
    /// An Ansible playbook or playbook directory (the path found).
    Ansible(PathBuf),
    /// A Helm chart (the path found).
    Helm(PathBuf),
    /// Nothing this worker recognises.
    Unknown,
}

impl Method {
    fn unsupported(&self) -> Option<&'static str> {
        match self {
            Method::Ansible(_) => Some("Ansible"),
            Method::Helm(_) => Some("Helm"),
            _ => None,
        }
    }
}

/// Tells how the repo at `dir` deploys. Compose wins when several are present.
pub fn method(dir: &Path) -> Method {
    if let Some(file) = COMPOSE_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
    {
        return Method::Compose(file);
    }
    let ansible = [
        "ansible.cfg",
        "site.yml",
        "site.yaml",
        "playbook.yml",
        "playbook.yaml",
    ]
    .iter()
    .map(|f| dir.join(f))
    .find(|p| p.is_file())
    .or_else(|| {
        ["ansible", "playbooks"]
            .iter()
            .map(|d| dir.join(d))
            .find(|p| p.is_dir())
    });
    if let Some(path) = ansible {
        return Method::Ansible(path);
    }
    let helm = ["Chart.yaml", "chart/Chart.yaml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .or_else(|| {
            ["charts", "helm"]
                .iter()
                .map(|d| dir.join(d))
                .find(|p| p.is_dir())
        });
    if let Some(path) = helm {
        return Method::Helm(path);
    }
    Method::Unknown
}

/// A redeployment, fully resolved before anything is reserved or run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The repo's directory name under the repos dir.
    pub repo: String,
    pub dir: PathBuf,
    pub file: PathBuf,
    pub project: String,
    pub service: String,
    /// The Compose tool, as typed (`docker compose` or `docker-compose`).
    pub tool: String,
}

impl Plan {
    /// The compose command as a person would read it.
    pub fn command_line(&self) -> String {
        let file = self
            .file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        format!(
            "{} -f {file} -p {} up -d --no-deps {}",
            self.tool, self.project, self.service
        )
    }

    fn up_args(&self) -> Vec<OsString> {
        vec![
            "-f".into(),
            self.file.clone().into_os_string(),
            "-p".into(),
            self.project.clone().into(),
            "up".into(),
            "-d".into(),
            "--no-deps".into(),
            self.service.clone().into(),
        ]
    }
}

/// Finds the repo, compose file and project for `service`: in `repo` when given,
/// else the one repo under `repos_dir` whose compose file defines the service.
pub async fn plan(
    docker: &Docker,
    repos_dir: &Path,
    repo: Option<&str>,
    service: &str,
) -> Result<Plan, String> {
    let mut plan = match repo {
        Some(repo) => plan_in(docker, repos_dir, repo, service).await,
        None => discover(docker, repos_dir, service).await,
    }?;
    plan.tool = docker.compose_command().await?.display();
    Ok(plan)
}

async fn plan_in(
    docker: &Docker,
    repos_dir: &Path,
    repo: &str,
    service: &str,
) -> Result<Plan, String> {
    if !valid_name(repo) {
        return Err(format!("{repo:?} is not a repo directory name"));
    }
    let dir = repos_dir.join(repo);
    if !dir.is_dir() {
        return Err(format!(
            "there is no repo `{repo}` under {}",
            repos_dir.display()
        ));
    }
    match method(&dir) {
        Method::Compose(file) => {
            let services = services(docker, &dir, &file).await?;
            if services.iter().any(|s| s == service) {
                make_plan(repo, dir, file, service)
            } else {
                Err(format!(
                    "{} in repo {repo} does not define service `{service}`; it defines: {}",
                    file_name(&file),
                    services.join(", ")
                ))
            }
        }
        other => match other.unsupported() {
            Some(tool) => Err(unsupported(repo, tool)),
            None => Err(format!(
                "repo {repo} has no compose file ({}), Ansible playbook or Helm chart: there is no redeployment method to run",
                COMPOSE_FILES.join(", ")
            )),
        },
    }
}

fn unsupported(repo: &str, tool: &str) -> String {
    format!(
        "repo {repo} deploys with {tool}: that redeployment method is recognised but not yet supported by this worker; escalate so a human runs it"
    )
}

async fn discover(docker: &Docker, repos_dir: &Path, service: &str) -> Result<Plan, String> {
    let mut entries = match std::fs::read_dir(repos_dir) {
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
    entries.sort();
    let mut found = Vec::new();
    let mut others = Vec::new();
    let mut broken = Vec::new();
    for repo in entries {
        let dir = repos_dir.join(&repo);
        if !dir.is_dir() {
            continue;
        }
        match method(&dir) {
            Method::Compose(file) => match services(docker, &dir, &file).await {
                Ok(services) if services.iter().any(|s| s == service) => {
                    found.push((repo, dir, file));
                }
                Ok(_) => {}
                Err(error) => broken.push(format!("{repo} ({error})")),
            },
            other => {
                if let Some(tool) = other.unsupported() {
                    others.push(format!("{repo} ({tool})"));
                }
            }
        }
    }
    match found.len() {
        1 => {
            let (repo, dir, file) = found.remove(0);
            make_plan(&repo, dir, file, service)
        }
        0 => {
            let mut text = format!(
                "no compose file in the repos under {} defines service `{service}`",
                repos_dir.display()
            );
            if !others.is_empty() {
                text.push_str(&format!(
                    "; repos deploying with methods this worker recognises but does not support yet: {}",
                    others.join(", ")
                ));
            }
            if !broken.is_empty() {
                text.push_str(&format!(
                    "; compose files that could not be read: {}",
                    broken.join(", ")
                ));
            }
            Err(text)
        }
        _ => Err(format!(
            "service `{service}` is defined in several repos ({}); name the one to use with `repo`",
            found
                .iter()
                .map(|(r, _, _)| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn make_plan(repo: &str, dir: PathBuf, file: PathBuf, service: &str) -> Result<Plan, String> {
    let project = project_name(&dir, &file).ok_or_else(|| {
        format!("cannot make a compose project name from repo {repo}'s directory name")
    })?;
    Ok(Plan {
        repo: repo.to_owned(),
        dir,
        file,
        project,
        service: service.to_owned(),
        tool: "docker compose".to_owned(),
    })
}

fn file_name(file: &Path) -> String {
    file.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// The services a compose file defines (`compose -f FILE config --services`).
async fn services(docker: &Docker, dir: &Path, file: &Path) -> Result<Vec<String>, String> {
    let args: Vec<OsString> = vec![
        "-f".into(),
        file.as_os_str().to_owned(),
        "config".into(),
        "--services".into(),
    ];
    let out = docker.compose(&args, dir, CONFIG_LIMIT).await?;
    if !out.status.success() {
        return Err(failure("compose config", &out));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// The project name the repo's own `compose up` would use: `COMPOSE_PROJECT_NAME`
/// in the repo's `.env`, else a top-level `name:` in the compose file, else the
/// directory name; normalised the way Compose does it.
pub fn project_name(dir: &Path, file: &Path) -> Option<String> {
    let from_env = std::fs::read_to_string(dir.join(".env"))
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let line = line.trim().strip_prefix("export ").unwrap_or(line.trim());
                let value = line.strip_prefix("COMPOSE_PROJECT_NAME=")?;
                sanitize_project(unquote(value))
            })
        });
    let from_file = || {
        std::fs::read_to_string(file).ok().and_then(|text| {
            text.lines().find_map(|line| {
                let value = line.strip_prefix("name:")?;
                let value = value.split(" #").next().unwrap_or_default();
                let value = unquote(value);
                if value.contains('$') {
                    return None;
                }
                sanitize_project(value)
            })
        })
    };
    let from_dir = || {
        dir.file_name()
            .and_then(|n| n.to_str())
            .and_then(sanitize_project)
    };
    from_env.or_else(from_file).or_else(from_dir)
}

fn unquote(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value)
}

/// Lower-cases and keeps `[a-z0-9_-]`, as Compose normalises project names; the
/// result must start with a letter or digit.
pub fn sanitize_project(raw: &str) -> Option<String> {
    let name: String = raw
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    let name = name.trim_start_matches(['_', '-']).to_owned();
    if name.is_empty() { None } else { Some(name) }
}

/// Runs `compose -f FILE -p PROJECT up -d --no-deps SERVICE` in the repo.
pub async fn up(docker: &Docker, plan: &Plan) -> Result<(), String> {
    let out = docker.compose(&plan.up_args(), &plan.dir, UP_LIMIT).await?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failure("compose up", &out))
    }
}

/// Waits until every container of the service is running and healthy.
pub async fn verify(docker: &Docker, plan: &Plan, within: Duration) -> Verdict {
    match docker
        .compose_containers(&plan.project, &plan.service)
        .await
    {
        Ok(names) if names.is_empty() => Verdict {
            ok: false,
            text: format!(
                "compose reported success but project {} has no container for service {}",
                plan.project, plan.service
            ),
        },
        Ok(names) => docker.wait_ready(&names, within).await,
        Err(error) => Verdict {
            ok: false,
            text: format!("cannot list the service's containers: {error}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_project_names() {
        assert_eq!(sanitize_project("My App.v2"), Some("myappv2".into()));
        assert_eq!(sanitize_project("_x-y"), Some("x-y".into()));
        assert_eq!(sanitize_project("..."), None);
    }

    #[test]
    fn finds_the_project_name_and_method() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let repo = dir.path().join("Shop_App");
        std::fs::create_dir_all(&repo).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(method(&repo), Method::Unknown);
        let file = repo.join("docker-compose.yml");
        std::fs::write(&file, "services:\n  web:\n    image: x\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(method(&repo), Method::Compose(file.clone()));
        assert_eq!(project_name(&repo, &file), Some("shop_app".into()));
        std::fs::write(&file, "name: \"Store\" # ours\nservices: {}\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(project_name(&repo, &file), Some("store".into()));
        std::fs::write(repo.join(".env"), "X=1\nCOMPOSE_PROJECT_NAME='prod'\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(project_name(&repo, &file), Some("prod".into()));

        let helm = dir.path().join("chart-repo");
        std::fs::create_dir_all(&helm).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(helm.join("Chart.yaml"), "name: x\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(method(&helm), Method::Helm(_)));
        let ansible = dir.path().join("infra");
        std::fs::create_dir_all(ansible.join("playbooks")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(method(&ansible), Method::Ansible(_)));
    }
}
