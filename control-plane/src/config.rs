//! The control plane's configuration: one figment pipeline (defaults, then the
//! original's `CLAUDEOPS_*` variables), validated all at once by `validate()`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use claudeops_core::{SiteName, Tier};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// One public status page: its slug, its site, and which of the site's
/// services it shows (all when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPageSpec {
    pub slug: String,
    pub site: SiteName,
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Persistent state: the SQLite database, the CA, the API token.
    pub state_dir: PathBuf,
    /// Run logs, one file per session in the original's format.
    pub results_dir: PathBuf,
    pub repos_dir: PathBuf,
    /// `postgres://...` for a fleet; unset means SQLite in `state_dir`.
    pub database_url: Option<String>,
    /// Address every listener binds to.
    pub listen_addr: IpAddr,
    pub dashboard_port: u16,
    pub grpc_port: u16,
    pub enroll_port: u16,
    /// Extra DNS names or IPs for the server certificate (comma-separated).
    #[serde(with = "claudeops_config::de::list")]
    pub public_names: Vec<String>,
    /// Between scheduled runs per site (seconds or "1h"); 0 turns scheduled runs off.
    #[serde(with = "claudeops_config::de::duration")]
    pub interval: Duration,
    /// `auto` skips a scheduled run when every probe of the site is up and
    /// nothing changed since the last one; `always` runs every one.
    pub sweep: claudeops_core::sweep::SweepMode,
    /// Under `auto`, a sweep runs at least this often (seconds or "24h").
    #[serde(with = "claudeops_config::de::duration")]
    pub sweep_max_skip: Duration,
    pub tier1_model: String,
    pub tier2_model: String,
    pub tier3_model: String,
    pub max_tier: Tier,
    pub dry_run: bool,
    pub api_token: Option<String>,
    /// `true` restores the original's open reads: pages and read endpoints
    /// answer without a login (writes still need one).
    pub public_reads: bool,
    /// Public status pages: `SLUG=SITE` (every service of the site) or
    /// `SLUG=SITE:SERVICE SERVICE ...`, comma-separated.
    #[serde(with = "claudeops_config::de::list")]
    pub status_pages: Vec<String>,
    /// The address users reach the dashboard at (`https://ops.example.org`);
    /// `https` marks the login cookie `Secure`.
    pub public_url: Option<String>,
    /// Before a session's CLI is killed (seconds or "30m").
    #[serde(with = "claudeops_config::de::duration")]
    pub session_timeout: Duration,
    /// On SIGTERM or SIGINT: how long running sessions may go on before they
    /// are stopped (`CLAUDEOPS_SHUTDOWN_GRACE`).
    #[serde(with = "claudeops_config::de::duration")]
    pub shutdown_grace: Duration,
    /// Dollar cap per session (`--max-budget-usd`); 0 means none.
    pub max_session_cost_usd: f64,
    /// Dollar cap for the fleet per UTC day; 0 means none.
    pub max_daily_cost_usd: f64,
    pub claude_bin: PathBuf,
    /// `serve --local-worker`: the worker binary; by default the one beside
    /// this binary, else `claudeops-worker` on `PATH`.
    pub worker_bin: Option<PathBuf>,
    #[serde(with = "claudeops_config::de::list")]
    pub allowed_tools: Vec<String>,
    pub anthropic_api_key: Option<String>,
    pub anthropic_base_url: Option<String>,
    /// How long an enrollment token stays usable (seconds or "1h").
    #[serde(with = "claudeops_config::de::duration")]
    pub enroll_token_ttl: Duration,
    /// An operator-supplied CA (PEM files); unset means the built-in CA in `state_dir`.
    pub ca_cert_file: Option<PathBuf>,
    pub ca_key_file: Option<PathBuf>,
    /// Operator additions to each tier's `--allowedTools` / `--disallowedTools`
    /// (comma-separated). They cannot lift the never-allowed list.
    #[serde(with = "claudeops_config::de::list")]
    pub tier1_allowed_tools: Vec<String>,
    #[serde(with = "claudeops_config::de::list")]
    pub tier2_allowed_tools: Vec<String>,
    #[serde(with = "claudeops_config::de::list")]
    pub tier3_allowed_tools: Vec<String>,
    #[serde(with = "claudeops_config::de::list")]
    pub tier1_disallowed_tools: Vec<String>,
    #[serde(with = "claudeops_config::de::list")]
    pub tier2_disallowed_tools: Vec<String>,
    #[serde(with = "claudeops_config::de::list")]
    pub tier3_disallowed_tools: Vec<String>,
    /// Operator additions to every tier's `--disallowedTools` (the original's
    /// `CLAUDEOPS_DISALLOWED_TOOLS`).
    #[serde(with = "claudeops_config::de::list")]
    pub disallowed_tools: Vec<String>,
    /// Debug logs from this project's crates.
    pub verbose: bool,
    /// A chain of escalations stops (needs a human) once it has cost this much; 0: no cap.
    pub max_chain_cost_usd: f64,
    /// Tokens of memories injected into a session's prompt.
    pub memory_budget: usize,
    /// A memory unconfirmed and unedited this long starts losing confidence, 0.1
    /// a week (`core::memory::decay`); "off" (zero) turns decay off.
    #[serde(with = "claudeops_config::de::duration_or_off")]
    pub memory_decay: Duration,
    /// A response schema to validate against instead of the built-in one.
    pub schema_path: Option<PathBuf>,
    /// Cooldowns: at most this many restarts per service per window ...
    pub cooldown_max_restarts: u32,
    /// ... a duration such as "4h".
    #[serde(with = "claudeops_config::de::duration")]
    pub cooldown_restart_window: Duration,
    pub cooldown_max_redeploys: u32,
    #[serde(with = "claudeops_config::de::duration")]
    pub cooldown_redeploy_window: Duration,
    /// The tier a session starts at when a probe opens an incident.
    pub incident_tier: Tier,
    /// Typed actions of this tier and above (a restart is 2, a redeployment
    /// 3) wait for a human's approval; unset: none wait for their tier.
    pub approval_tier: Option<Tier>,
    /// Kinds of typed action (`restart`, `redeploy`) that wait for a human
    /// whatever their tier (comma-separated).
    #[serde(with = "claudeops_config::de::list")]
    pub approval_kinds: Vec<String>,
    /// How long an action waits for a decision before it is denied.
    #[serde(with = "claudeops_config::de::duration")]
    pub approval_timeout: Duration,
    /// The Bearer key of the webhook, chat and Ollama endpoints; unset turns them off.
    pub chat_api_key: Option<String>,
    /// The site of an alert that names none.
    pub webhook_default_site: String,
    /// The highest tier an alert may start at.
    pub webhook_max_tier: Tier,
    /// The model that writes a brief from an alert no parser knows.
    pub webhook_model: String,
    /// Its system prompt; unset means the built-in one.
    pub webhook_system_prompt: Option<String>,
    /// The site of a chat question whose model names none.
    pub chat_default_site: String,
    /// How long probe attempts are kept (the health grid's history), e.g. "24h".
    #[serde(with = "claudeops_config::de::duration")]
    pub probe_retention: Duration,
    /// How long run logs and stored output are kept; zero keeps them.
    #[serde(with = "claudeops_config::de::duration")]
    pub output_retention: Duration,
    /// Apprise URLs, comma-separated. Secrets: never shown, logged or sent to a model.
    pub apprise_urls: Option<String>,
    /// The `apprise` program.
    pub apprise_bin: PathBuf,
    /// How often an unresolved incident is notified again, e.g. "4h"; "0s" for never.
    #[serde(with = "claudeops_config::de::duration")]
    pub notify_reminder_interval: Duration,
    /// Events of one kind arriving within this window go out as one message.
    #[serde(with = "claudeops_config::de::duration")]
    pub notify_group_window: Duration,
    /// When the daily digest goes out, "HH:MM" UTC; "off" for never.
    pub notify_digest_time: String,
    /// Log lines as text or JSON.
    pub log_format: claudeops_telemetry::LogFormat,
    /// A link to a trace, with `{trace_id}` where the id goes.
    pub trace_url_template: Option<String>,
}

