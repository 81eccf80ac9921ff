//! What each repo brings to a session: its `CLAUDE-OPS.md`, checks, the
//! playbooks the tier may run and skills, copied under `repos/NAME/`, and its MCP
//! servers merged into the session's `mcp.json`.

use std::path::{Path, PathBuf};

use claudeops_core::Tier;
use claudeops_discovery::{Inventory, Repo};
use serde_json::{Value, json};

use super::mcp::merge_mcp;
use super::{Playbook, Workspace, safe_name};

/// Manifests up to this size go into the prompt whole; a larger one is pointed to.
pub const INLINE_MANIFEST_BYTES: usize = 4096;

/// What one repo brings to a session, as workspace-relative paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoOffer {
    pub name: String,
    /// The repo as mounted (read-only).
    pub path: PathBuf,
    /// `CLAUDE-OPS.md`, when the repo has a readable one.
    pub manifest: Option<String>,
    pub checks: Vec<String>,
    /// The playbooks this tier may use (`file` is workspace-relative).
    pub playbooks: Vec<Playbook>,
    /// (path, name of the built-in skill it replaces for this repo's services).
    pub skills: Vec<(String, Option<String>)>,
    /// Repo MCP servers started for this session.
    pub mcp_servers: Vec<String>,
}

/// Copies each repo's content into the workspace and merges its MCP servers
/// into the session's `mcp.json`. A piece that cannot be read (or that
/// discovery found broken) is left out and the rest goes on.
pub fn add_repos(mut ws: Workspace, tier: Tier, inventory: &Inventory) -> Workspace {
    let mut offers = Vec::new();
    for repo in &inventory.repos {
        if let Some(offer) = copy_repo(&ws, tier, repo) {
            offers.push(offer);
        }
    }
    let baseline = std::fs::read_to_string(&ws.mcp_config)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v.get("mcpServers").and_then(Value::as_object).cloned())
        .unwrap_or_default();
    let merge = merge_mcp(&baseline, &inventory.repos);
    for (repo, name, min) in &merge.repo_servers {
        if *min <= tier
            && let Some(offer) = offers.iter_mut().find(|o| &o.name == repo)
        {
            offer.mcp_servers.push(name.clone());
        }
    }
    ws.repo_mcp = merge
        .repo_servers
        .iter()
        .map(|(_, name, min)| (name.clone(), *min))
        .collect();
    let servers = merge.for_tier(tier);
    if servers != baseline {
        let text = json!({ "mcpServers": servers }).to_string();
        if let Err(error) = std::fs::write(&ws.mcp_config, text) {
            tracing::warn!(%error, path = %ws.mcp_config.display(), "could not write the merged MCP config; the session keeps the built-in servers only");
            ws.repo_mcp.clear();
            offers.iter_mut().for_each(|o| o.mcp_servers.clear());
        }
    }
    ws.repos = Some(offers);
    ws
}

