//! The stage a scenario plays on: its Compose project (real containers on the
//! machine's Docker Engine, from the registry-free test image), the repo that
//! describes it, and the placeholders its text may use. Dropping the stage
//! takes the project down with its volumes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use claudeops_tests::docker;
use serde_json::{Value, json};

use crate::scenario::Scenario;

/// A started scenario's containers and repo.
pub struct Stage {
    pub project: String,
    /// Each site's worker state dir; its repo is `repos/PROJECT` in it.
    pub states: BTreeMap<String, tempfile::TempDir>,
    /// The first site's repo (`{repo}`; a scenario's edits go there).
    pub repo: PathBuf,
    /// Every site's repo.
    pub repos: BTreeMap<String, PathBuf>,
    /// The compose file as the runner uses it: a copy outside the worker's
    /// state dir, so the project can be taken down after the worker is gone.
    compose_file: PathBuf,
    _own: tempfile::TempDir,
    /// Placeholder -> value.
    pub fills: BTreeMap<String, String>,
    /// A value planted in every container's environment: it must never reach the model.
    pub secret: String,
}

impl Stage {
    /// Writes the repo and starts the project; waits until every container is
    /// running (and healthy, where it has a healthcheck).
    pub async fn up(scenario: &Scenario) -> anyhow::Result<Stage> {
        docker::ensure_image();
        let project = docker::unique(&format!("chaos-{}", scenario.name))
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-");
        let mut states = BTreeMap::new();
        let mut repos = BTreeMap::new();
        for site in scenario.sites() {
            let state = tempfile::tempdir().context("a state dir")?;
            let repo = state.path().join("repos").join(&project);
            std::fs::create_dir_all(repo.join(".claude-ops/probes")).context("the repo")?;
            repos.insert(site.clone(), repo);
            states.insert(site, state);
        }
        let first = scenario.sites().first().cloned().unwrap_or_default();
        let repo = repos.get(&first).cloned().context("a site")?;
        let state_dir = states
            .get(&first)
            .map(|s| s.path().display().to_string())
            .unwrap_or_default();
        let secret = format!("chaos-secret-{}", docker::unique("s"));
        let mut fills = BTreeMap::new();
        fills.insert("{project}".to_owned(), project.clone());
        fills.insert("{repo}".to_owned(), repo.display().to_string());
        fills.insert("{worker_state}".to_owned(), state_dir);
        for (name, def) in &scenario.services {
            fills.insert(format!("{{container:{name}}}"), format!("{project}-{name}"));
            if def.port.is_some() {
                fills.insert(format!("{{port:{name}}}"), free_port()?.to_string());
            }
        }
        let own = tempfile::tempdir().context("a dir for the compose file")?;
        let stage = Stage {
            compose_file: own.path().join("compose.yaml"),
            _own: own,
            project,
            states,
            repo,
            repos,
            fills,
            secret,
        };
        stage.write_repo(scenario)?;
        stage.compose(&["up", "-d", "--quiet-pull"]).await?;
        stage.wait_ready(scenario, Duration::from_secs(90)).await?;
        Ok(stage)
    }

    /// `text` with every placeholder filled.
    pub fn fill(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (key, value) in &self.fills {
            out = out.replace(key, value);
        }
        out
    }

