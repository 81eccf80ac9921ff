//! The union of what manifests, compose files and containers say about services.
//!
//! What runs here (compose services, containers) is keyed by name and Compose
//! project. A manifest row joins the one local service of its name whose host
//! fits (the same host, or either side without one); otherwise it stands alone.

use crate::compose::ComposeService;
use crate::model::{ContainerInfo, ContainerRef, ManifestService, Origin, Port, Service};
use crate::probes::slug;

/// Builds the service list.
#[derive(Debug, Default)]
pub struct Services {
    list: Vec<Service>,
    local_host: Option<String>,
}

impl Services {
    pub fn new(local_host: Option<String>) -> Services {
        Services {
            list: Vec::new(),
            local_host,
        }
    }

    /// The local service `name` in `project`, created when new.
    fn local(&mut self, name: &str, project: Option<&str>) -> &mut Service {
        let found = self.list.iter().position(|s| {
            same_name(&s.name, name)
                && s.project.as_deref() == project
                && s.host == self.local_host
                && !is_manifest_only(s)
        });
        let index = found.unwrap_or_else(|| {
            self.list.push(Service {
                name: name.to_owned(),
                host: self.local_host.clone(),
                project: project.map(str::to_owned),
                ..Service::default()
            });
            self.list.len() - 1
        });
        &mut self.list[index]
    }

    /// A compose service, under the name it goes by (`claudeops.service` or its key).
    pub fn add_compose(
        &mut self,
        path: &str,
        project: &str,
        svc: &ComposeService,
        name: &str,
        probes_disabled: bool,
    ) {
        let s = self.local(name, Some(project));
        s.sources.push(Origin::Compose {
            path: path.to_owned(),
            line: svc.line,
        });
        if s.image.is_none() {
            s.image.clone_from(&svc.image);
        }
        for port in &svc.ports {
            add_port(&mut s.ports, port.clone());
        }
        if let Some(test) = &svc.healthcheck {
            s.healthcheck = true;
            if s.healthcheck_test.is_none() {
                s.healthcheck_test.clone_from(test);
            }
        }
        s.depends_on.extend(svc.depends_on.iter().cloned());
        s.probes_disabled |= probes_disabled;
    }

    /// A container, under the name and project it goes by.
    pub fn add_container(
        &mut self,
        c: &ContainerInfo,
        name: &str,
        project: Option<&str>,
        probes_disabled: bool,
    ) {
        let s = self.local(name, project);
        s.sources.push(Origin::Container {
            name: c.plain_name().to_owned(),
        });
        if !c.image.is_empty() {
            s.image = Some(c.image.clone());
        }
        for p in &c.ports {
            add_port(
                &mut s.ports,
                Port {
                    published: p.public,
                    target: Some(p.private),
                    protocol: p.protocol.to_ascii_lowercase(),
                },
            );
        }
        s.healthcheck |= c.has_healthcheck;
        s.containers.push(ContainerRef {
            name: c.plain_name().to_owned(),
            id: c.id.clone(),
            state: c.state.clone(),
        });
        s.probes_disabled |= probes_disabled;
    }

    /// A manifest row.
    pub fn add_manifest(&mut self, row: &ManifestService, path: &str) {
        let host = row.host.as_deref();
        let fits: Vec<usize> = self
            .list
            .iter()
            .enumerate()
            .filter(|(_, s)| same_name(&s.name, &row.name))
            .filter(|(_, s)| match (s.host.as_deref(), host) {
                (Some(a), Some(b)) => same_host(a, b),
                _ => true,
            })
            .map(|(i, _)| i)
            .collect();
        let index = match fits[..] {
            [one] => one,
            _ => {
                self.list.push(Service {
                    name: row.name.clone(),
                    host: row.host.clone(),
                    ..Service::default()
                });
                self.list.len() - 1
            }
        };
        let s = &mut self.list[index];
        s.sources.push(Origin::Manifest {
            path: path.to_owned(),
            line: row.line,
        });
        if s.host.is_none() {
            s.host.clone_from(&row.host);
        }
        if s.url.is_none() {
            s.url = row.url.clone().or_else(|| row.health_url.clone());
        }
        if s.image.is_none() {
            s.image.clone_from(&row.image);
        }
        for port in &row.ports {
            if !s.ports.iter().any(|p| p.published == Some(*port)) {
                s.ports.push(Port {
                    published: Some(*port),
                    target: None,
                    protocol: "tcp".to_owned(),
                });
            }
        }
    }