/// One repo's files under `repos/NAME/`; `None` when it brings nothing.
fn copy_repo(ws: &Workspace, tier: Tier, repo: &Repo) -> Option<RepoOffer> {
    let src = PathBuf::from(&repo.path);
    let name = safe_name(&repo.name);
    let rel = format!("repos/{name}");
    let dest = ws.dir.join(&rel);
    let ext = &repo.extensions;
    let mut offer = RepoOffer {
        name: repo.name.clone(),
        path: src.clone(),
        ..RepoOffer::default()
    };
    let copy = |from: &str, to: &str| copy_inside(&src, from, &dest.join(to));
    if repo.has_manifest {
        let text = read_inside(&src, claudeops_discovery::MANIFEST_FILE)
            .and_then(|b| String::from_utf8(b).ok());
        if let Some(text) = text
            && copy(claudeops_discovery::MANIFEST_FILE, "CLAUDE-OPS.md")
        {
            offer.manifest = Some(text);
        }
    }
    for check in &ext.checks {
        let file = safe_name(&check.file);
        if copy(
            &format!(".claude-ops/checks/{file}"),
            &format!("checks/{file}"),
        ) {
            offer.checks.push(format!("{rel}/checks/{file}"));
        }
    }
    for playbook in ext
        .playbooks
        .iter()
        .filter(|p| p.min_tier <= u8::from(tier))
    {
        let file = safe_name(&playbook.file);
        let to = format!("playbooks/{file}");
        if copy(&format!(".claude-ops/playbooks/{file}"), &to) {
            offer.playbooks.push(Playbook {
                file: format!("{rel}/{to}"),
                title: playbook.title.clone(),
                min_tier: Tier::try_from(i64::from(playbook.min_tier)).unwrap_or(Tier::Remediate),
            });
        }
    }
    for skill in &ext.skills {
        let skill = safe_name(skill);
        let replaces = ws.skills.iter().find(|s| **s == skill).cloned();
        let file = format!(".claude-ops/skills/{skill}.md");
        if copy(&file, &format!("skills/{skill}.md")) {
            offer
                .skills
                .push((format!("{rel}/skills/{skill}.md"), replaces));
        } else if copy_dir_inside(
            &src,
            &format!(".claude-ops/skills/{skill}"),
            &dest.join("skills").join(&skill),
        ) {
            let main = if dest.join("skills").join(&skill).join("SKILL.md").is_file() {
                format!("{rel}/skills/{skill}/SKILL.md")
            } else {
                format!("{rel}/skills/{skill}/")
            };
            offer.skills.push((main, replaces));
        }
    }
    let brings = offer.manifest.is_some()
        || !offer.checks.is_empty()
        || !offer.playbooks.is_empty()
        || !offer.skills.is_empty()
        || !ext.mcp_servers.is_empty();
    brings.then_some(offer)
}

/// Reads `rel` under `repo` when it is a regular file inside the repo (after
/// symlinks) and not larger than discovery reads.
fn read_inside(repo: &Path, rel: &str) -> Option<Vec<u8>> {
    let root = repo.canonicalize().ok()?;
    let path = repo.join(rel).canonicalize().ok()?;
    let meta = std::fs::metadata(&path).ok()?;
    let fits = meta.is_file() && meta.len() <= claudeops_discovery::MAX_FILE_BYTES;
    (path.starts_with(&root) && fits)
        .then(|| std::fs::read(&path).ok())
        .flatten()
}

/// Copies one file from inside a repo; false (logged) when it is left out.
fn copy_inside(repo: &Path, rel: &str, to: &Path) -> bool {
    let Some(bytes) = read_inside(repo, rel) else {
        return false;
    };
    let written = to
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(to, bytes));
    if let Err(error) = &written {
        tracing::warn!(%error, path = %to.display(), "could not copy a repo file into the session workspace; it is left out");
    }
    written.is_ok()
}

