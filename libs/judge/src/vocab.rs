//! The judge's vocabulary: what a part of a command line is ([`Category`]),
//! where it runs ([`Context`]) and the answer ([`Verdict`]).
//!
//! Why it exists: nearly every module of the crate speaks these words, so they
//! live in a leaf that the others import and that imports nothing of the crate.
//! What it must not do: import another module of this crate, or decide
//! anything beyond ordering categories by how bad they are.

use claudeops_core::Tier;
use serde::{Deserialize, Serialize};

/// Wrappers nested deeper than this are refused.
pub(crate) const MAX_WRAPPER_DEPTH: usize = 8;

/// What one program invocation does, as far as the tiers are concerned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Category {
    /// Reads state only. Tier 1 and up.
    ReadOnly,
    /// Restarts, starts or stops a container or service. Tier 2 and up.
    Restart { target: String },
    /// `chmod`, `chown` or `chgrp` outside the repos dir. Tier 2 and up.
    FilePermissions { target: String },
    /// Sends a notification through Apprise. Tier 2 and up.
    Notify,
    /// Runs a program for every file a search finds (`find -exec`); each
    /// program is judged too. Tier 2 and up: at Tier 1 a search only reads.
    Exec { what: String },
    /// Redeploys with Compose, Ansible (with `--limit`), Helm or kubectl. Tier 3.
    Redeploy { target: String },
    /// Removes and creates containers, or pulls images. Tier 3.
    Recreate { target: String },
    /// Writes files or changes state in a way no tier allows.
    Write { what: String },
    /// A program that is not on our lists (or a program name that is not a
    /// literal word).
    Unknown { program: String },
    /// A known program used in a way we cannot confirm is safe.
    Unclear { reason: String },
    /// Text that could not be parsed with confidence.
    Unparseable { reason: String },
    /// Forbidden at every tier; `reason` names the rule.
    Never { reason: String },
}

impl Category {
    /// The lowest tier that allows this category, or `None` when no tier does.
    pub fn min_tier(&self) -> Option<Tier> {
        match self {
            Category::ReadOnly => Some(Tier::Observe),
            Category::Restart { .. }
            | Category::FilePermissions { .. }
            | Category::Notify
            | Category::Exec { .. } => Some(Tier::Investigate),
            Category::Redeploy { .. } | Category::Recreate { .. } => Some(Tier::Remediate),
            Category::Write { .. }
            | Category::Unknown { .. }
            | Category::Unclear { .. }
            | Category::Unparseable { .. }
            | Category::Never { .. } => None,
        }
    }

    /// How bad it is: higher is reported first when several parts are refused.
    pub(crate) fn severity(&self) -> u8 {
        match self {
            Category::ReadOnly => 0,
            Category::Restart { .. }
            | Category::FilePermissions { .. }
            | Category::Notify
            | Category::Exec { .. } => 1,
            Category::Redeploy { .. } | Category::Recreate { .. } => 2,
            Category::Write { .. } | Category::Unknown { .. } | Category::Unclear { .. } => 3,
            Category::Unparseable { .. } => 4,
            Category::Never { .. } => 5,
        }
    }

    pub(crate) fn never(reason: &str) -> Category {
        Category::Never {
            reason: reason.to_owned(),
        }
    }
    pub(crate) fn write(what: impl Into<String>) -> Category {
        Category::Write { what: what.into() }
    }
    pub(crate) fn unclear(reason: impl Into<String>) -> Category {
        Category::Unclear {
            reason: reason.into(),
        }
    }

    /// The worse of two categories (the first on a tie).
    pub(crate) fn worst(self, other: Category) -> Category {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}

/// What the judge knows about where the command runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    /// `CLAUDEOPS_REPOS_DIR`: nothing may write inside it.
    pub repos_dir: String,
    /// The shell's working directory, when known (the hook input's `cwd`).
    pub cwd: Option<String>,
    /// Dry run: only read-only commands are allowed.
    pub dry_run: bool,
    /// Absolute paths the agent may never read, name, search or change: the
    /// worker's key and its actions socket directory, and whatever the
    /// operator adds. The directory holding each one is off limits too
    /// (except the session workspace), and so is a recursive search of any
    /// directory above it.
    #[serde(default)]
    pub protected: Vec<String>,
    /// The session workspace: readable even when it lies inside the
    /// directory of a protected path.
    #[serde(default)]
    pub workspace: Option<String>,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            repos_dir: "/repos".to_owned(),
            cwd: None,
            dry_run: false,
            protected: Vec::new(),
            workspace: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Deny,
}

/// The answer for the hook: the decision, a one-sentence reason for the model,
/// and the category of every part that was judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub decision: Decision,
    pub reason: String,
    pub categories: Vec<Category>,
}
