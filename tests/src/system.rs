//! Runs the real binaries as separate processes on loopback: a control plane, and
//! workers that enroll and dial it over mutual TLS. Each gets its own temporary
//! state dir; everything is killed when dropped.
//!
//! The binaries are built once per test process with `cargo build` (a no-op when
//! they are fresh), so a test never runs a stale control plane.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, mpsc};

pub const CONTROL_PLANE_BIN: &str = "claudeops-control-plane";
pub const WORKER_BIN: &str = "claudeops-worker";

/// The workspace's target dir holding this test binary's sibling binaries.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    // target/debug/deps/e2e-xxxx -> target/debug; a binary such as the chaos
    // runner is in target/debug itself.
    let dir = exe
        .parent()
        .unwrap_or_else(|| panic!("unexpected test binary location {exe:?}"));
    if dir.ends_with("deps") {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// The path of a workspace binary, built (once per process) if needed.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut args = vec!["build", "-p", CONTROL_PLANE_BIN, "-p", WORKER_BIN, "--bins"];
        // Benchmarks run from target/release and measure release binaries.
        if bin_dir().ends_with("release") {
            args.push("--release");
        }
        let status = std::process::Command::new(cargo)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap_or_else(|e| panic!("running cargo build: {e}"));
        assert!(status.success(), "cargo build of the binaries failed");
    });
    let path = bin_dir().join(name);
    assert!(path.exists(), "{path:?} was not built");
    path
}

/// A child process whose stdout and stderr are collected line by line.
pub struct Proc {
    child: Child,
    readers: Vec<tokio::task::JoinHandle<()>>,
    log: Arc<Mutex<Vec<String>>>,
    changed: Arc<Notify>,
    name: String,
}

impl Proc {
    pub fn spawn(name: &str, program: &Path, args: &[&str], env: &[(String, String)]) -> Proc {
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "HOME",
                std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
            )
            .env("RUST_LOG", "info,sqlx=warn,h2=warn")
            .env("NO_COLOR", "1")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {program:?}: {e}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let changed = Arc::new(Notify::new());
        let mut readers = Vec::new();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            let changed = changed.clone();
            readers.push(tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    log.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(strip_ansi(&line));
                    changed.notify_waiters();
                }
            }));
        }
        Proc {
            child,
            readers,
            log,
            changed,
            name: name.to_owned(),
        }
    }

    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    fn find(&self, mark: usize, needle: &str) -> Option<String> {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .skip(mark)
            .find(|l| l.contains(needle))
            .cloned()
    }

    /// Waits for a line containing `needle`; panics with the log on timeout.
    pub async fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for_after(0, needle, timeout).await
    }

    /// How many lines it has logged so far: a mark for [`Proc::wait_for_after`].
    pub fn mark(&self) -> usize {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Waits for a line containing `needle` logged after the first `mark`
    /// lines, so that what a process says after a fault is not confused with
    /// what it said before; panics with the log on timeout.
    pub async fn wait_for_after(&self, mark: usize, needle: &str, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if let Some(line) = self.find(mark, needle) {
                return line;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "{} did not log {needle:?} within {timeout:?}; its log:\n{}",
                    self.name,
                    self.log()
                );
            }
        }
    }

    pub fn has_logged(&self, needle: &str) -> bool {
        self.has_logged_after(0, needle)
    }

    /// Whether a line containing `needle` came after the first `mark` lines.
    pub fn has_logged_after(&self, mark: usize, needle: &str) -> bool {
        self.find(mark, needle).is_some()
    }

    /// Waits for the process to exit by itself.
    pub async fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let status = match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(Ok(status)) => status,
            _ => panic!("{} did not exit; its log:\n{}", self.name, self.log()),
        };
        // Everything it printed is read before the caller looks at the log.
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
        status
    }

    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `KILL`, ...) with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let pid = self
            .pid()
            .unwrap_or_else(|| panic!("{} has exited", self.name));
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status()
            .unwrap_or_else(|e| panic!("running kill: {e}"));
        assert!(status.success(), "kill -{name} {pid} failed");
    }
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A control plane process on loopback with its own state dir.
pub struct ControlPlane {
    pub proc: Proc,
    pub state: TempDir,
    /// `http://127.0.0.1:PORT` of the dashboard and API.
    pub url: String,
    pub grpc_port: u16,
    pub enroll_port: u16,
    pub token: String,
    env: Vec<(String, String)>,
    /// The program and arguments it was started with, for a restart.
    command: Vec<String>,
    /// Its environment with the ports it got, so a restart keeps them.
    serve_env: Vec<(String, String)>,
}

