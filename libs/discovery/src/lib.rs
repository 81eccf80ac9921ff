//! Discovery: what a worker finds on its host.
//!
//! Each cycle the worker calls [`discover`] with its repos directory and the
//! containers it read from the Docker Engine. Discovery reads files only: no
//! network, no Docker calls. It returns an [`Inventory`]: the repos (manifest,
//! `.claude-ops/` extensions, compose files), the services all of them describe
//! together, the probes they imply, and the problems met on the way.
//!
//! It never fails and never panics: a file it cannot read is a [`Problem`]
//! naming the file and line, and everything else is still found. The formats
//! are described in `docs/discovery.md`.

mod compose;
mod discover;
mod extensions;
mod files;
mod labels;
mod manifest;
mod markdown;
mod mcp;
mod model;
mod probe_file;
mod probes;
mod services;
mod yaml_lines;

use std::path::Path;

pub use claudeops_core::probe::{ProbeSpec, Source};
pub use extensions::{DEFAULT_TIER, playbook_tier};
pub use files::{MAX_FILE_BYTES, ReadError};
pub use model::{
    COMPOSE_PROJECT_LABEL, COMPOSE_SERVICE_LABEL, Capability, ComposeFile, ContainerInfo,
    ContainerRef, Document, Extensions, Host, Inventory, Manifest, ManifestService, McpServer,
    McpTransport, Origin, Playbook, Port, Problem, PublishedPort, Repo, Service,
};
pub use probes::{HEALTHY, RUNNING};

/// The manifest's file name at a repo's root.
pub const MANIFEST_FILE: &str = "CLAUDE-OPS.md";

/// Container labels discovery reads.
pub mod label {
    pub use crate::labels::{ENABLE, PROBE_PREFIX, SERVICE};
}

/// How far discovery looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How many directories below a repo's root compose files are looked for
    /// (0: the root only). Default 2.
    pub compose_depth: usize,
    /// This worker's host name: what runs here is recorded on it, and manifest
    /// rows for other hosts stay apart from local services of the same name.
    pub host: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            compose_depth: 2,
            host: None,
        }
    }
}

/// Discovers with the default [`Options`].
pub fn discover(repos_dir: &Path, containers: &[ContainerInfo]) -> Inventory {
    discover_with(repos_dir, containers, &Options::default())
}

/// Reads every repo directly under `repos_dir` and joins what they say with
/// `containers`.
pub fn discover_with(
    repos_dir: &Path,
    containers: &[ContainerInfo],
    options: &Options,
) -> Inventory {
    discover::run(repos_dir, containers, options)
}

/// Parsers of single files, for tools and for tests that feed them anything.
pub mod parse {
    use crate::model::{Manifest, McpServer, Problem};
    use claudeops_core::probe::ProbeSpec;

    /// A `CLAUDE-OPS.md`; `path` names it in problems.
    pub fn manifest(text: &str, path: &str) -> (Manifest, Vec<Problem>) {
        crate::manifest::parse(text, path)
    }

    /// A `.claude-ops/probes/*.yaml` file.
    pub fn probe_file(text: &str, path: &str) -> (Vec<ProbeSpec>, Vec<Problem>) {
        let parsed = crate::probe_file::parse(text, path);
        (parsed.probes, parsed.problems)
    }

    /// A `.claude-ops/mcp.json` file.
    pub fn mcp(text: &str, path: &str) -> (Vec<McpServer>, Vec<Problem>) {
        crate::mcp::parse(text, path)
    }

    /// A compose file: the project it ends up in and its service names.
    pub fn compose(text: &str, path: &str, project: &str) -> (String, Vec<String>, Vec<Problem>) {
        let (doc, problems) = crate::compose::parse(text, path, project);
        let names = doc.services.into_iter().map(|s| s.name).collect();
        (doc.project, names, problems)
    }
}
