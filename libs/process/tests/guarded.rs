//! The primitive against real processes: `sh -c` children whose background
//! grandchildren must die with the group (on timeout, on stop, on drop), large
//! output on both pipes, the environment allow-list, stdin, and spawn errors.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use claudeops_process::{EndedBy, Error, Guarded, Kill, LineLimits, Lines, Piped, Spec};

const LIMITS: LineLimits = LineLimits {
    max_line_bytes: 1 << 20,
    stderr_tail_bytes: 4096,
};

fn sh(script: &str, timeout: Duration) -> Spec {
    let mut spec = Spec::new("/bin/sh", timeout);
    spec.args(["-c", script]).env("PATH", "/usr/bin:/bin");
    spec
}

/// Whether a process runs (a zombie does not: PID 1 of a container may never
/// reap it).
fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let zombie = stat
        .rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with('Z'));
    !zombie && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// Waits up to two seconds for `pid` to be gone.
async fn assert_dies(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "process {pid} outlived its group"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads the pid a script wrote to `file`, waiting for it to appear.
async fn pid_in(file: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if let Ok(pid) = text.trim().parse() {
            return pid;
        }
        assert!(Instant::now() < deadline, "no pid in {}", file.display());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A script that starts a background `sleep` (its pid into `file`) and waits.
fn with_grandchild(file: &Path) -> String {
    format!("sleep 60 & echo $! > {}; sleep 60", file.display())
}

async fn next_stdout(lines: &mut Lines) -> String {
    loop {
        match lines.next().await {
            Piped::Stdout(text) => return text,
            Piped::Stderr(_) => {}
            Piped::Ended(ended) => panic!("ended early: {ended:?}"),
        }
    }
}

async fn until_end(lines: &mut Lines) -> claudeops_process::Ended {
    loop {
        if let Piped::Ended(ended) = lines.next().await {
            return ended;
        }
    }
}

#[tokio::test]
async fn collected_output_has_the_status_and_both_streams() {
    let out = sh("echo out; echo err >&2; exit 3", Duration::from_secs(10))
        .spawn()
        .unwrap()
        .output(1024)
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        (&out.stdout[..], &out.stderr[..]),
        (&b"out\n"[..], &b"err\n"[..])
    );
    assert!(!out.truncated);
}

#[tokio::test]
async fn a_timeout_is_its_own_result_and_kills_the_grandchildren() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pid");
    let started = Instant::now();
    let spec = sh(&with_grandchild(&file), Duration::from_millis(500));
    let err = spec.spawn().unwrap().output(1024).await.unwrap_err();
    assert!(matches!(err, Error::TimedOut { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_dies(pid_in(&file).await).await;
}

#[tokio::test]
async fn dropping_the_handle_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pid");
    let guarded: Guarded = sh(&with_grandchild(&file), Duration::from_secs(60))
        .spawn()
        .unwrap();
    let leader = guarded.group_id().unwrap();
    let grandchild = pid_in(&file).await;
    assert!(alive(grandchild) && alive(leader));
    drop(guarded);
    assert_dies(grandchild).await;

    // The same for a line stream dropped in the middle, and for a cancelled
    // `output` future.
    let file = dir.path().join("pid2");
    let mut lines = sh(
        &format!("echo hi; {}", with_grandchild(&file)),
        Duration::from_secs(60),
    )
    .spawn()
    .unwrap()
    .lines(LIMITS);
    assert_eq!(next_stdout(&mut lines).await, "hi");
    let grandchild = pid_in(&file).await;
    drop(lines);
    assert_dies(grandchild).await;

    let file = dir.path().join("pid3");
    let output = sh(&with_grandchild(&file), Duration::from_secs(60))
        .spawn()
        .unwrap()
        .output(1024);
    let cancelled = tokio::time::timeout(Duration::from_millis(300), output).await;
    assert!(cancelled.is_err());
    assert_dies(pid_in(&file).await).await;
}

#[tokio::test]
async fn what_the_leader_leaves_behind_dies_when_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pid");
    // The grandchild lets go of the pipes, so the end does not wait for it.
    let script = format!("sleep 60 >/dev/null 2>&1 & echo $! > {}", file.display());
    let out = sh(&script, Duration::from_secs(10))
        .spawn()
        .unwrap()
        .output(1024)
        .await
        .unwrap();
    assert!(out.status.success());
    assert_dies(pid_in(&file).await).await;
}

#[tokio::test]
async fn a_mebibyte_on_each_pipe_is_drained_without_deadlock() {
    // stderr first: a parent reading stdout to its end first would block forever.
    let script =
        "head -c 1048576 /dev/zero | tr '\\0' e >&2; head -c 1048576 /dev/zero | tr '\\0' o";
    let out = sh(script, Duration::from_secs(20))
        .spawn()
        .unwrap()
        .output(2 << 20)
        .await
        .unwrap();
    assert!(out.status.success());
    assert_eq!((out.stdout.len(), out.stderr.len()), (1 << 20, 1 << 20));
    assert!(out.stdout.iter().all(|b| *b == b'o') && out.stderr.iter().all(|b| *b == b'e'));

    let capped = sh(script, Duration::from_secs(20))
        .spawn()
        .unwrap()
        .output(1000)
        .await
        .unwrap();
    assert_eq!((capped.stdout.len(), capped.stderr.len()), (1000, 1000));
    assert!(capped.truncated);

    // Line by line, both streams at once.
    let script = "yes errline | head -n 100000 >&2 & yes outline | head -n 100000; wait";
    let mut lines = sh(script, Duration::from_secs(20))
        .spawn()
        .unwrap()
        .lines(LIMITS);
    let (mut outs, mut errs) = (0, 0);
    let ended = loop {
        match lines.next().await {
            Piped::Stdout(text) => {
                assert_eq!(text, "outline");
                outs += 1;
            }
            Piped::Stderr(text) => {
                assert_eq!(text, "errline");
                errs += 1;
            }
            Piped::Ended(ended) => break ended,
        }
    };
    assert_eq!((outs, errs), (100_000, 100_000));
    assert_eq!(ended.by, EndedBy::Exit);
    assert!(ended.stderr_tail.len() <= 4096 && ended.stderr_tail.ends_with("errline\n"));
}

#[tokio::test]
async fn a_line_stream_times_out_and_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pid");
    let mut lines = sh(&with_grandchild(&file), Duration::from_millis(500))
        .spawn()
        .unwrap()
        .lines(LIMITS);
    let ended = until_end(&mut lines).await;
    assert_eq!(ended.by, EndedBy::TimedOut);
    assert_dies(pid_in(&file).await).await;
    // The end is answered again.
    assert!(matches!(lines.next().await, Piped::Ended(again) if again == ended));
}

