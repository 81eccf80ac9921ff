//! A scenario as data (`tests/chaos/scenarios/*.yaml`): the services to start,
//! the fault to inject, what must be detected and how fast, the correct repair
//! and how it is verified, what must never change, and the oracle model's
//! sessions. Cleanup is the runner's: every container, network and volume a
//! scenario makes is removed with its Compose project.
//!
//! Text in a scenario may name what only exists once it runs:
//! `{container:SERVICE}` (a service's container), `{project}` (the Compose
//! project), `{repo}` (the repo's path) and `{port:SERVICE}` (a service's
//! published port on loopback).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Set from the file name (`07-paused-container.yaml` is `paused-container`).
    #[serde(skip)]
    pub name: String,
    /// One line for the report.
    pub title: String,
    /// The homelab fault this is, as the operator would say it.
    pub fault_class: String,
    /// Compose services, started before the control plane.
    pub services: BTreeMap<String, ServiceDef>,
    /// Probe entries written to the repo's `.claude-ops/probes/chaos.yaml`.
    #[serde(default)]
    pub probes: Vec<serde_json::Value>,
    /// Files written to the repo (path relative to it -> text).
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Extra control-plane variables (cooldown limits, tiers).
    #[serde(default)]
    pub control_plane: BTreeMap<String, String>,
    /// Steps after the baseline is up and before the fault (a maintenance window).
    #[serde(default)]
    pub setup: Vec<Step>,
    /// What breaks.
    pub fault: Vec<Step>,
    /// What the system must do about it.
    pub expect: Expect,
    /// The services whose containers must not be restarted or changed.
    #[serde(default)]
    pub protect: Vec<String>,
    /// The oracle model's sessions, matched in order (the first script whose
    /// matcher fits a request answers it). Placeholders are filled first.
    pub oracle: serde_json::Value,
}

/// A Compose service, run in the registry-free test image with the host's
/// programs mounted read-only.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDef {
    /// The site whose worker watches it (`home` by default): a scenario may
    /// span a fleet, one worker per site.
    #[serde(default)]
    pub site: Option<String>,
    /// A shell script (`sh -c`).
    pub run: String,
    /// A shell test for Compose's healthcheck, run every second.
    #[serde(default)]
    pub healthcheck: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `NAME:/path` named volumes (made per project), or `{repo}/FILE:/path:ro`
    /// bind mounts of a repo file.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// A port the service listens on inside; published on a free loopback port.
    #[serde(default)]
    pub port: Option<u16>,
    /// The port is UDP (a DNS server).
    #[serde(default)]
    pub udp: bool,
    /// `mem_limit`, for the OOM scenarios.
    #[serde(default)]
    pub mem_limit: Option<String>,
    /// Compose's `restart` policy (`on-failure`, `always`).
    #[serde(default)]
    pub restart: Option<String>,
    /// `tmpfs` mounts as `path:size=1m`.
    #[serde(default)]
    pub tmpfs: Vec<String>,
}

/// One thing the runner does: exactly one of the fields is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// `docker ARGS...` (must succeed).
    #[serde(default)]
    pub docker: Option<Vec<String>>,
    /// `docker exec CONTAINER sh -c SCRIPT` in a service's container.
    #[serde(default)]
    pub exec: Option<Exec>,
    /// A request to the control plane's API with its token.
    #[serde(default)]
    pub api: Option<Api>,
    /// `docker compose ARGS...` on the scenario's project (a deploy).
    #[serde(default)]
    pub compose: Option<Vec<String>>,
    /// A change pushed to a file of the repo.
    #[serde(default)]
    pub edit: Option<Edit>,
    /// Waits this long (`2s`).
    #[serde(default)]
    pub sleep: Option<String>,
    /// Repeats steps.
    #[serde(default)]
    pub repeat: Option<Repeat>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exec {
    pub service: String,
    pub script: String,
}

/// Replaces `replace` with `with` in `file` (relative to the repo); the text
/// must be there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    pub file: String,
    pub replace: String,
    pub with: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub body: serde_json::Value,
}

/// Repeats `steps` every `every` for `for`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    pub every: String,
    #[serde(rename = "for")]
    pub during: String,
    pub steps: Vec<Step>,
}

