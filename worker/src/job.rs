//! Turns a tier job from the control plane into a `claude` CLI invocation: the
//! prompt, the tier's permission flags, the session workspace and the
//! allow-listed environment.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use claudeops_core::{SiteName, Tier, policy};

use crate::config::WorkerConfig;
use crate::content;
use crate::runner::Invocation;

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
}

/// Environment variables passed through from the worker's own environment when set.
const PASSED_THROUGH: &[&str] = &["TZ", "DOCKER_HOST", "LANG"];

/// The text given with `-p`.
pub fn prompt_text(job: &Job, site: &SiteName, repos_dir: &Path) -> String {
    let repos = repos_dir.to_string_lossy();
    let mut text = content::fill(
        content::tier_prompt(job.tier),
        &[("site", site.as_str()), ("repos_dir", &repos)],
    );
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

/// Builds the CLI invocation. `workdir` must exist.
pub fn invocation(
    job: &Job,
    site: &SiteName,
    config: &WorkerConfig,
    workdir: &Path,
    home: &Path,
) -> Invocation {
    let flags = policy::tool_flags(
        job.tier,
        &config.tools(),
        &job.extra_allowed_tools,
        &job.extra_disallowed_tools,
    );
    let mut args: Vec<OsString> = Vec::new();
    let mut arg = |a: &str| args.push(a.into());
    arg("-p");
    arg(&prompt_text(job, site, &config.repos_dir));
    arg("--model");
    arg(&job.model);
    arg("--output-format");
    arg("stream-json");
    arg("--verbose");
    arg("--setting-sources");
    arg("");
    arg("--tools");
    arg(&flags.tools.join(","));
    arg("--allowedTools");
    arg(&flags.allowed.join(","));
    arg("--disallowedTools");
    arg(&flags.disallowed.join(","));
    arg("--append-system-prompt");
    arg(content::RUNBOOK);
    if job.max_budget_usd > 0.0 {
        arg("--max-budget-usd");
        arg(&format!("{:.2}", job.max_budget_usd));
    }
    if config.repos_dir.is_dir() {
        arg("--add-dir");
        args.push(config.repos_dir.clone().into_os_string());
    }
    let timeout = if job.timeout_secs > 0 {
        std::time::Duration::from_secs(u64::from(job.timeout_secs))
    } else {
        config.session_timeout()
    };
    Invocation {
        program: config.claude_bin.clone(),
        args,
        env: environment(job, site, config, home),
        workdir: workdir.to_path_buf(),
        timeout,
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
    if let Some(key) = &config.anthropic_api_key {
        set("ANTHROPIC_API_KEY", key.into());
    }
    if let Some(url) = &config.anthropic_base_url {
        set("ANTHROPIC_BASE_URL", url.into());
    }
    set("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into());
    set("DISABLE_AUTOUPDATER", "1".into());
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
        let inv = invocation(&job(), &site, &config, Path::new("/tmp"), Path::new("/h"));
        let prompt = arg_after(&inv, "-p").unwrap_or_default();
        assert!(prompt.contains("tier 2 of Claude Ops on site `home`"));
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
        assert!(
            !inv.args
                .iter()
                .any(|a| a == "--dangerously-skip-permissions")
        );
        assert_eq!(inv.timeout.as_secs(), 1800);
    }

    #[test]
    fn environment_is_an_allow_list() {
        let site = SiteName::new("home").unwrap_or_else(|e| panic!("{e}"));
        let config = WorkerConfig {
            anthropic_api_key: Some("sk-test".into()),
            ..WorkerConfig::default()
        };
        let inv = invocation(&job(), &site, &config, Path::new("/tmp"), Path::new("/h"));
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
                    || PASSED_THROUGH.contains(&name.as_str()),
                "unexpected variable {name}"
            );
        }
        assert!(names.contains(&"ANTHROPIC_API_KEY".to_owned()));
        assert!(names.contains(&"CLAUDEOPS_SESSION_ID".to_owned()));
    }
}
