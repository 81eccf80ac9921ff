//! Redeploying a service of an Ansible repo: one playbook, always with
//! `--limit`, never against the whole inventory.
//!
//! The rules, all relative to the Ansible directory (the repo, or its `ansible/`
//! folder when the repo root has no Ansible files):
//!
//! - **Inventory**: the `inventory` setting of `[defaults]` in `ansible.cfg`
//!   (comma-separated paths inside the repo), else the first of [`INVENTORIES`].
//! - **Limit** (which hosts): the service's own name when the inventory has a
//!   group or host of that name; else the hosts whose `claudeops_services` host
//!   variable (a list, group variables included) names the service. Neither:
//!   this repo does not deploy the service. `all` and `ungrouped` are refused.
//! - **Playbook**: one named after the service (`playbooks/SERVICE.yml`,
//!   `SERVICE.yml`, `.yaml` too), else the site playbook (`site.yml`,
//!   `playbooks/site.yml`, `playbook.yml`); it must have a play for at least one
//!   host under the limit (`--list-hosts`).
//!
//! The run is `ansible-playbook -i INVENTORY PLAYBOOK --limit LIMIT` in the
//! Ansible directory, with an allow-listed environment and Ansible's scratch
//! files (local temp, retry files, fact cache, log, control sockets) pointed at a
//! private temp dir, since the repo is mounted read-only. Verification: a clean
//! `PLAY RECAP` (no failed or unreachable host), and, when the service has
//! containers on this host, that they are running and healthy again.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::path::{Component, Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use super::docker::{Checked, clip, failure};
use super::process::{self, Env, ScratchDir};
use super::redeploy::{DEPLOY_LIMIT, Miss, Programs, Repo, first_existing, look_up};

/// Inventory paths looked for when `ansible.cfg` names none, in this order. (An
/// `inventories/` folder usually holds one inventory per environment: which one
/// is meant must be said in `ansible.cfg`.)
pub const INVENTORIES: [&str; 8] = [
    "inventory",
    "inventory.yml",
    "inventory.yaml",
    "inventory.ini",
    "hosts",
    "hosts.yml",
    "hosts.yaml",
    "hosts.ini",
];

/// Site playbooks, used when no playbook is named after the service.
pub const SITE_PLAYBOOKS: [&str; 6] = [
    "site.yml",
    "site.yaml",
    "playbooks/site.yml",
    "playbooks/site.yaml",
    "playbook.yml",
    "playbook.yaml",
];

/// The host variable that lists the services a host runs.
pub const SERVICES_VAR: &str = "claudeops_services";

/// Variables of the worker's environment an Ansible run may see (beyond
/// `process::BASE_ENV`): how to reach and unlock the hosts, nothing else.
const PASSED_ENV: &[&str] = &[
    "ANSIBLE_VAULT_PASSWORD_FILE",
    "ANSIBLE_PRIVATE_KEY_FILE",
    "ANSIBLE_REMOTE_USER",
    "ANSIBLE_BECOME_PASSWORD_FILE",
];

/// A resolved Ansible redeployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub repo: String,
    /// The Ansible directory: where it runs.
    pub root: PathBuf,
    pub service: String,
    /// Inventory paths, relative to `root`.
    pub inventory: Vec<String>,
    /// The playbook, relative to `root`.
    pub playbook: String,
    /// The `--limit` pattern.
    pub limit: String,
    /// The hosts the playbook would run on (`--list-hosts`).
    pub hosts: Vec<String>,
}

impl Plan {
    /// `-i INVENTORY... PLAYBOOK --limit LIMIT`.
    pub fn args(&self) -> Vec<OsString> {
        let mut args = inventory_args(&self.inventory);
        args.push(self.playbook.clone().into());
        args.push("--limit".into());
        args.push(self.limit.clone().into());
        args
    }

    pub fn command_line(&self, program: &Path) -> String {
        process::command_line(program, &self.args())
    }
}

fn inventory_args(inventory: &[String]) -> Vec<OsString> {
    inventory
        .iter()
        .flat_map(|path| [OsString::from("-i"), OsString::from(path)])
        .collect()
}

