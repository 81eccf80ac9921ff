//! The payloads of the alerting tools people run, read into one [`Alert`]
//! shape without a model: Prometheus Alertmanager, Grafana alerting, Uptime
//! Kuma, Healthchecks.io, Gatus, and the documented generic JSON
//! (`docs/webhooks.md`). Each parser is written from the tool's documented
//! format; the fixtures in `tests/fixtures/webhooks/` are those formats.
//!
//! A payload no parser knows is [`Parsed::Unknown`]: the caller falls back to a
//! model-written brief. Pure functions of the body: no I/O, no clock.

use std::collections::BTreeMap;

use claudeops_core::alert::{Alert, fingerprint};
use claudeops_core::{SiteName, Tier};
use serde_json::{Map, Value};

/// The sources with a native parser, as named in `/api/v1/webhook/{source}`.
pub const SOURCES: &[&str] = &[
    "alertmanager",
    "grafana",
    "uptime-kuma",
    "healthchecks",
    "gatus",
    "generic",
];

/// What a payload is.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A known format, with its alerts (possibly none: an empty group).
    Alerts(Vec<Alert>),
    /// A known format's test message or a state that asks for nothing
    /// (a pending or maintenance monitor): nothing to do, and why.
    Nothing(String),
    /// No parser knows it.
    Unknown,
}

/// Why a payload sent to a named source could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("unknown source {0:?}: known sources are {known}", known = SOURCES.join(", "))]
    UnknownSource(String),
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("not a {format} payload: {why}")]
    Shape { format: &'static str, why: String },
}

/// Reads a payload. With a `source` (from the path) the body must be that
/// source's format; without one the format is recognised by its fields.
pub fn parse(source: Option<&str>, body: &[u8]) -> Result<Parsed, SourceError> {
    let Some(source) = source else {
        return Ok(detect(body));
    };
    let name = canonical(source).ok_or_else(|| SourceError::UnknownSource(source.to_owned()))?;
    let value: Value =
        serde_json::from_slice(body).map_err(|e| SourceError::NotJson(e.to_string()))?;
    let object = value.as_object().ok_or_else(|| SourceError::Shape {
        format: name,
        why: "the body is not a JSON object".into(),
    })?;
    let parsed = match name {
        "alertmanager" => alertmanager("alertmanager", object),
        "grafana" => alertmanager("grafana", object),
        "uptime-kuma" => uptime_kuma(object),
        "healthchecks" => healthchecks(object),
        "gatus" => gatus(object),
        _ => generic(object),
    };
    parsed.ok_or_else(|| SourceError::Shape {
        format: name,
        why: format!("the fields it needs are missing (see docs/webhooks.md for {name})"),
    })
}

/// The one name of a source (`kuma` and `uptimekuma` are Uptime Kuma).
fn canonical(source: &str) -> Option<&'static str> {
    let lower = source.to_ascii_lowercase();
    match lower.as_str() {
        "uptimekuma" | "kuma" => Some("uptime-kuma"),
        "healthchecks.io" | "healthchecksio" => Some("healthchecks"),
        "prometheus" => Some("alertmanager"),
        other => SOURCES.iter().find(|s| **s == other).copied(),
    }
}

/// Recognises a payload by its fields.
fn detect(body: &[u8]) -> Parsed {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        return Parsed::Unknown;
    };
    let has = |k: &str| object.contains_key(k);
    let attempt = if has("alerts") && (has("orgId") || (has("title") && has("state"))) {
        alertmanager("grafana", &object)
    } else if has("alerts") && (has("groupKey") || has("receiver") || has("version")) {
        alertmanager("alertmanager", &object)
    } else if has("heartbeat") || has("monitor") {
        uptime_kuma(&object)
    } else if has("endpoint_name") {
        gatus(&object)
    } else if has("name")
        && has("status")
        && ["uuid", "ping_url", "unique_key", "slug", "code", "n_pings"]
            .iter()
            .any(|k| has(k))
    {
        healthchecks(&object)
    } else if has("service") || has("alerts") {
        generic(&object)
    } else {
        None
    };
    attempt.unwrap_or(Parsed::Unknown)
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| text(Some(v)).map(|v| (k.clone(), v)))
                .collect()
        })
        .unwrap_or_default()
}