impl Step {
    fn check(&self, services: &BTreeMap<String, ServiceDef>) -> Result<(), String> {
        let set = [
            self.docker.is_some(),
            self.exec.is_some(),
            self.api.is_some(),
            self.compose.is_some(),
            self.edit.is_some(),
            self.sleep.is_some(),
            self.repeat.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set != 1 {
            return Err(
                "a step is exactly one of docker, exec, api, compose, edit, sleep, repeat".into(),
            );
        }
        if let Some(edit) = &self.edit
            && (edit.file.contains("..") || edit.file.starts_with('/'))
        {
            return Err(format!("edit {:?}: a path inside the repo", edit.file));
        }
        if let Some(exec) = &self.exec
            && !services.contains_key(&exec.service)
        {
            return Err(format!(
                "exec in {:?}, which is not a service",
                exec.service
            ));
        }
        for text in self
            .sleep
            .iter()
            .chain(self.repeat.iter().flat_map(|r| [&r.every, &r.during]))
        {
            duration(text)?;
        }
        for step in self.repeat.iter().flat_map(|r| &r.steps) {
            step.check(services)?;
        }
        Ok(())
    }
}

/// The right outcome.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The service an incident must open for, within `detect_within`; none
    /// when the right answer is that nothing happens.
    #[serde(default)]
    pub incident: Option<String>,
    /// More services that must each get an incident (another site's fault).
    #[serde(default)]
    pub more_incidents: Vec<String>,
    /// How many "incident opened" notifications go out (grouped across sites).
    #[serde(default)]
    pub opened_notifications: Option<usize>,
    /// Seconds from the fault to the incident.
    #[serde(default = "sixty")]
    pub detect_within: u64,
    /// Seconds from the fault until the scenario is judged.
    #[serde(default = "two_hundred")]
    pub settle_within: u64,
    /// For a quiet scenario: how long nothing must happen.
    #[serde(default)]
    pub quiet_for: Option<u64>,
    /// The actions that must succeed (`restart web`, `redeploy web`), and the
    /// only ones that may.
    #[serde(default)]
    pub repair: Vec<String>,
    /// The incident closes as verified fixed by the re-run probes.
    #[serde(default)]
    pub verified: bool,
    /// A human is asked (a needs-human event or notification).
    #[serde(default)]
    pub human: bool,
    /// Words the chain's structured responses must contain: the root cause named.
    #[serde(default)]
    pub root_cause: Option<String>,
    /// Services that fail only because the root does: shown as impacted, no
    /// incident of their own.
    #[serde(default)]
    pub impacted: Vec<String>,
    /// At most this many sessions may start.
    #[serde(default)]
    pub max_sessions: Option<usize>,
    /// Actions (`redeploy web`) that wait for a human's approval
    /// (`CLAUDEOPS_APPROVAL_TIER` or `_KINDS` in `control_plane`): the runner,
    /// as the operator, checks that nothing ran while it waited, then
    /// approves it. Any other request waiting for approval is denied.
    #[serde(default)]
    pub approve: Vec<String>,
}

fn sixty() -> u64 {
    60
}

fn two_hundred() -> u64 {
    200
}