/// Resolves the plan for `service` in the Ansible directory `root` of `repo`.
pub async fn plan(
    programs: &Programs,
    repo: &Repo,
    root: &Path,
    service: &str,
) -> Result<Plan, Miss> {
    if matches!(service, "all" | "ungrouped") {
        return Err(Miss::NotHere(format!(
            "`{service}` names a whole Ansible inventory, not a service"
        )));
    }
    let inventory =
        inventory(root).map_err(|why| Miss::Broken(format!("repo {}: {why}", repo.name)))?;
    let scratch = scratch().map_err(Miss::Broken)?;
    let env = environment(&scratch).map_err(Miss::Broken)?;
    let mut args = inventory_args(&inventory);
    args.push("--list".into());
    let out = lookup(&programs.ansible_inventory, &args, root, &env, &repo.name).await?;
    let listed: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        Miss::Broken(format!(
            "repo {}: ansible-inventory printed something that is not JSON: {e}",
            repo.name
        ))
    })?;
    let Some(limit) = limit(&listed, service).map_err(Miss::Broken)? else {
        return Err(Miss::NotHere(format!(
            "the inventory of repo {} ({}) has no group or host named `{service}` and no host lists it in `{SERVICES_VAR}`",
            repo.name,
            inventory.join(", ")
        )));
    };
    let Some(playbook) = playbook(root, service) else {
        return Err(Miss::Broken(format!(
            "repo {} has hosts for `{service}` but no playbook for it: looked for playbooks/{service}.yml, {service}.yml and {}",
            repo.name,
            SITE_PLAYBOOKS.join(", ")
        )));
    };
    let mut plan = Plan {
        repo: repo.name.clone(),
        root: root.to_owned(),
        service: service.to_owned(),
        inventory,
        playbook,
        limit,
        hosts: Vec::new(),
    };
    let mut args = plan.args();
    args.push("--list-hosts".into());
    let out = lookup(&programs.ansible_playbook, &args, root, &env, &repo.name).await?;
    plan.hosts = listed_hosts(&String::from_utf8_lossy(&out.stdout));
    if plan.hosts.is_empty() {
        return Err(Miss::Broken(format!(
            "playbook {} in repo {} has no play for the hosts of `{service}` (--limit {})",
            plan.playbook, repo.name, plan.limit
        )));
    }
    Ok(plan)
}

