//! Redeploying a service of a Docker Compose repo.
//!
//! The rule: a repo with a compose file at its root (see [`COMPOSE_FILES`])
//! deploys the services that file defines (`compose config --services`). The
//! redeployment is `up -d --no-deps SERVICE` with that file, under the project
//! name the repo's own runs use, so exactly that one service is re-applied and
//! nothing else is touched; verification waits for its containers to be
//! running and healthy.
//!
//! The repo is only read: compose reads the compose file (and `.env`) and writes
//! nothing into the repo directory; this module writes nothing anywhere.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::docker::{Checked, Docker, failure};
use super::redeploy::{DEPLOY_LIMIT, LOOKUP_LIMIT, Miss, Repo, top_level, unquote};

/// Compose file names looked for at a repo's root, in this order.
pub const COMPOSE_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

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

/// The plan for `service` in a repo whose compose file is `file`.
pub async fn plan(
    docker: &Docker,
    repo: &Repo,
    file: PathBuf,
    service: &str,
) -> Result<Plan, Miss> {
    let services = services(docker, &repo.dir, &file)
        .await
        .map_err(|e| Miss::Broken(format!("repo {}: {e}", repo.name)))?;
    if !services.iter().any(|s| s == service) {
        return Err(Miss::NotHere(format!(
            "{} in repo {} does not define service `{service}`; it defines: {}",
            file_name(&file),
            repo.name,
            services.join(", ")
        )));
    }
    let project = project_name(&repo.dir, &file).ok_or_else(|| {
        Miss::Broken(format!(
            "cannot make a compose project name from repo {}'s directory name",
            repo.name
        ))
    })?;
    let tool = docker.compose_command().await.map_err(Miss::Missing)?;
    Ok(Plan {
        repo: repo.name.clone(),
        dir: repo.dir.clone(),
        file,
        project,
        service: service.to_owned(),
        tool: tool.display(),
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
    let out = docker.compose(&args, dir, LOOKUP_LIMIT).await?;
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
            top_level(&text, "name")
                .filter(|value| !value.contains('$'))
                .and_then(|value| sanitize_project(&value))
        })
    };
    let from_dir = || {
        dir.file_name()
            .and_then(|n| n.to_str())
            .and_then(sanitize_project)
    };
    from_env.or_else(from_file).or_else(from_dir)
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
    let out = docker
        .compose(&plan.up_args(), &plan.dir, DEPLOY_LIMIT)
        .await?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failure("compose up", &out))
    }
}

/// Waits until every container of the service is running and healthy.
pub async fn verify(docker: &Docker, plan: &Plan, within: Duration) -> Checked {
    match docker
        .compose_containers(&plan.project, &plan.service)
        .await
    {
        Ok(names) if names.is_empty() => Checked {
            ok: false,
            text: format!(
                "compose reported success but project {} has no container for service {}",
                plan.project, plan.service
            ),
        },
        Ok(names) => docker.wait_ready(&names, within).await,
        Err(error) => Checked {
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
    fn finds_the_project_name() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let repo = dir.path().join("Shop_App");
        std::fs::create_dir_all(&repo).unwrap_or_else(|e| panic!("{e}"));
        let file = repo.join("docker-compose.yml");
        std::fs::write(&file, "services:\n  web:\n    image: x\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(project_name(&repo, &file), Some("shop_app".into()));
        std::fs::write(&file, "name: \"Store\" # ours\nservices: {}\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(project_name(&repo, &file), Some("store".into()));
        std::fs::write(repo.join(".env"), "X=1\nCOMPOSE_PROJECT_NAME='prod'\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(project_name(&repo, &file), Some("prod".into()));
    }
}