    /// A JSON value with every placeholder in its strings filled.
    pub fn fill_json(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.fill(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.fill_json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.fill_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    pub fn container(&self, service: &str) -> String {
        format!("{}-{service}", self.project)
    }

    fn write_repo(&self, scenario: &Scenario) -> anyhow::Result<()> {
        let mounts: Vec<String> = docker::host_mounts()
            .chunks(2)
            .filter_map(|pair| pair.get(1).cloned())
            .collect();
        let mut services = serde_json::Map::new();
        let mut volumes = serde_json::Map::new();
        for (name, def) in &scenario.services {
            let mut env: BTreeMap<String, String> = def
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), self.fill(v)))
                .collect();
            env.insert("CHAOS_SECRET".into(), self.secret.clone());
            let mut labels: BTreeMap<String, String> = def
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), self.fill(v)))
                .collect();
            labels.insert("claudeops.test".into(), self.label(&scenario.site_of(name)));
            let mut vols = mounts.clone();
            for v in &def.volumes {
                let v = self.fill(v);
                if let Some((volume, _)) = v.split_once(':')
                    && !volume.starts_with('/')
                {
                    volumes.insert(volume.to_owned(), json!({}));
                }
                vols.push(v);
            }
            let mut service = json!({
                "image": docker::IMAGE,
                "container_name": self.container(name),
                // `$$`: the script's variables are the shell's, not Compose's.
                "command": ["sh", "-c", self.fill(&def.run).replace('$', "$$")],
                "environment": env,
                "labels": labels,
                "volumes": vols,
                "stop_grace_period": "1s",
            });
            if let Some(test) = &def.healthcheck {
                service["healthcheck"] = json!({
                    "test": ["CMD", "sh", "-c", self.fill(test).replace('$', "$$")],
                    "interval": "1s",
                    "timeout": "2s",
                    "retries": 2,
                });
            }
            if !def.depends_on.is_empty() {
                service["depends_on"] = json!(def.depends_on);
            }
            if let (Some(port), Some(host)) =
                (def.port, self.fills.get(&format!("{{port:{name}}}")))
            {
                let proto = if def.udp { "/udp" } else { "" };
                service["ports"] = json!([format!("127.0.0.1:{host}:{port}{proto}")]);
            }
            if let Some(limit) = &def.mem_limit {
                service["mem_limit"] = json!(limit);
                service["memswap_limit"] = json!(limit);
            }
            if let Some(policy) = &def.restart {
                service["restart"] = json!(policy);
            }
            if !def.tmpfs.is_empty() {
                service["tmpfs"] = json!(def.tmpfs);
            }
            services.insert(name.clone(), service);
        }
        let mut compose = json!({ "services": services });
        if !volumes.is_empty() {
            compose["volumes"] = Value::Object(volumes);
        }
        // JSON is YAML: Compose reads it as it is. Each site's repo has the
        // file (what discovery and a redeploy read) and its own probes.
        let text = serde_json::to_string_pretty(&compose)?;
        std::fs::write(&self.compose_file, &text)?;
        for (site, repo) in &self.repos {
            std::fs::write(repo.join("compose.yaml"), &text)?;
            std::fs::write(
                repo.join("CLAUDE-OPS.md"),
                format!(
                    "# {}\n\n{}\n\n| Service | Purpose |\n| --- | --- |\n{}",
                    self.project,
                    scenario.title,
                    scenario
                        .services
                        .keys()
                        .filter(|s| &scenario.site_of(s) == site)
                        .map(|s| format!("| {s} | part of the scenario |\n"))
                        .collect::<String>()
                ),
            )?;
            for (path, text) in &scenario.files {
                let path = repo.join(path);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(path, self.fill(text))?;
            }
            let probes: Vec<Value> = scenario
                .probes
                .iter()
                .filter(|p| p["site"].as_str().unwrap_or("home") == site)
                .map(|p| {
                    let mut p = self.fill_json(p);
                    if let Some(map) = p.as_object_mut() {
                        map.remove("site");
                    }
                    p
                })
                .collect();
            if !probes.is_empty() {
                std::fs::write(
                    repo.join(".claude-ops/probes/chaos.yaml"),
                    serde_json::to_string_pretty(&json!({ "probes": probes }))?,
                )?;
            }
        }
        Ok(())
    }

    /// The label a site's worker watches (`CLAUDEOPS_CONTAINER_LABEL`).
    pub fn label(&self, site: &str) -> String {
        format!("{}-{site}", self.project)
    }

    /// Compose on the repo's file (what a deploy reads, edits included).
    pub async fn compose(&self, args: &[&str]) -> anyhow::Result<String> {
        let file = self.repo.join("compose.yaml").display().to_string();
        let (program, mut all) = docker::compose_program();
        all.extend(["-p", &self.project, "-f", &file]);
        all.extend_from_slice(args);
        run(program, &all).await
    }

    async fn wait_ready(&self, scenario: &Scenario, within: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let mut waiting = Vec::new();
            for name in scenario.services.keys() {
                let state = run_docker(&[
                    "inspect",
                    "-f",
                    "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                    &self.container(name),
                ])
                .await
                .unwrap_or_default();
                let state = state.trim();
                if state != "running" && state != "running healthy" {
                    waiting.push(format!("{name}: {state}"));
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("the services never became ready: {}", waiting.join(", "));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// What must not change about a container: when it started, its restarts, its state.
    pub async fn fingerprint(&self, service: &str) -> String {
        run_docker(&[
            "inspect",
            "-f",
            "{{.Id}} {{.State.StartedAt}} {{.RestartCount}} {{.State.Status}}",
            &self.container(service),
        ])
        .await
        .unwrap_or_else(|e| format!("gone: {e}"))
        .trim()
        .to_owned()
    }

    /// The project's volumes that exist now.
    pub async fn volumes(&self) -> Vec<String> {
        run_docker(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.project),
        ])
        .await
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
    }

    /// A digest of every file of every site's repo, by path.
    pub fn repo_digest(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (site, repo) in &self.repos {
            let mut one = BTreeMap::new();
            digest_dir(repo, repo, &mut one);
            out.extend(one.into_iter().map(|(k, v)| (format!("{site}/{k}"), v)));
        }
        out
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        let file = self.compose_file.display().to_string();
        let (program, first) = docker::compose_program();
        let _ = std::process::Command::new(program)
            .args(first)
            .args([
                "-p",
                &self.project,
                "-f",
                &file,
                "down",
                "-v",
                "--timeout",
                "1",
            ])
            .output();
    }
}

fn digest_dir(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    use sha2::Digest;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            digest_dir(root, &path, out);
        } else {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let key = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            out.insert(key, hex::encode(sha2::Sha256::digest(&bytes)));
        }
    }
}

/// `docker ARGS`; its stdout, or an error with its stderr.
pub async fn run_docker(args: &[&str]) -> anyhow::Result<String> {
    run("docker", args).await
}

async fn run(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .with_context(|| {
            format!("{program} is required (the Docker Engine and CLI, and Compose)")
        })?;
    if !out.status.success() {
        bail!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
