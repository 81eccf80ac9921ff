//! Compose files: where they are in a repo, and the services they define.
//!
//! Only what discovery needs is read: `name`, and per service `container_name`,
//! `image`, `ports`, `depends_on`, `healthcheck` and `labels`. Variables
//! (`${PORT:-8080}`) are not expanded; a port written with one is skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::files;
use crate::model::{Port, Problem};
use crate::probe_file::yaml_error;
use crate::yaml_lines;

/// The file names Compose looks for.
pub const FILE_NAMES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// Directories never searched for compose files.
const SKIP_DIRS: &[&str] = &["node_modules", "vendor", "target"];

/// At most this many directories are visited in one repo.
const MAX_DIRS: usize = 10_000;

/// A compose file's contents, as far as discovery reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComposeDoc {
    pub project: String,
    pub services: Vec<ComposeService>,
}

/// One service of a compose file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComposeService {
    pub name: String,
    pub line: u32,
    pub container_name: Option<String>,
    pub image: Option<String>,
    pub ports: Vec<Port>,
    pub depends_on: Vec<String>,
    /// `Some` when a healthcheck is defined and not disabled; holds its test.
    pub healthcheck: Option<Option<String>>,
    pub labels: BTreeMap<String, String>,
}

/// Compose files in `repo`, at most `max_depth` directories below it (0: only
/// the repo's own root). Hidden directories and symbolic links are not followed.
pub fn find(repo: &Path, max_depth: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut queue = vec![(repo.to_path_buf(), 0usize)];
    let mut visited = 0;
    while let Some((dir, depth)) = queue.pop() {
        visited += 1;
        if visited > MAX_DIRS {
            break;
        }
        let Ok(entries) = files::list(&dir, false) else {
            continue;
        };
        for entry in entries {
            if entry.is_file && FILE_NAMES.contains(&entry.name.as_str()) {
                found.push(entry.path);
            } else if entry.is_dir
                && depth < max_depth
                && !entry.name.starts_with('.')
                && !SKIP_DIRS.contains(&entry.name.as_str())
            {
                queue.push((entry.path, depth + 1));
            }
        }
    }
    found.sort();
    found
}

/// The project name Compose would use for a file in `dir` without a `name:`:
/// `COMPOSE_PROJECT_NAME` from the `.env` beside it, else the directory's name,
/// normalised as Compose v2 does (lower case; only `a-z`, `0-9`, `_`, `-`).
pub fn default_project(dir: &Path) -> String {
    let from_env = files::read_text(&dir.join(".env"))
        .ok()
        .and_then(|env| env_value(&env, "COMPOSE_PROJECT_NAME"));
    let raw = from_env.unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    normalise_project(&raw)
}

/// Lower case, only `a-z0-9_-`, starting with a letter or digit.
pub fn normalise_project(raw: &str) -> String {
    let name: String = raw
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    name.trim_start_matches(['_', '-']).to_owned()
}

fn env_value(env: &str, key: &str) -> Option<String> {
    env.lines().find_map(|line| {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches(['"', '\'']).to_owned())
    })
}

