//! A session from trigger to result: the worker runs the real CLI, output streams
//! live over server-sent events, and bad input is handled.

use std::time::{Duration, Instant};

use claudeops_tests::model::{Script, ScriptedModel, Turn};
use claudeops_tests::system::ControlPlane;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn a_triggered_session_runs_the_cli_on_the_worker_and_streams_live() {
    let model = ScriptedModel::start(vec![Script::new(vec![
        Turn::text("Checking the host.").and(claudeops_tests::model::Block::bash(
            "sleep 1; echo e2e-marker-$((6*7))",
        )),
        Turn::structured(json!({"summary": "The host is fine.", "escalation": {"needed": false}})),
    ])])
    .await;
    let cp = ControlPlane::start(&[]).await;
    let env = model_env(&model);
    let worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let http = cp.http();

    // Without the token: 401, and nothing starts.
    let (status, body) = http
        .post("/api/v1/sessions/trigger", &json!({"site": "home"}), false)
        .await;
    assert_eq!(status, 401, "{body}");
    let (_, sessions) = http.get("/api/v1/sessions").await;
    assert_eq!(
        sessions["sessions"].as_array().map(Vec::len),
        Some(0),
        "{sessions}"
    );

    let started = Instant::now();
    let (status, session) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "home", "prompt": "look at the host", "start_tier": 1}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let id = session["id"].as_i64().unwrap_or_default();
    for field in [
        "id",
        "site",
        "tier",
        "model",
        "status",
        "trigger",
        "cost_usd",
        "num_turns",
        "started_at",
        "ended_at",
    ] {
        assert!(session.get(field).is_some(), "missing {field} in {session}");
    }
    assert_eq!(session["status"], "running");
    assert_eq!(session["trigger_detail"], "api");
    assert_eq!(session["trigger"], "manual", "the original's word");
    assert_eq!(session["model"], "haiku");

    // A second trigger while busy is answered at once with 409 and a reason.
    let asked = Instant::now();
    let (status, busy) = http
        .post("/api/v1/sessions/trigger", &json!({"site": "home"}), true)
        .await;
    assert_eq!(status, 409, "{busy}");
    assert_eq!(busy["running_session_id"], id);
    assert!(
        busy["error"]
            .as_str()
            .unwrap_or_default()
            .contains("running session")
    );
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "409 must not wait for the session"
    );

    let mut stream = http.sse(&format!("/sessions/{id}/stream")).await;
    let mut seen = Vec::new();
    let first = next_matching(&mut stream, &mut seen, |e| e.event == "line").await;
    let first_line_after = started.elapsed();
    assert_eq!(first.id.as_deref(), Some("1"));
    let output = next_matching(&mut stream, &mut seen, |e| {
        e.event == "line"
            && line_data(e)["events"].as_array().is_some_and(|evs| {
                evs.iter().any(|ev| {
                    ev["kind"] == "tool_result"
                        && ev["content"]
                            .as_str()
                            .is_some_and(|c| c.contains("e2e-marker-42"))
                })
            })
    })
    .await;
    assert_eq!(line_data(&output)["malformed"], false);
    let status = next_matching(&mut stream, &mut seen, |e| e.event == "status").await;
    assert_eq!(line_data(&status)["status"], "completed", "{seen:#?}");
    let seqs: Vec<i64> = seen
        .iter()
        .filter(|e| e.event == "line")
        .filter_map(|e| line_data(e)["seq"].as_i64())
        .collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(seqs, sorted, "lines arrive once each, in order");

    let done = http.wait_session_end(id, WAIT).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(
        done["num_turns"].as_i64().unwrap_or_default() >= 2,
        "{done}"
    );
    assert!(
        done["cost_usd"].as_f64().unwrap_or_default() > 0.0,
        "{done}"
    );
    assert_eq!(done["exit_code"], 0);
    assert_eq!(done["summary"], "The host is fine.");
    assert!(done["ended_at"].is_string());

    // The model really received the operator's prompt and the command's output.
    assert!(!model.requests_matching("look at the host").is_empty());
    assert!(!model.requests_matching("e2e-marker-42").is_empty());

    // A late joiner replays everything from the start, then gets the status.
    let mut replay = http.sse(&format!("/sessions/{id}/stream")).await;
    let mut again = Vec::new();
    next_matching(&mut replay, &mut again, |e| e.event == "status").await;
    let replayed = again.iter().filter(|e| e.event == "line").count();
    assert_eq!(replayed, seqs.len(), "replay has every line");

    eprintln!(
        "trigger to first streamed line: {} ms",
        first_line_after.as_millis()
    );
    assert!(worker.proc.has_logged("session finished"));
}

