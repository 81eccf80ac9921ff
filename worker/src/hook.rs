//! `claudeops-worker hook`: the CLI's PreToolUse hook. The CLI runs it for every
//! tool call it is about to make, with the call as JSON on stdin; it answers
//! allow or deny on stdout, with a reason the model sees.
//!
//! The tier, the repos dir and dry run come from the environment the worker gave
//! the CLI (the model cannot change it). Bash commands are judged whole, wrappers
//! included, by `claudeops_judge`; file tools are checked against the
//! paths the agent must never read (the worker's key, the control plane's
//! secrets). MCP tools of repo servers are refused unless the worker approved
//! the server for this session's tier. When unsure, it denies.

use std::path::{Component, Path, PathBuf};

use claudeops_core::Tier;
use claudeops_judge::{self as command, Category, Context, Decision};
use serde_json::{Value, json};

/// Environment variable naming paths the agent may not touch (`:`-separated).
pub const PROTECTED_ENV: &str = "CLAUDEOPS_PROTECTED_PATHS";
/// Environment variable naming the session workspace (always readable).
pub const WORKSPACE_ENV: &str = "CLAUDEOPS_WORKSPACE";
/// Environment variable naming the repo MCP servers this session's tier may
/// use (`,`-separated).
pub const MCP_SERVERS_ENV: &str = "CLAUDEOPS_MCP_SERVERS";

/// What the hook knows besides the tool call.
#[derive(Debug, Clone)]
pub struct HookEnv {
    pub tier: Option<Tier>,
    pub repos_dir: String,
    pub dry_run: bool,
    pub protected: Vec<PathBuf>,
    pub workspace: Option<PathBuf>,
    /// Repo MCP servers approved at this tier.
    pub mcp_servers: Vec<String>,
}