/// Reads a compose file; `path` names it in problems, `project` is used when the
/// file has no `name:`.
pub fn parse(text: &str, path: &str, project: &str) -> (ComposeDoc, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut doc = ComposeDoc {
        project: project.to_owned(),
        services: Vec::new(),
    };
    let root: Value = match serde_norway::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let (line, message) = yaml_error(&e);
            problems.push(Problem::new(
                path,
                line,
                format!("not valid YAML: {message}; fix the syntax"),
            ));
            return (doc, problems);
        }
    };
    let Value::Mapping(root) = root else {
        if !root.is_null() {
            problems.push(Problem::new(
                path,
                Some(1),
                "a compose file must be a mapping",
            ));
        }
        return (doc, problems);
    };
    if let Some(name) = root.get("name").and_then(Value::as_str) {
        let name = normalise_project(name);
        if !name.is_empty() && !name.contains('$') {
            doc.project = name;
        }
    }
    let services_line = yaml_lines::top_key_line(text, "services");
    let lines: BTreeMap<String, u32> = services_line
        .map(|l| yaml_lines::child_keys(text, l).into_iter().collect())
        .unwrap_or_default();
    let services = match root.get("services") {
        None | Some(Value::Null) => return (doc, problems),
        Some(Value::Mapping(m)) => m,
        Some(_) => {
            problems.push(Problem::new(
                path,
                services_line,
                "`services:` must be a mapping of service names to definitions",
            ));
            return (doc, problems);
        }
    };
    for (key, def) in services {
        let Some(name) = key.as_str().map(str::to_owned) else {
            problems.push(Problem::new(
                path,
                services_line,
                "a service name is not a string",
            ));
            continue;
        };
        let line = lines.get(&name).copied().or(services_line).unwrap_or(1);
        let Value::Mapping(def) = def else {
            problems.push(Problem::new(
                path,
                Some(line),
                format!("service `{name}` must be a mapping"),
            ));
            continue;
        };
        let mut service = ComposeService {
            name,
            line,
            container_name: string(def.get("container_name")),
            image: string(def.get("image")),
            depends_on: depends_on(def.get("depends_on")),
            healthcheck: healthcheck(def.get("healthcheck")),
            labels: labels(def.get("labels")),
            ..ComposeService::default()
        };
        for port in def
            .get("ports")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            match ports(port) {
                Ok(ps) => service.ports.extend(ps),
                Err(text) if text.contains('$') => {}
                Err(text) => problems.push(Problem::new(
                    path,
                    Some(line),
                    format!(
                        "service `{}`: cannot read port `{text}`; write e.g. `\"8080:80\"`",
                        service.name
                    ),
                )),
            }
        }
        doc.services.push(service);
    }
    (doc, problems)
}

fn string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn depends_on(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = match v {
        Some(Value::Sequence(items)) => items.iter().filter_map(|i| string(Some(i))).collect(),
        Some(Value::Mapping(m)) => m.keys().filter_map(|k| string(Some(k))).collect(),
        _ => Vec::new(),
    };
    out.sort();
    out.dedup();
    out
}

fn healthcheck(v: Option<&Value>) -> Option<Option<String>> {
    let Value::Mapping(hc) = v? else {
        return None;
    };
    if hc.get("disable").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let test = match hc.get("test") {
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(Value::Sequence(items)) => {
            let words: Vec<String> = items.iter().filter_map(|i| string(Some(i))).collect();
            if words.first().map(String::as_str) == Some("NONE") {
                return None;
            }
            let words = match words.first().map(String::as_str) {
                Some("CMD" | "CMD-SHELL") => &words[1..],
                _ => &words[..],
            };
            Some(words.join(" "))
        }
        _ => None,
    };
    Some(test.filter(|t| !t.is_empty()))
}

