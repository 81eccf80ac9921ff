//! What discovery reads and hands back. The inventory's types live in
//! `claudeops_core::inventory` (the control plane reads the same JSON); the
//! containers the worker passes in are discovery's own input.

use std::collections::BTreeMap;

use claudeops_core::probe::Source;
use serde::{Deserialize, Serialize};

pub use claudeops_core::inventory::{
    Capability, ComposeFile, ContainerRef, Document, Extensions, Host, Inventory, Manifest,
    ManifestService, McpServer, McpTransport, Origin, Playbook, Port, Problem, Repo, Service,
};

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
