//! The session's MCP configuration: the worker's own server first, then each
//! repo's `.claude-ops/mcp.json`, merged in a fixed order without overwriting,
//! and the tier each repo server needs.

use std::path::Path;

use claudeops_core::Tier;
use claudeops_core::policy::ACTIONS_SERVER;
use claudeops_discovery::{Problem, Repo};
use serde_json::{Map, Value};

/// The tier a repo MCP server needs when the repo's manifest does not say.
pub const DEFAULT_MCP_TIER: Tier = Tier::Investigate;

/// Why a repo MCP server was left out of the merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpConflict {
    /// The name is taken by the worker's own server or an earlier repo.
    Clash {
        repo: String,
        server: String,
        /// `None`: the worker's own (baseline) server.
        kept_from: Option<String>,
    },
    /// The name has characters the CLI would rewrite in tool names.
    BadName { repo: String, server: String },
}

/// A merged MCP configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct McpMerge {
    /// Server name to definition. The merge order (the baseline, then repos by
    /// name) decides which definition of a name wins; the map itself is sorted.
    pub servers: Map<String, Value>,
    /// The repo servers kept: (repo, server, lowest tier allowed to use it).
    pub repo_servers: Vec<(String, String, Tier)>,
    pub conflicts: Vec<McpConflict>,
}

