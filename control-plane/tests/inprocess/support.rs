//! What every in-process test needs: a control plane built in a temporary
//! directory with its worker link on a loopback port, the HTTP router driven
//! with `oneshot`, and polling with a deadline instead of sleeps.
//!
//! The fake worker lives in `fake_worker.rs`; server-sent events are read by
//! `sse_reader.rs`. Nothing here starts a binary or reaches past 127.0.0.1.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use claudeops_control_plane::app::AppState;
use claudeops_control_plane::config::Config;
use claudeops_control_plane::{Built, build, http};
use http_body_util::BodyExt;
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// The API token every test app is built with.
pub const TOKEN: &str = "in-process-test-token-0123456789";
/// How long any single wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A control plane assembled in its own state directory, its worker link
/// served on 127.0.0.1. Dropping it stops the link.
pub struct TestApp {
    pub state: AppState,
    pub link_addr: SocketAddr,
    pub dir: TempDir,
    built: Arc<Built>,
    stop: watch::Sender<bool>,
}

/// The configuration every test starts from: state in `dir`, no scheduled
/// runs, the test token, every listener on loopback.
pub fn base_config(dir: &TempDir) -> Config {
    Config {
        state_dir: dir.path().join("state"),
        results_dir: dir.path().join("results"),
        repos_dir: dir.path().join("repos"),
        interval: std::time::Duration::ZERO,
        api_token: Some(TOKEN.to_owned()),
        listen_addr: [127, 0, 0, 1].into(),
        dashboard_port: 0,
        grpc_port: 0,
        enroll_port: 0,
        notify_digest_time: "off".to_owned(),
        ..Config::default()
    }
}

impl TestApp {
    /// A control plane with the base configuration.
    pub async fn start() -> TestApp {
        TestApp::with(|_| {}).await
    }

