//! Faults injected into a running session, on the real binaries: the worker's
//! link frozen or cut (through `claudeops_tests::faults::FaultProxy`), the
//! control plane killed, its database made read-only, write-locked or
//! stopped. Each test runs a session of the numbered stand-in CLI
//! (`claudeops_tests::numbered_cli`, many lines at a known pace), injects one
//! fault while it prints, and checks that every line 1..N is stored exactly
//! once and in order (on the session page, rendered from the store, and in
//! the SSE replay), that the session ends as it should and that the site
//! takes a new session afterwards.
//!
//! The times printed ("measured: ...") are observations for
//! `docs/reliability.md`, not targets; the bounds asserted are generous.

use std::path::{Path, PathBuf};
use std::time::Duration;

use claudeops_tests::faults::FaultProxy;
use claudeops_tests::numbered_cli::{NumberedCli, check_complete, numbers_in};
use claudeops_tests::postgres::PgServer;
use claudeops_tests::sqlite::WriteLock;
use claudeops_tests::system::{ControlPlane, Http, Worker};
use serde_json::json;
use tokio::time::Instant;

use crate::support::*;

const SITE: &str = "faults";
/// Lines of a session that outlasts its fault: about 20 s at [`PACE`].
const LINES: u32 = 400;
const PACE: Duration = Duration::from_millis(50);
/// The fault starts once this line is stored: mid-session.
const FAULT_AT_LINE: u32 = 40;
/// How long a session may take after its fault.
const SESSION_WAIT: Duration = Duration::from_secs(60);
/// The control plane's log line when it gives up on a silent link.
const SILENT_CLOSED: &str = "closing a silent worker link";
/// The worker's log line once a connection is accepted.
const WELCOMED: &str = "welcomed by the control plane";

/// How the worker reaches the control plane.
enum Route {
    Direct,
    Proxied,
}

/// A control plane, its worker running the numbered stand-in, and the proxy
/// between them when there is one.
struct Rig {
    cp: ControlPlane,
    worker: Worker,
    proxy: Option<FaultProxy>,
    cli: NumberedCli,
    http: Http,
}

impl Rig {
    async fn start(cp: ControlPlane, cli: NumberedCli, route: Route) -> Rig {
        let token = cp.enroll_token(SITE).await;
        let program = cli.path().display().to_string();
        let env = [
            ("CLAUDEOPS_CLAUDE_BIN", program.as_str()),
            ("ANTHROPIC_API_KEY", "k"),
        ];
        let (worker, proxy) = match route {
            Route::Direct => (Worker::start(&cp, SITE, Some(&token), &env), None),
            Route::Proxied => {
                let proxy = FaultProxy::start(cp.grpc_addr()).await;
                let endpoint = format!("https://{}", proxy.addr());
                let worker = Worker::start_via(&cp, &endpoint, SITE, Some(&token), &env);
                (worker, Some(proxy))
            }
        };
        worker.wait_connected().await;
        let http = cp.http();
        Rig {
            cp,
            worker,
            proxy,
            cli,
            http,
        }
    }

    /// A rig running the numbered stand-in ([`LINES`] lines), with a session
    /// past [`FAULT_AT_LINE`]: the moment to inject a fault.
    async fn mid_session(cp: ControlPlane, route: Route) -> (Rig, i64) {
        let rig = Rig::start(cp, numbered(LINES), route).await;
        let id = rig.session_past_line(FAULT_AT_LINE).await;
        (rig, id)
    }

    fn proxy(&self) -> &FaultProxy {
        self.proxy
            .as_ref()
            .unwrap_or_else(|| panic!("this rig has no proxy"))
    }

    /// Triggers a session and returns its id once line `line` is stored.
    async fn session_past_line(&self, line: u32) -> i64 {
        let (status, session) = self
            .http
            .post(
                "/api/v1/sessions/trigger",
                &json!({"site": SITE, "start_tier": 1}),
                true,
            )
            .await;
        if status != 201 {
            self.fail(&format!("the trigger was answered {status}: {session}"));
        }
        let id = session["id"].as_i64().unwrap_or_default();
        let mut stream = self.http.sse(&format!("/sessions/{id}/stream")).await;
        let reached = tokio::time::timeout(WAIT, async {
            while let Some(event) = stream.recv().await {
                if event.event == "line" && numbers_in(&event.data).last() >= Some(&line) {
                    return true;
                }
            }
            false
        })
        .await;
        if reached != Ok(true) {
            self.fail(&format!("session #{id} never printed line {line}"));
        }
        id
    }

