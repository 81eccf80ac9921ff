//! A user's scripts of the original, checked by a tool that wrote neither
//! side: `schemathesis` runs the original's own OpenAPI document
//! (`tests/fixtures/original/openapi.yaml`, its read operations) against a
//! control plane holding the original's imported history. Every operation the
//! two share must answer as the original's contract says: documented statuses,
//! JSON bodies valid under its schemas, never a server error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use claudeops_tests::system::ControlPlane;
use serde_json::json;

/// The API token and the chat key (one value: the chat paths need the key).
const KEY: &str = "original-contract-key-0a8d6e2f41b97c35";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/original/openapi.yaml")
}

#[tokio::test]
async fn the_originals_openapi_document_holds_for_every_shared_read() {
    let tool = claudeops_tests::venv::tool("schemathesis");
    let cp = ControlPlane::start(&[
        ("CLAUDEOPS_API_TOKEN", KEY),
        ("CLAUDEOPS_CHAT_API_KEY", KEY),
        ("CLAUDEOPS_INTERVAL", "3600"),
    ])
    .await;
    // The original's history: sessions with their chains, events of every
    // level, memories (some without a service), cooldown actions.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let original = claudeops_tests::legacy::build_full(dir.path());
    let (ok, stdout, stderr) = cp
        .command(&["import-legacy", &original.display().to_string()])
        .await;
    assert!(ok, "import-legacy failed:\n{stdout}\n{stderr}");
    let http = cp.http();
    let memory = json!({"site": "local", "service": "web", "category": "port", "observation": "listens on 8080"});
    let (status, body) = http.post("/api/v1/memories", &memory, true).await;
    assert_eq!(status, 201, "{body}");

    let run = tokio::process::Command::new(&tool)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .arg("--no-color")
        .args(["run", &fixture().display().to_string()])
        .args(["--url", &cp.url])
        .args(["--header", &format!("Authorization: Bearer {KEY}")])
        .args(["--include-method", "GET"])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
        ])
        .args(["--max-examples", "30"])
        .args(["--seed", "20261204"])
        .args(["--request-timeout", "20"])
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .unwrap_or_else(|_| panic!("schemathesis ran for over 4 minutes"))
        .unwrap_or_else(|e| panic!("{}: {e}", tool.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "answers that break the original's contract ({:?}):\n{stdout}\n{stderr}",
        output.status
    );
    // All 11 of the original's GET operations were exercised.
    assert!(
        stdout.contains("Tested: 11"),
        "expected 11 operations:\n{stdout}"
    );
}
