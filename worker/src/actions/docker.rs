//! The Docker Engine, through the `docker` CLI: inspect, restart, wait for
//! running-and-healthy, and which Compose tool is installed.
//!
//! Every command is built with explicit arguments (`tokio::process::Command`, no
//! shell), so a name can never be read as anything but one argument; callers
//! validate names before they get here anyway. Every command has a time limit and
//! is killed if it is dropped. Nothing here decides whether an action is allowed:
//! that is `super::run_action`'s job.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::OnceCell;

use super::process::{self, Env};

/// Time limit of a quick `docker` command (inspect, ps, logs).
const QUICK: Duration = Duration::from_secs(30);
/// How often verification looks again.
const POLL: Duration = Duration::from_millis(500);
/// How long a container without a health check must stay up to count as back
/// (a command that crashes at once is briefly "running" after a restart).
pub const SETTLE: Duration = Duration::from_secs(5);
/// Log lines shown for a container that did not come back.
const LOG_LINES: &str = "10";

/// What an act-and-verify step found; `text` is for the model and the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub ok: bool,
    pub text: String,
}

/// How to run Compose: `docker compose` (v2 plugin) or `docker-compose` (v1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeCommand {
    pub program: PathBuf,
    pub prefix: Vec<String>,
}

impl ComposeCommand {
    /// The command as a person would type it (for replies).
    pub fn display(&self) -> String {
        let program = self.program.file_name().map_or_else(
            || self.program.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        std::iter::once(program)
            .chain(self.prefix.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A handle on the `docker` CLI. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Docker {
    program: PathBuf,
    compose: Arc<OnceCell<Result<ComposeCommand, String>>>,
}

impl Default for Docker {
    fn default() -> Docker {
        Docker::new("docker")
    }
}

/// The health of a container with a health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// The output of the latest health probe, if any.
    pub last_output: Option<String>,
}

/// The parts of `docker inspect` the actions use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub name: String,
    pub status: String,
    pub running: bool,
    pub restarting: bool,
    pub exit_code: i64,
    pub oom_killed: bool,
    pub error: String,
    pub started_at: String,
    pub restart_policy: String,
    pub health: Option<Health>,
    /// The Compose service it belongs to (`com.docker.compose.service` label).
    pub compose_service: Option<String>,
}

/// Where a container stands on the way back up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Running, and healthy or without a health check.
    Ready(String),
    /// Not there yet; may still get there.
    Waiting(String),
    /// Will not get there by itself.
    Failed(String),
}

impl ContainerState {
    /// Parses one element of `docker inspect`'s array.
    pub fn from_inspect(value: &Value) -> ContainerState {
        let state = &value["State"];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let health = state
            .get("Health")
            .filter(|h| h.is_object())
            .map(|h| Health {
                status: text(&h["Status"]),
                last_output: h["Log"]
                    .as_array()
                    .and_then(|log| log.last())
                    .map(|entry| clip(entry["Output"].as_str().unwrap_or_default(), 500)),
            });
        ContainerState {
            name: text(&value["Name"]).trim_start_matches('/').to_owned(),
            status: text(&state["Status"]),
            running: state["Running"].as_bool().unwrap_or(false),
            restarting: state["Restarting"].as_bool().unwrap_or(false),
            exit_code: state["ExitCode"].as_i64().unwrap_or(0),
            oom_killed: state["OOMKilled"].as_bool().unwrap_or(false),
            error: text(&state["Error"]),
            started_at: text(&state["StartedAt"]),
            restart_policy: text(&value["HostConfig"]["RestartPolicy"]["Name"]),
            health,
            compose_service: value["Config"]["Labels"]["com.docker.compose.service"]
                .as_str()
                .map(str::to_owned),
        }
    }

    /// A few words on the state, e.g. `running (healthy)` or `exited (exit code 1)`.
    pub fn summary(&self) -> String {
        if self.running {
            match &self.health {
                Some(h) => format!("{} ({})", self.status, h.status),
                None => self.status.clone(),
            }
        } else {
            format!("{} (exit code {})", self.status, self.exit_code)
        }
    }

