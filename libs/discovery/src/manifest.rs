//! `CLAUDE-OPS.md`: free Markdown, of which these parts are read (see
//! `docs/discovery.md`): the title, `## Kind`, the `## Capabilities` and
//! `## Rules` bullets, hosts tables and service tables.
//!
//! A table is a service table when a header is `Service` (or `App`,
//! `Application`, `Service name`), or a `Name` column sits under a heading that
//! mentions services or inventory; a hosts table when a header is `Host`
//! (`Hostname`, `Node`, `Server`, `Machine`), or `Name` under a heading that
//! mentions hosts. Other tables are free text and ignored.

use crate::markdown::{self, Block, Row};
use crate::model::{Capability, Host, Manifest, ManifestService, Problem};
use crate::probe_file::known_scheme;

const SERVICE_NAME: &[&str] = &["service", "service name", "app", "application"];
const HOST_NAME: &[&str] = &["host", "hostname", "node", "server", "machine"];
const ADDRESS: &[&str] = &["address", "ip", "ip address", "addr", "fqdn"];
const USER: &[&str] = &["user", "ssh user", "login"];
const ROLE: &[&str] = &["role", "roles", "purpose", "group", "groups"];
const NOTES: &[&str] = &["notes", "note", "description", "comment", "comments"];
const URL: &[&str] = &["url", "address", "link", "web", "web ui"];
const HEALTH: &[&str] = &[
    "health",
    "health url",
    "health check",
    "healthcheck",
    "health endpoint",
    "endpoint",
];
const EXPECT: &[&str] = &["expect", "expected", "expected status"];
const PORTS: &[&str] = &["port", "ports"];
const CONTAINER: &[&str] = &["container", "container name"];
const IMAGE: &[&str] = &["image"];

/// What a section heading says its tables hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Kind,
    Capabilities,
    Rules,
    Hosts,
    Services,
    Other,
}

fn section_of(heading: &str) -> Section {
    let h = heading.to_ascii_lowercase();
    if h.trim() == "kind" {
        Section::Kind
    } else if h.contains("capabilit") {
        Section::Capabilities
    } else if h.contains("rule") {
        Section::Rules
    } else if h.contains("service")
        || h.contains("inventory")
        || h.contains("apps")
        || h.contains("application")
    {
        Section::Services
    } else if h.contains("host") || h.contains("machine") || h.contains("node") {
        Section::Hosts
    } else {
        Section::Other
    }
}

/// Reads a manifest; `path` names it in problems.
pub fn parse(text: &str, path: &str) -> (Manifest, Vec<Problem>) {
    let mut reader = Reader {
        path,
        manifest: Manifest::default(),
        problems: Vec::new(),
        section: Section::Other,
        heading: String::new(),
    };
    for block in markdown::blocks(text) {
        reader.block(block);
    }
    (reader.manifest, reader.problems)
}

struct Reader<'a> {
    path: &'a str,
    manifest: Manifest,
    problems: Vec<Problem>,
    section: Section,
    heading: String,
}

