//! Delivery through the real `apprise` CLI to a loopback HTTP receiver
//! (`json://127.0.0.1:PORT/...`). Apprise must be installed: these tests fail,
//! never skip, without it.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use claudeops_core::site::SiteName;
use claudeops_notify::{
    Apprise, AppriseUrls, Delivery, HumanReason, MemoryDeliveryLog, Notice, Notifier, NotifyConfig,
    OpenIncident, Outcome, SendError,
};
use tokio::sync::Notify;

const WAIT: Duration = Duration::from_secs(20);

// ---------- apprise itself ----------

async fn require_apprise() {
    match Apprise::new("apprise", Duration::from_secs(20))
        .version()
        .await
    {
        Ok(v) => assert!(
            v.starts_with("Apprise"),
            "unexpected apprise --version output: {v}"
        ),
        Err(SendError::NotFound { .. }) => panic!(
            "the apprise CLI is required by these tests and was not found in PATH: \
             install the Debian package apprise (apt-get install apprise) or pip install apprise"
        ),
        Err(e) => panic!("apprise --version failed: {e}: reinstall the Debian package apprise"),
    }
}

// ---------- log capture: no URL may reach a log line ----------

#[derive(Clone)]
struct LogBuf;

fn log_bytes() -> &'static Mutex<Vec<u8>> {
    static BUF: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    BUF.get_or_init(|| Mutex::new(Vec::new()))
}

impl Write for LogBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        log_bytes().lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("claudeops_notify=debug"))
            .with_writer(|| LogBuf)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

fn logs() -> String {
    String::from_utf8_lossy(&log_bytes().lock().unwrap()).into_owned()
}

// ---------- the receiver ----------

#[derive(Debug, Clone)]
struct Received {
    path: String,
    status: u16,
    auth: Option<String>,
    title: String,
    body: String,
    kind: String,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    seen_paths: Arc<Mutex<HashMap<String, u32>>>,
    changed: Arc<Notify>,
}