#[tokio::test]
async fn stop_sends_sigterm_first_when_graceful() {
    let script = "trap 'echo term; exit 7' TERM; echo ready; while :; do sleep 0.05; done";
    let mut spec = sh(script, Duration::from_secs(30));
    spec.kill(Kill::Graceful(Duration::from_secs(5)));
    let mut lines = spec.spawn().unwrap().lines(LIMITS);
    assert_eq!(next_stdout(&mut lines).await, "ready");
    lines.stop().await;
    assert!(lines.is_ending());
    assert_eq!(next_stdout(&mut lines).await, "term");
    let ended = until_end(&mut lines).await;
    assert_eq!(ended.by, EndedBy::Stopped);
    assert_eq!(ended.status.and_then(|s| s.code()), Some(7));

    let mut lines = sh(script, Duration::from_secs(30))
        .spawn()
        .unwrap()
        .lines(LIMITS);
    assert_eq!(next_stdout(&mut lines).await, "ready");
    lines.stop().await;
    let ended = until_end(&mut lines).await;
    assert_eq!(ended.by, EndedBy::Stopped);
    assert_eq!(ended.status.and_then(|s| s.code()), None, "SIGKILL at once");
}

#[tokio::test]
async fn the_environment_is_only_what_the_caller_lists() {
    let mut spec = Spec::new("/usr/bin/env", Duration::from_secs(10));
    spec.env("ONLY", "one").env("ALSO", "x").env("ALSO", "two");
    let out = spec.spawn().unwrap().output(4096).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut vars: Vec<&str> = text.lines().collect();
    vars.sort_unstable();
    assert_eq!(vars, ["ALSO=two", "ONLY=one"]);

    let mut spec = Spec::new("/usr/bin/env", Duration::from_secs(10));
    spec.inherit_env().env("ONLY", "one");
    let out = spec.spawn().unwrap().output(1 << 20).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ONLY=one"));
    if let Some(path) = std::env::var_os("PATH") {
        assert!(text.contains(&format!("PATH={}", path.to_string_lossy())));
    }
}

#[tokio::test]
async fn stdin_is_written_and_closed_and_dir_is_honoured() {
    let body = "x".repeat(1 << 20);
    let mut spec = sh("cat; pwd >&2", Duration::from_secs(10));
    spec.stdin(body.clone()).current_dir("/tmp");
    let out = spec.spawn().unwrap().output(2 << 20).await.unwrap();
    assert_eq!(out.stdout, body.as_bytes());
    assert_eq!(out.stderr, b"/tmp\n");

    let mut spec = sh("cat", Duration::from_secs(10));
    spec.stdin("one\ntwo\n");
    let mut lines = spec.spawn().unwrap().lines(LIMITS);
    assert_eq!(next_stdout(&mut lines).await, "one");
    assert_eq!(next_stdout(&mut lines).await, "two");
    assert_eq!(until_end(&mut lines).await.by, EndedBy::Exit);
}

#[tokio::test]
async fn spawn_errors_name_the_program() {
    let err = Spec::new("/nonexistent/tool", Duration::from_secs(1))
        .spawn()
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { program } if program == Path::new("/nonexistent/tool"))
    );
    assert_eq!(err.to_string(), "/nonexistent/tool was not found");

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("not-executable");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    let err = Spec::new(&script, Duration::from_secs(1))
        .spawn()
        .unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    assert!(
        err.to_string().contains("not-executable is not executable"),
        "{err}"
    );
}