#[tokio::test]
async fn malformed_cli_output_is_kept_raw_and_flagged() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let script = concat!(
        "#!/bin/sh\n",
        "echo '{\"type\":\"system\",\"subtype\":\"init\",\"tools\":[]}'\n",
        "echo 'this line is not json'\n",
        "echo '{\"no_type\":true}'\n",
        "echo '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1,\"total_cost_usd\":0.002,\"duration_ms\":5,\"result\":\"ok\"}'\n",
    );
    let (cp, _worker) = with_fake_cli(dir.path(), "odd", script).await;
    let http = cp.http();
    let (status, session) = http
        .post("/api/v1/sessions/trigger", &json!({"site": "odd"}), true)
        .await;
    assert_eq!(status, 201, "{session}");
    let id = session["id"].as_i64().unwrap_or_default();
    let done = http.wait_session_end(id, WAIT).await;
    assert_eq!(
        done["status"], "completed",
        "the stream goes on past bad lines: {done}"
    );
    assert_eq!(done["num_turns"], 1);

    let mut stream = http.sse(&format!("/sessions/{id}/stream")).await;
    let mut seen = Vec::new();
    next_matching(&mut stream, &mut seen, |e| e.event == "status").await;
    let lines: Vec<Value> = seen
        .iter()
        .filter(|e| e.event == "line")
        .map(line_data)
        .collect();
    // The CLI's four lines, then the worker's metering line.
    assert_eq!(lines.len(), 5, "{lines:#?}");
    assert!(
        lines[4]["raw"]
            .as_str()
            .is_some_and(|r| r.contains("\"type\":\"claudeops_metering\"")),
        "{lines:#?}"
    );
    assert_eq!(lines[1]["raw"], "this line is not json");
    assert_eq!(lines[1]["malformed"], true);
    assert_eq!(
        lines[2]["malformed"], true,
        "JSON without a type is flagged too"
    );
    assert_eq!(lines[3]["malformed"], false);
}

#[tokio::test]
async fn a_missing_cli_fails_the_session_with_a_clear_message() {
    let cp = ControlPlane::start(&[]).await;
    let _worker = enrolled_worker(
        &cp,
        "bare",
        &[
            ("CLAUDEOPS_CLAUDE_BIN", "/nonexistent/claude"),
            ("ANTHROPIC_API_KEY", "k"),
        ],
    )
    .await;
    let http = cp.http();
    let (status, session) = http
        .post("/api/v1/sessions/trigger", &json!({}), true)
        .await;
    assert_eq!(
        status, 201,
        "the only site is used when none is named: {session}"
    );
    let done = http
        .wait_session_end(session["id"].as_i64().unwrap_or_default(), WAIT)
        .await;
    assert_eq!(done["status"], "failed");
    let error = done["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("not found") && error.contains("CLAUDEOPS_CLAUDE_BIN"),
        "{error}"
    );
    // And the site is free again.
    let (status, _) = http
        .post("/api/v1/sessions/trigger", &json!({"site": "bare"}), true)
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_trigger_for_a_site_without_a_worker_is_refused_at_once() {
    let cp = ControlPlane::start(&[]).await;
    let http = cp.http();
    let (status, body) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "nowhere"}),
            true,
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no worker")
    );
    let (status, body) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "Bad Site"}),
            true,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"start_tier": 7, "site": "x"}),
            true,
        )
        .await;
    assert_eq!(status, 400);
    // A worker without an API key is connected, but LLM tiers are off there.
    let _keyless = enrolled_worker(&cp, "attic", &[]).await;
    let (status, body) = http
        .post("/api/v1/sessions/trigger", &json!({"site": "attic"}), true)
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("LLM tiers are off"),
        "{body}"
    );
}

