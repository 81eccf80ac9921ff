//! One discovery pass: read every repo, then join what the files say with the
//! containers that run, and derive the probes.

use std::collections::BTreeMap;
use std::path::Path;

use claudeops_core::probe::{ProbeSpec, Source};

use crate::compose::{self, ComposeDoc, ComposeService};
use crate::files;
use crate::labels::{self, Place};
use crate::manifest;
use crate::model::{
    ComposeFile, ContainerInfo, Inventory, ManifestService, Problem, Repo, file_source,
};
use crate::probes::{self, ProbeSet};
use crate::services::Services;
use crate::{MANIFEST_FILE, Options, extensions};

/// What the files of all repos say, before it is joined with the containers.
#[derive(Default)]
struct Found {
    repos: Vec<Repo>,
    /// Probes written in `.claude-ops/probes/`.
    written: Vec<ProbeSpec>,
    /// Service rows, with their manifest's path.
    rows: Vec<(ManifestService, String)>,
    /// Compose files, with their path.
    compose: Vec<(ComposeDoc, String)>,
    problems: Vec<Problem>,
}

/// A container a compose service runs as.
struct Claim {
    service: String,
    project: String,
    /// The service or the container opted out of probes.
    off: bool,
}

pub fn run(repos_dir: &Path, containers: &[ContainerInfo], options: &Options) -> Inventory {
    let mut found = Found::default();
    read_repos(repos_dir, options, &mut found);
    let mut probes = ProbeSet::default();
    for spec in std::mem::take(&mut found.written) {
        probes.add_explicit(spec, &mut found.problems);
    }
    let mut services = Services::new(options.host.clone());
    let mut containers: Vec<&ContainerInfo> = containers.iter().collect();
    containers.sort_by(|a, b| a.plain_name().cmp(b.plain_name()));

    // Compose services first: each claims the containers it runs as.
    let mut claimed: BTreeMap<String, Claim> = BTreeMap::new();
    for (doc, path) in &found.compose {
        for svc in &doc.services {
            let running: Vec<&ContainerInfo> = containers
                .iter()
                .copied()
                .filter(|c| runs(doc, svc, c))
                .collect();
            let name = labels::service(&svc.labels).unwrap_or_else(|| svc.name.clone());
            let off = labels::opted_out(&svc.labels)
                || running.iter().any(|c| labels::opted_out(&c.labels));
            services.add_compose(path, &doc.project, svc, &name, off);
            for c in &running {
                claimed
                    .entry(c.plain_name().to_owned())
                    .or_insert_with(|| Claim {
                        service: labels::service(&c.labels).unwrap_or_else(|| name.clone()),
                        project: doc.project.clone(),
                        off,
                    });
            }
            if off || !running.is_empty() {
                continue;
            }
            // Nothing runs: the probes come from the file.
            let source = file_source(path, svc.line);
            let place = Place {
                path: path.clone(),
                line: Some(svc.line),
            };
            let (specs, problems) = labels::probes(&svc.labels, &name, &source, &place);
            found.problems.extend(problems);
            for spec in specs {
                probes.add_explicit(spec, &mut found.problems);
            }
            let container = svc
                .container_name
                .clone()
                .unwrap_or_else(|| format!("{}-{}-1", doc.project, svc.name));
            probes.add_docker(&container, &name, svc.healthcheck.is_some(), source);
        }
    }

    // Then every container, under the service a compose file gave it or its own.
    for c in &containers {
        let (name, project, off) = match claimed.get(c.plain_name()) {
            Some(claim) => (
                claim.service.clone(),
                Some(claim.project.clone()),
                claim.off,
            ),
            None => (
                labels::service(&c.labels)
                    .or_else(|| c.service().map(str::to_owned))
                    .unwrap_or_else(|| c.plain_name().to_owned()),
                c.project().map(str::to_owned),
                labels::opted_out(&c.labels),
            ),
        };
        services.add_container(c, &name, project.as_deref(), off);
        if off {
            continue;
        }
        let source = Source::Container {
            name: c.plain_name().to_owned(),
        };
        let place = Place {
            path: format!("container:{}", c.plain_name()),
            line: None,
        };
        let (specs, problems) = labels::probes(&c.labels, &name, &source, &place);
        found.problems.extend(problems);
        for spec in specs {
            probes.add_explicit(spec, &mut found.problems);
        }
        let healthcheck = c.has_healthcheck || compose_healthcheck(&found.compose, c);
        probes.add_docker(c.plain_name(), &name, healthcheck, source);
    }

    // Manifest rows last: they join what runs here, and their health URLs
    // become probes unless a written probe already covers them.
    for (row, path) in &found.rows {
        services.add_manifest(row, path);
        if let Some(url) = &row.health_url {
            probes.add_derived(probes::http(row, url, file_source(path, row.line)));
        }
    }

    found.problems.sort();
    found.problems.dedup();
    let services = services.finish();
    let mut probes = probes.finish();
    for probe in &mut probes {
        probe.service = crate::services::canonical(&services, &probe.service).to_owned();
    }
    tracing::debug!(
        repos = found.repos.len(),
        services = services.len(),
        probes = probes.len(),
        problems = found.problems.len(),
        "discovery finished"
    );
    Inventory {
        repos: found.repos,
        services,
        probes,
        problems: found.problems,
    }
}

