//! Approval gates end to end, in a real browser: with
//! `CLAUDEOPS_APPROVAL_KINDS=restart`, a scripted tier-2 session's restart of a
//! real container waits (nothing restarted) while the real `apprise` tells a
//! human, with signed links; the link opened in chromium, logged out, shows the
//! action and one button, and approving there lets the restart run. A second
//! session's restart is denied from the session page's button: nothing
//! restarted, the model told so. axe-core checks both pages. The Python side
//! is `tests/python/approval_browser.py`.

use std::time::Duration;

use claudeops_tests::docker::CountingContainer;
use claudeops_tests::model::{Script, ScriptedModel, Turn};
use claudeops_tests::system::Http;
use serde_json::{Value, json};

use crate::support::*;

fn restart(container: &str) -> Turn {
    Turn::tool(
        "mcp__claudeops__restart_container",
        json!({"container": container, "service": "web", "reason": "web answers 502"}),
    )
}

async fn trigger(http: &Http, prompt: &str) -> i64 {
    let (status, session) = http
        .post(
            "/api/v1/sessions/trigger",
            &json!({"site": "home", "start_tier": 2, "prompt": prompt}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{session}");
    session["id"].as_i64().unwrap_or_default()
}

async fn approvals(http: &Http, session: i64) -> Vec<Value> {
    let (status, list) = http
        .get(&format!("/api/v1/approvals?session_id={session}"))
        .await;
    assert_eq!(status, 200, "{list}");
    list["approvals"].as_array().cloned().unwrap_or_default()
}

/// The path and query of the signed link labelled `label` in a message.
fn link(message: &str, label: &str) -> String {
    let marker = format!("[{label}](");
    let start = message
        .find(&marker)
        .unwrap_or_else(|| panic!("no {label} link in {message}"))
        + marker.len();
    let url = &message[start..];
    let url = &url[..url.find(')').unwrap_or(url.len())];
    let path = url
        .strip_prefix("https://ops.example.invalid")
        .unwrap_or_else(|| panic!("the link is not under CLAUDEOPS_PUBLIC_URL: {url}"));
    path.to_owned()
}

#[tokio::test]
async fn a_restart_waits_for_a_human_who_approves_by_link_or_denies_on_the_page() {
    // Each start of the container appends a line: the count of starts is on disk.
    let counting = CountingContainer::run("web", &[]);
    let container = &counting.container;
    let starts = || counting.starts();
    let done = |summary: &str| {
        Turn::structured(json!({"summary": summary, "escalation": {"needed": false}}))
    };
    let model = ScriptedModel::start(vec![
        Script::new(vec![restart(&container.name), done("restarted web")])
            .containing("first approval"),
        // A moment of looking first: the session page is open before the
        // request exists, and its buttons must come by themselves.
        Script::new(vec![
            Turn::bash("sleep 10"),
            restart(&container.name),
            done("not restarted: denied"),
        ])
        .containing("second approval"),
    ])
    .await;
    let (port, notifications) = receiver().await;
    let apprise_url = format!("json://127.0.0.1:{port}/approvals");
    let cp_env = [
        ("CLAUDEOPS_APPROVAL_KINDS", "restart"),
        ("CLAUDEOPS_APPROVAL_TIMEOUT", "5m"),
        ("CLAUDEOPS_PUBLIC_URL", "https://ops.example.invalid"),
        ("CLAUDEOPS_APPRISE_URLS", apprise_url.as_str()),
        ("CLAUDEOPS_APPRISE_BIN", "apprise"),
        ("CLAUDEOPS_NOTIFY_GROUP_WINDOW", "1s"),
    ];
    let cp = claudeops_tests::system::ControlPlane::start(&cp_env).await;
    let env = model_env(&model);
    let worker = enrolled_worker(&cp, "home", &as_refs(&env)).await;
    let http = cp.http();
    poll("the container to have started", WAIT, async || {
        (starts() == 1).then_some(())
    })
    .await;

    // 1. The restart waits; a human hears of it with signed links.
    let first = trigger(&http, "first approval: web is down").await;
    let message = poll("the approval notification", WAIT, async || {
        received(&notifications).into_iter().find(|n| {
            n["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("Claude Ops: Approval needed - restart of web"))
        })
    })
    .await;
    let body = message["message"].as_str().unwrap_or_default().to_owned();
    // The person approves the target that would really change: the container.
    let title = message["title"].as_str().unwrap_or_default();
    assert!(
        title.ends_with(&format!("(container {})", container.name)),
        "{title}"
    );
    let approve = link(&body, "Approve");
    let deny = link(&body, "Deny");
    assert_ne!(approve, deny);
    assert!(
        body.contains(&format!("sessions/{first}")),
        "the session is linked: {body}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(starts(), 1, "nothing is restarted before the decision");
    let (_, session) = http.get(&format!("/api/v1/sessions/{first}")).await;
    assert_eq!(session["status"], "running", "{session}");

    // 2. The link, in a real browser, logged out: approve there.
    let got = browser_script(
        "approval_browser.py",
        &[http.base.as_str(), cp.token.as_str(), "link", &approve],
        &worker,
    )
    .await;
    assert_eq!(got["heading"], "Restart of web?", "{got}");
    assert_eq!(
        got["outcome"], "Approved: the session carries out the action now.",
        "{got}"
    );
    let ended = http.wait_session_end(first, Duration::from_secs(120)).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    assert_eq!(starts(), 2, "approved: restarted once");
    let record = approvals(&http, first).await;
    assert_eq!(record.len(), 1, "{record:?}");
    assert_eq!(record[0]["status"], "approved");
    assert_eq!(record[0]["decided_by"], "alice (signed link)");
    // Used: the other link of the pair no longer decides.
    let page = http.text(&deny).await;
    assert!(page.contains("Already approved"), "{page}");

    // 3. The second session's restart, denied on its page, which was open
    // before the request and showed its buttons by itself.
    let second = trigger(&http, "second approval: web is down again").await;
    let got = browser_script(
        "approval_browser.py",
        &[
            http.base.as_str(),
            cp.token.as_str(),
            "page",
            &format!("/sessions/{second}"),
        ],
        &worker,
    )
    .await;
    assert_eq!(got["absent_at_load"], true, "{got}");
    assert_eq!(got["after"], "Denied by api token", "{got}");
    let ended = http
        .wait_session_end(second, Duration::from_secs(120))
        .await;
    assert_eq!(ended["status"], "completed", "{ended}");
    assert_eq!(starts(), 2, "denied: not restarted");
    let record = approvals(&http, second).await;
    assert_eq!(record[0]["status"], "denied", "{record:?}");
    assert_eq!(record[0]["decided_by"], "api token");
    let (_, actions) = http.get("/api/v1/actions?limit=10").await;
    let statuses: Vec<String> = actions
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["status"].as_str().map(str::to_owned))
        .collect();
    assert!(statuses.contains(&"denied".to_owned()), "{actions}");
    assert!(statuses.contains(&"succeeded".to_owned()), "{actions}");
    // axe-core found nothing serious on either page.
    assert_eq!(got["page_errors"], json!([]), "{got}");
}