/// Runs the playbook, then verifies.
pub async fn run(programs: &Programs, plan: &Plan, within: Duration) -> Checked {
    let failed = |text: String| Checked { ok: false, text };
    let scratch = match scratch() {
        Ok(scratch) => scratch,
        Err(why) => return failed(why),
    };
    let env = match environment(&scratch) {
        Ok(env) => env,
        Err(why) => return failed(why),
    };
    let program = &programs.ansible_playbook;
    let out = process::run(program, &plan.args(), Some(&plan.root), &env, DEPLOY_LIMIT).await;
    let out = match out {
        Ok(out) => out,
        Err(error) => {
            return failed(format!(
                "`{}` did not run: {error}",
                plan.command_line(program)
            ));
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let recap = recap(&stdout);
    let clean = recap.iter().all(HostRecap::clean);
    if !out.status.success() || !clean || recap.is_empty() {
        let mut text = failure("ansible-playbook", &out);
        if !recap.is_empty() {
            text = format!(
                "ansible-playbook ended with {}; PLAY RECAP: {}",
                exit(&out),
                summary(&recap)
            );
        }
        let errors = task_errors(&stdout);
        if !errors.is_empty() {
            text.push_str(&format!("; {errors}"));
        }
        return failed(text);
    }
    let ran = format!(
        "playbook {} ran cleanly with --limit {} (PLAY RECAP: {})",
        plan.playbook,
        plan.limit,
        summary(&recap)
    );
    let containers = programs.docker.service_containers(&plan.service).await;
    match containers {
        Ok(names) if names.is_empty() => Checked {
            ok: true,
            text: format!(
                "{ran}; service {} has no container on this host to check",
                plan.service
            ),
        },
        Ok(names) => {
            let ready = programs.docker.wait_ready(&names, within).await;
            Checked {
                ok: ready.ok,
                text: format!("{ran}; its containers on this host: {}", ready.text),
            }
        }
        Err(error) => Checked {
            ok: true,
            text: format!("{ran}; its containers on this host could not be looked at: {error}"),
        },
    }
}

/// A read-only Ansible look-up in `root`.
async fn lookup(
    program: &Path,
    args: &[OsString],
    root: &Path,
    env: &Env,
    repo: &str,
) -> Result<Output, Miss> {
    let cannot = format!("repo {repo}'s Ansible playbooks cannot run");
    look_up(program, args, root, env, &format!("repo {repo}"), &cannot).await
}

fn scratch() -> Result<ScratchDir, String> {
    ScratchDir::new("claudeops-ansible")
        .map_err(|e| format!("cannot make a private temp dir for Ansible: {e}"))
}

/// The environment of every Ansible command: the allow-list, and every file
/// Ansible writes on this host kept out of the (read-only) repo.
fn environment(scratch: &ScratchDir) -> Result<Env, String> {
    let dir = |name: &str| {
        scratch
            .sub(name)
            .map(PathBuf::into_os_string)
            .map_err(|e| format!("cannot make a private temp dir for Ansible: {e}"))
    };
    let local = dir("local")?;
    let control = dir("cp")?;
    let persistent = dir("pc")?;
    let log = scratch.path().join("ansible.log").into_os_string();
    let set: [(&str, &OsStr); 11] = [
        ("ANSIBLE_LOCAL_TEMP", &local),
        ("ANSIBLE_SSH_CONTROL_PATH_DIR", &control),
        ("ANSIBLE_PERSISTENT_CONTROL_PATH_DIR", &persistent),
        ("ANSIBLE_LOG_PATH", &log),
        ("ANSIBLE_RETRY_FILES_ENABLED", OsStr::new("False")),
        ("ANSIBLE_CACHE_PLUGIN", OsStr::new("memory")),
        ("ANSIBLE_STDOUT_CALLBACK", OsStr::new("default")),
        ("ANSIBLE_NOCOLOR", OsStr::new("True")),
        ("ANSIBLE_FORCE_COLOR", OsStr::new("False")),
        ("ANSIBLE_DISPLAY_ARGS_TO_STDOUT", OsStr::new("False")),
        ("PYTHONDONTWRITEBYTECODE", OsStr::new("1")),
    ];
    Ok(Env::allow_listed(PASSED_ENV, &set))
}

/// The inventory paths (relative to `root`) by the rule in the module docs.
pub fn inventory(root: &Path) -> Result<Vec<String>, String> {
    if let Ok(text) = std::fs::read_to_string(root.join("ansible.cfg"))
        && let Some(value) = ini_value(&text, "defaults", "inventory")
    {
        let paths: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        for path in &paths {
            let inside = Path::new(path)
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
            if !inside {
                return Err(format!(
                    "ansible.cfg names inventory {path:?}, which is not a path inside the repo"
                ));
            }
            if !root.join(path).exists() {
                return Err(format!(
                    "ansible.cfg names inventory {path:?}, which does not exist"
                ));
            }
        }
        if !paths.is_empty() {
            return Ok(paths);
        }
    }
    first_existing(root, &INVENTORIES)
        .map(|path| vec![path])
        .ok_or_else(|| {
            format!(
                "it has Ansible files but no inventory: set `inventory` in ansible.cfg or add one of {}",
                INVENTORIES.join(", ")
            )
        })
}

/// The value of `key` in `[section]` of an INI file (`key = value` or `key: value`).
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with(['#', ';']) || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            name.trim().clone_into(&mut current);
            continue;
        }
        if current != section {
            continue;
        }
        let Some((k, v)) = line.split_once(['=', ':']) else {
            continue;
        };
        if k.trim() == key {
            let value = v.split(" ;").next().unwrap_or_default();
            let value = value.split(" #").next().unwrap_or_default().trim();
            return Some(value.to_owned());
        }
    }
    None
}

/// The `--limit` for `service` from `ansible-inventory --list`'s JSON, by the
/// rule in the module docs. `Ok(None)`: the inventory does not know the service.
pub fn limit(listed: &Value, service: &str) -> Result<Option<String>, String> {
    let Some(groups) = listed.as_object() else {
        return Err("ansible-inventory --list did not print an object".to_owned());
    };
    let hostvars = listed["_meta"]["hostvars"].as_object();
    let is_group = groups.contains_key(service) && service != "_meta";
    let is_host = hostvars.is_some_and(|h| h.contains_key(service))
        || groups
            .values()
            .filter_map(|g| g["hosts"].as_array())
            .flatten()
            .any(|h| h.as_str() == Some(service));
    if is_group || is_host {
        return Ok(Some(service.to_owned()));
    }
    let runs_it = |vars: &Value| match &vars[SERVICES_VAR] {
        Value::Array(list) => list.iter().any(|s| s.as_str() == Some(service)),
        Value::String(one) => one == service,
        _ => false,
    };
    let hosts: BTreeSet<&str> = hostvars
        .into_iter()
        .flatten()
        .filter(|(_, vars)| runs_it(vars))
        .map(|(host, _)| host.as_str())
        .collect();
    if hosts.is_empty() {
        return Ok(None);
    }
    if let Some(odd) = hosts.iter().find(|h| !plain_host(h)) {
        return Err(format!(
            "host {odd:?} lists `{service}` in `{SERVICES_VAR}`, but its name cannot be used in --limit"
        ));
    }
    Ok(Some(hosts.into_iter().collect::<Vec<_>>().join(",")))
}

