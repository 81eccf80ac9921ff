//! What a dead worker left running, found and killed by the next one.
//!
//! The group guard (`crate::guard`) and bubblewrap's `--die-with-parent` end a
//! session's processes when its worker dies; this is the backstop for when
//! they could not (the guard itself killed, an out-of-memory kill of both).
//! While a session's CLI runs, its process group is recorded in
//! `STATE/groups/ID`: the group id and the start time of the group's leader,
//! so that a pid reused by an unrelated process is never mistaken for it. The
//! record goes when the session ends. A worker that starts finds the records
//! its predecessor left, kills each group still alive, and reports them.
//!
//! The records live in the state dir, which no session can see or write: a
//! hostile session cannot plant one to have the next worker kill something.

use std::path::{Path, PathBuf};

/// Where the records of running sessions' process groups live.
pub fn groups_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("groups")
}

/// The record of one session's running process group; removed when dropped.
pub struct GroupRecord {
    path: PathBuf,
}

impl GroupRecord {
    /// Records that `session_id`'s processes run in group `pgid`.
    pub fn write(dir: &Path, session_id: i64, pgid: i32) -> std::io::Result<GroupRecord> {
        let started = start_time(pgid)
            .ok_or_else(|| std::io::Error::other(format!("process {pgid} is not running")))?;
        std::fs::create_dir_all(dir)?;
        let path = dir.join(session_id.to_string());
        std::fs::write(&path, format!("{pgid} {started}\n"))?;
        Ok(GroupRecord { path })
    }
}

impl Drop for GroupRecord {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A session a previous worker left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub session_id: i64,
    /// Its process group was still alive, and was killed now.
    pub killed: bool,
}

/// Kills what is left of every recorded session and forgets the records.
/// Call once, before this worker runs any session.
pub fn sweep(dir: &Path) -> Vec<Leftover> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(session_id) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        let record = std::fs::read_to_string(&path).unwrap_or_default();
        let killed = parse(&record).is_some_and(|(pgid, started)| kill_if_same(pgid, started));
        let _ = std::fs::remove_file(&path);
        found.push(Leftover { session_id, killed });
    }
    found.sort_by_key(|l| l.session_id);
    found
}

fn parse(record: &str) -> Option<(i32, u64)> {
    let mut words = record.split_whitespace();
    let pgid = words.next()?.parse::<i32>().ok().filter(|p| *p > 1)?;
    let started = words.next()?.parse::<u64>().ok()?;
    Some((pgid, started))
}

/// Kills group `pgid` if its leader is still the process that was recorded.
fn kill_if_same(pgid: i32, started: u64) -> bool {
    if start_time(pgid) != Some(started) {
        return false;
    }
    let group = nix::unistd::Pid::from_raw(-pgid);
    nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL).is_ok()
}

/// When process `pid` started, in clock ticks since boot (`/proc/PID/stat`,
/// field 22); `None` when it does not run.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields
    // are counted after its closing parenthesis, which starts at field 3.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;

    use super::*;

    #[test]
    fn a_left_group_is_killed_and_a_reused_pid_is_left_alone() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let groups = groups_dir(dir.path());
        // A process in a group of its own, as a session's CLI runs.
        let mut alive = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let pgid = i32::try_from(alive.id()).unwrap_or_else(|e| panic!("{e}"));
        let kept = GroupRecord::write(&groups, 7, pgid).unwrap_or_else(|e| panic!("{e}"));
        std::mem::forget(kept); // The worker died: the record stays.
        // A record whose pid now belongs to another process (this test).
        let me = i32::try_from(std::process::id()).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(groups.join("8"), format!("{me} 1\n")).unwrap_or_else(|e| panic!("{e}"));
        // Hostile or broken records kill nothing.
        for (id, text) in [("9", "1 1\n"), ("10", "-1 5\n"), ("11", "garbage")] {
            std::fs::write(groups.join(id), text).unwrap_or_else(|e| panic!("{e}"));
        }

        let found = sweep(&groups);
        let killed: Vec<i64> = found
            .iter()
            .filter(|l| l.killed)
            .map(|l| l.session_id)
            .collect();
        assert_eq!(killed, [7]);
        assert_eq!(found.len(), 5, "{found:?}");
        let status = alive.wait().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !status.success(),
            "the left process was not killed: {status}"
        );
        assert!(
            sweep(&groups).is_empty(),
            "records are forgotten once swept"
        );
    }

    #[test]
    fn a_record_goes_when_its_session_ends() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let me = i32::try_from(std::process::id()).unwrap_or_else(|e| panic!("{e}"));
        let record = GroupRecord::write(dir.path(), 3, me).unwrap_or_else(|e| panic!("{e}"));
        assert!(dir.path().join("3").exists());
        drop(record);
        assert!(!dir.path().join("3").exists());
        assert!(sweep(dir.path()).is_empty());
    }
}