/// The longest wait for an approval: the worker holds a typed action's call
/// open for an hour at most (`claudeops_worker::mcp::CALL_TIMEOUT`).
pub const APPROVAL_TIMEOUT_MAX: Duration = Duration::from_secs(50 * 60);

impl Default for Config {
    fn default() -> Self {
        Config {
            state_dir: PathBuf::from("/state"),
            results_dir: PathBuf::from("/results"),
            repos_dir: PathBuf::from("/repos"),
            database_url: None,
            listen_addr: IpAddr::from([0, 0, 0, 0]),
            dashboard_port: 8080,
            grpc_port: 8081,
            enroll_port: 8082,
            public_names: Vec::new(),
            interval: Duration::from_secs(3600),
            sweep: claudeops_core::sweep::SweepMode::Auto,
            sweep_max_skip: Duration::from_secs(24 * 3600),
            tier1_model: Tier::Observe.default_model().to_owned(),
            tier2_model: Tier::Investigate.default_model().to_owned(),
            tier3_model: Tier::Remediate.default_model().to_owned(),
            max_tier: Tier::Remediate,
            dry_run: false,
            api_token: None,
            public_reads: false,
            status_pages: Vec::new(),
            public_url: None,
            session_timeout: Duration::from_secs(1800),
            shutdown_grace: Duration::from_secs(30),
            max_session_cost_usd: 0.0,
            max_daily_cost_usd: 0.0,
            claude_bin: PathBuf::from("claude"),
            worker_bin: None,
            allowed_tools: claudeops_core::policy::DEFAULT_TOOLS
                .iter()
                .map(|t| (*t).to_owned())
                .collect(),
            anthropic_api_key: None,
            anthropic_base_url: None,
            enroll_token_ttl: Duration::from_secs(3600),
            ca_cert_file: None,
            ca_key_file: None,
            tier1_allowed_tools: Vec::new(),
            tier2_allowed_tools: Vec::new(),
            tier3_allowed_tools: Vec::new(),
            tier1_disallowed_tools: Vec::new(),
            tier2_disallowed_tools: Vec::new(),
            tier3_disallowed_tools: Vec::new(),
            disallowed_tools: Vec::new(),
            verbose: false,
            max_chain_cost_usd: 0.0,
            memory_budget: 2000,
            memory_decay: Duration::from_millis(
                claudeops_core::memory::DEFAULT_DECAY_GRACE_MS.unsigned_abs(),
            ),
            schema_path: None,
            cooldown_max_restarts: 2,
            cooldown_restart_window: Duration::from_secs(4 * 3600),
            cooldown_max_redeploys: 1,
            cooldown_redeploy_window: Duration::from_secs(24 * 3600),
            incident_tier: Tier::Investigate,
            approval_tier: None,
            approval_kinds: Vec::new(),
            approval_timeout: Duration::from_secs(10 * 60),
            chat_api_key: None,
            webhook_default_site: "local".to_owned(),
            webhook_max_tier: Tier::Investigate,
            webhook_model: "claude-haiku-4-5".to_owned(),
            webhook_system_prompt: None,
            chat_default_site: "local".to_owned(),
            probe_retention: Duration::from_secs(24 * 3600),
            output_retention: Duration::from_secs(30 * 24 * 3600),
            apprise_urls: None,
            apprise_bin: PathBuf::from("apprise"),
            notify_reminder_interval: Duration::from_secs(4 * 3600),
            notify_group_window: Duration::from_secs(30),
            notify_digest_time: "08:00".to_owned(),
            log_format: claudeops_telemetry::LogFormat::Text,
            trace_url_template: None,
        }
    }
}

