//! Browser automation for the many apps whose settings live only behind a web
//! login (see `docs/browser.md`).
//!
//! The model never drives the browser. It calls typed actions (`browser_open`,
//! `browser_snapshot`, `browser_click`, `browser_fill`,
//! `browser_fill_credential`, `browser_read_secret`, `browser_wait`,
//! `browser_screenshot`, `browser_close`) through the worker's MCP server; the
//! worker holds the browser over a DevTools pipe of its own ([`cdp`]) and
//! checks each call here. Four layers, each held by code:
//!
//! 1. **Tier**: the actions exist from `CLAUDEOPS_BROWSER_TIER` (default 2), by
//!    the session's tier as the worker knows it.
//! 2. **Origins**: `CLAUDEOPS_BROWSER_ALLOWED_ORIGINS`, enforced by the browser
//!    itself: request interception on every target, popups closed, and a
//!    refusing proxy underneath ([`page`]).
//! 3. **Credentials by reference**: `BROWSER_CRED_{SERVICE}_{FIELD}` live in
//!    the worker's environment only; the worker types one into a field only on
//!    an origin the operator tied to its service
//!    (`CLAUDEOPS_BROWSER_CRED_ORIGINS`), and a password only into a password
//!    field. A key a page shows is taken the same way (`browser_read_secret`).
//! 4. **Redaction**: snapshots hide password values and key-like words; every
//!    known secret, raw or encoded, is replaced in every reply, every output
//!    line and every message to the control plane ([`secrets::Redactor`]);
//!    screenshots are taken with the secrets masked in the page.
//!
//! Each session gets its own Chromium, in the session sandbox, with a fresh
//! profile deleted when the session ends.

pub mod cdp;
pub mod launch;
pub mod origins;
pub mod page;
pub mod secrets;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use claudeops_core::Tier;
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use base64::Engine;

use crate::actions::{ActionContext, ActionReply, ActionRequest};
use crate::sandbox::Sandbox;
pub use origins::{AllowList, CredOrigins, Origin};
use page::{Page, Start};
pub use secrets::{Redactor, Secrets};

/// The browser tools, without the CLI's `mcp__claudeops__` prefix.
pub const TOOLS: &[&str] = &[
    "browser_open",
    "browser_snapshot",
    "browser_click",
    "browser_fill",
    "browser_fill_credential",
    "browser_read_secret",
    "browser_wait",
    "browser_screenshot",
    "browser_close",
];

/// The most characters of a snapshot the model gets.
pub const SNAPSHOT_CHARS: usize = 16 * 1024;
/// The longest text `browser_fill` types.
const MAX_FILL: usize = 10_000;
/// The longest `browser_wait`.
const MAX_WAIT_SECS: u64 = 60;

const NOTHING: &str = "Nothing was done.";

/// Whether `tool` is a browser action.
pub fn is_tool(tool: &str) -> bool {
    TOOLS.contains(&tool)
}

/// The browser settings, checked.
#[derive(Debug, Clone)]
pub struct BrowserConfig {
    pub allowed: AllowList,
    pub creds: CredOrigins,
    pub tier: Tier,
    /// The Chromium binary.
    pub chromium: PathBuf,
    /// This binary (the pipe helper and the sandbox's privilege drop).
    pub helper: PathBuf,
    /// Where each session's profile is made (`STATE_DIR/browser`): never inside
    /// a session workspace, so the agent cannot read the profile's cookies.
    pub profiles: PathBuf,
    /// `CLAUDEOPS_BROWSER_CDP_URL`: a running browser (the original's Chrome
    /// sidecar) to use instead of a Chromium per session.
    pub cdp_url: Option<String>,
}

/// Every session's browser on this worker.
pub struct Browsers {
    config: BrowserConfig,
    sandbox: Sandbox,
    secrets: Secrets,
    open: Mutex<HashMap<i64, Arc<Mutex<Open>>>>,
    /// What each running session captured and typed: kept across
    /// `browser_close`, dropped at the session's end.
    memory: std::sync::Mutex<HashMap<i64, Memory>>,
    /// Sessions that have ended: their browser is never started again.
    ended: std::sync::Mutex<std::collections::HashSet<i64>>,
}

/// One session's browser.
#[derive(Default)]
struct Open {
    page: Option<Page>,
    proxy: Option<tokio::task::JoinHandle<()>>,
    /// Set when the browser was closed: a call that still holds this slot
    /// starts nothing.
    closed: bool,
    /// The key-like words the page showed just before the model's last
    /// click: a key captured now must not be one of them.
    before_click: std::collections::HashSet<String>,
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(proxy) = self.proxy.take() {
            proxy.abort();
        }
    }
}

