//! Settings an operator changes while the control plane runs: the original's
//! runtime subset (interval, tier models, dry run) and more (max tier, cost
//! caps, notifications), for the whole fleet and per site.
//!
//! The environment gives the base [`Config`]; stored overrides (the store's
//! `runtime_settings`, one JSON object per scope) are laid over it, the site's
//! over the global ones. Every reader asks for the effective configuration at
//! the moment it acts ([`Runtime::global`], [`Runtime::site`]), so a change
//! takes effect from the next session or scheduler tick, and a restart keeps it.
//! A change is validated whole (every problem at once), stored with its audit
//! rows in one transaction, and only then made effective.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use claudeops_core::{SiteName, Tier};
use claudeops_store::{ConfigChange, RuntimeSettings, Store, StoreError};
use serde_json::{Map, Value};

use crate::config::Config;

/// The scope of the fleet's overrides.
pub const GLOBAL: &str = "global";

/// The scope of a site's overrides.
pub fn site_scope(site: &SiteName) -> String {
    format!("site:{site}")
}

/// Where a setting may be overridden.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// The fleet and each site.
    Both,
    /// The fleet only (it is the fleet's, or the notifier's).
    Global,
}

/// How a setting's value is written (and shown in the form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A duration: whole seconds, or text such as "30m".
    Seconds,
    Text,
    Bool,
    Tier,
    Dollars,
    /// Write-only: shown as set or not, never as itself.
    Secret,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Seconds => "seconds",
            Kind::Text => "text",
            Kind::Bool => "bool",
            Kind::Tier => "tier",
            Kind::Dollars => "dollars",
            Kind::Secret => "secret",
        }
    }
}

/// One setting the runtime may change: its name in the API (the original's
/// name where it had one), where it applies, its kind, and its label and help
/// on the forms.
pub struct Field {
    pub name: &'static str,
    reach: Reach,
    pub kind: Kind,
    pub label: &'static str,
    pub help: &'static str,
}

const fn field(
    name: &'static str,
    reach: Reach,
    kind: Kind,
    label: &'static str,
    help: &'static str,
) -> Field {
    Field {
        name,
        reach,
        kind,
        label,
        help,
    }
}

/// Every runtime setting, in the forms' order.
const FIELDS: &[Field] = &[
    field(
        "interval",
        Reach::Both,
        Kind::Seconds,
        "Interval",
        "Seconds between scheduled runs of a site; 0 turns them off (or \"30m\")",
    ),
    field(
        "tier1_model",
        Reach::Both,
        Kind::Text,
        "Tier 1 model",
        "Observes",
    ),
    field(
        "tier2_model",
        Reach::Both,
        Kind::Text,
        "Tier 2 model",
        "Investigates and applies safe fixes",
    ),
    field(
        "tier3_model",
        Reach::Both,
        Kind::Text,
        "Tier 3 model",
        "Redeploys",
    ),
    field(
        "dry_run",
        Reach::Both,
        Kind::Bool,
        "Dry run",
        "Observe only: no tier 2 or 3 session starts",
    ),
    field(
        "max_tier",
        Reach::Both,
        Kind::Tier,
        "Max tier",
        "The highest tier a run may reach",
    ),
    field(
        "max_session_cost_usd",
        Reach::Global,
        Kind::Dollars,
        "Session cost cap (USD)",
        "Per session; 0 for none",
    ),
    field(
        "max_daily_cost_usd",
        Reach::Global,
        Kind::Dollars,
        "Daily cost cap (USD)",
        "The fleet's per UTC day; 0 for none",
    ),
    field(
        "max_chain_cost_usd",
        Reach::Global,
        Kind::Dollars,
        "Chain cost cap (USD)",
        "Per escalation chain; 0 for none",
    ),
    field(
        "apprise_urls",
        Reach::Global,
        Kind::Secret,
        "Apprise URLs",
        "Comma-separated; never shown again",
    ),
    field(
        "notify_reminder_interval",
        Reach::Global,
        Kind::Seconds,
        "Reminder interval",
        "Seconds between reminders of an open incident; 0 for none",
    ),
    field(
        "notify_group_window",
        Reach::Global,
        Kind::Seconds,
        "Grouping window",
        "Seconds in which notices of one kind go out as one",
    ),
    field(
        "notify_digest_time",
        Reach::Global,
        Kind::Text,
        "Daily digest",
        "\"HH:MM\" UTC, or \"off\"",
    ),
];

