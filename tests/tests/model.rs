//! Drives the real `claude` CLI against the scripted model: proves that the
//! model stand-in speaks the Messages API well enough for the CLI's tool loop,
//! permission checks, structured output and model selection, and pins the
//! stream-json line shapes that the worker parses.

use std::path::Path;

use claudeops_tests::cli::{ClaudeOutput, ClaudeRun};
use claudeops_tests::model::{
    Block, DONE_TEXT, STRUCTURED_OUTPUT_TOOL, Script, ScriptedModel, Turn,
};
use serde_json::{Value, json};

async fn run_ok(run: ClaudeRun) -> ClaudeOutput {
    let out = run.run().await.expect("claude runs");
    assert!(out.status.success(), "claude failed:\n{}", out.describe());
    out
}

fn result_line(out: &ClaudeOutput) -> &Value {
    out.result()
        .unwrap_or_else(|| panic!("no result line:\n{}", out.describe()))
}

fn assert_success(result: &Value, text: &str, turns: u64) {
    assert_eq!(result["subtype"], "success", "{result}");
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(result["result"], text, "{result}");
    assert_eq!(result["num_turns"], turns, "{result}");
    let cost = result["total_cost_usd"].as_f64().expect("total_cost_usd");
    assert!(cost > 0.0, "cost should be nonzero: {result}");
}

fn haiku(model: &ScriptedModel, prompt: &str, allowed: &str, cwd: &Path) -> ClaudeRun {
    ClaudeRun::new(model, prompt)
        .args(["--model", "haiku", "--allowedTools", allowed])
        .cwd(cwd)
}

#[tokio::test(flavor = "multi_thread")]
async fn bash_tool_use_runs_for_real_and_its_result_reaches_the_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("marker");
    let command = format!("touch {} && echo made-it", marker.display());
    let model = ScriptedModel::start(vec![Script::new(vec![
        Turn::text("Creating the marker.").and(Block::bash(&command)),
        Turn::text("all good"),
    ])])
    .await;

    let out = run_ok(haiku(&model, "make a marker", "Bash(touch:*)", dir.path())).await;

    assert!(
        marker.exists(),
        "`{command}` did not run:\n{}",
        out.describe()
    );
    let requests = model.message_requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert!(requests[0].text().contains("make a marker"));
    assert_eq!(requests[0].assistant_turns(), 0);
    assert_eq!(requests[1].assistant_turns(), 1);
    let results = requests[1].tool_results();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].tool_use_id, "toolu_scripted_00000001_1");
    assert_eq!(results[0].content, "made-it");
    assert!(!results[0].is_error, "{results:?}");
    assert_success(result_line(&out), "all good", 2);
    assert_stream_shapes(&out, dir.path());
}