/// A host name that means only itself in a host pattern.
fn plain_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && host.starts_with(|c: char| c.is_ascii_alphanumeric())
}

/// The playbook for `service` (relative to `root`) by the rule in the module docs.
pub fn playbook(root: &Path, service: &str) -> Option<String> {
    let named = [
        format!("playbooks/{service}.yml"),
        format!("playbooks/{service}.yaml"),
        format!("{service}.yml"),
        format!("{service}.yaml"),
    ];
    first_existing(root, &named).or_else(|| first_existing(root, &SITE_PLAYBOOKS))
}

/// The hosts `ansible-playbook --list-hosts` printed, sorted, once each.
pub fn listed_hosts(stdout: &str) -> Vec<String> {
    let mut hosts = BTreeSet::new();
    let mut in_list = false;
    for line in stdout.lines().map(str::trim) {
        if line.starts_with("hosts (") && line.ends_with("):") {
            in_list = true;
        } else if line.is_empty() || line.starts_with("play #") {
            in_list = false;
        } else if in_list {
            hosts.insert(line.to_owned());
        }
    }
    hosts.into_iter().collect()
}

/// One host's line of the `PLAY RECAP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRecap {
    pub host: String,
    pub ok: u64,
    pub changed: u64,
    pub unreachable: u64,
    pub failed: u64,
}

impl HostRecap {
    pub fn clean(&self) -> bool {
        self.unreachable == 0 && self.failed == 0
    }
}

/// The `PLAY RECAP` lines of a run's output.
pub fn recap(stdout: &str) -> Vec<HostRecap> {
    let Some((_, after)) = stdout.split_once("PLAY RECAP") else {
        return Vec::new();
    };
    after
        .lines()
        .filter_map(|line| {
            let (host, counts) = line.split_once(" : ")?;
            let count = |key: &str| {
                counts
                    .split_whitespace()
                    .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
                    .unwrap_or(0)
            };
            Some(HostRecap {
                host: host.trim().to_owned(),
                ok: count("ok"),
                changed: count("changed"),
                unreachable: count("unreachable"),
                failed: count("failed"),
            })
        })
        .collect()
}