impl McpMerge {
    /// The servers a tier may start: the baseline and repo servers whose tier
    /// is at most `tier`.
    pub fn for_tier(&self, tier: Tier) -> Map<String, Value> {
        let above: Vec<&str> = self
            .repo_servers
            .iter()
            .filter(|(_, _, min)| *min > tier)
            .map(|(_, name, _)| name.as_str())
            .collect();
        self.servers
            .iter()
            .filter(|(name, _)| !above.contains(&name.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Merges the baseline servers with each repo's `.claude-ops/mcp.json`: the
/// baseline first, then repos by name, each repo's servers by name. The first
/// definition of a name is kept; a later one is a conflict, never an
/// overwrite. The worker's own server name is reserved even at tiers that do
/// not start it. Pure: no I/O.
pub fn merge_mcp(baseline: &Map<String, Value>, repos: &[Repo]) -> McpMerge {
    let mut merge = McpMerge {
        servers: baseline.clone(),
        ..McpMerge::default()
    };
    let mut owner: Vec<(String, Option<String>)> =
        baseline.keys().map(|k| (k.clone(), None)).collect();
    if !baseline.contains_key(ACTIONS_SERVER) {
        owner.push((ACTIONS_SERVER.to_owned(), None));
    }
    let mut sorted: Vec<&Repo> = repos.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for repo in sorted {
        let mut servers: Vec<_> = repo.extensions.mcp_servers.iter().collect();
        servers.sort_by(|a, b| a.name.cmp(&b.name));
        for server in servers {
            let (repo_name, name) = (repo.name.clone(), server.name.clone());
            if !valid_server_name(&name) {
                merge.conflicts.push(McpConflict::BadName {
                    repo: repo_name,
                    server: name,
                });
            } else if let Some((_, kept)) = owner.iter().find(|(n, _)| *n == name) {
                merge.conflicts.push(McpConflict::Clash {
                    repo: repo_name,
                    server: name,
                    kept_from: kept.clone(),
                });
            } else {
                owner.push((name.clone(), Some(repo_name.clone())));
                merge.servers.insert(name.clone(), server.config.clone());
                let tier = mcp_tier(repo, &name);
                merge.repo_servers.push((repo_name, name, tier));
            }
        }
    }
    merge
}

/// The lowest tier that may use a repo's MCP server: the `min_tier` of the
/// manifest capability named like the server (`- **NAME**: ... Tier 3 only`),
/// else [`DEFAULT_MCP_TIER`].
pub fn mcp_tier(repo: &Repo, server: &str) -> Tier {
    repo.manifest
        .iter()
        .flat_map(|m| &m.capabilities)
        .find(|c| c.name.eq_ignore_ascii_case(server))
        .and_then(|c| c.min_tier)
        .and_then(|t| Tier::try_from(i64::from(t)).ok())
        .unwrap_or(DEFAULT_MCP_TIER)
}

/// Letters, digits, `-` and `_` (no `__`): names the CLI keeps as they are in
/// `mcp__NAME__TOOL`, and that split back out of a tool name.
fn valid_server_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains("__")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The merge conflicts of an inventory's repos as discovery problems, so the
/// control plane reports them as events.
pub fn mcp_problems(repos: &[Repo]) -> Vec<Problem> {
    merge_mcp(&Map::new(), repos)
        .conflicts
        .into_iter()
        .map(|conflict| {
            let (repo, server, message) = match conflict {
                McpConflict::Clash {
                    repo,
                    server,
                    kept_from,
                } => {
                    let first = kept_from.map_or_else(
                        || "the worker's own typed-action server".to_owned(),
                        |r| format!("repo `{r}`, which comes first by name"),
                    );
                    let message = format!(
                        "MCP server `{server}` is already defined by {first}; this one is left out of sessions; rename it"
                    );
                    (repo, server, message)
                }
                McpConflict::BadName { repo, server } => {
                    let message = format!(
                        "MCP server name `{server}` may hold only letters, digits, `-` and single `_`; it is left out of sessions; rename it"
                    );
                    (repo, server, message)
                }
            };
            let file = format!("{repo}/.claude-ops/mcp.json");
            let line = repos
                .iter()
                .find(|r| r.name == repo)
                .and_then(|r| server_line(Path::new(&r.path), &server));
            Problem::new(file, line, message)
        })
        .collect()
}

/// The line of `"server":` in a repo's `mcp.json`, when it can be read.
fn server_line(repo: &Path, server: &str) -> Option<u32> {
    let text = std::fs::read_to_string(repo.join(".claude-ops/mcp.json")).ok()?;
    let quoted = serde_json::to_string(server).ok()?;
    let index = text.lines().position(|l| {
        l.find(&quoted)
            .is_some_and(|at| l[at + quoted.len()..].trim_start().starts_with(':'))
    })?;
    u32::try_from(index + 1).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn repo(name: &str, servers: &[&str], capabilities: &[(&str, u8)]) -> Repo {
        let manifest = claudeops_discovery::Manifest {
            capabilities: capabilities
                .iter()
                .map(|(n, t)| claudeops_discovery::Capability {
                    name: (*n).to_owned(),
                    description: String::new(),
                    min_tier: Some(*t),
                    line: 1,
                })
                .collect(),
            ..Default::default()
        };
        let mut repo = Repo {
            name: name.to_owned(),
            path: format!("/nonexistent/{name}"),
            manifest: Some(manifest),
            ..Default::default()
        };
        repo.extensions.mcp_servers = servers
            .iter()
            .map(|s| claudeops_discovery::McpServer {
                name: (*s).to_owned(),
                transport: claudeops_discovery::McpTransport::Stdio,
                config: json!({"command": format!("{name}-{s}")}),
            })
            .collect();
        repo
    }

    #[test]
    fn merges_baseline_first_then_repos_by_name_keeping_the_first() {
        let baseline: Map<String, Value> =
            serde_json::from_value(json!({"claudeops": {"command": "worker"}}))
                .unwrap_or_else(|e| panic!("{e}"));
        // Given out of order: the merge sorts repos by name.
        let repos = [
            repo("b-repo", &["grafana", "loki"], &[]),
            repo(
                "a-repo",
                &["grafana", "claudeops", "bad name", "x__y"],
                &[("grafana", 3)],
            ),
        ];
        let merge = merge_mcp(&baseline, &repos);
        let names: Vec<&String> = merge.servers.keys().collect();
        assert_eq!(names, ["claudeops", "grafana", "loki"]);
        assert_eq!(merge.servers["claudeops"]["command"], "worker");
        assert_eq!(merge.servers["grafana"]["command"], "a-repo-grafana");
        assert_eq!(
            merge.repo_servers,
            [
                ("a-repo".to_owned(), "grafana".to_owned(), Tier::Remediate),
                ("b-repo".to_owned(), "loki".to_owned(), DEFAULT_MCP_TIER),
            ]
        );
        assert_eq!(
            merge.conflicts,
            [
                McpConflict::BadName {
                    repo: "a-repo".into(),
                    server: "bad name".into()
                },
                McpConflict::Clash {
                    repo: "a-repo".into(),
                    server: "claudeops".into(),
                    kept_from: None
                },
                McpConflict::BadName {
                    repo: "a-repo".into(),
                    server: "x__y".into()
                },
                McpConflict::Clash {
                    repo: "b-repo".into(),
                    server: "grafana".into(),
                    kept_from: Some("a-repo".into())
                },
            ]
        );
        let names = |tier| -> Vec<String> { merge.for_tier(tier).keys().cloned().collect() };
        assert_eq!(names(Tier::Observe), ["claudeops"]);
        assert_eq!(names(Tier::Investigate), ["claudeops", "loki"]);
        assert_eq!(names(Tier::Remediate), ["claudeops", "grafana", "loki"]);
    }

    #[test]
    fn the_actions_server_name_is_reserved_without_a_baseline() {
        let merge = merge_mcp(&Map::new(), &[repo("r", &["claudeops"], &[])]);
        assert!(merge.servers.is_empty());
        let problems = mcp_problems(&[
            repo("r", &["claudeops"], &[]),
            repo("s", &["x"], &[]),
            repo("t", &["x"], &[]),
        ]);
        let got: Vec<(&str, bool)> = problems
            .iter()
            .map(|p| (p.path.as_str(), p.message.contains("rename it")))
            .collect();
        assert_eq!(
            got,
            [
                ("r/.claude-ops/mcp.json", true),
                ("t/.claude-ops/mcp.json", true)
            ]
        );
        assert!(problems[1].message.contains("repo `s`"), "{problems:?}");
    }

    #[test]
    fn capability_tiers_set_a_servers_tier() {
        let r = repo("r", &[], &[("Inventory", 1), ("deploy", 3)]);
        assert_eq!(mcp_tier(&r, "inventory"), Tier::Observe);
        assert_eq!(mcp_tier(&r, "deploy"), Tier::Remediate);
        assert_eq!(mcp_tier(&r, "other"), Tier::Investigate);
        assert_eq!(mcp_tier(&Repo::default(), "x"), Tier::Investigate);
    }
}
