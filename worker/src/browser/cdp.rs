//! A small Chrome DevTools Protocol client over Chromium's
//! `--remote-debugging-pipe`: JSON messages separated by NUL bytes, the
//! browser reading on its fd 3 and writing on its fd 4.
//!
//! Why a pipe and not a port: a DevTools port on loopback would be reachable
//! from the session's sandbox (it shares the network), and whoever reaches it
//! drives the browser: reads the fields the worker filled, navigates anywhere.
//! A pipe is held by the worker alone.
//!
//! One reader task routes answers to their callers by id and hands every event
//! to one receiver, in order; the caller of [`Cdp::new`] owns that receiver.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

/// How long one command may wait for its answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest message read (a full-page screenshot is the biggest).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// A protocol event: `method`, `params`, and the flat session it came from.
#[derive(Debug, Clone)]
pub struct Event {
    pub method: String,
    pub params: Value,
    pub session: Option<String>,
}

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CdpError {
    #[error("the browser answered {method} with an error: {message}")]
    Protocol { method: String, message: String },
    #[error("the browser did not answer {0} within 30 s")]
    Timeout(String),
    #[error("the connection to the browser is closed")]
    Closed,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// A connection to one browser; cheap to clone.
#[derive(Clone)]
pub struct Cdp {
    out: mpsc::UnboundedSender<Vec<u8>>,
    pending: Pending,
    next: Arc<AtomicU64>,
    closed: Arc<AtomicBool>,
}

impl Cdp {
    /// Starts the reader and writer tasks on a pipe pair. The receiver gets
    /// every event; it ends when the browser closes the pipe.
    pub fn new<R, W>(reader: R, writer: W) -> (Cdp, mpsc::UnboundedReceiver<Event>)
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (out, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let pending: Pending = Arc::default();
        tokio::spawn(async move {
            let mut writer = writer;
            while let Some(mut message) = out_rx.recv().await {
                message.push(0);
                if writer.write_all(&message).await.is_err() || writer.flush().await.is_err() {
                    break;
                }
            }
            // The other end learns that nothing more comes (a WebSocket bridge
            // then closes its socket).
            let _ = writer.shutdown().await;
        });
        let routes = pending.clone();
        let closed = Arc::new(AtomicBool::new(false));
        let ended = closed.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::with_capacity(256 * 1024, reader);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match (&mut reader)
                    .take(MAX_MESSAGE as u64)
                    .read_until(0, &mut buf)
                    .await
                {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if buf.last() == Some(&0) {
                    buf.pop();
                } else if buf.len() >= MAX_MESSAGE {
                    tracing::warn!(
                        "the browser sent a message over 64 MiB; the connection is closed"
                    );
                    break;
                }
                let Ok(message) = serde_json::from_slice::<Value>(&buf) else {
                    continue;
                };
                route(message, &routes, &events_tx);
            }
            // Whoever still waits learns that the browser is gone.
            ended.store(true, Ordering::SeqCst);
            if let Ok(mut routes) = routes.lock() {
                routes.clear();
            }
        });
        (
            Cdp {
                out,
                pending,
                next: Arc::new(AtomicU64::new(1)),
                closed,
            },
            events_rx,
        )
    }

    /// Sends one command (to `session`, or to the browser itself) and waits
    /// for its answer.
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, CdpError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = Value::String(session.to_owned());
        }
        let (tx, rx) = oneshot::channel();
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(id, tx);
        }
        if self.is_closed() {
            self.forget(id);
            return Err(CdpError::Closed);
        }
        let bytes = serde_json::to_vec(&message).map_err(|_| CdpError::Closed)?;
        if self.out.send(bytes).is_err() {
            self.forget(id);
            return Err(CdpError::Closed);
        }
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err(message))) => Err(CdpError::Protocol {
                method: method.to_owned(),
                message,
            }),
            Ok(Err(_)) => Err(CdpError::Closed),
            Err(_) => {
                self.forget(id);
                Err(CdpError::Timeout(method.to_owned()))
            }
        }
    }

    /// Whether the browser has closed the connection.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn forget(&self, id: u64) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.remove(&id);
        }
    }
}

/// Connects to a running browser's DevTools WebSocket (`ws://.../devtools/browser/ID`,
/// a sidecar's): the same client, over a bridge that turns WebSocket text
/// messages into the pipe's NUL-separated ones and back.
pub async fn connect(url: &str) -> Result<(Cdp, mpsc::UnboundedReceiver<Event>), String> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (socket, _) = tokio::time::timeout(CALL_TIMEOUT, tokio_tungstenite::connect_async(url))
        .await
        .map_err(|_| format!("{url} did not answer within 30 s"))?
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    let (mut sink, mut stream) = socket.split();
    let (ours, theirs) = tokio::io::duplex(1024 * 1024);
    let (their_read, mut their_write) = tokio::io::split(theirs);
    tokio::spawn(async move {
        let mut reader = BufReader::new(their_read);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(0, &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if buf.last() == Some(&0) {
                buf.pop();
            }
            let text = String::from_utf8_lossy(&buf).into_owned();
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            let bytes = match message {
                Message::Text(text) => text.as_bytes().to_vec(),
                Message::Binary(bytes) => bytes.to_vec(),
                Message::Close(_) => break,
                _ => continue,
            };
            if their_write.write_all(&bytes).await.is_err()
                || their_write.write_all(&[0]).await.is_err()
            {
                break;
            }
        }
        let _ = their_write.shutdown().await;
    });
    let (read, write) = tokio::io::split(ours);
    Ok(Cdp::new(read, write))
}

