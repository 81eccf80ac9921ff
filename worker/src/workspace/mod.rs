//! A session's workspace: the directory the CLI runs in, holding the checks and
//! the playbooks this tier may use, the hook settings, the MCP config and the
//! response schema.
//!
//! Built-in content is embedded in the binary; each repo under the repos dir
//! adds its own (`CLAUDE-OPS.md`, `.claude-ops/{checks,playbooks,skills}`,
//! copied under `repos/NAME/`, and `.claude-ops/mcp.json`, merged into the
//! session's MCP config; see [`add_repos`] and [`merge_mcp`]). Playbooks and
//! repo MCP servers above the session's tier are not written at all, so the
//! model cannot even read a procedure it may not run.
//!
//! What it must not do: write anywhere but the session directory, or copy a
//! file from outside a repo (a symlink pointing out of it is skipped).

use std::path::{Path, PathBuf};

use claudeops_core::Tier;
use serde_json::json;

/// The built-in health-check procedures (Markdown the model reads on demand).
pub const CHECKS: &[(&str, &str)] = &[
    ("http.md", include_str!("../../../checks/http.md")),
    ("dns.md", include_str!("../../../checks/dns.md")),
    (
        "containers.md",
        include_str!("../../../checks/containers.md"),
    ),
    ("databases.md", include_str!("../../../checks/databases.md")),
    ("services.md", include_str!("../../../checks/services.md")),
];

/// The built-in playbooks; each names its minimum tier.
pub const PLAYBOOKS: &[(&str, &str)] = &[
    (
        "restart-container.md",
        include_str!("../../../playbooks/restart-container.md"),
    ),
    (
        "redeploy-service.md",
        include_str!("../../../playbooks/redeploy-service.md"),
    ),
    (
        "rotate-api-key.md",
        include_str!("../../../playbooks/rotate-api-key.md"),
    ),
];

/// The built-in skills (none are shipped yet). A repo skill of the same name
/// replaces one for that repo's services (see [`RepoOffer::skills`]).
pub const SKILLS: &[(&str, &str)] = &[];

/// The agent-response schema passed with `--json-schema`.
pub const SCHEMA: &str = include_str!("../../../schemas/agent-response.json");

/// A playbook offered to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Playbook {
    pub file: String,
    pub title: String,
    pub min_tier: Tier,
}

/// The minimum tier a playbook declares with a `**Tier**: N` line (`2+` reads as
/// 2); without one, tier 3, the safe default.
/// One reading for built-in and repo playbooks: discovery's, whose error (a bad
/// `Tier:` line, reported there with its line) also means tier 3 here.
pub fn playbook_tier(text: &str) -> Tier {
    claudeops_discovery::playbook_tier(text)
        .ok()
        .and_then(|n| Tier::try_from(i64::from(n)).ok())
        .unwrap_or(Tier::Remediate)
}

/// The first `# Title` of a Markdown file, or its file name.
pub fn title(file: &str, text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("# "))
        .map_or_else(|| file.to_owned(), |t| t.trim().to_owned())
}

/// The files a workspace is made of, before they are written.
#[derive(Debug, Default)]
pub struct Content {
    pub checks: Vec<(String, String)>,
    pub playbooks: Vec<(String, String)>,
    pub skills: Vec<(String, String)>,
}

impl Content {
    pub fn builtin() -> Content {
        let own = |files: &[(&str, &str)]| {
            files
                .iter()
                .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
                .collect()
        };
        Content {
            checks: own(CHECKS),
            playbooks: own(PLAYBOOKS),
            skills: own(SKILLS),
        }
    }

    /// The playbooks a tier may use.
    pub fn playbooks_for(&self, tier: Tier) -> Vec<Playbook> {
        self.playbooks
            .iter()
            .map(|(file, text)| Playbook {
                file: file.clone(),
                title: title(file, text),
                min_tier: playbook_tier(text),
            })
            .filter(|p| p.min_tier <= tier)
            .collect()
    }
}

/// Paths of a prepared workspace.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    pub dir: PathBuf,
    pub settings: PathBuf,
    pub mcp_config: PathBuf,
    pub playbooks: Vec<Playbook>,
    /// Built-in skill names (`skills/NAME.md`).
    pub skills: Vec<String>,
    /// What the repos add; `None` until [`add_repos`] has run.
    pub repos: Option<Vec<RepoOffer>>,
    /// Every repo MCP server that won the merge, with the lowest tier that may
    /// use it (also those above this session's tier, so they can be denied).
    pub repo_mcp: Vec<(String, Tier)>,
}

