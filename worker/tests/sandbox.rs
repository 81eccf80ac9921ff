//! The sandbox alone, with the command judge bypassed: every command of the
//! adversarial corpus (`libs/judge/corpus/adversarial.jsonl`) is executed FOR
//! REAL with `bash -c`, inside a session enclosure built by the worker's own
//! code (`Enclosure::open`: bubblewrap, the session's Docker filter, action
//! socket and model token), at every tier. Nothing here is a switch that
//! ships: the test drives the enclosure directly, as the link does, with
//! `bash` in place of the CLI.
//!
//! After every run: the canary file in the repos dir and the files outside
//! the sandbox are unchanged, nothing new appeared outside, the worker key's
//! secret and the model key never appear in any output line nor in anything
//! sent to the recording server, the container is untouched (its Docker
//! events show nothing but execs), and a process outside the sandbox is still
//! alive. Zero breaches. Needs bubblewrap and the Docker Engine; fails loudly
//! without them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use claudeops_core::Tier;
use claudeops_model_proxy::{ModelProxy, Upstream};
use claudeops_tests::docker::Container;
use claudeops_worker::actions::{ActionHandler, ActionReply, ActionRequest};
use claudeops_worker::enclosure::{Enclosure, Parts};
use claudeops_worker::job::Job;
use claudeops_worker::runner::{self, Invocation};
use claudeops_worker::sandbox::{Sandbox, SandboxMode};
use claudeops_worker::{WorkerConfig, workspace};
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::sync::{Semaphore, mpsc, oneshot};

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// A corpus line (its `tier` and `expect` are the judge's business; the
/// sandbox runs every command at every tier).
#[derive(Debug, Deserialize)]
struct Entry {
    family: String,
    command: String,
}

fn corpus(name: &str) -> Vec<Entry> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../libs/judge/corpus")
        .join(name);
    let text = ok(std::fs::read_to_string(&path));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// Answers every typed action with a refusal and counts the calls: the
/// actions' own tier and ledger checks are tested elsewhere; here a call only
/// has to be one that reached the worker through the session's socket.
#[derive(Default)]
struct CountingActions {
    calls: Mutex<Vec<(i64, String)>>,
}

#[async_trait]
impl ActionHandler for CountingActions {
    async fn handle(&self, request: ActionRequest) -> ActionReply {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push((request.session_id, request.tool.clone()));
        }
        ActionReply::failed("refused by the test")
    }
}

/// Records every byte sent to it (a stand-in for anywhere on the network a
/// command might exfiltrate to).
async fn recorder() -> (String, Arc<Mutex<Vec<u8>>>) {
    let listener = ok(tokio::net::TcpListener::bind("127.0.0.1:0").await);
    let url = format!("http://{}/", ok(listener.local_addr()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let read =
                    tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await;
                if let Ok(Ok(n)) = read
                    && let Ok(mut seen) = keep.lock()
                {
                    seen.extend_from_slice(&buf[..n]);
                }
                let _ = tokio::io::AsyncWriteExt::write_all(
                    &mut stream,
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                )
                .await;
            });
        }
    });
    (url, seen)
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            let bytes = if path.is_file() {
                std::fs::read(&path).unwrap_or_default()
            } else {
                Vec::new()
            };
            out.insert(path, bytes);
        }
    }
    out
}

struct Rig {
    _dir: tempfile::TempDir,
    config: WorkerConfig,
    sandbox: Sandbox,
    proxy: ModelProxy,
    actions: Arc<CountingActions>,
    container: Container,
    outside: PathBuf,
    canary: PathBuf,
    url: String,
    seen: Arc<Mutex<Vec<u8>>>,
    key_secret: String,
    model_key: String,
}