/// The settings of the fleet's form (every one), or of a site's.
pub fn fields(per_site: bool) -> impl Iterator<Item = &'static Field> {
    FIELDS
        .iter()
        .filter(move |f| !per_site || f.reach == Reach::Both)
}

/// The names a site's overrides may hold.
pub fn site_fields() -> impl Iterator<Item = &'static str> {
    fields(true).map(|f| f.name)
}

/// The names the fleet's overrides may hold.
pub fn global_fields() -> impl Iterator<Item = &'static str> {
    fields(false).map(|f| f.name)
}

/// Whether a runtime setting is a secret (write-only).
pub fn is_secret(name: &str) -> bool {
    FIELDS
        .iter()
        .any(|f| f.name == name && f.kind == Kind::Secret)
}

/// Every problem of a change, at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct Invalid(pub Vec<String>);

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A duration given as seconds (a number) or as text such as "30m".
fn seconds(value: &Value) -> Result<Duration, String> {
    match value {
        Value::Number(_) | Value::String(_) => {
            claudeops_config::de::duration::deserialize(value.clone()).map_err(|e| e.to_string())
        }
        _ => Err("must be a number of seconds or a duration such as \"30m\"".to_owned()),
    }
}

fn model(value: &Value) -> Result<String, String> {
    let text = value.as_str().ok_or("must be a string")?.trim();
    if text.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if text.len() > 200 || text.chars().any(char::is_control) {
        return Err(
            "must be a model name (at most 200 characters, no control characters)".to_owned(),
        );
    }
    Ok(text.to_owned())
}

fn dollars(value: &Value) -> Result<f64, String> {
    match value.as_f64() {
        Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err("must be a number of dollars, 0 (no cap) or more".to_owned()),
    }
}

/// Applies one override to a configuration, or says why it cannot be.
fn apply(config: &mut Config, name: &str, value: &Value) -> Result<(), String> {
    match name {
        "interval" => config.interval = seconds(value)?,
        "tier1_model" => config.tier1_model = model(value)?,
        "tier2_model" => config.tier2_model = model(value)?,
        "tier3_model" => config.tier3_model = model(value)?,
        "dry_run" => config.dry_run = value.as_bool().ok_or("must be true or false")?,
        "max_tier" => {
            config.max_tier = value
                .as_i64()
                .and_then(|n| Tier::try_from(n).ok())
                .ok_or("must be 1, 2 or 3")?;
        }
        "max_session_cost_usd" => config.max_session_cost_usd = dollars(value)?,
        "max_daily_cost_usd" => config.max_daily_cost_usd = dollars(value)?,
        "max_chain_cost_usd" => config.max_chain_cost_usd = dollars(value)?,
        "apprise_urls" => {
            let text = value
                .as_str()
                .ok_or("must be a string of comma-separated URLs")?;
            if !text.trim().is_empty() {
                claudeops_notify::AppriseUrls::parse(text).map_err(|e| e.to_string())?;
            }
            config.apprise_urls = Some(text.to_owned()).filter(|t| !t.trim().is_empty());
        }
        "notify_reminder_interval" => config.notify_reminder_interval = seconds(value)?,
        "notify_group_window" => config.notify_group_window = seconds(value)?,
        "notify_digest_time" => {
            let text = value.as_str().ok_or("must be \"HH:MM\" (UTC) or \"off\"")?;
            config.notify_digest_time = text.trim().to_owned();
            if config.notify_digest_time != "off" && config.digest_time().is_none() {
                return Err("must be \"HH:MM\" (UTC) or \"off\"".to_owned());
            }
        }
        _ => return Err("is not a setting that can change at runtime".to_owned()),
    }
    Ok(())
}

