//! The original's repo formats, unchanged: a worker pointed at copies of the
//! fixture repos gives the real CLI each repo's `CLAUDE-OPS.md`, its checks and
//! the playbooks the tier may use, starts the repo's MCP server (a Python stdio
//! server in the fixture) only from the tier its manifest allows, reports MCP
//! name clashes as events, and keeps the repos byte-for-byte unchanged whatever
//! the model tries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use claudeops_tests::model::{Block, RecordedRequest, Script, ScriptedModel, Turn};
use claudeops_tests::system::{ControlPlane, Http, Worker};
use serde_json::{Value, json};

use crate::support::*;

const REPO_TOOL: &str = "mcp__ansible-inventory__list_hosts";

fn done(summary: &str) -> Turn {
    Turn::structured(json!({
        "summary": summary,
        "services_checked": [{"service": "nas01", "status": "healthy"}],
        "escalation": {"needed": false}
    }))
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos")
}

/// Copies the fixture repos into `to`, plus a repo whose MCP servers clash
/// with the worker's own and with `ansible-home`'s.
fn copy_repos(to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(fixtures())
        .arg(to)
        .status()
        .unwrap_or_else(|e| panic!("cp: {e}"));
    assert!(status.success(), "copying the fixture repos failed");
    let clash = to.join("zz-clash/.claude-ops");
    std::fs::create_dir_all(&clash).unwrap_or_else(|e| panic!("{e}"));
    let servers = json!({"mcpServers": {
        "ansible-inventory": {"command": "false"},
        "claudeops": {"command": "false"}
    }});
    std::fs::write(clash.join("mcp.json"), servers.to_string()).unwrap_or_else(|e| panic!("{e}"));
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{d:?}: {e}")) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
                out.insert(path, bytes);
            }
        }
    }
    out
}

async fn run(http: &Http, tier: u8) -> i64 {
    let (status, session) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "home", "prompt": format!("repo check at tier {tier}"), "start_tier": tier}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let id = session["id"].as_i64().unwrap_or_default();
    let ended = http.wait_session_end(id, WAIT).await;
    assert_eq!(ended["status"], "completed", "tier {tier}: {ended}");
    id
}

/// The model's requests of one tier, in turn order.
fn turns(model: &ScriptedModel, name: &str) -> Vec<RecordedRequest> {
    let mut requests = model.requests_for_model(name);
    requests.sort_by_key(RecordedRequest::assistant_turns);
    assert!(!requests.is_empty(), "{name} got no request");
    requests
}