fn summary(recap: &[HostRecap]) -> String {
    recap
        .iter()
        .map(|r| {
            format!(
                "{} ok={} changed={} unreachable={} failed={}",
                r.host, r.ok, r.changed, r.unreachable, r.failed
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The lines in which Ansible reported a failed or unreachable task.
fn task_errors(stdout: &str) -> String {
    let lines: Vec<String> = stdout
        .lines()
        .filter(|l| l.starts_with("fatal: ") || l.starts_with("failed: "))
        .take(5)
        .map(|l| clip(l, 400))
        .collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!("task errors: {}", lines.join(" | "))
    }
}

fn exit(out: &Output) -> String {
    out.status
        .code()
        .map_or_else(|| "a signal".to_owned(), |c| format!("exit code {c}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::redeploy::write_file as write;
    use serde_json::json;

    #[test]
    fn finds_the_inventory() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path();
        assert!(inventory(root).is_err_and(|e| e.contains("no inventory")));
        write(&root.join("hosts.yml"), "all: {}\n");
        assert_eq!(inventory(root), Ok(vec!["hosts.yml".to_owned()]));
        write(&root.join("inventory/prod"), "[web]\nhost1\n");
        assert_eq!(inventory(root), Ok(vec!["inventory".to_owned()]));
        write(
            &root.join("ansible.cfg"),
            "[ssh_connection]\ninventory = nope\n[defaults]\n# inventory = old\ninventory = inventory/prod, hosts.yml ; both\n",
        );
        assert_eq!(
            inventory(root),
            Ok(vec!["inventory/prod".to_owned(), "hosts.yml".to_owned()])
        );
        write(
            &root.join("ansible.cfg"),
            "[defaults]\ninventory=/etc/ansible/hosts\n",
        );
        assert!(inventory(root).is_err_and(|e| e.contains("not a path inside the repo")));
        write(
            &root.join("ansible.cfg"),
            "[defaults]\ninventory: ../other\n",
        );
        assert!(inventory(root).is_err_and(|e| e.contains("not a path inside the repo")));
        write(
            &root.join("ansible.cfg"),
            "[defaults]\ninventory = missing.ini\n",
        );
        assert!(inventory(root).is_err_and(|e| e.contains("does not exist")));
    }

    #[test]
    fn finds_the_limit() {
        let listed = json!({
            "_meta": {"hostvars": {
                "app1": {"claudeops_services": ["shop", "queue"]},
                "app2": {"claudeops_services": "shop"},
                "db1": {"claudeops_services": ["db"]},
                "odd:22": {"claudeops_services": ["weird"]},
            }},
            "all": {"children": ["ungrouped", "web"]},
            "web": {"hosts": ["app1"]},
            "ungrouped": {"hosts": ["lonely"]},
        });
        let cases = [
            ("web", Ok(Some("web".to_owned()))),
            ("app1", Ok(Some("app1".to_owned()))),
            ("lonely", Ok(Some("lonely".to_owned()))),
            ("shop", Ok(Some("app1,app2".to_owned()))),
            ("queue", Ok(Some("app1".to_owned()))),
            ("mail", Ok(None)),
            ("_meta", Ok(None)),
        ];
        for (service, want) in cases {
            assert_eq!(limit(&listed, service), want, "{service}");
        }
        assert!(limit(&listed, "weird").is_err());
        assert!(limit(&json!([]), "web").is_err());
    }

    #[test]
    fn finds_the_playbook() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path();
        assert_eq!(playbook(root, "web"), None);
        write(&root.join("site.yml"), "- hosts: all\n");
        assert_eq!(playbook(root, "web"), Some("site.yml".to_owned()));
        write(&root.join("web.yaml"), "- hosts: web\n");
        assert_eq!(playbook(root, "web"), Some("web.yaml".to_owned()));
        write(&root.join("playbooks/web.yml"), "- hosts: web\n");
        assert_eq!(playbook(root, "web"), Some("playbooks/web.yml".to_owned()));
        assert_eq!(playbook(root, "db"), Some("site.yml".to_owned()));
    }

    #[test]
    fn builds_the_command() {
        let plan = Plan {
            repo: "infra".into(),
            root: PathBuf::from("/repos/infra"),
            service: "shop".into(),
            inventory: vec!["inventory/prod".into(), "extra.yml".into()],
            playbook: "playbooks/shop.yml".into(),
            limit: "app1,app2".into(),
            hosts: vec!["app1".into(), "app2".into()],
        };
        assert_eq!(
            plan.command_line(Path::new("/usr/bin/ansible-playbook")),
            "ansible-playbook -i inventory/prod -i extra.yml playbooks/shop.yml --limit app1,app2"
        );
    }

    #[test]
    fn reads_list_hosts_and_the_recap() {
        let listing = "\nplaybook: playbooks/web.yml\n\n  play #1 (all): deploy\tTAGS: []\n    pattern: ['all']\n    hosts (2):\n      localhost\n      app1\n\n  play #2 (faraway): more\tTAGS: []\n    pattern: ['faraway']\n    hosts (0):\n";
        assert_eq!(listed_hosts(listing), vec!["app1", "localhost"]);

        let out = "TASK [x] ***\nfatal: [app1]: FAILED! => {\"msg\": \"boom\"}\n\nPLAY RECAP *********\nlocalhost                  : ok=2    changed=1    unreachable=0    failed=0    skipped=0\napp1                       : ok=0    changed=0    unreachable=0    failed=1    skipped=0\n";
        let recap = recap(out);
        assert_eq!(
            recap,
            vec![
                HostRecap {
                    host: "localhost".into(),
                    ok: 2,
                    changed: 1,
                    unreachable: 0,
                    failed: 0
                },
                HostRecap {
                    host: "app1".into(),
                    ok: 0,
                    changed: 0,
                    unreachable: 0,
                    failed: 1
                },
            ]
        );
        assert!(recap[0].clean());
        assert!(!recap[1].clean());
        assert_eq!(
            summary(&recap),
            "localhost ok=2 changed=1 unreachable=0 failed=0, app1 ok=0 changed=0 unreachable=0 failed=1"
        );
        assert!(task_errors(out).contains("boom"));
        assert!(super::recap("no recap here").is_empty());
    }
}