    /// Waits for the session's end and checks its status and its output:
    /// every numbered line once, in order, with no hole in the line numbers,
    /// both on the session page and in the SSE replay.
    async fn check_end(&self, id: i64, status: &str) {
        let done = match self.http.session_end_within(id, SESSION_WAIT).await {
            Ok(done) => done,
            Err(session) => self.fail(&format!("still running after {SESSION_WAIT:?}: {session}")),
        };
        assert_eq!(done["status"], status, "{done}");
        let stored = self.stored_numbers(id).await;
        let streamed = self.replayed_numbers(id).await;
        for (source, numbers) in [("session page", stored), ("SSE replay", streamed)] {
            if let Err(problem) = check_complete(&numbers, self.cli.lines()) {
                self.fail(&format!("{source} of session #{id}: {problem}"));
            }
        }
    }

    /// Panics with `what` and both processes' logs.
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\ncontrol plane log:\n{}\nworker log:\n{}",
            self.cp.proc.log(),
            self.worker.proc.log()
        )
    }

    /// The numbered lines on the session page (its rows come from the store),
    /// after checking that the rows' seq run 1, 2, 3... without a hole.
    async fn stored_numbers(&self, id: i64) -> Vec<u32> {
        let page = self.http.text(&format!("/sessions/{id}")).await;
        let seqs: Vec<i64> = page
            .split("<span class=\"ln\">")
            .skip(1)
            .filter_map(|row| row.split('<').next()?.trim().parse().ok())
            .collect();
        assert_gapless(&seqs, "session page");
        numbers_in(&page)
    }

    /// The numbered lines of a replay of the session's stream from the start,
    /// after checking its ids run 1, 2, 3... and that it ends with the status.
    async fn replayed_numbers(&self, id: i64) -> Vec<u32> {
        let mut stream = self.http.sse(&format!("/sessions/{id}/stream")).await;
        let mut seen = Vec::new();
        next_matching(&mut stream, &mut seen, |e| e.event == "status").await;
        let lines: Vec<_> = seen.iter().filter(|e| e.event == "line").collect();
        let seqs: Vec<i64> = lines
            .iter()
            .filter_map(|e| e.id.as_deref()?.parse().ok())
            .collect();
        assert_gapless(&seqs, "SSE replay");
        lines
            .iter()
            .flat_map(|e| numbers_in(line_data(e)["raw"].as_str().unwrap_or_default()))
            .collect()
    }

    /// Prints what the control plane logged about its database after `mark`
    /// (how many lines, the first and the last), for the record: how a store
    /// fault shows depends on the store (a write may fail, or wait).
    fn observe_store_errors(&self, mark: usize, fault: &str) {
        let log = self.cp.proc.log();
        let errors: Vec<&str> = log
            .lines()
            .skip(mark)
            .filter(|l| l.contains("database") && (l.contains("ERROR") || l.contains("WARN")))
            .collect();
        println!(
            "observed ({fault}): {} database errors logged by the control plane; first: {:?}; last: {:?}",
            errors.len(),
            errors.first(),
            errors.last()
        );
    }

    /// The site takes a new session, which prints: it was not left busy.
    async fn check_site_free(&self) {
        self.session_past_line(1).await;
    }
}

fn assert_gapless(seqs: &[i64], source: &str) {
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert!(!seqs.is_empty(), "{source}: no lines");
    assert_eq!(
        seqs, expected,
        "{source}: line numbers must run from 1 without a hole or a repeat"
    );
}