impl HookEnv {
    pub fn from_env() -> HookEnv {
        let var = |k: &str| std::env::var(k).ok();
        HookEnv {
            tier: var("CLAUDEOPS_TIER")
                .and_then(|t| t.parse::<i64>().ok())
                .and_then(|t| Tier::try_from(t).ok()),
            repos_dir: var("CLAUDEOPS_REPOS_DIR").unwrap_or_else(|| "/repos".to_owned()),
            dry_run: var("CLAUDEOPS_DRY_RUN").is_some_and(|v| v == "true"),
            protected: var(PROTECTED_ENV)
                .map(|v| {
                    v.split(':')
                        .filter(|p| !p.is_empty())
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default(),
            workspace: var(WORKSPACE_ENV).map(PathBuf::from),
            mcp_servers: var(MCP_SERVERS_ENV)
                .map(|v| claudeops_core::policy::split_list(&v))
                .unwrap_or_default(),
        }
    }
}

/// The hook's answer: `None` leaves the decision to the CLI's own rules.
pub fn decide(input: &Value, env: &HookEnv) -> Option<(Decision, String)> {
    let Some(tier) = env.tier else {
        return Some((
            Decision::Deny,
            "the hook cannot tell this session's tier, so it refuses every tool call".to_owned(),
        ));
    };
    let tool = input
        .get("tool_name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let tool_input = input.get("tool_input").cloned().unwrap_or(Value::Null);
    let cwd = input.get("cwd").and_then(Value::as_str).map(str::to_owned);
    match tool {
        "Bash" => {
            let command = tool_input
                .get("command")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Some(bash(command, tier, cwd, env))
        }
        "Read" | "Grep" | "Glob" => {
            let path = ["file_path", "path"]
                .iter()
                .find_map(|k| tool_input.get(*k).and_then(Value::as_str))
                .map(str::to_owned)
                .or(cwd.clone())?;
            let path = resolve(&path, cwd.as_deref());
            let searches = tool != "Read";
            protected_reason(&path, searches, env).map(|reason| (Decision::Deny, reason))
        }
        "Write" | "Edit" | "NotebookEdit" => Some((
            Decision::Deny,
            format!("{tool} is never allowed: Claude Ops does not edit files"),
        )),
        _ => tool
            .strip_prefix("mcp__")
            .and_then(|rest| mcp(rest, tier, env))
            .map(|reason| (Decision::Deny, reason)),
    }
}

/// Why an MCP tool (`mcp__SERVER__TOOL`, without the prefix) is refused. The
/// worker's own server is left to the CLI's allow-list and the action
/// dispatcher, which know the tier; any other server must be one the worker
/// approved for this tier.
fn mcp(rest: &str, tier: Tier, env: &HookEnv) -> Option<String> {
    let server = rest.split_once("__").map_or(rest, |(server, _)| server);
    if server == claudeops_core::policy::ACTIONS_SERVER
        || env.mcp_servers.iter().any(|s| s == server)
    {
        return None;
    }
    Some(format!(
        "the MCP server `{server}` is not approved at tier {tier}; its repo's manifest sets the tier that may use it"
    ))
}

/// A command the worker runs on the agent's behalf (a `docker exec` through
/// the session's Docker filter), judged as the hook judges a Bash call.
pub fn judge_command(command: &str, tier: Tier, env: &HookEnv) -> Result<(), String> {
    match bash(command, tier, None, env) {
        (Decision::Allow, _) => Ok(()),
        (_, reason) => Err(reason),
    }
}

fn bash(command: &str, tier: Tier, cwd: Option<String>, env: &HookEnv) -> (Decision, String) {
    let ctx = Context {
        repos_dir: env.repos_dir.clone(),
        cwd: cwd.clone(),
        dry_run: env.dry_run,
        protected: env
            .protected
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect(),
        workspace: env
            .workspace
            .as_ref()
            .map(|w| w.to_string_lossy().into_owned()),
    };
    let verdict = command::judge(command, tier, &ctx);
    if verdict.decision == Decision::Deny {
        return (Decision::Deny, verdict.reason);
    }
    // Remediation goes through the typed actions, which hold the cooldown ledger.
    let remediation = verdict.categories.iter().find(|c| {
        matches!(
            c,
            Category::Restart { .. } | Category::Redeploy { .. } | Category::Recreate { .. }
        )
    });
    if let Some(category) = remediation {
        let action = match category {
            Category::Restart { .. } => "mcp__claudeops__restart_container",
            _ => "mcp__claudeops__redeploy_service",
        };
        return (
            Decision::Deny,
            format!(
                "restarts and redeployments in Bash bypass the cooldown ledger; use the typed action {action} instead"
            ),
        );
    }
    (Decision::Allow, verdict.reason)
}

/// A path with `.` and `..` resolved lexically against `cwd`.
fn resolve(path: &str, cwd: Option<&str>) -> PathBuf {
    let joined = match cwd {
        Some(cwd) if !path.starts_with('/') => Path::new(cwd).join(path),
        _ => PathBuf::from(path),
    };
    let mut out = PathBuf::from("/");
    for part in joined.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(p) => out.push(p),
            _ => {}
        }
    }
    out
}

/// Why `path` may not be read. A search (`contains`) of a directory holding a
/// protected file is refused too, except a search of `/` itself.
fn protected_reason(path: &Path, contains: bool, env: &HookEnv) -> Option<String> {
    if env.workspace.as_ref().is_some_and(|w| path.starts_with(w)) {
        return None;
    }
    let root = path == Path::new("/");
    env.protected
        .iter()
        .find(|p| path.starts_with(p) || (contains && !root && p.starts_with(path)))
        .map(|p| {
            format!(
                "{} holds Claude Ops' own credentials; the agent may not read it",
                p.display()
            )
        })
}

/// The JSON the CLI expects from a PreToolUse hook.
pub fn answer(decision: Decision, reason: &str) -> Value {
    json!({
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": match decision { Decision::Allow => "allow", Decision::Deny => "deny" },
            "permissionDecisionReason": reason,
        }
    })
}