/// A setting's value in the API's words (seconds for durations); a secret is
/// `true` when set, never its value.
pub fn shown(config: &Config, name: &str) -> Value {
    match name {
        "interval" => config.interval.as_secs().into(),
        "tier1_model" => config.tier1_model.clone().into(),
        "tier2_model" => config.tier2_model.clone().into(),
        "tier3_model" => config.tier3_model.clone().into(),
        "dry_run" => config.dry_run.into(),
        "max_tier" => config.max_tier.number().into(),
        "max_session_cost_usd" => config.max_session_cost_usd.into(),
        "max_daily_cost_usd" => config.max_daily_cost_usd.into(),
        "max_chain_cost_usd" => config.max_chain_cost_usd.into(),
        "apprise_urls" => config
            .apprise_urls
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty())
            .into(),
        "notify_reminder_interval" => config.notify_reminder_interval.as_secs().into(),
        "notify_group_window" => config.notify_group_window.as_secs().into(),
        "notify_digest_time" => config.notify_digest_time.clone().into(),
        _ => Value::Null,
    }
}

/// How a value goes into the audit trail.
fn audited(config: &Config, name: &str) -> String {
    if is_secret(name) {
        let set = shown(config, name).as_bool().unwrap_or(false);
        return if set { "set" } else { "not set" }.to_owned();
    }
    match shown(config, name) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// The overrides of one scope, applied to `base`; every problem at once.
fn overlay(
    base: &Config,
    overrides: &Map<String, Value>,
    allowed: &[&str],
) -> Result<Config, Invalid> {
    let mut config = base.clone();
    let mut problems = Vec::new();
    for (name, value) in overrides {
        if !allowed.contains(&name.as_str()) {
            problems.push(format!(
                "{name}: cannot be set here (allowed: {})",
                allowed.join(", ")
            ));
            continue;
        }
        if let Err(why) = apply(&mut config, name, value) {
            problems.push(format!("{name}: {why}"));
        }
    }
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(Invalid(problems))
    }
}

struct State {
    base: Arc<Config>,
    global: Map<String, Value>,
    sites: BTreeMap<SiteName, Map<String, Value>>,
    effective: Arc<Config>,
    site_effective: BTreeMap<SiteName, Arc<Config>>,
}

/// The effective configuration, shared by every service (a clone is a handle).
#[derive(Clone)]
pub struct Runtime {
    state: Arc<RwLock<State>>,
    /// One change at a time: each reads the scope, validates it whole and
    /// stores it, so two concurrent changes cannot lose one another's fields.
    changing: Arc<tokio::sync::Mutex<()>>,
}