/// Why a scenario file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The folder of the scenarios.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Every scenario in `dir`, sorted by file name.
pub fn load_all(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ScenarioError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

/// One scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut scenario: Scenario =
        serde_norway::from_str(&text).map_err(|e| ScenarioError::Parse {
            path: path.to_path_buf(),
            line: e.location().map_or(0, |l| l.line()),
            message: e.to_string(),
        })?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    scenario.name = stem
        .split_once('-')
        .filter(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
        .map_or(stem, |(_, rest)| rest)
        .to_owned();
    scenario.check().map_err(|message| ScenarioError::Invalid {
        path: path.to_path_buf(),
        message,
    })?;
    Ok(scenario)
}

impl Scenario {
    /// What a file can get wrong beyond its shape.
    fn check(&self) -> Result<(), String> {
        if self.services.is_empty() {
            return Err("no services".into());
        }
        for name in self.services.keys().chain(&self.protect) {
            if !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(format!(
                    "service {name:?}: use lowercase letters, digits and '-'"
                ));
            }
        }
        for name in &self.protect {
            if !self.services.contains_key(name) {
                return Err(format!("protect names {name:?}, which is not a service"));
            }
        }
        for (name, def) in &self.services {
            for dep in &def.depends_on {
                if !self.services.contains_key(dep) {
                    return Err(format!("{name} depends on {dep:?}, which is not a service"));
                }
            }
        }
        for name in self
            .expect
            .impacted
            .iter()
            .chain(&self.expect.more_incidents)
        {
            if !self.services.contains_key(name) {
                return Err(format!("impacted names {name:?}, which is not a service"));
            }
        }
        for action in &self.expect.repair {
            let (kind, service) = action
                .split_once(' ')
                .ok_or_else(|| format!("repair {action:?}: write it as `restart SERVICE`"))?;
            if !matches!(kind, "restart" | "redeploy") {
                return Err(format!(
                    "repair {action:?}: the kinds are restart and redeploy"
                ));
            }
            if !self.services.contains_key(service) {
                return Err(format!("repair {action:?}: {service} is not a service"));
            }
        }
        for step in self.setup.iter().chain(&self.fault) {
            step.check(&self.services)?;
        }
        for path in self.files.keys() {
            if path.contains("..") || path.starts_with('/') {
                return Err(format!("files: {path:?} must be a path inside the repo"));
            }
        }
        if self.expect.incident.is_none() && self.expect.quiet_for.is_none() {
            return Err("expect either an incident or quiet_for".into());
        }
        if !self.oracle.is_array() {
            return Err("oracle: a list of scripts".into());
        }
        Ok(())
    }

    /// The sites the scenario spans, sorted.
    pub fn sites(&self) -> Vec<String> {
        let mut sites: Vec<String> = self
            .services
            .values()
            .map(|d| d.site.clone().unwrap_or_else(|| "home".into()))
            .collect();
        sites.sort();
        sites.dedup();
        sites
    }

    /// The site of a service.
    pub fn site_of(&self, service: &str) -> String {
        self.services
            .get(service)
            .and_then(|d| d.site.clone())
            .unwrap_or_else(|| "home".into())
    }

    /// Every service that must get an incident.
    pub fn incident_services(&self) -> Vec<String> {
        self.expect
            .incident
            .iter()
            .chain(&self.expect.more_incidents)
            .cloned()
            .collect()
    }

    /// The expected repairs as (kind, service).
    /// Whether the scenario's control plane holds this kind of action for a
    /// human (`restart` is tier 2, `redeploy` tier 3).
    pub fn gated(&self, kind: &str) -> bool {
        let tier = self
            .control_plane
            .get("CLAUDEOPS_APPROVAL_TIER")
            .and_then(|t| t.trim().parse::<u8>().ok());
        let kind_tier = if kind == "restart" { 2 } else { 3 };
        let listed = self
            .control_plane
            .get("CLAUDEOPS_APPROVAL_KINDS")
            .is_some_and(|kinds| kinds.split(',').any(|k| k.trim() == kind));
        listed || tier.is_some_and(|t| kind_tier >= t)
    }

    pub fn repairs(&self) -> Vec<(String, String)> {
        self.expect
            .repair
            .iter()
            .filter_map(|a| a.split_once(' '))
            .map(|(k, s)| (k.to_owned(), s.to_owned()))
            .collect()
    }
}

/// Parses `2s`, `500ms`, `1m`.
pub fn duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_scenario_loads() {
        let all = load_all(&default_dir()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!all.is_empty());
        let mut names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        names.dedup();
        assert_eq!(names.len(), all.len(), "names are unique");
    }

    #[test]
    fn a_bad_file_says_where() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("01-bad.yaml");
        std::fs::write(&path, "title: x\nfault_class: y\nservices: [\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let error = load(&path).map(|_| ()).unwrap_err_or_panic();
        assert!(error.contains("01-bad.yaml:"), "{error}");
        std::fs::write(
            &path,
            "title: x\nfault_class: y\nservices: {web: {run: 'sleep 1'}}\nfault: []\nexpect: {incident: web, repair: ['reboot web']}\noracle: []\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let error = load(&path).map(|_| ()).unwrap_err_or_panic();
        assert!(
            error.contains("the kinds are restart and redeploy"),
            "{error}"
        );
    }

    #[test]
    fn a_scenario_says_which_actions_wait_for_a_human() {
        let all = load_all(&default_dir()).unwrap_or_else(|e| panic!("{e}"));
        let port = all
            .iter()
            .find(|s| s.name == "wrong-published-port")
            .unwrap_or_else(|| panic!("the redeploy scenario"));
        assert!(port.gated("redeploy"));
        assert!(!port.gated("restart"));
        assert_eq!(port.expect.approve, ["redeploy web"]);
        let mut kinds = port.clone();
        kinds.control_plane =
            BTreeMap::from([("CLAUDEOPS_APPROVAL_KINDS".to_owned(), "restart".to_owned())]);
        assert!(kinds.gated("restart"));
        assert!(!kinds.gated("redeploy"));
        kinds.control_plane.clear();
        assert!(!kinds.gated("restart") && !kinds.gated("redeploy"));
    }

    trait ErrOrPanic {
        fn unwrap_err_or_panic(self) -> String;
    }

    impl ErrOrPanic for Result<(), ScenarioError> {
        fn unwrap_err_or_panic(self) -> String {
            match self {
                Ok(()) => panic!("loaded a bad scenario"),
                Err(e) => e.to_string(),
            }
        }
    }
}