impl Reader<'_> {
    fn problem(&mut self, line: u32, message: String) {
        self.problems
            .push(Problem::new(self.path, Some(line), message));
    }

    fn block(&mut self, block: Block) {
        match block {
            Block::Heading { level, text, .. } => {
                if level == 1 && self.manifest.title.is_none() {
                    self.manifest.title = Some(text.clone());
                }
                self.section = section_of(&text);
                self.heading = text;
            }
            Block::Paragraph { text, .. } => {
                if self.section == Section::Kind && self.manifest.kind.is_none() {
                    self.manifest.kind = Some(markdown::plain(&text));
                }
            }
            Block::Bullet { text, line } => match self.section {
                Section::Capabilities => self.manifest.capabilities.push(capability(&text, line)),
                Section::Rules => self.manifest.rules.push(text),
                _ => {}
            },
            Block::Table { rows } => self.table(rows),
        }
    }

    fn table(&mut self, rows: Vec<Row>) {
        let mut rows = rows.into_iter();
        let Some(header) = rows.next() else { return };
        let columns: Vec<String> = header
            .cells
            .iter()
            .map(|c| markdown::plain(c).to_ascii_lowercase())
            .collect();
        let has = |names: &[&str]| columns.iter().any(|c| names.contains(&c.as_str()));
        let named = columns.iter().any(|c| c == "name");
        let kind = if has(SERVICE_NAME) || (named && self.section == Section::Services) {
            Section::Services
        } else if has(HOST_NAME) || (named && self.section == Section::Hosts) {
            Section::Hosts
        } else if matches!(self.section, Section::Services | Section::Hosts) {
            let what = if self.section == Section::Hosts {
                "Host"
            } else {
                "Service"
            };
            self.problem(
                header.line,
                format!(
                    "table under `{}` has no name column, so it is not read; name its first column `{what}`",
                    self.heading
                ),
            );
            return;
        } else {
            return;
        };
        let rows: Vec<Row> = rows.collect();
        match rows.first() {
            Some(sep) if markdown::is_separator(sep) => {}
            _ => {
                self.problem(
                    header.line,
                    "table has no separator row (`|---|---|`) under its header, so it is not read; add one"
                        .to_owned(),
                );
                return;
            }
        }
        for row in rows.into_iter().skip(1) {
            if row.cells.len() != columns.len() {
                self.problem(
                    row.line,
                    format!(
                        "table row has {} cells but the header has {}, so it is skipped; check for a missing or extra `|`",
                        row.cells.len(),
                        columns.len()
                    ),
                );
                continue;
            }
            let cells = Cells {
                columns: &columns,
                row: &row,
            };
            match kind {
                Section::Services => self.service_row(&cells),
                _ => self.host_row(&cells),
            }
        }
    }

    fn host_row(&mut self, cells: &Cells) {
        let line = cells.row.line;
        let Some(name) = cells.text(HOST_NAME).or_else(|| cells.text(&["name"])) else {
            self.problem(
                line,
                "host row has no name; fill in its first column".to_owned(),
            );
            return;
        };
        self.manifest.hosts.push(Host {
            name,
            address: cells.text(ADDRESS),
            user: cells.text(USER),
            role: cells.text(ROLE),
            notes: cells.text(NOTES),
            line,
        });
    }

    fn service_row(&mut self, cells: &Cells) {
        let line = cells.row.line;
        let Some(name) = cells.text(SERVICE_NAME).or_else(|| cells.text(&["name"])) else {
            self.problem(
                line,
                "service row has no name; fill in its service column".to_owned(),
            );
            return;
        };
        let url = cells.url(URL);
        let health = cells.url(HEALTH);
        let health_url = match health_url(url.as_deref(), health.as_deref()) {
            Ok(h) => h,
            Err(message) => {
                self.problem(line, format!("service `{name}`: {message}"));
                None
            }
        };
        let expected_status = match cells.text(EXPECT) {
            None => None,
            Some(text) => match text.parse::<u16>() {
                Ok(code) if (100..=599).contains(&code) => Some(code),
                _ => {
                    self.problem(
                        line,
                        format!("service `{name}`: expected status `{text}` is not an HTTP status code; write e.g. 200"),
                    );
                    None
                }
            },
        };
        self.manifest.services.push(ManifestService {
            name,
            host: cells.text(HOST_NAME),
            url,
            health_url,
            expected_status,
            ports: cells.text(PORTS).map(|p| ports(&p)).unwrap_or_default(),
            container: cells.text(CONTAINER),
            image: cells.text(IMAGE),
            notes: cells.text(NOTES),
            line,
        });
    }
}

/// A row's cells by column name.
struct Cells<'a> {
    columns: &'a [String],
    row: &'a Row,
}

