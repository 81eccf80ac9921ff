//! The worker's configuration: one figment pipeline (defaults, then `CLAUDEOPS_*`
//! and `ANTHROPIC_*` variables), validated all at once.

use std::path::PathBuf;
use std::time::Duration;

use claudeops_core::SiteName;
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerConfig {
    /// `https://HOST:PORT` of the control plane's gRPC listener.
    pub control_plane: Option<String>,
    pub site: Option<String>,
    /// One-time token from `claudeops-control-plane enroll-token`; needed only
    /// until the worker holds a certificate.
    pub enroll_token: Option<String>,
    /// Where the worker keeps its key, certificate and session workspaces.
    pub state_dir: PathBuf,
    pub repos_dir: PathBuf,
    pub claude_bin: PathBuf,
    /// Before a session's CLI is killed (`CLAUDEOPS_SESSION_TIMEOUT`, seconds or "30m").
    #[serde(with = "claudeops_config::de::duration")]
    pub session_timeout: Duration,
    /// `CLAUDEOPS_SHUTDOWN_GRACE`: on SIGTERM or SIGINT, how long running
    /// sessions may go on before they are stopped (and reported).
    #[serde(with = "claudeops_config::de::duration")]
    pub shutdown_grace: Duration,
    /// Built-in tools that exist in a session (`--tools`).
    #[serde(with = "claudeops_config::de::list")]
    pub allowed_tools: Vec<String>,
    pub anthropic_api_key: Option<String>,
    pub anthropic_base_url: Option<String>,
    /// `CLAUDEOPS_SCHEMA_PATH`: a response schema to use instead of the built-in one.
    pub schema_path: Option<PathBuf>,
    /// More paths the agent may never read, `:`-separated.
    pub protected_paths: String,
    /// The PreToolUse hook command; by default this binary with `hook`.
    pub hook_command: Option<String>,
    /// Run native probes (`CLAUDEOPS_PROBES`); off, the worker only runs sessions.
    pub probes: bool,
    /// How often discovery runs again, e.g. "60s".
    #[serde(with = "claudeops_config::de::duration")]
    pub discovery_interval: Duration,
    /// Find probes from the local Docker Engine's containers too.
    pub discover_containers: bool,
    /// Probe attempts in flight at most.
    pub probe_concurrency: usize,
    /// Watch only containers with this label (`KEY` or `KEY=VALUE`), e.g. when
    /// several workers share one Docker Engine.
    pub container_label: Option<String>,
    /// Stop when stdin reaches end-of-file: set by `serve --local-worker`, whose
    /// control plane holds the pipe, so the worker dies with it.
    pub exit_with_stdin: bool,
    /// `CLAUDEOPS_SANDBOX`: how sessions are confined (see `crate::sandbox`).
    pub sandbox: crate::sandbox::SandboxMode,
    /// `CLAUDEOPS_SANDBOX_USER`: who sessions run as when the worker is root.
    pub sandbox_user: Option<String>,
    /// `CLAUDEOPS_BWRAP`: the bubblewrap binary.
    pub bwrap: PathBuf,
    /// `CLAUDEOPS_DOCKER_SOCKET`: the real Docker Engine socket, which
    /// sessions reach only through a read-only filter.
    pub docker_socket: PathBuf,
    /// `CLAUDEOPS_DOCKER_EXEC_TIER`: the lowest tier that may `docker exec`.
    pub docker_exec_tier: claudeops_core::Tier,
    /// `CLAUDEOPS_LOG_FORMAT`: log lines as text or JSON.
    pub log_format: claudeops_telemetry::LogFormat,
    /// `CLAUDEOPS_METRICS_ADDR`: where this worker also serves `/metrics`.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// `CLAUDEOPS_PROMPT`, `CLAUDEOPS_TIER2_PROMPT`, `CLAUDEOPS_TIER3_PROMPT`:
    /// files replacing a tier's built-in prompt (read at each session).
    pub prompt: Option<PathBuf>,
    pub tier2_prompt: Option<PathBuf>,
    pub tier3_prompt: Option<PathBuf>,
    /// `CLAUDEOPS_VERBOSE`: debug logs from this project's crates.
    pub verbose: bool,
    /// `CLAUDEOPS_BROWSER_ALLOWED_ORIGINS`: the origins a session's browser may
    /// load; none means no browser actions at all.
    #[serde(with = "claudeops_config::de::list")]
    pub browser_allowed_origins: Vec<String>,
    /// `CLAUDEOPS_BROWSER_CRED_ORIGINS`: `SERVICE=ORIGIN` entries, the origins a
    /// service's credentials may be typed into.
    #[serde(with = "claudeops_config::de::list")]
    pub browser_cred_origins: Vec<String>,
    /// `CLAUDEOPS_BROWSER_TIER`: the lowest tier with browser actions.
    pub browser_tier: claudeops_core::Tier,
    /// `CLAUDEOPS_BROWSER_BIN`: the Chromium binary.
    pub browser_bin: PathBuf,
    /// `CLAUDEOPS_BROWSER_CDP_URL`: a running browser to use instead.
    pub browser_cdp_url: Option<String>,
}

