//! The catalogue: one row per variable an operator may set.

/// Which binary reads a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    ControlPlane,
    Worker,
    /// Both read it (the local worker inherits the control plane's value).
    Both,
}

impl Scope {
    pub fn label(self) -> &'static str {
        match self {
            Scope::ControlPlane => "control plane",
            Scope::Worker => "worker",
            Scope::Both => "both",
        }
    }

    pub fn control_plane(self) -> bool {
        matches!(self, Scope::ControlPlane | Scope::Both)
    }

    pub fn worker(self) -> bool {
        matches!(self, Scope::Worker | Scope::Both)
    }
}

/// One variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub var: &'static str,
    /// The default as an operator reads it.
    pub default: &'static str,
    pub scope: Scope,
    /// Never shown, logged or passed to a model: pages say only "set".
    pub secret: bool,
    pub doc: &'static str,
}

const fn s(
    var: &'static str,
    default: &'static str,
    scope: Scope,
    secret: bool,
    doc: &'static str,
) -> Setting {
    Setting {
        var,
        default,
        scope,
        secret,
        doc,
    }
}

use Scope::{Both, ControlPlane as Cp, Worker as W};

/// Every setting, in the order the README lists them.
pub const SETTINGS: &[Setting] = &[
    s(
        "ANTHROPIC_API_KEY",
        "(none)",
        Both,
        true,
        "Passed to the CLI on workers; without it LLM tiers are off",
    ),
    s(
        "ANTHROPIC_BASE_URL",
        "Anthropic",
        Both,
        true,
        "An Anthropic-compatible proxy (LiteLLM, ...)",
    ),
    s(
        "CLAUDEOPS_INTERVAL",
        "`3600`",
        Cp,
        false,
        "Seconds between scheduled runs per site; `0` turns them off",
    ),
    s(
        "CLAUDEOPS_SWEEP",
        "`auto`",
        Cp,
        false,
        "`auto` skips a scheduled run when every probe of the site is up and nothing changed since the last one (inventory, events, incidents): a healthy day costs no tokens; `always` runs every one, as the original did",
    ),
    s(
        "CLAUDEOPS_SWEEP_MAX_SKIP",
        "`24h`",
        Cp,
        false,
        "Under `CLAUDEOPS_SWEEP=auto`, a scheduled run still happens at least this often",
    ),
    s(
        "CLAUDEOPS_TIER1_MODEL",
        "`haiku`",
        Cp,
        false,
        "Model of tier 1 (observe)",
    ),
    s(
        "CLAUDEOPS_TIER2_MODEL",
        "`sonnet`",
        Cp,
        false,
        "Model of tier 2 (investigate, safe fixes)",
    ),
    s(
        "CLAUDEOPS_TIER3_MODEL",
        "`opus`",
        Cp,
        false,
        "Model of tier 3 (redeployments)",
    ),
    s(
        "CLAUDEOPS_MAX_TIER",
        "`3`",
        Cp,
        false,
        "Highest tier a run may reach",
    ),
    s(
        "CLAUDEOPS_DRY_RUN",
        "`false`",
        Cp,
        false,
        "Observe only: no tier 2 or 3 session starts",
    ),
    s(
        "CLAUDEOPS_STATE_DIR",
        "`/state`",
        Both,
        false,
        "SQLite database, CA, API token, local worker identity",
    ),
    s(
        "CLAUDEOPS_RESULTS_DIR",
        "`/results`",
        Cp,
        false,
        "Run logs, one per session: `run-YYYYMMDD-HHMMSS.log` (RFC 3339 time, a tab, the raw line)",
    ),
    s(
        "CLAUDEOPS_REPOS_DIR",
        "`/repos`",
        Both,
        false,
        "Infrastructure repos on the worker",
    ),
    s(
        "CLAUDEOPS_DATABASE_URL",
        "SQLite in the state dir",
        Cp,
        true,
        "`postgres://...` for a fleet",
    ),
    s(
        "CLAUDEOPS_DASHBOARD_PORT",
        "`8080`",
        Cp,
        false,
        "Dashboard and REST API",
    ),
    s(
        "CLAUDEOPS_GRPC_PORT",
        "`8081`",
        Cp,
        false,
        "Worker link (mutual TLS)",
    ),
    s(
        "CLAUDEOPS_ENROLL_PORT",
        "`8082`",
        Cp,
        false,
        "Enrollment (server TLS, CA pinned by the token)",
    ),
    s(
        "CLAUDEOPS_LISTEN_ADDR",
        "`0.0.0.0`",
        Cp,
        false,
        "Address every listener binds",
    ),
    s(
        "CLAUDEOPS_PUBLIC_NAMES",
        "(none)",
        Cp,
        false,
        "Extra names/IPs for the server certificate",
    ),
    s(
        "CLAUDEOPS_API_TOKEN",
        "generated into the state dir",
        Cp,
        true,
        "Bearer token for the API and dashboard login (16+ chars)",
    ),
    s(
        "CLAUDEOPS_PUBLIC_READS",
        "`false`",
        Cp,
        false,
        "`true` lets anyone who reaches the port read pages and read endpoints without a login, as the original did (writes still need one)",
    ),
    s(
        "CLAUDEOPS_STATUS_PAGES",
        "(none)",
        Cp,
        false,
        "Public status pages at `/status/SLUG`, comma-separated: `SLUG=SITE` (every service) or `SLUG=SITE:SERVICE SERVICE`; their services' badges are public too",
    ),
    s(
        "CLAUDEOPS_PUBLIC_URL",
        "(none)",
        Cp,
        false,
        "Where users reach the dashboard, e.g. `https://ops.example.org` behind a TLS proxy; `https` marks the login cookie `Secure`",
    ),
    s(
        "CLAUDEOPS_SESSION_TIMEOUT",
        "`1800`",
        Both,
        false,
        "Seconds before a session's CLI is killed",
    ),
    s(
        "CLAUDEOPS_SHUTDOWN_GRACE",
        "`30s`",
        Both,
        false,
        "On SIGTERM or SIGINT: how long running sessions may go on before they are stopped and reported; no new session starts meanwhile (give `docker stop` more than this)",
    ),
    s(
        "CLAUDEOPS_LOG_FORMAT",
        "`text`",
        Both,
        false,
        "`text` for people, `json` for log shippers: one object per line with the trace and span ids (`docs/telemetry.md`)",
    ),
    s(
        "CLAUDEOPS_TRACE_URL_TEMPLATE",
        "unset",
        Cp,
        false,
        "A link to a session's trace in Grafana, Jaeger or Tempo, with `{trace_id}` where the id goes; shown on the session page. Traces are exported when `OTEL_EXPORTER_OTLP_ENDPOINT` is set",
    ),
    s(
        "CLAUDEOPS_METRICS_ADDR",
        "unset",
        W,
        false,
        "Where a worker also serves its own Prometheus `/metrics`, e.g. `127.0.0.1:9464`; the control plane's `/metrics` has every worker's metrics anyway",
    ),
    s(
        "CLAUDEOPS_MAX_SESSION_COST_USD",
        "`0` (none)",
        Cp,
        false,
        "Dollar cap per session: `--max-budget-usd`, and the worker's model proxy stops the session when its metered cost reaches it",
    ),
    s(
        "CLAUDEOPS_MAX_DAILY_COST_USD",
        "`0` (none)",
        Cp,
        false,
        "Dollar cap for the whole fleet per UTC day: no session starts once the day's sessions cost this much, and a running session is stopped by its worker's model proxy when the rest is spent",
    ),
    s(
        "CLAUDEOPS_ALLOWED_TOOLS",
        "`Bash,Read,Grep,Glob,WebFetch`",
        Both,
        false,
        "Built-in tools that exist in a session (`--tools`); the original also had `Task`, left out by default (sub-agents multiply cost)",
    ),
    s(
        "CLAUDEOPS_CLAUDE_BIN",
        "`claude`",
        Both,
        false,
        "The CLI binary",
    ),
    s(
        "CLAUDEOPS_WORKER_BIN",
        "beside the control plane, else on `PATH`",
        Cp,
        false,
        "The worker binary `serve --local-worker` runs",
    ),
    s(
        "CLAUDEOPS_CA_CERT_FILE",
        "built-in CA",
        Cp,
        false,
        "An operator-supplied CA certificate (PEM)",
    ),
    s(
        "CLAUDEOPS_CA_KEY_FILE",
        "built-in CA",
        Cp,
        true,
        "The operator-supplied CA's key (PEM)",
    ),
    s(
        "CLAUDEOPS_ENROLL_TOKEN_TTL",
        "`3600`",
        Cp,
        false,
        "Seconds an enrollment token stays valid",
    ),
    s(
        "CLAUDEOPS_TIER1_ALLOWED_TOOLS",
        "(none)",
        Cp,
        false,
        "Operator additions to tier 1's `--allowedTools`",
    ),
    s(
        "CLAUDEOPS_TIER2_ALLOWED_TOOLS",
        "(none)",
        Cp,
        false,
        "Operator additions to tier 2's `--allowedTools`",
    ),
    s(
        "CLAUDEOPS_TIER3_ALLOWED_TOOLS",
        "(none)",
        Cp,
        false,
        "Operator additions to tier 3's `--allowedTools`",
    ),
    s(
        "CLAUDEOPS_TIER1_DISALLOWED_TOOLS",
        "(none)",
        Cp,
        false,
        "Operator additions to tier 1's `--disallowedTools`; they cannot lift the never-allowed list",
    ),
    s(
        "CLAUDEOPS_TIER2_DISALLOWED_TOOLS",
        "(none)",
        Cp,
        false,
        "Operator additions to tier 2's `--disallowedTools`",
    ),
    s(
        "CLAUDEOPS_TIER3_DISALLOWED_TOOLS",
        "(none)",
        Cp,
        false,
        "Operator additions to tier 3's `--disallowedTools`",
    ),
    s(
        "CLAUDEOPS_DISALLOWED_TOOLS",
        "(none)",
        Cp,
        false,
        "Operator additions to every tier's `--disallowedTools` (the original's)",
    ),
    s(
        "CLAUDEOPS_PROMPT",
        "(built in)",
        W,
        false,
        "A file that replaces tier 1's prompt (`{{site}}`, `{{repos_dir}}`, `{{workspace}}` are filled); guidance only, the sandbox holds the limits",
    ),
    s(
        "CLAUDEOPS_TIER2_PROMPT",
        "(built in)",
        W,
        false,
        "A file that replaces tier 2's prompt",
    ),
    s(
        "CLAUDEOPS_TIER3_PROMPT",
        "(built in)",
        W,
        false,
        "A file that replaces tier 3's prompt",
    ),
    s(
        "CLAUDEOPS_VERBOSE",
        "`false`",
        Both,
        false,
        "`true`: debug logs from this project's crates (unless `RUST_LOG` says otherwise)",
    ),
    s(
        "CLAUDEOPS_MAX_CHAIN_COST_USD",
        "`0` (none)",
        Cp,
        false,
        "An escalation chain stops (\"needs human attention\") once it has cost this much",
    ),
    s(
        "CLAUDEOPS_MEMORY_BUDGET",
        "`2000`",
        Cp,
        false,
        "Tokens of memories injected into a session's prompt",
    ),
    s(
        "CLAUDEOPS_MEMORY_DECAY",
        "`30d`",
        Cp,
        false,
        "A memory neither confirmed nor edited for this long loses 0.1 of confidence for each further week (inactive below 0.3); `off` or `0` turns decay off",
    ),
    s(
        "CLAUDEOPS_SCHEMA_PATH",
        "built in",
        Both,
        false,
        "The agent-response JSON Schema",
    ),
    s(
        "CLAUDEOPS_COOLDOWN_MAX_RESTARTS",
        "`2`",
        Cp,
        false,
        "Restarts per service per window, fleet-wide",
    ),
    s(
        "CLAUDEOPS_COOLDOWN_RESTART_WINDOW",
        "`4h`",
        Cp,
        false,
        "The restart window",
    ),
    s(
        "CLAUDEOPS_COOLDOWN_MAX_REDEPLOYS",
        "`1`",
        Cp,
        false,
        "Redeploys per service per window, fleet-wide",
    ),
    s(
        "CLAUDEOPS_COOLDOWN_REDEPLOY_WINDOW",
        "`24h`",
        Cp,
        false,
        "The redeploy window",
    ),
    s(
        "CLAUDEOPS_INCIDENT_TIER",
        "`2`",
        Cp,
        false,
        "The tier a session starts at when probes open an incident",
    ),
    s(
        "CLAUDEOPS_APPROVAL_TIER",
        "unset",
        Cp,
        false,
        "Typed actions of this tier and above wait for a human's approval (a restart is tier 2, a redeployment tier 3): a notification with signed approve and deny links, buttons on the session page; the session waits without using tokens. Unset: no tier waits",
    ),
    s(
        "CLAUDEOPS_APPROVAL_KINDS",
        "unset",
        Cp,
        false,
        "Kinds of typed action that wait for approval whatever their tier, comma-separated (`restart`, `redeploy`)",
    ),
    s(
        "CLAUDEOPS_APPROVAL_TIMEOUT",
        "`10m`",
        Cp,
        false,
        "An action nobody approves within this time is denied (at most `50m`, and shorter than `CLAUDEOPS_SESSION_TIMEOUT`)",
    ),
    s(
        "CLAUDEOPS_CHAT_API_KEY",
        "unset",
        Cp,
        true,
        "The Bearer key of the webhook (`/api/v1/webhook`), the OpenAI-compatible chat (`/v1/...`) and the Ollama-compatible endpoints (`/api/chat`, ...). Unset: all of them answer 503",
    ),
    s(
        "CLAUDEOPS_WEBHOOK_DEFAULT_SITE",
        "`local`",
        Cp,
        false,
        "The site of an alert that names none (no `site` label, no `?site=`)",
    ),
    s(
        "CLAUDEOPS_WEBHOOK_MAX_TIER",
        "`2`",
        Cp,
        false,
        "The highest tier an alert may start at, whatever its payload asks (`tier`, `claudeops_tier`)",
    ),
    s(
        "CLAUDEOPS_WEBHOOK_MODEL",
        "`claude-haiku-4-5`",
        Cp,
        false,
        "The model that writes an investigation brief from an alert no native parser knows (through `ANTHROPIC_BASE_URL`)",
    ),
    s(
        "CLAUDEOPS_WEBHOOK_SYSTEM_PROMPT",
        "built in",
        Cp,
        false,
        "The system prompt of that brief",
    ),
    s(
        "CLAUDEOPS_CHAT_DEFAULT_SITE",
        "`local`",
        Cp,
        false,
        "The site a chat question goes to when its model names none (`claude-ops-tier2@cabin` names `cabin`)",
    ),
    s(
        "CLAUDEOPS_OUTPUT_RETENTION",
        "`30d`",
        Cp,
        false,
        "How long run logs and stored session output are kept (the session and its summary stay); `0` keeps them",
    ),
    s(
        "CLAUDEOPS_PROBE_RETENTION",
        "`24h`",
        Cp,
        false,
        "How long probe attempts are kept",
    ),
    s(
        "CLAUDEOPS_APPRISE_URLS",
        "(none)",
        Cp,
        true,
        "Apprise URLs, comma-separated; never shown or logged",
    ),
    s(
        "CLAUDEOPS_APPRISE_BIN",
        "`apprise`",
        Cp,
        false,
        "The `apprise` program",
    ),
    s(
        "CLAUDEOPS_NOTIFY_REMINDER_INTERVAL",
        "`4h`",
        Cp,
        false,
        "Reminders while an incident is open (`0s`: none)",
    ),
    s(
        "CLAUDEOPS_NOTIFY_GROUP_WINDOW",
        "`30s`",
        Cp,
        false,
        "Events of one kind within this window go out as one message",
    ),
    s(
        "CLAUDEOPS_NOTIFY_DIGEST_TIME",
        "`08:00`",
        Cp,
        false,
        "When the daily digest goes out (UTC); `off` for never",
    ),
    s("CLAUDEOPS_PROBES", "`true`", W, false, "Run native probes"),
    s(
        "CLAUDEOPS_SANDBOX",
        "`auto`",
        W,
        false,
        "`auto`: every session runs in a bubblewrap sandbox, and LLM sessions are refused when none works here; `off`: sessions run unsandboxed (the dashboard marks the worker); see docs/security.md",
    ),
    s(
        "CLAUDEOPS_SANDBOX_USER",
        "`64400`",
        W,
        false,
        "The unprivileged user sessions run as when the worker runs as root: a name from /etc/passwd or `UID[:GID]`, never root",
    ),
    s(
        "CLAUDEOPS_BWRAP",
        "`bwrap`",
        W,
        false,
        "The bubblewrap binary",
    ),
    s(
        "CLAUDEOPS_DOCKER_SOCKET",
        "`/var/run/docker.sock`",
        W,
        false,
        "The real Docker Engine socket; sessions see only a read-only filter of it",
    ),
    s(
        "CLAUDEOPS_BROWSER_ALLOWED_ORIGINS",
        "unset",
        W,
        false,
        "Comma-separated origins (`scheme://host[:port]`) a session's browser may load; unset, there are no browser actions. Enforced by the browser itself (see docs/browser.md)",
    ),
    s(
        "CLAUDEOPS_BROWSER_CRED_ORIGINS",
        "unset",
        W,
        false,
        "Comma-separated `SERVICE=ORIGIN` entries: the allowed origins into whose pages the credentials `BROWSER_CRED_{SERVICE}_{FIELD}` may be typed",
    ),
    s(
        "CLAUDEOPS_BROWSER_TIER",
        "`2`",
        W,
        false,
        "The lowest tier with browser actions (2 or 3)",
    ),
    s(
        "CLAUDEOPS_BROWSER_CDP_URL",
        "unset",
        W,
        false,
        "A running browser's DevTools endpoint (`http://HOST:PORT` or `ws://...`), the original's Chrome sidecar, used instead of a Chromium per session; each session gets a browser context of its own there (see docs/browser.md for what this gives up)",
    ),
    s(
        "CLAUDEOPS_BROWSER_BIN",
        "`chromium`",
        W,
        false,
        "The Chromium binary each session's browser runs",
    ),
    s(
        "CLAUDEOPS_DOCKER_EXEC_TIER",
        "`3`",
        W,
        false,
        "The lowest tier whose sessions may `docker exec` through the filter (the exec's command is judged as a Bash command of the tier)",
    ),
    s(
        "CLAUDEOPS_DISCOVERY_INTERVAL",
        "`60s`",
        W,
        false,
        "How often repos and containers are discovered again",
    ),
    s(
        "CLAUDEOPS_DISCOVER_CONTAINERS",
        "`true`",
        W,
        false,
        "Probe local containers",
    ),
    s(
        "CLAUDEOPS_CONTAINER_LABEL",
        "(none)",
        W,
        false,
        "Watch only containers with this label (`KEY` or `KEY=VALUE`)",
    ),
    s(
        "CLAUDEOPS_PROBE_CONCURRENCY",
        "`256`",
        W,
        false,
        "Probe attempts in flight at most",
    ),
    s(
        "CLAUDEOPS_CONTROL_PLANE",
        "(none)",
        W,
        false,
        "`https://HOST:PORT` of the gRPC listener",
    ),
    s("CLAUDEOPS_SITE", "(none)", W, false, "The worker's site"),
    s(
        "CLAUDEOPS_ENROLL_TOKEN",
        "(none)",
        W,
        true,
        "Needed only until the worker has a certificate",
    ),
    s(
        "CLAUDEOPS_WORKER_STATE_DIR",
        "`CLAUDEOPS_STATE_DIR`",
        W,
        false,
        "The worker's own state dir, if different",
    ),
    s(
        "CLAUDEOPS_PROTECTED_PATHS",
        "(none)",
        W,
        false,
        "More paths the agent may never read, `:`-separated",
    ),
    s(
        "CLAUDEOPS_HOOK_COMMAND",
        "this binary's `hook`",
        W,
        false,
        "The PreToolUse hook command",
    ),
    s(
        "CLAUDEOPS_EXIT_WITH_STDIN",
        "`false`",
        W,
        false,
        "Stop when stdin closes (set by `serve --local-worker`)",
    ),
];