impl Cells<'_> {
    fn raw(&self, names: &[&str]) -> Option<&str> {
        let index = self
            .columns
            .iter()
            .position(|c| names.contains(&c.as_str()))?;
        let cell = self.row.cells.get(index)?.as_str();
        (!is_blank(cell)).then_some(cell)
    }
    fn text(&self, names: &[&str]) -> Option<String> {
        self.raw(names)
            .map(markdown::plain)
            .filter(|t| !is_blank(t))
    }
    fn url(&self, names: &[&str]) -> Option<String> {
        self.raw(names)
            .map(markdown::url_in)
            .filter(|t| !is_blank(t))
    }
}

/// Empty, or a placeholder such as `-` or `n/a`.
fn is_blank(cell: &str) -> bool {
    matches!(
        cell.trim().to_ascii_lowercase().as_str(),
        "" | "-" | "--" | "—" | "–" | "n/a" | "na" | "none"
    )
}

/// The URL to probe: the health cell when absolute, the health path joined to
/// the URL cell, or the URL cell itself when it is HTTP(S) and no health is given.
fn health_url(url: Option<&str>, health: Option<&str>) -> Result<Option<String>, String> {
    match health {
        Some(h) if h.contains("://") => check_url(h).map(Some),
        Some(h) if h.starts_with('/') => match url.filter(|u| u.contains("://")) {
            Some(base) => check_url(&format!("{}{h}", base.trim_end_matches('/'))).map(Some),
            None => Err(format!(
                "health path `{h}` has no base URL; add a `URL` column with e.g. `https://host:port`, or write the full URL"
            )),
        },
        Some(_) => Ok(None),
        None => Ok(url
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .and_then(|u| check_url(u).ok())),
    }
}

fn check_url(url: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not a URL"))?;
    let scheme = scheme.to_ascii_lowercase();
    if !known_scheme(&scheme) {
        return Err(format!(
            "health URL `{url}` has unknown scheme `{scheme}://`; use http:// or https://"
        ));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(format!(
            "health URL `{url}` is not a valid URL; write e.g. `https://host:port/health`"
        ));
    }
    Ok(url.to_owned())
}

/// Port numbers in a cell: `8096`, `8096, 8920`, `8080:80`, `53/udp`.
fn ports(cell: &str) -> Vec<u16> {
    let mut out: Vec<u16> = cell
        .split([',', ' ', ';'])
        .filter_map(|token| {
            let token = token.split(':').next()?.split('/').next()?;
            token.trim().parse().ok()
        })
        .collect();
    out.dedup();
    out
}

/// `**name**: description`, `**name** - description` or `name: description`.
fn capability(text: &str, line: u32) -> Capability {
    let (name, description) = match text.strip_prefix("**").and_then(|r| r.split_once("**")) {
        Some((name, rest)) => (name.to_owned(), rest),
        None => match text.split_once(':') {
            Some((name, rest)) if !name.trim().is_empty() => (name.to_owned(), rest),
            _ => (text.to_owned(), ""),
        },
    };
    let description = description
        .trim_start_matches([':', '-', '—', '–', ' '])
        .trim()
        .to_owned();
    Capability {
        name: markdown::plain(name.trim_end_matches(':')),
        min_tier: tier_mention(&description),
        description,
        line,
    }
}

