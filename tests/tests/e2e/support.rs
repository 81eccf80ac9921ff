//! Helpers shared by the end-to-end tests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use claudeops_tests::model::ScriptedModel;
use claudeops_tests::system::{ControlPlane, Http, SseEvent, Worker};
use serde_json::Value;

pub const WAIT: Duration = Duration::from_secs(60);

pub fn model_env(model: &ScriptedModel) -> Vec<(String, String)> {
    vec![
        ("ANTHROPIC_BASE_URL".to_owned(), model.base_url()),
        ("ANTHROPIC_API_KEY".to_owned(), "test-key".to_owned()),
    ]
}

pub fn as_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

pub async fn enrolled_worker(cp: &ControlPlane, site: &str, env: &[(&str, &str)]) -> Worker {
    let token = cp.enroll_token(site).await;
    let worker = Worker::start(cp, site, Some(&token), env);
    worker.wait_connected().await;
    worker
}

/// Calls `f` every 200 ms until it returns something; panics naming `what`
/// after `timeout`.
pub async fn poll<T>(what: &str, timeout: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads events until `pred` matches one; panics with what was seen on timeout.
pub async fn next_matching(
    rx: &mut tokio::sync::mpsc::Receiver<SseEvent>,
    seen: &mut Vec<SseEvent>,
    pred: impl Fn(&SseEvent) -> bool,
) -> SseEvent {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(event)) => {
                seen.push(event.clone());
                if pred(&event) {
                    return event;
                }
            }
            other => panic!("stream ended or timed out ({other:?}); saw {seen:#?}"),
        }
    }
}

pub fn line_data(event: &SseEvent) -> Value {
    serde_json::from_str(&event.data).unwrap_or(Value::Null)
}

/// A control plane and one connected worker whose `claude` is the shell script
/// `script` (a stand-in CLI, for tests about the runner rather than the model).
pub async fn with_fake_cli(
    dir: &std::path::Path,
    site: &str,
    script: &str,
) -> (ControlPlane, Worker) {
    with_fake_cli_env(dir, site, script, &[], &[]).await
}

/// [`with_fake_cli`], with more variables for the control plane and the worker.
pub async fn with_fake_cli_env(
    dir: &std::path::Path,
    site: &str,
    script: &str,
    cp_env: &[(&str, &str)],
    worker_env: &[(&str, &str)],
) -> (ControlPlane, Worker) {
    use std::os::unix::fs::PermissionsExt;
    let fake = dir.join("claude");
    std::fs::write(&fake, script).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let cp = ControlPlane::start(cp_env).await;
    let fake_path = fake.display().to_string();
    let mut env = vec![
        ("CLAUDEOPS_CLAUDE_BIN", fake_path.as_str()),
        ("ANTHROPIC_API_KEY", "k"),
    ];
    env.extend_from_slice(worker_env);
    let worker = enrolled_worker(&cp, site, &env).await;
    (cp, worker)
}

/// Triggers a tier 1 session on `site` and waits for its first output line;
/// returns the session's id.
pub async fn trigger_until_first_line(http: &Http, site: &str) -> i64 {
    let (status, session) = http
        .post(
            "/api/v1/sessions/trigger",
            &serde_json::json!({"site": site, "start_tier": 1}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let id = session["id"].as_i64().unwrap_or_default();
    let mut stream = http.sse(&format!("/sessions/{id}/stream")).await;
    let mut seen = Vec::new();
    next_matching(&mut stream, &mut seen, |e| e.event == "line").await;
    id
}

/// The processes still running with `needle` as one of their arguments.
pub fn running_with(needle: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim().starts_with('Z'));
            // Arguments are NUL-separated in /proc: compare them one by one.
            !zombie
                && cmdline
                    .split(|b| *b == 0)
                    .any(|arg| arg == needle.as_bytes())
        })
        .collect()
}

