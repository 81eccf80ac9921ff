//! Browser automation against a real Chromium (Debian's `chromium`, or
//! `CLAUDEOPS_BROWSER_BIN`), started by the worker's own code in the session
//! sandbox, driving a real web app with a login (`claudeops_tests::webapp`).
//! Needs chromium and bubblewrap; fails loudly without them.
//!
//! One flow, as `playbooks/rotate-api-key.md` runs it: log in by reference,
//! regenerate the key, capture it by reference, type it into the dependent
//! service. Around it, every way out: a disallowed origin opened, redirected
//! to, framed, popped up; a credential on the wrong origin or in the wrong
//! field; a tier below the browser's. After all of it, no secret appears in
//! any reply, and no request ever reached the disallowed origin.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use claudeops_core::Tier;
use claudeops_tests::webapp::WebApp;
use claudeops_worker::actions::{ActionContext, ActionReply, ActionRequest};
use claudeops_worker::browser::{
    AllowList, BrowserConfig, Browsers, CredOrigins, Redactor, Secrets,
};
use claudeops_worker::sandbox::{Sandbox, SandboxMode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

const USER: &str = "admin-user";
const PASSWORD: &str = "correct-horse-battery";
const OLD_KEY: &str = "0ld5ecretkey0000aaaa1111bbbb2222";
const CONSUMER_PASSWORD: &str = "consumer-pass-phrase";
/// A credential with the characters a JSON string escapes.
const TOKEN: &str = "tok\"en\\value-1";

fn chromium() -> PathBuf {
    let bin = std::env::var("CLAUDEOPS_BROWSER_BIN").unwrap_or_else(|_| "chromium".to_owned());
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(&bin))
        .find(|p| p.is_file())
        .or_else(|| Some(PathBuf::from(&bin)).filter(|p| p.is_absolute() && p.is_file()));
    found.unwrap_or_else(|| {
        panic!("the browser tests need Chromium: install Debian's `chromium` (tests/setup.sh does) or set CLAUDEOPS_BROWSER_BIN")
    })
}

fn sandbox() -> Sandbox {
    let sandbox = Sandbox::detect(
        SandboxMode::Auto,
        Path::new("bwrap"),
        None,
        Path::new(env!("CARGO_BIN_EXE_claudeops-worker")),
    );
    assert!(
        matches!(sandbox, Sandbox::Bwrap { .. }),
        "the browser tests run Chromium in the session sandbox and need bubblewrap: {}",
        sandbox.detail()
    );
    sandbox
}

