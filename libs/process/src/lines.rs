//! Line-by-line output: stdout and stderr read as they come (each by its own
//! task, so neither pipe can fill up), a bounded tail of stderr, a stop on
//! request, and an end that tells an exit from a timeout or a stop.

use std::process::ExitStatus;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Guarded;

/// Bounds of a line stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineLimits {
    /// A longer line is cut to this many bytes (the rest of it is dropped).
    pub max_line_bytes: usize,
    /// How much of stderr [`Ended::stderr_tail`] keeps.
    pub stderr_tail_bytes: usize,
}

/// What [`Lines::next`] answers: one line (trailing whitespace removed; blank
/// lines are skipped) or, once both pipes are closed and the leader has exited,
/// the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piped {
    Stdout(String),
    Stderr(String),
    Ended(Ended),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    /// The program exited by itself.
    Exit,
    /// The time limit passed and the group was killed.
    TimedOut,
    /// [`Lines::stop`] killed the group.
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub by: EndedBy,
    /// `None` when waiting for the leader failed.
    pub status: Option<ExitStatus>,
    /// The last stderr lines, each followed by a newline, within the limit.
    pub stderr_tail: String,
}

/// A running program read line by line. Dropping it kills the whole group.
#[derive(Debug)]
pub struct Lines {
    guarded: Guarded,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    stdout_open: bool,
    stderr_open: bool,
    tasks: Vec<JoinHandle<()>>,
    tail: TextTail,
    ending: Option<EndedBy>,
    ended: Option<Ended>,
}

impl Guarded {
    /// Reads the program's output line by line (see [`Lines::next`]).
    pub fn lines(mut self, limits: LineLimits) -> Lines {
        let (stdout_tx, stdout) = mpsc::channel(64);
        let (stderr_tx, stderr) = mpsc::channel(64);
        let mut tasks = vec![
            tokio::spawn(read_lines(
                self.child.stdout.take(),
                stdout_tx,
                limits.max_line_bytes,
            )),
            tokio::spawn(read_lines(
                self.child.stderr.take(),
                stderr_tx,
                limits.max_line_bytes,
            )),
        ];
        if let Some((mut pipe, bytes)) = self.stdin.take() {
            tasks.push(tokio::spawn(async move {
                let _ = pipe.write_all(&bytes).await;
                let _ = pipe.shutdown().await;
            }));
        }
        Lines {
            guarded: self,
            stdout,
            stderr,
            stdout_open: true,
            stderr_open: true,
            tasks,
            tail: TextTail::new(limits.stderr_tail_bytes),
            ending: None,
            ended: None,
        }
    }
}

impl Lines {
    /// The next line, or the end. Enforces the time limit (killing the group
    /// when it passes). Cancel-safe: dropping the future loses no line. After the
    /// end it answers the same end again.
    pub async fn next(&mut self) -> Piped {
        loop {
            if let Some(ended) = &self.ended {
                return Piped::Ended(ended.clone());
            }
            let deadline = self.guarded.deadline;
            let pipes_open = self.stdout_open || self.stderr_open;
            tokio::select! {
                line = self.stdout.recv(), if self.stdout_open => match line {
                    Some(text) => return Piped::Stdout(text),
                    None => self.stdout_open = false,
                },
                line = self.stderr.recv(), if self.stderr_open => match line {
                    Some(text) => {
                        self.tail.push_line(&text);
                        return Piped::Stderr(text);
                    }
                    None => self.stderr_open = false,
                },
                status = self.guarded.child.wait(), if !pipes_open => {
                    self.guarded.reap_group();
                    self.ended = Some(Ended {
                        by: self.ending.unwrap_or(EndedBy::Exit),
                        status: status.ok(),
                        stderr_tail: self.tail.text.clone(),
                    });
                }
                () = tokio::time::sleep_until(deadline), if self.ending.is_none() => {
                    tracing::debug!(program = %self.guarded.program.display(), "time limit passed, killing the process group");
                    self.ending = Some(EndedBy::TimedOut);
                    self.guarded.kill_group().await;
                }
            }
        }
    }

    /// Kills the whole group (as the spec's [`crate::Kill`] says). The end is
    /// then [`EndedBy::Stopped`], unless the time limit had already passed.
    pub async fn stop(&mut self) {
        if self.ended.is_some() {
            return;
        }
        self.ending.get_or_insert(EndedBy::Stopped);
        self.guarded.kill_group().await;
    }

    /// Whether the group is being killed (time limit or stop) or has ended.
    pub fn is_ending(&self) -> bool {
        self.ending.is_some() || self.ended.is_some()
    }

    pub fn group_id(&self) -> Option<i32> {
        self.guarded.group_id()
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // `self.guarded` is dropped next, which kills the group.
    }
}

/// Sends each line (trailing whitespace removed, blank lines skipped), cutting
/// any longer than `max` bytes.
async fn read_lines(stream: Option<impl AsyncRead + Unpin>, tx: mpsc::Sender<String>, max: usize) {
    let Some(stream) = stream else { return };
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match read_capped_line(&mut reader, &mut buf, max).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf).trim_end().to_owned();
                if !text.is_empty() && tx.send(text).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads up to and including the next newline, keeping at most `max` bytes of it.
/// Answers how many bytes were consumed (0 at the end of the stream).
async fn read_capped_line<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(total);
        }
        let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let len = chunk.len();
        let room = max.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..len.min(room)]);
        reader.consume(len);
        total += len;
        if done {
            return Ok(total);
        }
    }
}

/// The last lines of a text, within a byte limit, cut on a character boundary.
#[derive(Debug)]
pub(crate) struct TextTail {
    text: String,
    cap: usize,
}

impl TextTail {
    pub(crate) fn new(cap: usize) -> TextTail {
        TextTail {
            text: String::new(),
            cap,
        }
    }

    pub(crate) fn push_line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        if self.text.len() > self.cap {
            let mut cut = self.text.len() - self.cap;
            while !self.text.is_char_boundary(cut) {
                cut += 1;
            }
            self.text.drain(..cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stderr_tail_is_bounded() {
        let mut tail = TextTail::new(4096);
        for _ in 0..1000 {
            tail.push_line("0123456789é");
        }
        assert!(tail.text.len() <= 4096 + 1);
        assert!(tail.text.ends_with("0123456789é\n"));
    }

    #[tokio::test]
    async fn long_lines_are_cut_and_the_rest_is_read_on() {
        let input = format!("{}\nshort\n", "x".repeat(100));
        let mut reader = BufReader::new(input.as_bytes());
        let mut buf = Vec::new();
        let n = read_capped_line(&mut reader, &mut buf, 10)
            .await
            .unwrap_or(0);
        assert_eq!((n, buf.len()), (101, 10));
        buf.clear();
        let n = read_capped_line(&mut reader, &mut buf, 10)
            .await
            .unwrap_or(0);
        assert_eq!((n, buf.as_slice()), (6, &b"short\n"[..]));
    }
}
