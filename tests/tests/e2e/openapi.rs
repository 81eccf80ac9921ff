//! The HTTP surface against its OpenAPI document, checked by a tool that did
//! not write it: `schemathesis` (PyPI, in the venv `tests/setup.sh` makes)
//! generates requests for every operation of `/api/openapi.json` and sends
//! them to a real control plane that holds the original's imported history,
//! an incident, a memory and a settings change. Every answer must be no
//! server error the design does not call for, and have a documented status,
//! content type and body.
//!
//! No worker is connected, so no question, trigger or alert starts a session
//! (they answer 503 or queue); the model upstream is a closed loopback port
//! and notifications go to `true`, so nothing leaves 127.0.0.1.

use std::time::{Duration, Instant};

use claudeops_tests::system::ControlPlane;
use serde_json::{Value, json};

/// The API token and the chat key (one value, so generated requests carry both).
const KEY: &str = "openapi-check-key-5f0c9b1e2d7a4c68";

/// Test cases per operation and phase: enough to reach every documented
/// answer, few enough for a run of well under two minutes on two cores.
const EXAMPLES: &str = "40";

/// A loopback port nothing listens on: a request to it is refused at once.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("{e}"))
        .port()
}

/// What the design answers with a 5xx in this set-up (schemathesis fails any
/// other 5xx, documented or not): 502 while the model upstream is down, 503
/// while no worker is connected.
const EXPECTED_SERVER_ERRORS: &[(&str, &str)] = &[
    ("GET /api/v1/models/available", "502"),
    ("POST /api/v1/models/available/refresh", "502"),
    ("POST /api/v1/sessions/trigger", "503"),
    ("POST /v1/chat/completions", "503"),
    ("POST /api/chat", "503"),
    ("POST /api/generate", "503"),
];

fn config(session: i64) -> String {
    let mut toml = String::new();
    for (operation, status) in EXPECTED_SERVER_ERRORS {
        toml.push_str(&format!(
            "[[operations]]\ninclude-name = \"{operation}\"\n\
             checks.not_a_server_error.expected-statuses = [\"2xx\", \"3xx\", \"4xx\", \"{status}\"]\n\n"
        ));
    }
    // The session pages and stream of a session that exists, so their
    // answers are checked with real data (a finished session's stream ends).
    toml.push_str(&format!(
        "[[operations]]\ninclude-path-regex = \"^/(api/v1/)?sessions/\\\\{{id\\\\}}\"\n\
         parameters = {{ \"path.id\" = {session} }}\n"
    ));
    toml
}

