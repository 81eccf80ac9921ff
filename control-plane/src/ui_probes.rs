//! Probes added from the dashboard (or the API) per site: add, edit, pause,
//! resume and delete, each change checked with the same spec type and parser the
//! repo-defined probes go through, stored, and sent as the site's whole set to
//! its connected workers (again whenever a worker connects). The workers run them
//! beside their repo-defined probes; a repo probe of the same name wins there,
//! and is refused here.
//!
//! This module must not run probes or reach their targets: the workers do.

use std::collections::BTreeMap;

use claudeops_core::SiteName;
use claudeops_core::inventory::Inventory;
use claudeops_core::link::{ProbeSet, ToWorker};
use claudeops_core::probe::{ProbeKind, ProbeSpec, Source};
use claudeops_probe::Probe;
use claudeops_store::{StoreError, UiProbe};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::changes::Kind;
use crate::clock::now_ms;
use crate::context::Context;

/// The kinds a dashboard probe may have (container probes come from discovery).
pub const KINDS: &[&str] = &["http", "tcp", "tls", "dns", "postgres", "redis", "mysql"];

/// What an operator types for a probe: the form's fields, or the API's body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProbeInput {
    /// Unique within the site, among repo and dashboard probes.
    pub name: String,
    /// `http`, `tcp`, `tls`, `dns`, `postgres`, `redis` or `mysql`.
    pub kind: String,
    /// A URL (`https://host/health`) or, without a scheme, `host:port` for the kind.
    pub target: String,
    /// How often it runs, e.g. `30s`, `5m`; the spec's default when empty.
    #[serde(default)]
    pub interval: String,
    /// Gatus-style conditions, one per entry, e.g. `[STATUS] == 200`.
    #[serde(default)]
    pub conditions: Vec<String>,
    /// The service it belongs to; the probe's name when empty.
    #[serde(default)]
    pub service: String,
}