fn site_of(labels: &BTreeMap<String, String>) -> Option<SiteName> {
    labels
        .get("site")
        .or_else(|| labels.get("claudeops_site"))
        .and_then(|s| SiteName::new(s.clone()).ok())
}

/// A requested start tier: a number or a digit string, 1 to 3.
fn tier_of(value: Option<&Value>) -> Option<Tier> {
    let n = match value? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        _ => return None,
    };
    Tier::try_from(n.clamp(1, 3)).ok()
}

/// The tier asked for by a `claudeops_tier` label (or tag).
fn label_tier(labels: &BTreeMap<String, String>) -> Option<Tier> {
    tier_of(
        labels
            .get("claudeops_tier")
            .cloned()
            .map(Value::String)
            .as_ref(),
    )
}

fn firing_word(word: &str) -> Option<bool> {
    match word.to_ascii_lowercase().as_str() {
        "firing" | "alerting" | "triggered" | "down" | "problem" | "critical" | "error" => {
            Some(true)
        }
        "resolved" | "ok" | "up" | "recovered" | "normal" => Some(false),
        _ => None,
    }
}

/// Alertmanager's webhook (version 4), and Grafana alerting's, which extends it.
fn alertmanager(source: &'static str, object: &Map<String, Value>) -> Option<Parsed> {
    let alerts = object.get("alerts")?.as_array()?;
    let common = strings(object.get("commonLabels"));
    let group_status = text(object.get("status"));
    let mut out = Vec::new();
    for alert in alerts {
        let alert = alert.as_object()?;
        let mut labels = common.clone();
        labels.extend(strings(alert.get("labels")));
        let annotations = strings(alert.get("annotations"));
        let status = text(alert.get("status")).or_else(|| group_status.clone())?;
        let firing = firing_word(&status)?;
        let service = ["service", "job", "container", "instance", "alertname"]
            .iter()
            .find_map(|k| labels.get(*k).cloned())
            .unwrap_or_else(|| "unknown".into());
        let alertname = labels.get("alertname").cloned().unwrap_or_default();
        let summary = annotations
            .get("summary")
            .or_else(|| annotations.get("description"))
            .cloned()
            .unwrap_or_else(|| alertname.clone());
        let mut description = annotations.get("description").cloned().unwrap_or_default();
        if let Some(value) = text(alert.get("valueString")) {
            description.push_str(&format!("\nvalues: {value}"));
        }
        let id = match text(alert.get("fingerprint")) {
            Some(fp) => format!("{source}:{fp}"),
            None => fingerprint(source, &labels),
        };
        let tier = tier_of(
            labels
                .get("claudeops_tier")
                .or_else(|| annotations.get("claudeops_tier"))
                .map(|s| Value::String(s.clone()))
                .as_ref(),
        );
        out.push(Alert {
            source: source.to_owned(),
            site: site_of(&labels),
            service,
            severity: labels
                .get("severity")
                .map(|s| s.to_ascii_lowercase())
                .unwrap_or_else(|| "warning".into()),
            summary,
            description: description.trim().to_owned(),
            url: text(alert.get("generatorURL"))
                .or_else(|| text(alert.get("panelURL")))
                .or_else(|| text(alert.get("dashboardURL"))),
            labels,
            firing,
            fingerprint: id,
            tier,
        });
    }
    Some(Parsed::Alerts(out))
}