    pub fn readiness(&self) -> Readiness {
        if self.status == "paused" {
            return Readiness::Failed("paused".to_owned());
        }
        if self.running && !self.restarting {
            return match &self.health {
                None => Readiness::Ready("running, no health check".to_owned()),
                Some(h) if h.status == "healthy" => {
                    Readiness::Ready("running and healthy".to_owned())
                }
                Some(h) if h.status == "unhealthy" => Readiness::Waiting(format!(
                    "unhealthy: last health log output: {}",
                    h.last_output
                        .as_deref()
                        .filter(|o| !o.is_empty())
                        .unwrap_or("(none)")
                )),
                Some(h) => Readiness::Waiting(format!(
                    "running, but its health check still says {:?}",
                    h.status
                )),
            };
        }
        let mut why = format!("not running after restart: exit code {}", self.exit_code);
        if self.oom_killed {
            why.push_str(", killed for running out of memory (OOM)");
        }
        if !self.error.is_empty() {
            why.push_str(&format!(", error: {}", clip(&self.error, 300)));
        }
        let restarts_itself = !matches!(self.restart_policy.as_str(), "" | "no");
        if self.restarting || restarts_itself {
            Readiness::Waiting(format!(
                "{why} (restart policy {:?}, state {})",
                self.restart_policy, self.status
            ))
        } else {
            Readiness::Failed(why)
        }
    }
}

impl Docker {
    /// `program` is the `docker` CLI (a name on PATH or a path).
    pub fn new(program: impl Into<PathBuf>) -> Docker {
        Docker {
            program: program.into(),
            compose: Arc::new(OnceCell::new()),
        }
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Runs `docker ARGS` with a time limit; the process is killed past it.
    pub async fn run(&self, args: &[&str], limit: Duration) -> Result<Output, String> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        run_program(&self.program, &args, None, limit).await
    }

