//! The typed actions end to end: the MCP server's protocol (in process, over a
//! real unix socket to a fake handler), and `run_action` against real containers
//! and a real compose project on this machine's Docker Engine, and real Ansible
//! playbooks (`redeploy`), with a fake ledger. Tests that need Docker or
//! `ansible-playbook` fail loudly without them.

#[path = "actions/redeploy.rs"]
mod redeploy;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use claudeops_core::Tier;
use claudeops_tests::docker::{self as td, Container};
use claudeops_worker::actions::{
    ActionContext, ActionHandler, ActionReply, ActionRequest, ActionSocket, Dispatcher, Docker,
    Ledger, Programs, Reservation, run_action,
};
use claudeops_worker::mcp::{self, McpEnv};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------- fakes

/// Grants the first `grants` reservations, then denies; records everything.
struct FakeLedger {
    grants: AtomicUsize,
    reserved: Mutex<Vec<(i64, String, String, Value)>>,
    finished: Mutex<Vec<(i64, bool, String, i64)>>,
}

impl FakeLedger {
    fn granting(grants: usize) -> Arc<FakeLedger> {
        Arc::new(FakeLedger {
            grants: AtomicUsize::new(grants),
            reserved: Mutex::new(Vec::new()),
            finished: Mutex::new(Vec::new()),
        })
    }