/// Uptime Kuma's webhook: `heartbeat` (status 0 down, 1 up, 2 pending, 3
/// maintenance), `monitor` and `msg`. Its test message has neither.
fn uptime_kuma(object: &Map<String, Value>) -> Option<Parsed> {
    let msg = text(object.get("msg")).unwrap_or_default();
    let (Some(heartbeat), Some(monitor)) = (
        object.get("heartbeat").and_then(Value::as_object),
        object.get("monitor").and_then(Value::as_object),
    ) else {
        return Some(Parsed::Nothing(format!(
            "an Uptime Kuma message without a monitor (a test?): {msg}"
        )));
    };
    let firing = match heartbeat.get("status").and_then(Value::as_i64)? {
        0 => true,
        1 => false,
        2 => return Some(Parsed::Nothing("the monitor is pending".into())),
        _ => return Some(Parsed::Nothing("the monitor is in maintenance".into())),
    };
    let service = text(monitor.get("name"))?;
    let id = text(monitor.get("id")).unwrap_or_else(|| service.clone());
    let mut labels = BTreeMap::new();
    for key in ["type", "hostname", "url"] {
        if let Some(v) = text(monitor.get(key)) {
            labels.insert(key.to_owned(), v);
        }
    }
    if let Some(tags) = monitor.get("tags").and_then(Value::as_array) {
        for tag in tags {
            if let (Some(name), value) = (text(tag.get("name")), text(tag.get("value"))) {
                labels.insert(name, value.unwrap_or_default());
            }
        }
    }
    let beat_msg = text(heartbeat.get("msg")).unwrap_or_default();
    Some(Parsed::Alerts(vec![Alert {
        source: "uptime-kuma".into(),
        site: site_of(&labels),
        service,
        severity: if firing { "down" } else { "up" }.into(),
        summary: if msg.is_empty() {
            beat_msg.clone()
        } else {
            msg
        },
        description: beat_msg,
        url: text(monitor.get("url")),
        tier: label_tier(&labels),
        labels,
        firing,
        fingerprint: format!("uptime-kuma:{id}"),
    }]))
}

/// Healthchecks.io: the check's JSON (`$JSON`), or the body documented in
/// `docs/webhooks.md` built from `$NAME`, `$STATUS`, `$TAGS` and `$CODE`.
fn healthchecks(object: &Map<String, Value>) -> Option<Parsed> {
    let name = text(object.get("name"))?;
    let status = text(object.get("status"))?;
    let firing = match status.to_ascii_lowercase().as_str() {
        "down" => true,
        "up" => false,
        other => return Some(Parsed::Nothing(format!("the check is {other}"))),
    };
    let mut labels = BTreeMap::new();
    // Tags are words; `site:cabin` or `site=cabin` names the site.
    for tag in text(object.get("tags"))
        .unwrap_or_default()
        .split_whitespace()
    {
        match tag.split_once([':', '=']) {
            Some((k, v)) => labels.insert(k.to_owned(), v.to_owned()),
            None => labels.insert(tag.to_owned(), String::new()),
        };
    }
    let id = ["uuid", "code", "unique_key", "slug"]
        .iter()
        .find_map(|k| text(object.get(*k)))
        .unwrap_or_else(|| name.clone());
    Some(Parsed::Alerts(vec![Alert {
        source: "healthchecks".into(),
        site: site_of(&labels),
        summary: format!("check {name} is {}", if firing { "down" } else { "up" }),
        description: text(object.get("desc")).unwrap_or_default(),
        service: name,
        severity: if firing { "down" } else { "up" }.into(),
        url: text(object.get("ping_url")),
        tier: label_tier(&labels),
        labels,
        firing,
        fingerprint: format!("healthchecks:{id}"),
    }]))
}