#[tokio::test]
async fn repo_content_and_mcp_servers_reach_the_model_by_tier_and_repos_stay_read_only() {
    let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let repos = state.path().join("repos");
    copy_repos(&repos);
    let manifest = repos.join("ansible-home/CLAUDE-OPS.md");
    let write_input = json!({"file_path": manifest, "content": "pwned"});
    let model = ScriptedModel::start(vec![
        Script::new(vec![Turn::tool(REPO_TOOL, json!({})), done("tier 1 done")]).for_model("haiku"),
        Script::new(vec![
            Turn::tool(REPO_TOOL, json!({})),
            Turn::tool("Write", write_input),
            Turn::new(vec![Block::bash(&format!(
                "echo x > {}",
                manifest.display()
            ))]),
            done("tier 2 done"),
        ])
        .for_model("sonnet"),
        Script::new(vec![done("tier 3 done")]).for_model("opus"),
    ])
    .await;
    let before = snapshot(&repos);
    let cp = ControlPlane::start(&[]).await;
    let token = cp.enroll_token("home").await;
    let env = model_env(&model);
    let worker = Worker::start_in(&cp, "home", Some(&token), &as_refs(&env), state);
    worker.wait_connected().await;
    let http = cp.http();

    let t1 = run(&http, 1).await;
    let t2 = run(&http, 2).await;
    let t3 = run(&http, 3).await;

    // Tier 1: the manifest and checks, no repo playbook, no repo MCP tool.
    let haiku = turns(&model, "haiku");
    let text = haiku[0].text();
    for part in [
        "### Repo `ansible-home`",
        "Always use `--limit` when running playbooks",
        "`repos/ansible-home/checks/verify-backups.md`",
        "`repos/broken/checks/grafana-datasources.md`",
        "The media stack on nas01, run with Docker Compose",
    ] {
        assert!(text.contains(part), "tier 1 prompt lacks {part:?}:\n{text}");
    }
    assert!(!text.contains("fix-media-perms.md") && !text.contains("redeploy-stack.md"));
    assert!(
        !haiku[0]
            .tool_names()
            .iter()
            .any(|t| t.starts_with("mcp__ansible"))
    );
    let refused = haiku[1].tool_results();
    assert!(
        refused[0].is_error,
        "tier 1 called the repo tool: {refused:?}"
    );
    let ws1 = worker.state.path().join(format!("sessions/{t1}"));
    assert!(ws1.join("repos/ansible-home/checks/zfs-pool.md").is_file());
    assert!(!ws1.join("repos/ansible-home/playbooks").exists());

    // Tier 2: tier-2 playbooks and the repo server's tool, which really runs.
    let sonnet = turns(&model, "sonnet");
    let text = sonnet[0].text();
    assert!(
        text.contains(
            "`repos/ansible-home/playbooks/fix-media-perms.md`: Fix Media Permissions (tier 2+)"
        ),
        "{text}"
    );
    assert!(text.contains("`repos/broken/playbooks/restart-grafana.md`"));
    assert!(!text.contains("redeploy-stack.md") && !text.contains("bad-tier.md"));
    assert!(
        sonnet[0].tool_names().iter().any(|t| t == REPO_TOOL),
        "{:?}",
        sonnet[0].tool_names()
    );
    let listed = &sonnet[1].tool_results()[0];
    assert!(
        !listed.is_error && listed.content.contains("hosts: nas01, pve01, pi01"),
        "{listed:?}"
    );
    let ws2 = worker.state.path().join(format!("sessions/{t2}"));
    assert!(
        ws2.join("repos/ansible-home/playbooks/fix-media-perms.md")
            .is_file()
    );
    assert!(
        !ws2.join("repos/ansible-home/playbooks/redeploy-stack.md")
            .exists()
    );
    // The clashing definitions were left out: the fixture's server ran, not `false`.
    let mcp = std::fs::read_to_string(ws2.join("mcp.json")).unwrap_or_default();
    let mcp: Value = serde_json::from_str(&mcp).unwrap_or_default();
    assert_eq!(mcp["mcpServers"]["ansible-inventory"]["command"], "python3");
    assert_ne!(mcp["mcpServers"]["claudeops"]["command"], "false");

    // Writes into a repo fail, and the repos are byte-for-byte unchanged.
    let write = &sonnet[2].tool_results()[0];
    let echo = &sonnet[3].tool_results()[0];
    assert!(write.is_error, "Write into a repo: {write:?}");
    assert!(echo.is_error, "echo into a repo: {echo:?}");
    assert!(snapshot(&repos) == before, "a repo file changed");

    // Tier 3: every repo playbook, the bad tier line read as tier 3.
    let opus = turns(&model, "opus");
    let text = opus[0].text();
    for part in ["redeploy-stack.md", "bad-tier.md", "fix-media-perms.md"] {
        assert!(text.contains(part), "tier 3 prompt lacks {part}");
    }
    assert!(
        worker
            .state
            .path()
            .join(format!(
                "sessions/{t3}/repos/ansible-home/playbooks/redeploy-stack.md"
            ))
            .is_file()
    );

    // The clashes reached the control plane as events, naming the file.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, events) = http.get("/api/v1/events").await;
        let messages: Vec<String> = events["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"].as_str().map(str::to_owned))
            .filter(|m| m.contains("zz-clash/.claude-ops/mcp.json"))
            .collect();
        if messages.len() == 2 {
            assert!(messages.iter().any(|m| m.contains("`ansible-inventory`") && m.contains("repo `ansible-home`")), "{messages:?}");
            assert!(
                messages.iter().any(|m| m.contains("`claudeops`")),
                "{messages:?}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no clash events: {events}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
