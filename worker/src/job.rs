//! Turns a tier job from the control plane into a `claude` CLI invocation: the
//! prompt, the tier's permission flags, the session workspace (completed with
//! what the repos bring, see [`with_repos`]) and the allow-listed environment.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use claudeops_core::{SiteName, Tier, policy};

use crate::config::WorkerConfig;
use crate::content;
use crate::hook::{MCP_SERVERS_ENV, PROTECTED_ENV, WORKSPACE_ENV};
use crate::runner::{Invocation, SessionGuard};
use crate::workspace::{self, Workspace};

/// A tier job as the worker understands it (converted from the wire at the edge).
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub session_id: i64,
    pub tier: Tier,
    pub model: String,
    pub prompt: Option<String>,
    pub handoff: Option<String>,
    pub max_budget_usd: f64,
    pub timeout_secs: u32,
    pub dry_run: bool,
    pub extra_allowed_tools: Vec<String>,
    pub extra_disallowed_tools: Vec<String>,
    /// What the control plane remembers about the site, already rendered.
    pub memories: Option<String>,
    /// The models the session may ask the model proxy for.
    pub models: Vec<String>,
    /// What is left of the fleet's daily cost cap, when there is one.
    pub daily_left_usd: Option<f64>,
    /// The control plane's span of this session: the worker's spans join its
    /// trace. `None` when untraced, or when what came could not be read
    /// (logged; the session runs all the same).
    pub trace: Option<claudeops_telemetry::TraceContext>,
}

impl From<claudeops_core::link::Job> for Job {
    /// Blank prompt, handoff and memories read as absent.
    fn from(job: claudeops_core::link::Job) -> Job {
        let non_empty = |s: String| if s.trim().is_empty() { None } else { Some(s) };
        Job {
            models: if job.models.is_empty() {
                vec![job.model.clone()]
            } else {
                job.models
            },
            session_id: job.session_id,
            tier: job.tier,
            model: job.model,
            prompt: non_empty(job.prompt),
            handoff: non_empty(job.handoff),
            max_budget_usd: job.max_budget_usd,
            timeout_secs: u32::try_from(job.timeout.as_secs()).unwrap_or(u32::MAX),
            dry_run: job.dry_run,
            extra_allowed_tools: job.extra_allowed_tools,
            extra_disallowed_tools: job.extra_disallowed_tools,
            memories: non_empty(job.memories),
            daily_left_usd: job.daily_left_usd,
            trace: job.traceparent.as_deref().and_then(|t| {
                claudeops_telemetry::TraceContext::parse(t)
                    .inspect_err(|e| tracing::warn!(session = job.session_id, error = %e, "the job's trace context is ignored"))
                    .ok()
            }),
        }
    }
}

/// Environment variables passed through from the worker's own environment when set.
const PASSED_THROUGH: &[&str] = &["TZ", "LANG"];

/// The text given with `-p`.
pub fn prompt_text(
    job: &Job,
    site: &SiteName,
    repos_dir: &Path,
    ws: &Workspace,
    tier_prompt: &str,
) -> String {
    let repos = repos_dir.to_string_lossy();
    let dir = ws.dir.to_string_lossy();
    let mut text = content::fill(
        tier_prompt,
        &[
            ("site", site.as_str()),
            ("repos_dir", &repos),
            ("workspace", &dir),
        ],
    );
    if !ws.playbooks.is_empty() {
        text.push_str("\n## Playbooks you may use\n\n");
        for p in &ws.playbooks {
            text.push_str(&format!(
                "- `playbooks/{}`: {} (tier {}+)\n",
                p.file, p.title, p.min_tier
            ));
        }
    }
    text.push_str(&repos_section(ws, &repos));
    if let Some(memories) = job.memories.as_deref().filter(|m| !m.trim().is_empty()) {
        text.push_str("\n## Memories\n\n");
        text.push_str(memories.trim());
        text.push('\n');
    }
    if let Some(prompt) = job.prompt.as_deref().filter(|p| !p.trim().is_empty()) {
        text.push_str("\n## The operator's request\n\n");
        text.push_str(prompt.trim());
        text.push('\n');
    }
    if let Some(handoff) = job.handoff.as_deref().filter(|h| !h.trim().is_empty()) {
        text.push_str("\n## Handoff\n\n");
        text.push_str(handoff.trim());
        text.push('\n');
    }
    if job.dry_run {
        text.push_str("\nDRY RUN: observe and report only; change nothing.\n");
    }
    text
}

