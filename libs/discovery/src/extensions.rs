//! A repo's `.claude-ops/` directory: checks, playbooks (with their tier),
//! skills, MCP servers and probe files.

use std::path::Path;

use claudeops_core::probe::ProbeSpec;

use crate::files::{self, has_ext};
use crate::model::{Document, Extensions, Playbook, Problem};
use crate::{mcp, probe_file};

/// The tier a playbook without a `**Tier**:` line needs: the highest.
pub const DEFAULT_TIER: u8 = 3;

/// What a `.claude-ops/` directory holds.
#[derive(Debug, Default)]
pub struct Found {
    pub extensions: Extensions,
    pub probes: Vec<ProbeSpec>,
    pub problems: Vec<Problem>,
}

/// Reads `dir` (a repo's `.claude-ops/`); `base` is the repos directory, which
/// paths in problems and sources are relative to.
pub fn read(dir: &Path, base: &Path) -> Found {
    let mut found = Found::default();
    let rel = |p: &Path| files::relative(base, p);
    for entry in markdown_files(&dir.join("checks"), base, &mut found.problems) {
        let (path, text) = entry;
        found.extensions.checks.push(Document {
            title: title(&text).unwrap_or_else(|| file_name(&path)),
            file: file_name(&path),
        });
    }
    for (path, text) in markdown_files(&dir.join("playbooks"), base, &mut found.problems) {
        let min_tier = match playbook_tier(&text) {
            Ok(tier) => tier,
            Err((line, message)) => {
                found
                    .problems
                    .push(Problem::new(rel(&path), Some(line), message));
                DEFAULT_TIER
            }
        };
        found.extensions.playbooks.push(Playbook {
            title: title(&text).unwrap_or_else(|| file_name(&path)),
            file: file_name(&path),
            min_tier,
        });
    }
    found.extensions.skills = skills(&dir.join("skills"));
    let mcp_path = dir.join("mcp.json");
    if mcp_path.is_file() {
        match files::read_text(&mcp_path) {
            Ok(text) => {
                let (servers, problems) = mcp::parse(&text, &rel(&mcp_path));
                found.extensions.mcp_servers = servers;
                found.problems.extend(problems);
            }
            Err(e) => found
                .problems
                .push(Problem::new(rel(&mcp_path), None, e.to_string())),
        }
    }
    let probes_dir = dir.join("probes");
    for entry in files::list(&probes_dir, true).unwrap_or_default() {
        if !entry.is_file || !has_ext(&entry.name, &["yaml", "yml"]) {
            continue;
        }
        found.extensions.probe_files.push(entry.name.clone());
        let path = rel(&entry.path);
        match files::read_text(&entry.path) {
            Ok(text) => {
                let parsed = probe_file::parse(&text, &path);
                found.probes.extend(parsed.probes);
                found.problems.extend(parsed.problems);
            }
            Err(e) => found.problems.push(Problem::new(path, None, e.to_string())),
        }
    }
    found
}

/// The `*.md` files of a directory, read; unreadable ones become problems.
fn markdown_files(
    dir: &Path,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for entry in files::list(dir, true).unwrap_or_default() {
        if !entry.is_file || !has_ext(&entry.name, &["md"]) {
            continue;
        }
        match files::read_text(&entry.path) {
            Ok(text) => out.push((entry.path, text)),
            Err(e) => problems.push(Problem::new(
                files::relative(base, &entry.path),
                None,
                e.to_string(),
            )),
        }
    }
    out
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The first `# Title` of a Markdown text.
pub fn title(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("# "))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Skill names: `NAME.md` files and `NAME/` directories, hidden ones left out.
fn skills(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = files::list(dir, true)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| !e.name.starts_with('.'))
        .filter_map(|e| {
            if e.is_dir {
                Some(e.name)
            } else if e.is_file && has_ext(&e.name, &["md"]) {
                Path::new(&e.name)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
            } else {
                None
            }
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The minimum tier a playbook declares with a `**Tier**: N` line (`2+` reads
/// as 2), as the worker reads it: the first valid line wins; with none, tier 3.
/// A `Tier:` line whose value is not 1, 2 or 3, with no valid one anywhere,
/// is an error naming that line.
pub fn playbook_tier(text: &str) -> Result<u8, (u32, String)> {
    let mut bad = None;
    for (i, line) in text.lines().enumerate() {
        let plain: String = line.chars().filter(|c| *c != '*').collect();
        let Some(rest) = plain.trim().strip_prefix("Tier") else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let value = value.trim();
        let digit = value.chars().next().and_then(|c| c.to_digit(10));
        match digit.and_then(|d| u8::try_from(d).ok()) {
            Some(tier @ 1..=3) => return Ok(tier),
            _ => {
                if bad.is_none() {
                    let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
                    bad = Some((
                        number,
                        format!(
                            "playbook tier `{value}` is not 1, 2 or 3, so tier {DEFAULT_TIER} is assumed; write e.g. `**Tier**: 2`"
                        ),
                    ));
                }
            }
        }
    }
    bad.map_or(Ok(DEFAULT_TIER), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_playbook_tiers_like_the_worker() {
        let cases = [
            ("# X\n\n**Tier**: 2\n", Ok(2)),
            ("**Tier**: 2+", Ok(2)),
            ("**Tier:** 1", Ok(1)),
            ("  **Tier**: 3 (redeploys)", Ok(3)),
            ("# no tier line", Ok(3)),
            ("**Tier Requirement**: 2", Ok(3)),
            ("**Tier**: 9\n**Tier**: 2", Ok(2)),
        ];
        for (text, want) in cases {
            assert_eq!(playbook_tier(text).map_err(|e| e.0), want, "{text:?}");
        }
        let err = playbook_tier("# P\n\n**Tier**: two\n").err();
        assert_eq!(err.as_ref().map(|e| e.0), Some(3));
        assert!(err.is_some_and(|e| e.1.contains("`two`")));
    }

    #[test]
    fn titles() {
        assert_eq!(title("intro\n# Fix perms \n"), Some("Fix perms".into()));
        assert_eq!(title("## not a title"), None);
    }
}