impl Runtime {
    /// The environment's configuration with no overrides.
    pub fn new(base: Arc<Config>) -> Runtime {
        Runtime {
            state: Arc::new(RwLock::new(State {
                effective: base.clone(),
                base,
                global: Map::new(),
                sites: BTreeMap::new(),
                site_effective: BTreeMap::new(),
            })),
            changing: Arc::default(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the stored overrides. One that no longer validates (a setting
    /// renamed by an upgrade, say) is skipped with a warning, not fatal: the
    /// environment's value holds until an operator sets it again.
    pub async fn load(&self, store: &dyn Store) -> Result<(), StoreError> {
        for row in store.runtime_settings().await? {
            let overrides = match serde_json::from_str::<Value>(&row.overrides) {
                Ok(Value::Object(map)) => map,
                _ => {
                    tracing::warn!(scope = %row.scope, "stored runtime settings are not a JSON object; ignored");
                    continue;
                }
            };
            let result = if row.scope == GLOBAL {
                self.install(None, overrides)
            } else if let Some(site) = row
                .scope
                .strip_prefix("site:")
                .and_then(|s| SiteName::new(s).ok())
            {
                self.install(Some(site), overrides)
            } else {
                tracing::warn!(scope = %row.scope, "unknown runtime settings scope; ignored");
                continue;
            };
            if let Err(error) = result {
                tracing::warn!(scope = %row.scope, %error, "stored runtime settings no longer valid; ignored");
            }
        }
        Ok(())
    }

    /// Makes `overrides` the scope's, recomputing what is effective.
    fn install(
        &self,
        site: Option<SiteName>,
        overrides: Map<String, Value>,
    ) -> Result<(), Invalid> {
        let mut state = self.write();
        let (global, sites) = match &site {
            None => (overrides, state.sites.clone()),
            Some(site) => {
                let mut sites = state.sites.clone();
                if overrides.is_empty() {
                    sites.remove(site);
                } else {
                    sites.insert(site.clone(), overrides);
                }
                (state.global.clone(), sites)
            }
        };
        let all: Vec<&str> = global_fields().collect();
        let effective = overlay(&state.base, &global, &all)?;
        let allowed: Vec<&str> = site_fields().collect();
        let mut site_effective = BTreeMap::new();
        for (name, overrides) in &sites {
            let config = overlay(&effective, overrides, &allowed).map_err(|Invalid(p)| {
                Invalid(p.into_iter().map(|p| format!("site {name}: {p}")).collect())
            })?;
            site_effective.insert(name.clone(), Arc::new(config));
        }
        state.global = global;
        state.sites = sites;
        state.effective = Arc::new(effective);
        state.site_effective = site_effective;
        Ok(())
    }

    /// The fleet's effective configuration.
    pub fn global(&self) -> Arc<Config> {
        self.read().effective.clone()
    }

    /// A site's effective configuration: its overrides over the fleet's.
    pub fn site(&self, site: &SiteName) -> Arc<Config> {
        let state = self.read();
        state
            .site_effective
            .get(site)
            .cloned()
            .unwrap_or_else(|| state.effective.clone())
    }

    /// The overrides of the fleet (secrets shown as `true`).
    pub fn global_overrides(&self) -> Map<String, Value> {
        mask(&self.read().global)
    }

    /// Every site's overrides (secrets shown as `true`).
    pub fn site_overrides(&self) -> BTreeMap<SiteName, Map<String, Value>> {
        self.read()
            .sites
            .iter()
            .map(|(site, o)| (site.clone(), mask(o)))
            .collect()
    }

    /// Applies a change: each field of `patch` is set (`null` removes the
    /// override, back to the environment's or the fleet's value). Validated
    /// whole, stored with one audit row per changed field, then effective.
    /// Returns the scope's new effective configuration.
    pub async fn change(
        &self,
        store: &dyn Store,
        actor: &str,
        site: Option<&SiteName>,
        patch: &Map<String, Value>,
        now_ms: i64,
    ) -> Result<Arc<Config>, ChangeError> {
        let _one_at_a_time = self.changing.lock().await;
        let (before, mut overrides, allowed): (Arc<Config>, Map<String, Value>, Vec<&str>) = {
            let state = self.read();
            match site {
                None => (
                    state.effective.clone(),
                    state.global.clone(),
                    global_fields().collect(),
                ),
                Some(site) => (
                    state
                        .site_effective
                        .get(site)
                        .cloned()
                        .unwrap_or_else(|| state.effective.clone()),
                    state.sites.get(site).cloned().unwrap_or_default(),
                    site_fields().collect(),
                ),
            }
        };
        let mut problems = Vec::new();
        for (name, value) in patch {
            if !allowed.contains(&name.as_str()) {
                let known = global_fields().any(|f| f == name);
                problems.push(if known {
                    format!("{name}: applies to the whole fleet, not to one site")
                } else {
                    format!("{name}: unknown setting (known: {})", allowed.join(", "))
                });
                continue;
            }
            if value.is_null() {
                overrides.remove(name);
            } else {
                overrides.insert(name.clone(), value.clone());
            }
        }
        // Validate the whole scope as it would be, against what it lays over.
        let (base, scope) = {
            let state = self.read();
            match site {
                None => (state.base.clone(), GLOBAL.to_owned()),
                Some(s) => (state.effective.clone(), site_scope(s)),
            }
        };
        let after = match overlay(&base, &overrides, &allowed) {
            Ok(config) => Some(config),
            Err(Invalid(more)) => {
                problems.extend(more);
                None
            }
        };
        let Some(after) = after.filter(|_| problems.is_empty()) else {
            problems.dedup();
            return Err(Invalid(problems).into());
        };
        let changes: Vec<ConfigChange> = patch
            .keys()
            .filter(|name| audited(&before, name) != audited(&after, name) || is_secret(name))
            .map(|name| ConfigChange {
                id: 0,
                at_ms: now_ms,
                actor: actor.to_owned(),
                scope: scope.clone(),
                field: name.clone(),
                before: Some(audited(&before, name)),
                after: Some(audited(&after, name)),
            })
            .collect();
        let row = RuntimeSettings {
            scope,
            overrides: Value::Object(overrides.clone()).to_string(),
            updated_at_ms: now_ms,
        };
        store.put_runtime_settings(&row, &changes).await?;
        self.install(site.cloned(), overrides)?;
        Ok(match site {
            Some(site) => self.site(site),
            None => self.global(),
        })
    }
}

fn mask(overrides: &Map<String, Value>) -> Map<String, Value> {
    overrides
        .iter()
        .map(|(k, v)| {
            let v = if is_secret(k) {
                Value::Bool(true)
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("{other}"),
        }
    }

    fn site(name: &str) -> SiteName {
        SiteName::new(name).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_problem_at_once() {
        let base = Config::default();
        let all: Vec<&str> = global_fields().collect();
        let Err(Invalid(problems)) = overlay(
            &base,
            &map(
                json!({"interval": -5, "tier1_model": "", "max_tier": 4, "dry_run": "yes",
                         "max_daily_cost_usd": -1, "notify_digest_time": "25:00", "colour": "red"}),
            ),
            &all,
        ) else {
            panic!("accepted");
        };
        assert_eq!(problems.len(), 7, "{problems:?}");
        for field in [
            "interval",
            "tier1_model",
            "max_tier",
            "dry_run",
            "max_daily_cost_usd",
            "notify_digest_time",
            "colour",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(field)),
                "{field}: {problems:?}"
            );
        }
    }

    #[test]
    fn site_over_global_over_environment() {
        let runtime = Runtime::new(Arc::new(Config::default()));
        runtime
            .install(
                None,
                map(json!({"interval": "30m", "tier2_model": "sonnet-x"})),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        runtime
            .install(
                Some(site("lab")),
                map(json!({"interval": 60, "dry_run": true})),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let lab = runtime.site(&site("lab"));
        assert_eq!(lab.interval, Duration::from_secs(60));
        assert!(lab.dry_run);
        assert_eq!(lab.tier2_model, "sonnet-x");
        let home = runtime.site(&site("home"));
        assert_eq!(home.interval, Duration::from_secs(1800));
        assert!(!home.dry_run);
        assert_eq!(runtime.global().tier1_model, Config::default().tier1_model);
        // A fleet-only setting cannot be a site's.
        assert!(
            runtime
                .install(Some(site("lab")), map(json!({"max_daily_cost_usd": 3})))
                .is_err()
        );
    }

    #[test]
    fn secrets_are_masked_and_audited_as_set() {
        let runtime = Runtime::new(Arc::new(Config::default()));
        runtime
            .install(
                None,
                map(json!({"apprise_urls": "json://127.0.0.1:9/hook-secret"})),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(runtime.global_overrides()["apprise_urls"], json!(true));
        let config = runtime.global();
        assert_eq!(shown(&config, "apprise_urls"), json!(true));
        assert_eq!(audited(&config, "apprise_urls"), "set");
        assert_eq!(audited(&Config::default(), "apprise_urls"), "not set");
        assert!(!format!("{:?}", runtime.global_overrides()).contains("hook-secret"));
    }
}
