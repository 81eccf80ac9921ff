//! What each tier may do, expressed as the `claude` CLI's own permission flags.
//!
//! Three layers, all enforced by the CLI, none by prompt text:
//! - `--tools`: which built-in tools exist at all;
//! - `--allowedTools`: what runs without asking (read-only file tools, and the
//!   typed remediation actions of the tier);
//! - `--disallowedTools`: the never-allowed list and raw remediation commands.
//!   The CLI lets a deny rule beat every allow, a hook's included, so operators
//!   may add to a tier's lists but nothing lifts these.
//!
//! Bash is not allow-listed by prefix at all: every command goes to the
//! PreToolUse hook, which judges it whole (`claudeops-judge`).

use crate::Tier;

/// Built-in tools that exist in a session (`--tools`), as the original's
/// `CLAUDEOPS_ALLOWED_TOOLS`, less `Task`: sub-agents at every tier multiply the
/// cost of a session, and its definition alone is about 12 KB of every request.
pub const DEFAULT_TOOLS: &[&str] = &["Bash", "Read", "Grep", "Glob", "WebFetch"];

/// The MCP server name of the worker's typed actions.
pub const ACTIONS_SERVER: &str = "claudeops";

/// Never, at any tier. Prefix rules catch the plain forms; the hook catches
/// wrapped ones (`ssh host ...`, `sh -c ...`).
pub const NEVER_ALLOWED: &[&str] = &[
    "Write",
    "Edit",
    "NotebookEdit",
    "Bash(docker system prune:*)",
    "Bash(docker volume rm:*)",
    "Bash(docker volume prune:*)",
    "Bash(git push:*)",
    "Bash(rm -rf /:*)",
    "Bash(mkfs:*)",
];

/// Remediation that must go through the typed actions (and so the cooldown
/// ledger), never raw Bash.
pub const RAW_REMEDIATION: &[&str] = &[
    "Bash(docker restart:*)",
    "Bash(docker compose up:*)",
    "Bash(docker-compose up:*)",
    "Bash(ansible-playbook:*)",
    "Bash(helm:*)",
    "Bash(kubectl rollout:*)",
];

/// A comma-separated list of tool names or rules, as the `CLAUDEOPS_*_TOOLS`
/// variables hold them; blanks are dropped.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The typed actions a tier may call, as MCP tool names.
pub fn actions(tier: Tier) -> Vec<String> {
    let mut names = Vec::new();
    if tier >= Tier::Investigate {
        names.push("restart_container");
    }
    if tier >= Tier::Remediate {
        names.push("redeploy_service");
    }
    names
        .into_iter()
        .map(|n| format!("mcp__{ACTIONS_SERVER}__{n}"))
        .collect()
}

/// The CLI rule naming every tool of an MCP server (`mcp__NAME`).
pub fn mcp_server_rule(server: &str) -> String {
    format!("mcp__{server}")
}

/// Approves the tools of repo MCP servers at their tier and above, and denies
/// them below it (deny beats allow, so nothing lifts that). `servers` holds
/// each server's name and the lowest tier that may use it. The worker's own
/// server name is never granted this way: its tools are [`actions`].
pub fn add_repo_servers(flags: &mut ToolFlags, tier: Tier, servers: &[(String, Tier)]) {
    for (name, min_tier) in servers {
        if name == ACTIONS_SERVER {
            continue;
        }
        let rule = mcp_server_rule(name);
        if tier >= *min_tier {
            flags.allowed.push(rule);
        } else {
            flags.disallowed.push(rule);
        }
    }
}

/// The CLI flags for one tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolFlags {
    pub tools: Vec<String>,
    pub allowed: Vec<String>,
    pub disallowed: Vec<String>,
}

/// The tool flags of a tier, with operator additions. The operator's deny rules
/// come first, the built-in ones last; both win over any allow.
pub fn tool_flags(
    tier: Tier,
    tools: &[String],
    extra_allowed: &[String],
    extra_disallowed: &[String],
) -> ToolFlags {
    let mut allowed: Vec<String> = ["Read", "Grep", "Glob", "WebFetch"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    allowed.extend(actions(tier));
    allowed.extend(extra_allowed.iter().cloned());
    let mut disallowed: Vec<String> = extra_disallowed.to_vec();
    disallowed.extend(NEVER_ALLOWED.iter().map(|s| (*s).to_owned()));
    disallowed.extend(RAW_REMEDIATION.iter().map(|s| (*s).to_owned()));
    ToolFlags {
        tools: tools
            .iter()
            .filter(|t| !NEVER_ALLOWED.contains(&t.as_str()))
            .cloned()
            .collect(),
        allowed,
        disallowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_get_their_actions_and_never_lose_the_deny_list() {
        let tools: Vec<String> = ["Bash", "Read", "Write"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let extra = vec!["Bash(docker system prune:*)".to_owned()];
        let t1 = tool_flags(Tier::Observe, &tools, &extra, &[]);
        assert!(!t1.allowed.iter().any(|a| a.starts_with("mcp__")));
        assert_eq!(t1.tools, ["Bash", "Read"], "Write never exists");
        for rule in NEVER_ALLOWED.iter().chain(RAW_REMEDIATION) {
            assert!(t1.disallowed.iter().any(|d| d == rule), "{rule}");
        }
        let t2 = tool_flags(Tier::Investigate, &tools, &[], &["Bash(curl:*)".to_owned()]);
        assert_eq!(
            actions(Tier::Investigate),
            ["mcp__claudeops__restart_container"]
        );
        assert!(
            t2.allowed
                .contains(&"mcp__claudeops__restart_container".to_owned())
        );
        assert_eq!(t2.disallowed[0], "Bash(curl:*)");
        assert_eq!(actions(Tier::Remediate).len(), 2);
    }

    #[test]
    fn repo_servers_are_approved_only_from_their_tier() {
        let servers = [
            ("inventory".to_owned(), Tier::Investigate),
            ("deployer".to_owned(), Tier::Remediate),
            ("grafana".to_owned(), Tier::Observe),
            (ACTIONS_SERVER.to_owned(), Tier::Observe),
        ];
        let cases = [
            (
                Tier::Observe,
                vec!["mcp__grafana"],
                vec!["mcp__inventory", "mcp__deployer"],
            ),
            (
                Tier::Investigate,
                vec!["mcp__inventory", "mcp__grafana"],
                vec!["mcp__deployer"],
            ),
            (
                Tier::Remediate,
                vec!["mcp__inventory", "mcp__deployer", "mcp__grafana"],
                vec![],
            ),
        ];
        for (tier, allowed, denied) in cases {
            let mut flags = tool_flags(tier, &[], &[], &[]);
            let before = flags.clone();
            add_repo_servers(&mut flags, tier, &servers);
            let added =
                |all: &[String], old: &[String]| -> Vec<String> { all[old.len()..].to_vec() };
            assert_eq!(
                added(&flags.allowed, &before.allowed),
                allowed,
                "tier {tier}"
            );
            assert_eq!(
                added(&flags.disallowed, &before.disallowed),
                denied,
                "tier {tier}"
            );
            assert!(!flags.allowed.contains(&"mcp__claudeops".to_owned()));
        }
    }
}