/// Every problem found in a configuration, reported together.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigErrors(pub Vec<String>);

impl Config {
    /// The shared pipeline (`claudeops_config::pipeline`): defaults, then the
    /// `CLAUDEOPS_*` and `ANTHROPIC_*` variables.
    pub fn figment() -> Figment {
        claudeops_config::figment(Config::default(), &[])
    }

    pub fn load() -> Result<Config, ConfigErrors> {
        Config::from_figment(&Config::figment())
    }

    /// Reads and checks the configuration. Values that do not parse (a
    /// duration, a tier) are all reported together, before the rules of
    /// [`Config::validate`] are checked.
    pub fn from_figment(figment: &Figment) -> Result<Config, ConfigErrors> {
        let problems = typed_problems(figment);
        if !problems.is_empty() {
            return Err(ConfigErrors(problems));
        }
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigErrors(e.into_iter().map(|e| e.to_string()).collect()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut problems = Vec::new();
        if let Some(template) = &self.trace_url_template
            && !template.contains("{trace_id}")
        {
            problems.push(
                "CLAUDEOPS_TRACE_URL_TEMPLATE must contain {trace_id}, where the trace id goes"
                    .to_owned(),
            );
        }
        if let Some(url) = &self.database_url
            && !url.starts_with("postgres://")
            && !url.starts_with("postgresql://")
            && !url.starts_with("sqlite:")
        {
            problems.push("CLAUDEOPS_DATABASE_URL must be a postgres:// or sqlite: URL".to_owned());
        }
        for kind in &self.approval_kinds {
            if kind.parse::<claudeops_core::ledger::ActionKind>().is_err() {
                problems.push(format!(
                    "CLAUDEOPS_APPROVAL_KINDS: {kind:?} is not a kind of action (restart, redeploy)"
                ));
            }
        }
        if self.approval_timeout.is_zero() || self.approval_timeout > APPROVAL_TIMEOUT_MAX {
            problems.push(format!(
                "CLAUDEOPS_APPROVAL_TIMEOUT must be between 1s and {} (a waiting action holds its session's tool call open)",
                humantime::format_duration(APPROVAL_TIMEOUT_MAX)
            ));
        } else if !self.approval_gate().is_open()
            && !self.session_timeout.is_zero()
            && self.approval_timeout >= self.session_timeout
        {
            problems.push(format!(
                "CLAUDEOPS_APPROVAL_TIMEOUT ({}) must be shorter than CLAUDEOPS_SESSION_TIMEOUT ({}): the wait is part of the session's time",
                humantime::format_duration(self.approval_timeout),
                humantime::format_duration(self.session_timeout)
            ));
        }
        let ports = [
            ("CLAUDEOPS_DASHBOARD_PORT", self.dashboard_port),
            ("CLAUDEOPS_GRPC_PORT", self.grpc_port),
            ("CLAUDEOPS_ENROLL_PORT", self.enroll_port),
        ];
        for (i, (name, port)) in ports.iter().enumerate() {
            for (other, other_port) in &ports[i + 1..] {
                if port == other_port && *port != 0 {
                    problems.push(format!("{name} and {other} are both {port}"));
                }
            }
        }
        for (name, site) in [
            ("CLAUDEOPS_WEBHOOK_DEFAULT_SITE", &self.webhook_default_site),
            ("CLAUDEOPS_CHAT_DEFAULT_SITE", &self.chat_default_site),
        ] {
            if let Err(error) = claudeops_core::SiteName::new(site.clone()) {
                problems.push(format!("{name}: {error}"));
            }
        }
        if self.webhook_model.trim().is_empty() {
            problems.push("CLAUDEOPS_WEBHOOK_MODEL is empty".to_owned());
        }
        if let Some(token) = &self.api_token
            && token.len() < 16
        {
            problems.push("CLAUDEOPS_API_TOKEN must be at least 16 characters".to_owned());
        }
        if let Err(error) = self.status_page_list() {
            problems.push(format!("CLAUDEOPS_STATUS_PAGES: {error}"));
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            problems.push(format!(
                "CLAUDEOPS_PUBLIC_URL must start with https:// or http://, not {url:?}"
            ));
        }
        for (name, model) in [
            ("CLAUDEOPS_TIER1_MODEL", &self.tier1_model),
            ("CLAUDEOPS_TIER2_MODEL", &self.tier2_model),
            ("CLAUDEOPS_TIER3_MODEL", &self.tier3_model),
        ] {
            if model.trim().is_empty() {
                problems.push(format!("{name} is empty"));
            }
        }
        if self.ca_cert_file.is_some() != self.ca_key_file.is_some() {
            problems.push(
                "set both CLAUDEOPS_CA_CERT_FILE and CLAUDEOPS_CA_KEY_FILE, or neither".to_owned(),
            );
        }
        for (name, value) in [
            ("CLAUDEOPS_SWEEP_MAX_SKIP", self.sweep_max_skip),
            ("CLAUDEOPS_SESSION_TIMEOUT", self.session_timeout),
            (
                "CLAUDEOPS_COOLDOWN_RESTART_WINDOW",
                self.cooldown_restart_window,
            ),
            (
                "CLAUDEOPS_COOLDOWN_REDEPLOY_WINDOW",
                self.cooldown_redeploy_window,
            ),
        ] {
            if value < Duration::from_secs(1) {
                problems.push(format!("{name} must be at least 1 second"));
            }
        }
        if self.notify_digest_time != "off" && self.digest_time().is_none() {
            problems.push(format!(
                "CLAUDEOPS_NOTIFY_DIGEST_TIME {:?} is not a time such as \"08:00\" (UTC) or \"off\"",
                self.notify_digest_time
            ));
        }
        if self.max_chain_cost_usd < 0.0 {
            problems.push("CLAUDEOPS_MAX_CHAIN_COST_USD cannot be negative".to_owned());
        }
        if let Err(e) = self.schema().map_err(|e| e.to_string()).and_then(|s| {
            crate::escalation::ResponseValidator::new(&s)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }) {
            problems.push(format!("CLAUDEOPS_SCHEMA_PATH: {e}"));
        }
        if self.max_session_cost_usd < 0.0 {
            problems.push("CLAUDEOPS_MAX_SESSION_COST_USD cannot be negative".to_owned());
        }
        if self.max_daily_cost_usd < 0.0 {
            problems.push("CLAUDEOPS_MAX_DAILY_COST_USD cannot be negative".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(problems))
        }
    }

    pub fn model_for(&self, tier: Tier) -> &str {
        match tier {
            Tier::Observe => &self.tier1_model,
            Tier::Investigate => &self.tier2_model,
            Tier::Remediate => &self.tier3_model,
        }
    }

    /// The operator's (allowed, disallowed) additions for a tier.
    pub fn tier_tools(&self, tier: Tier) -> (Vec<String>, Vec<String>) {
        let (allowed, disallowed) = match tier {
            Tier::Observe => (&self.tier1_allowed_tools, &self.tier1_disallowed_tools),
            Tier::Investigate => (&self.tier2_allowed_tools, &self.tier2_disallowed_tools),
            Tier::Remediate => (&self.tier3_allowed_tools, &self.tier3_disallowed_tools),
        };
        let mut disallowed = disallowed.clone();
        disallowed.extend(self.disallowed_tools.iter().cloned());
        (allowed.clone(), disallowed)
    }

    /// The response schema text (`CLAUDEOPS_SCHEMA_PATH` or the built-in one).
    pub fn schema(&self) -> std::io::Result<String> {
        match &self.schema_path {
            Some(path) => std::fs::read_to_string(path),
            None => Ok(crate::escalation::BUILTIN_SCHEMA.to_owned()),
        }
    }

    /// The cooldown limits (windows validated by `validate`).
    pub fn cooldown_limits(&self) -> claudeops_core::ledger::CooldownLimits {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        claudeops_core::ledger::CooldownLimits {
            max_restarts: self.cooldown_max_restarts,
            restart_window_ms: ms(self.cooldown_restart_window),
            max_redeploys: self.cooldown_max_redeploys,
            redeploy_window_ms: ms(self.cooldown_redeploy_window),
        }
    }

    /// Which typed actions wait for a human (`CLAUDEOPS_APPROVAL_TIER`,
    /// `CLAUDEOPS_APPROVAL_KINDS`; unknown kinds are refused by `validate`).
    pub fn approval_gate(&self) -> claudeops_core::approval::Gate {
        claudeops_core::approval::Gate {
            tier: self.approval_tier,
            kinds: self
                .approval_kinds
                .iter()
                .filter_map(|k| k.parse().ok())
                .collect(),
        }
    }

    pub fn max_tier(&self) -> Tier {
        self.max_tier
    }

    /// The tier of a session opened by an incident: `CLAUDEOPS_INCIDENT_TIER`, never
    /// above the max tier, and tier 1 in dry run (only observation runs then).
    pub fn incident_tier(&self) -> Tier {
        if self.dry_run {
            return Tier::Observe;
        }
        self.incident_tier.min(self.max_tier())
    }

    /// The tier an alert's session starts at: what the alert asked for (else
    /// the incident tier), never above `CLAUDEOPS_WEBHOOK_MAX_TIER` nor the
    /// max tier, and tier 1 in dry run.
    pub fn alert_tier(&self, asked: Option<Tier>) -> Tier {
        if self.dry_run {
            return Tier::Observe;
        }
        asked
            .unwrap_or(self.incident_tier)
            .min(self.webhook_max_tier)
            .min(self.max_tier())
    }

    /// When the daily digest goes out; `None` when it is off (or unreadable).
    pub fn digest_time(&self) -> Option<claudeops_notify::DigestTime> {
        self.notify_digest_time.trim().parse().ok()
    }

    pub fn probe_retention(&self) -> Duration {
        self.probe_retention
    }

    /// How stale memories decay; `None` when `CLAUDEOPS_MEMORY_DECAY` is off.
    pub fn memory_decay(&self) -> Option<claudeops_core::memory::DecayRule> {
        let grace_ms = i64::try_from(self.memory_decay.as_millis()).unwrap_or(i64::MAX);
        claudeops_core::memory::DecayRule::after(grace_ms)
    }

    pub fn interval(&self) -> Option<Duration> {
        (!self.interval.is_zero()).then_some(self.interval)
    }

    /// The store URL: PostgreSQL if configured, else SQLite in the state dir.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.state_dir.join(crate::DEFAULT_DATABASE_FILE).display()
            )
        })
    }

    /// The public status pages (`CLAUDEOPS_STATUS_PAGES`), checked.
    pub fn status_page_list(&self) -> Result<Vec<StatusPageSpec>, String> {
        let mut pages: Vec<StatusPageSpec> = Vec::new();
        for entry in &self.status_pages {
            let (slug, target) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not SLUG=SITE or SLUG=SITE:SERVICE ..."))?;
            let slug = slug.trim();
            if slug.is_empty()
                || slug.len() > 64
                || !slug
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(format!(
                    "slug {slug:?}: use 1 to 64 lowercase letters, digits and '-'"
                ));
            }
            if pages.iter().any(|p| p.slug == slug) {
                return Err(format!("slug {slug:?} is named twice"));
            }
            let (site, services) = match target.split_once(':') {
                Some((site, services)) => (
                    site.trim(),
                    services.split_whitespace().map(str::to_owned).collect(),
                ),
                None => (target.trim(), Vec::new()),
            };
            let site = SiteName::new(site.to_owned()).map_err(|e| format!("{entry:?}: {e}"))?;
            pages.push(StatusPageSpec {
                slug: slug.to_owned(),
                site,
                services,
            });
        }
        Ok(pages)
    }

    pub fn public_names(&self) -> Vec<String> {
        self.public_names.clone()
    }

    pub fn llm_configured(&self) -> bool {
        self.anthropic_api_key.is_some() || self.anthropic_base_url.is_some()
    }
}

