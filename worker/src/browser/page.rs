//! One session's browser: a headless Chromium of its own (or a fresh browser
//! context in an existing one, `CLAUDEOPS_BROWSER_CDP_URL`), its one page, and
//! the guard that stops every request to an origin not allowed.
//!
//! The guard, in the browser itself:
//! - every target of the session's browser context (the page, its frames,
//!   workers, any popup) is attached paused, gets request interception
//!   (`Fetch.enable` for every URL) and only then runs; each request, redirect
//!   hops included, is checked against the allow-list and failed with
//!   `BlockedByClient` when its origin is not allowed;
//! - popups are closed before they load anything;
//! - underneath, the context's proxy is a listener of the worker's that refuses
//!   everything, and only the allowed origins bypass it (loopback included), so
//!   what interception cannot see (WebSockets, prefetches) fails as well.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::Child;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::cdp::{Cdp, CdpError, Event};
use super::origins::{AllowList, Verdict};

/// The viewport of every page (and of its screenshots).
pub const VIEWPORT: (u32, u32) = (1280, 800);
/// How long the browser gets to start and show its page.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a page gets to finish loading after a navigation or a click.
const LOAD_TIMEOUT: Duration = Duration::from_secs(15);
/// The most snapshot lines produced in the page.
pub const SNAPSHOT_LINES: u32 = 400;

const PAGE_JS: &str = include_str!("page.js");

/// A page function by name (see `page.js`).
fn js(name: &str) -> &'static str {
    let marker = format!("//== {name}\n");
    PAGE_JS
        .split_once(marker.as_str())
        .map(|(_, rest)| rest.split_once("\n//== ").map_or(rest, |(body, _)| body))
        .unwrap_or("function () { return null; }")
}

/// How to start a browser for one session.
#[derive(Debug, Clone)]
pub enum Start {
    /// Run this command (Chromium, possibly through the sandbox); the worker
    /// holds its stdin and stdout as the DevTools pipe (the helper moves them
    /// to fds 3 and 4).
    Launch {
        program: PathBuf,
        args: Vec<std::ffi::OsString>,
        profile: PathBuf,
    },
    /// Use a running browser (a sidecar) at this DevTools WebSocket: the
    /// session gets a browser context of its own there, disposed at its end.
    Connect { websocket: String },
}

/// What a call tells the model about requests blocked meanwhile.
#[derive(Debug, Default)]
struct Shared {
    /// Set once: the target id of the session's page.
    main: Option<String>,
    blocked: Vec<String>,
    notes: Vec<String>,
}

/// One session's browser and page.
pub struct Page {
    cdp: Cdp,
    /// The session's browser context.
    context: String,
    /// The browser is shared (a sidecar): close the context, never the browser.
    shared_browser: bool,
    /// The page's flat session.
    session: String,
    shared: Arc<Mutex<Shared>>,
    child: Option<Child>,
    profile: Option<PathBuf>,
    tasks: Vec<JoinHandle<()>>,
}

/// Why the browser could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PageError {
    #[error("the browser could not start: {0}")]
    Start(String),
    #[error(transparent)]
    Cdp(#[from] CdpError),
    #[error("{0}")]
    Page(String),
}

impl Page {
    /// Starts the browser, makes a fresh context behind the guard, and opens
    /// its one page (blank).
    pub async fn open(start: Start, allow: Arc<AllowList>, proxy: u16) -> Result<Page, PageError> {
        let last_words = Arc::new(Mutex::new(Vec::<String>::new()));
        let (mut page, events) = match start {
            Start::Launch {
                program,
                args,
                profile,
            } => Page::launch(&program, &args, profile, last_words.clone())?,
            Start::Connect { websocket } => {
                let (cdp, events) = super::cdp::connect(&websocket)
                    .await
                    .map_err(PageError::Start)?;
                (Page::new(cdp, None, None, Vec::new()), events)
            }
        };
        let started = tokio::time::timeout(START_TIMEOUT, page.setup(events, allow, proxy)).await;
        let error = match started {
            Ok(Ok(())) => return Ok(page),
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no page within {} s", START_TIMEOUT.as_secs()),
        };
        let said = last_words.lock().map(|w| w.join(" | ")).unwrap_or_default();
        page.close().await;
        Err(PageError::Start(if said.is_empty() {
            error
        } else {
            format!("{error}; it said: {said}")
        }))
    }

    fn new(
        cdp: Cdp,
        child: Option<Child>,
        profile: Option<PathBuf>,
        tasks: Vec<JoinHandle<()>>,
    ) -> Page {
        Page {
            cdp,
            context: String::new(),
            // Without a process of ours, the browser is someone else's.
            shared_browser: child.is_none(),
            session: String::new(),
            shared: Arc::default(),
            child,
            profile,
            tasks,
        }
    }