/// Writes the workspace for one session. `hook_command` is the shell command the
/// CLI runs for every tool call it asks about.
pub fn prepare(
    dir: &Path,
    tier: Tier,
    content: &Content,
    hook_command: &str,
    mcp_servers: &serde_json::Value,
) -> std::io::Result<Workspace> {
    std::fs::create_dir_all(dir.join("checks"))?;
    std::fs::create_dir_all(dir.join("playbooks"))?;
    if !content.skills.is_empty() {
        std::fs::create_dir_all(dir.join("skills"))?;
    }
    for (name, text) in &content.skills {
        std::fs::write(dir.join("skills").join(safe_name(name)), text)?;
    }
    for (name, text) in &content.checks {
        std::fs::write(dir.join("checks").join(safe_name(name)), text)?;
    }
    let playbooks = content.playbooks_for(tier);
    for (name, text) in &content.playbooks {
        if playbooks.iter().any(|p| &p.file == name) {
            std::fs::write(dir.join("playbooks").join(safe_name(name)), text)?;
        }
    }
    let settings = dir.join("settings.json");
    std::fs::write(&settings, settings_json(hook_command).to_string())?;
    let mcp_config = dir.join("mcp.json");
    std::fs::write(
        &mcp_config,
        json!({ "mcpServers": mcp_servers }).to_string(),
    )?;
    Ok(Workspace {
        dir: dir.to_path_buf(),
        settings,
        mcp_config,
        playbooks,
        skills: content
            .skills
            .iter()
            .map(|(name, _)| name.trim_end_matches(".md").to_owned())
            .collect(),
        repos: None,
        repo_mcp: Vec::new(),
    })
}

/// The CLI settings template (`.claude/settings.json`): one PreToolUse hook for
/// every tool whose use we judge. `{{hook_command}}` is filled per session.
pub const SETTINGS_TEMPLATE: &str = include_str!("../../../.claude/settings.json");

/// The CLI settings with the hook command filled in (as a JSON string, so any
/// quoting in the command stays valid JSON).
pub fn settings_json(hook_command: &str) -> serde_json::Value {
    let mut settings: serde_json::Value =
        serde_json::from_str(SETTINGS_TEMPLATE).unwrap_or_else(|_| json!({}));
    if let Some(hooks) = settings
        .pointer_mut("/hooks/PreToolUse")
        .and_then(serde_json::Value::as_array_mut)
    {
        for entry in hooks.iter_mut() {
            for hook in entry
                .get_mut("hooks")
                .and_then(serde_json::Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                hook["command"] = json!(hook_command);
            }
        }
        // MCP tools go through the hook too, so a repo server's tools are refused
        // below its tier even if an allow rule were to name them.
        let mut mcp = hooks.first().cloned().unwrap_or_else(|| json!({}));
        mcp["matcher"] = json!("mcp__.*");
        hooks.push(mcp);
    }
    settings
}

/// The schema, minified (it is sent on every request).
pub fn schema_minified(schema: &str) -> String {
    serde_json::from_str::<serde_json::Value>(schema)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| schema.to_owned())
}

/// A file name with no directory parts.
pub(crate) fn safe_name(name: &str) -> String {
    Path::new(name).file_name().map_or_else(
        || "unnamed.md".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Shell-quotes one word for the hook command line.
pub fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

mod mcp;
mod repos;

pub use mcp::{DEFAULT_MCP_TIER, McpConflict, McpMerge, mcp_problems, mcp_tier, merge_mcp};
pub use repos::{INLINE_MANIFEST_BYTES, RepoOffer, add_repos};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_playbook_tiers() {
        let cases = [
            ("# X\n\n**Tier**: 2\n", Tier::Investigate),
            ("**Tier**: 2+", Tier::Investigate),
            ("**Tier:** 1", Tier::Observe),
            ("  **Tier**: 3 (redeploys)", Tier::Remediate),
            ("# no tier line", Tier::Remediate),
            ("**Tier**: 9", Tier::Remediate),
        ];
        for (text, want) in cases {
            assert_eq!(playbook_tier(text), want, "{text:?}");
        }
    }

    #[test]
    fn offers_playbooks_by_tier() {
        let content = Content::builtin();
        let names = |tier| -> Vec<String> {
            content
                .playbooks_for(tier)
                .into_iter()
                .map(|p| p.file)
                .collect()
        };
        assert!(names(Tier::Observe).is_empty());
        assert_eq!(
            names(Tier::Investigate),
            ["restart-container.md", "rotate-api-key.md"]
        );
        assert_eq!(names(Tier::Remediate).len(), 3);
    }

    #[test]
    fn writes_only_the_tiers_playbooks() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ws = prepare(
            dir.path(),
            Tier::Investigate,
            &Content::builtin(),
            "hook",
            &json!({}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(dir.path().join("checks/http.md").exists());
        assert!(dir.path().join("playbooks/restart-container.md").exists());
        assert!(!dir.path().join("playbooks/redeploy-service.md").exists());
        let settings = std::fs::read_to_string(ws.settings).unwrap_or_default();
        let settings: serde_json::Value = serde_json::from_str(&settings).unwrap_or_default();
        assert_eq!(
            settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"],
            "hook"
        );
        assert!(!SETTINGS_TEMPLATE.is_empty() && SETTINGS_TEMPLATE.contains("{{hook_command}}"));
        assert!(schema_minified(SCHEMA).len() < SCHEMA.len());
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