#[tokio::test]
async fn stop_ends_a_running_session_and_its_processes() {
    // A stand-in CLI whose background grandchild would outlive a plain kill.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Unique sleep durations name its processes in /proc.
    let script = "#!/bin/sh\necho '{\"type\":\"system\",\"subtype\":\"init\"}'\n(sleep 7781; echo never) &\nsleep 7782\n";
    let (cp, _worker) = with_fake_cli(dir.path(), "home", script).await;
    let http = cp.http();
    // Wait until the command is running (its first line is in the output).
    let id = trigger_until_first_line(&http, "home").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while running_with("7781").is_empty() || running_with("7782").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stand-in CLI never ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (status, body) = http
        .post(&format!("/api/v1/sessions/{id}/stop"), &json!({}), false)
        .await;
    assert_eq!(status, 401, "stop needs the token: {body}");
    let (status, body) = http
        .post(&format!("/api/v1/sessions/{id}/stop"), &json!({}), true)
        .await;
    assert_eq!(status, 202, "{body}");
    let done = http.wait_session_end(id, Duration::from_secs(20)).await;
    assert_eq!(done["status_detail"], "stopped", "{done}");
    assert_eq!(done["status"], "failed", "the original's word: {done}");
    assert_eq!(
        done["error"], "stopped by api token",
        "the stop names who asked"
    );
    let stopped_at = tokio::time::Instant::now();
    loop {
        let mut left = running_with("7781");
        left.extend(running_with("7782"));
        if left.is_empty() {
            break;
        }
        assert!(
            stopped_at.elapsed() < Duration::from_secs(10),
            "a process of the stopped session lived on: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Logs in through the form as a browser would; the session cookie, or the
/// refusal's status.
async fn form_login(
    client: &reqwest::Client,
    base: &str,
    fields: &[(&str, &str)],
) -> Result<String, u16> {
    let page = client
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let form_token = cookie_value(&page, "claudeops_login");
    let mut form = vec![("csrf", form_token.as_str())];
    form.extend_from_slice(fields);
    let answer = client
        .post(format!("{base}/login"))
        .header("cookie", format!("claudeops_login={form_token}"))
        .form(&form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match answer.status().as_u16() {
        303 => Ok(format!(
            "claudeops_session={}",
            cookie_value(&answer, "claudeops_session")
        )),
        status => Err(status),
    }
}

#[tokio::test]
async fn users_added_on_the_host_log_in_with_their_role_and_removal_ends_it() {
    claudeops_pki::tls::install_crypto_provider();
    let cp = ControlPlane::start(&[]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let (ok, stdout, stderr) = cp
        .command_with_input(
            &["user", "add", "vera", "--role", "viewer"],
            "vera's long password\n",
        )
        .await;
    assert!(ok, "user add failed: {stdout}{stderr}");
    assert!(stdout.contains("added user vera (viewer)"), "{stdout}");
    let (ok, _, stderr) = cp
        .command_with_input(&["user", "add", "tim", "--role", "viewer"], "short\n")
        .await;
    assert!(!ok && stderr.contains("too short"), "{stderr}");
    let (ok, stdout, _) = cp.command(&["user", "list"]).await;
    assert!(ok && stdout.contains("vera\tviewer"), "{stdout}");

    let base = cp.url.clone();
    let cookie = form_login(
        &client,
        &base,
        &[("user", "vera"), ("password", "vera's long password")],
    )
    .await
    .unwrap_or_else(|s| panic!("vera's login refused: {s}"));
    let home = client
        .get(format!("{base}/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(home.status().as_u16(), 200);
    let html = home.text().await.unwrap_or_default();
    assert!(html.contains("(viewer)"), "the sidebar names the role");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned();
    let run = client
        .post(format!("{base}/sessions/trigger"))
        .header("cookie", &cookie)
        .form(&[("prompt", "look"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.status().as_u16(), 403, "a viewer cannot Run Now");
    assert_eq!(
        form_login(
            &client,
            &base,
            &[("user", "vera"), ("password", "wrong password!")]
        )
        .await,
        Err(401)
    );

    // Removed on the host: the running dashboard ends her login within seconds.
    let (ok, stdout, _) = cp.command(&["user", "remove", "vera"]).await;
    assert!(ok, "{stdout}");
    poll("vera's login to end", Duration::from_secs(20), async || {
        let page = client
            .get(format!("{base}/"))
            .header("cookie", &cookie)
            .send()
            .await
            .ok()?;
        (page.status().as_u16() == 303).then_some(())
    })
    .await;
}

#[tokio::test]
async fn dashboard_forms_need_a_login_and_its_csrf_token() {
    claudeops_pki::tls::install_crypto_provider();
    let model = ScriptedModel::start(vec![Script::new(vec![Turn::text("ok")])]).await;
    let cp = ControlPlane::start(&[]).await;
    let env = model_env(&model);
    let _worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = |p: &str| format!("{}{p}", cp.url);

    // A form post without a login changes nothing.
    let response = client
        .post(url("/sessions/trigger"))
        .form(&[("site", "home"), ("tier", "auto"), ("csrf", "guess")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/login");

    // The login form sets a one-off cookie that must come back with its field.
    let page = client
        .get(url("/login"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let login_cookie = cookie_value(&page, "claudeops_login");
    let html = page.text().await.unwrap_or_default();
    assert!(
        html.contains(&format!("value=\"{login_cookie}\"")),
        "the form carries the token"
    );
    let wrong = client
        .post(url("/login"))
        .header("cookie", format!("claudeops_login={login_cookie}"))
        .form(&[("token", "wrong-token"), ("csrf", login_cookie.as_str())])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(wrong.status().as_u16(), 401);
    let forged = client
        .post(url("/login"))
        .form(&[("token", cp.token.as_str()), ("csrf", "no-cookie")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        forged.status().as_u16(),
        403,
        "a login without the form's cookie is refused"
    );
    let ok = client
        .post(url("/login"))
        .header("cookie", format!("claudeops_login={login_cookie}"))
        .form(&[
            ("token", cp.token.as_str()),
            ("csrf", login_cookie.as_str()),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.status().as_u16(), 303);
    let session_cookie = cookie_value(&ok, "claudeops_session");
    let set_cookie = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("|");
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = format!("claudeops_session={session_cookie}");

    // Logged in, a page carries the login's CSRF token; a post without it fails.
    let page = client
        .get(url("/run"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let html = page.text().await.unwrap_or_default();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned();
    assert!(csrf.len() > 20, "no CSRF token in the page");
    let refused = client
        .post(url("/sessions/trigger"))
        .header("cookie", &cookie)
        .form(&[("site", "home"), ("tier", "auto"), ("csrf", "forged")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(refused.headers()["location"], "/login");
    let (_, sessions) = cp.http().get("/api/v1/sessions").await;
    assert_eq!(
        sessions["sessions"].as_array().map(Vec::len),
        Some(0),
        "nothing started: {sessions}"
    );

    let started = client
        .post(url("/sessions/trigger"))
        .header("cookie", &cookie)
        .form(&[
            ("site", "home"),
            ("tier", "auto"),
            ("prompt", "from the dashboard"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(started.status().as_u16(), 303);
    assert_eq!(started.headers()["location"], "/sessions/1");
    let done = cp.http().wait_session_end(1, WAIT).await;
    assert_eq!(done["trigger"], "manual");
    assert_eq!(done["prompt_text"], "from the dashboard");
}

fn cookie_value(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}