    /// Starts the browser's process, its stderr kept (the last lines, in
    /// `last_words`) to say why a start failed.
    fn launch(
        program: &Path,
        args: &[std::ffi::OsString],
        profile: PathBuf,
        last_words: Arc<Mutex<Vec<String>>>,
    ) -> Result<(Page, mpsc::UnboundedReceiver<Event>), PageError> {
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("HOME", &profile)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| PageError::Start(format!("cannot run {}: {e}", program.display())))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(PageError::Start("no pipe to the browser".to_owned()));
        };
        let stderr_task = tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt;
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "claudeops_worker::browser::chromium", "{line}");
                if let Ok(mut w) = last_words.lock() {
                    if w.len() >= 5 {
                        w.remove(0);
                    }
                    w.push(line);
                }
            }
        });
        let (cdp, events) = Cdp::new(stdout, stdin);
        Ok((
            Page::new(cdp, Some(child), Some(profile), vec![stderr_task]),
            events,
        ))
    }

    async fn setup(
        &mut self,
        events: mpsc::UnboundedReceiver<Event>,
        allow: Arc<AllowList>,
        proxy: u16,
    ) -> Result<(), PageError> {
        let cdp = &self.cdp;
        let context = cdp
            .call(
                None,
                "Target.createBrowserContext",
                json!({
                    "disposeOnDetach": true,
                    "proxyServer": format!("http://127.0.0.1:{proxy}"),
                    "proxyBypassList": allow.bypass_list(),
                }),
            )
            .await?;
        let context = context["browserContextId"]
            .as_str()
            .ok_or_else(|| PageError::Page("no browser context id".to_owned()))?
            .to_owned();
        self.context = context.clone();
        let (main_tx, mut main_rx) = watch::channel::<Option<String>>(None);
        self.tasks.push(tokio::spawn(guard(
            cdp.clone(),
            events,
            allow,
            context.clone(),
            self.shared.clone(),
            main_tx,
        )));
        cdp.call(
            None,
            "Target.setAutoAttach",
            json!({"autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true}),
        )
        .await?;
        cdp.call(
            None,
            "Target.createTarget",
            json!({"url": "about:blank", "browserContextId": context}),
        )
        .await?;
        let session = loop {
            if let Some(session) = main_rx.borrow_and_update().clone() {
                break session;
            }
            main_rx
                .changed()
                .await
                .map_err(|_| PageError::Page("the browser closed".to_owned()))?;
        };
        self.session = session;
        cdp.call(
            Some(&self.session),
            "Emulation.setDeviceMetricsOverride",
            json!({"width": VIEWPORT.0, "height": VIEWPORT.1, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await?;
        Ok(())
    }

    /// Requests blocked and popups closed since the last call, one line each.
    pub fn take_blocked(&self) -> Vec<String> {
        self.shared
            .lock()
            .map(|mut s| {
                let mut out = std::mem::take(&mut s.blocked);
                out.append(&mut s.notes);
                out
            })
            .unwrap_or_default()
    }

    /// Navigates the page and waits for it to load. `Err` says why it did not.
    pub async fn navigate(&self, url: &str) -> Result<(), PageError> {
        let answer = self
            .cdp
            .call(Some(&self.session), "Page.navigate", json!({"url": url}))
            .await?;
        if let Some(error) = answer.get("errorText").and_then(Value::as_str) {
            return Err(PageError::Page(format!("the page did not load ({error})")));
        }
        self.settle().await;
        Ok(())
    }

    /// Waits a moment for what a click or a navigation started, then for the
    /// page to finish loading.
    pub async fn settle(&self) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let deadline = Instant::now() + LOAD_TIMEOUT;
        while Instant::now() < deadline {
            let state = self
                .cdp
                .call(
                    Some(&self.session),
                    "Runtime.evaluate",
                    json!({"expression": "document.readyState", "returnByValue": true}),
                )
                .await;
            match state {
                Ok(v) if v["result"]["value"] == "complete" => return,
                Err(CdpError::Closed) => return,
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// The page's URL, from the browser (not from the page's scripts).
    pub async fn url(&self) -> Result<String, PageError> {
        let tree = self
            .cdp
            .call(Some(&self.session), "Page.getFrameTree", json!({}))
            .await?;
        Ok(tree["frameTree"]["frame"]["url"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Calls a `page.js` function in an isolated world of the main frame.
    pub async fn call(&self, function: &str, args: Vec<Value>) -> Result<Value, PageError> {
        let tree = self
            .cdp
            .call(Some(&self.session), "Page.getFrameTree", json!({}))
            .await?;
        let frame = tree["frameTree"]["frame"]["id"]
            .as_str()
            .ok_or_else(|| PageError::Page("the page has no frame".to_owned()))?
            .to_owned();
        let world = self
            .cdp
            .call(
                Some(&self.session),
                "Page.createIsolatedWorld",
                json!({"frameId": frame, "worldName": "claudeops"}),
            )
            .await?;
        let context = world["executionContextId"].clone();
        let arguments: Vec<Value> = args.into_iter().map(|v| json!({ "value": v })).collect();
        let answer = self
            .cdp
            .call(
                Some(&self.session),
                "Runtime.callFunctionOn",
                json!({
                    "functionDeclaration": js(function),
                    "executionContextId": context,
                    "arguments": arguments,
                    "returnByValue": true,
                    "awaitPromise": true,
                    "userGesture": true,
                }),
            )
            .await?;
        if let Some(details) = answer.get("exceptionDetails") {
            let text = details["exception"]["description"]
                .as_str()
                .or_else(|| details["text"].as_str())
                .unwrap_or("an exception");
            return Err(PageError::Page(format!(
                "the page script failed: {}",
                text.lines().next().unwrap_or(text)
            )));
        }
        Ok(answer["result"]["value"].clone())
    }

    /// Types `text` into the focused element, as a keyboard would.
    pub async fn insert_text(&self, text: &str) -> Result<(), PageError> {
        self.cdp
            .call(
                Some(&self.session),
                "Input.insertText",
                json!({ "text": text }),
            )
            .await?;
        Ok(())
    }

    /// A JPEG of the viewport (small enough for a tool result).
    pub async fn screenshot(&self, quality: u8) -> Result<Vec<u8>, PageError> {
        use base64::Engine;
        let shot = self
            .cdp
            .call(
                Some(&self.session),
                "Page.captureScreenshot",
                json!({"format": "jpeg", "quality": quality}),
            )
            .await?;
        let data = shot["data"]
            .as_str()
            .ok_or_else(|| PageError::Page("no screenshot data".to_owned()))?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| PageError::Page(format!("the screenshot does not decode: {e}")))
    }

    /// Whether the browser is still there.
    pub fn is_alive(&self) -> bool {
        !self.cdp.is_closed()
    }

    /// Closes the browser, kills what is left of it, and deletes its profile.
    pub async fn close(&mut self) {
        if self.shared_browser {
            // Someone else's browser: only the session's context goes, with
            // its pages, cookies and storage.
            if !self.cdp.is_closed() && !self.context.is_empty() {
                let done = async {
                    let _ = self
                        .cdp
                        .call(
                            None,
                            "Target.setAutoAttach",
                            json!({"autoAttach": false, "waitForDebuggerOnStart": false}),
                        )
                        .await;
                    let _ = self
                        .cdp
                        .call(
                            None,
                            "Target.disposeBrowserContext",
                            json!({"browserContextId": self.context}),
                        )
                        .await;
                };
                let _ = tokio::time::timeout(Duration::from_secs(5), done).await;
            }
        } else if !self.cdp.is_closed() {
            let _ = tokio::time::timeout(
                Duration::from_secs(2),
                self.cdp.call(None, "Browser.close", json!({})),
            )
            .await;
        }
        if let Some(mut child) = self.child.take()
            && tokio::time::timeout(Duration::from_secs(3), child.wait())
                .await
                .is_err()
        {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(-pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = child.kill().await;
        }
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let Some(profile) = self.profile.take() {
            remove_profile(&profile).await;
        }
    }
}

impl Drop for Page {
    /// A page dropped without [`Page::close`] (a call cancelled half-way)
    /// still leaves nothing behind: its tasks stop, its browser's process
    /// group is killed and its profile deleted.
    fn drop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let Some(child) = self.child.take()
            && let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(-pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if let Some(profile) = self.profile.take() {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

async fn remove_profile(profile: &Path) {
    // Chromium's last writes can race the first try.
    for _ in 0..3 {
        match tokio::fs::remove_dir_all(profile).await {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    tracing::warn!(profile = %profile.display(), "the browser profile could not be deleted");
}

/// The event loop: attaches every new target of the session's context behind
/// request interception, answers every paused request, closes popups and
/// dismisses dialogs. Targets of other contexts are let go untouched.
async fn guard(
    cdp: Cdp,
    mut events: mpsc::UnboundedReceiver<Event>,
    allow: Arc<AllowList>,
    context: String,
    shared: Arc<Mutex<Shared>>,
    main: watch::Sender<Option<String>>,
) {
    let main = Arc::new(main);
    while let Some(event) = events.recv().await {
        match event.method.as_str() {
            "Fetch.requestPaused" => {
                let url = event.params["request"]["url"].as_str().unwrap_or_default();
                let id = event.params["requestId"].clone();
                let (method, params) = match allow.check(url) {
                    Verdict::Allowed | Verdict::Local => {
                        ("Fetch.continueRequest", json!({"requestId": id}))
                    }
                    Verdict::Blocked(reason) => {
                        let kind = event.params["resourceType"].as_str().unwrap_or("request");
                        if let Ok(mut s) = shared.lock() {
                            // Whole: the reply is redacted first, then cut.
                            push_capped(
                                &mut s.blocked,
                                format!("blocked {} {url}: {reason}", kind.to_ascii_lowercase()),
                            );
                        }
                        (
                            "Fetch.failRequest",
                            json!({"requestId": id, "errorReason": "BlockedByClient"}),
                        )
                    }
                };
                let cdp = cdp.clone();
                let session = event.session.clone();
                tokio::spawn(async move {
                    let _ = cdp.call(session.as_deref(), method, params).await;
                });
            }
            "Target.attachedToTarget" => {
                let cdp = cdp.clone();
                let context = context.clone();
                let shared = shared.clone();
                let main = main.clone();
                tokio::spawn(
                    async move { attached(cdp, event.params, &context, shared, main).await },
                );
            }
            "Page.javascriptDialogOpening" => {
                let message = event.params["message"].as_str().unwrap_or_default();
                if let Ok(mut s) = shared.lock() {
                    push_capped(&mut s.notes, format!("a dialog was dismissed: {message}"));
                }
                let cdp = cdp.clone();
                let session = event.session.clone();
                tokio::spawn(async move {
                    let _ = cdp
                        .call(
                            session.as_deref(),
                            "Page.handleJavaScriptDialog",
                            json!({"accept": false}),
                        )
                        .await;
                });
            }
            _ => {}
        }
    }
}

async fn attached(
    cdp: Cdp,
    params: Value,
    context: &str,
    shared: Arc<Mutex<Shared>>,
    main: Arc<watch::Sender<Option<String>>>,
) {
    let Some(session) = params["sessionId"].as_str() else {
        return;
    };
    let info = &params["targetInfo"];
    let kind = info["type"].as_str().unwrap_or_default();
    let target = info["targetId"].as_str().unwrap_or_default().to_owned();
    let ours = info["browserContextId"].as_str() == Some(context);
    let s = Some(session);
    if !ours {
        let _ = cdp
            .call(s, "Runtime.runIfWaitingForDebugger", json!({}))
            .await;
        let _ = cdp
            .call(
                None,
                "Target.detachFromTarget",
                json!({"sessionId": session}),
            )
            .await;
        return;
    }
    // Interception first, while the target is still paused: nothing it asks
    // for goes out unchecked.
    let fetch = cdp
        .call(
            s,
            "Fetch.enable",
            json!({"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}),
        )
        .await;
    if let Err(error) = fetch {
        tracing::warn!(kind, %error, "a browser target could not be put behind the guard; it is closed");
        let _ = cdp
            .call(None, "Target.closeTarget", json!({"targetId": target}))
            .await;
        return;
    }
    if kind == "page" {
        let first = shared
            .lock()
            .map(|mut sh| {
                if sh.main.is_none() {
                    sh.main = Some(target.clone());
                    true
                } else {
                    false
                }
            })
            .unwrap_or(false);
        if !first {
            let url = info["url"].as_str().unwrap_or_default();
            if let Ok(mut sh) = shared.lock() {
                push_capped(
                    &mut sh.notes,
                    format!(
                        "a popup ({}) was closed: the browser works in one page",
                        if url.is_empty() { "about:blank" } else { url }
                    ),
                );
            }
            // Let it run (its opener waits on it), behind interception, then close it.
            let _ = cdp
                .call(s, "Runtime.runIfWaitingForDebugger", json!({}))
                .await;
            let _ = cdp
                .call(None, "Target.closeTarget", json!({"targetId": target}))
                .await;
            return;
        }
    }
    if kind == "page" || kind == "iframe" {
        let _ = cdp
            .call(
                s,
                "Target.setAutoAttach",
                json!({"autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true}),
            )
            .await;
    }
    if kind == "page" {
        let _ = cdp.call(s, "Page.enable", json!({})).await;
    }
    let _ = cdp
        .call(s, "Runtime.runIfWaitingForDebugger", json!({}))
        .await;
    if kind == "page" {
        main.send_replace(Some(session.to_owned()));
    }
}

/// Keeps at most 50 lines between two calls; one more says there were more.
fn push_capped(list: &mut Vec<String>, line: String) {
    const MOST: usize = 50;
    match list.len() {
        n if n < MOST => list.push(line),
        MOST => list.push("and more after these".to_owned()),
        _ => {}
    }
}
