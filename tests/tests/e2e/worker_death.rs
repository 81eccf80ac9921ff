//! A worker killed with SIGKILL takes its sessions' processes with it: the
//! session's group guard (`worker/src/guard.rs`) kills the CLI's whole process
//! group when the worker's pipe to it closes.

use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn a_worker_killed_with_sigkill_takes_the_cli_and_its_tools_with_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Unique sleep durations name the stand-in CLI's processes in /proc.
    let script = "#!/bin/sh\necho '{\"type\":\"system\",\"subtype\":\"init\"}'\n\
                  (sleep 7771; echo never) &\nsleep 7772\n";
    let (cp, mut worker) = with_fake_cli(dir.path(), "home", script).await;
    trigger_until_first_line(&cp.http(), "home").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while running_with("7771").is_empty() || running_with("7772").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stand-in CLI never ran"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    worker.proc.signal("KILL");
    worker.proc.wait_exit(WAIT).await;
    let killed_at = tokio::time::Instant::now();
    loop {
        let mut left = running_with("7771");
        left.extend(running_with("7772"));
        if left.is_empty() {
            break;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(5),
            "the session's processes outlived their worker: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "the CLI and its tool were gone {} ms after the worker died",
        killed_at.elapsed().as_millis()
    );
}