fn numbered(lines: u32) -> NumberedCli {
    NumberedCli::write(lines, PACE)
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[tokio::test]
async fn a_frozen_link_is_closed_and_the_worker_comes_back_with_every_line() {
    let (rig, id) = Rig::mid_session(ControlPlane::start(&[]).await, Route::Proxied).await;
    let (cp_mark, worker_mark) = (rig.cp.proc.mark(), rig.worker.proc.mark());
    let frozen = Instant::now();
    rig.proxy().freeze();
    rig.cp
        .proc
        .wait_for_after(cp_mark, SILENT_CLOSED, Duration::from_secs(40))
        .await;
    let closed_after = frozen.elapsed();
    tokio::time::sleep_until(frozen + Duration::from_secs(20)).await;
    let healed = Instant::now();
    rig.proxy().heal();
    rig.worker
        .proc
        .wait_for_after(worker_mark, WELCOMED, Duration::from_secs(30))
        .await;
    let back_after = healed.elapsed();
    println!(
        "measured: frozen link closed by the control plane {} ms after the freeze; \
         worker welcomed again {} ms after the heal ({} connections through the proxy)",
        ms(closed_after),
        ms(back_after),
        rig.proxy().connections()
    );
    rig.check_end(id, "completed").await;
    rig.check_site_free().await;
}

#[tokio::test]
async fn a_cut_link_comes_back_with_every_line() {
    let (rig, id) = Rig::mid_session(ControlPlane::start(&[]).await, Route::Proxied).await;
    let worker_mark = rig.worker.proc.mark();
    rig.proxy().cut();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let healed = Instant::now();
    rig.proxy().heal();
    rig.worker
        .proc
        .wait_for_after(worker_mark, WELCOMED, Duration::from_secs(40))
        .await;
    println!(
        "measured: after a 10 s cut, worker welcomed again {} ms after the heal",
        ms(healed.elapsed())
    );
    rig.check_end(id, "completed").await;
    rig.check_site_free().await;
}

#[tokio::test]
async fn a_control_plane_killed_and_restarted_gets_every_line() {
    let (mut rig, id) = Rig::mid_session(ControlPlane::start(&[]).await, Route::Direct).await;
    let worker_mark = rig.worker.proc.mark();
    let killed = Instant::now();
    rig.cp.kill_and_restart().await;
    let listening = Instant::now();
    rig.worker
        .proc
        .wait_for_after(worker_mark, WELCOMED, Duration::from_secs(30))
        .await;
    println!(
        "measured: control plane listening again {} ms after kill -9; \
         worker welcomed {} ms after that",
        ms(listening - killed),
        ms(listening.elapsed())
    );
    rig.check_end(id, "completed").await;
    rig.check_site_free().await;
}

/// Files whose permission bits a test changed, put back on restore.
struct Modes(Vec<(PathBuf, u32)>);

impl Modes {
    /// Sets `mode` on each of `paths` that exists, remembering the old modes.
    fn set(paths: &[PathBuf], mode: u32) -> Modes {
        use std::os::unix::fs::PermissionsExt;
        let mut saved = Vec::new();
        for path in paths {
            let Ok(meta) = std::fs::metadata(path) else {
                continue;
            };
            saved.push((path.clone(), meta.permissions().mode()));
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("chmod {path:?}: {e}"));
        }
        Modes(saved)
    }

    fn restore(self) {
        use std::os::unix::fs::PermissionsExt;
        for (path, mode) in self.0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("chmod {path:?}: {e}"));
        }
    }
}

fn database_files(state: &Path) -> Vec<PathBuf> {
    ["claudeops.db", "claudeops.db-wal", "claudeops.db-shm"]
        .iter()
        .map(|name| state.join(name))
        .collect()
}

#[tokio::test]
async fn a_database_read_only_for_a_while_loses_no_line() {
    let (rig, id) = Rig::mid_session(
        ControlPlane::start_without_dac_override(&[]).await,
        Route::Direct,
    )
    .await;
    let mark = rig.cp.proc.mark();
    let state = rig.cp.state.path();
    let files = Modes::set(&database_files(state), 0o444);
    let dir = Modes::set(&[state.to_path_buf()], 0o555);
    // Dashboard viewers meanwhile: the connections open before the chmod keep
    // writing through their file descriptors; these readers make the pool
    // open new ones while the files are read-only, as a busy control plane would.
    read_concurrently(&rig.http, Instant::now() + Duration::from_secs(10)).await;
    dir.restore();
    files.restore();
    rig.check_end(id, "completed").await;
    rig.observe_store_errors(mark, "read-only");
    rig.check_site_free().await;
}