/// The longest custom prompt file read.
const MAX_PROMPT_BYTES: u64 = 256 * 1024;

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            control_plane: None,
            site: None,
            enroll_token: None,
            state_dir: PathBuf::from("/state/worker"),
            repos_dir: PathBuf::from("/repos"),
            claude_bin: PathBuf::from("claude"),
            session_timeout: Duration::from_secs(1800),
            shutdown_grace: Duration::from_secs(30),
            allowed_tools: claudeops_core::policy::DEFAULT_TOOLS
                .iter()
                .map(|t| (*t).to_owned())
                .collect(),
            anthropic_api_key: None,
            anthropic_base_url: None,
            schema_path: None,
            protected_paths: String::new(),
            hook_command: None,
            probes: true,
            discovery_interval: Duration::from_secs(60),
            discover_containers: true,
            probe_concurrency: 256,
            container_label: None,
            exit_with_stdin: false,
            sandbox: crate::sandbox::SandboxMode::Auto,
            sandbox_user: None,
            bwrap: PathBuf::from("bwrap"),
            docker_socket: PathBuf::from("/var/run/docker.sock"),
            docker_exec_tier: claudeops_core::Tier::Remediate,
            log_format: claudeops_telemetry::LogFormat::Text,
            metrics_addr: None,
            prompt: None,
            tier2_prompt: None,
            tier3_prompt: None,
            verbose: false,
            browser_allowed_origins: Vec::new(),
            browser_cred_origins: Vec::new(),
            browser_tier: claudeops_core::Tier::Investigate,
            browser_bin: PathBuf::from("chromium"),
            browser_cdp_url: None,
        }
    }
}

/// Every problem found in a configuration, reported together.
#[derive(Debug, thiserror::Error)]
#[error("invalid worker configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigErrors(pub Vec<String>);

impl WorkerConfig {
    /// Defaults, then the environment. Tests pass their own figment.
    pub fn figment() -> Figment {
        // The worker's own state dir, when it differs from CLAUDEOPS_STATE_DIR.
        let aliases = [("CLAUDEOPS_WORKER_STATE_DIR", "state_dir")];
        claudeops_config::figment(WorkerConfig::default(), &aliases)
    }