/// The original's history, an incident from an alert, a memory and a change
/// of settings; returns the id of an imported (finished) session.
async fn seed(cp: &ControlPlane) -> i64 {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let original = claudeops_tests::legacy::build_full(dir.path());
    let (ok, stdout, stderr) = cp
        .command(&["import-legacy", &original.display().to_string()])
        .await;
    assert!(ok, "import-legacy failed:\n{stdout}\n{stderr}");
    let http = cp.http();
    let alert = json!({
        "version": "4", "status": "firing", "receiver": "claude-ops",
        "alerts": [{ "status": "firing", "labels": { "alertname": "WebDown", "service": "web" },
                     "annotations": { "summary": "web answers 502" } }],
    });
    let (status, body) = http.post("/api/v1/webhook?site=local", &alert, true).await;
    assert_eq!(status, 202, "{body}");
    let memory = json!({ "site": "local", "service": "web", "category": "port", "observation": "listens on 8080" });
    let (status, body) = http.post("/api/v1/memories", &memory, true).await;
    assert_eq!(status, 201, "{body}");
    let response = http
        .client
        .put(format!("{}/api/v1/config", http.base))
        .bearer_auth(&http.token)
        .json(&json!({ "max_tier": 2 }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT /api/v1/config: {e}"));
    assert_eq!(response.status().as_u16(), 200);
    let (status, body) = http.get("/api/v1/sessions?limit=500").await;
    assert_eq!(status, 200, "{body}");
    body["sessions"]
        .as_array()
        .and_then(|s| s.iter().filter_map(|s| s["id"].as_i64()).min())
        .unwrap_or_else(|| panic!("no session was imported: {body}"))
}

#[tokio::test]
async fn every_operation_conforms_to_the_openapi_document() {
    let tool = claudeops_tests::venv::tool("schemathesis");
    let upstream = format!("http://127.0.0.1:{}", closed_port());
    let cp = ControlPlane::start(&[
        ("CLAUDEOPS_API_TOKEN", KEY),
        ("CLAUDEOPS_CHAT_API_KEY", KEY),
        ("ANTHROPIC_BASE_URL", &upstream),
        ("CLAUDEOPS_APPRISE_BIN", "/usr/bin/true"),
    ])
    .await;
    let session = seed(&cp).await;
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config_file = work.path().join("schemathesis.toml");
    std::fs::write(&config_file, config(session)).unwrap_or_else(|e| panic!("{e}"));
    // The document is private like every read; fetch it with the token.
    let document = work.path().join("openapi.json");
    let text = cp.http().text("/api/openapi.json").await;
    assert!(text.starts_with('{'), "the document: {text}");
    std::fs::write(&document, text).unwrap_or_else(|e| panic!("{e}"));
    let document = document.display().to_string();
    let started = Instant::now();
    let run = || {
        tokio::process::Command::new(&tool)
            .current_dir(work.path())
            .env("NO_COLOR", "1")
            .arg("--no-color")
            .arg("--config-file")
            .arg(&config_file)
            .args(["run", &document])
            .args(["--url", &cp.url])
            .args(["--header", &format!("Authorization: Bearer {KEY}")])
            .args([
                "--checks",
                "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            ])
            .args(["--max-examples", EXAMPLES])
            .args(["--seed", "20261204"])
            .args(["--request-timeout", "20"])
            // The change stream never ends by itself (it follows the fleet), so a
            // request of it can only time out; its answers are checked against the
            // document in-process (`inprocess/openapi.rs`) and in the browser.
            .args(["--exclude-path", "/api/v1/changes"])
            .args(["--workers", "2"])
            .output()
    };
    let mut output = tokio::time::timeout(Duration::from_secs(240), run())
        .await
        .unwrap_or_else(|_| panic!("schemathesis ran for over 4 minutes"))
        .unwrap_or_else(|e| panic!("{}: {e}", tool.display()));
    // CPython 3.11's `ast` module counts its recursion depth in one place for
    // every thread; two workers describing Hypothesis lambdas at once can
    // trip it ("AST constructor recursion depth mismatch"), a crash of the
    // tool before any request is judged. Only that is run again, once.
    if !output.status.success()
        && String::from_utf8_lossy(&output.stdout)
            .contains("AST constructor recursion depth mismatch")
    {
        eprintln!("schemathesis crashed in CPython's ast module; running it again");
        output = tokio::time::timeout(Duration::from_secs(240), run())
            .await
            .unwrap_or_else(|_| panic!("schemathesis ran for over 4 minutes"))
            .unwrap_or_else(|e| panic!("{}: {e}", tool.display()));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found answers that break the document ({:?}):\n{stdout}\n{stderr}\n\
         the control plane's log:\n{}",
        output.status,
        cp.proc.log()
    );
    // It tested every operation (all but the change stream, left out above;
    // the document is read from a file, so its own path is tested too).
    let operations = serde_json::from_str::<Value>(&cp.http().text("/api/openapi.json").await)
        .unwrap_or_default()["paths"]
        .as_object()
        .map_or(0, |paths| {
            paths
                .values()
                .filter_map(Value::as_object)
                .map(serde_json::Map::len)
                .sum::<usize>()
        });
    let tested = format!("Tested: {}", operations - 1);
    assert!(stdout.contains(&tested), "expected {tested:?}:\n{stdout}");
    eprintln!("schemathesis passed in {:?}:\n{stdout}", started.elapsed());
}