/// `c` is a container of compose service `svc`: by `container_name`, by the
/// Compose labels, or by the names Compose v2 (`PROJECT-SERVICE-1`) and v1
/// (`PROJECT_SERVICE_1`) give.
fn runs(doc: &ComposeDoc, svc: &ComposeService, c: &ContainerInfo) -> bool {
    if let Some(name) = &svc.container_name {
        return c.plain_name() == name;
    }
    if let (Some(project), Some(service)) = (c.project(), c.service()) {
        return project == doc.project && service == svc.name;
    }
    let name = c.plain_name();
    name == format!("{}-{}-1", doc.project, svc.name)
        || name == format!("{}_{}_1", doc.project, svc.name)
}

/// A compose file defines a healthcheck for the service this container runs.
fn compose_healthcheck(compose: &[(ComposeDoc, String)], c: &ContainerInfo) -> bool {
    compose.iter().any(|(doc, _)| {
        doc.services
            .iter()
            .any(|svc| svc.healthcheck.is_some() && runs(doc, svc, c))
    })
}

fn read_repos(repos_dir: &Path, options: &Options, found: &mut Found) {
    let entries = match files::list(repos_dir, true) {
        Ok(entries) => entries,
        Err(e) => {
            found.problems.push(Problem::new(
                repos_dir.display().to_string(),
                None,
                format!("cannot list the repos directory: {e}; mount the repos there or set CLAUDEOPS_REPOS_DIR"),
            ));
            return;
        }
    };
    for entry in entries {
        if entry.is_dir && !entry.name.starts_with('.') {
            read_repo(repos_dir, &entry.name, &entry.path, options, found);
        }
    }
}

fn read_repo(base: &Path, name: &str, dir: &Path, options: &Options, found: &mut Found) {
    let mut repo = Repo {
        name: name.to_owned(),
        path: dir.display().to_string(),
        ..Repo::default()
    };
    let manifest_path = dir.join(MANIFEST_FILE);
    if manifest_path.is_file() {
        repo.has_manifest = true;
        let rel = files::relative(base, &manifest_path);
        match files::read_text(&manifest_path) {
            Ok(text) => {
                let (manifest, problems) = manifest::parse(&text, &rel);
                found.problems.extend(problems);
                found
                    .rows
                    .extend(manifest.services.iter().map(|r| (r.clone(), rel.clone())));
                repo.manifest = Some(manifest);
            }
            Err(e) => found.problems.push(Problem::new(rel, None, e.to_string())),
        }
    }
    let ext_dir = dir.join(".claude-ops");
    if ext_dir.is_dir() {
        let ext = extensions::read(&ext_dir, base);
        repo.extensions = ext.extensions;
        found.written.extend(ext.probes);
        found.problems.extend(ext.problems);
    }
    for path in compose::find(dir, options.compose_depth) {
        let rel = files::relative(base, &path);
        let text = match files::read_text(&path) {
            Ok(text) => text,
            Err(e) => {
                found.problems.push(Problem::new(rel, None, e.to_string()));
                continue;
            }
        };
        let project = path
            .parent()
            .map(compose::default_project)
            .unwrap_or_default();
        let (doc, problems) = compose::parse(&text, &rel, &project);
        found.problems.extend(problems);
        repo.compose_files.push(ComposeFile {
            path: files::relative(dir, &path),
            project: doc.project.clone(),
            services: doc.services.iter().map(|s| s.name.clone()).collect(),
        });
        found.compose.push((doc, rel));
    }
    found.repos.push(repo);
}