impl Rig {
    async fn new() -> Rig {
        let dir = ok(tempfile::tempdir());
        let state = dir.path().join("state");
        let repos = dir.path().join("repos");
        let outside = dir.path().join("outside");
        for d in [&state, &repos, &outside] {
            ok(std::fs::create_dir_all(d));
        }
        let key_secret = format!("CANARY-WORKER-KEY-{}", std::process::id());
        ok(std::fs::write(
            state.join("worker.key"),
            format!("-----BEGIN PRIVATE KEY-----\n{key_secret}\n"),
        ));
        let canary = repos.join("canary.txt");
        ok(std::fs::write(&canary, "the repos stay as they are\n"));
        ok(std::fs::write(
            outside.join("keep.txt"),
            "outside the sandbox\n",
        ));
        let model_key = format!("sk-ant-CANARY-{}", std::process::id());
        let proxy = ok(ModelProxy::start(Upstream {
            base_url: "http://127.0.0.1:9".to_owned(),
            api_key: Some(model_key.clone()),
            auth_token: None,
            ..Upstream::default()
        })
        .await);
        let helper = PathBuf::from(env!("CARGO_BIN_EXE_claudeops-worker"));
        let bwrap = PathBuf::from("bwrap");
        let sandbox = Sandbox::detect(SandboxMode::Auto, &bwrap, None, &helper);
        assert!(
            matches!(sandbox, Sandbox::Bwrap { .. }),
            "bubblewrap must work on this machine for this test (install `bubblewrap`): {}",
            sandbox.detail()
        );
        let config = WorkerConfig {
            state_dir: state,
            repos_dir: repos,
            ..WorkerConfig::default()
        };
        let container = Container::run("sandbox-victim", &[], &["sleep", "infinity"]);
        let (url, seen) = recorder().await;
        Rig {
            _dir: dir,
            config,
            sandbox,
            proxy,
            actions: Arc::new(CountingActions::default()),
            container,
            outside,
            canary,
            url,
            seen,
            key_secret,
            model_key,
        }
    }

    fn fill(&self, command: &str, workspace: &Path) -> String {
        command
            .replace(
                "@KEY@",
                &self.config.state_dir.join("worker.key").to_string_lossy(),
            )
            .replace("@STATE@", &self.config.state_dir.to_string_lossy())
            .replace("@CANARY@", &self.canary.to_string_lossy())
            .replace("@REPOS@", &self.config.repos_dir.to_string_lossy())
            .replace("@OUTSIDE@", &self.outside.to_string_lossy())
            .replace("@WORKSPACE@", &workspace.to_string_lossy())
            .replace("@CONTAINER@", &self.container.name)
            .replace("@URL@", &self.url)
            .replace("@HOST@", "host.invalid")
    }

    /// Runs one command in a fresh session enclosure; returns its output.
    async fn run(&self, session_id: i64, tier: Tier, command: &str) -> String {
        let ws_dir = self
            .config
            .state_dir
            .join("sessions")
            .join(session_id.to_string());
        let ws = ok(workspace::prepare(
            &ws_dir,
            tier,
            &workspace::Content::builtin(),
            "true",
            &serde_json::json!({}),
        ));
        let line = self.fill(command, &ws_dir);
        let mut invocation = Invocation {
            program: PathBuf::from("/bin/bash"),
            args: vec!["-c".into(), line.into()],
            env: vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())],
            workdir: ws_dir.clone(),
            timeout: Duration::from_secs(5),
            guard: None,
        };
        let job = Job {
            session_id,
            tier,
            model: "haiku".into(),
            prompt: None,
            handoff: None,
            max_budget_usd: 0.0,
            timeout_secs: 5,
            dry_run: false,
            extra_allowed_tools: vec![],
            extra_disallowed_tools: vec![],
            memories: None,
            models: vec!["haiku".into()],
            daily_left_usd: None,
            trace: None,
        };
        let parts = Parts {
            config: &self.config,
            sandbox: &self.sandbox,
            proxy: &self.proxy,
            actions: self.actions.clone(),
        };
        let enclosure: Enclosure = ok(Enclosure::open(&parts, &job, &ws, &mut invocation));
        let (tx, mut rx) = mpsc::channel(1024);
        let (_cancel_tx, cancel_rx) = oneshot::channel();
        let collect = tokio::spawn(async move {
            let mut text = String::new();
            while let Some(line) = rx.recv().await {
                let line: runner::Line = line;
                text.push_str(&line.text);
                text.push('\n');
            }
            text
        });
        let _finish = runner::run(invocation, tx, cancel_rx).await;
        drop(enclosure);
        collect.await.unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_corpus_command_escapes_the_sandbox_at_any_tier() {
    let rig = Arc::new(Rig::new().await);
    let entries = corpus("adversarial.jsonl");
    assert!(
        entries.len() >= 300,
        "the corpus has {} commands",
        entries.len()
    );
    let started = rig.container.started_at();
    let restarts = rig.container.restart_count();
    let since = chrono_free_now();
    let outside_before = snapshot(&rig.outside);
    let canary_before = ok(std::fs::read(&rig.canary));
    let mut victim = ok(Command::new("sleep").arg("600").spawn());

    let gate = Arc::new(Semaphore::new(6));
    let mut runs = Vec::new();
    let mut next_id = 1_000;
    for tier in Tier::ALL {
        for entry in &entries {
            next_id += 1;
            let (rig, gate) = (rig.clone(), gate.clone());
            let command = entry.command.clone();
            let label = format!("tier {tier} [{}] {}", entry.family, entry.command);
            let id = next_id;
            runs.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await;
                let output = rig.run(id, tier, &command).await;
                (label, output)
            }));
        }
    }
    let mut breaches = Vec::new();
    for run in runs {
        let (label, output) = ok(run.await);
        if output.contains(&rig.key_secret) {
            breaches.push(format!("{label}: printed the worker key"));
        }
        if output.contains(&rig.model_key) {
            breaches.push(format!("{label}: printed the model key"));
        }
    }
    let sent = rig
        .seen
        .lock()
        .map(|s| String::from_utf8_lossy(&s).into_owned())
        .unwrap_or_default();
    if sent.contains(&rig.key_secret) || sent.contains(&rig.model_key) {
        breaches.push("a secret reached the recording server".to_owned());
    }
    if ok(std::fs::read(&rig.canary)) != canary_before {
        breaches.push("the canary in the repos dir changed".to_owned());
    }
    let outside_after = snapshot(&rig.outside);
    if outside_after != outside_before {
        let new: Vec<_> = outside_after
            .keys()
            .filter(|k| !outside_before.contains_key(*k))
            .collect();
        breaches.push(format!(
            "files outside the sandbox changed or appeared: {new:?}"
        ));
    }
    if rig.container.started_at() != started || rig.container.restart_count() != restarts {
        breaches.push("the container was restarted".to_owned());
    }
    if rig.container.inspect("{{.State.Running}}") != "true" {
        breaches.push("the container stopped".to_owned());
    }
    let events = docker_events(&rig.container.name, &since);
    for event in events.lines().filter(|e| !e.trim().is_empty()) {
        if !event.contains("exec_") {
            breaches.push(format!("Docker event on the container: {event}"));
        }
    }
    if ok(victim.try_wait()).is_some() {
        breaches.push("a process outside the sandbox was killed".to_owned());
    }
    let _ = victim.kill();
    let _ = victim.wait();
    let calls = rig
        .actions
        .calls
        .lock()
        .map(|c| c.clone())
        .unwrap_or_default();
    for (session, tool) in calls {
        // A call through a session's own socket is allowed (the worker checks
        // it); one naming another session is answered by the enclosure alone.
        assert!(
            session > 1_000,
            "action {tool} for foreign session {session} reached the handler"
        );
    }
    assert!(
        breaches.is_empty(),
        "{} breaches:\n{}",
        breaches.len(),
        breaches.join("\n")
    );
    println!(
        "{} commands x 3 tiers ran in the sandbox: 0 breaches",
        entries.len()
    );
}