    /// Reads and checks the configuration; every unreadable duration is
    /// reported together, then the rules of [`WorkerConfig::validate`].
    pub fn load() -> Result<WorkerConfig, ConfigErrors> {
        use claudeops_config::pipeline::{AnyDuration, unreadable};
        let figment = WorkerConfig::figment();
        let problems = unreadable::<AnyDuration>(
            &figment,
            &["session_timeout", "discovery_interval", "shutdown_grace"],
        );
        if !problems.is_empty() {
            return Err(ConfigErrors(problems));
        }
        let config: WorkerConfig = figment
            .extract()
            .map_err(|e| ConfigErrors(e.into_iter().map(|e| e.to_string()).collect()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn discovery_interval(&self) -> Duration {
        self.discovery_interval.max(Duration::from_secs(1))
    }

    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut problems = Vec::new();
        match &self.control_plane {
            None => problems.push(
                "CLAUDEOPS_CONTROL_PLANE is not set (the control plane's https://HOST:PORT)"
                    .to_owned(),
            ),
            Some(url) => {
                if let Err(e) = parse_endpoint(url) {
                    problems.push(e);
                }
            }
        }
        match &self.site {
            None => problems.push("CLAUDEOPS_SITE is not set".to_owned()),
            Some(site) => {
                if let Err(e) = SiteName::new(site.clone()) {
                    problems.push(format!("CLAUDEOPS_SITE: {e}"));
                }
            }
        }
        if self.session_timeout < Duration::from_secs(1) {
            problems.push("CLAUDEOPS_SESSION_TIMEOUT must be at least 1 second".to_owned());
        }
        if let Some(path) = &self.schema_path {
            match std::fs::read_to_string(path)
                .map(|s| serde_json::from_str::<serde_json::Value>(&s))
            {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    problems.push(format!("CLAUDEOPS_SCHEMA_PATH {path:?} is not JSON: {e}"))
                }
                Err(e) => problems.push(format!("CLAUDEOPS_SCHEMA_PATH {path:?}: {e}")),
            }
        }
        for (var, path) in self.prompt_files() {
            if let Err(e) = read_prompt(path) {
                problems.push(format!("{var} {path:?}: {e}"));
            }
        }
        if let Err(mut browser) = self.browser_origins() {
            problems.append(&mut browser);
        }
        if let Some(url) = self
            .browser_cdp_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            && !(url.starts_with("ws://") || url.starts_with("http://"))
        {
            problems.push(format!(
                "CLAUDEOPS_BROWSER_CDP_URL {url:?}: give ws://HOST:PORT/devtools/browser/ID or http://HOST:PORT"
            ));
        }
        if self.browser_tier == claudeops_core::Tier::Observe {
            problems.push(
                "CLAUDEOPS_BROWSER_TIER must be 2 or 3: tier 1 observes, and a browser logged in to an app can change its settings"
                    .to_owned(),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(problems))
        }
    }

    /// The browser's allow-list and credential origins, checked.
    pub fn browser_origins(
        &self,
    ) -> Result<(crate::browser::AllowList, crate::browser::CredOrigins), Vec<String>> {
        let tag = |var: &str, errors: Vec<String>| {
            errors
                .into_iter()
                .map(|e| format!("{var}: {e}"))
                .collect::<Vec<_>>()
        };
        let allowed = crate::browser::AllowList::parse(&self.browser_allowed_origins)
            .map_err(|e| tag("CLAUDEOPS_BROWSER_ALLOWED_ORIGINS", e))?;
        let creds = crate::browser::CredOrigins::parse(&self.browser_cred_origins, &allowed)
            .map_err(|e| tag("CLAUDEOPS_BROWSER_CRED_ORIGINS", e))?;
        Ok((allowed, creds))
    }

    /// The browser settings, when browser actions are on (allowed origins set).
    pub fn browser(&self) -> Option<crate::browser::BrowserConfig> {
        let (allowed, creds) = self.browser_origins().ok()?;
        if allowed.is_empty() {
            return None;
        }
        Some(crate::browser::BrowserConfig {
            allowed,
            creds,
            tier: self.browser_tier,
            chromium: self.browser_bin.clone(),
            helper: self.helper_exe().into(),
            profiles: self.state_dir.join("browser"),
            cdp_url: self
                .browser_cdp_url
                .clone()
                .filter(|u| !u.trim().is_empty()),
        })
    }

    fn prompt_files(&self) -> Vec<(&'static str, &PathBuf)> {
        [
            ("CLAUDEOPS_PROMPT", &self.prompt),
            ("CLAUDEOPS_TIER2_PROMPT", &self.tier2_prompt),
            ("CLAUDEOPS_TIER3_PROMPT", &self.tier3_prompt),
        ]
        .into_iter()
        .filter_map(|(var, path)| path.as_ref().map(|p| (var, p)))
        .collect()
    }

    /// A tier's prompt: the operator's file when one is set (read now, so an
    /// edit applies from the next session), else the built-in one. A file
    /// that became unreadable since start falls back to the built-in prompt,
    /// with a warning.
    pub fn tier_prompt(&self, tier: claudeops_core::Tier) -> String {
        use claudeops_core::Tier;
        let (var, path) = match tier {
            Tier::Observe => ("CLAUDEOPS_PROMPT", &self.prompt),
            Tier::Investigate => ("CLAUDEOPS_TIER2_PROMPT", &self.tier2_prompt),
            Tier::Remediate => ("CLAUDEOPS_TIER3_PROMPT", &self.tier3_prompt),
        };
        match path.as_ref().map(|p| (p, read_prompt(p))) {
            None => crate::content::tier_prompt(tier).to_owned(),
            Some((_, Ok(text))) => text,
            Some((p, Err(error))) => {
                tracing::warn!(%var, path = %p.display(), %error, "the custom prompt cannot be read; the built-in one is used");
                crate::content::tier_prompt(tier).to_owned()
            }
        }
    }

    pub fn session_timeout(&self) -> Duration {
        self.session_timeout
    }

    pub fn tools(&self) -> Vec<String> {
        self.allowed_tools.clone()
    }

    /// The response schema: `CLAUDEOPS_SCHEMA_PATH` if set and readable, else built in.
    pub fn schema(&self) -> String {
        self.schema_path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_else(|| crate::workspace::SCHEMA.to_owned())
    }

    pub fn protected(&self) -> Vec<PathBuf> {
        self.protected_paths
            .split(':')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect()
    }

    /// This binary: the CLI runs it again as the hook and the MCP server.
    pub fn helper_exe(&self) -> String {
        std::env::current_exe()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "claudeops-worker".to_owned())
    }