/// Reads the session list with many requests at once, again and again,
/// until `until`; what they answer does not matter.
async fn read_concurrently(http: &Http, until: Instant) {
    while Instant::now() < until {
        let reads = (0..16).map(|_| http.get("/api/v1/sessions"));
        futures_util::future::join_all(reads).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_database_write_locked_by_another_process_loses_no_line() {
    let (rig, id) = Rig::mid_session(ControlPlane::start(&[]).await, Route::Direct).await;
    let mark = rig.cp.proc.mark();
    let db = rig.cp.state.path().join("claudeops.db");
    let lock = WriteLock::hold(&db, Duration::from_secs(15));
    tokio::task::spawn_blocking(move || lock.released())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    rig.check_end(id, "completed").await;
    rig.observe_store_errors(mark, "write lock");
    rig.check_site_free().await;
}

#[tokio::test]
async fn postgres_stopped_for_a_while_loses_no_line() {
    let pg = PgServer::start();
    let url = pg.fresh_database("faults");
    let cp = ControlPlane::start(&[("CLAUDEOPS_DATABASE_URL", url.as_str())]).await;
    let (rig, id) = Rig::mid_session(cp, Route::Direct).await;
    let mark = rig.cp.proc.mark();
    pg.stop();
    let port = pg
        .port()
        .unwrap_or_else(|| panic!("a private server has a port"));
    assert!(
        std::net::TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, port)).is_err(),
        "PostgreSQL still accepts connections after its stop"
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    pg.start_again();
    rig.check_end(id, "completed").await;
    rig.observe_store_errors(mark, "PostgreSQL stopped");
    rig.check_site_free().await;
}

#[tokio::test]
async fn a_stop_sent_while_the_link_is_cut_ends_the_session_and_its_processes() {
    // Long enough that the stand-in would still be printing well after the heal.
    let rig = Rig::start(
        ControlPlane::start(&[]).await,
        numbered(1000),
        Route::Proxied,
    )
    .await;
    let id = rig.session_past_line(FAULT_AT_LINE).await;
    let program = rig.cli.path().display().to_string();
    assert!(
        !running_with(&program).is_empty(),
        "the stand-in CLI is not running"
    );
    rig.proxy().cut();
    let asked = Instant::now();
    let (status, body) = rig
        .http
        .post(&format!("/api/v1/sessions/{id}/stop"), &json!({}), true)
        .await;
    assert_eq!(status, 202, "{body}");
    let answered = asked.elapsed();
    tokio::time::sleep_until(asked + Duration::from_secs(10)).await;
    // The stop cannot have reached the worker yet.
    assert!(
        !running_with(&program).is_empty(),
        "the stand-in CLI ended while the link was cut"
    );
    let worker_mark = rig.worker.proc.mark();
    let healed = Instant::now();
    rig.proxy().heal();
    rig.worker
        .proc
        .wait_for_after(worker_mark, WELCOMED, Duration::from_secs(40))
        .await;
    let done = rig.http.wait_session_end(id, SESSION_WAIT).await;
    assert_eq!(done["status_detail"], "stopped", "{done}");
    let within = Duration::from_secs(30).saturating_sub(healed.elapsed());
    let what = "the stopped session's CLI still runs after the heal";
    wait_gone(&program, within, what).await;
    println!(
        "measured: stop answered in {} ms with the link cut; the CLI gone {} ms after the heal",
        ms(answered),
        ms(healed.elapsed())
    );
    // What was stored before the stop has no hole and no repeat.
    let stored = rig.stored_numbers(id).await;
    let printed = u32::try_from(stored.len()).unwrap_or_default();
    assert!(printed >= FAULT_AT_LINE, "{stored:?}");
    assert_eq!(check_complete(&stored, printed), Ok(()));
    rig.check_site_free().await;
}
