//! What a browser action costs: the session's first `browser_open` (Chromium
//! started in the session sandbox, a context behind the guard, the page
//! loaded), then a snapshot, a credential typed by reference, a click that
//! loads the next page, and a masked screenshot, each against a real web app
//! on loopback (`claudeops_tests::webapp`).
//!
//! `cargo bench -p claudeops-worker --bench browser_actions` (RUNS=10 by
//! default; each run is one session with its own browser).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use claudeops_core::Tier;
use claudeops_tests::webapp::WebApp;
use claudeops_worker::actions::{ActionContext, ActionRequest};
use claudeops_worker::browser::{
    AllowList, BrowserConfig, Browsers, CredOrigins, Redactor, Secrets,
};
use claudeops_worker::sandbox::{Sandbox, SandboxMode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

struct Bench {
    browsers: Browsers,
    notes: mpsc::Sender<String>,
}

impl Bench {
    async fn call(&self, session: i64, tool: &str, args: Value) -> (Duration, String) {
        let request = ActionRequest {
            session_id: session,
            tool: tool.to_owned(),
            arguments: args,
        };
        let ctx = ActionContext {
            tier: Tier::Investigate,
            dry_run: false,
            repos_dir: PathBuf::from("/nonexistent"),
            span: tracing::Span::none(),
            notes: Some(self.notes.clone()),
        };
        let started = Instant::now();
        let reply = self.browsers.handle(&request, &ctx).await;
        let took = started.elapsed();
        assert!(reply.ok, "{tool}: {}", reply.text);
        (took, reply.text)
    }
}

fn reference(snapshot: &str, what: &str) -> String {
    snapshot
        .lines()
        .find(|l| l.contains(what) && l.starts_with("[e"))
        .and_then(|l| l.strip_prefix('['))
        .and_then(|l| l.split_once(']'))
        .map(|(r, _)| r.to_owned())
        .unwrap_or_else(|| panic!("no {what:?} in {snapshot}"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let app = WebApp::start(
        "bench-user",
        "bench-password-1",
        "0ld5ecretkey0000aaaa1111bbbb2222",
    )
    .await;
    let allowed = AllowList::parse(&[app.origin()]).unwrap_or_else(|e| panic!("{e:?}"));
    let creds = CredOrigins::parse(&[format!("APP={}", app.origin())], &allowed)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let (secrets, _) = Secrets::from_vars(
        [
            ("BROWSER_CRED_APP_USER".to_owned(), "bench-user".to_owned()),
            (
                "BROWSER_CRED_APP_PASS".to_owned(),
                "bench-password-1".to_owned(),
            ),
        ],
        Redactor::new(),
    );
    let helper = Path::new(env!("CARGO_BIN_EXE_claudeops-worker"));
    let sandbox = Sandbox::detect(SandboxMode::Auto, Path::new("bwrap"), None, helper);
    assert!(
        matches!(sandbox, Sandbox::Bwrap { .. }),
        "{}",
        sandbox.detail()
    );
    let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = BrowserConfig {
        allowed,
        creds,
        tier: Tier::Investigate,
        chromium: PathBuf::from(
            std::env::var("CLAUDEOPS_BROWSER_BIN")
                .unwrap_or_else(|_| "/usr/bin/chromium".to_owned()),
        ),
        helper: helper.to_path_buf(),
        profiles: state.path().join("browser"),
        cdp_url: None,
    };
    let (notes, mut screenshots) = mpsc::channel(16);
    tokio::spawn(async move { while screenshots.recv().await.is_some() {} });
    let bench = Bench {
        browsers: Browsers::new(config, sandbox, secrets),
        notes,
    };
    let mut figures: Vec<(&str, Vec<Duration>)> = [
        "first browser_open (browser start)",
        "browser_snapshot",
        "browser_fill_credential",
        "browser_click (loads a page)",
        "browser_screenshot (masked)",
        "end (browser closed, profile deleted)",
    ]
    .into_iter()
    .map(|n| (n, Vec::new()))
    .collect();
    for run in 0..runs {
        let session = i64::try_from(run).unwrap_or_default() + 1;
        let (open, _) = bench
            .call(session, "browser_open", json!({"url": app.url("/login")}))
            .await;
        let (snap, text) = bench.call(session, "browser_snapshot", json!({})).await;
        let user = reference(&text, "Username");
        let pass = reference(&text, "Password");
        let (fill, _) = bench
            .call(
                session,
                "browser_fill_credential",
                json!({"ref": user, "name": "APP_USER"}),
            )
            .await;
        bench
            .call(
                session,
                "browser_fill_credential",
                json!({"ref": pass, "name": "APP_PASS"}),
            )
            .await;
        let login = reference(&text, "Log in");
        let (click, _) = bench
            .call(session, "browser_click", json!({"ref": login}))
            .await;
        let (shot, _) = bench.call(session, "browser_screenshot", json!({})).await;
        let started = Instant::now();
        bench.browsers.end(session).await;
        let end = started.elapsed();
        for (i, d) in [open, snap, fill, click, shot, end].into_iter().enumerate() {
            figures[i].1.push(d);
        }
    }
    println!("browser actions, {runs} sessions (each its own Chromium in the session sandbox)");
    println!("{:<40} {:>8} {:>8} {:>8}", "", "p50", "p90", "max");
    for (name, mut times) in figures {
        times.sort();
        println!(
            "{name:<40} {:>8} {:>8} {:>8}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.9)),
            ms(times.last().copied().unwrap_or_default())
        );
    }
}