    /// The shell command the CLI runs as its PreToolUse hook.
    pub fn hook_command(&self) -> String {
        self.hook_command.clone().unwrap_or_else(|| {
            format!("{} hook", crate::workspace::shell_quote(&self.helper_exe()))
        })
    }
}

/// `https://HOST:PORT` into host and port.
pub fn parse_endpoint(url: &str) -> Result<(String, u16), String> {
    let rest = url.strip_prefix("https://").ok_or_else(|| {
        format!(
            "CLAUDEOPS_CONTROL_PLANE {url:?} must start with https:// (the link is always mTLS)"
        )
    })?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| {
        format!("CLAUDEOPS_CONTROL_PLANE {url:?} needs a port, as in https://HOST:8081")
    })?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("CLAUDEOPS_CONTROL_PLANE {url:?} has an invalid port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("CLAUDEOPS_CONTROL_PLANE {url:?} has no host"));
    }
    Ok((host.to_owned(), port))
}

/// A custom prompt file: UTF-8 text, not empty, at most 256 KiB.
fn read_prompt(path: &std::path::Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_PROMPT_BYTES {
        return Err(format!("larger than {MAX_PROMPT_BYTES} bytes"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    if text.trim().is_empty() {
        return Err("empty".to_owned());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_prompt_file_replaces_its_tier_only() {
        use claudeops_core::Tier;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("observe.md");
        std::fs::write(&file, "Watch {{site}} closely.").unwrap_or_else(|e| panic!("{e}"));
        let config = WorkerConfig {
            prompt: Some(file.clone()),
            ..WorkerConfig::default()
        };
        assert_eq!(config.tier_prompt(Tier::Observe), "Watch {{site}} closely.");
        assert_eq!(
            config.tier_prompt(Tier::Investigate),
            crate::content::tier_prompt(Tier::Investigate)
        );
        // Unreadable, empty or missing files are configuration errors, named.
        std::fs::write(&file, "  \n").unwrap_or_else(|e| panic!("{e}"));
        let config = WorkerConfig {
            control_plane: Some("https://127.0.0.1:9".into()),
            site: Some("home".into()),
            prompt: Some(file),
            tier3_prompt: Some(dir.path().join("missing.md")),
            ..WorkerConfig::default()
        };
        let problems = config.validate().err().map(|e| e.0).unwrap_or_default();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("CLAUDEOPS_PROMPT") && problems[0].ends_with("empty"));
        assert!(problems[1].starts_with("CLAUDEOPS_TIER3_PROMPT"));
    }

    #[test]
    fn parses_endpoints() {
        let cases = [
            (
                "https://cp.example:8081",
                Ok(("cp.example".to_owned(), 8081)),
            ),
            ("https://127.0.0.1:9/", Ok(("127.0.0.1".to_owned(), 9))),
            ("https://[::1]:8081", Ok(("::1".to_owned(), 8081))),
        ];
        for (url, want) in cases {
            assert_eq!(parse_endpoint(url), want, "{url}");
        }
        for bad in ["http://cp:8081", "https://cp", "https://cp:x", "https://:1"] {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reports_every_problem_at_once() {
        let config = WorkerConfig {
            session_timeout: Duration::ZERO,
            site: Some("Bad Site".into()),
            ..WorkerConfig::default()
        };
        let err = config.validate().err().map(|e| e.0).unwrap_or_default();
        assert_eq!(err.len(), 3, "{err:?}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's error type, in a test
    fn reads_the_original_variables() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CLAUDEOPS_CONTROL_PLANE", "https://cp:8081");
            jail.set_env("CLAUDEOPS_SITE", "home");
            jail.set_env("CLAUDEOPS_REPOS_DIR", "/srv/repos");
            jail.set_env("CLAUDEOPS_WORKER_STATE_DIR", "/var/lib/w");
            jail.set_env("ANTHROPIC_API_KEY", "k");
            jail.set_env("CLAUDEOPS_SESSION_TIMEOUT", "900");
            jail.set_env("CLAUDEOPS_DISCOVERY_INTERVAL", "2m");
            jail.set_env("CLAUDEOPS_SHUTDOWN_GRACE", "45s");
            jail.set_env("CLAUDEOPS_ALLOWED_TOOLS", "Bash, Read");
            let config: WorkerConfig = WorkerConfig::figment().extract()?;
            assert_eq!(config.session_timeout, Duration::from_secs(900));
            assert_eq!(config.discovery_interval, Duration::from_secs(120));
            assert_eq!(config.shutdown_grace, Duration::from_secs(45));
            assert_eq!(config.allowed_tools, ["Bash", "Read"]);
            assert_eq!(config.site.as_deref(), Some("home"));
            assert_eq!(config.repos_dir, PathBuf::from("/srv/repos"));
            assert_eq!(config.state_dir, PathBuf::from("/var/lib/w"));
            assert_eq!(config.anthropic_api_key.as_deref(), Some("k"));
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's error type, in a test
    fn a_bad_duration_is_refused_at_load_with_its_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CLAUDEOPS_DISCOVERY_INTERVAL", "soon");
            let err = WorkerConfig::figment()
                .extract::<WorkerConfig>()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("is not a duration"), "{err}");
            assert!(err.to_lowercase().contains("discovery_interval"), "{err}");
            Ok(())
        });
    }

    /// Every setting of the worker is in the one catalogue (README and pages).
    #[test]
    fn every_setting_is_in_the_catalogue() {
        let value = serde_json::to_value(WorkerConfig::default()).unwrap_or_default();
        let fields = value
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect::<Vec<_>>());
        let missing = claudeops_config::catalogue::undocumented(
            fields.unwrap_or_default(),
            claudeops_config::Scope::worker,
            |field| (field == "state_dir").then_some("CLAUDEOPS_WORKER_STATE_DIR"),
        );
        assert!(
            missing.is_empty(),
            "not in libs/config's catalogue as worker settings: {missing:?}"
        );
    }
}