/// Runs `command` (program first) and waits until it listens; returns the
/// process and the line saying where.
async fn serve(command: &[String], env: &[(String, String)]) -> (Proc, String) {
    let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
    let proc = Proc::spawn("control plane", Path::new(&command[0]), &args, env);
    let line = proc
        .wait_for("claudeops listening", Duration::from_secs(60))
        .await;
    (proc, line)
}

/// `CAP_DAC_OVERRIDE`'s bit in the capability sets of `/proc/self/status`.
const CAP_DAC_OVERRIDE: u32 = 1;

/// Whether this process holds capability `bit` in its effective set.
fn has_capability(bit: u32) -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << bit) != 0)
}

fn port_of(line: &str, key: &str) -> u16 {
    line.split_whitespace()
        .find_map(|part| part.strip_prefix(key))
        .and_then(|addr| addr.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}

impl ControlPlane {
    /// Starts `claudeops-control-plane serve` with ports chosen by the OS.
    pub async fn start(extra_env: &[(&str, &str)]) -> ControlPlane {
        ControlPlane::start_with(&["serve"], extra_env).await
    }

    pub async fn start_with(args: &[&str], extra_env: &[(&str, &str)]) -> ControlPlane {
        ControlPlane::launch(&[], args, extra_env).await
    }

    /// [`ControlPlane::start`] without the capability (`CAP_DAC_OVERRIDE`) that
    /// lets root write a file whose mode says read-only, so that `chmod 0444`
    /// of its database is the fault it is for any other user. Nothing is
    /// dropped when the tests run without that capability.
    pub async fn start_without_dac_override(extra_env: &[(&str, &str)]) -> ControlPlane {
        let launcher: &[&str] = if has_capability(CAP_DAC_OVERRIDE) {
            &[
                "setpriv",
                "--bounding-set=-dac_override,-dac_read_search",
                "--",
            ]
        } else {
            &[]
        };
        ControlPlane::launch(launcher, &["serve"], extra_env).await
    }

    /// Starts the control plane with `args`, through `launcher` (a program and
    /// its arguments) when it is not empty.
    async fn launch(launcher: &[&str], args: &[&str], extra_env: &[(&str, &str)]) -> ControlPlane {
        let state = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let mut env: Vec<(String, String)> = vec![
            (
                "CLAUDEOPS_STATE_DIR".into(),
                state.path().display().to_string(),
            ),
            (
                "CLAUDEOPS_REPOS_DIR".into(),
                state.path().join("repos").display().to_string(),
            ),
            ("CLAUDEOPS_LISTEN_ADDR".into(), "127.0.0.1".into()),
            ("CLAUDEOPS_DASHBOARD_PORT".into(), "0".into()),
            ("CLAUDEOPS_GRPC_PORT".into(), "0".into()),
            ("CLAUDEOPS_ENROLL_PORT".into(), "0".into()),
            ("CLAUDEOPS_INTERVAL".into(), "0".into()),
        ];
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let command: Vec<String> = launcher
            .iter()
            .map(|a| (*a).to_owned())
            .chain([binary(CONTROL_PLANE_BIN).display().to_string()])
            .chain(args.iter().map(|a| (*a).to_owned()))
            .collect();
        let (proc, line) = serve(&command, &env).await;
        let dashboard = port_of(&line, "dashboard=http://");
        let grpc_port = port_of(&line, "grpc=");
        let enroll_port = port_of(&line, "enroll=");
        let token = std::fs::read_to_string(state.path().join("api-token"))
            .map(|t| t.trim().to_owned())
            .or_else(|_| {
                extra_env
                    .iter()
                    .find(|(k, _)| *k == "CLAUDEOPS_API_TOKEN")
                    .map(|(_, v)| (*v).to_owned())
                    .ok_or(())
            })
            .unwrap_or_else(|()| panic!("no API token"));
        env.retain(|(k, _)| !k.ends_with("_PORT"));
        env.push(("CLAUDEOPS_ENROLL_PORT".into(), enroll_port.to_string()));
        let mut serve_env = env.clone();
        serve_env.push(("CLAUDEOPS_DASHBOARD_PORT".into(), dashboard.to_string()));
        serve_env.push(("CLAUDEOPS_GRPC_PORT".into(), grpc_port.to_string()));
        ControlPlane {
            proc,
            state,
            url: format!("http://127.0.0.1:{dashboard}"),
            grpc_port,
            enroll_port,
            token,
            env,
            command,
            serve_env,
        }
    }

    /// Kills the process with SIGKILL (no drain, nothing flushed) and starts it
    /// again as a supervisor would: same command, state dir and ports.
    pub async fn kill_and_restart(&mut self) {
        self.proc.signal("KILL");
        self.proc.wait_exit(Duration::from_secs(30)).await;
        self.proc = serve(&self.command, &self.serve_env).await.0;
    }

    /// Where its gRPC (worker link) listener is.
    pub fn grpc_addr(&self) -> std::net::SocketAddr {
        (std::net::Ipv4Addr::LOCALHOST, self.grpc_port).into()
    }

    /// Runs an operator command against this control plane's state.
    pub async fn command(&self, args: &[&str]) -> (bool, String, String) {
        self.command_with_input(args, "").await
    }

    /// An operator command with `input` on its standard input.
    pub async fn command_with_input(&self, args: &[&str], input: &str) -> (bool, String, String) {
        use tokio::io::AsyncWriteExt;
        let mut child = Command::new(binary(CONTROL_PLANE_BIN))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running {args:?}: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .await
                .unwrap_or_else(|e| panic!("writing to {args:?}: {e}"));
        }
        let output = child
            .wait_with_output()
            .await
            .unwrap_or_else(|e| panic!("running {args:?}: {e}"));
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    pub async fn enroll_token(&self, site: &str) -> String {
        self.enroll_token_with(site, &[]).await
    }

    pub async fn enroll_token_with(&self, site: &str, extra: &[&str]) -> String {
        let mut args = vec!["enroll-token", "--site", site];
        args.extend_from_slice(extra);
        let (ok, stdout, stderr) = self.command(&args).await;
        assert!(ok, "enroll-token failed: {stderr}");
        stdout.trim().to_owned()
    }

    pub fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}", self.grpc_port)
    }

    pub fn http(&self) -> Http {
        claudeops_pki::tls::install_crypto_provider();
        Http {
            base: self.url.clone(),
            token: self.token.clone(),
            client: reqwest::Client::new(),
        }
    }
}

