//! `redeploy_service` through Ansible (real `ansible-playbook` runs against the
//! fixture repo `tests/fixtures/ansible-redeploy`, on localhost) and Helm (no
//! `helm` here: the missing binary must stop it before the ledger).

use std::path::{Path, PathBuf};
use std::process::Command;

use claudeops_core::Tier;
use claudeops_tests::docker::Container;
use claudeops_worker::actions::{Programs, run_action};
use serde_json::json;

use super::{FakeLedger, ctx, ok, req};

/// Fails loudly when Ansible is not installed: these tests never skip.
fn require_ansible() {
    let found = Command::new("ansible-playbook").arg("--version").output();
    assert!(
        found.as_ref().is_ok_and(|out| out.status.success()),
        "ansible-playbook is needed by this test and did not run ({found:?}): install Debian's ansible-core (tests/setup.sh does)"
    );
}

/// A repos dir holding a copy of the fixture as repo `infra`, whose playbooks
/// record their runs in `marker`.
struct Infra {
    repos: tempfile::TempDir,
    marker: PathBuf,
    _out: tempfile::TempDir,
}

impl Infra {
    fn new() -> Infra {
        Infra::running(&[])
    }

    /// The fixture, with `services` added to localhost's `claudeops_services`
    /// (they are deployed by `site.yml`).
    fn running(services: &[&str]) -> Infra {
        require_ansible();
        let repos = ok(tempfile::tempdir());
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/ansible-redeploy");
        copy_dir(&fixture, &repos.path().join("infra"));
        let out = ok(tempfile::tempdir());
        let marker = out.path().join("marker");
        let vars = repos.path().join("infra/inventory/host_vars/localhost.yml");
        let mut text = ok(std::fs::read_to_string(&vars));
        for service in services {
            text = text.replace(
                "  - fixture_cache\n",
                &format!("  - fixture_cache\n  - {service}\n"),
            );
        }
        text.push_str(&format!("marker_file: {}\n", marker.display()));
        ok(std::fs::write(&vars, text));
        Infra {
            repos,
            marker,
            _out: out,
        }
    }

    fn dir(&self) -> PathBuf {
        self.repos.path().join("infra")
    }

    async fn redeploy(&self, service: &str, dry_run: bool, ledger: &FakeLedger) -> (bool, String) {
        let reply = run_action(
            req(
                "redeploy_service",
                json!({"service": service, "reason": "down since 10:02"}),
            ),
            &ctx(Tier::Remediate, dry_run, self.repos.path()),
            ledger,
            &Programs::default(),
        )
        .await;
        eprintln!("{service} (dry run {dry_run}): {}", reply.text);
        (reply.ok, reply.text)
    }
}

fn copy_dir(from: &Path, to: &Path) {
    ok(std::fs::create_dir_all(to));
    for entry in ok(std::fs::read_dir(from)) {
        let entry = ok(entry);
        let target = to.join(entry.file_name());
        if ok(entry.file_type()).is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            ok(std::fs::copy(entry.path(), &target));
        }
    }
}

/// Every file under `dir` with its size, recursively.
fn tree(dir: &Path) -> Vec<(String, u64)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in ok(std::fs::read_dir(&next)) {
            let path = ok(entry).path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            let len = path.metadata().map(|m| m.len()).unwrap_or(0);
            let name = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            files.push((name, len));
        }
    }
    files.sort();
    files
}