/// Gatus's custom alerting provider, with the body documented in
/// `docs/webhooks.md` (its placeholders, one per field).
fn gatus(object: &Map<String, Value>) -> Option<Parsed> {
    let name = text(object.get("endpoint_name"))?;
    let status = text(object.get("status")).unwrap_or_else(|| "TRIGGERED".into());
    let firing = firing_word(&status)?;
    let group = text(object.get("endpoint_group")).unwrap_or_default();
    let mut labels = BTreeMap::new();
    if !group.is_empty() {
        labels.insert("group".to_owned(), group.clone());
    }
    if let Some(site) = text(object.get("site")) {
        labels.insert("site".into(), site);
    }
    let mut description = text(object.get("alert_description")).unwrap_or_default();
    for key in ["errors", "conditions"] {
        if let Some(v) = text(object.get(key)) {
            description.push_str(&format!("\n{key}: {v}"));
        }
    }
    let service = if group.is_empty() {
        name.clone()
    } else {
        format!("{group}/{name}")
    };
    Some(Parsed::Alerts(vec![Alert {
        source: "gatus".into(),
        site: site_of(&labels),
        summary: format!(
            "endpoint {service} {}",
            if firing { "is failing" } else { "recovered" }
        ),
        description: description.trim().to_owned(),
        url: text(object.get("endpoint_url")),
        severity: if firing { "critical" } else { "resolved" }.into(),
        tier: tier_of(object.get("tier")),
        fingerprint: format!("gatus:{service}"),
        service,
        labels,
        firing,
    }]))
}

/// The generic shape: one alert object, or `{"alerts": [...]}` of them.
/// `service` and `summary` are required; see `docs/webhooks.md`.
fn generic(object: &Map<String, Value>) -> Option<Parsed> {
    if let Some(list) = object.get("alerts").and_then(Value::as_array) {
        let mut out = Vec::new();
        for item in list {
            out.push(generic_one(item.as_object()?)?);
        }
        return Some(Parsed::Alerts(out));
    }
    Some(Parsed::Alerts(vec![generic_one(object)?]))
}

fn generic_one(object: &Map<String, Value>) -> Option<Alert> {
    let service = text(object.get("service"))?;
    let summary = text(object.get("summary")).or_else(|| text(object.get("message")))?;
    let firing = match text(object.get("status")) {
        Some(word) => firing_word(&word)?,
        None => true,
    };
    let mut labels = strings(object.get("labels"));
    if let Some(site) = text(object.get("site")) {
        labels.insert("site".into(), site);
    }
    let fp = match text(object.get("fingerprint")) {
        Some(fp) => format!("generic:{fp}"),
        None => {
            let mut named = labels.clone();
            named.insert("service".into(), service.clone());
            fingerprint("generic", &named)
        }
    };
    Some(Alert {
        source: "generic".into(),
        site: site_of(&labels),
        severity: text(object.get("severity"))
            .map(|s| s.to_ascii_lowercase())
            .unwrap_or_else(|| "warning".into()),
        description: text(object.get("description")).unwrap_or_default(),
        url: text(object.get("url")),
        tier: tier_of(object.get("tier")),
        service,
        summary,
        labels,
        firing,
        fingerprint: fp,
    })
}