/// Reads the call on stdin, prints the answer. Unreadable input is denied.
pub fn main() -> std::process::ExitCode {
    use std::io::Read;
    let mut raw = String::new();
    let input = std::io::stdin()
        .take(4 * 1024 * 1024)
        .read_to_string(&mut raw)
        .ok()
        .and_then(|_| serde_json::from_str::<Value>(&raw).ok());
    let out = match input {
        Some(input) => {
            decide(&input, &HookEnv::from_env()).map(|(d, r): (Decision, String)| answer(d, &r))
        }
        None => Some(answer(
            Decision::Deny,
            "the hook could not read the tool call, so it refuses it",
        )),
    };
    if let Some(out) = out {
        println!("{out}");
    }
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(tier: Tier) -> HookEnv {
        HookEnv {
            tier: Some(tier),
            repos_dir: "/repos".into(),
            dry_run: false,
            protected: vec![
                "/state/worker/worker.key".into(),
                "/state/ca.key".into(),
                "/state/api-token".into(),
            ],
            workspace: Some("/state/worker/sessions/1".into()),
            mcp_servers: if tier >= Tier::Investigate {
                vec!["inventory".into()]
            } else {
                Vec::new()
            },
        }
    }

    fn call(tool: &str, input: Value) -> Value {
        json!({"tool_name": tool, "tool_input": input, "cwd": "/state/worker/sessions/1"})
    }

    fn check(tool: &str, input: Value, tier: Tier, want: Option<Decision>) {
        let got = decide(&call(tool, input.clone()), &env(tier));
        assert_eq!(
            got.as_ref().map(|(d, _)| *d),
            want,
            "{tool} {input} at tier {tier}: {got:?}"
        );
    }

    #[test]
    fn judges_tool_calls() {
        use Decision::{Allow, Deny};
        check(
            "Bash",
            json!({"command": "docker ps"}),
            Tier::Observe,
            Some(Allow),
        );
        check(
            "Bash",
            json!({"command": "docker restart web"}),
            Tier::Investigate,
            Some(Deny),
        );
        check(
            "Bash",
            json!({"command": "ssh nas docker restart web"}),
            Tier::Remediate,
            Some(Deny),
        );
        check(
            "Bash",
            json!({"command": "cat /state/ca.key"}),
            Tier::Remediate,
            Some(Deny),
        );
        check(
            "Bash",
            json!({"command": "cat ../../worker.key"}),
            Tier::Remediate,
            Some(Deny),
        );
        check(
            "Bash",
            json!({"command": "cat checks/http.md"}),
            Tier::Observe,
            Some(Allow),
        );
        check(
            "Read",
            json!({"file_path": "/state/api-token"}),
            Tier::Observe,
            Some(Deny),
        );
        check(
            "Read",
            json!({"file_path": "checks/http.md"}),
            Tier::Observe,
            None,
        );
        check(
            "Read",
            json!({"file_path": "/repos/a/CLAUDE-OPS.md"}),
            Tier::Observe,
            None,
        );
        check(
            "Grep",
            json!({"pattern": "x", "path": "/state"}),
            Tier::Observe,
            Some(Deny),
        );
        check(
            "Grep",
            json!({"pattern": "x", "path": "/var/log"}),
            Tier::Observe,
            None,
        );
        check(
            "Bash",
            json!({"command": "grep -r key /state/worker"}),
            Tier::Observe,
            Some(Deny),
        );
        check(
            "Write",
            json!({"file_path": "/tmp/x"}),
            Tier::Remediate,
            Some(Deny),
        );
        check("WebFetch", json!({"url": "http://x"}), Tier::Observe, None);
        // Repos stay read-only whatever the tool.
        for (tool, key) in [
            ("Write", "file_path"),
            ("Edit", "file_path"),
            ("NotebookEdit", "notebook_path"),
        ] {
            check(
                tool,
                json!({key: "/repos/a/CLAUDE-OPS.md"}),
                Tier::Remediate,
                Some(Deny),
            );
        }
        for command in [
            "echo x > /repos/a/f",
            "tee /repos/a/f",
            "cp /tmp/x /repos/a/f",
            "mv /repos/a/f /repos/a/g",
            "sed -i s/a/b/ /repos/a/f",
            "git -C /repos/a commit -am x",
            "cd /repos/a && echo x >> CLAUDE-OPS.md",
        ] {
            check(
                "Bash",
                json!({ "command": command }),
                Tier::Remediate,
                Some(Deny),
            );
        }
    }

    #[test]
    fn repo_mcp_tools_only_at_approved_tiers() {
        use Decision::Deny;
        let tool = "mcp__inventory__list_hosts";
        check(tool, json!({}), Tier::Observe, Some(Deny));
        check(tool, json!({}), Tier::Investigate, None);
        check("mcp__other__x", json!({}), Tier::Remediate, Some(Deny));
        check("mcp__other", json!({}), Tier::Remediate, Some(Deny));
        check(
            "mcp__claudeops__restart_container",
            json!({}),
            Tier::Investigate,
            None,
        );
    }

    #[test]
    fn unknown_tier_denies_everything() {
        let mut e = env(Tier::Observe);
        e.tier = None;
        let got = decide(&call("Read", json!({"file_path": "/etc/hosts"})), &e);
        assert_eq!(got.map(|(d, _)| d), Some(Decision::Deny));
    }

    #[test]
    fn answers_in_the_cli_format() {
        let out = answer(Decision::Deny, "no");
        assert_eq!(out["hookSpecificOutput"]["permissionDecision"], "deny");
        assert_eq!(out["hookSpecificOutput"]["hookEventName"], "PreToolUse");
    }
}