/// Path prefixes choose the behaviour: `/fail-once/...` answers 500 the first
/// time and 200 after; `/slow/...` answers after 4 s; anything else 200.
async fn receive(
    State(r): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = uri.path().to_owned();
    let n = {
        let mut seen = r.seen_paths.lock().unwrap();
        let n = seen.entry(path.clone()).or_default();
        *n += 1;
        *n
    };
    if path.starts_with("/slow/") {
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    let status = if path.starts_with("/fail-once/") && n == 1 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let field = |k: &str| {
        json.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    r.got.lock().unwrap().push(Received {
        path,
        status: status.as_u16(),
        auth: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(String::from),
        title: field("title"),
        body: field("message"),
        kind: field("type"),
    });
    r.changed.notify_waiters();
    status
}

impl Receiver {
    async fn start() -> (Receiver, SocketAddr) {
        let r = Receiver::default();
        let app = Router::new().fallback(receive).with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, addr)
    }

    /// Requests that reached a path, answered or not yet.
    fn hits(&self, path: &str) -> u32 {
        self.seen_paths
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived (or fails the test).
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let got = self.all();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} requests, got {}: {got:#?}",
                got.len()
            );
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
}

/// A loopback port with nothing listening.
async fn dead_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

// ---------- helpers ----------

fn site(s: &str) -> SiteName {
    SiteName::new(s).unwrap()
}

fn config(window_ms: u64, retries_ms: &[u64]) -> NotifyConfig {
    NotifyConfig {
        group_window: Duration::from_millis(window_ms),
        retry_delays: retries_ms
            .iter()
            .map(|ms| Duration::from_millis(*ms))
            .collect(),
        reminder_interval: None,
        send_timeout: Duration::from_secs(20),
        ..NotifyConfig::default()
    }
}

fn start(config: &NotifyConfig, urls: &str) -> (Notifier, Arc<MemoryDeliveryLog>) {
    capture_logs();
    let log = Arc::new(MemoryDeliveryLog::default());
    let urls = AppriseUrls::parse(urls).unwrap();
    let notifier = Notifier::spawn(config, urls, log.clone()).unwrap();
    (notifier, log)
}

/// Fails if any secret shows up in the records, their Debug output, the
/// notifier's Debug output, or the log lines.
fn assert_no_secrets(secrets: &[&str], records: &[Delivery], notifier: &Notifier) {
    let mut haystacks = vec![format!("{notifier:?}"), logs()];
    for d in records {
        haystacks.push(format!("{d:?}"));
        haystacks.push(format!("{:?}", d.to_record()));
        haystacks.extend(d.error.clone());
    }
    for secret in secrets {
        for h in &haystacks {
            assert!(!h.contains(secret), "secret {secret:?} leaked into: {h}");
        }
    }
}

fn needs_human(service: &str) -> Notice {
    Notice::NeedsHumanAttention {
        site: site("home"),
        service: Some(service.into()),
        reason: HumanReason::CooldownExceeded,
        detail: "2 restarts in 4 hours already used; a third was refused.".into(),
        session: Some(7),
    }
}

// ---------- tests ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_has_title_markdown_body_site_and_type() {
    require_apprise().await;
    let (rx, addr) = Receiver::start().await;
    let url = format!("json://ops:hunter2pw@{addr}/hook/payloadTok9");
    let (notifier, log) = start(&config(100, &[]), &url);

    assert!(notifier.notify(needs_human("jellyfin")));
    let got = rx.wait_for(1).await;
    let m = &got[0];
    assert_eq!(m.path, "/hook/payloadTok9");
    assert_eq!(m.title, "Claude Ops: Needs human attention - jellyfin");
    assert_eq!(m.kind, "failure");
    // the Markdown arrives as written (the json target takes it verbatim)
    assert!(
        m.body
            .starts_with("**Site:** home  \n**Service:** jellyfin  \n"),
        "{}",
        m.body
    );
    assert!(
        m.body.contains("**Reason:** cooldown limit exceeded"),
        "{}",
        m.body
    );
    assert!(m.body.contains("a third was refused."), "{}", m.body);
    // user and password went to the receiver (so Apprise had the full URL)
    assert_eq!(m.auth.as_deref(), Some("Basic b3BzOmh1bnRlcjJwdw=="));

    let records = log.wait_for(WAIT, |d| !d.is_empty()).await;
    assert_eq!(records.len(), 1);
    let d = &records[0];
    assert_eq!((d.url_index, d.attempt, d.success), (1, 1, true));
    assert_eq!(d.outcome, Outcome::Sent);
    assert_eq!(d.title, m.title);
    assert_eq!(d.sites, vec!["home".to_owned()]);
    assert_eq!(d.kind.as_str(), "needs_human_attention");
    assert!(d.finished_at >= d.started_at);
    assert_no_secrets(&[&url, "hunter2pw", "payloadTok9"], &records, &notifier);
    notifier.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_services_failing_within_the_window_arrive_as_one_message() {
    require_apprise().await;
    let (rx, addr) = Receiver::start().await;
    let (notifier, log) = start(&config(1500, &[]), &format!("json://{addr}/group/gTok"));

    for (s, service) in [("home", "jellyfin"), ("home", "sonarr"), ("cabin", "plex")] {
        assert!(notifier.notify(Notice::IncidentOpened {
            site: site(s),
            service: service.into(),
            summary: format!("{service}: HTTP 502 from /health"),
            session: None,
        }));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = rx.wait_for(1).await;
    // nothing else comes after the window
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_later = rx.all();
    assert_eq!(got_later.len(), 1, "{got_later:#?}");
    let m = &got[0];
    assert_eq!(
        m.title,
        "Claude Ops: Incident opened - 3 services on 2 sites"
    );
    assert!(m.body.starts_with("**Sites:** cabin, home\n"), "{}", m.body);
    for line in [
        "- **home** / jellyfin: jellyfin: HTTP 502 from /health",
        "- **home** / sonarr: sonarr: HTTP 502 from /health",
        "- **cabin** / plex: plex: HTTP 502 from /health",
    ] {
        assert!(m.body.contains(line), "missing {line:?} in {}", m.body);
    }
    let records = log.wait_for(WAIT, |d| !d.is_empty()).await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].sites,
        vec!["cabin".to_owned(), "home".to_owned()]
    );
    notifier.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_come_at_the_interval_and_recovery_follows() {
    require_apprise().await;
    let (rx, addr) = Receiver::start().await;
    let cfg = NotifyConfig {
        reminder_interval: Some(Duration::from_secs(2)),
        ..config(100, &[])
    };
    let (notifier, log) = start(&cfg, &format!("json://{addr}/remind/rTok"));

    let opened_at = SystemTime::now();
    notifier.set_open_incidents(vec![OpenIncident {
        site: site("home"),
        service: "jellyfin".into(),
        opened_at,
        summary: Some("HTTP 502".into()),
    }]);
    let got = rx.wait_for(1).await;
    let first_at = SystemTime::now();
    assert_eq!(got[0].title, "Claude Ops: Still unresolved - jellyfin");
    assert_eq!(got[0].kind, "warning");
    assert!(got[0].body.contains("**Site:** home"), "{}", got[0].body);
    let since_open = first_at.duration_since(opened_at).unwrap();
    assert!(
        since_open >= Duration::from_secs(2),
        "reminder too early: {since_open:?}"
    );

    // a second reminder one interval later
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].title, "Claude Ops: Still unresolved - jellyfin");

    // the incident closes: a recovery notice, then no more reminders
    notifier.set_open_incidents(Vec::new());
    let got = rx.wait_for(3).await;
    assert_eq!(got[2].title, "Claude Ops: Recovered jellyfin");
    assert_eq!(got[2].kind, "success");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(rx.all().len(), 3, "{:#?}", rx.all());
    let kinds: Vec<&str> = log.snapshot().iter().map(|d| d.kind.as_str()).collect();
    assert_eq!(kinds, ["reminder", "reminder", "incident_recovered"]);
    notifier.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_retried_and_both_attempts_are_recorded() {
    require_apprise().await;
    let (rx, addr) = Receiver::start().await;
    let url = format!("json://{addr}/fail-once/retryTok");
    let (notifier, log) = start(&config(100, &[300, 300]), &url);

    assert!(notifier.notify(Notice::WorkerOffline {
        site: site("cabin"),
        worker: "nas-1".into(),
        last_seen: None,
    }));
    let records = log.wait_for(WAIT, |d| d.len() >= 2).await;
    let got = rx.all();
    assert_eq!(got.iter().map(|r| r.status).collect::<Vec<_>>(), [500, 200]);
    assert_eq!(records.len(), 2, "{records:#?}");
    let (first, second) = (&records[0], &records[1]);
    assert_eq!((first.attempt, first.success), (1, false));
    assert!(
        matches!(first.outcome, Outcome::Retrying { .. }),
        "{first:?}"
    );
    let err = first.error.as_deref().unwrap();
    assert!(err.contains("error=500"), "{err}");
    assert_eq!((second.attempt, second.success), (2, true));
    assert_eq!(second.outcome, Outcome::Sent);
    assert_eq!(first.id, second.id);
    assert!(
        second.started_at.duration_since(first.finished_at).unwrap() >= Duration::from_millis(300)
    );
    let stats = notifier.stats();
    assert_eq!(
        (stats.sent, stats.failed_attempts, stats.gave_up),
        (1, 1, 0)
    );
    assert_no_secrets(&[&url, "retryTok"], &records, &notifier);
    notifier.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_dead_url_each_delivery_records_its_url_index() {
    require_apprise().await;
    let (rx, addr) = Receiver::start().await;
    let dead = dead_port().await;
    let live_url = format!("json://{addr}/live/liveTok42");
    let dead_url = format!("json://user:deadPass77@127.0.0.1:{dead}/dead/deadTok42");
    let (notifier, log) = start(&config(100, &[200]), &format!("{live_url},{dead_url}"));

    assert!(notifier.notify(needs_human("postgres")));
    let records = log.wait_for(WAIT, |d| d.len() >= 3).await;
    assert_eq!(rx.wait_for(1).await[0].path, "/live/liveTok42");
    let one: Vec<&Delivery> = records.iter().filter(|d| d.url_index == 1).collect();
    let two: Vec<&Delivery> = records.iter().filter(|d| d.url_index == 2).collect();
    assert_eq!(one.len(), 1);
    assert!(one[0].success);
    assert_eq!(two.len(), 2, "{records:#?}");
    assert!(two.iter().all(|d| !d.success));
    assert_eq!(two[1].attempt, 2);
    assert_eq!(two[1].outcome, Outcome::GaveUp);
    assert_eq!(one[0].message_id, two[0].message_id);
    // Apprise names the host in its error; it comes back as the dead URL's index
    let err = two[0].error.as_deref().unwrap();
    assert!(err.contains("url #2"), "{err}");
    assert_eq!(notifier.stats().gave_up, 1);
    assert_no_secrets(
        &[
            &live_url,
            &dead_url,
            "liveTok42",
            "deadTok42",
            "deadPass77",
            "127.0.0.1",
        ],
        &records,
        &notifier,
    );
    assert_eq!(
        format!("{:?}", AppriseUrls::parse(&dead_url).unwrap()),
        "AppriseUrls { count: 1 }"
    );
    notifier.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_reports_each_url() {
    require_apprise().await;
    let (rx, addr) = Receiver::start().await;
    let dead = dead_port().await;
    let urls = format!("json://{addr}/test/testTok1,json://127.0.0.1:{dead}/x/testTok2");
    let (notifier, log) = start(&config(100, &[10_000]), &urls);

    let outcomes = notifier.send_test().await.unwrap();
    assert_eq!(outcomes.len(), 2);
    assert_eq!((outcomes[0].url_index, outcomes[0].success), (1, true));
    assert_eq!((outcomes[1].url_index, outcomes[1].success), (2, false));
    let err = outcomes[1].error.as_deref().unwrap();
    assert!(err.starts_with("apprise failed (exit status 1): "), "{err}");
    assert!(
        !err.contains("testTok2") && !err.contains("127.0.0.1"),
        "{err}"
    );
    let got = rx.all();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].title, "Claude Ops: Test notification");
    assert!(
        got[0].body.contains("**Site:** all sites"),
        "{}",
        got[0].body
    );
    // recorded once per URL, no retry for a test
    let records = log.snapshot();
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .all(|d| d.kind.as_str() == "test" && d.attempt == 1)
    );
    assert!(records.iter().any(|d| d.outcome == Outcome::GaveUp));
    notifier.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_stay_out_of_argv_and_a_hung_delivery_is_killed() {
    require_apprise().await;
    let (rx, addr) = Receiver::start().await;
    let url = format!("json://{addr}/slow/argvTok5150");
    let cfg = NotifyConfig {
        send_timeout: Duration::from_secs(2),
        ..config(50, &[])
    };
    let (notifier, log) = start(&cfg, &url);
    assert!(notifier.notify(Notice::WorkerBack {
        site: site("home"),
        worker: "w1".into(),
    }));
    // while the receiver holds the request, find the apprise process by its
    // environment (readable only by its owner) and check its command line
    let deadline = std::time::Instant::now() + WAIT;
    let pid = loop {
        if let Some(pid) = processes_with_env("argvTok5150").first() {
            break *pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no apprise process was seen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(cmdline.contains("apprise"), "{cmdline}");
    assert!(cmdline.contains("--title"), "{cmdline}");
    assert!(
        !cmdline.contains("argvTok5150") && !cmdline.contains(&addr.to_string()),
        "{cmdline}"
    );

    let records = log.wait_for(WAIT, |d| !d.is_empty()).await;
    let d = &records[0];
    assert!(!d.success);
    assert_eq!(d.outcome, Outcome::GaveUp);
    let err = d.error.as_deref().unwrap();
    assert!(err.contains("took longer than 2 s and was killed"), "{err}");
    // apprise reached the receiver, which had not answered yet
    assert_eq!(rx.hits("/slow/argvTok5150"), 1);
    assert!(rx.all().is_empty());
    // the process is gone
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(processes_with_env("argvTok5150").is_empty());
    assert_no_secrets(&[&url, "argvTok5150"], &records, &notifier);
    notifier.shutdown().await;
}

/// Live processes whose environment contains `needle`.
fn processes_with_env(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&environ).contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

/// On a current-thread runtime the notifier's task cannot run while this test
/// loops without awaiting, so exactly `queue_capacity` events fit.
#[tokio::test]
async fn a_full_queue_drops_and_counts_without_blocking() {
    require_apprise().await;
    let (rx, addr) = Receiver::start().await;
    let cfg = NotifyConfig {
        queue_capacity: 2,
        ..config(5000, &[])
    };
    let (notifier, _log) = start(&cfg, &format!("json://{addr}/q/qTok"));
    let started = std::time::Instant::now();
    let accepted = (0..500)
        .filter(|i| notifier.notify(needs_human(&format!("svc{i}"))))
        .count();
    assert!(started.elapsed() < Duration::from_secs(1), "notify blocked");
    let stats = notifier.stats();
    assert_eq!(accepted, 2);
    assert_eq!((stats.accepted, stats.dropped), (2, 498));
    assert!(logs().contains("notification dropped: the queue is full"));
    // shutting down sends what was accepted, as one grouped message
    notifier.shutdown().await;
    let got = rx.all();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(
        got[0].title,
        "Claude Ops: Needs human attention - 2 services on home"
    );
    assert!(!notifier.notify(needs_human("late")));
}