/// The payload for the model-written brief: the body as text, with a
/// top-level `tier` taken out (it is honoured separately, capped) so the
/// brief is about the alert. Also returns that tier.
pub fn for_brief(body: &[u8]) -> (String, Option<Tier>) {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut object)) => {
            let tier = tier_of(object.remove("tier").as_ref());
            (Value::Object(object).to_string(), tier)
        }
        _ => (String::from_utf8_lossy(body).into_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../tests/fixtures/webhooks/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn alerts(parsed: Parsed) -> Vec<Alert> {
        match parsed {
            Parsed::Alerts(list) => list,
            other => panic!("expected alerts, got {other:?}"),
        }
    }

    #[test]
    fn alertmanager_firing_and_resolved() {
        for (source, hint) in [(None, "detected"), (Some("alertmanager"), "named")] {
            let list = alerts(
                parse(source, &fixture("alertmanager-firing.json"))
                    .unwrap_or_else(|e| panic!("{hint}: {e}")),
            );
            assert_eq!(list.len(), 2, "{hint}");
            let a = &list[0];
            assert_eq!(a.source, "alertmanager");
            assert!(a.firing);
            assert_eq!(a.service, "web");
            assert_eq!(a.severity, "critical");
            assert_eq!(a.site.as_ref().map(SiteName::as_str), Some("home"));
            assert!(a.summary.contains("5xx"), "{a:?}");
            assert!(a.fingerprint.starts_with("alertmanager:"));
            assert_ne!(list[0].fingerprint, list[1].fingerprint);
        }
        let resolved = alerts(
            parse(None, &fixture("alertmanager-resolved.json")).unwrap_or_else(|e| panic!("{e}")),
        );
        let firing = alerts(
            parse(None, &fixture("alertmanager-firing.json")).unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(!resolved[0].firing);
        assert_eq!(resolved[0].fingerprint, firing[0].fingerprint);
    }

    #[test]
    fn grafana_is_told_from_alertmanager() {
        let list = alerts(parse(None, &fixture("grafana.json")).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(list[0].source, "grafana");
        assert!(list[0].firing);
        assert!(list[0].description.contains("values:"), "{:?}", list[0]);
    }

    #[test]
    fn uptime_kuma_down_up_and_test() {
        let down = alerts(
            parse(None, &fixture("uptime-kuma-down.json")).unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(down[0].service, "nextcloud");
        assert!(down[0].firing);
        assert_eq!(down[0].fingerprint, "uptime-kuma:7");
        let up =
            alerts(parse(None, &fixture("uptime-kuma-up.json")).unwrap_or_else(|e| panic!("{e}")));
        assert!(!up[0].firing);
        assert_eq!(up[0].fingerprint, down[0].fingerprint);
        let test = parse(
            Some("uptime-kuma"),
            br#"{"heartbeat":null,"monitor":null,"msg":"Uptime Kuma Testing"}"#,
        );
        assert!(matches!(test, Ok(Parsed::Nothing(_))), "{test:?}");
    }

    #[test]
    fn healthchecks_gatus_generic() {
        let hc =
            alerts(parse(None, &fixture("healthchecks.json")).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(hc[0].service, "nightly-backup");
        assert_eq!(hc[0].site.as_ref().map(SiteName::as_str), Some("cabin"));
        let gatus = alerts(parse(None, &fixture("gatus.json")).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(gatus[0].service, "core/api");
        assert!(gatus[0].firing);
        let generic =
            alerts(parse(None, &fixture("generic.json")).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(
            generic[0].tier,
            Some(Tier::Remediate),
            "asked for, capped later"
        );
        assert_eq!(generic[0].service, "nas");
    }

    #[test]
    fn unknown_payloads_and_bad_bodies() {
        assert_eq!(parse(None, b"the disk is on fire"), Ok(Parsed::Unknown));
        assert_eq!(parse(None, br#"{"foo": 1}"#), Ok(Parsed::Unknown));
        assert!(matches!(
            parse(Some("nagios"), b"{}"),
            Err(SourceError::UnknownSource(_))
        ));
        assert!(matches!(
            parse(Some("gatus"), b"not json"),
            Err(SourceError::NotJson(_))
        ));
        assert!(matches!(
            parse(Some("alertmanager"), br#"{"status": "firing"}"#),
            Err(SourceError::Shape { .. })
        ));
        let (text, tier) = for_brief(br#"{"tier": 3, "msg": "x"}"#);
        assert_eq!(tier, Some(Tier::Remediate));
        assert!(!text.contains("tier"), "{text}");
    }

    #[test]
    fn hostile_values_do_not_panic() {
        for body in [
            &br#"{"alerts": [1, 2]}"#[..],
            br#"{"alerts": [{"status": 7, "labels": []}], "groupKey": 1}"#,
            br#"{"heartbeat": {"status": "x"}, "monitor": {}}"#,
            br#"{"endpoint_name": {}, "status": []}"#,
            br#"{"service": "a", "summary": "b", "tier": 99999999999999999999}"#,
            br#"{"service": "a", "summary": "b", "site": "../../etc"}"#,
        ] {
            let _ = parse(None, body);
        }
        let list = alerts(
            parse(
                None,
                br#"{"service": "a", "summary": "b", "site": "../../etc"}"#,
            )
            .unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(list[0].site, None, "an invalid site name is not taken");
    }
}