#[tokio::test]
async fn ansible_redeploy_runs_the_playbook_with_its_limit() {
    let infra = Infra::new();
    let before = tree(&infra.dir());
    let ledger = FakeLedger::granting(1);
    let (success, text) = infra.redeploy("fixture_web", false, &ledger).await;
    assert!(success, "{text}");
    assert!(
        text.starts_with("redeployed service fixture_web from repo infra with Ansible: playbook playbooks/fixture_web.yml ran cleanly with --limit fixture_web"),
        "{text}"
    );
    assert!(
        text.contains("localhost ok=3 changed=1 unreachable=0 failed=0"),
        "{text}"
    );
    assert!(
        !text.contains("faraway"),
        "only the limit's hosts ran: {text}"
    );
    assert!(
        text.contains("no container on this host to check"),
        "{text}"
    );
    assert_eq!(
        ok(std::fs::read_to_string(&infra.marker)),
        "redeployed fixture_web on localhost\n",
        "the playbook ran"
    );

    let reserved = ledger.reservations();
    assert_eq!(reserved.len(), 1);
    let (session, kind, service, args) = &reserved[0];
    assert_eq!(
        (*session, kind.as_str(), service.as_str()),
        (9, "redeploy", "fixture_web")
    );
    assert_eq!(args["method"], "ansible");
    assert_eq!(args["repo"], "infra");
    assert_eq!(args["playbook"], "playbooks/fixture_web.yml");
    assert_eq!(args["inventory"], json!(["inventory"]));
    assert_eq!(args["limit"], "fixture_web");
    assert_eq!(args["reason"], "down since 10:02");
    assert_eq!(
        args["command"],
        "ansible-playbook -i inventory playbooks/fixture_web.yml --limit fixture_web"
    );
    let finished = ledger.finishes();
    assert_eq!(finished.len(), 1);
    assert_eq!((finished[0].0, finished[0].1), (1, true));
    assert_eq!(finished[0].2, text);
    assert!(finished[0].3 > 0, "a duration is recorded");
    assert_eq!(
        tree(&infra.dir()),
        before,
        "nothing is written into the repo"
    );

    // The limit is what keeps the other host out: the same playbook without it
    // reaches for faraway.invalid and fails.
    let unlimited = ok(Command::new("ansible-playbook")
        .args(["-i", "inventory", "playbooks/fixture_web.yml"])
        .current_dir(infra.dir())
        .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
        .output());
    let stdout = String::from_utf8_lossy(&unlimited.stdout);
    assert!(!unlimited.status.success(), "{stdout}");
    assert!(
        stdout.contains("faraway.invalid            : ok=0    changed=0    unreachable=1"),
        "{stdout}"
    );
}

#[tokio::test]
async fn ansible_redeploy_checks_the_services_containers_on_this_host() {
    let up = Container::run(
        "co-ans-up",
        &["--health-cmd", "test -e /tmp", "--health-interval", "1s"],
        &["sleep", "infinity"],
    );
    let down = Container::run("co-ans-down", &[], &["sh", "-c", "echo gone >&2; exit 3"]);
    let infra = Infra::running(&[&up.name, &down.name]);
    let ledger = FakeLedger::granting(2);

    let (success, text) = infra.redeploy(&up.name, false, &ledger).await;
    assert!(success, "{text}");
    assert!(
        text.contains("playbook site.yml ran cleanly with --limit localhost (PLAY RECAP: localhost ok=1 changed=1 unreachable=0 failed=0); its containers on this host: running and healthy"),
        "{text}"
    );
    assert_eq!(
        ok(std::fs::read_to_string(&infra.marker)),
        "redeployed from site.yml on localhost\n"
    );

    let (success, text) = infra.redeploy(&down.name, false, &ledger).await;
    assert!(!success, "{text}");
    assert!(text.contains("did not bring it back"), "{text}");
    assert!(text.contains("exit code 3"), "{text}");
    assert!(
        text.contains("gone"),
        "its last log lines are shown: {text}"
    );
    let finished = ledger.finishes();
    assert_eq!(finished.len(), 2);
    assert!(finished[0].1);
    assert!(!finished[1].1);
}