/// The shapes of the lines the worker parses; see the report in the PR.
fn assert_stream_shapes(out: &ClaudeOutput, cwd: &Path) {
    let init = out.init().expect("init line");
    let session = init["session_id"].as_str().expect("session_id");
    assert!(init["model"].as_str().is_some_and(|m| m.contains("haiku")));
    assert_eq!(init["cwd"].as_str(), cwd.to_str());
    assert!(
        init["tools"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("Bash")))
    );

    let assistant = out.of_type("assistant");
    let tool_use = assistant
        .iter()
        .flat_map(|l| l["message"]["content"].as_array().into_iter().flatten())
        .find(|b| b["type"] == "tool_use")
        .expect("an assistant line with a tool_use block");
    assert_eq!(tool_use["name"], "Bash");
    assert_eq!(tool_use["id"], "toolu_scripted_00000001_1");
    assert!(assistant.iter().all(|l| l["session_id"] == session));

    let user = out.of_type("user");
    let tool_result = &user[0]["message"]["content"][0];
    assert_eq!(tool_result["type"], "tool_result");
    assert_eq!(tool_result["tool_use_id"], "toolu_scripted_00000001_1");
    assert_eq!(tool_result["content"], "made-it");
    assert_eq!(user[0]["tool_use_result"]["stdout"], "made-it");

    let result = result_line(out);
    assert_eq!(result["session_id"], session);
    assert!(result["duration_ms"].is_u64() && result["usage"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_outside_the_allow_list_is_denied_and_not_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("marker");
    let model = ScriptedModel::start(vec![Script::new(vec![
        Turn::bash(&format!("touch {}", marker.display())),
        Turn::text("could not"),
    ])])
    .await;

    let out = run_ok(haiku(&model, "make a marker", "Bash(echo:*)", dir.path())).await;

    assert!(
        !marker.exists(),
        "a denied command ran:\n{}",
        out.describe()
    );
    let requests = model.message_requests();
    let results = requests[1].tool_results();
    assert!(results[0].is_error, "{results:?}");
    let result = result_line(&out);
    let denials = result["permission_denials"].as_array().expect("denials");
    assert_eq!(denials.len(), 1, "{result}");
    assert_eq!(denials[0]["tool_name"], "Bash");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_schema_answer_arrives_as_structured_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let answer = json!({"status": "healthy", "checked": 3});
    let model =
        ScriptedModel::start(vec![Script::new(vec![Turn::structured(answer.clone())])]).await;
    let schema = json!({
        "type": "object",
        "properties": {"status": {"type": "string"}, "checked": {"type": "integer"}},
        "required": ["status", "checked"],
    });

    let out = run_ok(
        haiku(&model, "report health", "Bash(echo:*)", dir.path())
            .args(["--json-schema", &schema.to_string()]),
    )
    .await;

    let first = &model.message_requests()[0];
    assert!(
        first
            .tool_names()
            .iter()
            .any(|t| t == STRUCTURED_OUTPUT_TOOL)
    );
    let result = result_line(&out);
    assert_eq!(result["structured_output"], answer, "{result}");
    assert_eq!(result["is_error"], false, "{result}");
}

#[tokio::test(flavor = "multi_thread")]
async fn scripts_are_chosen_by_model_and_by_prompt_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = ScriptedModel::start(vec![
        Script::new(vec![Turn::text("disk script")]).containing("check the disks"),
        Script::new(vec![Turn::text("opus script")]).for_model("opus"),
        Script::new(vec![Turn::text("haiku script")]).for_model("haiku"),
    ])
    .await;
    let ask = |prompt: &str, name: &str| {
        ClaudeRun::new(&model, prompt)
            .args(["--model", name])
            .cwd(dir.path())
    };

    let opus = run_ok(ask("hello", "opus")).await;
    let haiku = run_ok(ask("hello", "haiku")).await;
    let disks = run_ok(ask("please check the disks", "opus")).await;

    assert_eq!(result_line(&opus)["result"], "opus script");
    assert_eq!(result_line(&haiku)["result"], "haiku script");
    assert_eq!(result_line(&disks)["result"], "disk script");
    assert_eq!(model.requests_for_model("haiku").len(), 1);
    assert_eq!(model.requests_for_model("opus").len(), 2);
    assert_eq!(model.requests_matching("check the disks").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_script_or_without_a_match_the_model_says_done() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = ScriptedModel::start(vec![
        Script::new(vec![Turn::bash("echo one")]).for_model("opus"),
    ])
    .await;

    let scripted = run_ok(
        ClaudeRun::new(&model, "go")
            .args(["--model", "opus", "--allowedTools", "Bash(echo:*)"])
            .cwd(dir.path()),
    )
    .await;
    let unmatched = run_ok(ClaudeRun::new(&model, "go").arg("--model").arg("haiku")).await;

    assert_success(result_line(&scripted), DONE_TEXT, 2);
    assert_success(result_line(&unmatched), DONE_TEXT, 1);
}

/// One HTTP/1.1 request over a fresh connection; returns the whole response.
async fn http(addr: std::net::SocketAddr, method: &str, path: &str, body: &Value) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.to_string();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nx-api-key: secret\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
}

fn json_body(response: &str) -> Value {
    let (_, body) = response.split_once("\r\n\r\n").expect("headers end");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn non_streaming_requests_and_other_endpoints_get_sensible_answers() {
    let model = ScriptedModel::start(vec![Script::new(vec![Turn::bash("uptime")])]).await;
    let request = json!({"model": "claude-x", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}]});

    let reply = json_body(&http(model.addr(), "POST", "/v1/messages", &request).await);
    let count = http(model.addr(), "POST", "/v1/messages/count_tokens", &request).await;
    let unknown = http(model.addr(), "GET", "/v1/files", &json!(null)).await;

    assert_eq!(reply["stop_reason"], "tool_use", "{reply}");
    assert_eq!(reply["content"][0]["input"]["command"], "uptime");
    assert!(reply["usage"]["input_tokens"].as_u64() > Some(0));
    assert!(
        json_body(&count)["input_tokens"].as_u64() > Some(0),
        "{count}"
    );
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    let recorded = model.requests();
    assert_eq!(recorded.len(), 3);
    assert_eq!(
        recorded[0].header("x-api-key"),
        None,
        "credentials recorded"
    );
    assert_eq!(recorded[0].body, request);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scripted_model_binary_serves_a_json_script_file() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let scripts = dir.path().join("scripts.json");
    let file = json!([{"model": "haiku", "turns": [[{"bash": "echo from-file"}], [{"text": "file done"}]]}]);
    std::fs::write(&scripts, file.to_string()).expect("write scripts");
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_claudeops-scripted-model"))
        .arg(&scripts)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the binary");
    let stdout = server.stdout.take().expect("stdout");
    let mut first = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut first)
        .await
        .expect("read the listening line");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let out = run_ok(
        ClaudeRun::at(url, "hi")
            .args(["--model", "haiku", "--allowedTools", "Bash(echo:*)"])
            .cwd(dir.path()),
    )
    .await;

    assert_success(result_line(&out), "file done", 2);
    let user = out.of_type("user");
    assert_eq!(user[0]["message"]["content"][0]["content"], "from-file");
}