/// Copies a skill directory (files at most three levels deep, at most 64).
fn copy_dir_inside(repo: &Path, rel: &str, to: &Path) -> bool {
    let mut stack = vec![(rel.to_owned(), 0usize)];
    let mut copied = 0usize;
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(repo.join(&dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        for name in names {
            let child = format!("{dir}/{name}");
            let target = to.join(child.trim_start_matches(rel).trim_start_matches('/'));
            if repo.join(&child).is_dir() {
                if depth < 2 {
                    stack.push((child, depth + 1));
                }
            } else if copied < 64 && copy_inside(repo, &child, &target) {
                copied += 1;
            }
        }
    }
    copied > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::{Content, prepare};

    fn fixture_repos() -> tempfile::TempDir {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/repos");
        let to = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let status = std::process::Command::new("cp")
            .arg("-r")
            .arg(from.join("."))
            .arg(to.path())
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success());
        to
    }

    fn assembled(repos: &Path, tier: Tier) -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let baseline = json!({"claudeops": {"command": "worker", "args": ["mcp"]}});
        let ws = prepare(dir.path(), tier, &Content::builtin(), "hook", &baseline)
            .unwrap_or_else(|e| panic!("{e}"));
        let inventory = claudeops_discovery::discover(repos, &[]);
        let ws = add_repos(ws, tier, &inventory);
        (dir, ws)
    }

    #[test]
    fn copies_repo_content_by_tier_and_merges_its_servers() {
        let repos = fixture_repos();
        // A symlink pointing out of the repo is never copied.
        let outside = repos.path().join("secret.md");
        std::fs::write(&outside, "secret").unwrap_or_else(|e| panic!("{e}"));
        let link = repos.path().join("ansible-home/.claude-ops/checks/leak.md");
        std::os::unix::fs::symlink(&outside, &link).unwrap_or_else(|e| panic!("{e}"));

        let (dir, t1) = assembled(repos.path(), Tier::Observe);
        let d = dir.path();
        assert!(d.join("repos/ansible-home/CLAUDE-OPS.md").is_file());
        assert!(d.join("repos/ansible-home/checks/zfs-pool.md").is_file());
        assert!(!d.join("repos/ansible-home/checks/leak.md").exists());
        assert!(
            d.join("repos/ansible-home/skills/prune-old-logs.md")
                .is_file()
        );
        assert!(
            d.join("repos/ansible-home/skills/refresh-ssl-certs/SKILL.md")
                .is_file()
        );
        assert!(
            !d.join("repos/ansible-home/playbooks").exists(),
            "tier 1 gets no repo playbook"
        );
        let offers = t1.repos.clone().unwrap_or_default();
        let names: Vec<&str> = offers.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            ["ansible-home", "broken", "compose-media"],
            "plain brings nothing"
        );
        assert!(offers[0].mcp_servers.is_empty());
        assert_eq!(
            t1.repo_mcp,
            [("ansible-inventory".to_owned(), Tier::Investigate)]
        );
        let mcp = |ws: &Workspace| -> Value {
            let text = std::fs::read_to_string(&ws.mcp_config).unwrap_or_default();
            serde_json::from_str(&text).unwrap_or_default()
        };
        assert!(mcp(&t1)["mcpServers"].get("ansible-inventory").is_none());

        let (dir, t2) = assembled(repos.path(), Tier::Investigate);
        let d = dir.path();
        assert!(
            d.join("repos/ansible-home/playbooks/fix-media-perms.md")
                .is_file()
        );
        assert!(
            !d.join("repos/ansible-home/playbooks/redeploy-stack.md")
                .exists()
        );
        assert!(
            d.join("repos/broken/playbooks/restart-grafana.md")
                .is_file()
        );
        assert!(
            !d.join("repos/broken/playbooks/bad-tier.md").exists(),
            "a bad tier line means tier 3"
        );
        let servers = mcp(&t2)["mcpServers"].clone();
        let keys: Vec<&String> = servers
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["ansible-inventory", "claudeops"]);
        assert_eq!(servers["ansible-inventory"]["command"], "python3");
        let offers = t2.repos.unwrap_or_default();
        assert_eq!(offers[0].mcp_servers, ["ansible-inventory"]);
        assert_eq!(
            offers[0].playbooks[0].file,
            "repos/ansible-home/playbooks/fix-media-perms.md"
        );

        let (dir, _) = assembled(repos.path(), Tier::Remediate);
        assert!(
            dir.path()
                .join("repos/ansible-home/playbooks/redeploy-stack.md")
                .is_file()
        );
        assert!(
            dir.path()
                .join("repos/broken/playbooks/bad-tier.md")
                .is_file()
        );
    }

    #[test]
    fn a_repo_skill_replaces_a_builtin_of_the_same_name() {
        let repos = fixture_repos();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut content = Content::builtin();
        content.skills = vec![("prune-old-logs.md".into(), "# built-in".into())];
        let ws = prepare(dir.path(), Tier::Investigate, &content, "hook", &json!({}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(dir.path().join("skills/prune-old-logs.md").is_file());
        let ws = add_repos(
            ws,
            Tier::Investigate,
            &claudeops_discovery::discover(repos.path(), &[]),
        );
        let offers = ws.repos.unwrap_or_default();
        assert_eq!(
            offers[0].skills,
            [
                (
                    "repos/ansible-home/skills/prune-old-logs.md".to_owned(),
                    Some("prune-old-logs".to_owned())
                ),
                (
                    "repos/ansible-home/skills/refresh-ssl-certs/SKILL.md".to_owned(),
                    None
                ),
            ]
        );
    }
}