/// The first `Tier N` (N in 1..=3) a text mentions.
pub fn tier_mention(text: &str) -> Option<u8> {
    let lower = text.to_ascii_lowercase();
    lower.match_indices("tier").find_map(|(at, _)| {
        let rest = lower[at + 4..].trim_start();
        let digit = rest.chars().next()?.to_digit(10)?;
        u8::try_from(digit).ok().filter(|d| (1..=3).contains(d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "\
# Claude Ops Manifest

Home lab via Ansible.

## Kind

Ansible infrastructure

## Capabilities

- **service-discovery**: Inventory at `inventory/hosts.ini`.
- **redeployment**: Playbooks in `playbooks/`
  (Tier 3 only).

## Hosts

| Host | Address | User | Role |
|------|---------|------|------|
| nas01 | 192.0.2.10 | root | storage |
| pi01 | 192.0.2.20 | pi | - |

## Services

| Service | Host | URL | Health | Expect | Ports |
|---------|------|-----|--------|--------|-------|
| Jellyfin | nas01 | https://jellyfin.lan | /health | 200 | 8096, 8920 |
| `pihole` | pi01 | [admin](http://pi01.lan/admin) | - | | 53/udp, 80 |
| grafana | nas01 | grafana.lan | | | 3000 |

## Rules

- Never modify any files in this repo
- Always use `--limit`
";

    #[test]
    fn reads_every_section() {
        let (m, problems) = parse(MANIFEST, "r/CLAUDE-OPS.md");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(m.title.as_deref(), Some("Claude Ops Manifest"));
        assert_eq!(m.kind.as_deref(), Some("Ansible infrastructure"));
        assert_eq!(m.capabilities.len(), 2);
        assert_eq!(m.capabilities[1].name, "redeployment");
        assert_eq!(m.capabilities[1].min_tier, Some(3));
        assert_eq!(m.capabilities[1].line, 12);
        assert_eq!(
            m.rules,
            [
                "Never modify any files in this repo",
                "Always use `--limit`"
            ]
        );
        assert_eq!(m.hosts.len(), 2);
        assert_eq!(m.hosts[1].user.as_deref(), Some("pi"));
        assert_eq!(m.hosts[1].role, None);
        assert_eq!(m.hosts[0].line, 19);
        let s = &m.services;
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[0].health_url.as_deref(),
            Some("https://jellyfin.lan/health")
        );
        assert_eq!(s[0].expected_status, Some(200));
        assert_eq!(s[0].ports, [8096, 8920]);
        assert_eq!(s[1].name, "pihole");
        assert_eq!(s[1].health_url.as_deref(), Some("http://pi01.lan/admin"));
        assert_eq!(s[1].ports, [53, 80]);
        assert_eq!(s[2].health_url, None);
        assert_eq!(s[2].url.as_deref(), Some("grafana.lan"));
    }

    #[test]
    fn unreadable_tables_are_problems() {
        let text = "\
## Services

| Service | Health |
| web | https://web.lan |

| Service | Health | Expect |
|---|---|---|
| api | https://api.lan | 200 | extra |
| db | not a url | abc |
| ftp | ftp://files.lan | |
| x | /health | |

## Hosts

| Address | User |
|---|---|
| 192.0.2.1 | root |
";
        let (m, problems) = parse(text, "m.md");
        let got: Vec<(Option<u32>, &str)> = problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(got.len(), 6, "{got:?}");
        assert_eq!(got[0].0, Some(3));
        assert!(got[0].1.contains("no separator row"));
        assert_eq!(got[1].0, Some(8));
        assert!(got[1].1.contains("has 4 cells but the header has 3"));
        assert_eq!(got[2].0, Some(9));
        assert!(got[2].1.contains("expected status `abc`"));
        assert_eq!(got[3].0, Some(10));
        assert!(got[3].1.contains("unknown scheme `ftp://`"));
        assert_eq!(got[4].0, Some(11));
        assert!(got[4].1.contains("no base URL"));
        assert_eq!(got[5].0, Some(15));
        assert!(got[5].1.contains("no name column"));
        let names: Vec<&str> = m.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["db", "ftp", "x"]);
    }

    #[test]
    fn tier_mentions() {
        assert_eq!(tier_mention("Only Opus (Tier 3) should run"), Some(3));
        assert_eq!(tier_mention("tier 2+"), Some(2));
        assert_eq!(tier_mention("tiered storage"), None);
        assert_eq!(tier_mention("Tier 9"), None);
    }
}