    /// A control plane with the base configuration adjusted by `adjust`.
    pub async fn with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::launch(adjust, None).await
    }

    /// A control plane whose link closes a worker silent for `limit`.
    pub async fn with_silence_limit(limit: Duration) -> TestApp {
        TestApp::launch(|_| {}, Some(limit)).await
    }

    async fn launch(adjust: impl FnOnce(&mut Config), silence_limit: Option<Duration>) -> TestApp {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
        TestApp::launch_in(dir, adjust, silence_limit).await
    }

    /// The same control plane started again on its state dir, as after a
    /// restart: the link stops, the store closes, everything in memory is
    /// gone. Workers must connect again.
    pub async fn restarted(mut self) -> TestApp {
        let spare = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
        let dir = std::mem::replace(&mut self.dir, spare);
        let store = self.state.context.store.clone();
        drop(self);
        store.close().await;
        TestApp::launch_in(dir, |_| {}, None).await
    }

    async fn launch_in(
        dir: TempDir,
        adjust: impl FnOnce(&mut Config),
        silence_limit: Option<Duration>,
    ) -> TestApp {
        let mut config = base_config(&dir);
        adjust(&mut config);
        if let Err(problems) = config.validate() {
            panic!("the test configuration is invalid: {problems}");
        }
        let mut built = build(config)
            .await
            .unwrap_or_else(|e| panic!("building the control plane: {e:#}"));
        if let Some(limit) = silence_limit {
            built.link_silence_limit = limit;
        }
        let built = Arc::new(built);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("binding the link listener: {e}"));
        let link_addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("the link listener's address: {e}"));
        let (stop, stopped) = watch::channel(false);
        let serving = built.clone();
        tokio::spawn(async move {
            let mut stopped = stopped;
            let until = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(error) = serving.run_link(listener, until).await {
                eprintln!("the worker link stopped: {error:#}");
            }
        });
        TestApp {
            state: built.state.clone(),
            link_addr,
            dir,
            built,
            stop,
        }
    }

    /// Serves enrollment (server TLS) on a loopback port until the app is dropped.
    pub async fn serve_enrollment(&self) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("binding the enrollment listener: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("the enrollment listener's address: {e}"));
        let mut stopped = self.stop.subscribe();
        let built = self.built.clone();
        tokio::spawn(async move {
            let until = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(error) = built.run_enroll(listener, until).await {
                eprintln!("the enrollment listener stopped: {error:#}");
            }
        });
        addr
    }

    /// The state directory (the CA lives there).
    pub fn state_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("state")
    }

    /// One request through the real router. `authorized` adds the bearer token.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        authorized: bool,
    ) -> (StatusCode, Value) {
        let response = self.send(method, path, body, authorized).await;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .unwrap_or_else(|e| panic!("reading the answer to {path}: {e}"))
            .to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{path} answered {status} with non-JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, json)
    }

    /// The raw answer, for streaming bodies (server-sent events).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        authorized: bool,
    ) -> axum::response::Response {
        let mut builder = Request::builder().method(method).uri(path);
        if authorized {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        }
        let request = match body {
            Some(json) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json.to_string())),
            None => builder.body(Body::empty()),
        }
        .unwrap_or_else(|e| panic!("building a request for {path}: {e}"));
        http::router(self.state.clone())
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {})
    }

    /// A read with the bearer token (the dashboard is private).
    pub async fn get(&self, path: &str) -> Value {
        let (status, json) = self.request(Method::GET, path, None, true).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {json}");
        json
    }

    /// `POST /api/v1/sessions/trigger` with the token.
    pub async fn trigger(&self, site: &str, tier: u8) -> (StatusCode, Value) {
        let body = serde_json::json!({ "site": site, "start_tier": tier });
        self.request(Method::POST, "/api/v1/sessions/trigger", Some(body), true)
            .await
    }

    /// Triggers a session and returns its id, failing the test unless it started.
    pub async fn start_session(&self, site: &str, tier: u8) -> i64 {
        let (status, json) = self.trigger(site, tier).await;
        assert_eq!(status, StatusCode::CREATED, "trigger: {json}");
        json["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("the trigger answer has no id: {json}"))
    }

    /// Events as `GET /api/v1/events` lists them, with an optional query.
    pub async fn events(&self, query: &str) -> Vec<Value> {
        let json = self
            .get(&format!("/api/v1/events?limit=1000&{query}"))
            .await;
        json["events"].as_array().cloned().unwrap_or_default()
    }

    /// A dashboard login: the cookie header to send and the form's CSRF token.
    pub fn login(&self) -> (String, String) {
        let login = self
            .state
            .auth
            .login(TOKEN, claudeops_control_plane::clock::now_ms())
            .unwrap_or_else(|| panic!("the test token does not log in"));
        (
            format!(
                "{}={}",
                claudeops_control_plane::auth::SESSION_COOKIE,
                login.id
            ),
            login.csrf,
        )
    }

    /// A page (or a form post, with `form` fields) as a browser with `cookie`
    /// would send it: the status and the body as text.
    pub async fn page(
        &self,
        method: Method,
        path: &str,
        cookie: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, cookie);
        let body = if form.is_empty() {
            Body::empty()
        } else {
            builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            let encoded: Vec<String> = form
                .iter()
                .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
                .collect();
            Body::from(encoded.join("&"))
        };
        let request = builder
            .body(body)
            .unwrap_or_else(|e| panic!("building a request for {path}: {e}"));
        let response = http::router(self.state.clone())
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .unwrap_or_else(|e| panic!("reading the answer to {path}: {e}"))
            .to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The sequence numbers stored for a session, in order.
    pub async fn stored_seqs(&self, session: i64) -> Vec<i64> {
        self.state
            .context
            .store
            .output(session, 0, 10_000)
            .await
            .unwrap_or_else(|e| panic!("reading session #{session}'s output: {e}"))
            .iter()
            .map(|l| l.seq)
            .collect()
    }

    /// How many sessions the store holds.
    pub async fn session_count(&self) -> usize {
        self.get("/api/v1/sessions?limit=500").await["sessions"]
            .as_array()
            .map_or(0, Vec::len)
    }
}

/// Percent-encoding of a form field.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Polls `check` until it answers `Some`, failing the test after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A structured response that asks for nothing more.
pub fn no_escalation(summary: &str) -> Value {
    serde_json::json!({
        "summary": summary,
        "escalation": { "needed": false },
    })
}

/// A structured response that asks for the next tier.
pub fn asks_escalation(reason: &str) -> Value {
    serde_json::json!({
        "summary": "web is down and a restart did not help",
        "services_checked": [{ "service": "web", "status": "down", "detail": "502" }],
        "escalation": {
            "needed": true,
            "reason": reason,
            "context": "restarted once; still 502",
            "failed_checks": ["web-http"],
        },
    })
}

/// One line of CLI stream-json output, numbered so tests can tell lines apart.
pub fn stream_line(n: i64) -> String {
    serde_json::json!({
        "type": "assistant",
        "message": { "content": [{ "type": "text", "text": format!("line {n}") }] },
    })
    .to_string()
}
