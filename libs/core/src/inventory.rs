//! The inventory: what one worker found on its host in one discovery cycle
//! (repos, services, probes with the file and line they came from, problems).
//!
//! Discovery builds it, the worker sends it to the control plane as JSON, and
//! the control plane stores that JSON and reads it back with
//! [`Inventory::from_json`]. The JSON is the stored format: a field may be added
//! (with a default), never renamed or removed, so reports already stored stay
//! readable. This module only converts; it never reads a file or the network.

mod repo;
mod service;

use serde::{Deserialize, Serialize};

use crate::probe::ProbeSpec;

pub use repo::{
    Capability, ComposeFile, Document, Extensions, Host, Manifest, ManifestService, McpServer,
    McpTransport, Playbook, Repo,
};
pub use service::{ContainerRef, Origin, Port, Service};

/// Everything one worker found on its host in one cycle.
///
/// Every list is in a fixed order (repos by name, services by name, host and
/// project, probes by name, problems by path and line), so two runs over the
/// same files and containers give the same JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Inventory {
    pub repos: Vec<Repo>,
    pub services: Vec<Service>,
    /// Each probe with its `source` (serialised beside the spec's own fields).
    #[serde(with = "probe_json")]
    pub probes: Vec<ProbeSpec>,
    pub problems: Vec<Problem>,
}

/// A report that does not read as an inventory.
#[derive(Debug, thiserror::Error)]
#[error(
    "the inventory report does not read as an inventory ({0}); the worker may be newer than the control plane"
)]
pub struct InventoryError(#[from] serde_json::Error);

impl Inventory {
    /// Reads a report as the worker sent it (and as it is stored).
    pub fn from_json(json: &str) -> Result<Inventory, InventoryError> {
        Ok(serde_json::from_str(json)?)
    }

    /// The report to send: the stored format, in the fixed order.
    pub fn to_json(&self) -> Result<String, InventoryError> {
        Ok(serde_json::to_string(self)?)
    }
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

/// Probes in the inventory's JSON carry their `source`, which `ProbeSpec` itself
/// never serialises (an operator must not be able to write one in YAML). Each
/// probe becomes the spec's own fields plus `"source": {"kind": ...}`.
mod probe_json {
    use serde::de::Error as _;
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::probe::{ProbeSpec, Source};

    #[derive(Serialize)]
    struct WithSourceRef<'a> {
        #[serde(flatten)]
        spec: &'a ProbeSpec,
        source: &'a Source,
    }

    #[derive(Deserialize)]
    struct WithSource {
        #[serde(default)]
        source: Source,
        #[serde(flatten)]
        rest: serde_json::Map<String, serde_json::Value>,
    }

    pub fn serialize<S: Serializer>(probes: &[ProbeSpec], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(probes.len()))?;
        for spec in probes {
            seq.serialize_element(&WithSourceRef {
                spec,
                source: &spec.source,
            })?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ProbeSpec>, D::Error> {
        let items = Vec::<WithSource>::deserialize(d)?;
        items
            .into_iter()
            .map(|item| {
                let mut spec = ProbeSpec::deserialize(serde_json::Value::Object(item.rest))
                    .map_err(D::Error::custom)?;
                spec.source = item.source;
                Ok(spec)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