fn labels(v: Option<&Value>) -> BTreeMap<String, String> {
    match v {
        Some(Value::Mapping(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((string(Some(k))?, string(Some(v)).unwrap_or_default())))
            .collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|i| {
                let text = string(Some(i))?;
                let (k, v) = text.split_once('=').unwrap_or((&text, ""));
                Some((k.trim().to_owned(), v.trim().to_owned()))
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// One `ports:` entry: short syntax (`"8080:80/tcp"`, `"127.0.0.1:53:53/udp"`,
/// `80`, `"8000-8002:8000-8002"`) or long syntax (`target`, `published`,
/// `protocol`). The entry's text comes back when it cannot be read.
fn ports(v: &Value) -> Result<Vec<Port>, String> {
    match v {
        Value::Number(n) => {
            let target = n.as_u64().and_then(|t| u16::try_from(t).ok());
            target
                .map(|t| vec![port(None, Some(t), "tcp")])
                .ok_or_else(|| n.to_string())
        }
        Value::String(s) => short_port(s).ok_or_else(|| s.clone()),
        Value::Mapping(m) => {
            let num = |key: &str| -> Option<u16> {
                let text = string(m.get(key))?;
                text.split('-').next()?.trim().parse().ok()
            };
            let target = num("target").ok_or_else(|| "(no target)".to_owned())?;
            let protocol = string(m.get("protocol")).unwrap_or_else(|| "tcp".to_owned());
            Ok(vec![port(num("published"), Some(target), &protocol)])
        }
        _ => Err("(not a port)".to_owned()),
    }
}

fn port(published: Option<u16>, target: Option<u16>, protocol: &str) -> Port {
    Port {
        published,
        target,
        protocol: protocol.to_ascii_lowercase(),
    }
}

fn short_port(text: &str) -> Option<Vec<Port>> {
    let (spec, protocol) = text.trim().split_once('/').unwrap_or((text.trim(), "tcp"));
    // From the right: target, then published, then the host address (which may
    // itself hold colons, as IPv6 does).
    let mut parts = spec.rsplitn(3, ':');
    let target = parts.next()?;
    let published = parts.next().unwrap_or("");
    let targets = range(target)?;
    if published.is_empty() {
        return Some(
            targets
                .into_iter()
                .map(|t| port(None, Some(t), protocol))
                .collect(),
        );
    }
    let published = range(published)?;
    if published.len() == targets.len() {
        Some(
            published
                .into_iter()
                .zip(targets)
                .map(|(p, t)| port(Some(p), Some(t), protocol))
                .collect(),
        )
    } else if targets.len() == 1 {
        // `8000-8010:80`: Compose picks one of the host ports; record the first.
        Some(vec![port(
            published.first().copied(),
            targets.first().copied(),
            protocol,
        )])
    } else {
        None
    }
}

/// `80` or `8000-8002` (at most 100 ports).
fn range(text: &str) -> Option<Vec<u16>> {
    let text = text.trim();
    match text.split_once('-') {
        None => text.parse().ok().map(|p| vec![p]),
        Some((a, b)) => {
            let (a, b): (u16, u16) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            (a <= b && b - a < 100).then(|| (a..=b).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPOSE: &str = "\
name: Media_Stack
services:
  jellyfin:
    image: jellyfin/jellyfin:10.9
    container_name: jellyfin
    ports:
      - \"8096:8096\"
      - 127.0.0.1:8920:8920/tcp
      - target: 7359
        published: \"7359\"
        protocol: udp
      - \"${DLNA_PORT:-1900}:1900/udp\"
    healthcheck:
      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:8096/health\"]
    labels:
      - claudeops.service=media
  sonarr:
    image: lscr.io/linuxserver/sonarr
    depends_on:
      prowlarr:
        condition: service_healthy
      db: {}
    healthcheck:
      disable: true
    ports: [8989, \"6000-6001:6000-6001\", \"[::1]:9000:90\", \"x:y\"]
";

    #[test]
    fn reads_services() {
        let (doc, problems) = parse(COMPOSE, "r/docker-compose.yml", "r");
        assert_eq!(doc.project, "media_stack");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, Some(17));
        assert!(problems[0].message.contains("port `x:y`"));
        let [jf, sonarr] = &doc.services[..] else {
            panic!("{doc:?}")
        };
        assert_eq!((jf.name.as_str(), jf.line), ("jellyfin", 3));
        assert_eq!(jf.container_name.as_deref(), Some("jellyfin"));
        assert_eq!(
            jf.healthcheck,
            Some(Some("curl -f http://localhost:8096/health".to_owned()))
        );
        assert_eq!(
            jf.labels.get("claudeops.service").map(String::as_str),
            Some("media")
        );
        assert_eq!(
            jf.ports,
            [
                port(Some(8096), Some(8096), "tcp"),
                port(Some(8920), Some(8920), "tcp"),
                port(Some(7359), Some(7359), "udp"),
            ]
        );
        assert_eq!(sonarr.depends_on, ["db", "prowlarr"]);
        assert_eq!(sonarr.healthcheck, None);
        assert_eq!(
            sonarr.ports,
            [
                port(None, Some(8989), "tcp"),
                port(Some(6000), Some(6000), "tcp"),
                port(Some(6001), Some(6001), "tcp"),
                port(Some(9000), Some(90), "tcp"),
            ]
        );
    }

    #[test]
    fn projects() {
        assert_eq!(normalise_project("My Stack!"), "mystack");
        assert_eq!(normalise_project("_x"), "x");
        assert_eq!(
            env_value(
                "A=1\nexport COMPOSE_PROJECT_NAME=\"media\"\n",
                "COMPOSE_PROJECT_NAME"
            ),
            Some("media".into())
        );
    }

    #[test]
    fn bad_files_are_problems() {
        let (doc, problems) = parse("services:\n  web:\n    image: [\n", "c.yml", "p");
        assert!(doc.services.is_empty());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].line.is_some());
        let (_, problems) = parse("services:\n  web: 3\n", "c.yml", "p");
        assert_eq!(problems[0].line, Some(2));
        let (_, problems) = parse("services: [a]\n", "c.yml", "p");
        assert_eq!(problems[0].line, Some(1));
    }
}
