//! Container labels that steer discovery (on a running container, or in a
//! compose service's `labels:` when its container is not running):
//!
//! - `claudeops.enable=false`: no probes for this container.
//! - `claudeops.service=NAME`: the service the container and its probes belong to.
//! - `claudeops.probe.<name>.url`, `.conditions` (separated by `;`),
//!   `.interval`, `.timeout`: an extra probe called `<name>`.

use std::collections::BTreeMap;

use claudeops_core::probe::{ProbeSpec, Source};

use crate::model::Problem;
use crate::probe_file;

pub const ENABLE: &str = "claudeops.enable";
pub const SERVICE: &str = "claudeops.service";
pub const PROBE_PREFIX: &str = "claudeops.probe.";

/// The labels say `claudeops.enable=false` (or `0`, `no`, `off`).
pub fn opted_out(labels: &BTreeMap<String, String>) -> bool {
    labels.get(ENABLE).is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "false" | "0" | "no" | "off"
        )
    })
}

/// The service named by `claudeops.service`, if any.
pub fn service(labels: &BTreeMap<String, String>) -> Option<String> {
    labels
        .get(SERVICE)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Where label problems are reported.
#[derive(Debug, Clone)]
pub struct Place {
    pub path: String,
    pub line: Option<u32>,
}

/// The probes `claudeops.probe.*` labels define, for `service`, with `source`.
pub fn probes(
    labels: &BTreeMap<String, String>,
    service: &str,
    source: &Source,
    place: &Place,
) -> (Vec<ProbeSpec>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut specs: BTreeMap<&str, ProbeSpec> = BTreeMap::new();
    let mut problem = |message: String| {
        problems.push(Problem::new(place.path.clone(), place.line, message));
    };
    for (key, value) in labels {
        let Some(rest) = key.strip_prefix(PROBE_PREFIX) else {
            continue;
        };
        let Some((name, field)) = rest.rsplit_once('.').filter(|(n, _)| !n.is_empty()) else {
            problem(format!(
                "label `{key}` names no probe; write `{PROBE_PREFIX}<name>.url` and the like"
            ));
            continue;
        };
        let spec = specs.entry(name).or_insert_with(|| ProbeSpec {
            name: name.to_owned(),
            service: service.to_owned(),
            source: source.clone(),
            ..ProbeSpec::default()
        });
        let value = value.trim();
        match field {
            "url" => spec.url = value.to_owned(),
            "conditions" => {
                spec.conditions = value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "interval" | "timeout" => match humantime::parse_duration(value) {
                Ok(d) if field == "interval" => spec.interval = Some(d),
                Ok(d) => spec.timeout = Some(d),
                Err(e) => problem(format!(
                    "label `{key}`: `{value}` is not a duration ({e}); write e.g. `30s` or `5m`"
                )),
            },
            other => problem(format!(
                "label `{key}`: unknown field `{other}`; use url, conditions, interval or timeout"
            )),
        }
    }
    let mut out = Vec::new();
    for (name, mut spec) in specs {
        if spec.url.is_empty() {
            problem(format!(
                "probe `{name}` has no `{PROBE_PREFIX}{name}.url` label; add one"
            ));
            continue;
        }
        match probe_file::check(&mut spec) {
            Ok(()) => out.push(spec),
            Err(message) => problem(format!("label probe: {message}")),
        }
    }
    (out, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_label_probes() {
        let l = labels(&[
            ("claudeops.service", " media "),
            ("claudeops.probe.jf-web.url", "http://localhost:8096/health"),
            (
                "claudeops.probe.jf-web.conditions",
                "[STATUS] == 200; [RESPONSE_TIME] < 500;",
            ),
            ("claudeops.probe.jf-web.interval", "1m"),
            ("claudeops.probe.jf-web.retries", "3"),
            ("claudeops.probe.nourl.interval", "5 lightyears"),
            ("claudeops.probe.url", "x"),
            ("claudeops.enable", "False"),
        ]);
        assert!(opted_out(&l));
        assert_eq!(service(&l).as_deref(), Some("media"));
        let place = Place {
            path: "container:jellyfin".into(),
            line: None,
        };
        let source = Source::Container {
            name: "jellyfin".into(),
        };
        let (specs, problems) = probes(&l, "media", &source, &place);
        assert_eq!(specs.len(), 1);
        let s = &specs[0];
        assert_eq!(s.name, "jf-web");
        assert_eq!(s.service, "media");
        assert_eq!(s.conditions, ["[STATUS] == 200", "[RESPONSE_TIME] < 500"]);
        assert_eq!(s.interval, Some(Duration::from_secs(60)));
        assert_eq!(s.source, source);
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(
            messages
                .iter()
                .any(|m| m.contains("unknown field `retries`"))
        );
        assert!(messages.iter().any(|m| m.contains("not a duration")));
        assert!(messages.iter().any(|m| m.contains("names no probe")));
        assert!(messages.iter().any(|m| m.contains("`nourl` has no")));
    }
}