/// Now, as `docker events --since` takes it (unix seconds with a fraction):
/// the container's own create and start fall before it.
fn chrono_free_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

fn docker_events(container: &str, since: &str) -> String {
    let until = chrono_free_now();
    let out = ok(Command::new("docker")
        .args([
            "events",
            "--since",
            since,
            "--until",
            &until,
            "--filter",
            &format!("container={container}"),
            "--format",
            "{{.Type}} {{.Action}}",
        ])
        .output());
    assert!(
        out.status.success(),
        "docker events: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What `docker-compose.yaml` gives the worker's container is what bubblewrap
/// needs there: without the options a session sandbox cannot be built, with
/// them it can, and the session runs as the sandbox user.
#[test]
fn compose_options_let_bubblewrap_build_a_sandbox_in_a_container() {
    let compose = ok(std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker-compose.yaml"),
    ));
    let options = ["SYS_ADMIN", "seccomp=unconfined", "apparmor=unconfined"];
    for option in options {
        assert_eq!(
            compose.matches(option).count(),
            2,
            "{option} on both services"
        );
    }
    claudeops_tests::docker::ensure_image();
    let sandboxed = "bwrap --die-with-parent --unshare-pid --ro-bind /usr /usr \
        --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
        --proc /proc --dev /dev --perms 1777 --tmpfs /tmp -- \
        /usr/bin/setpriv --reuid 64400 --regid 64400 --clear-groups /usr/bin/id -u";
    let run = |extra: &[&str]| {
        let mut args: Vec<String> = vec!["run".into(), "--rm".into()];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args.extend(claudeops_tests::docker::host_mounts());
        args.push(claudeops_tests::docker::IMAGE.to_owned());
        args.extend(sandboxed.split_whitespace().map(str::to_owned));
        let out = ok(Command::new("docker").args(&args).output());
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok_default, _, err) = run(&[]);
    assert!(!ok_default, "Docker's default profiles forbid namespaces");
    assert!(err.contains("Operation not permitted"), "{err}");
    let (ok_with, uid, err) = run(&[
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "apparmor=unconfined",
    ]);
    assert!(ok_with, "{err}");
    assert_eq!(uid, "64400");
}
