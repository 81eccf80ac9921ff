//! The inventory discovery hands back: plain data, serialisable both ways, so it
//! can travel to the control plane as JSON and be shown as it is.

use std::collections::BTreeMap;

use claudeops_probe::{ProbeSpec, Source};
use serde::{Deserialize, Serialize};

/// Everything one worker found on its host in one cycle.
///
/// Every list is in a fixed order (repos by name, services by name, host and
/// project, probes by name, problems by path and line), so two runs over the
/// same files and containers give the same JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub repos: Vec<Repo>,
    pub services: Vec<Service>,
    /// Each probe with its `source` (serialised beside the spec's own fields).
    #[serde(with = "crate::probe_json")]
    pub probes: Vec<ProbeSpec>,
    pub problems: Vec<Problem>,
}

/// Something discovery could not read. The rest of the inventory is unaffected.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Problem {
    /// Relative to the repos directory (`broken/.claude-ops/mcp.json`), or
    /// `container:NAME` for a container's labels.
    pub path: String,
    /// 1-based, when the problem sits on a known line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, line: Option<u32>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}

/// One directory directly under the repos directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Repo {
    pub name: String,
    /// The directory as the worker sees it.
    pub path: String,
    pub has_manifest: bool,
    /// `CLAUDE-OPS.md`, parsed; absent when the repo has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
    pub extensions: Extensions,
    /// Compose files, relative to the repo.
    pub compose_files: Vec<ComposeFile>,
}

/// What a `CLAUDE-OPS.md` says, in the sections the original defines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The first `# ` heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The text of the `## Kind` section (`Ansible infrastructure`, `Docker images`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub capabilities: Vec<Capability>,
    pub rules: Vec<String>,
    pub hosts: Vec<Host>,
    pub services: Vec<ManifestService>,
}

/// A `- **name**: description` bullet under `## Capabilities`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capability {
    pub name: String,
    pub description: String,
    /// The tier the description asks for (`Tier 3 only`, `Tier 2+`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_tier: Option<u8>,
    pub line: u32,
}

/// A row of a hosts table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The SSH user the manifest suggests (advisory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub line: u32,
}

/// A row of a service inventory table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestService {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The service's address as written (`https://jellyfin.home.lab`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The health endpoint, resolved against `url` when written as a path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_url: Option<String>,
    /// The HTTP status the health endpoint answers with when healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub line: u32,
}

/// The repo's `.claude-ops/` directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extensions {
    /// `.claude-ops/checks/*.md`.
    pub checks: Vec<Document>,
    /// `.claude-ops/playbooks/*.md`.
    pub playbooks: Vec<Playbook>,
    /// `.claude-ops/skills/*`: a `NAME.md` file or a `NAME/` directory.
    pub skills: Vec<String>,
    /// `.claude-ops/mcp.json`: the servers that passed validation.
    pub mcp_servers: Vec<McpServer>,
    /// `.claude-ops/probes/*.yaml` and `*.yml`, file names.
    pub probe_files: Vec<String>,
}

/// A Markdown file: its name and first `# ` heading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub file: String,
    pub title: String,
}

/// A repo playbook and the lowest tier that may use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Playbook {
    pub file: String,
    pub title: String,
    /// From its `**Tier**: N` line; 3 when it has none.
    pub min_tier: u8,
}

/// An MCP server a repo brings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServer {
    pub name: String,
    pub transport: McpTransport,
    /// The server's definition as written, for merging into a session's MCP
    /// configuration. Never serialised: `env` and `headers` often hold secrets.
    #[serde(skip)]
    pub config: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum McpTransport {
    Stdio,
    Http,
    Sse,
}

/// A compose file and the project it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComposeFile {
    /// Relative to the repo (`docker-compose.yml`, `media/compose.yaml`).
    pub path: String,
    /// The Compose project name: the file's `name:`, `COMPOSE_PROJECT_NAME` in the
    /// `.env` beside it, or its directory's name.
    pub project: String,
    pub services: Vec<String>,
}

/// A service, as the manifests, compose files and containers describe it together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    /// The host the manifest names, or this worker's host for what runs here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The Compose project, for services from a compose file or its containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Where each fact came from.
    pub sources: Vec<Origin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// A healthcheck is configured (compose file or container).
    pub healthcheck: bool,
    /// The compose healthcheck's test command, when written there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck_test: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Running containers of this service (several for replicas).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerRef>,
    /// The service opted out of probes (`claudeops.enable=false`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub probes_disabled: bool,
}

/// Where a fact about a service came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Origin {
    /// A row of a `CLAUDE-OPS.md` service table.
    Manifest { path: String, line: u32 },
    /// A service of a compose file.
    Compose { path: String, line: u32 },
    /// A container on the local Docker Engine.
    Container { name: String },
}

/// A port: `published` on the host, `target` in the container.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Port {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<u16>,
    pub protocol: String,
}

/// A running (or stopped) container of a service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContainerRef {
    pub name: String,
    pub id: String,
    pub state: String,
}

/// A container as the worker reads it from the Docker Engine API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// Without the leading `/` the Engine API puts there (it is stripped if present).
    pub name: String,
    pub id: String,
    pub image: String,
    /// `running`, `exited`, `restarting`, `paused`, `created`, `dead`.
    pub state: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub ports: Vec<PublishedPort>,
    /// `com.docker.compose.project`; read from `labels` when left empty.
    #[serde(default)]
    pub compose_project: Option<String>,
    /// `com.docker.compose.service`; read from `labels` when left empty.
    #[serde(default)]
    pub compose_service: Option<String>,
    /// The container has a healthcheck (its own or its image's).
    #[serde(default)]
    pub has_healthcheck: bool,
}

/// The label Compose puts the project name in.
pub const COMPOSE_PROJECT_LABEL: &str = "com.docker.compose.project";
/// The label Compose puts the service name in.
pub const COMPOSE_SERVICE_LABEL: &str = "com.docker.compose.service";

impl ContainerInfo {
    /// The container's name without a leading `/`.
    pub fn plain_name(&self) -> &str {
        self.name.trim_start_matches('/')
    }

    /// The Compose project, from the field or the label.
    pub fn project(&self) -> Option<&str> {
        non_empty(self.compose_project.as_deref())
            .or_else(|| non_empty(self.labels.get(COMPOSE_PROJECT_LABEL).map(String::as_str)))
    }

    /// The Compose service, from the field or the label.
    pub fn service(&self) -> Option<&str> {
        non_empty(self.compose_service.as_deref())
            .or_else(|| non_empty(self.labels.get(COMPOSE_SERVICE_LABEL).map(String::as_str)))
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// A port the Engine reports for a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    /// The port inside the container.
    pub private: u16,
    /// The port on the host, when published.
    #[serde(default)]
    pub public: Option<u16>,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    #[serde(default)]
    pub ip: Option<String>,
}

/// The source of a probe found in a file, with a path relative to the repos directory.
pub(crate) fn file_source(path: &str, line: u32) -> Source {
    Source::File {
        path: path.to_owned(),
        line,
    }
}
