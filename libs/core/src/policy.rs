//! What each tier may do, expressed as the `claude` CLI's own permission flags.
//!
//! The CLI enforces these lists itself (`--tools`, `--allowedTools`,
//! `--disallowedTools`); nothing here relies on prompt text. Operators may add to a
//! tier's lists, but the never-allowed list is always appended last and nothing
//! lifts it: the CLI lets a deny rule beat every allow.

use crate::Tier;

/// Built-in tools that exist in a session (`--tools`), as the original's
/// `CLAUDEOPS_ALLOWED_TOOLS` default.
pub const DEFAULT_TOOLS: &[&str] = &["Bash", "Read", "Grep", "Glob", "Task", "WebFetch"];

/// Commands and tools no tier may ever use. Deny rules beat any allow rule or hook.
pub const NEVER_ALLOWED: &[&str] = &[
    "Write",
    "Edit",
    "NotebookEdit",
    "Bash(docker system prune:*)",
    "Bash(docker volume rm:*)",
    "Bash(docker volume prune:*)",
    "Bash(git push:*)",
    "Bash(rm -rf:*)",
];

const TIER1_ALLOWED: &[&str] = &[
    "Read",
    "Grep",
    "Glob",
    "Bash(curl:*)",
    "Bash(dig:*)",
    "Bash(docker ps:*)",
    "Bash(docker inspect:*)",
    "Bash(docker logs:*)",
];

/// The CLI flags for one tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolFlags {
    pub tools: Vec<String>,
    pub allowed: Vec<String>,
    pub disallowed: Vec<String>,
}

/// The tool flags of a tier, with operator additions.
pub fn tool_flags(
    tier: Tier,
    tools: &[String],
    extra_allowed: &[String],
    extra_disallowed: &[String],
) -> ToolFlags {
    let mut allowed: Vec<String> = TIER1_ALLOWED.iter().map(|s| (*s).to_owned()).collect();
    if tier >= Tier::Investigate {
        allowed.push("Bash(docker restart:*)".to_owned());
    }
    allowed.extend(extra_allowed.iter().cloned());
    let mut disallowed: Vec<String> = extra_disallowed.to_vec();
    disallowed.extend(NEVER_ALLOWED.iter().map(|s| (*s).to_owned()));
    ToolFlags {
        tools: tools.to_vec(),
        allowed,
        disallowed,
    }
}
