//! Test parts: a tiny Messages API upstream speaking HTTP/1.1 by hand (it
//! records what it received and answers from a script, chunk by chunk), and a
//! client that reads the proxy's answer frame by frame.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The longest any test waits for something that must happen; reaching it
/// fails the test (it guards against a hang, it is not a speed check).
pub const PATIENCE: Duration = Duration::from_secs(10);

pub async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen"))
}

/// One step of a scripted answer.
pub enum Step {
    /// The status line and headers (the body is chunked).
    Head(u16, &'static str),
    /// One chunk, written and flushed.
    Send(Vec<u8>),
    /// Bytes written as they are, without chunk framing.
    Raw(Vec<u8>),
    /// Close the connection at once, without ending the body.
    Close,
    Pause(Duration),
    /// Wait until the test says so.
    Wait(oneshot::Receiver<()>),
    /// Wait until the proxy closes the connection, then report it.
    AwaitClose(oneshot::Sender<()>),
}

/// A request the upstream received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request line and headers, as sent.
    pub head: String,
    pub body: Vec<u8>,
}

impl Seen {
    /// The value of a header (the first one), names compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

pub struct FakeApi {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Vec<Step>>>>,
}

impl FakeApi {
    pub async fn start() -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let api = FakeApi {
            addr,
            seen: Arc::default(),
            script: Arc::default(),
        };
        let (seen, script) = (api.seen.clone(), api.script.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(connection(stream, seen.clone(), script.clone()));
            }
        });
        api
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues the answer to the next request.
    pub fn reply(&self, steps: Vec<Step>) {
        self.script
            .lock()
            .unwrap_or_else(|e| panic!("{e}"))
            .push_back(steps);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap_or_else(|e| panic!("{e}")).clone()
    }
}

async fn connection(
    mut stream: TcpStream,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Vec<Step>>>>,
) {
    let mut buf = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        seen.lock().unwrap_or_else(|e| panic!("{e}")).push(request);
        let steps = script
            .lock()
            .unwrap_or_else(|e| panic!("{e}"))
            .pop_front()
            .unwrap_or_else(|| {
                vec![
                    Step::Head(500, "text/plain"),
                    Step::Send(b"unscripted".to_vec()),
                ]
            });
        for step in steps {
            let written = match step {
                Step::Head(status, content_type) => {
                    let head = format!(
                        "HTTP/1.1 {status} Scripted\r\ncontent-type: {content_type}\r\n\
                         request-id: req_scripted\r\ntransfer-encoding: chunked\r\n\r\n"
                    );
                    stream.write_all(head.as_bytes()).await
                }
                Step::Send(bytes) => {
                    let mut chunk = format!("{:x}\r\n", bytes.len()).into_bytes();
                    chunk.extend_from_slice(&bytes);
                    chunk.extend_from_slice(b"\r\n");
                    stream.write_all(&chunk).await
                }
                Step::Raw(bytes) => stream.write_all(&bytes).await,
                Step::Close => return,
                Step::Pause(d) => {
                    tokio::time::sleep(d).await;
                    Ok(())
                }
                Step::Wait(rx) => {
                    let _ = rx.await;
                    Ok(())
                }
                Step::AwaitClose(tx) => {
                    let mut sink = [0u8; 1024];
                    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                    let _ = tx.send(());
                    return;
                }
            };
            if written.is_err() || stream.flush().await.is_err() {
                return;
            }
        }
        if stream.write_all(b"0\r\n\r\n").await.is_err() {
            return;
        }
    }
}

async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Seen> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut part = [0u8; 8192];
        let n = stream.read(&mut part).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&part[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let mut part = [0u8; 65536];
        let n = stream.read(&mut part).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&part[..n]);
    }
    let body = buf[head_end..head_end + length].to_vec();
    buf.drain(..head_end + length);
    Some(Seen { head, body })
}

/// A response from the proxy, its body still to read.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Incoming,
    /// Held so the connection stays up until the proxy closes it.
    _sender: SendRequest<Full<Bytes>>,
    connection: JoinHandle<hyper::Result<()>>,
}

impl Answer {
    /// The next frame of data; `None` at the end of the body.
    pub async fn next_data(&mut self) -> Option<Bytes> {
        loop {
            let frame = within("a body frame", self.body.frame()).await?;
            let frame = frame.unwrap_or_else(|e| panic!("body: {e}"));
            if let Ok(data) = frame.into_data() {
                return Some(data);
            }
        }
    }

    /// Resolves once the proxy has closed the connection.
    pub async fn connection_closed(self) {
        let _ = within("the proxy closing the connection", self.connection).await;
    }

    /// The rest of the body.
    pub async fn rest(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(data) = self.next_data().await {
            all.extend_from_slice(&data);
        }
        all
    }

    pub async fn text(mut self) -> String {
        String::from_utf8_lossy(&self.rest().await).into_owned()
    }

    /// The body as JSON.
    pub async fn json(self) -> serde_json::Value {
        let text = self.text().await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }
}

/// Sends one request to `addr` over a fresh connection.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let stream = within("connecting to the proxy", TcpStream::connect(addr))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap_or_else(|e| panic!("handshake: {e}"));
    let connection = tokio::spawn(conn);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(body.into()))
        .unwrap_or_else(|e| panic!("request: {e}"));
    let response = within("the proxy's answer", sender.send_request(request))
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
        _sender: sender,
        connection,
    }
}

/// `POST /v1/messages?beta=true` the way the CLI sends it, with `token` in
/// `x-api-key`.
pub async fn messages(addr: SocketAddr, token: &str, body: &str) -> Answer {
    send(
        addr,
        "POST",
        "/v1/messages?beta=true",
        &[
            ("x-api-key", token),
            ("anthropic-version", "2023-06-01"),
            ("content-type", "application/json"),
        ],
        body.to_owned(),
    )
    .await
}

/// A request body asking `model` for a streamed answer.
pub fn stream_request(model: &str) -> String {
    serde_json::json!({
        "model": model,
        "max_tokens": 1024,
        "stream": true,
        "messages": [{"role": "user", "content": "check the services"}],
    })
    .to_string()
}

/// One server-sent event.
pub fn event(name: &str, data: serde_json::Value) -> Vec<u8> {
    format!("event: {name}\ndata: {data}\n\n").into_bytes()
}

pub fn message_start(model: &str, input: u64, cache_write: u64, cache_read: u64) -> Vec<u8> {
    event(
        "message_start",
        serde_json::json!({
            "type": "message_start",
            "message": {
                "id": "msg_01", "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null,
                "usage": {
                    "input_tokens": input,
                    "cache_creation_input_tokens": cache_write,
                    "cache_read_input_tokens": cache_read,
                    "output_tokens": 1,
                },
            },
        }),
    )
}

pub fn text_delta(text: &str) -> Vec<u8> {
    event(
        "content_block_delta",
        serde_json::json!({
            "type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": text},
        }),
    )
}

pub fn message_delta(output_tokens: u64) -> Vec<u8> {
    event(
        "message_delta",
        serde_json::json!({
            "type": "message_delta",
            "delta": {"stop_reason": null, "stop_sequence": null},
            "usage": {"output_tokens": output_tokens},
        }),
    )
}

pub fn message_stop() -> Vec<u8> {
    event("message_stop", serde_json::json!({"type": "message_stop"}))
}