    /// The services in a fixed order, each list inside sorted.
    pub fn finish(mut self) -> Vec<Service> {
        for s in &mut self.list {
            s.sources.sort();
            s.sources.dedup();
            s.ports.sort();
            s.ports.dedup();
            s.depends_on.sort();
            s.depends_on.dedup();
            s.containers.sort();
            s.containers.dedup();
        }
        self.list.sort_by(|a, b| {
            (a.name.to_ascii_lowercase(), &a.host, &a.project).cmp(&(
                b.name.to_ascii_lowercase(),
                &b.host,
                &b.project,
            ))
        });
        self.list
    }
}

/// Only manifest rows said it: not something running here.
fn is_manifest_only(s: &Service) -> bool {
    s.sources
        .iter()
        .all(|o| matches!(o, Origin::Manifest { .. }))
        && !s.sources.is_empty()
}

/// `Home Assistant`, `home-assistant` and `home_assistant` name one service.
pub fn same_name(a: &str, b: &str) -> bool {
    slug(a) == slug(b)
}

/// The name of the service `name` refers to, as the service list spells it
/// (an exact match first, then one that differs only in case or punctuation).
pub fn canonical<'a>(services: &'a [Service], name: &'a str) -> &'a str {
    if services.iter().any(|s| s.name == name) {
        return name;
    }
    services
        .iter()
        .find(|s| same_name(&s.name, name))
        .map_or(name, |s| s.name.as_str())
}

/// `nas01` and `nas01.home.lan` name the same host.
pub fn same_host(a: &str, b: &str) -> bool {
    let short = |h: &str| h.split('.').next().unwrap_or(h).to_ascii_lowercase();
    a.eq_ignore_ascii_case(b) || short(a) == short(b)
}

/// Adds a port, completing one that only knew its published side.
fn add_port(ports: &mut Vec<Port>, port: Port) {
    if ports.contains(&port) {
        return;
    }
    if let Some(known) = ports.iter_mut().find(|p| {
        p.published.is_some()
            && p.published == port.published
            && p.protocol == port.protocol
            && p.target.is_none()
    }) {
        known.target = port.target;
        return;
    }
    ports.push(port);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, host: Option<&str>) -> ManifestService {
        ManifestService {
            name: name.into(),
            host: host.map(Into::into),
            url: None,
            health_url: None,
            expected_status: None,
            ports: vec![8096],
            container: None,
            image: None,
            notes: None,
            line: 3,
        }
    }

    #[test]
    fn manifest_rows_join_what_runs_here() {
        let mut s = Services::new(Some("nas01".into()));
        let svc = ComposeService {
            name: "jellyfin".into(),
            line: 4,
            ports: vec![Port {
                published: Some(8096),
                target: Some(8096),
                protocol: "tcp".into(),
            }],
            ..ComposeService::default()
        };
        s.add_compose("r/compose.yml", "media", &svc, "jellyfin", false);
        s.add_manifest(&row("Jellyfin", Some("nas01.home.lan")), "r/CLAUDE-OPS.md");
        s.add_manifest(&row("jellyfin", Some("pi01")), "r/CLAUDE-OPS.md");
        let list = s.finish();
        assert_eq!(list.len(), 2, "{list:?}");
        assert_eq!(list[0].host.as_deref(), Some("nas01"));
        assert_eq!(list[0].sources.len(), 2);
        assert_eq!(list[0].ports.len(), 1);
        assert_eq!(list[1].host.as_deref(), Some("pi01"));
    }
}