/// What a session captured and what the model typed, across its browsers.
#[derive(Default)]
struct Memory {
    /// Secrets read from pages (`browser_read_secret`).
    captured: std::collections::BTreeMap<String, String>,
    /// Every capture so far, replacements included.
    captures: usize,
    /// What the model typed, opened or waited for, lower-cased: never taken
    /// as a secret, so the model cannot make one of its own.
    typed: Vec<String>,
    shots: u32,
}

/// The most secrets one session may capture.
const MAX_CAPTURED: usize = 20;
/// The most screenshots one session may take.
const MAX_SHOTS: u32 = 10;
/// A screenshot larger than this is taken again at a lower quality.
const MAX_SHOT_BYTES: usize = 400 * 1024;
/// The longest line of a reply, cut after redaction.
const MAX_REPLY_LINE: usize = 600;

impl Browsers {
    pub fn new(config: BrowserConfig, sandbox: Sandbox, secrets: Secrets) -> Browsers {
        Browsers {
            config,
            sandbox,
            secrets,
            open: Mutex::new(HashMap::new()),
            memory: std::sync::Mutex::default(),
            ended: std::sync::Mutex::default(),
        }
    }

    /// The browser of a worker, when its configuration turns browser actions
    /// on; credentials come from its environment (`BROWSER_CRED_*`), and a
    /// refused one is logged by name only. Profiles an earlier run left (it
    /// died with sessions open) are deleted: no session runs yet.
    pub fn from_config(config: &crate::WorkerConfig, sandbox: &Sandbox) -> Option<Browsers> {
        let browser = config.browser()?;
        let (secrets, problems) = Secrets::from_vars(std::env::vars(), Redactor::global().clone());
        for problem in problems {
            tracing::error!("a browser credential is refused: {problem}");
        }
        if let Err(error) = std::fs::remove_dir_all(&browser.profiles)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %browser.profiles.display(), %error, "old browser profiles could not be deleted");
        }
        if let Some(url) = &browser.cdp_url {
            tracing::warn!(
                %url,
                "browser actions use the browser at CLAUDEOPS_BROWSER_CDP_URL: its DevTools port is open to whatever reaches its network, session shells included, so the allow-list and the credential rules hold only for what the worker drives; unset it to give each session a Chromium of its own behind a pipe"
            );
        }
        tracing::info!(
            origins = %browser.allowed.origins().iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            tier = %browser.tier,
            credentials = %secrets.names().join(","),
            "browser actions are on"
        );
        Some(Browsers::new(browser, sandbox.clone(), secrets))
    }

    pub fn config(&self) -> &BrowserConfig {
        &self.config
    }

    /// Whether a session at `tier` gets the browser actions.
    pub fn offered(&self, tier: Tier) -> bool {
        tier >= self.config.tier
    }

    /// Runs one browser action for a session. Every reply is redacted, then
    /// cut to size (never the other way round: a cut could split a secret).
    pub async fn handle(&self, request: &ActionRequest, ctx: &ActionContext) -> ActionReply {
        let reply = self.dispatch(request, ctx).await;
        // Known secrets out, then key-like words hidden, then cut: whatever
        // the page put in the reply (a blocked URL, a dialog, an error).
        let text = secrets::hide_tokens(&self.secrets.redactor().redact(&reply.text));
        let text: Vec<String> = text
            .lines()
            .map(|line| match line.char_indices().nth(MAX_REPLY_LINE) {
                Some((at, _)) => format!("{}...", &line[..at]),
                None => line.to_owned(),
            })
            .collect();
        ActionReply {
            ok: reply.ok,
            text: text.join("\n"),
        }
    }

    async fn dispatch(&self, request: &ActionRequest, ctx: &ActionContext) -> ActionReply {
        let (session_id, tier, tool) = (request.session_id, ctx.tier, request.tool.as_str());
        if !self.offered(tier) {
            return ActionReply::failed(format!(
                "{tool} needs tier {} or higher (CLAUDEOPS_BROWSER_TIER); this session runs at tier {tier} ({}). Report what you found and recommend escalation instead. {NOTHING}",
                self.config.tier,
                tier.role()
            ));
        }
        let args = match Args::new(tool, &request.arguments) {
            Ok(args) => args,
            Err(error) => return ActionReply::failed(format!("{tool}: {error}. {NOTHING}")),
        };
        if tool == "browser_close" {
            self.close(session_id).await;
            return ActionReply::ok("the browser is closed; its profile is deleted");
        }
        let slot = {
            let mut open = self.open.lock().await;
            if self.has_ended(session_id) {
                return ActionReply::failed(format!("session {session_id} has ended. {NOTHING}"));
            }
            open.entry(session_id).or_default().clone()
        };
        let mut open = slot.lock().await;
        if open.closed || self.has_ended(session_id) {
            return ActionReply::failed(format!(
                "the browser was closed meanwhile; call again to open a new one. {NOTHING}"
            ));
        }
        if tool == "browser_open" {
            let url = match args.string("url") {
                Ok(url) => url,
                Err(error) => return ActionReply::failed(format!("{tool}: {error}. {NOTHING}")),
            };
            let refusal = match self.config.allowed.check(&url) {
                origins::Verdict::Allowed => None,
                origins::Verdict::Local => Some("a page of no origin is never opened".to_owned()),
                origins::Verdict::Blocked(reason) => Some(reason),
            };
            if let Some(reason) = refusal {
                return ActionReply::failed(format!(
                    "browser_open refused {url}: {reason}. Only pages of the operator's allowed origins open: {}. {NOTHING}",
                    self.allowed_list()
                ));
            }
            if open.page.as_ref().is_none_or(|p| !p.is_alive())
                && let Err(error) = self.start(session_id, &mut open).await
            {
                return ActionReply::failed(format!("{error}. {NOTHING}"));
            }
        }
        if open.page.as_ref().is_none_or(|p| !p.is_alive()) {
            return ActionReply::failed(format!(
                "no page is open in this session: call browser_open with a URL first. {NOTHING}"
            ));
        }
        // What the model names is its own text: never a secret it can capture.
        for key in ["url", "text"] {
            if let Ok(Some(text)) = args.optional_string(key) {
                self.remember_typed(session_id, &text);
            }
        }
        let result = match tool {
            "browser_open" => self.open_url(&open, &args).await,
            "browser_snapshot" => self.snapshot(&open).await,
            "browser_click" => self.click(&mut open, &args).await,
            "browser_fill" => self.fill(&open, &args).await,
            "browser_fill_credential" => self.fill_credential(session_id, &open, &args).await,
            "browser_read_secret" => self.read_secret(session_id, &open, &args).await,
            "browser_wait" => self.wait(&open, &args).await,
            "browser_screenshot" => self.screenshot(session_id, &open, ctx).await,
            _ => Err(format!("unknown browser action {tool}")),
        };
        let blocked = open
            .page
            .as_ref()
            .map(Page::take_blocked)
            .unwrap_or_default();
        let mut reply = match result {
            Ok(text) => ActionReply::ok(text),
            Err(error) => ActionReply::failed(format!("{tool}: {error}")),
        };
        if !blocked.is_empty() {
            reply.text.push_str("\nMeanwhile the browser ");
            reply.text.push_str(&blocked.join("; "));
            reply.text.push_str(
                ". Blocked requests are final: the operator's allow-list decides, not a retry.",
            );
        }
        reply
    }

    fn allowed_list(&self) -> String {
        self.config
            .allowed
            .origins()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    async fn start(&self, session_id: i64, open: &mut Open) -> Result<(), String> {
        if let Some(mut old) = open.page.take() {
            old.close().await;
        }
        if let Some(proxy) = open.proxy.take() {
            proxy.abort();
        }
        let start = self.how_to_start(session_id).await?;
        // A sidecar reaches no proxy of the worker's: its own loopback port
        // refuses as well, so everything not allowed still fails there too.
        let (port, proxy) = launch::refusing_proxy()
            .await
            .map_err(|e| format!("cannot start the browser's proxy: {e}"))?;
        match Page::open(start, Arc::new(self.config.allowed.clone()), port).await {
            Ok(page) => {
                open.page = Some(page);
                open.proxy = Some(proxy);
                Ok(())
            }
            Err(error) => {
                proxy.abort();
                Err(error.to_string())
            }
        }
    }

    /// The sidecar's WebSocket, or a Chromium of the session's own with a
    /// fresh profile given to the sandbox user.
    async fn how_to_start(&self, session_id: i64) -> Result<Start, String> {
        if let Some(endpoint) = &self.config.cdp_url {
            let websocket = cdp::websocket_url(endpoint).await.map_err(|e| {
                format!("the browser at CLAUDEOPS_BROWSER_CDP_URL cannot be used: {e}")
            })?;
            return Ok(Start::Connect { websocket });
        }
        let profile = self.config.profiles.join(format!("session-{session_id}"));
        let _ = tokio::fs::remove_dir_all(&profile).await;
        tokio::fs::create_dir_all(&profile).await.map_err(|e| {
            format!(
                "cannot create the browser profile {}: {e}",
                profile.display()
            )
        })?;
        if let Some(owner) = self.sandbox.owner() {
            crate::sandbox::give(&profile, owner, &[])
                .map_err(|e| format!("cannot give the browser profile to the sandbox user: {e}"))?;
        }
        let (program, args) = launch::command(
            &self.sandbox,
            &self.config.helper,
            &self.config.chromium,
            &profile,
            &self.config.allowed,
        );
        Ok(Start::Launch {
            program,
            args,
            profile,
        })
    }

    /// Closes a session's browser (on `browser_close`; the session may open
    /// a new one, and keeps what it captured).
    pub async fn close(&self, session_id: i64) {
        let slot = self.open.lock().await.remove(&session_id);
        if let Some(slot) = slot {
            let mut open = slot.lock().await;
            open.closed = true;
            if let Some(mut page) = open.page.take() {
                page.close().await;
            }
            if let Some(proxy) = open.proxy.take() {
                proxy.abort();
            }
        }
    }

    /// The session has ended: its browser closes, its profile and captured
    /// secrets go, and no call of it starts a browser again.
    pub async fn end(&self, session_id: i64) {
        {
            // Under the map's lock, so no call is between its check and its slot.
            let _open = self.open.lock().await;
            let mut ended = self
                .ended
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Session ids only grow: the oldest are let go past a bound.
            if ended.len() >= 10_000
                && let Some(oldest) = ended.iter().min().copied()
            {
                ended.remove(&oldest);
            }
            ended.insert(session_id);
        }
        self.close(session_id).await;
        self.memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&session_id);
    }

    fn has_ended(&self, session_id: i64) -> bool {
        self.ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&session_id)
    }

    fn with_memory<T>(&self, session_id: i64, f: impl FnOnce(&mut Memory) -> T) -> T {
        let mut memory = self
            .memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(memory.entry(session_id).or_default())
    }

    fn remember_typed(&self, session_id: i64, text: &str) {
        let text = text.trim().to_lowercase();
        if !text.is_empty() {
            self.with_memory(session_id, |m| {
                if m.typed.len() < 1000 {
                    m.typed.push(text);
                }
            });
        }
    }

    fn page(open: &Open) -> Result<&Page, String> {
        open.page
            .as_ref()
            .ok_or_else(|| "no page is open: call browser_open first".to_owned())
    }

    async fn open_url(&self, open: &Open, args: &Args) -> Result<String, String> {
        let page = Self::page(open)?;
        let url = args.string("url")?;
        page.navigate(&url).await.map_err(|e| e.to_string())?;
        self.where_now(page, "opened").await
    }

    /// Text for the model from the page: known secrets out first, then
    /// key-like words hidden.
    fn clean(&self, text: &str) -> String {
        secrets::hide_tokens(&self.secrets.redactor().redact(text))
    }

    async fn where_now(&self, page: &Page, did: &str) -> Result<String, String> {
        let url = page.url().await.map_err(|e| e.to_string())?;
        // Not a snapshot: that would renumber the references the model holds.
        let title = page
            .call("title", vec![])
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        // `handle` redacts and hides key-like words in the whole reply.
        Ok(format!(
            "{did}; the page is now {url} \"{title}\". Call browser_snapshot to read it."
        ))
    }

    async fn snapshot(&self, open: &Open) -> Result<String, String> {
        let page = Self::page(open)?;
        let snap = page
            .call("snapshot", vec![json!(page::SNAPSHOT_LINES)])
            .await
            .map_err(|e| e.to_string())?;
        let mut text = format!(
            "page: {} \"{}\"\n",
            snap["url"].as_str().unwrap_or_default(),
            snap["title"].as_str().unwrap_or_default()
        );
        for line in snap["lines"].as_array().into_iter().flatten() {
            text.push_str(line.as_str().unwrap_or_default());
            text.push('\n');
        }
        let mut text = self.clean(&text);
        if text.len() > SNAPSHOT_CHARS {
            let cut = (0..=SNAPSHOT_CHARS)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            text.truncate(cut);
            text.push_str("\n... (the snapshot is cut here)");
        } else if snap["truncated"].as_bool() == Some(true) {
            text.push_str("... (the page has more than this)");
        }
        text.push_str(
            "\nPassword values and key-like words are hidden; refer to elements by their [eN] reference.",
        );
        Ok(text)
    }

    async fn element(&self, page: &Page, reference: &str) -> Result<Element, String> {
        let info = page
            .call("element", vec![json!(reference)])
            .await
            .map_err(|e| e.to_string())?;
        if info.is_null() {
            return Err(format!(
                "there is no element {reference} on this page: take a new browser_snapshot (references change when the page does)"
            ));
        }
        Ok(Element {
            tag: info["tag"].as_str().unwrap_or_default().to_owned(),
            kind: info["type"].as_str().unwrap_or_default().to_owned(),
        })
    }

    async fn click(&self, open: &mut Open, args: &Args) -> Result<String, String> {
        let reference = args.reference()?;
        let before = Self::page(open)?
            .call("tokens", vec![])
            .await
            .map_err(|e| e.to_string())?;
        open.before_click = before
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str().map(str::to_owned))
            .collect();
        let page = Self::page(open)?;
        let clicked = page
            .call("click", vec![json!(reference)])
            .await
            .map_err(|e| e.to_string())?;
        if clicked != Value::Bool(true) {
            return Err(format!(
                "there is no element {reference} on this page: take a new browser_snapshot"
            ));
        }
        page.settle().await;
        self.where_now(page, &format!("clicked {reference}")).await
    }

    async fn fill(&self, open: &Open, args: &Args) -> Result<String, String> {
        let reference = args.reference()?;
        let text = args.string("text")?;
        if text.chars().count() > MAX_FILL {
            return Err(format!("the text is longer than {MAX_FILL} characters"));
        }
        let page = Self::page(open)?;
        let element = self.element(page, &reference).await?;
        if element.kind == "password" {
            return Err(format!(
                "{reference} is a password field: use browser_fill_credential with the credential's name"
            ));
        }
        // One call in the page checks the field and types: focus cannot move
        // between them. A form holding a credential is never changed.
        let outcome = page
            .call("type_text", vec![json!(reference), json!(text)])
            .await
            .map_err(|e| e.to_string())?;
        match outcome.as_str().unwrap_or_default() {
            "ok" if element.tag == "select" => Ok(format!("selected {text:?} in {reference}")),
            "ok" => Ok(format!(
                "typed {} characters into {reference}",
                text.chars().count()
            )),
            "credential" => Err(format!(
                "refused: {reference}'s form holds a credential the worker typed; a form with a credential in it is sent as the page made it, not changed"
            )),
            "option" => Err(format!("{reference} has no option {text:?}")),
            "missing" => Err(format!(
                "there is no element {reference} on this page: take a new browser_snapshot"
            )),
            _ => Err(format!(
                "{reference} is not an editable text field or select"
            )),
        }
    }

    /// A secret by name: one captured in this session, else a credential of
    /// the worker's environment.
    fn secret(&self, session_id: i64, name: &str) -> Option<(String, bool)> {
        match self.with_memory(session_id, |m| m.captured.get(name).cloned()) {
            Some(value) => Some((value, true)),
            None => self.secrets.get(name).map(|v| (v, false)),
        }
    }

    async fn fill_credential(
        &self,
        session_id: i64,
        open: &Open,
        args: &Args,
    ) -> Result<String, String> {
        let page = Self::page(open)?;
        let reference = args.reference()?;
        let name = args.name()?;
        let Some((value, captured)) = self.secret(session_id, &name) else {
            return Err(format!(
                "this worker holds no credential {name}; the operator sets BROWSER_CRED_{name} in the worker's environment (held now: {})",
                self.held(session_id)
            ));
        };
        let service = self.config.creds.service_of(&name).ok_or_else(|| {
            format!(
                "{name} belongs to no service tied to an origin; the operator ties services in CLAUDEOPS_BROWSER_CRED_ORIGINS (tied now: {})",
                self.tied_services()
            )
        })?;
        let tied: Vec<String> = self
            .config
            .creds
            .origins_of(service)
            .iter()
            .map(ToString::to_string)
            .collect();
        let mode = if captured {
            "captured"
        } else if text_credential(&name) {
            "text"
        } else {
            "password"
        };
        // One call in the page checks the origin and the field and types: no
        // navigation can come between the check and the typing.
        let outcome = page
            .call(
                "fill_secret",
                vec![json!(reference), json!(value), json!(tied), json!(mode)],
            )
            .await
            .map_err(|e| e.to_string())?;
        match outcome.as_str().unwrap_or_default() {
            "ok" => Ok(format!(
                "typed the credential {name} into {reference}; its value is never shown"
            )),
            "origin" => {
                let here = page
                    .url()
                    .await
                    .ok()
                    .and_then(|u| Origin::of(&u))
                    .map_or_else(|| "none".to_owned(), |o| o.to_string());
                Err(format!(
                    "refused: this page's origin ({here}) is not one {service}'s credentials belong to ({}). A credential is typed only into its own service's pages",
                    tied.join(", ")
                ))
            }
            "missing" => Err(format!(
                "there is no element {reference} on this page: take a new browser_snapshot"
            )),
            "password" => Err(format!(
                "refused: {name} is typed only into a password field, and {reference} is not one (only names ending in _USER, _USERNAME, _EMAIL, _LOGIN, _KEY or _TOKEN, and captured keys, go into other fields)"
            )),
            "typed" => Err(format!(
                "refused: you typed into {reference}'s form; a credential goes only into a form as the page made it"
            )),
            "captured" => Err(format!(
                "refused: {name} is a key captured from a page, and is never typed into a password field"
            )),
            "field" => Err(format!(
                "{reference} is not an editable text or password field"
            )),
            other => Err(format!("the page did not take the credential ({other})")),
        }
    }

    async fn read_secret(
        &self,
        session_id: i64,
        open: &Open,
        args: &Args,
    ) -> Result<String, String> {
        let reference = args.reference()?;
        let name = args.name()?;
        let service = self.config.creds.service_of(&name).ok_or_else(|| {
            format!(
                "{name} belongs to no service tied to an origin, so it could never be used; name it SERVICE_FIELD after the service that will take it (tied: {})",
                self.tied_services()
            )
        })?;
        if self.secrets.get(&name).is_some() {
            return Err(format!(
                "{name} is a credential of the operator's; capture under another name"
            ));
        }
        if self.with_memory(session_id, |m| m.captures) >= MAX_CAPTURED {
            return Err(format!(
                "this session has captured {MAX_CAPTURED} secrets, the most it may"
            ));
        }
        let page = Self::page(open)?;
        let element = self.element(page, &reference).await?;
        if element.kind == "password" {
            return Err(format!(
                "refused: {reference} is a password field; only a key the page shows is captured"
            ));
        }
        let value = page
            .call("read", vec![json!(reference)])
            .await
            .map_err(|e| e.to_string())?;
        let value = value.as_str().unwrap_or_default().to_owned();
        if !secrets::looks_like_token(&value) {
            return Err(format!(
                "refused: {reference} does not hold one key the page generated (20 or more letters, digits, `_` or `-`, with both letters and digits); nothing was captured"
            ));
        }
        let lower = value.to_lowercase();
        if open.before_click.contains(&lower) {
            return Err(format!(
                "refused: {reference} held this key before your last click; only a key the page made in answer to it (a regenerate button) is captured"
            ));
        }
        let mut known = self.secrets.values();
        known.extend(self.with_memory(session_id, |m| {
            m.captured.values().cloned().collect::<Vec<_>>()
        }));
        if known
            .iter()
            .map(|k| k.to_lowercase())
            .any(|k| k.contains(lower.as_str()) || lower.contains(k.as_str()))
        {
            return Err(format!(
                "refused: {reference} holds a secret the worker already has; nothing was captured"
            ));
        }
        let typed = self.with_memory(session_id, |m| {
            m.typed
                .iter()
                .any(|t| t.contains(lower.as_str()) || (t.len() >= 6 && lower.contains(t.as_str())))
        });
        if typed {
            return Err(format!(
                "refused: {reference} holds text you typed; only a key the page generated is captured"
            ));
        }
        self.secrets.redactor().add(&value);
        let length = value.chars().count();
        self.with_memory(session_id, |m| {
            m.captures += 1;
            m.captured.insert(name.clone(), value);
        });
        Ok(format!(
            "captured {name} from {reference} ({length} characters); the worker holds it for this session. Type it where it belongs with browser_fill_credential on one of {service}'s pages; you never see it"
        ))
    }

    async fn wait(&self, open: &Open, args: &Args) -> Result<String, String> {
        let page = Self::page(open)?;
        let text = args.optional_string("text")?;
        let reference = args.optional_reference()?;
        if text.is_none() == reference.is_none() {
            return Err("give either `text` or `ref`".to_owned());
        }
        let seconds = args.seconds()?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        loop {
            // What the model could read anyway: the snapshot, with secrets
            // hidden, so waiting for a text cannot test a key letter by letter.
            let found = if let Some(text) = &text {
                self.snapshot(open)
                    .await
                    .map(|s| s.to_lowercase().contains(&text.to_lowercase()))
                    .unwrap_or(false)
            } else if let Some(reference) = &reference {
                self.element(page, reference).await.is_ok()
            } else {
                false
            };
            if found {
                return Ok(format!(
                    "{} is on the page",
                    text.as_deref().map_or_else(
                        || reference.clone().unwrap_or_default(),
                        |t| format!("{t:?}")
                    )
                ));
            }
            if std::time::Instant::now() >= deadline {
                return Err(format!("not on the page within {seconds} s"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }

    /// A screenshot for the operator: taken with every password field and
    /// every element holding a secret or a key-like word masked, then added
    /// to the session's output (the session page shows it). The model is not
    /// given the picture.
    async fn screenshot(
        &self,
        session_id: i64,
        open: &Open,
        ctx: &ActionContext,
    ) -> Result<String, String> {
        let Some(notes) = ctx.notes.clone() else {
            return Err("this session's output takes no screenshots".to_owned());
        };
        if self.with_memory(session_id, |m| m.shots) >= MAX_SHOTS {
            return Err(format!(
                "this session has taken {MAX_SHOTS} screenshots, the most it may"
            ));
        }
        let page = Self::page(open)?;
        let mut values = self.secrets.values();
        values.extend(self.with_memory(session_id, |m| {
            m.captured.values().cloned().collect::<Vec<_>>()
        }));
        let masked = page
            .call("mask", vec![json!(values)])
            .await
            .map_err(|e| e.to_string())?;
        let mut shot = page.screenshot(75).await;
        if shot.as_ref().is_ok_and(|j| j.len() > MAX_SHOT_BYTES) {
            shot = page.screenshot(35).await;
        }
        let _ = page.call("unmask", vec![]).await;
        let jpeg = shot.map_err(|e| e.to_string())?;
        if jpeg.len() > MAX_SHOT_BYTES * 2 {
            return Err("the page's screenshot is too large to keep".to_owned());
        }
        let n = self.with_memory(session_id, |m| {
            m.shots += 1;
            m.shots
        });
        let line = json!({
            "type": SCREENSHOT_LINE,
            "n": n,
            "media_type": "image/jpeg",
            "data": base64::engine::general_purpose::STANDARD.encode(&jpeg),
            "masked": masked.as_u64().unwrap_or(0),
        });
        notes
            .send(line.to_string())
            .await
            .map_err(|_| "the session's output is closed".to_owned())?;
        Ok(format!(
            "screenshot {n} taken ({}x{}, {} KiB) and added to the session's output for the operator; you are not shown it",
            page::VIEWPORT.0,
            page::VIEWPORT.1,
            jpeg.len().div_ceil(1024),
        ))
    }

    fn held(&self, session_id: i64) -> String {
        let mut names = self.secrets.names();
        names.extend(self.with_memory(session_id, |m| {
            m.captured.keys().cloned().collect::<Vec<_>>()
        }));
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }

    fn tied_services(&self) -> String {
        let services: Vec<&str> = self.config.creds.services().collect();
        if services.is_empty() {
            "none".to_owned()
        } else {
            services.join(", ")
        }
    }
}

/// The type of the output line a screenshot is kept in.
pub const SCREENSHOT_LINE: &str = "claudeops_screenshot";

/// Whether a credential may go into a field other than a password field:
/// user names and keys. Anything else (`_PASS`, `_PASSWORD`, `_PIN`,
/// `_SECRET`, a name of the operator's own) is typed only into a password field.
fn text_credential(name: &str) -> bool {
    ["_USER", "_USERNAME", "_EMAIL", "_LOGIN", "_KEY", "_TOKEN"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

struct Element {
    tag: String,
    kind: String,
}

/// A browser action's arguments, checked against what it takes.
struct Args(Map<String, Value>);

impl Args {
    fn new(tool: &str, args: &Value) -> Result<Args, String> {
        let known: &[&str] = match tool {
            "browser_open" => &["url", "reason"],
            "browser_snapshot" | "browser_screenshot" | "browser_close" => &["reason"],
            "browser_click" => &["ref", "reason"],
            "browser_fill" => &["ref", "text", "reason"],
            "browser_fill_credential" | "browser_read_secret" => &["ref", "name", "reason"],
            "browser_wait" => &["text", "ref", "timeout_seconds", "reason"],
            _ => return Err(format!("unknown browser action {tool}")),
        };
        let map = match args {
            Value::Object(map) => map.clone(),
            Value::Null => Map::new(),
            _ => return Err("the arguments must be a JSON object".to_owned()),
        };
        if let Some(extra) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!(
                "unknown argument `{extra}`; {tool} takes {}",
                known.join(", ")
            ));
        }
        Ok(Args(map))
    }

    fn optional_string(&self, key: &str) -> Result<Option<String>, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("`{key}` must be a string, not {other}")),
        }
    }

    fn string(&self, key: &str) -> Result<String, String> {
        self.optional_string(key)?
            .ok_or_else(|| format!("`{key}` is required"))
    }

    fn optional_reference(&self) -> Result<Option<String>, String> {
        match self.optional_string("ref")? {
            None => Ok(None),
            Some(r) if valid_ref(&r) => Ok(Some(r)),
            Some(r) => Err(format!(
                "`ref` {r:?} is not an element reference; use one from browser_snapshot, like e12"
            )),
        }
    }

    fn reference(&self) -> Result<String, String> {
        self.optional_reference()?.ok_or_else(|| {
            "`ref` is required: an element reference from browser_snapshot".to_owned()
        })
    }

    fn name(&self) -> Result<String, String> {
        let name = self.string("name")?;
        if secrets::valid_name(&name) {
            Ok(name)
        } else {
            Err(format!(
                "`name` {name:?} must be a credential's name, SERVICE_FIELD in upper case (as in BROWSER_CRED_SERVICE_FIELD), never a value"
            ))
        }
    }

    fn seconds(&self) -> Result<u64, String> {
        match self.0.get("timeout_seconds") {
            None | Some(Value::Null) => Ok(10),
            Some(v) => v
                .as_u64()
                .filter(|s| (1..=MAX_WAIT_SECS).contains(s))
                .ok_or_else(|| {
                    format!("`timeout_seconds` must be a whole number from 1 to {MAX_WAIT_SECS}")
                }),
        }
    }
}