/// Fields parsed into a type, checked one by one so that every unreadable
/// value is reported, not just the first.
const DURATIONS: &[&str] = &[
    "interval",
    "sweep_max_skip",
    "session_timeout",
    "shutdown_grace",
    "enroll_token_ttl",
    "cooldown_restart_window",
    "cooldown_redeploy_window",
    "probe_retention",
    "output_retention",
    "notify_reminder_interval",
    "notify_group_window",
];
const TIERS: &[&str] = &["max_tier", "incident_tier", "webhook_max_tier"];

fn typed_problems(figment: &Figment) -> Vec<String> {
    use claudeops_config::pipeline::{AnyDuration, AnyDurationOrOff, unreadable};
    let mut problems = unreadable::<AnyDuration>(figment, DURATIONS);
    problems.extend(unreadable::<AnyDurationOrOff>(figment, &["memory_decay"]));
    problems.extend(unreadable::<Tier>(figment, TIERS));
    problems.extend(unreadable::<claudeops_core::sweep::SweepMode>(
        figment,
        &["sweep"],
    ));
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's error type, in a test
    fn reads_the_original_variables() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CLAUDEOPS_INTERVAL", "600");
            jail.set_env("CLAUDEOPS_TIER2_MODEL", "sonnet-x");
            jail.set_env("CLAUDEOPS_DRY_RUN", "true");
            jail.set_env("CLAUDEOPS_DASHBOARD_PORT", "9090");
            jail.set_env("CLAUDEOPS_STATE_DIR", "/tmp/s");
            jail.set_env("ANTHROPIC_BASE_URL", "http://127.0.0.1:9");
            jail.set_env("CLAUDEOPS_DISALLOWED_TOOLS", "WebFetch,Bash(curl:*)");
            jail.set_env("CLAUDEOPS_TIER2_DISALLOWED_TOOLS", "Bash(rm:*)");
            jail.set_env("CLAUDEOPS_VERBOSE", "true");
            let config = Config::from_figment(&Config::figment())
                .map_err(|e| figment::Error::from(e.to_string()))?;
            // The original's global list reaches every tier, after the tier's own.
            assert_eq!(
                config.tier_tools(Tier::Investigate).1,
                ["Bash(rm:*)", "WebFetch", "Bash(curl:*)"]
            );
            assert_eq!(
                config.tier_tools(Tier::Observe).1,
                ["WebFetch", "Bash(curl:*)"]
            );
            assert!(config.verbose);
            assert_eq!(config.interval, Duration::from_secs(600));
            assert_eq!(config.model_for(Tier::Investigate), "sonnet-x");
            assert!(config.dry_run);
            assert_eq!(config.dashboard_port, 9090);
            assert_eq!(config.database_url(), "sqlite:///tmp/s/claudeops.db");
            assert!(config.llm_configured());
            Ok(())
        });
    }

    #[test]
    fn reports_every_problem_at_once() {
        let config = Config {
            grpc_port: 8080,
            ca_key_file: Some("/k".into()),
            api_token: Some("short".into()),
            database_url: Some("mysql://x".into()),
            ..Config::default()
        };
        let problems = config.validate().err().map(|e| e.0).unwrap_or_default();
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn approval_settings_are_checked() {
        // Off by default; a short session timeout alone is fine.
        let off = Config {
            session_timeout: Duration::from_secs(60),
            ..Config::default()
        };
        assert!(off.approval_gate().is_open());
        assert!(off.validate().is_ok(), "{:?}", off.validate().err());

        let gated = Config {
            approval_tier: Some(Tier::Remediate),
            approval_kinds: vec!["restart".into()],
            ..Config::default()
        };
        let gate = gated.approval_gate();
        assert!(gate.needs_approval(claudeops_core::ledger::ActionKind::Redeploy));
        assert!(gate.needs_approval(claudeops_core::ledger::ActionKind::Restart));
        assert!(gated.validate().is_ok());

        let problems = |c: Config| c.validate().err().map(|e| e.0).unwrap_or_default();
        let wrong = problems(Config {
            approval_kinds: vec!["reboot".into()],
            approval_timeout: Duration::from_secs(3 * 3600),
            ..Config::default()
        });
        assert_eq!(wrong.len(), 2, "{wrong:?}");
        assert!(wrong[0].contains("\"reboot\" is not a kind"), "{wrong:?}");
        assert!(wrong[1].contains("between 1s and 50m"), "{wrong:?}");
        // A gate whose wait would outlast the session is refused.
        let longer = problems(Config {
            approval_tier: Some(Tier::Remediate),
            session_timeout: Duration::from_secs(300),
            ..Config::default()
        });
        assert_eq!(longer.len(), 1, "{longer:?}");
        assert!(
            longer[0].contains("shorter than CLAUDEOPS_SESSION_TIMEOUT"),
            "{longer:?}"
        );
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's error type, in a test
    fn unreadable_values_are_reported_together_with_their_variables() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CLAUDEOPS_MAX_TIER", "7");
            jail.set_env("CLAUDEOPS_INCIDENT_TIER", "0");
            jail.set_env("CLAUDEOPS_PROBE_RETENTION", "a day");
            jail.set_env("CLAUDEOPS_NOTIFY_GROUP_WINDOW", "soon");
            let problems = Config::from_figment(&Config::figment())
                .err()
                .map(|e| e.0)
                .unwrap_or_default();
            assert_eq!(problems.len(), 4, "{problems:?}");
            for name in [
                "CLAUDEOPS_MAX_TIER",
                "CLAUDEOPS_INCIDENT_TIER",
                "CLAUDEOPS_PROBE_RETENTION",
                "CLAUDEOPS_NOTIFY_GROUP_WINDOW",
            ] {
                assert!(
                    problems.iter().any(|p| p.contains(name)),
                    "{name}: {problems:?}"
                );
            }
            jail.clear_env();
            jail.set_env("CLAUDEOPS_COOLDOWN_RESTART_WINDOW", "90m");
            jail.set_env("CLAUDEOPS_TIER2_ALLOWED_TOOLS", "mcp__a, mcp__b");
            jail.set_env("CLAUDEOPS_PUBLIC_NAMES", "cp.example.invalid,192.0.2.7");
            let config = Config::from_figment(&Config::figment())
                .map_err(|e| figment::Error::from(e.to_string()))?;
            assert_eq!(config.cooldown_limits().restart_window_ms, 90 * 60_000);
            assert_eq!(config.tier_tools(Tier::Investigate).0, ["mcp__a", "mcp__b"]);
            assert_eq!(config.public_names(), ["cp.example.invalid", "192.0.2.7"]);
            Ok(())
        });
    }

    #[test]
    fn incident_and_notification_settings() {
        let config = Config {
            notify_digest_time: "25:00".into(),
            session_timeout: Duration::ZERO,
            ..Config::default()
        };
        let problems = config.validate().err().map(|e| e.0).unwrap_or_default();
        assert_eq!(problems.len(), 2, "{problems:?}");
        for name in ["CLAUDEOPS_SESSION_TIMEOUT", "CLAUDEOPS_NOTIFY_DIGEST_TIME"] {
            assert!(
                problems.iter().any(|p| p.contains(name)),
                "{name}: {problems:?}"
            );
        }
        let off = Config {
            notify_digest_time: "off".into(),
            ..Config::default()
        };
        assert!(off.validate().is_ok());
        assert!(off.digest_time().is_none());
        assert_eq!(
            Config::default().digest_time().map(|t| t.to_string()),
            Some("08:00".to_owned())
        );
        // Dry run observes only; the incident tier never exceeds the max tier.
        let dry = Config {
            dry_run: true,
            ..Config::default()
        };
        assert_eq!(dry.incident_tier(), Tier::Observe);
        let capped = Config {
            max_tier: Tier::Observe,
            ..Config::default()
        };
        assert_eq!(capped.incident_tier(), Tier::Observe);
        assert_eq!(Config::default().incident_tier(), Tier::Investigate);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's error type, in a test
    fn memory_decay_reads_a_duration_or_off() {
        figment::Jail::expect_with(|jail| {
            let read = || Config::from_figment(&Config::figment()).map_err(|e| e.0);
            let default = read().map_err(|e| figment::Error::from(e.join("; ")))?;
            assert_eq!(
                default.memory_decay().map(|r| r.grace_ms),
                Some(30 * 86_400_000)
            );
            jail.set_env("CLAUDEOPS_MEMORY_DECAY", "14d");
            let two_weeks = read().map_err(|e| figment::Error::from(e.join("; ")))?;
            assert_eq!(
                two_weeks.memory_decay().map(|r| r.grace_ms),
                Some(14 * 86_400_000)
            );
            for off in ["off", "0"] {
                jail.set_env("CLAUDEOPS_MEMORY_DECAY", off);
                let config = read().map_err(|e| figment::Error::from(e.join("; ")))?;
                assert_eq!(config.memory_decay(), None, "{off}");
            }
            jail.set_env("CLAUDEOPS_MEMORY_DECAY", "sometimes");
            let problems = read().err().unwrap_or_default();
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(
                problems[0].starts_with("CLAUDEOPS_MEMORY_DECAY: "),
                "{problems:?}"
            );
            Ok(())
        });
    }

    /// Every setting of the control plane is in the one catalogue (README, page).
    #[test]
    fn every_setting_is_in_the_catalogue() {
        let value = serde_json::to_value(Config::default()).unwrap_or_default();
        let fields = value
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect::<Vec<_>>());
        let missing = claudeops_config::catalogue::undocumented(
            fields.unwrap_or_default(),
            claudeops_config::Scope::control_plane,
            |_| None,
        );
        assert!(
            missing.is_empty(),
            "not in libs/config's catalogue as control-plane settings: {missing:?}"
        );
    }
}
