//! What a repo holds, as discovery read it: its `CLAUDE-OPS.md` manifest, its
//! `.claude-ops/` extensions and its compose files.

use serde::{Deserialize, Serialize};

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