/// A control plane and one enrolled, connected worker for `site` whose CLI talks
/// to the model at `model_base_url`.
pub async fn with_worker(site: &str, model_base_url: &str) -> (ControlPlane, Worker) {
    let cp = ControlPlane::start(&[]).await;
    let token = cp.enroll_token(site).await;
    let env = [
        ("ANTHROPIC_BASE_URL", model_base_url),
        ("ANTHROPIC_API_KEY", "test-key"),
    ];
    let worker = Worker::start(&cp, site, Some(&token), &env);
    worker.wait_connected().await;
    (cp, worker)
}

/// A worker process for a site, with its own state dir.
pub struct Worker {
    pub proc: Proc,
    pub state: TempDir,
}

impl Worker {
    /// Starts `claudeops-worker` for `site` against `cp`; `env` adds or overrides.
    pub fn start(
        cp: &ControlPlane,
        site: &str,
        token: Option<&str>,
        env: &[(&str, &str)],
    ) -> Worker {
        let state = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        Worker::start_in(cp, site, token, env, state)
    }

    pub fn start_in(
        cp: &ControlPlane,
        site: &str,
        token: Option<&str>,
        env: &[(&str, &str)],
        state: TempDir,
    ) -> Worker {
        let mut vars: Vec<(String, String)> = vec![
            ("CLAUDEOPS_CONTROL_PLANE".into(), cp.endpoint()),
            ("CLAUDEOPS_SITE".into(), site.into()),
            (
                "CLAUDEOPS_STATE_DIR".into(),
                state.path().display().to_string(),
            ),
            (
                "CLAUDEOPS_REPOS_DIR".into(),
                state.path().join("repos").display().to_string(),
            ),
            (
                "CLAUDEOPS_CLAUDE_BIN".into(),
                crate::cli::claude_bin().display().to_string(),
            ),
            // Tests run side by side on one Docker Engine: a worker watches only
            // the containers its test labels for it (`CLAUDEOPS_CONTAINER_LABEL`).
            ("CLAUDEOPS_DISCOVER_CONTAINERS".into(), "false".into()),
        ];
        if let Some(token) = token {
            vars.push(("CLAUDEOPS_ENROLL_TOKEN".into(), token.into()));
        }
        vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let proc = Proc::spawn(&format!("worker {site}"), &binary(WORKER_BIN), &[], &vars);
        Worker { proc, state }
    }

