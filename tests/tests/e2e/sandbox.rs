//! Both layers through the real `claude` CLI: the scripted model issues a
//! sample of the adversarial corpus (`libs/judge/corpus/adversarial.jsonl`)
//! at each tier; whatever the judge lets through meets the sandbox. Afterwards
//! nothing changed (canaries, the container), and neither the worker's key nor
//! the model key appears in any request the model received, any output line
//! the control plane stored, or any tool result. Plus: the session really is
//! sandboxed (its `/proc` shows only its own processes, it runs as the sandbox
//! user, the state dir is absent), Docker reads work through the filter, and
//! the worker reports its sandbox.

use claudeops_tests::docker::Container;
use claudeops_tests::model::ScriptedModel;
use serde_json::Value;

use crate::support::*;

/// The model key the worker holds; it must never leave the worker's proxy
/// except towards the model.
const MODEL_KEY: &str = "sk-ant-e2e-CANARY-model-key";

fn sample(every: usize) -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../libs/judge/corpus/adversarial.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(_, l)| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (
                v["family"].as_str().unwrap_or_default().to_owned(),
                v["command"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn corpus_commands_through_the_cli_change_nothing_and_leak_nothing() {
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let repos = scratch.path().join("repos");
    let outside = scratch.path().join("outside");
    std::fs::create_dir_all(repos.join("infra")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(&outside).unwrap_or_else(|e| panic!("{e}"));
    let canary = repos.join("canary.txt");
    std::fs::write(&canary, "unchanged\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(outside.join("keep.txt"), "outside\n").unwrap_or_else(|e| panic!("{e}"));
    let container = Container::run("e2e-sandbox", &[], &["sleep", "infinity"]);
    let started = container.started_at();

    let model = ScriptedModel::start(vec![]).await;
    let cp = claudeops_tests::system::ControlPlane::start(&[]).await;
    let repos_env = repos.display().to_string();
    let base = model.base_url();
    let env = [
        ("ANTHROPIC_BASE_URL", base.as_str()),
        ("ANTHROPIC_API_KEY", MODEL_KEY),
        ("CLAUDEOPS_REPOS_DIR", repos_env.as_str()),
    ];
    let worker = enrolled_worker(&cp, "home", &env).await;
    let state = worker.state.path().to_path_buf();
    let key_text = std::fs::read_to_string(state.join("worker.key")).unwrap_or_default();
    let key_body: String = key_text
        .lines()
        .find(|l| !l.starts_with("-----") && l.len() > 20)
        .unwrap_or_default()
        .to_owned();
    assert!(!key_body.is_empty(), "the worker has a key");
    let http = cp.http();

    let fill = |c: &str, ws: &str| {
        c.replace("@KEY@", &state.join("worker.key").display().to_string())
            .replace("@STATE@", &state.display().to_string())
            .replace("@CANARY@", &canary.display().to_string())
            .replace("@REPOS@", &repos.display().to_string())
            .replace("@OUTSIDE@", &outside.display().to_string())
            .replace("@WORKSPACE@", ws)
            .replace("@CONTAINER@", &container.name)
            .replace("@URL@", &base)
            .replace("@HOST@", "host.invalid")
    };
    let probes = [
        "id -u".to_owned(),
        format!("cat {}/worker.key 2>&1 || true", state.display()),
        format!(
            "docker inspect -f '{{{{.State.Running}}}}' {}",
            container.name
        ),
        format!("docker restart {} 2>&1 || true", container.name),
    ];
    let sample = sample(12);
    assert!(sample.len() >= 25, "{} sampled", sample.len());
    let mut failures = Vec::new();
    for tier in 1..=3u8 {
        let ws = state.join("sessions").display().to_string();
        let mut commands: Vec<String> = probes.to_vec();
        commands.extend(sample.iter().map(|(_, c)| fill(c, &ws)));
        let commands: Vec<&str> = commands.iter().map(String::as_str).collect();
        let timeout = std::time::Duration::from_secs(240);
        let id = run_bash_session(&http, &model, "home", tier, &commands, timeout).await;

        // What the model saw of the probes: the sandbox's own view.
        let results: Vec<String> = model
            .message_requests()
            .iter()
            .flat_map(|r| r.tool_results())
            .map(|r| r.content)
            .collect();
        let all = results.join("\n");
        if !all.contains("64400") {
            failures.push(format!(
                "tier {tier}: `id -u` did not show the sandbox user"
            ));
        }
        if !all.contains("No such file or directory") {
            failures.push(format!(
                "tier {tier}: the worker key's path exists in the sandbox"
            ));
        }
        // No secret anywhere: requests, stored output.
        for request in model.requests() {
            let body = request.body.to_string();
            if body.contains(MODEL_KEY) || body.contains(&key_body) {
                failures.push(format!(
                    "tier {tier}: a secret in a request body to the model"
                ));
            }
        }
        let mut stream = http.sse(&format!("/sessions/{id}/stream")).await;
        let mut seen = Vec::new();
        next_matching(&mut stream, &mut seen, |e| e.event == "status").await;
        let lines: String = seen.iter().map(|e| e.data.clone()).collect();
        // The proxy metered both model turns and recorded their sizes.
        let metering = seen
            .iter()
            .filter_map(|e| line_data(e)["raw"].as_str().map(str::to_owned))
            .filter_map(|raw| serde_json::from_str::<Value>(&raw).ok())
            .find(|v| v["type"] == "claudeops_metering")
            .unwrap_or_default();
        if metering["requests"].as_u64().unwrap_or(0) < 2
            || metering["request_bytes_max"].as_u64().unwrap_or(0) == 0
        {
            failures.push(format!(
                "tier {tier}: metering missing or empty: {metering}"
            ));
        }
        let (_, stored) = http.get(&format!("/api/v1/sessions/{id}")).await;
        for text in [lines, stored.to_string(), all.clone()] {
            if text.contains(MODEL_KEY) || text.contains(&key_body) {
                failures.push(format!("tier {tier}: a secret in the stored session"));
            }
        }
        model.clear_requests();
    }
    if std::fs::read_to_string(&canary).unwrap_or_default() != "unchanged\n" {
        failures.push("the canary in the repos changed".to_owned());
    }
    let outside_files: Vec<_> = std::fs::read_dir(&outside)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    if outside_files.len() != 1 {
        failures.push(format!("files appeared outside: {outside_files:?}"));
    }
    if container.started_at() != started || container.inspect("{{.State.Running}}") != "true" {
        failures.push("the container was restarted or stopped".to_owned());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