/// A dashboard probe as shown and listed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProbeView {
    pub name: String,
    pub kind: String,
    /// `dashboard`, or `repo: PATH` for a repo-defined probe.
    pub source: String,
    pub target: String,
    pub interval_secs: i64,
    pub conditions: Vec<String>,
    pub service: String,
    pub paused: bool,
    /// Whether the dashboard can change it (dashboard probes only).
    pub editable: bool,
    pub created_by: Option<String>,
    pub created_at_ms: Option<i64>,
    pub updated_by: Option<String>,
    pub updated_at_ms: Option<i64>,
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The input is wrong: each problem by the field it is about.
    #[error("{}", describe(.0))]
    Invalid(BTreeMap<String, String>),
    #[error("site {0} has no dashboard probe named {1}")]
    NotFound(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn describe(fields: &BTreeMap<String, String>) -> String {
    fields
        .iter()
        .map(|(f, p)| format!("{f}: {p}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn invalid(field: &str, problem: impl Into<String>) -> ProbeError {
    ProbeError::Invalid(BTreeMap::from([(field.to_owned(), problem.into())]))
}

/// The spec an input makes, checked as a repo probe's spec is: it must read as a
/// spec and compile (conditions parsed, URL and options checked). Environment
/// variables are the worker's, so `${VAR}` is not checked here.
pub fn spec_of(input: &ProbeInput) -> Result<ProbeSpec, ProbeError> {
    let mut fields = BTreeMap::new();
    let name = input.name.trim();
    if name.is_empty() {
        fields.insert("name".to_owned(), "a name is needed".to_owned());
    } else if name.len() > 100 || name.chars().any(|c| c.is_control() || c == '/') {
        fields.insert(
            "name".to_owned(),
            "at most 100 characters, no slash or control character".to_owned(),
        );
    }
    let kind = input.kind.trim();
    if !KINDS.contains(&kind) {
        fields.insert("kind".to_owned(), format!("one of {}", KINDS.join(", ")));
    }
    let target = input.target.trim();
    let url = if target.contains("://") {
        target.to_owned()
    } else {
        format!("{kind}://{target}")
    };
    if target.is_empty() {
        fields.insert("target".to_owned(), "a target is needed".to_owned());
    } else if !fields.contains_key("kind") {
        let of_url = ProbeKind::from_url(&url).map(ProbeKind::name);
        if of_url != Some(kind) {
            fields.insert("target".to_owned(), format!("{url} is not a {kind} target"));
        }
    }
    let mut json = serde_json::json!({ "name": name, "url": url });
    let interval = input.interval.trim();
    if !interval.is_empty() {
        match humantime::parse_duration(interval) {
            Ok(d) if d.as_secs() >= 1 => json["interval"] = serde_json::Value::from(interval),
            Ok(_) => {
                fields.insert("interval".to_owned(), "at least 1s".to_owned());
            }
            Err(e) => {
                fields.insert(
                    "interval".to_owned(),
                    format!("{e}; write it as 30s, 5m or 1h"),
                );
            }
        }
    }
    let conditions: Vec<&str> = input
        .conditions
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .collect();
    if !conditions.is_empty() {
        json["conditions"] = serde_json::Value::from(conditions);
    }
    let service = input.service.trim();
    if !service.is_empty() {
        json["service"] = serde_json::Value::from(service);
    }
    if !fields.is_empty() {
        return Err(ProbeError::Invalid(fields));
    }
    let spec: ProbeSpec =
        serde_json::from_value(json).map_err(|e| invalid("target", e.to_string()))?;
    // The same compiler the worker runs; a `${VAR}` reads as set here.
    Probe::compile_with(&spec, &|_| Some("set".to_owned())).map_err(|e| {
        let field = match e.field.as_str() {
            f if f.starts_with("condition") => "conditions",
            "interval" | "timeout" => "interval",
            "name" => "name",
            _ => "target",
        };
        invalid(field, format!("{}: {}", e.field, e.problem))
    })?;
    Ok(spec)
}

/// The input a stored probe was made from, for the edit form.
pub fn input_of(probe: &UiProbe) -> ProbeInput {
    let spec: Option<ProbeSpec> = serde_json::from_str(&probe.spec).ok();
    ProbeInput {
        name: probe.name.clone(),
        kind: probe.kind.clone(),
        target: spec.as_ref().map(|s| s.url.clone()).unwrap_or_default(),
        interval: spec
            .as_ref()
            .and_then(|s| s.interval)
            .map(|d| humantime::format_duration(d).to_string())
            .unwrap_or_default(),
        conditions: spec
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default(),
        service: spec.map(|s| s.service).unwrap_or_default(),
    }
}

fn view_of(probe: &UiProbe) -> ProbeView {
    let input = input_of(probe);
    ProbeView {
        name: probe.name.clone(),
        kind: probe.kind.clone(),
        source: "dashboard".to_owned(),
        target: input.target,
        interval_secs: probe.interval_secs,
        conditions: input.conditions,
        service: input.service,
        paused: probe.paused,
        editable: true,
        created_by: Some(probe.created_by.clone()),
        created_at_ms: Some(probe.created_at_ms),
        updated_by: Some(probe.updated_by.clone()),
        updated_at_ms: Some(probe.updated_at_ms),
    }
}

fn repo_view(spec: &ProbeSpec) -> ProbeView {
    let source = match &spec.source {
        Source::File { path, line } => format!("repo: {path}:{line}"),
        Source::Container { name } => format!("container: {name}"),
        Source::Builtin => "built in".to_owned(),
    };
    ProbeView {
        name: spec.name.clone(),
        kind: ProbeKind::from_url(&spec.url)
            .map_or("unknown", ProbeKind::name)
            .to_owned(),
        source,
        target: spec.url.clone(),
        interval_secs: i64::try_from(spec.interval().as_secs()).unwrap_or(i64::MAX),
        conditions: spec.conditions.clone(),
        service: spec.service.clone(),
        paused: false,
        editable: false,
        created_by: None,
        created_at_ms: None,
        updated_by: None,
        updated_at_ms: None,
    }
}

/// The service over the store and the registry of connected workers.
#[derive(Clone)]
pub struct UiProbes {
    ctx: Context,
}

impl UiProbes {
    pub fn new(ctx: &Context) -> UiProbes {
        UiProbes { ctx: ctx.clone() }
    }

    /// The site's probes: repo-defined ones (read-only, from its workers'
    /// inventories) and dashboard ones, by name.
    pub async fn list(&self, site: &SiteName) -> Result<Vec<ProbeView>, ProbeError> {
        let mut views: Vec<ProbeView> =
            self.repo_specs(site).await?.iter().map(repo_view).collect();
        let ui = self.ctx.store.ui_probes(Some(site.as_str())).await?;
        views.extend(ui.iter().map(view_of));
        views.sort_by(|a, b| a.name.cmp(&b.name).then(b.editable.cmp(&a.editable)));
        Ok(views)
    }

    /// Every dashboard probe, as (site, name).
    pub async fn names(&self) -> Result<std::collections::HashSet<(String, String)>, StoreError> {
        Ok(self
            .ctx
            .store
            .ui_probes(None)
            .await?
            .into_iter()
            .map(|p| (p.site, p.name))
            .collect())
    }

    /// One dashboard probe as stored.
    pub async fn get(&self, site: &SiteName, name: &str) -> Result<UiProbe, ProbeError> {
        self.ctx
            .store
            .ui_probes(Some(site.as_str()))
            .await?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| ProbeError::NotFound(site.to_string(), name.to_owned()))
    }

    /// Adds a probe; refused when the site has a repo or dashboard probe of the name.
    pub async fn add(
        &self,
        site: &SiteName,
        input: &ProbeInput,
        actor: &str,
    ) -> Result<ProbeView, ProbeError> {
        let spec = spec_of(input)?;
        self.refuse_repo_name(site, &spec.name).await?;
        let now = now_ms();
        let probe = stored(site, &spec, false, actor, now)?;
        match self.ctx.store.insert_ui_probe(&probe).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(invalid(
                    "name",
                    format!(
                        "site {site} already has a dashboard probe named {}",
                        spec.name
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        self.changed(site, "added", &probe.name, actor).await;
        Ok(view_of(&probe))
    }

    /// Replaces a dashboard probe's spec (its name stays; the input's must match).
    pub async fn edit(
        &self,
        site: &SiteName,
        name: &str,
        input: &ProbeInput,
        actor: &str,
    ) -> Result<ProbeView, ProbeError> {
        let old = self.get(site, name).await?;
        let spec = spec_of(&ProbeInput {
            name: name.to_owned(),
            ..input.clone()
        })?;
        let probe = stored(site, &spec, old.paused, actor, now_ms())?;
        if !self.ctx.store.update_ui_probe(&probe).await? {
            return Err(ProbeError::NotFound(site.to_string(), name.to_owned()));
        }
        self.changed(site, "changed", name, actor).await;
        Ok(view_of(&UiProbe {
            created_by: old.created_by,
            created_at_ms: old.created_at_ms,
            ..probe
        }))
    }

    /// Pauses (the workers stop running it) or resumes a dashboard probe.
    pub async fn set_paused(
        &self,
        site: &SiteName,
        name: &str,
        paused: bool,
        actor: &str,
    ) -> Result<ProbeView, ProbeError> {
        let old = self.get(site, name).await?;
        let probe = UiProbe {
            paused,
            updated_by: actor.to_owned(),
            updated_at_ms: now_ms(),
            ..old
        };
        if !self.ctx.store.update_ui_probe(&probe).await? {
            return Err(ProbeError::NotFound(site.to_string(), name.to_owned()));
        }
        let what = if paused { "paused" } else { "resumed" };
        self.changed(site, what, name, actor).await;
        Ok(view_of(&probe))
    }

    pub async fn delete(&self, site: &SiteName, name: &str, actor: &str) -> Result<(), ProbeError> {
        if !self.ctx.store.delete_ui_probe(site.as_str(), name).await? {
            return Err(ProbeError::NotFound(site.to_string(), name.to_owned()));
        }
        self.changed(site, "deleted", name, actor).await;
        Ok(())
    }

    /// The set a worker of `site` runs: its dashboard probes that are not paused.
    pub async fn set_of(&self, site: &SiteName) -> Result<ProbeSet, StoreError> {
        let probes = self
            .ctx
            .store
            .ui_probes(Some(site.as_str()))
            .await?
            .into_iter()
            .filter(|p| !p.paused)
            .map(|p| p.spec)
            .collect();
        Ok(ProbeSet {
            probes,
            version: u64::try_from(now_ms()).unwrap_or(0),
        })
    }

    /// Sends the site's set to one worker's link (on connect).
    pub async fn send_to(&self, site: &SiteName, tx: &mpsc::Sender<ToWorker>) {
        match self.set_of(site).await {
            Ok(set) => {
                let _ = tx.send(ToWorker::ProbeSet(set)).await;
            }
            Err(error) => {
                tracing::error!(%error, %site, "could not read the dashboard probes for a worker");
            }
        }
    }

    /// Sends the site's set to every connected worker of the site.
    pub async fn push(&self, site: &SiteName) {
        let senders: Vec<_> = self
            .ctx
            .registry
            .list()
            .into_iter()
            .filter(|w| &w.site == site)
            .filter_map(|w| self.ctx.registry.sender(&w.worker_id))
            .collect();
        for tx in senders {
            self.send_to(site, &tx).await;
        }
    }

    async fn changed(&self, site: &SiteName, what: &str, name: &str, actor: &str) {
        self.push(site).await;
        self.ctx
            .event(
                site,
                None,
                claudeops_core::event::EventLevel::Info,
                format!("dashboard probe {name} {what} by {actor}"),
            )
            .await;
        self.ctx.changes.publish(Kind::Probes, Some(site.as_str()));
    }

    /// The repo-defined probes the site's workers last reported.
    async fn repo_specs(&self, site: &SiteName) -> Result<Vec<ProbeSpec>, StoreError> {
        let mut specs: Vec<ProbeSpec> = Vec::new();
        for record in self.ctx.store.inventories(site).await? {
            let Ok(inventory) = serde_json::from_value::<Inventory>(record.inventory) else {
                continue;
            };
            for spec in inventory.probes {
                if !specs.iter().any(|s| s.name == spec.name) {
                    specs.push(spec);
                }
            }
        }
        Ok(specs)
    }

    async fn refuse_repo_name(&self, site: &SiteName, name: &str) -> Result<(), ProbeError> {
        if let Some(spec) = self
            .repo_specs(site)
            .await?
            .into_iter()
            .find(|s| s.name == name)
        {
            return Err(invalid(
                "name",
                format!(
                    "a probe named {name} is defined in a repo ({}); pick another name",
                    repo_view(&spec).source
                ),
            ));
        }
        Ok(())
    }
}

fn stored(
    site: &SiteName,
    spec: &ProbeSpec,
    paused: bool,
    actor: &str,
    now: i64,
) -> Result<UiProbe, ProbeError> {
    let json = serde_json::to_string(spec).map_err(|e| invalid("target", e.to_string()))?;
    Ok(UiProbe {
        site: site.to_string(),
        name: spec.name.clone(),
        kind: ProbeKind::from_url(&spec.url)
            .map_or("unknown", ProbeKind::name)
            .to_owned(),
        spec: json,
        interval_secs: i64::try_from(spec.interval().as_secs()).unwrap_or(i64::MAX),
        paused,
        created_by: actor.to_owned(),
        created_at_ms: now,
        updated_by: actor.to_owned(),
        updated_at_ms: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: &str, target: &str) -> ProbeInput {
        ProbeInput {
            name: "web".into(),
            kind: kind.into(),
            target: target.into(),
            ..ProbeInput::default()
        }
    }

    fn fields(result: Result<ProbeSpec, ProbeError>) -> BTreeMap<String, String> {
        match result {
            Err(ProbeError::Invalid(f)) => f,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_good_input_makes_the_spec_a_repo_would() {
        let spec = spec_of(&ProbeInput {
            interval: "15s".into(),
            conditions: vec!["[STATUS] == 200".into(), " ".into()],
            ..input("http", "http://127.0.0.1:8080/health")
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.url, "http://127.0.0.1:8080/health");
        assert_eq!(spec.interval(), std::time::Duration::from_secs(15));
        assert_eq!(spec.conditions, ["[STATUS] == 200"]);
        let tcp = spec_of(&input("tcp", "127.0.0.1:5432")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tcp.url, "tcp://127.0.0.1:5432");
    }

    #[test]
    fn bad_inputs_name_their_field() {
        assert!(fields(spec_of(&input("gopher", "x"))).contains_key("kind"));
        assert!(fields(spec_of(&input("http", ""))).contains_key("target"));
        assert!(fields(spec_of(&input("tcp", "http://127.0.0.1/"))).contains_key("target"));
        let nameless = ProbeInput {
            name: " ".into(),
            ..input("http", "http://127.0.0.1/")
        };
        assert!(fields(spec_of(&nameless)).contains_key("name"));
        let bad_condition = ProbeInput {
            conditions: vec!["[STATUS] ~~ 200".into()],
            ..input("http", "http://127.0.0.1/")
        };
        assert!(fields(spec_of(&bad_condition)).contains_key("conditions"));
        let bad_interval = ProbeInput {
            interval: "often".into(),
            ..input("http", "http://127.0.0.1/")
        };
        assert!(fields(spec_of(&bad_interval)).contains_key("interval"));
    }
}