    fn reservations(&self) -> Vec<(i64, String, String, Value)> {
        self.reserved.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn finishes(&self) -> Vec<(i64, bool, String, i64)> {
        self.finished.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Ledger for FakeLedger {
    async fn reserve(
        &self,
        session_id: i64,
        kind: &str,
        service: &str,
        args: &Value,
    ) -> Result<Reservation, String> {
        let id = {
            let mut reserved = self.reserved.lock().map_err(|e| e.to_string())?;
            reserved.push((session_id, kind.into(), service.into(), args.clone()));
            reserved.len() as i64
        };
        let granted = self
            .grants
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if granted {
            Ok(Reservation { id })
        } else {
            Err(format!(
                "cooldown: {service} was already restarted 2 times in the last 4 hours"
            ))
        }
    }

    async fn finish(&self, reservation_id: i64, ok: bool, result: &str, duration_ms: i64) {
        if let Ok(mut finished) = self.finished.lock() {
            finished.push((reservation_id, ok, result.into(), duration_ms));
        }
    }
}

/// Records requests; answers ok unless the container is "bad"; "slow" waits.
#[derive(Default)]
struct FakeHandler {
    seen: Mutex<Vec<ActionRequest>>,
}

#[async_trait]
impl ActionHandler for FakeHandler {
    async fn handle(&self, request: ActionRequest) -> ActionReply {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(request.clone());
        }
        let container = request.arguments["container"].as_str().unwrap_or_default();
        if container == "slow" {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        ActionReply {
            ok: container != "bad",
            text: format!("handled {} for {}", request.tool, request.session_id),
        }
    }
}

impl FakeHandler {
    fn seen(&self) -> Vec<ActionRequest> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

// ---------------------------------------------------------------- MCP client

struct Client {
    write: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    lines: tokio::io::Lines<BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Client {
    fn start(env: McpEnv) -> Client {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (server_read, server_write) = tokio::io::split(server);
        let server = tokio::spawn(mcp::serve(BufReader::new(server_read), server_write, env));
        let (read, write) = tokio::io::split(client);
        Client {
            write,
            lines: BufReader::new(read).lines(),
            server,
        }
    }

    async fn send(&mut self, raw: &str) {
        ok(self.write.write_all(format!("{raw}\n").as_bytes()).await);
    }

    async fn recv(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no reply from the MCP server within 30 s"));
        let line = ok(line).unwrap_or_else(|| panic!("the MCP server closed stdout"));
        ok(serde_json::from_str(&line))
    }

    async fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send(&msg.to_string()).await;
        let reply = self.recv().await;
        assert_eq!(reply["id"], id, "{reply}");
        assert_eq!(reply["jsonrpc"], "2.0");
        reply
    }

    async fn call(&mut self, id: i64, tool: &str, arguments: Value) -> Value {
        let reply = self
            .request(
                id,
                "tools/call",
                json!({"name": tool, "arguments": arguments}),
            )
            .await;
        reply["result"].clone()
    }

    async fn close(mut self) {
        ok(self.write.shutdown().await);
        let done = tokio::time::timeout(Duration::from_secs(10), self.server).await;
        assert!(
            matches!(done, Ok(Ok(Ok(())))),
            "the server ends cleanly at the end of input: {done:?}"
        );
    }
}

fn env(tier: Option<Tier>, socket: Option<PathBuf>) -> McpEnv {
    McpEnv {
        tier,
        session_id: Some(42),
        socket,
        call_timeout: Duration::from_secs(60),
        browser: false,
    }
}

fn text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

// ---------------------------------------------------------------- MCP tests

#[tokio::test]
async fn mcp_handshake_and_protocol_errors() {
    let mut client = Client::start(env(Some(Tier::Remediate), None));
    let init = client
        .request(
            1,
            "initialize",
            json!({"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        )
        .await;
    assert_eq!(init["result"]["protocolVersion"], "2025-03-26");
    assert_eq!(init["result"]["serverInfo"]["name"], "claudeops");
    assert!(init["result"]["serverInfo"]["version"].is_string());
    assert_eq!(init["result"]["capabilities"], json!({"tools": {}}));

    let newer = client
        .request(2, "initialize", json!({"protocolVersion": "2099-01-01"}))
        .await;
    assert_eq!(newer["result"]["protocolVersion"], "2025-06-18");

    // A notification gets no reply: the next line is the ping's.
    client
        .send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;
    let ping = client.request(3, "ping", json!({})).await;
    assert_eq!(ping["result"], json!({}));

    client.send("{this is not json").await;
    let bad = client.recv().await;
    assert_eq!(bad["error"]["code"], -32700, "{bad}");
    assert_eq!(bad["id"], Value::Null);

    let unknown = client.request(4, "resources/list", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");

    let no_tool = client
        .request(5, "tools/call", json!({"name": "rm_rf", "arguments": {}}))
        .await;
    assert_eq!(no_tool["error"]["code"], -32602, "{no_tool}");

    client.send("[1, 2]").await;
    assert_eq!(client.recv().await["error"]["code"], -32600);

    // Still serving after all that.
    assert_eq!(
        client.request(6, "ping", Value::Null).await["result"],
        json!({})
    );
    client.close().await;
}

#[tokio::test]
async fn mcp_lists_only_the_tiers_tools() {
    let cases: [(Option<Tier>, &[&str]); 4] = [
        (None, &[]),
        (Some(Tier::Observe), &[]),
        (Some(Tier::Investigate), &["restart_container"]),
        (
            Some(Tier::Remediate),
            &["restart_container", "redeploy_service"],
        ),
    ];
    for (tier, want) in cases {
        let mut client = Client::start(env(tier, None));
        let list = client.request(1, "tools/list", json!({})).await;
        let tools = list["result"]["tools"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
        assert_eq!(names, want, "tier {tier:?}");
        for tool in &tools {
            assert!(tool["description"].as_str().is_some_and(|d| d.len() > 40));
            assert_eq!(tool["inputSchema"]["type"], "object");
            let required = tool["inputSchema"]["required"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(required.contains(&json!("reason")), "{tool}");
        }
        client.close().await;
    }
}

#[tokio::test]
async fn mcp_forwards_calls_to_the_worker_socket() {
    let dir = ok(tempfile::tempdir());
    let path = dir.path().join("actions.sock");
    let handler = Arc::new(FakeHandler::default());
    let socket = ok(ActionSocket::bind(&path));
    tokio::spawn(socket.serve(handler.clone()));

    let mut client = Client::start(env(Some(Tier::Investigate), Some(path.clone())));
    let args = json!({"container": "web", "reason": "down since 10:02"});
    let result = client.call(1, "restart_container", args.clone()).await;
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["content"][0]["type"], "text");
    assert_eq!(text(&result), "handled restart_container for 42");
    let seen = handler.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].session_id, 42);
    assert_eq!(seen[0].tool, "restart_container");
    assert_eq!(seen[0].arguments, args);

    let failed = client
        .call(
            2,
            "restart_container",
            json!({"container": "bad", "reason": "x"}),
        )
        .await;
    assert_eq!(failed["isError"], true, "{failed}");

    // Above the tier: refused here, never forwarded.
    let above = client
        .call(
            3,
            "redeploy_service",
            json!({"service": "web", "reason": "x"}),
        )
        .await;
    assert_eq!(above["isError"], true);
    assert!(text(&above).contains("needs tier 3"), "{above}");
    assert_eq!(handler.seen().len(), 2);

    // A slow call does not hold up a ping: calls run concurrently.
    client
        .send(
            &json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                "params": {"name": "restart_container", "arguments": {"container": "slow", "reason": "x"}}})
            .to_string(),
        )
        .await;
    client
        .send(r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#)
        .await;
    assert_eq!(client.recv().await["id"], 5);
    let slow = client.recv().await;
    assert_eq!(slow["id"], 4);
    assert_eq!(slow["result"]["isError"], false);
    client.close().await;
}

#[tokio::test]
async fn mcp_reports_an_unreachable_worker() {
    let dir = ok(tempfile::tempdir());
    let mut client = Client::start(env(
        Some(Tier::Remediate),
        Some(dir.path().join("missing.sock")),
    ));
    let result = client
        .call(
            1,
            "restart_container",
            json!({"container": "web", "reason": "x"}),
        )
        .await;
    assert_eq!(result["isError"], true);
    assert!(text(&result).contains("cannot reach"), "{result}");

    let mut nowhere = Client::start(McpEnv {
        socket: None,
        ..env(Some(Tier::Remediate), None)
    });
    let result = nowhere
        .call(
            1,
            "restart_container",
            json!({"container": "web", "reason": "x"}),
        )
        .await;
    assert_eq!(result["isError"], true);
    assert!(
        text(&result).contains("CLAUDEOPS_ACTIONS_SOCKET"),
        "{result}"
    );
    client.close().await;
    nowhere.close().await;
}

#[tokio::test]
async fn action_socket_is_private_replaces_stale_sockets_and_answers_junk() {
    use std::os::unix::fs::PermissionsExt;
    let dir = ok(tempfile::tempdir());
    let path = dir.path().join("a.sock");
    let first = ok(ActionSocket::bind(&path));
    let mode = ok(std::fs::metadata(&path)).permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A socket left behind (the old worker died) is replaced.
    std::mem::forget(first);
    let socket = ok(ActionSocket::bind(&path));
    assert_eq!(socket.path(), path);
    // Never anything that is not a socket.
    let file = dir.path().join("file");
    ok(std::fs::write(&file, "x"));
    assert!(ActionSocket::bind(&file).is_err());
    assert!(file.exists());

    let handler = Arc::new(FakeHandler::default());
    tokio::spawn(socket.serve(handler.clone()));
    let stream = ok(tokio::net::UnixStream::connect(&path).await);
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    ok(write.write_all(b"not json\n").await);
    let reply: ActionReply = ok(serde_json::from_str(
        &ok(lines.next_line().await).unwrap_or_default(),
    ));
    assert!(!reply.ok);
    assert!(reply.text.contains("malformed"), "{}", reply.text);
    // The same connection keeps working.
    let request =
        json!({"session_id": 7, "tool": "restart_container", "arguments": {"container": "web"}});
    ok(write.write_all(format!("{request}\n").as_bytes()).await);
    let reply: ActionReply = ok(serde_json::from_str(
        &ok(lines.next_line().await).unwrap_or_default(),
    ));
    assert!(reply.ok, "{}", reply.text);
    assert_eq!(handler.seen().len(), 1);

    // Dropping a socket removes its file.
    let other = dir.path().join("b.sock");
    drop(ok(ActionSocket::bind(&other)));
    assert!(!other.exists());
}

#[tokio::test]
async fn dispatcher_acts_only_for_registered_sessions_at_their_tier() {
    let ledger = FakeLedger::granting(5);
    let dispatcher = Dispatcher::new(ledger.clone(), Docker::default());
    let request = |session_id| ActionRequest {
        session_id,
        tool: "restart_container".into(),
        arguments: json!({"container": "web", "reason": "x"}),
    };
    let reply = dispatcher.handle(request(1)).await;
    assert!(!reply.ok);
    assert!(
        reply.text.contains("not running on this worker"),
        "{}",
        reply.text
    );
    dispatcher.register(
        1,
        ActionContext {
            tier: Tier::Observe,
            dry_run: false,
            repos_dir: PathBuf::from("/nonexistent"),
            span: tracing::Span::none(),
            notes: None,
        },
    );
    let reply = dispatcher.handle(request(1)).await;
    assert!(reply.text.contains("needs tier 2"), "{}", reply.text);
    dispatcher.unregister(1);
    assert!(
        dispatcher
            .handle(request(1))
            .await
            .text
            .contains("not running")
    );
    assert!(ledger.reservations().is_empty());
}

// ---------------------------------------------------------------- real containers

fn ctx(tier: Tier, dry_run: bool, repos_dir: &Path) -> ActionContext {
    ActionContext {
        tier,
        dry_run,
        repos_dir: repos_dir.to_path_buf(),
        span: tracing::Span::none(),
        notes: None,
    }
}

fn req(tool: &str, arguments: Value) -> ActionRequest {
    ActionRequest {
        session_id: 9,
        tool: tool.into(),
        arguments,
    }
}

fn healthy_container(prefix: &str) -> Container {
    Container::run(
        prefix,
        &["--health-cmd", "test -e /tmp", "--health-interval", "1s"],
        &["sleep", "infinity"],
    )
}

#[tokio::test]
async fn restart_restarts_and_verifies_health() {
    let c = healthy_container("co-act-restart");
    let before = c.started_at();
    let ledger = FakeLedger::granting(1);
    let reply = run_action(
        req(
            "restart_container",
            json!({"container": c.name, "service": "web", "reason": "hung"}),
        ),
        &ctx(Tier::Investigate, false, Path::new("/nonexistent")),
        ledger.as_ref(),
        &Programs::default(),
    )
    .await;
    eprintln!("reply: {}", reply.text);
    assert!(reply.ok, "{}", reply.text);
    assert!(reply.text.contains("running and healthy"), "{}", reply.text);
    assert_ne!(c.started_at(), before, "the container was restarted");
    assert_eq!(c.inspect("{{.State.Health.Status}}"), "healthy");
    let reserved = ledger.reservations();
    assert_eq!(reserved.len(), 1);
    assert_eq!(reserved[0].0, 9);
    assert_eq!(reserved[0].1, "restart");
    assert_eq!(reserved[0].2, "web", "the service is the ledger key");
    assert_eq!(reserved[0].3["container"], c.name);
    let finished = ledger.finishes();
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].0, 1);
    assert!(finished[0].1);
    assert_eq!(finished[0].2, reply.text);
    assert!(finished[0].3 > 0);
}

#[tokio::test]
async fn restart_of_a_crashing_container_reports_it_down() {
    let c = Container::run("co-act-crash", &[], &["sh", "-c", "echo boom >&2; exit 3"]);
    let ledger = FakeLedger::granting(1);
    let reply = run_action(
        req(
            "restart_container",
            json!({"container": c.name, "reason": "exited"}),
        ),
        &ctx(Tier::Remediate, false, Path::new("/nonexistent")),
        ledger.as_ref(),
        &Programs::default(),
    )
    .await;
    eprintln!("reply: {}", reply.text);
    assert!(!reply.ok, "{}", reply.text);
    assert!(
        reply
            .text
            .contains("not running after restart: exit code 3"),
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains("boom"),
        "logs are shown: {}",
        reply.text
    );
    assert_eq!(
        ledger.reservations()[0].2,
        c.name,
        "service defaults to the container"
    );
    let finished = ledger.finishes();
    assert_eq!(finished.len(), 1);
    assert!(!finished[0].1, "recorded as failed");
}

#[tokio::test]
async fn unknown_and_invalid_targets_use_no_slot() {
    td::ensure_image();
    let ledger = FakeLedger::granting(5);
    let programs = Programs::default();
    let context = ctx(Tier::Remediate, false, Path::new("/nonexistent"));
    let missing = td::unique("co-act-missing");
    let reply = run_action(
        req(
            "restart_container",
            json!({"container": missing, "reason": "x"}),
        ),
        &context,
        ledger.as_ref(),
        &programs,
    )
    .await;
    assert!(!reply.ok);
    assert!(reply.text.contains("no container named"), "{}", reply.text);

    let bad_args = [
        json!({"container": "web; docker rm -f db", "reason": "x"}),
        json!({"container": "../etc", "reason": "x"}),
        json!({"container": "-v", "reason": "x"}),
        json!({"container": "", "reason": "x"}),
        json!({"container": "web", "service": "a b", "reason": "x"}),
        json!({"container": "web"}),
        json!({"container": "web", "reason": "x", "force": true}),
        json!({"container": 5, "reason": "x"}),
    ];
    for args in bad_args {
        let reply = run_action(
            req("restart_container", args.clone()),
            &context,
            ledger.as_ref(),
            &programs,
        )
        .await;
        assert!(!reply.ok, "{args}");
        assert!(
            reply.text.contains("Nothing was done"),
            "{args}: {}",
            reply.text
        );
    }
    let reply = run_action(
        req("docker_rm", json!({})),
        &context,
        ledger.as_ref(),
        &programs,
    )
    .await;
    assert!(!reply.ok);
    assert!(reply.text.contains("unknown action"));
    assert!(ledger.reservations().is_empty());
}

#[tokio::test]
async fn tier_one_is_refused_and_dry_run_changes_nothing() {
    let c = healthy_container("co-act-dry");
    let before = c.started_at();
    let ledger = FakeLedger::granting(5);
    let programs = Programs::default();
    let args = json!({"container": c.name, "reason": "x"});
    let reply = run_action(
        req("restart_container", args.clone()),
        &ctx(Tier::Observe, false, Path::new("/nonexistent")),
        ledger.as_ref(),
        &programs,
    )
    .await;
    assert!(!reply.ok);
    assert!(reply.text.contains("needs tier 2"), "{}", reply.text);

    let reply = run_action(
        req("restart_container", args),
        &ctx(Tier::Investigate, true, Path::new("/nonexistent")),
        ledger.as_ref(),
        &programs,
    )
    .await;
    assert!(reply.ok, "{}", reply.text);
    assert!(
        reply
            .text
            .starts_with(&format!("dry run: would restart container {}", c.name)),
        "{}",
        reply.text
    );
    assert_eq!(c.started_at(), before);
    assert!(ledger.reservations().is_empty());
}

#[tokio::test]
async fn a_denial_is_passed_through_and_nothing_happens() {
    let c = healthy_container("co-act-denied");
    let before = c.started_at();
    let ledger = FakeLedger::granting(0);
    let reply = run_action(
        req(
            "restart_container",
            json!({"container": c.name, "reason": "x"}),
        ),
        &ctx(Tier::Investigate, false, Path::new("/nonexistent")),
        ledger.as_ref(),
        &Programs::default(),
    )
    .await;
    assert!(!reply.ok);
    assert!(
        reply.text.contains("already restarted 2 times"),
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains("needs human attention"),
        "{}",
        reply.text
    );
    assert_eq!(c.started_at(), before);
    assert_eq!(ledger.reservations().len(), 1);
    assert!(ledger.finishes().is_empty());
}

// ---------------------------------------------------------------- compose

/// A copy of the fixture repos under a unique repo name, brought down on drop.
struct Project {
    repos: tempfile::TempDir,
    repo: String,
    project: String,
    compose: Vec<String>,
}

impl Project {
    async fn up() -> Project {
        td::ensure_image();
        let compose = ok(Docker::default().compose_command().await);
        let compose: Vec<String> = std::iter::once(compose.program.display().to_string())
            .chain(compose.prefix)
            .collect();
        let repos = ok(tempfile::tempdir());
        let repo = td::unique("CoApp").replace('-', "_");
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repos");
        ok(std::fs::create_dir_all(repos.path().join(&repo)));
        ok(std::fs::copy(
            fixtures.join("app/compose.yaml"),
            repos.path().join(&repo).join("compose.yaml"),
        ));
        ok(std::fs::create_dir_all(repos.path().join("chart-only")));
        ok(std::fs::copy(
            fixtures.join("chart-only/Chart.yaml"),
            repos.path().join("chart-only/Chart.yaml"),
        ));
        let project = repo.to_lowercase();
        let p = Project {
            repos,
            repo,
            project,
            compose,
        };
        p.run(&["up", "-d"]);
        p
    }

    fn dir(&self) -> PathBuf {
        self.repos.path().join(&self.repo)
    }

    fn run(&self, args: &[&str]) -> bool {
        let mut all = vec![
            "-f".to_owned(),
            self.dir().join("compose.yaml").display().to_string(),
            "-p".to_owned(),
            self.project.clone(),
        ];
        all.extend(args.iter().map(|s| (*s).to_owned()));
        let out = ok(Command::new(&self.compose[0])
            .args(&self.compose[1..])
            .args(&all)
            .output());
        if !out.status.success() {
            eprintln!(
                "compose {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out.status.success()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        self.run(&["down", "--timeout", "1"]);
    }
}

fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = ok(std::fs::read_dir(dir))
        .filter_map(Result::ok)
        .map(|e| {
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            (e.file_name().to_string_lossy().into_owned(), len)
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn redeploy_brings_a_stopped_compose_service_back() {
    let project = Project::up().await;
    let programs = Programs::default();
    let docker = &programs.docker;
    let containers = ok(docker.compose_containers(&project.project, "web").await);
    assert_eq!(containers.len(), 1, "{containers:?}");
    td::must(&["stop", "--time", "1", &containers[0]]);
    assert_eq!(
        td::must(&["inspect", "-f", "{{.State.Running}}", &containers[0]]),
        "false"
    );
    let files_before = listing(&project.dir());

    let ledger = FakeLedger::granting(1);
    let context = ctx(Tier::Remediate, false, project.repos.path());
    let reply = run_action(
        req(
            "redeploy_service",
            json!({"service": "web", "reason": "container stopped"}),
        ),
        &context,
        ledger.as_ref(),
        &programs,
    )
    .await;
    eprintln!("reply: {}", reply.text);
    assert!(reply.ok, "{}", reply.text);
    assert!(reply.text.contains("running and healthy"), "{}", reply.text);
    assert!(reply.text.contains(&project.repo), "{}", reply.text);
    let containers = ok(docker.compose_containers(&project.project, "web").await);
    assert_eq!(containers.len(), 1);
    assert_eq!(
        td::must(&["inspect", "-f", "{{.State.Health.Status}}", &containers[0]]),
        "healthy"
    );
    let reserved = ledger.reservations();
    assert_eq!(reserved.len(), 1);
    assert_eq!(reserved[0].1, "redeploy");
    assert_eq!(reserved[0].2, "web");
    assert_eq!(reserved[0].3["project"], project.project);
    let finished = ledger.finishes();
    assert_eq!(finished.len(), 1);
    assert!(finished[0].1);
    assert_eq!(
        listing(&project.dir()),
        files_before,
        "the repo is not written"
    );

    // None of these reach the ledger.
    let dry = run_action(
        req(
            "redeploy_service",
            json!({"service": "web", "repo": project.repo, "reason": "x"}),
        ),
        &ctx(Tier::Remediate, true, project.repos.path()),
        ledger.as_ref(),
        &programs,
    )
    .await;
    assert!(dry.ok, "{}", dry.text);
    assert!(
        dry.text.starts_with("dry run: would redeploy service web"),
        "{}",
        dry.text
    );
    assert!(dry.text.contains("up -d --no-deps web"), "{}", dry.text);

    let helm = run_action(
        req(
            "redeploy_service",
            json!({"service": "web", "repo": "chart-only", "reason": "x"}),
        ),
        &context,
        ledger.as_ref(),
        &programs,
    )
    .await;
    eprintln!("helm: {}\ndry: {}", helm.text, dry.text);
    assert!(!helm.ok);
    assert!(
        helm.text
            .starts_with("repo chart-only has no Helm chart for `web`"),
        "{}",
        helm.text
    );
    assert!(
        helm.text.contains("no cooldown slot was used"),
        "{}",
        helm.text
    );

    let unknown = run_action(
        req(
            "redeploy_service",
            json!({"service": "nope", "reason": "x"}),
        ),
        &context,
        ledger.as_ref(),
        &programs,
    )
    .await;
    eprintln!("unknown: {}", unknown.text);
    assert!(!unknown.ok);
    assert!(
        unknown.text.contains("defines service `nope`"),
        "{}",
        unknown.text
    );
    assert!(
        unknown.text.contains("chart-only (Helm)"),
        "{}",
        unknown.text
    );

    let tier2 = run_action(
        req("redeploy_service", json!({"service": "web", "reason": "x"})),
        &ctx(Tier::Investigate, false, project.repos.path()),
        ledger.as_ref(),
        &programs,
    )
    .await;
    assert!(!tier2.ok);
    assert!(tier2.text.contains("needs tier 3"), "{}", tier2.text);
    assert_eq!(ledger.reservations().len(), 1);

    // A restart of a Compose container is keyed by its service label, whatever
    // the call says (here refused, so nothing restarts).
    let denying = FakeLedger::granting(0);
    let reply = run_action(
        req(
            "restart_container",
            json!({"container": containers[0], "service": "not-web", "reason": "x"}),
        ),
        &context,
        denying.as_ref(),
        &programs,
    )
    .await;
    assert!(!reply.ok);
    assert_eq!(denying.reservations()[0].2, "web");
}
