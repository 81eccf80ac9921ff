//! Collected output: stdin written, stdout and stderr read to the end together,
//! each kept to its last `cap` bytes, the exit status or a timeout.

use std::process::ExitStatus;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::ChildStdin;

use crate::{Error, Guarded};

/// What a program that exited by itself left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Whether the start of stdout or stderr was dropped to stay within the cap.
    pub truncated: bool,
}

impl Guarded {
    /// Runs the program to its end: stdin written, both pipes drained at once
    /// (each kept to its last `cap` bytes), the exit status. Past the time limit
    /// the whole group is killed and the answer is [`Error::TimedOut`].
    pub async fn output(mut self, cap: usize) -> Result<Output, Error> {
        let mut stdout = Tail::new(cap);
        let mut stderr = Tail::new(cap);
        let out_pipe = self.child.stdout.take();
        let err_pipe = self.child.stderr.take();
        let stdin = self.stdin.take();
        let deadline = self.deadline;
        let child = &mut self.child;
        let work = async {
            let (_, out, err, status) = tokio::join!(
                feed(stdin),
                drain(out_pipe, &mut stdout),
                drain(err_pipe, &mut stderr),
                child.wait(),
            );
            out.and(err).and(status)
        };
        match tokio::time::timeout_at(deadline, work).await {
            Ok(Ok(status)) => {
                self.reap_group();
                let (stdout, cut_out) = stdout.into_bytes();
                let (stderr, cut_err) = stderr.into_bytes();
                Ok(Output {
                    status,
                    stdout,
                    stderr,
                    truncated: cut_out || cut_err,
                })
            }
            Ok(Err(source)) => Err(self.io_error(source)),
            Err(_) => {
                tracing::debug!(program = %self.program.display(), "time limit passed, killing the process group");
                self.kill_group().await;
                Err(self.timed_out())
            }
        }
    }
}

/// Writes the bytes and closes the pipe. A child that exits without reading is
/// reported by its status, so a write error is not one.
async fn feed(stdin: Option<(ChildStdin, Vec<u8>)>) {
    if let Some((mut pipe, bytes)) = stdin {
        let _ = pipe.write_all(&bytes).await;
        let _ = pipe.shutdown().await;
    }
}

async fn drain(pipe: Option<impl AsyncRead + Unpin>, into: &mut Tail) -> std::io::Result<()> {
    let Some(mut pipe) = pipe else {
        return Ok(());
    };
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = pipe.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        into.push(&chunk[..n]);
    }
}

/// The last `cap` bytes of a stream. Trims in batches, so the buffer briefly
/// holds up to twice the cap and the work stays linear.
#[derive(Debug)]
pub(crate) struct Tail {
    buf: Vec<u8>,
    cap: usize,
    cut: bool,
}

impl Tail {
    pub(crate) fn new(cap: usize) -> Tail {
        Tail {
            buf: Vec::new(),
            cap,
            cut: false,
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > self.cap.saturating_mul(2).max(8192) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        if self.buf.len() > self.cap {
            let cut = self.buf.len() - self.cap;
            self.buf.drain(..cut);
            self.cut = true;
        }
    }

    /// The kept bytes, and whether anything was dropped.
    pub(crate) fn into_bytes(mut self) -> (Vec<u8>, bool) {
        self.trim();
        (self.buf, self.cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_keeps_the_last_bytes() {
        let mut tail = Tail::new(10);
        for i in 0..10_000u32 {
            tail.push(format!("{:05}", i % 100_000).as_bytes());
        }
        let (bytes, cut) = tail.into_bytes();
        assert_eq!(bytes, b"0999809999");
        assert!(cut);

        let mut small = Tail::new(10);
        small.push(b"abc");
        assert_eq!(small.into_bytes(), (b"abc".to_vec(), false));
    }
}