    /// [`Worker::start`], with its link dialling `endpoint` (say a fault proxy
    /// in front of `cp`'s gRPC listener) instead of `cp`; enrollment still
    /// goes straight to `cp`.
    pub fn start_via(
        cp: &ControlPlane,
        endpoint: &str,
        site: &str,
        token: Option<&str>,
        env: &[(&str, &str)],
    ) -> Worker {
        let mut vars = vec![("CLAUDEOPS_CONTROL_PLANE", endpoint)];
        vars.extend_from_slice(env);
        Worker::start(cp, site, token, &vars)
    }

    pub async fn wait_connected(&self) {
        self.proc
            .wait_for("welcomed by the control plane", Duration::from_secs(30))
            .await;
    }
}

/// A small API client with the control plane's token.
pub struct Http {
    pub base: String,
    pub token: String,
    pub client: reqwest::Client,
}

impl Http {
    /// `GET path` with the token (the dashboard is private by default).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET path` as text (a page, an exposition); empty when the body is not text.
    pub async fn text(&self, path: &str) -> String {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .text()
            .await
            .unwrap_or_default()
    }

    pub async fn post(&self, path: &str, body: &Value, auth: bool) -> (u16, Value) {
        let mut request = self.client.post(format!("{}{path}", self.base)).json(body);
        if auth {
            request = request.bearer_auth(&self.token);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls a session until it is no longer running.
    pub async fn wait_session_end(&self, id: i64, timeout: Duration) -> Value {
        match self.session_end_within(id, timeout).await {
            Ok(session) => session,
            Err(session) => panic!("session {id} still running after {timeout:?}: {session}"),
        }
    }

    /// Polls a session until it is no longer running; `Err` with the session
    /// as last read if it still runs after `timeout`.
    pub async fn session_end_within(&self, id: i64, timeout: Duration) -> Result<Value, Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (_, session) = self.get(&format!("/api/v1/sessions/{id}")).await;
            if session["status"] != "running" {
                return Ok(session);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(session);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens `GET path` as server-sent events; each item is (event, data, id).
    pub async fn sse(&self, path: &str) -> mpsc::Receiver<SseEvent> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(response.status().as_u16(), 200, "SSE {path}");
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(read_sse(response, tx));
        rx
    }
}

#[derive(Debug, Clone, Default)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
    pub id: Option<String>,
}

async fn read_sse(mut response: reqwest::Response, tx: mpsc::Sender<SseEvent>) {
    let mut buffer = String::new();
    let mut current = SseEvent::default();
    while let Ok(Some(chunk)) = response.chunk().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(newline) = buffer.find('\n') {
            let line: String = buffer.drain(..=newline).collect();
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                let has_content = !current.event.is_empty() || !current.data.is_empty();
                if has_content && tx.send(std::mem::take(&mut current)).await.is_err() {
                    return;
                }
                continue;
            }
            if let Some(v) = line.strip_prefix("event:") {
                current.event = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                if !current.data.is_empty() {
                    current.data.push('\n');
                }
                current.data.push_str(v.strip_prefix(' ').unwrap_or(v));
            } else if let Some(v) = line.strip_prefix("id:") {
                current.id = Some(v.trim().to_owned());
            }
        }
    }
}