#[tokio::test]
async fn ansible_failure_is_recorded_and_escalated() {
    let infra = Infra::new();
    let before = tree(&infra.dir());
    let ledger = FakeLedger::granting(1);
    let (success, text) = infra.redeploy("fixture_broken", false, &ledger).await;
    assert!(!success, "{text}");
    assert!(
        text.starts_with("redeploy of service fixture_broken from repo infra with Ansible did not bring it back: ansible-playbook ended with exit code 2; PLAY RECAP: localhost ok=0 changed=0 unreachable=0 failed=1"),
        "{text}"
    );
    assert!(
        text.contains("fixture_broken cannot start (simulated failure)"),
        "the failed task is shown: {text}"
    );
    assert!(
        text.ends_with("Do not retry; escalate with this result."),
        "{text}"
    );
    assert_eq!(ledger.reservations().len(), 1);
    assert_eq!(ledger.reservations()[0].3["limit"], "fixture_broken");
    let finished = ledger.finishes();
    assert_eq!(finished.len(), 1);
    assert!(!finished[0].1, "recorded as failed");
    assert_eq!(finished[0].2, text);
    assert_eq!(
        tree(&infra.dir()),
        before,
        "no retry file, whatever ansible.cfg says"
    );
    assert!(!infra.marker.exists());
}

#[tokio::test]
async fn ansible_dry_run_changes_nothing_and_shows_the_command() {
    let infra = Infra::new();
    let before = tree(&infra.dir());
    let ledger = FakeLedger::granting(5);
    let cases = [
        (
            "fixture_web",
            "`ansible-playbook -i inventory playbooks/fixture_web.yml --limit fixture_web`",
        ),
        (
            "fixture_queue",
            "`ansible-playbook -i inventory site.yml --limit fixture_queue`",
        ),
        (
            "fixture_cache",
            "`ansible-playbook -i inventory site.yml --limit localhost`",
        ),
    ];
    for (service, command) in cases {
        let (success, text) = infra.redeploy(service, true, &ledger).await;
        assert!(success, "{text}");
        assert_eq!(
            text,
            format!(
                "dry run: would redeploy service {service} from repo infra with Ansible: {command} (it would run on: localhost). Nothing was done."
            )
        );
    }
    assert!(!infra.marker.exists(), "no playbook ran");
    assert_eq!(tree(&infra.dir()), before);

    // Unknown and ambiguous targets are answered without the ledger either.
    let (success, text) = infra.redeploy("fixture_mail", false, &ledger).await;
    assert!(!success);
    assert!(
        text.contains("defines service `fixture_mail`; looked in infra (Ansible)"),
        "{text}"
    );
    assert!(text.contains("no cooldown slot was used"), "{text}");
    let (success, text) = infra.redeploy("all", false, &ledger).await;
    assert!(!success, "{text}");
    let (success, text) = infra.redeploy("faraway", false, &ledger).await;
    assert!(!success, "a group without a playbook: {text}");
    assert!(
        text.contains("no play for the hosts of `faraway`"),
        "{text}"
    );
    assert!(ledger.reservations().is_empty());
}

#[tokio::test]
async fn a_missing_helm_stops_before_the_ledger() {
    let repos = ok(tempfile::tempdir());
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repos/chart-only");
    copy_dir(&fixture, &repos.path().join("chart-only"));
    let programs = Programs {
        helm: PathBuf::from("/nonexistent/bin/helm"),
        ..Programs::default()
    };
    let ledger = FakeLedger::granting(1);
    for dry_run in [false, true] {
        let reply = run_action(
            req(
                "redeploy_service",
                json!({"service": "chart-only", "reason": "pods crash-looping"}),
            ),
            &ctx(Tier::Remediate, dry_run, repos.path()),
            ledger.as_ref(),
            &programs,
        )
        .await;
        eprintln!("helm: {}", reply.text);
        assert!(!reply.ok);
        assert!(
            reply.text.contains(
                "helm is not installed on this host (/nonexistent/bin/helm was not found), so repo chart-only's Helm release chart-only cannot be redeployed from here; escalate: needs human attention"
            ),
            "{}",
            reply.text
        );
        assert!(
            reply.text.contains("no cooldown slot was used"),
            "{}",
            reply.text
        );
    }
    assert!(ledger.reservations().is_empty());
}