/// The "## Repos" part of the prompt: per repo, its manifest (inline when
/// short), and the workspace paths of its checks, playbooks, skills and the MCP
/// servers this tier may use.
fn repos_section(ws: &Workspace, repos_dir: &str) -> String {
    let Some(repos) = ws.repos.as_ref().filter(|r| !r.is_empty()) else {
        return String::new();
    };
    let mut text = format!(
        "\n## Repos\n\nMounted read-only under `{repos_dir}`: read them, never write there. \
         Their Claude Ops files are copied into this workspace under `repos/NAME/`. \
         For a repo's services, a skill of that repo replaces a built-in skill of the same name.\n"
    );
    let list = |items: &[String]| -> String {
        items
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for repo in repos {
        text.push_str(&format!(
            "\n### Repo `{}` (`{}`)\n\n",
            repo.name,
            repo.path.display()
        ));
        if !repo.checks.is_empty() {
            text.push_str(&format!("- Checks: {}\n", list(&repo.checks)));
        }
        for p in &repo.playbooks {
            text.push_str(&format!(
                "- Playbook you may use: `{}`: {} (tier {}+)\n",
                p.file, p.title, p.min_tier
            ));
        }
        for (path, replaces) in &repo.skills {
            match replaces {
                Some(name) => text.push_str(&format!(
                    "- Skill: `{path}` (use it instead of the built-in `skills/{name}.md` for this repo's services)\n"
                )),
                None => text.push_str(&format!("- Skill: `{path}`\n")),
            }
        }
        if !repo.mcp_servers.is_empty() {
            let tools: Vec<String> = repo
                .mcp_servers
                .iter()
                .map(|s| format!("mcp__{s}__*"))
                .collect();
            text.push_str(&format!("- MCP tools: {}\n", list(&tools)));
        }
        match &repo.manifest {
            Some(manifest) if manifest.len() <= workspace::INLINE_MANIFEST_BYTES => {
                text.push_str(&format!(
                    "\nIts `CLAUDE-OPS.md` (also at `repos/{}/CLAUDE-OPS.md`):\n\n{}\n",
                    repo.name,
                    manifest.trim()
                ));
            }
            Some(_) => text.push_str(&format!(
                "- Read its manifest first: `repos/{}/CLAUDE-OPS.md`\n",
                repo.name
            )),
            None => {}
        }
    }
    text
}

/// Completes a workspace with what the repos under `repos_dir` bring (once;
/// a workspace whose repos were added already is returned as it is).
pub fn with_repos(ws: &Workspace, tier: Tier, repos_dir: &Path) -> Workspace {
    if ws.repos.is_some() || !repos_dir.is_dir() {
        return ws.clone();
    }
    let inventory = claudeops_discovery::discover(repos_dir, &[]);
    workspace::add_repos(ws.clone(), tier, &inventory)
}

/// Builds the CLI invocation for a prepared workspace, adding the repos'
/// content to it first.
pub fn invocation(
    job: &Job,
    site: &SiteName,
    config: &WorkerConfig,
    ws: &Workspace,
    home: &Path,
) -> Invocation {
    let ws = &with_repos(ws, job.tier, &config.repos_dir);
    let mut flags = policy::tool_flags(
        job.tier,
        &config.tools(),
        &job.extra_allowed_tools,
        &job.extra_disallowed_tools,
    );
    policy::add_repo_servers(&mut flags, job.tier, &ws.repo_mcp);
    if crate::link::browser_for(config, job.tier) {
        flags.allowed.extend(
            crate::browser::TOOLS
                .iter()
                .map(|t| format!("mcp__{}__{t}", policy::ACTIONS_SERVER)),
        );
    }
    let text = |a: &str| OsString::from(a);
    let mut args: Vec<OsString> = vec![
        text("-p"),
        text(&prompt_text(
            job,
            site,
            &config.repos_dir,
            ws,
            &config.tier_prompt(job.tier),
        )),
        text("--model"),
        text(&job.model),
        text("--output-format"),
        text("stream-json"),
        text("--verbose"),
        text("--setting-sources"),
        text(""),
        text("--tools"),
        text(&flags.tools.join(",")),
        text("--allowedTools"),
        text(&flags.allowed.join(",")),
        text("--disallowedTools"),
        text(&flags.disallowed.join(",")),
        text("--append-system-prompt"),
        text(content::RUNBOOK),
        text("--json-schema"),
        text(&workspace::schema_minified(&config.schema())),
        text("--settings"),
        ws.settings.clone().into_os_string(),
        text("--mcp-config"),
        ws.mcp_config.clone().into_os_string(),
        text("--strict-mcp-config"),
    ];
    if job.max_budget_usd > 0.0 {
        args.push(text("--max-budget-usd"));
        args.push(text(&format!("{:.2}", job.max_budget_usd)));
    }
    if config.repos_dir.is_dir() {
        args.push(text("--add-dir"));
        args.push(config.repos_dir.clone().into_os_string());
    }
    let timeout = if job.timeout_secs > 0 {
        std::time::Duration::from_secs(u64::from(job.timeout_secs))
    } else {
        config.session_timeout()
    };
    let mut env = environment(job, site, config, home);
    env.push((WORKSPACE_ENV.into(), ws.dir.clone().into_os_string()));
    env.push((PROTECTED_ENV.into(), protected_paths(config).into()));
    let approved: Vec<&str> = ws
        .repo_mcp
        .iter()
        .filter(|(_, min)| *min <= job.tier)
        .map(|(name, _)| name.as_str())
        .collect();
    env.push((MCP_SERVERS_ENV.into(), approved.join(",").into()));
    Invocation {
        program: config.claude_bin.clone(),
        args,
        env,
        workdir: ws.dir.clone(),
        timeout,
        guard: Some(SessionGuard {
            helper: PathBuf::from(config.helper_exe()),
            records: crate::leftovers::groups_dir(&config.state_dir),
            session_id: job.session_id,
        }),
    }
}

/// The CLI's whole environment: an allow-list, never the worker's own secrets.
fn environment(
    job: &Job,
    site: &SiteName,
    config: &WorkerConfig,
    home: &Path,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = Vec::new();
    let mut set = |k: &str, v: OsString| env.push((k.into(), v));
    set(
        "PATH",
        std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
    );
    set("HOME", home.as_os_str().to_owned());
    for name in PASSED_THROUGH {
        if let Some(value) = std::env::var_os(name) {
            set(name, value);
        }
    }
    // The model key never enters the CLI's environment: the session's
    // enclosure points it at the worker's model proxy with a session token.
    set("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into());
    set("DISABLE_AUTOUPDATER", "1".into());
    // The CLI's own limit on an MCP tool call: past ours, so a typed action
    // waiting for a human's approval is answered by the worker, not cut off.
    set(
        "MCP_TOOL_TIMEOUT",
        (crate::mcp::CALL_TIMEOUT + std::time::Duration::from_secs(60))
            .as_millis()
            .to_string()
            .into(),
    );
    set("CLAUDEOPS_SESSION_ID", job.session_id.to_string().into());
    set("CLAUDEOPS_TIER", job.tier.to_string().into());
    set("CLAUDEOPS_SITE", site.as_str().into());
    set(
        "CLAUDEOPS_REPOS_DIR",
        config.repos_dir.clone().into_os_string(),
    );
    set("CLAUDEOPS_DRY_RUN", job.dry_run.to_string().into());
    env
}

/// Paths the agent may never read: the worker's key, the sessions' sockets
/// (the agent's own Bash must not call actions directly) and whatever the
/// operator (or the control plane, for its local worker) adds.
pub fn protected(config: &WorkerConfig) -> Vec<PathBuf> {
    let mut paths = vec![
        config.state_dir.join("worker.key"),
        config.state_dir.join("run"),
    ];
    paths.extend(config.protected());
    paths
}

/// [`protected`] as the hook reads it from its environment (`:`-separated).
pub fn protected_paths(config: &WorkerConfig) -> String {
    protected(config)
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// `STATE/sessions/ID`, created fresh for the run.
pub fn session_dir(state_dir: &Path, session_id: i64) -> PathBuf {
    state_dir.join("sessions").join(session_id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job {
            session_id: 7,
            tier: Tier::Investigate,
            model: "sonnet".into(),
            prompt: Some("check the <nas>".into()),
            handoff: Some("tier 1 saw web down".into()),
            max_budget_usd: 0.5,
            timeout_secs: 0,
            dry_run: false,
            extra_allowed_tools: vec![],
            extra_disallowed_tools: vec!["Bash(curl:*)".into()],
            memories: Some("- nas:disk: the NAS disk fills on Sundays".into()),
            models: vec!["haiku".into(), "sonnet".into()],
            daily_left_usd: None,
            trace: None,
        }
    }

    fn ws() -> Workspace {
        Workspace {
            dir: "/w".into(),
            settings: "/w/settings.json".into(),
            mcp_config: "/w/mcp.json".into(),
            playbooks: crate::workspace::Content::builtin().playbooks_for(Tier::Investigate),
            repos: Some(Vec::new()),
            ..Workspace::default()
        }
    }

    fn arg_after<'a>(inv: &'a Invocation, flag: &str) -> Option<&'a str> {
        let i = inv.args.iter().position(|a| a == flag)?;
        inv.args.get(i + 1).and_then(|a| a.to_str())
    }

    #[test]
    fn builds_the_invocation() {
        let site = SiteName::new("home").unwrap_or_else(|e| panic!("{e}"));
        let config = WorkerConfig {
            anthropic_api_key: Some("sk-test".into()),
            ..WorkerConfig::default()
        };
        let inv = invocation(&job(), &site, &config, &ws(), Path::new("/h"));
        let prompt = arg_after(&inv, "-p").unwrap_or_default();
        assert!(prompt.contains("tier 2 of Claude Ops on site `home`"));
        assert!(prompt.contains("/w/checks/"), "workspace filled in");
        assert!(prompt.contains("playbooks/restart-container.md"));
        assert!(
            !prompt.contains("redeploy-service.md"),
            "tier 3 playbook not offered"
        );
        assert!(prompt.contains("the NAS disk fills on Sundays"));
        assert_eq!(arg_after(&inv, "--settings"), Some("/w/settings.json"));
        assert!(inv.args.iter().any(|a| a == "--strict-mcp-config"));
        assert!(arg_after(&inv, "--json-schema").is_some_and(|s| s.contains("escalation")));
        assert!(prompt.contains("check the <nas>"));
        assert!(prompt.contains("tier 1 saw web down"));
        assert_eq!(arg_after(&inv, "--model"), Some("sonnet"));
        assert_eq!(arg_after(&inv, "--max-budget-usd"), Some("0.50"));
        let denied = arg_after(&inv, "--disallowedTools").unwrap_or_default();
        assert!(
            denied.starts_with("Bash(curl:*)"),
            "operator's additions first"
        );
        assert!(
            denied.contains("Bash(git push:*)"),
            "never-allowed list last"
        );
        // The allow-lists must keep their force: this flag is never passed.
        let never = "--dangerously-skip-permissions";
        assert!(!inv.args.iter().any(|a| a == never));
        assert_eq!(inv.timeout.as_secs(), 1800);
    }

    #[test]
    fn environment_is_an_allow_list() {
        let site = SiteName::new("home").unwrap_or_else(|e| panic!("{e}"));
        let config = WorkerConfig {
            anthropic_api_key: Some("sk-test".into()),
            ..WorkerConfig::default()
        };
        let inv = invocation(&job(), &site, &config, &ws(), Path::new("/h"));
        let names: Vec<String> = inv
            .env
            .iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        for name in &names {
            assert!(
                name == "PATH"
                    || name == "HOME"
                    || name.starts_with("ANTHROPIC_")
                    || name.starts_with("CLAUDEOPS_")
                    || name.starts_with("CLAUDE_CODE_")
                    || name == "DISABLE_AUTOUPDATER"
                    || name == "MCP_TOOL_TIMEOUT"
                    || PASSED_THROUGH.contains(&name.as_str()),
                "unexpected variable {name}"
            );
        }
        // The key stays with the worker's model proxy; the session's enclosure
        // adds the proxy's address and a session token.
        assert!(
            !names.iter().any(|n| n.starts_with("ANTHROPIC_")),
            "{names:?}"
        );
        assert!(
            !inv.env
                .iter()
                .any(|(_, v)| v.to_string_lossy().contains("sk-test")),
            "the key is in no variable"
        );
        assert!(names.contains(&"CLAUDEOPS_SESSION_ID".to_owned()));
    }
    #[test]
    fn repos_reach_the_prompt_flags_and_hook() {
        let site = SiteName::new("home").unwrap_or_else(|e| panic!("{e}"));
        let repos = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/repos");
        let config = WorkerConfig {
            repos_dir: repos.clone(),
            ..WorkerConfig::default()
        };
        for (tier, approved) in [(Tier::Observe, false), (Tier::Investigate, true)] {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let content = crate::workspace::Content::builtin();
            let ws = crate::workspace::prepare(
                dir.path(),
                tier,
                &content,
                "hook",
                &serde_json::json!({}),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let job = Job { tier, ..job() };
            let inv = invocation(&job, &site, &config, &ws, Path::new("/h"));
            let prompt = arg_after(&inv, "-p").unwrap_or_default();
            assert!(prompt.contains("### Repo `ansible-home`"), "{prompt}");
            assert!(
                prompt.contains("Always use `--limit` when running playbooks"),
                "manifest inline"
            );
            assert!(prompt.contains("`repos/ansible-home/checks/zfs-pool.md`"));
            assert_eq!(
                prompt.contains("repos/ansible-home/playbooks/fix-media-perms.md"),
                approved
            );
            assert!(!prompt.contains("redeploy-stack.md"));
            let allowed = arg_after(&inv, "--allowedTools").unwrap_or_default();
            let denied = arg_after(&inv, "--disallowedTools").unwrap_or_default();
            let rule = "mcp__ansible-inventory";
            assert_eq!(allowed.split(',').any(|r| r == rule), approved, "{allowed}");
            assert_eq!(denied.split(',').any(|r| r == rule), !approved, "{denied}");
            let env = inv
                .env
                .iter()
                .find(|(k, _)| k == MCP_SERVERS_ENV)
                .map(|(_, v)| v.to_string_lossy().into_owned());
            let want = if approved { "ansible-inventory" } else { "" };
            assert_eq!(env.as_deref(), Some(want));
        }
    }
}