/// The browser WebSocket of a DevTools endpoint: a `ws://` URL as it is, or
/// for `http://HOST:PORT` the `webSocketDebuggerUrl` of its `/json/version`.
pub async fn websocket_url(endpoint: &str) -> Result<String, String> {
    if endpoint.starts_with("ws://") {
        return Ok(endpoint.to_owned());
    }
    let url = url::Url::parse(endpoint).map_err(|e| format!("{endpoint:?}: {e}"))?;
    if url.scheme() != "http" {
        return Err(format!(
            "{endpoint:?}: give ws://HOST:PORT/devtools/browser/ID or http://HOST:PORT"
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| format!("{endpoint:?} has no host"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    // DevTools answers only a Host header that is an address or localhost:
    // the name is resolved here, and the address asked for and used.
    let address = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))?;
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        let request =
            format!("GET /json/version HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        // Read the headers, then as many bytes as they say: a DevTools
        // server may keep the connection open whatever the request asked.
        let mut answer = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&answer);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        if name.eq_ignore_ascii_case("content-length") {
                            value.trim().parse::<usize>().ok()
                        } else {
                            None
                        }
                    })
                    .unwrap_or(usize::MAX);
                if body.len() >= length || serde_json::from_str::<Value>(body.trim()).is_ok() {
                    break;
                }
            }
            if answer.len() > 1024 * 1024 {
                break;
            }
        }
        Ok::<Vec<u8>, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(CALL_TIMEOUT, ask)
        .await
        .map_err(|_| format!("{endpoint} did not answer within 30 s"))?
        .map_err(|e| format!("cannot reach {endpoint}: {e}"))?;
    let text = String::from_utf8_lossy(&answer);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let version: Value = serde_json::from_str(body.trim())
        .map_err(|_| format!("{endpoint}/json/version is not a DevTools endpoint"))?;
    let named = version["webSocketDebuggerUrl"]
        .as_str()
        .filter(|u| u.starts_with("ws://"))
        .ok_or_else(|| format!("{endpoint}/json/version names no ws:// webSocketDebuggerUrl"))?;
    // Its path, at the address that answered.
    let path = named
        .trim_start_matches("ws://")
        .split_once('/')
        .map_or("", |(_, path)| path);
    Ok(format!("ws://{address}/{path}"))
}

fn route(message: Value, pending: &Pending, events: &mpsc::UnboundedSender<Event>) {
    if let Some(id) = message.get("id").and_then(Value::as_u64) {
        let waiter = pending.lock().ok().and_then(|mut p| p.remove(&id));
        if let Some(waiter) = waiter {
            let answer = match message.get("error") {
                Some(error) => Err(error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
                    .to_owned()),
                None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
            };
            let _ = waiter.send(answer);
        }
        return;
    }
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        return;
    };
    let _ = events.send(Event {
        method: method.to_owned(),
        params: message.get("params").cloned().unwrap_or(Value::Null),
        session: message
            .get("sessionId")
            .and_then(Value::as_str)
            .map(str::to_owned),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_reach_their_callers_and_events_the_receiver() {
        let (ours, theirs) = tokio::io::duplex(4096);
        let (read, write) = tokio::io::split(ours);
        let (cdp, mut events) = Cdp::new(read, write);
        let (their_read, mut their_write) = tokio::io::split(theirs);
        let browser = tokio::spawn(async move {
            let mut reader = BufReader::new(their_read);
            let mut buf = Vec::new();
            for _ in 0..2 {
                buf.clear();
                reader
                    .read_until(0, &mut buf)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                buf.pop();
                let msg: Value = serde_json::from_slice(&buf).unwrap_or_else(|e| panic!("{e}"));
                let id = msg["id"].clone();
                let reply = if msg["method"] == "Bad.method" {
                    json!({"id": id, "error": {"code": -32601, "message": "'Bad.method' wasn't found"}})
                } else {
                    json!({"id": id, "result": {"echo": msg["params"], "session": msg["sessionId"]}})
                };
                let event = json!({"method": "Target.attachedToTarget", "params": {"n": 1}, "sessionId": "S"});
                for m in [event, reply] {
                    let mut bytes = serde_json::to_vec(&m).unwrap_or_default();
                    bytes.push(0);
                    their_write
                        .write_all(&bytes)
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                }
            }
        });
        let ok = cdp
            .call(Some("S1"), "Page.navigate", json!({"url": "about:blank"}))
            .await;
        assert_eq!(
            ok,
            Ok(json!({"echo": {"url": "about:blank"}, "session": "S1"}))
        );
        let bad = cdp.call(None, "Bad.method", json!({})).await;
        assert!(
            matches!(bad, Err(CdpError::Protocol { ref message, .. }) if message.contains("wasn't found")),
            "{bad:?}"
        );
        let event = events.recv().await.unwrap_or_else(|| panic!("no event"));
        assert_eq!(event.method, "Target.attachedToTarget");
        assert_eq!(event.session.as_deref(), Some("S"));
        browser.await.unwrap_or_else(|e| panic!("{e}"));
        drop(events);
        let closed = cdp.call(None, "Browser.getVersion", json!({})).await;
        assert!(
            matches!(closed, Err(CdpError::Closed | CdpError::Timeout(_))),
            "{closed:?}"
        );
    }
}
