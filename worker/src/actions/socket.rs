//! The unix socket between the MCP server (`claudeops-worker mcp`, started by the
//! CLI) and the running worker: one JSON line per request, one per reply.
//!
//! The socket file is made mode 0600 before it becomes visible at its path (bound
//! under a temporary name, then renamed), so only the worker's own user can reach
//! it. It carries requests only: it decides nothing itself; the handler (in the
//! worker, [`super::run_action`]) checks every call. A handler's action runs to
//! its end even if the caller goes away, so the ledger always gets its outcome.

use std::future::Future;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::{ActionReply, ActionRequest};

/// The longest request or reply line accepted on the socket.
pub const MAX_LINE: usize = 1024 * 1024;

/// What answers the requests that arrive on the socket.
#[async_trait]
pub trait ActionHandler: Send + Sync {
    async fn handle(&self, request: ActionRequest) -> ActionReply;
}

/// A bound action socket. Dropping it removes the socket file (if it is still
/// the one this bound).
pub struct ActionSocket {
    listener: UnixListener,
    path: PathBuf,
    inode: Option<(u64, u64)>,
}

impl ActionSocket {
    /// Binds `path` (mode 0600), replacing a stale socket left there. Refuses to
    /// replace anything that is not a socket. Needs a Tokio runtime.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<ActionSocket> {
        let path = path.as_ref().to_path_buf();
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            std::fs::remove_file(&path)?;
        }
        let mut temp = path.clone().into_os_string();
        temp.push(format!(".{}.tmp", std::process::id()));
        let temp = PathBuf::from(temp);
        let _ = std::fs::remove_file(&temp);
        let listener = UnixListener::bind(&temp)?;
        let made = std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::rename(&temp, &path));
        if let Err(error) = made {
            let _ = std::fs::remove_file(&temp);
            return Err(error);
        }
        let inode = std::fs::symlink_metadata(&path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        Ok(ActionSocket {
            listener,
            path,
            inode,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves connections until the process ends.
    pub async fn serve(self, handler: Arc<dyn ActionHandler>) {
        self.serve_until(handler, std::future::pending()).await;
    }

    /// Serves connections until `shutdown` resolves; connections already accepted
    /// finish their requests on their own.
    pub async fn serve_until(
        self,
        handler: Arc<dyn ActionHandler>,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        tokio::spawn(connection(stream, handler.clone()));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "action socket: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                () = &mut shutdown => return,
            }
        }
    }
}

impl Drop for ActionSocket {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if ours.is_some() && ours == self.inode {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn connection(stream: UnixStream, handler: Arc<dyn ActionHandler>) {
    let (read, mut write) = stream.into_split();
    let mut lines = LineReader::new(BufReader::new(read), MAX_LINE);
    loop {
        let reply = match lines.next().await {
            Ok(Line::Eof) | Err(_) => return,
            Ok(Line::TooLong) => ActionReply::failed(format!(
                "the request is longer than {MAX_LINE} bytes; nothing was done"
            )),
            Ok(Line::Text(text)) if text.trim().is_empty() => continue,
            Ok(Line::Text(text)) => match serde_json::from_str::<ActionRequest>(&text) {
                Ok(request) => {
                    tracing::info!(session = request.session_id, tool = %request.tool, "action requested");
                    let reply = handler.handle(request).await;
                    tracing::info!(ok = reply.ok, text = %reply.text, "action answered");
                    reply
                }
                Err(error) => ActionReply::failed(format!(
                    "malformed action request ({error}); nothing was done"
                )),
            },
        };
        if write_line(&mut write, &reply).await.is_err() {
            return;
        }
    }
}

async fn write_line<W: AsyncWrite + Unpin>(
    writer: &mut W,
    value: &impl serde::Serialize,
) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    writer.write_all(&line).await?;
    writer.flush().await
}

/// Sends one request to the worker at `path` and waits up to `limit` for the reply.
pub async fn request(
    path: &Path,
    request: &ActionRequest,
    limit: Duration,
) -> Result<ActionReply, String> {
    let exchange = async {
        let stream = UnixStream::connect(path).await.map_err(|e| {
            format!(
                "cannot reach the Claude Ops worker's action socket {}: {e}",
                path.display()
            )
        })?;
        let (read, mut write) = stream.into_split();
        write_line(&mut write, request)
            .await
            .map_err(|e| format!("cannot send the action to the worker: {e}"))?;
        let mut lines = LineReader::new(BufReader::new(read), MAX_LINE);
        loop {
            match lines.next().await {
                Ok(Line::Text(text)) if text.trim().is_empty() => continue,
                Ok(Line::Text(text)) => {
                    return serde_json::from_str::<ActionReply>(&text)
                        .map_err(|e| format!("the worker sent a malformed reply: {e}"));
                }
                Ok(Line::TooLong) => return Err("the worker's reply is too long".to_owned()),
                Ok(Line::Eof) => {
                    return Err(
                        "the worker closed the action socket without replying; the action's outcome is unknown"
                            .to_owned(),
                    );
                }
                Err(e) => return Err(format!("cannot read the worker's reply: {e}")),
            }
        }
    };
    tokio::time::timeout(limit, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "the worker did not answer within {} minutes; the action's outcome is unknown",
                limit.as_secs() / 60
            ))
        })
}

/// One line read by [`LineReader`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    Text(String),
    TooLong,
    Eof,
}

/// Reads `\n`-terminated lines of at most `max` bytes. Cancel-safe: a partial line
/// stays buffered here if the future is dropped.
pub(crate) struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    max: usize,
    too_long: bool,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub(crate) fn new(inner: R, max: usize) -> LineReader<R> {
        LineReader {
            inner,
            buf: Vec::new(),
            max,
            too_long: false,
        }
    }

    pub(crate) async fn next(&mut self) -> io::Result<Line> {
        loop {
            let chunk = self.inner.fill_buf().await?;
            if chunk.is_empty() {
                if self.buf.is_empty() && !self.too_long {
                    return Ok(Line::Eof);
                }
                return Ok(self.take());
            }
            let newline = chunk.iter().position(|b| *b == b'\n');
            let part = &chunk[..newline.unwrap_or(chunk.len())];
            if !self.too_long {
                if self.buf.len() + part.len() > self.max {
                    self.too_long = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(part);
                }
            }
            let used = newline.map_or(chunk.len(), |i| i + 1);
            self.inner.consume(used);
            if newline.is_some() {
                return Ok(self.take());
            }
        }
    }

    fn take(&mut self) -> Line {
        if std::mem::take(&mut self.too_long) {
            self.buf.clear();
            return Line::TooLong;
        }
        let bytes = std::mem::take(&mut self.buf);
        let text = String::from_utf8_lossy(&bytes);
        Line::Text(text.strip_suffix('\r').unwrap_or(&text).to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_bounded_lines() {
        let input: &[u8] = b"one\r\n\ntoo long line\nlast";
        let mut lines = LineReader::new(input, 8);
        let mut got = Vec::new();
        loop {
            match lines.next().await.unwrap_or(Line::Eof) {
                Line::Eof => break,
                line => got.push(line),
            }
        }
        assert_eq!(
            got,
            [
                Line::Text("one".into()),
                Line::Text(String::new()),
                Line::TooLong,
                Line::Text("last".into())
            ]
        );
    }
}
