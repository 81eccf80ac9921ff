//! Memory of the control plane while viewers open the streams of finished
//! sessions: each view subscribes to the session's channel in the hub, replays
//! the stored lines, gets the final status and leaves. Nothing may stay behind,
//! so the resident set stays flat however many distinct sessions are viewed.
//!
//! `cargo bench -p claudeops-tests --bench hub_memory` (SESSIONS=1000 by
//! default; each round views every session once; ROUNDS=3 measured rounds
//! after WARMUP=2 rounds, which fill the store's caches (each pooled SQLite
//! connection has its own page and statement cache, and requests spread over
//! the pool, so warming takes more than one round) and the allocator's arenas:
//! those are bounded, a leak is not). The run fails if the measured rounds
//! grow the resident set by 5 MiB or more.
//!
//! The sessions are written straight into a fresh SQLite store first (20 lines
//! each), then a real control plane is started on it and viewed over HTTP.

use std::time::{Duration, Instant};

use claudeops_core::{NewSession, SessionOutcome, SessionStatus, SiteName, Tier, Trigger};
use claudeops_store::OutputLine;
use claudeops_tests::system::ControlPlane;

const LINES: i64 = 20;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|l| {
                l.strip_prefix("VmRSS:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or_else(|| panic!("no VmRSS for {pid}"))
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    claudeops_pki::tls::install_crypto_provider();
    let sessions = env_or("SESSIONS", 1000);
    let rounds = env_or("ROUNDS", 3);
    let warmup = env_or("WARMUP", 2);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let ids = seed(&url, sessions).await;

    let cp = ControlPlane::start(&[("CLAUDEOPS_DATABASE_URL", url.as_str())]).await;
    let pid = cp
        .proc
        .pid()
        .unwrap_or_else(|| panic!("the control plane exited"));
    let http = cp.http();
    let start = rss_kib(pid);
    let warm = Instant::now();
    for _ in 0..warmup {
        for id in &ids {
            view(&http, *id).await;
        }
    }
    let before = rss_kib(pid);
    println!(
        "control plane RSS at start {start} KiB; after {warmup} warm-up round(s) of {sessions} views ({:.1} s) {before} KiB",
        warm.elapsed().as_secs_f64()
    );
    let mut last = before;
    for round in 1..=rounds {
        let started = Instant::now();
        for id in &ids {
            view(&http, *id).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        last = rss_kib(pid);
        println!(
            "after round {round} ({sessions} distinct finished sessions viewed in {:.1} s): RSS {last} KiB ({:+} KiB since the warm-up)",
            started.elapsed().as_secs_f64(),
            i64::try_from(last).unwrap_or(0) - i64::try_from(before).unwrap_or(0),
        );
    }
    let growth = last.saturating_sub(before);
    assert!(
        growth < 5 * 1024,
        "RSS grew by {growth} KiB over {rounds} rounds of {sessions} views"
    );
}

/// Writes `n` finished sessions with `LINES` lines each; returns their ids.
async fn seed(url: &str, n: usize) -> Vec<i64> {
    let store = claudeops_store::open(url)
        .await
        .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    let site = SiteName::new("bench").unwrap_or_else(|e| panic!("{e}"));
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let at = 1_700_000_000_000 + i64::try_from(i).unwrap_or(0) * 1000;
        let session = store
            .create_session(&NewSession {
                site: site.clone(),
                worker_id: None,
                tier: Tier::Observe,
                model: "haiku".into(),
                trigger: Trigger::Api,
                prompt: None,
                parent_id: None,
                started_at_ms: at,
                trace: None,
            })
            .await
            .unwrap_or_else(|e| panic!("create_session: {e}"));
        let lines: Vec<OutputLine> = (1..=LINES)
            .map(|seq| OutputLine {
                seq,
                ts_ms: at + seq,
                line: format!(
                    r#"{{"type":"assistant","message":{{"content":[{{"type":"text","text":"line {seq} of session {}"}}]}}}}"#,
                    session.id
                ),
                malformed: false,
            })
            .collect();
        store
            .append_output(session.id, &lines)
            .await
            .unwrap_or_else(|e| panic!("append_output: {e}"));
        store
            .finish_session(
                session.id,
                &SessionOutcome {
                    status: SessionStatus::Completed,
                    ended_at_ms: at + 500,
                    cost_usd: 0.001,
                    turns: 1,
                    exit_code: Some(0),
                    response: None,
                    structured: None,
                    error: None,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("finish_session: {e}"));
        ids.push(session.id);
    }
    store.close().await;
    ids
}

/// Opens a session's stream and reads it to its final status.
async fn view(http: &claudeops_tests::system::Http, id: i64) {
    let mut events = http.sse(&format!("/sessions/{id}/stream")).await;
    let mut lines = 0;
    while let Some(event) = events.recv().await {
        match event.event.as_str() {
            "line" => lines += 1,
            "status" => break,
            _ => {}
        }
    }
    assert_eq!(lines, LINES, "session {id} replayed {lines} lines");
}