    /// `docker inspect` of one container; `None` when there is no such container.
    pub async fn inspect(&self, name: &str) -> Result<Option<ContainerState>, String> {
        let out = self
            .run(&["inspect", "--type", "container", "--", name], QUICK)
            .await?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stderr.contains("No such") {
                return Ok(None);
            }
            return Err(failure("docker inspect", &out));
        }
        let parsed: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("docker inspect printed something that is not JSON: {e}"))?;
        Ok(parsed
            .as_array()
            .and_then(|a| a.first())
            .map(ContainerState::from_inspect))
    }

    /// `docker restart --time GRACE NAME`.
    pub async fn restart(&self, name: &str, grace_secs: u32) -> Result<(), String> {
        let grace = grace_secs.to_string();
        let limit = Duration::from_secs(u64::from(grace_secs) + 110);
        let out = self
            .run(&["restart", "--time", &grace, "--", name], limit)
            .await?;
        if out.status.success() {
            Ok(())
        } else {
            Err(failure("docker restart", &out))
        }
    }

    /// The last lines a container logged (stdout and stderr), clipped.
    pub async fn logs_tail(&self, name: &str) -> String {
        match self
            .run(&["logs", "--tail", LOG_LINES, "--", name], QUICK)
            .await
        {
            Ok(out) => {
                let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&out.stderr));
                clip(&text, 800)
            }
            Err(_) => String::new(),
        }
    }

    /// Polls until every container is running and healthy (or has no health
    /// check and has stayed up for [`SETTLE`]), one of them cannot get there, or
    /// `within` has passed.
    pub async fn wait_ready(&self, names: &[String], within: Duration) -> Checked {
        if names.is_empty() {
            return Checked {
                ok: false,
                text: "there is no container to verify".to_owned(),
            };
        }
        let deadline = Instant::now() + within;
        // When each container was first seen ready, and in which run (StartedAt).
        let mut since: HashMap<&str, (Instant, String)> = HashMap::new();
        loop {
            let mut states = Vec::with_capacity(names.len());
            for name in names {
                let readiness = match self.inspect(name).await {
                    Ok(Some(state)) => settled(&mut since, name, &state),
                    Ok(None) => Readiness::Failed("the container no longer exists".to_owned()),
                    Err(error) => Readiness::Waiting(format!("cannot inspect it: {error}")),
                };
                states.push((name, readiness));
            }
            let waiting = states
                .iter()
                .any(|(_, r)| matches!(r, Readiness::Waiting(_)));
            let timed_out = Instant::now() >= deadline;
            if !waiting || timed_out {
                let ok = states.iter().all(|(_, r)| matches!(r, Readiness::Ready(_)));
                let mut parts = Vec::with_capacity(states.len());
                for (name, readiness) in &states {
                    let mut part = match readiness {
                        Readiness::Ready(t) | Readiness::Failed(t) => t.clone(),
                        Readiness::Waiting(t) => {
                            format!("{t} after {} s", within.as_secs())
                        }
                    };
                    if !matches!(readiness, Readiness::Ready(_)) {
                        let logs = self.logs_tail(name).await;
                        if !logs.is_empty() {
                            part.push_str(&format!("; last log lines: {logs}"));
                        }
                    }
                    parts.push(if names.len() == 1 {
                        part
                    } else {
                        format!("{name}: {part}")
                    });
                }
                return Checked {
                    ok,
                    text: parts.join("; "),
                };
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The installed Compose tool: the `docker compose` plugin if it answers,
    /// else `docker-compose`. Found once per handle.
    pub async fn compose_command(&self) -> Result<ComposeCommand, String> {
        self.compose
            .get_or_init(|| async {
                let plugin = ComposeCommand {
                    program: self.program.clone(),
                    prefix: vec!["compose".to_owned()],
                };
                let standalone = ComposeCommand {
                    program: PathBuf::from("docker-compose"),
                    prefix: Vec::new(),
                };
                for candidate in [plugin, standalone] {
                    let mut args: Vec<OsString> =
                        candidate.prefix.iter().map(OsString::from).collect();
                    args.push("version".into());
                    if let Ok(out) = run_program(&candidate.program, &args, None, QUICK).await
                        && out.status.success()
                    {
                        return Ok(candidate);
                    }
                }
                Err(
                    "neither `docker compose` nor `docker-compose` is installed on this host"
                        .to_owned(),
                )
            })
            .await
            .clone()
    }

    /// Runs the Compose tool with `args` in `dir`.
    pub async fn compose(
        &self,
        args: &[OsString],
        dir: &Path,
        limit: Duration,
    ) -> Result<Output, String> {
        let compose = self.compose_command().await?;
        let mut all: Vec<OsString> = compose.prefix.iter().map(OsString::from).collect();
        all.extend(args.iter().cloned());
        run_program(&compose.program, &all, Some(dir), limit).await
    }

    /// Names of a Compose service's containers (stopped ones too, one-off runs
    /// not), by the labels every Compose version sets.
    pub async fn compose_containers(
        &self,
        project: &str,
        service: &str,
    ) -> Result<Vec<String>, String> {
        let project_filter = format!("label=com.docker.compose.project={project}");
        let service_filter = format!("label=com.docker.compose.service={service}");
        let lines = self
            .ps(&[
                "--filter",
                &project_filter,
                "--filter",
                &service_filter,
                "--filter",
                "label=com.docker.compose.oneoff=False",
                "--format",
                "{{.Names}}",
            ])
            .await?;
        Ok(lines)
    }

    /// Names of the containers on this host that belong to `service`, however
    /// it was deployed: named after it, or carrying its Compose service label
    /// (one-off runs not). Stopped ones too.
    pub async fn service_containers(&self, service: &str) -> Result<Vec<String>, String> {
        let lines = self
            .ps(&[
                "--format",
                r#"{{.Names}}\t{{.Label "com.docker.compose.service"}}\t{{.Label "com.docker.compose.oneoff"}}"#,
            ])
            .await?;
        let mut names: Vec<String> = lines
            .iter()
            .filter_map(|line| {
                let mut fields = line.split('\t');
                let name = fields.next()?;
                let label = fields.next().unwrap_or_default();
                let oneoff = fields.next().unwrap_or_default() == "True";
                (name == service || (label == service && !oneoff)).then(|| name.to_owned())
            })
            .collect();
        names.dedup();
        Ok(names)
    }

    /// `docker ps -a ARGS`: the non-empty output lines, sorted.
    async fn ps(&self, args: &[&str]) -> Result<Vec<String>, String> {
        let mut all = vec!["ps", "-a"];
        all.extend_from_slice(args);
        let out = self.run(&all, QUICK).await?;
        if !out.status.success() {
            return Err(failure("docker ps", &out));
        }
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        lines.sort();
        Ok(lines)
    }
}

/// A container's readiness, holding back "running, no health check" until it
/// has stayed up in the same run for [`SETTLE`].
fn settled<'a>(
    since: &mut HashMap<&'a str, (Instant, String)>,
    name: &'a str,
    state: &ContainerState,
) -> Readiness {
    let readiness = state.readiness();
    if !matches!(readiness, Readiness::Ready(_)) {
        since.remove(name);
        return readiness;
    }
    if state.health.is_some() {
        return readiness;
    }
    let (first, run) = since
        .entry(name)
        .or_insert_with(|| (Instant::now(), state.started_at.clone()));
    if *run != state.started_at {
        *first = Instant::now();
        run.clone_from(&state.started_at);
    }
    if first.elapsed() >= SETTLE {
        readiness
    } else {
        Readiness::Waiting("running, but not yet for long enough to trust it".to_owned())
    }
}

async fn run_program(
    program: &Path,
    args: &[OsString],
    dir: Option<&Path>,
    limit: Duration,
) -> Result<Output, String> {
    process::run(program, args, dir, &Env::Inherit, limit)
        .await
        .map_err(|e| e.to_string())
}

/// A failed command's message: its stderr (else stdout), clipped.
pub(crate) fn failure(what: &str, out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let said = if stderr.trim().is_empty() {
        stdout.trim()
    } else {
        stderr.trim()
    };
    let code = out
        .status
        .code()
        .map_or_else(|| "a signal".to_owned(), |c| format!("exit code {c}"));
    format!("{what} ended with {code}: {}", clip(said, 1000))
}

/// At most `max` characters of `text`, trimmed, ending with `…` when cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    // Keep the end: the last lines say the most about a failure.
    let skip = text.chars().count() - max;
    format!("…{}", text.chars().skip(skip).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(value: Value) -> ContainerState {
        ContainerState::from_inspect(&value)
    }

    #[test]
    fn judges_readiness() {
        let healthy = state(
            json!({"Name": "/web", "State": {"Status": "running", "Running": true,
            "Health": {"Status": "healthy", "Log": [{"Output": "ok"}]}}}),
        );
        assert_eq!(healthy.name, "web");
        assert_eq!(
            healthy.readiness(),
            Readiness::Ready("running and healthy".into())
        );
        let plain = state(json!({"State": {"Status": "running", "Running": true}}));
        assert_eq!(
            plain.readiness(),
            Readiness::Ready("running, no health check".into())
        );
        let sick = state(json!({"State": {"Status": "running", "Running": true,
            "Health": {"Status": "unhealthy", "Log": [{"Output": "a"}, {"Output": "connection refused\n"}]}}}));
        assert_eq!(
            sick.readiness(),
            Readiness::Waiting("unhealthy: last health log output: connection refused".into())
        );
        let exited = state(
            json!({"State": {"Status": "exited", "Running": false, "ExitCode": 3},
            "HostConfig": {"RestartPolicy": {"Name": "no"}}}),
        );
        assert_eq!(
            exited.readiness(),
            Readiness::Failed("not running after restart: exit code 3".into())
        );
        let looping = state(
            json!({"State": {"Status": "restarting", "Running": true, "Restarting": true, "ExitCode": 1},
            "HostConfig": {"RestartPolicy": {"Name": "always"}}}),
        );
        assert!(matches!(looping.readiness(), Readiness::Waiting(_)));
    }

    #[test]
    fn clips_from_the_end() {
        assert_eq!(clip("  abc ", 5), "abc");
        assert_eq!(clip("abcdef", 3), "…def");
    }
}
