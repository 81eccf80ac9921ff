//! Run logs in the original's format: each session's raw output in
//! `CLAUDEOPS_RESULTS_DIR/run-YYYYMMDD-HHMMSS.log` (the session's start, UTC),
//! one line per output line: its RFC 3339 time, a tab, the raw line.
//!
//! The store stays the record; the file is written from it. One task appends,
//! in `seq` order, whatever is stored without a hole past what the file holds,
//! so a worker's replay after a reconnect neither duplicates nor reorders a
//! line, and the file is byte for byte the stored lines. The output path only
//! sends a session id into a channel: a slow or full disk never holds up a
//! worker. A second session started in the same second gets
//! `run-YYYYMMDD-HHMMSS-ID.log`; after a restart a session's file is found
//! again by its first line.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use claudeops_core::SessionId;
use claudeops_store::{OutputLine, Store, StoreError};
use tokio::sync::mpsc;

use crate::clock::rfc3339;

/// One line of a run log.
pub fn format_line(line: &OutputLine) -> String {
    format!("{}\t{}\n", rfc3339(line.ts_ms), line.line)
}

/// The file name of a session started at `started_at_ms`.
pub fn file_name(started_at_ms: i64, id: Option<SessionId>) -> String {
    let stamp = humantime::format_rfc3339_seconds(crate::clock::time_of_ms(started_at_ms))
        .to_string()
        .replace(['-', ':'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_owned();
    match id {
        None => format!("run-{stamp}.log"),
        Some(id) => format!("run-{stamp}-{id}.log"),
    }
}

/// What the writer knows of one session's file.
struct Open {
    path: PathBuf,
    /// The highest `seq` in the file.
    written: i64,
}

/// The handle: tells the writer a session has new output.
#[derive(Clone)]
pub struct RunLogs {
    tx: Option<mpsc::UnboundedSender<SessionId>>,
}

impl RunLogs {
    /// No run logs (tests that do not want files).
    pub fn off() -> RunLogs {
        RunLogs { tx: None }
    }

    /// Starts the writer for `dir`. Without a usable directory the logs are
    /// off, said once; the store keeps every line regardless.
    pub fn spawn(store: Arc<dyn Store>, dir: PathBuf) -> RunLogs {
        if let Err(error) = std::fs::create_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), %error, "run logs are off: the results dir cannot be made");
            return RunLogs::off();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(
            Writer {
                store,
                dir,
                open: HashMap::new(),
            }
            .run(rx),
        );
        RunLogs { tx: Some(tx) }
    }

    /// New output of `session` is stored.
    pub fn stored(&self, session: SessionId) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(session);
        }
    }
}

struct Writer {
    store: Arc<dyn Store>,
    dir: PathBuf,
    open: HashMap<SessionId, Open>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<SessionId>) {
        while let Some(first) = rx.recv().await {
            let mut ids = vec![first];
            while let Ok(more) = rx.try_recv() {
                if !ids.contains(&more) {
                    ids.push(more);
                }
            }
            for id in ids {
                if let Err(error) = self.catch_up(id).await {
                    tracing::warn!(session = id, %error, "could not write the run log");
                }
            }
        }
    }

    /// Appends what is stored without a hole past what the file holds; forgets
    /// a finished session once its file is complete.
    async fn catch_up(&mut self, id: SessionId) -> Result<(), RunLogError> {
        let Some(session) = self.store.get_session(id).await? else {
            return Ok(());
        };
        let upto = self.store.contiguous_output(id).await?;
        if !self.open.contains_key(&id) {
            let open = self.find(id, session.started_at_ms).await?;
            self.open.insert(id, open);
        }
        let Some(open) = self.open.get_mut(&id) else {
            return Ok(());
        };
        while open.written < upto {
            let lines = self.store.output(id, open.written, 500).await?;
            let lines: Vec<&OutputLine> = lines.iter().take_while(|l| l.seq <= upto).collect();
            let Some(last) = lines.last() else { break };
            let text: String = lines.iter().map(|l| format_line(l)).collect();
            let path = open.path.clone();
            let last_seq = last.seq;
            tokio::task::spawn_blocking(move || append(&path, text.as_bytes()))
                .await
                .map_err(|e| RunLogError::Io(std::io::Error::other(e)))??;
            open.written = last_seq;
        }
        if session.status.is_finished() && open.written >= upto {
            self.open.remove(&id);
        }
        Ok(())
    }

    /// The session's file: its own plain-named file (found again after a
    /// restart by its first line), else the plain name when free, else the
    /// name with the session id.
    async fn find(&self, id: SessionId, started_at_ms: i64) -> Result<Open, RunLogError> {
        let first = self.store.output(id, 0, 1).await?;
        let first_line = first.first().map(format_line);
        for candidate in [
            file_name(started_at_ms, None),
            file_name(started_at_ms, Some(id)),
        ] {
            let path = self.dir.join(&candidate);
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let ours = first_line
                        .as_deref()
                        .is_some_and(|l| bytes.starts_with(l.as_bytes()));
                    if ours {
                        let written = i64::try_from(bytes.iter().filter(|b| **b == b'\n').count())
                            .unwrap_or(i64::MAX);
                        return Ok(Open { path, written });
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(Open { path, written: 0 });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(RunLogError::Io(std::io::Error::other(format!(
            "both run log names of session #{id} belong to other sessions"
        ))))
    }
}

fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(bytes)?;
    file.flush()
}

/// Deletes run logs last written before `retention` ago. Returns how many.
pub fn prune(dir: &Path, retention: Duration, now: SystemTime) -> std::io::Result<u64> {
    let Some(cut) = now.checked_sub(retention) else {
        return Ok(0);
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("run-") && name.ends_with(".log")) {
            continue;
        }
        let meta = entry.metadata()?;
        if meta.is_file() && meta.modified()? < cut {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[derive(Debug, thiserror::Error)]
enum RunLogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_lines_as_the_original() {
        // 2026-02-16T10:00:05Z
        let ms = 1_771_236_005_000;
        assert_eq!(file_name(ms, None), "run-20260216-100005.log");
        assert_eq!(file_name(ms, Some(42)), "run-20260216-100005-42.log");
        let line = OutputLine {
            seq: 1,
            ts_ms: ms + 250,
            line: r#"{"type":"system"}"#.into(),
            malformed: false,
        };
        assert_eq!(
            format_line(&line),
            "2026-02-16T10:00:05.250Z\t{\"type\":\"system\"}\n"
        );
    }

    #[test]
    fn prune_takes_old_run_logs_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for name in ["run-20260101-000000.log", "keep.txt"] {
            std::fs::write(dir.path().join(name), "x").unwrap_or_else(|e| panic!("{e}"));
        }
        let now = SystemTime::now();
        assert_eq!(
            prune(dir.path(), Duration::from_secs(3600), now).unwrap_or_else(|e| panic!("{e}")),
            0
        );
        let later = now + Duration::from_secs(7200);
        assert_eq!(
            prune(dir.path(), Duration::from_secs(3600), later).unwrap_or_else(|e| panic!("{e}")),
            1
        );
        assert!(dir.path().join("keep.txt").exists());
        assert!(!dir.path().join("run-20260101-000000.log").exists());
    }
}