/// The parent of a process, from `/proc/PID/stat`.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: the command may hold spaces and parentheses.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Of `pids`, those that descend from process `ancestor` (other tests' CLIs
/// run side by side on the machine; only this worker's count).
pub fn descending_from(pids: Vec<u32>, ancestor: u32) -> Vec<u32> {
    pids.into_iter()
        .filter(|pid| {
            let mut at = *pid;
            for _ in 0..64 {
                match parent_of(at) {
                    Some(p) if p == ancestor => return true,
                    Some(p) if p > 1 => at = p,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}

/// Waits until none of `pids` runs (a zombie counts as gone); panics with
/// `what` after `within`.
pub async fn wait_pids_gone(pids: &[u32], within: Duration, what: &str) {
    let start = tokio::time::Instant::now();
    loop {
        let left: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .ok()
                    .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim().to_owned()))
                    .is_some_and(|r| !r.starts_with('Z'))
            })
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(start.elapsed() < within, "{what}: {left:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Scripts the model to run `commands` through Bash in one turn and then
/// answer, triggers a session at `tier` on `site`, and waits until it has
/// completed; returns its id.
pub async fn run_bash_session(
    http: &Http,
    model: &claudeops_tests::model::ScriptedModel,
    site: &str,
    tier: u8,
    commands: &[&str],
    timeout: Duration,
) -> i64 {
    use claudeops_tests::model::{Block, Script, Turn};
    let blocks: Vec<Block> = commands.iter().map(|c| Block::bash(c)).collect();
    model.set_scripts(vec![Script::new(vec![
        Turn::new(blocks),
        Turn::structured(serde_json::json!({
            "summary": "tried everything",
            "escalation": {"needed": false}
        })),
    ])]);
    let (status, session) = http
        .post(
            "/api/v1/sessions/trigger",
            &serde_json::json!({"site": site, "start_tier": tier}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let id = session["id"].as_i64().unwrap_or_default();
    let done = http.wait_session_end(id, timeout).await;
    assert_eq!(done["status"], "completed", "tier {tier}: {done}");
    id
}

/// Waits until no process runs with `needle` among its arguments; panics
/// with `what` after `within`. Returns how long it took.
pub async fn wait_gone(needle: &str, within: Duration, what: &str) -> Duration {
    let start = tokio::time::Instant::now();
    loop {
        let left = running_with(needle);
        if left.is_empty() {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "{what}: {left:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub use claudeops_tests::web::{failable_service, web_probe_repo};

/// Debian's chromium, which the browser tests drive through Playwright.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs `tests/python/NAME` with `args` against the browser; its JSON report.
/// Fails with its stderr and the worker's log when it fails.
pub async fn browser_script(name: &str, args: &[&str], worker: &Worker) -> Value {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium (tests/setup.sh does)"
    );
    let script = format!("{}/python/{name}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(claudeops_tests::venv::python())
        .arg(&script)
        .args(args)
        .env("CLAUDEOPS_CHROMIUM", CHROMIUM)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", claudeops_tests::venv::python()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name} failed:\n{stderr}\n{}",
        worker.proc.log()
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&output.stdout)))
}

/// A control plane (with `cp_env`) and a worker of site `home` whose repo
/// probes the failable web service on `port` every second, once the probe
/// is up.
pub async fn site_watching_web(
    model: &ScriptedModel,
    cp_env: &[(&str, &str)],
    port: u16,
) -> (ControlPlane, Worker) {
    let cp = ControlPlane::start(cp_env).await;
    let http = cp.http();
    let env = model_env(model);
    let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    web_probe_repo(&state.path().join("repos"), port);
    let token = cp.enroll_token("home").await;
    let worker = Worker::start_in(&cp, "home", Some(&token), &as_refs(&env), state);
    worker.wait_connected().await;
    poll("the probe to be up", WAIT, async || {
        let (_, checks) = http.get("/api/v1/checks?site=home").await;
        checks
            .to_string()
            .contains("\"state\":\"up\"")
            .then_some(())
    })
    .await;
    (cp, worker)
}

/// A loopback HTTP receiver for Apprise's `json://` notifications.
pub async fn receiver() -> (u16, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let sink = sink.clone();
        async move {
            let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            sink.lock().unwrap_or_else(|e| e.into_inner()).push(value);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, got)
}

pub fn received(got: &Arc<Mutex<Vec<Value>>>) -> Vec<Value> {
    got.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The parsed events of `kind` in the `line` events of a session's stream.
pub fn events_of_kind(seen: &[SseEvent], kind: &str) -> Vec<Value> {
    seen.iter()
        .filter(|e| e.event == "line")
        .flat_map(|e| {
            line_data(e)["events"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|ev| ev["kind"] == kind)
        .collect()
}

/// Tool results of a session, in order, from its stored output.
pub async fn tool_results(http: &Http, id: i64) -> Vec<(bool, String)> {
    let mut stream = http.sse(&format!("/sessions/{id}/stream")).await;
    let mut seen = Vec::new();
    next_matching(&mut stream, &mut seen, |e| e.event == "status").await;
    events_of_kind(&seen, "tool_result")
        .into_iter()
        // The CLI's own answer to the final StructuredOutput call is not ours.
        .filter(|ev| ev["content"] != "Structured output provided successfully")
        .map(|ev| {
            (
                ev["is_error"] == true,
                ev["content"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}