/// The README's table of settings.
pub fn render_markdown() -> String {
    let mut out =
        String::from("| Variable | Default | Read by | Meaning |\n| --- | --- | --- | --- |\n");
    for s in SETTINGS {
        let doc = if s.secret {
            format!("{} (secret: never shown)", s.doc)
        } else {
            s.doc.to_owned()
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            s.var,
            s.default,
            s.scope.label(),
            doc
        ));
    }
    out
}

/// The variable a configuration struct's field is read from
/// (`anthropic_api_key` -> `ANTHROPIC_API_KEY`, `max_tier` -> `CLAUDEOPS_MAX_TIER`).
pub fn var_of_field(field: &str) -> String {
    match field.strip_prefix("anthropic_") {
        Some(rest) => format!("ANTHROPIC_{}", rest.to_uppercase()),
        None => format!("CLAUDEOPS_{}", field.to_uppercase()),
    }
}

/// The field a variable fills, the inverse of [`var_of_field`].
pub fn field_of_var(var: &str) -> String {
    match var.strip_prefix("ANTHROPIC_") {
        Some(rest) => format!("anthropic_{}", rest.to_lowercase()),
        None => var.trim_start_matches("CLAUDEOPS_").to_lowercase(),
    }
}

/// The variables of `fields` (a configuration struct's field names, as
/// `var_of_field` maps them unless `rename` says otherwise) that have no row
/// in the catalogue, or whose row is not marked as read by the binary
/// (`read_by`): empty when the configuration and the catalogue agree.
pub fn undocumented<'a>(
    fields: impl IntoIterator<Item = &'a str>,
    read_by: fn(Scope) -> bool,
    rename: fn(&str) -> Option<&'static str>,
) -> Vec<String> {
    fields
        .into_iter()
        .map(|field| rename(field).map_or_else(|| var_of_field(field), str::to_owned))
        .filter(|var| !setting(var).is_some_and(|s| read_by(s.scope)))
        .collect()
}