struct Setup {
    browsers: Browsers,
    app: WebApp,
    consumer: WebApp,
    evil: WebApp,
    replies: Mutex<Vec<String>>,
    /// The lines the worker added to the session's output (screenshots).
    notes: tokio::sync::Mutex<mpsc::Receiver<String>>,
    notes_tx: mpsc::Sender<String>,
    _state: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        Setup::with_cdp_url(None).await
    }

    async fn with_cdp_url(cdp_url: Option<String>) -> Setup {
        let app = WebApp::start(USER, PASSWORD, OLD_KEY).await;
        let consumer =
            WebApp::start(USER, CONSUMER_PASSWORD, "c0nsumerkey1111222233334444abcd").await;
        let evil = WebApp::start("x", "evil-password", "e").await;
        let allowed =
            ok(AllowList::parse(&[app.origin(), consumer.origin()]).map_err(|e| e.join("; ")));
        let creds = ok(CredOrigins::parse(
            &[
                format!("APP={}", app.origin()),
                format!("CONSUMER={}", consumer.origin()),
            ],
            &allowed,
        )
        .map_err(|e| e.join("; ")));
        let redactor = Redactor::new();
        let (secrets, problems) = Secrets::from_vars(
            [
                ("BROWSER_CRED_APP_USER", USER),
                ("BROWSER_CRED_APP_PASS", PASSWORD),
                ("BROWSER_CRED_APP_API_KEY", OLD_KEY),
                ("BROWSER_CRED_CONSUMER_USER", USER),
                ("BROWSER_CRED_CONSUMER_PASS", CONSUMER_PASSWORD),
                ("BROWSER_CRED_APP_TOKEN", TOKEN),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
            redactor,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let state = ok(tempfile::tempdir());
        let config = BrowserConfig {
            allowed,
            creds,
            tier: Tier::Investigate,
            chromium: chromium(),
            helper: PathBuf::from(env!("CARGO_BIN_EXE_claudeops-worker")),
            profiles: state.path().join("browser"),
            cdp_url,
        };
        let browsers = Browsers::new(config, sandbox(), secrets);
        let (notes_tx, notes) = mpsc::channel(8);
        Setup {
            browsers,
            app,
            consumer,
            evil,
            replies: Mutex::new(Vec::new()),
            notes: tokio::sync::Mutex::new(notes),
            notes_tx,
            _state: state,
        }
    }

    async fn call_at(&self, session: i64, tier: Tier, tool: &str, args: Value) -> ActionReply {
        let request = ActionRequest {
            session_id: session,
            tool: tool.to_owned(),
            arguments: args,
        };
        let ctx = ActionContext {
            tier,
            dry_run: false,
            repos_dir: PathBuf::from("/nonexistent"),
            span: tracing::Span::none(),
            notes: Some(self.notes_tx.clone()),
        };
        let reply = self.browsers.handle(&request, &ctx).await;
        if let Ok(mut r) = self.replies.lock() {
            r.push(reply.text.clone());
        }
        reply
    }

    async fn call(&self, tool: &str, args: Value) -> ActionReply {
        self.call_at(1, Tier::Investigate, tool, args).await
    }

    async fn ok(&self, tool: &str, args: Value) -> String {
        let reply = self.call(tool, args.clone()).await;
        assert!(reply.ok, "{tool} {args}: {}", reply.text);
        reply.text
    }

    /// Calls and expects a refusal that says `why`.
    async fn refused(&self, tool: &str, args: Value, why: &str) {
        let reply = self.call(tool, args.clone()).await;
        assert!(
            !reply.ok && reply.text.contains(why),
            "{tool} {args} should be refused with {why:?}: {}",
            reply.text
        );
    }

    /// Logs in on `origin`'s login page by reference, with `SERVICE_USER`
    /// and `SERVICE_PASS`; returns what the click said.
    async fn log_in(&self, origin: &str, service: &str) -> String {
        self.ok("browser_open", json!({"url": format!("{origin}/login")}))
            .await;
        let user = self.find("textbox \"Username\"").await;
        let pass = self.find("password field \"Password\"").await;
        for (field, name) in [(user, "USER"), (pass, "PASS")] {
            self.ok(
                "browser_fill_credential",
                json!({"ref": field, "name": format!("{service}_{name}")}),
            )
            .await;
        }
        let login = self.find("button \"Log in\"").await;
        self.ok("browser_click", json!({"ref": login})).await
    }

    async fn snapshot(&self) -> String {
        self.ok("browser_snapshot", json!({})).await
    }

    /// The reference of the snapshot line that holds `what`.
    async fn find(&self, what: &str) -> String {
        let snap = self.snapshot().await;
        snap.lines()
            .find(|l| l.contains(what) && l.starts_with("[e"))
            .and_then(|l| l.strip_prefix('['))
            .and_then(|l| l.split_once(']'))
            .map(|(r, _)| r.to_owned())
            .unwrap_or_else(|| panic!("no element with {what:?} in:\n{snap}"))
    }

    fn secrets(&self) -> Vec<String> {
        let mut all = vec![
            USER.to_owned(),
            PASSWORD.to_owned(),
            CONSUMER_PASSWORD.to_owned(),
            TOKEN.to_owned(),
            "tok\\\"en".to_owned(),
        ];
        all.extend(self.app.keys());
        all
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_is_rotated_by_reference_and_nothing_leaves_the_allowed_origins() {
    let t = Setup::new().await;
    let (app, consumer, evil) = (&t.app, &t.consumer, &t.evil);

    // Tier 1 gets nothing; a page that is not allowed is never opened.
    for tool in claudeops_worker::browser::TOOLS {
        let args = match *tool {
            "browser_open" => json!({"url": app.url("/login")}),
            "browser_fill" => json!({"ref": "e1", "text": "x"}),
            "browser_fill_credential" | "browser_read_secret" => {
                json!({"ref": "e1", "name": "APP_PASS"})
            }
            "browser_click" => json!({"ref": "e1"}),
            "browser_wait" => json!({"text": "x"}),
            _ => json!({}),
        };
        let low = t.call_at(9, Tier::Observe, tool, args).await;
        assert!(
            !low.ok && low.text.contains("needs tier 2"),
            "{tool}: {}",
            low.text
        );
    }
    let profiles = t.browsers.config().profiles.clone();
    assert!(
        !profiles.join("session-9").exists(),
        "tier 1 started no browser"
    );
    t.refused(
        "browser_open",
        json!({"url": evil.url("/")}),
        "not an allowed origin",
    )
    .await;
    for url in ["file:///etc/passwd", "chrome://settings", "about:blank"] {
        let r = t.call("browser_open", json!({"url": url})).await;
        assert!(!r.ok, "{url}: {}", r.text);
    }

    // Log in by reference.
    t.ok("browser_open", json!({"url": app.url("/login")}))
        .await;
    let user = t.find("textbox \"Username\"").await;
    let pass = t.find("password field \"Password\"").await;
    t.refused(
        "browser_fill_credential",
        json!({"ref": user, "name": "APP_PASS"}),
        "only into a password field",
    )
    .await;
    let other = t
        .call(
            "browser_fill_credential",
            json!({"ref": pass, "name": "CONSUMER_PASS"}),
        )
        .await;
    assert!(
        !other.ok
            && other
                .text
                .contains("not one CONSUMER's credentials belong to"),
        "{}",
        other.text
    );
    let typed = t
        .call("browser_fill", json!({"ref": pass, "text": "guess"}))
        .await;
    assert!(
        !typed.ok && typed.text.contains("browser_fill_credential"),
        "{}",
        typed.text
    );
    t.ok(
        "browser_fill_credential",
        json!({"ref": user, "name": "APP_USER"}),
    )
    .await;
    t.ok(
        "browser_fill_credential",
        json!({"ref": pass, "name": "APP_PASS"}),
    )
    .await;
    let filled = t.snapshot().await;
    assert!(
        filled.contains("password field \"Password\" (filled)"),
        "{filled}"
    );
    t.refused(
        "browser_read_secret",
        json!({"ref": pass, "name": "CONSUMER_P_KEY"}),
        "password field",
    )
    .await;
    let login = t.find("button \"Log in\"").await;
    let now = t.ok("browser_click", json!({"ref": login})).await;
    assert!(now.contains("/settings"), "{now}");

    // Regenerate: the new key is on the page, and never in a snapshot.
    let regenerate = t.find("Regenerate API key").await;
    t.ok("browser_click", json!({"ref": regenerate})).await;
    let new_key = app.api_key();
    assert_ne!(new_key, OLD_KEY);
    let shown = t.snapshot().await;
    assert!(shown.contains("[token hidden]"), "{shown}");
    let waited = t
        .call(
            "browser_wait",
            json!({"text": &new_key[..6], "timeout_seconds": 1}),
        )
        .await;
    assert!(
        !waited.ok,
        "waiting for part of the key must not find it: {}",
        waited.text
    );
    t.ok("browser_wait", json!({"text": "shown once"})).await;

    // The screenshot is taken with the key and the fields masked, in the DOM,
    // at capture time (the page reports what it saw then).
    let shot = t.call("browser_screenshot", json!({})).await;
    assert!(
        shot.ok && shot.text.contains("screenshot 1"),
        "{}",
        shot.text
    );
    let reports = app.masked_reports();
    let report = reports
        .last()
        .unwrap_or_else(|| panic!("the page saw no masking"));
    assert!(report.contains("new-key=masked"), "{report}");
    assert!(shot.text.contains("you are not shown it"), "{}", shot.text);
    let line = t.notes.lock().await.try_recv();
    let line: Value = ok(serde_json::from_str(&ok(line)));
    assert_eq!(line["type"], "claudeops_screenshot");
    assert_eq!(line["media_type"], "image/jpeg");
    let jpeg =
        ok(base64::engine::general_purpose::STANDARD
            .decode(line["data"].as_str().unwrap_or_default()));
    assert!(
        jpeg.starts_with(&[0xff, 0xd8, 0xff]) && jpeg.len() > 1000,
        "{} bytes",
        jpeg.len()
    );

    // Only a key the page generated is captured, never under an operator's name.
    let button = t.find("Regenerate API key").await;
    t.refused(
        "browser_read_secret",
        json!({"ref": button, "name": "CONSUMER_B_KEY"}),
        "generated",
    )
    .await;
    let key_ref = t.find("[token hidden]").await;
    t.refused(
        "browser_read_secret",
        json!({"ref": key_ref, "name": "APP_API_KEY"}),
        "credential of the operator's",
    )
    .await;

    // A key already on the page before the model's last click is not one the
    // page made in answer to it: clicking the key itself, then capturing, fails.
    t.ok("browser_click", json!({"ref": key_ref})).await;
    t.refused(
        "browser_read_secret",
        json!({"ref": key_ref, "name": "CONSUMER_INDEXER_KEY"}),
        "before your last click",
    )
    .await;
    let regenerate = t.find("Regenerate API key").await;
    t.ok("browser_click", json!({"ref": regenerate})).await;
    let new_key = app.api_key();
    let key_ref = t.find("[token hidden]").await;

    // Capture the key by reference, for the consumer, and type it there.
    let captured = t
        .ok(
            "browser_read_secret",
            json!({"ref": key_ref, "name": "CONSUMER_INDEXER_KEY"}),
        )
        .await;
    assert!(
        captured.contains("captured CONSUMER_INDEXER_KEY"),
        "{captured}"
    );
    t.refused(
        "browser_fill_credential",
        json!({"ref": t.find("Indexer API key").await, "name": "CONSUMER_INDEXER_KEY"}),
        "not one CONSUMER's",
    )
    .await;
    // A key the model typed itself is not a secret it can make; a form it
    // typed into takes no credential.
    let indexer = t.find("Indexer API key").await;
    t.ok(
        "browser_fill",
        json!({"ref": indexer, "text": "made0up0by0the0model0abc"}),
    )
    .await;
    let own = t
        .call(
            "browser_read_secret",
            json!({"ref": indexer, "name": "CONSUMER_MINE_KEY"}),
        )
        .await;
    assert!(
        !own.ok && own.text.contains("text you typed"),
        "{}",
        own.text
    );
    t.refused(
        "browser_fill_credential",
        json!({"ref": indexer, "name": "APP_API_KEY"}),
        "you typed into",
    )
    .await;
    // What the session captured outlives a closed browser.
    t.ok("browser_close", json!({})).await;
    t.ok("browser_open", json!({"url": consumer.url("/login")}))
        .await;
    let cp = t.find("Password").await;
    // A captured key never goes into a password field: the model saw it
    // come, and could log in with it.
    let as_password = t
        .call(
            "browser_fill_credential",
            json!({"ref": cp, "name": "CONSUMER_INDEXER_KEY"}),
        )
        .await;
    assert!(
        !as_password.ok
            && as_password
                .text
                .contains("never typed into a password field"),
        "{}",
        as_password.text
    );
    t.log_in(&consumer.origin(), "CONSUMER").await;
    let field = t.find("Indexer API key").await;
    t.ok(
        "browser_fill_credential",
        json!({"ref": field, "name": "CONSUMER_INDEXER_KEY"}),
    )
    .await;
    let after = t.snapshot().await;
    assert!(
        after.contains("Indexer API key\" value=\"[redacted]\""),
        "{after}"
    );
    // A form with a credential in it is not changed by the model.
    t.refused(
        "browser_fill",
        json!({"ref": field, "text": "http://192.0.2.1/"}),
        "holds a credential",
    )
    .await;
    let save = t.find("Save indexer").await;
    t.ok("browser_click", json!({"ref": save})).await;
    t.ok("browser_wait", json!({"text": "The indexer is saved"}))
        .await;
    assert_eq!(consumer.indexer_key().as_deref(), Some(new_key.as_str()));

    // Text a page repeats back is hidden too.
    t.ok("browser_open", json!({"url": app.url("/echo")})).await;
    let echo = t.find("Say something").await;
    t.ok(
        "browser_fill_credential",
        json!({"ref": echo, "name": "APP_USER"}),
    )
    .await;
    let echoed = t.snapshot().await;
    assert!(echoed.contains("You typed: [redacted]"), "{echoed}");
    // A credential with characters a JSON string escapes is hidden as well.
    t.ok(
        "browser_fill_credential",
        json!({"ref": echo, "name": "APP_TOKEN"}),
    )
    .await;
    let escaped = t.snapshot().await;
    assert!(
        escaped.contains("You typed: [redacted]") && !escaped.contains("tok"),
        "{escaped}"
    );
    // What a field holds after the worker typed a credential is not captured again.
    t.ok(
        "browser_fill_credential",
        json!({"ref": echo, "name": "APP_API_KEY"}),
    )
    .await;
    t.refused(
        "browser_read_secret",
        json!({"ref": echo, "name": "CONSUMER_COPY_KEY"}),
        "already has",
    )
    .await;
    t.ok("browser_screenshot", json!({})).await;
    let report = app.masked_reports().last().cloned().unwrap_or_default();
    assert!(
        report.contains("echo-in=masked") && report.contains("echo-out=masked"),
        "{report}"
    );

    // Every way out is blocked, and says so.
    let redirect = t
        .call(
            "browser_open",
            json!({"url": app.url(&format!("/redirect?to={}/stolen", evil.origin()))}),
        )
        .await;
    assert!(
        redirect
            .text
            .contains(&format!("blocked document {}/stolen", evil.origin())),
        "{}",
        redirect.text
    );
    let frame = t
        .call(
            "browser_open",
            json!({"url": app.url(&format!("/frame?src={}/framed", evil.origin()))}),
        )
        .await;
    assert!(
        frame.text.contains(&format!("{}/framed", evil.origin())),
        "{}",
        frame.text
    );
    assert!(frame.text.contains("pixel.png"), "{}", frame.text);
    t.ok(
        "browser_open",
        json!({"url": app.url(&format!("/popup?to={}/popped", evil.origin()))}),
    )
    .await;
    let open = t.find("Open the other site").await;
    let popped = t.ok("browser_click", json!({"ref": open})).await;
    assert!(popped.contains("a popup"), "{popped}");
    let tab = t.find("Other site in a new tab").await;
    let tabbed = t.ok("browser_click", json!({"ref": tab})).await;
    assert!(tabbed.contains("a popup"), "{tabbed}");
    assert_eq!(
        evil.hits(),
        Vec::<String>::new(),
        "a request reached the disallowed origin"
    );

    // The tier is checked at every call, and the browser closes with its profile.
    let profile = t.browsers.config().profiles.join("session-1");
    assert!(profile.is_dir());
    t.ok("browser_close", json!({})).await;
    assert!(!profile.exists(), "the profile outlived the browser");
    t.refused("browser_snapshot", json!({}), "browser_open")
        .await;

    // No secret in any reply the model got.
    let replies = t.replies.lock().map(|r| r.join("\n")).unwrap_or_default();
    for secret in t.secrets() {
        assert!(
            !replies.contains(&secret),
            "a secret reached the model:\n{replies}"
        );
    }
}

/// A browser of someone else's, as the original's Chrome sidecar runs one:
/// headless Chromium with a DevTools port. Killed on drop.
struct Sidecar {
    child: tokio::process::Child,
    endpoint: String,
    _profile: tempfile::TempDir,
}

impl Sidecar {
    async fn start() -> Sidecar {
        use tokio::io::AsyncBufReadExt;
        let profile = ok(tempfile::tempdir());
        let mut child = ok(tokio::process::Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                "--no-first-run",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn());
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let find = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(ws) = line.split_whitespace().find(|w| w.starts_with("ws://")) {
                    return ws.to_owned();
                }
            }
            panic!("the sidecar said no DevTools URL");
        };
        let ws = ok(tokio::time::timeout(std::time::Duration::from_secs(20), find).await);
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let port = ws
            .trim_start_matches("ws://127.0.0.1:")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        Sidecar {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            _profile: profile,
        }
    }

    /// The URLs of the sidecar's pages, through a connection of our own.
    async fn page_urls(&self) -> Vec<String> {
        let ws = ok(claudeops_worker::browser::cdp::websocket_url(&self.endpoint).await);
        let (cdp, _events) = ok(claudeops_worker::browser::cdp::connect(&ws).await);
        let targets = ok(cdp.call(None, "Target.getTargets", json!({})).await);
        targets["targetInfos"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["type"] == "page")
            .map(|t| t["url"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_browser_gives_each_session_a_context_behind_the_same_guard() {
    let mut sidecar = Sidecar::start().await;
    let t = Setup::with_cdp_url(Some(sidecar.endpoint.clone())).await;
    let (app, evil) = (&t.app, &t.evil);

    let now = t.log_in(&app.origin(), "APP").await;
    assert!(now.contains("/settings"), "{now}");
    let out = t
        .call(
            "browser_open",
            json!({"url": app.url(&format!("/redirect?to={}/stolen", evil.origin()))}),
        )
        .await;
    assert!(
        out.text
            .contains(&format!("blocked document {}/stolen", evil.origin())),
        "{}",
        out.text
    );
    t.ok(
        "browser_open",
        json!({"url": app.url(&format!("/popup?to={}/popped", evil.origin()))}),
    )
    .await;
    let open = t.find("Open the other site").await;
    let popped = t.ok("browser_click", json!({"ref": open})).await;
    assert!(popped.contains("a popup"), "{popped}");
    assert_eq!(
        evil.hits(),
        Vec::<String>::new(),
        "a request reached the disallowed origin"
    );
    assert!(
        sidecar
            .page_urls()
            .await
            .iter()
            .any(|u| u.starts_with(&app.origin())),
        "the session's page is in the sidecar"
    );

    // The session's end disposes of its context, and only that; the next
    // session gets one of its own, as quickly.
    t.browsers.end(1).await;
    let left = sidecar.page_urls().await;
    assert!(
        !left.iter().any(|u| u.starts_with(&app.origin())),
        "{left:?}"
    );
    let again = t
        .call_at(
            2,
            Tier::Investigate,
            "browser_open",
            json!({"url": app.url("/login")}),
        )
        .await;
    assert!(again.ok, "{}", again.text);
    t.refused(
        "browser_open",
        json!({"url": app.url("/login")}),
        "has ended",
    )
    .await;
    t.browsers.end(2).await;
    let left = sidecar.page_urls().await;
    assert!(
        !left.iter().any(|u| u.starts_with(&app.origin())),
        "{left:?}"
    );
    assert_eq!(
        ok(sidecar.child.try_wait()),
        None,
        "the sidecar itself is not closed"
    );
    let replies = t.replies.lock().map(|r| r.join("\n")).unwrap_or_default();
    for secret in t.secrets() {
        assert!(
            !replies.contains(&secret),
            "a secret reached the model:\n{replies}"
        );
    }
}
