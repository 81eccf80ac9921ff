//! The probe list: names unique, one docker probe per container.
//!
//! Written probes (probe files, then labels) come first and a repeated name is a
//! problem. Derived probes (manifest health URLs, containers) give way silently
//! to a probe of the same name, URL or container, so an operator overrides a
//! derived probe by writing one with its name.

use std::collections::{BTreeMap, BTreeSet};

use claudeops_core::probe::{ProbeSpec, Source};

use crate::model::{ManifestService, Problem};

/// The condition of every derived docker probe.
pub const RUNNING: &str = "[RUNNING] == true";
/// Added when the container or its compose service has a healthcheck.
pub const HEALTHY: &str = "[HEALTH] == healthy";

#[derive(Debug, Default)]
pub struct ProbeSet {
    list: Vec<ProbeSpec>,
    names: BTreeMap<String, Source>,
    urls: BTreeSet<String>,
    containers: BTreeSet<String>,
}

impl ProbeSet {
    /// A probe someone wrote; a second one of the same name is a problem.
    pub fn add_explicit(&mut self, spec: ProbeSpec, problems: &mut Vec<Problem>) {
        if let Some(first) = self.names.get(&spec.name) {
            let (path, line) = place(&spec.source);
            let (first_path, first_line) = place(first);
            let at = first_line.map_or(first_path.clone(), |l| format!("{first_path}:{l}"));
            problems.push(Problem::new(
                path,
                line,
                format!(
                    "duplicate probe name `{}` (first defined at {at}); rename one",
                    spec.name
                ),
            ));
            return;
        }
        self.insert(spec);
    }

    /// A probe discovery made up; skipped when its name or URL is taken.
    pub fn add_derived(&mut self, spec: ProbeSpec) {
        if self.names.contains_key(&spec.name) || self.urls.contains(&spec.url) {
            return;
        }
        self.insert(spec);
    }

    /// The docker probe of a container, unless it has one.
    pub fn add_docker(
        &mut self,
        container: &str,
        service: &str,
        healthcheck: bool,
        source: Source,
    ) {
        if self.containers.contains(container) {
            return;
        }
        let mut conditions = vec![RUNNING.to_owned()];
        if healthcheck {
            conditions.push(HEALTHY.to_owned());
        }
        self.add_derived(ProbeSpec {
            name: format!("{}-container", slug(container)),
            service: service.to_owned(),
            url: format!("docker://{container}"),
            conditions,
            source,
            ..ProbeSpec::default()
        });
    }

    fn insert(&mut self, spec: ProbeSpec) {
        if let Some(container) = spec.url.strip_prefix("docker://") {
            let container = container.split(['/', '?']).next().unwrap_or(container);
            self.containers.insert(container.to_owned());
        }
        self.urls.insert(spec.url.clone());
        self.names.insert(spec.name.clone(), spec.source.clone());
        self.list.push(spec);
    }

    /// The probes, by name.
    pub fn finish(mut self) -> Vec<ProbeSpec> {
        self.list.sort_by(|a, b| a.name.cmp(&b.name));
        self.list
    }
}

/// The HTTP probe a manifest row's health URL implies.
pub fn http(row: &ManifestService, url: &str, source: Source) -> ProbeSpec {
    ProbeSpec {
        name: format!("{}-health", slug(&row.name)),
        service: row.name.clone(),
        url: url.to_owned(),
        conditions: row
            .expected_status
            .map(|code| vec![format!("[STATUS] == {code}")])
            .unwrap_or_default(),
        source,
        ..ProbeSpec::default()
    }
}

/// Where a probe came from, as a problem's path and line.
fn place(source: &Source) -> (String, Option<u32>) {
    match source {
        Source::File { path, line } => (path.clone(), Some(*line)),
        Source::Container { name } => (format!("container:{name}"), None),
        _ => ("builtin".to_owned(), None),
    }
}

/// Lower case, letters and digits, runs of anything else as one `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, url: &str) -> ProbeSpec {
        ProbeSpec {
            name: name.into(),
            url: url.into(),
            source: Source::File {
                path: "r/p.yaml".into(),
                line: 4,
            },
            ..ProbeSpec::default()
        }
    }

    #[test]
    fn names_are_unique_and_containers_probed_once() {
        let mut set = ProbeSet::default();
        let mut problems = Vec::new();
        set.add_explicit(spec("web", "https://web"), &mut problems);
        set.add_explicit(spec("db", "docker://postgres"), &mut problems);
        set.add_explicit(spec("web", "https://other"), &mut problems);
        set.add_derived(spec("web-health", "https://web"));
        set.add_docker("postgres", "db", true, Source::Builtin);
        set.add_docker("Redis_Cache", "cache", false, Source::Builtin);
        set.add_docker("Redis_Cache", "cache", true, Source::Builtin);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("first defined at r/p.yaml:4"));
        let list = set.finish();
        let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["db", "redis-cache-container", "web"]);
        assert_eq!(list[1].conditions, [RUNNING]);
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Home Assistant"), "home-assistant");
        assert_eq!(slug("--x__y--"), "x-y");
    }
}