/// Looks a variable up.
pub fn setting(var: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.var == var)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- settings:begin (generated from libs/config; CLAUDEOPS_UPDATE_README=1 cargo test -p claudeops-config rewrites it) -->\n";
    const END: &str = "<!-- settings:end -->";

    #[test]
    fn every_variable_is_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for s in SETTINGS {
            assert!(seen.insert(s.var), "{} twice", s.var);
            assert!(
                s.var.starts_with("CLAUDEOPS_") || s.var.starts_with("ANTHROPIC_"),
                "{}",
                s.var
            );
            assert!(!s.doc.is_empty() && !s.default.is_empty(), "{}", s.var);
        }
        assert_eq!(
            setting("CLAUDEOPS_APPRISE_URLS").map(|s| s.secret),
            Some(true)
        );
    }

    /// The README's table is the catalogue, rendered.
    #[test]
    fn the_readme_table_is_generated_from_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(path).unwrap_or_default();
        let (Some(start), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
            panic!("README.md has no settings markers");
        };
        let current = &readme[start + BEGIN.len()..end];
        let wanted = render_markdown();
        if current != wanted {
            if std::env::var_os("CLAUDEOPS_UPDATE_README").is_some() {
                let updated = format!(
                    "{}{}{}",
                    &readme[..start + BEGIN.len()],
                    wanted,
                    &readme[end..]
                );
                std::fs::write(path, updated).unwrap_or_else(|e| panic!("writing README.md: {e}"));
            } else {
                panic!(
                    "README.md's settings table differs from libs/config's catalogue; run \
                     CLAUDEOPS_UPDATE_README=1 cargo test -p claudeops-config"
                );
            }
        }
    }
}