/// `e` and 1 to 6 digits.
fn valid_ref(r: &str) -> bool {
    r.len() >= 2 && r.len() <= 7 && r.starts_with('e') && r[1..].bytes().all(|b| b.is_ascii_digit())
}

/// The tool definitions the model reads.
pub fn tool_definitions() -> Vec<Value> {
    let reference = json!({"type": "string", "description": "An element reference from the latest browser_snapshot, like e12."});
    let name = json!({"type": "string", "description": "The credential's name, SERVICE_FIELD in upper case (the operator's BROWSER_CRED_SERVICE_FIELD), never its value."});
    let reason = json!({"type": "string", "description": "Optional: one line on why, for the audit record."});
    let def = |tool: &str, description: &str, properties: Value, required: &[&str]| {
        json!({
            "name": tool,
            "description": description,
            "inputSchema": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": false,
            },
        })
    };
    vec![
        def(
            "browser_open",
            "Open a page of one of the operator's allowed origins in this session's own headless browser (started on first use, deleted at the session's end). Any request to another origin (a redirect, a frame, a script, a popup) is blocked by the browser and reported here; do not try to get around it.",
            json!({"url": {"type": "string", "description": "An http or https URL of an allowed origin."}, "reason": reason}),
            &["url"],
        ),
        def(
            "browser_snapshot",
            "Read the open page: its headings, text, links, buttons and form fields, each control with a reference like [e12]. Password values and key-like words are hidden.",
            json!({"reason": reason}),
            &[],
        ),
        def(
            "browser_click",
            "Click an element by its reference, then wait for the page to settle.",
            json!({"ref": reference, "reason": reason}),
            &["ref"],
        ),
        def(
            "browser_fill",
            "Type text into a text field (replacing what it holds), or choose an option of a select by its text. Never for passwords or keys: use browser_fill_credential.",
            json!({"ref": reference, "text": {"type": "string"}, "reason": reason}),
            &["ref", "text"],
        ),
        def(
            "browser_fill_credential",
            "Type a credential the worker holds into a field, by the credential's name. The worker types it only on a page of the origin the operator tied to its service, and a password only into a password field; you never see the value.",
            json!({"ref": reference, "name": name, "reason": reason}),
            &["ref", "name"],
        ),
        def(
            "browser_read_secret",
            "Capture a secret the page shows (a newly generated API key) into the worker's store under a name, without reading it: name it SERVICE_FIELD after the service that will take it, then type it there with browser_fill_credential.",
            json!({"ref": reference, "name": name, "reason": reason}),
            &["ref", "name"],
        ),
        def(
            "browser_wait",
            "Wait until a text appears on the page, or an element reference exists, for up to timeout_seconds (default 10, at most 60).",
            json!({"text": {"type": "string"}, "ref": reference, "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 60}, "reason": reason}),
            &[],
        ),
        def(
            "browser_screenshot",
            "Take a screenshot of the page for the session's record (secrets and password fields are masked first); it is shown on the session page.",
            json!({"reason": reason}),
            &[],
        ),
        def(
            "browser_close",
            "Close this session's browser and delete its profile.",
            json!({"reason": reason}),
            &[],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_names_are_strict() {
        for good in ["e1", "e12", "e999999"] {
            assert!(valid_ref(good), "{good}");
        }
        for bad in ["", "e", "12", "e1x", "E1", "e1234567", "e1\"]"] {
            assert!(!valid_ref(bad), "{bad}");
        }
        assert!(Args::new("browser_click", &json!({"ref": "e1", "force": true})).is_err());
        assert!(
            Args::new(
                "browser_fill_credential",
                &json!({"ref": "e1", "name": "hunter2"})
            )
            .and_then(|a| a.name())
            .is_err()
        );
        assert!(text_credential("SONARR_USER") && text_credential("SONARR_API_KEY"));
        for password in [
            "SONARR_PASS",
            "APP_PASSWORD",
            "APP_PASSWD",
            "APP_PIN",
            "APP_SECRET",
            "APP_X",
        ] {
            assert!(!text_credential(password), "{password}");
        }
    }

    #[test]
    fn every_tool_has_a_definition() {
        let names: Vec<String> = tool_definitions()
            .iter()
            .map(|d| d["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(names, TOOLS);
        for def in tool_definitions() {
            let tool = def["name"].as_str().unwrap_or_default();
            let props: Vec<String> = def["inputSchema"]["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            let args: Map<String, Value> = props.iter().map(|p| (p.clone(), Value::Null)).collect();
            assert!(Args::new(tool, &Value::Object(args)).is_ok(), "{tool}");
        }
    }
}
