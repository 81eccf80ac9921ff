//! A service as the manifests, compose files and containers describe it
//! together, and where each fact came from.

use serde::{Deserialize, Serialize};

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
