//! The proxy end to end on loopback: a scripted upstream behind it, a plain
//! HTTP/1.1 client in front.

mod support;

use std::time::Duration;

use claudeops_model_proxy::pricing::{Price, Usage};
use claudeops_model_proxy::{Grant, ModelProxy, SessionKey, Upstream};
use hyper::StatusCode;
use tokio::sync::oneshot;

use support::{
    FakeApi, Step, message_delta, message_start, message_stop, messages, send, stream_request,
    text_delta, within,
};

const KEY: &str = "sk-ant-test-real-key-0123456789";
const HAIKU: &str = "claude-haiku-4-5-20251001";
const SONNET: &str = "claude-sonnet-4-5-20250929";

async fn proxy_for(api: &FakeApi) -> ModelProxy {
    proxy_at(api.base_url()).await
}

/// A proxy holding [`KEY`] for the Messages API at `base_url`.
async fn proxy_at(base_url: String) -> ModelProxy {
    ModelProxy::start(Upstream {
        base_url,
        api_key: Some(KEY.to_owned()),
        ..Upstream::default()
    })
    .await
    .unwrap_or_else(|e| panic!("start: {e}"))
}

fn grant(models: &[&str], max_cost_usd: Option<f64>) -> Grant {
    Grant {
        session_id: 42,
        models: models.iter().map(|m| m.to_string()).collect(),
        max_cost_usd,
        cap_reason: "the session cap CLAUDEOPS_MAX_SESSION_COST_USD=0.001".to_owned(),
    }
}

fn assert_no_secret(text: &str, key: &SessionKey) {
    assert!(!text.contains(KEY), "the model key leaked: {text}");
    assert!(!text.contains(key.token()), "the token leaked: {text}");
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[tokio::test]
async fn a_stream_passes_through_byte_for_byte_as_it_arrives() {
    let api = FakeApi::start().await;
    let proxy = proxy_for(&api).await;
    let key = proxy.open(grant(&["sonnet"], None));
    let (go_on, gate) = oneshot::channel();
    let first = message_start(SONNET, 10, 0, 0);
    let mut split = text_delta("Everything is up.");
    let tail = split.split_off(20);
    let chunks = [first.clone(), split, tail, message_delta(5), message_stop()];
    let mut steps = vec![
        Step::Head(200, "text/event-stream; charset=utf-8"),
        Step::Send(chunks[0].clone()),
        Step::Wait(gate),
    ];
    for chunk in &chunks[1..] {
        steps.push(Step::Send(chunk.clone()));
        steps.push(Step::Pause(Duration::from_millis(10)));
    }
    api.reply(steps);

    let mut answer = messages(proxy.local_addr(), key.token(), &stream_request(SONNET)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let header = |name: &str| answer.headers.get(name).and_then(|v| v.to_str().ok());
    assert_eq!(
        header("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    assert_eq!(header("request-id"), Some("req_scripted"));

    // The first event arrives while the upstream still holds the rest.
    let mut got = Vec::new();
    while got.len() < first.len() {
        let data = answer
            .next_data()
            .await
            .unwrap_or_else(|| panic!("the stream ended after {} bytes", got.len()));
        got.extend_from_slice(&data);
    }
    assert_eq!(got, first);
    go_on
        .send(())
        .unwrap_or_else(|_| panic!("the upstream is gone"));

    got.extend_from_slice(&answer.rest().await);
    assert_eq!(got, chunks.concat(), "the stream was changed on its way");
    let meter = key.meter();
    assert_eq!((meter.input_tokens, meter.output_tokens), (10, 5));
}

#[tokio::test]
async fn the_real_key_replaces_the_session_token() {
    let api = FakeApi::start().await;
    let proxy = proxy_for(&api).await;
    let key = proxy.open(grant(&["haiku"], None));
    for _ in 0..2 {
        api.reply(vec![
            Step::Head(200, "application/json"),
            Step::Send(
                br#"{"type":"message","content":[],"usage":{"input_tokens":1,"output_tokens":1}}"#
                    .to_vec(),
            ),
        ]);
    }
    let by_header = messages(proxy.local_addr(), key.token(), &stream_request(HAIKU)).await;
    assert_eq!(by_header.status, StatusCode::OK);
    assert_no_secret(&by_header.text().await, &key);
    let bearer = format!("Bearer {}", key.token());
    let by_bearer = send(
        proxy.local_addr(),
        "POST",
        "/v1/messages",
        &[
            ("authorization", &bearer),
            ("anthropic-beta", "oauth-2025-04-20"),
            ("cookie", "a=b"),
        ],
        stream_request(HAIKU),
    )
    .await;
    assert_eq!(by_bearer.status, StatusCode::OK);
    assert_no_secret(&by_bearer.text().await, &key);

    let seen = api.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(request.header("x-api-key").as_deref(), Some(KEY));
        assert_eq!(request.header("authorization"), None);
        assert_eq!(request.header("cookie"), None);
        assert_eq!(
            request.header("accept-encoding").as_deref(),
            Some("identity")
        );
        assert!(!request.head.contains(key.token()), "{}", request.head);
        assert!(!String::from_utf8_lossy(&request.body).contains(key.token()));
        assert_eq!(request.body, stream_request(HAIKU).into_bytes());
    }
    assert!(
        seen[0]
            .head
            .starts_with("POST /v1/messages?beta=true HTTP/1.1\r\n")
    );
    assert_eq!(
        seen[0].header("anthropic-version").as_deref(),
        Some("2023-06-01")
    );
    assert!(seen[1].head.starts_with("POST /v1/messages HTTP/1.1\r\n"));
    assert_eq!(
        seen[1].header("anthropic-beta").as_deref(),
        Some("oauth-2025-04-20")
    );
}

#[tokio::test]
async fn a_gateway_gets_its_bearer_token_and_a_base_path() {
    let api = FakeApi::start().await;
    let proxy = ModelProxy::start(Upstream {
        base_url: format!("{}/anthropic/", api.base_url()),
        api_key: None,
        auth_token: Some("gateway-token".to_owned()),
        ..Upstream::default()
    })
    .await
    .unwrap_or_else(|e| panic!("start: {e}"));
    let key = proxy.open(grant(&["haiku"], None));
    api.reply(vec![
        Step::Head(200, "application/json"),
        Step::Send(br#"{"input_tokens":12}"#.to_vec()),
    ]);
    let answer = send(
        proxy.local_addr(),
        "POST",
        "/v1/messages/count_tokens?beta=true",
        &[("x-api-key", key.token())],
        stream_request(HAIKU),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text().await, r#"{"input_tokens":12}"#);
    let seen = api.seen();
    assert!(
        seen[0]
            .head
            .starts_with("POST /anthropic/v1/messages/count_tokens?beta=true HTTP/1.1\r\n"),
        "{}",
        seen[0].head
    );
    assert_eq!(
        seen[0].header("authorization").as_deref(),
        Some("Bearer gateway-token")
    );
    assert_eq!(seen[0].header("x-api-key"), None);
    // A token count is no usage.
    let meter = key.meter();
    assert_eq!(
        (meter.requests, meter.input_tokens, meter.cost_usd),
        (1, 0, 0.0)
    );
}

#[tokio::test]
async fn wrong_missing_and_ended_tokens_get_401() {
    let api = FakeApi::start().await;
    let proxy = proxy_for(&api).await;
    let key = proxy.open(grant(&["haiku"], None));
    let other = proxy.open(grant(&["haiku"], None));
    let wrong = format!("{}0", &key.token()[..key.token().len() - 1]);
    let ended = key.token().to_owned();
    drop(key);

    for token in [wrong.as_str(), ended.as_str(), "", KEY] {
        let answer = messages(proxy.local_addr(), token, &stream_request(HAIKU)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "token {token:?}");
        let body = answer.json().await;
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "authentication_error");
        let text = body.to_string();
        assert!(!text.contains(KEY) && !text.contains(&ended), "{text}");
    }
    let bearer = format!("Bearer {ended}");
    let answer = send(
        proxy.local_addr(),
        "POST",
        "/v1/messages",
        &[("authorization", &bearer)],
        stream_request(HAIKU),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        api.seen().is_empty(),
        "a refused request reached the upstream"
    );
    assert_eq!(other.meter().requests, 0);
}

#[tokio::test]
async fn a_tier_gets_only_its_models() {
    let api = FakeApi::start().await;
    let proxy = proxy_for(&api).await;
    let key = proxy.open(grant(&["haiku"], None));
    let refused = messages(
        proxy.local_addr(),
        key.token(),
        &stream_request("claude-opus-4-5"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let body = refused.json().await;
    assert_eq!(body["error"]["type"], "permission_error");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("\"claude-opus-4-5\""), "{message}");
    assert!(message.contains("haiku"), "{message}");
    assert!(api.seen().is_empty());

    api.reply(vec![
        Step::Head(200, "text/event-stream"),
        Step::Send([message_start(HAIKU, 3, 0, 0), message_stop()].concat()),
    ]);
    let allowed = messages(proxy.local_addr(), key.token(), &stream_request(HAIKU)).await;
    assert_eq!(allowed.status, StatusCode::OK);
    allowed.text().await;
    let meter = key.meter();
    assert_eq!((meter.requests, meter.refused), (1, 1));
    assert_eq!(meter.models, vec![HAIKU.to_owned()]);
    assert_eq!(api.seen().len(), 1);
}

#[tokio::test]
async fn the_cap_cuts_a_stream_and_stops_the_session() {
    let api = FakeApi::start().await;
    let proxy = proxy_for(&api).await;
    // Haiku 4.5: $1 in, $5 out per million tokens. 100 in + 300 out = $0.0016.
    let key = proxy.open(grant(&["haiku"], Some(0.001)));
    let (closed_tx, closed) = oneshot::channel();
    let before = [
        message_start(HAIKU, 100, 0, 0),
        text_delta("Checking"),
        message_delta(50),
    ];
    let capping = message_delta(300);
    api.reply(vec![
        Step::Head(200, "text/event-stream"),
        Step::Send(before[0].clone()),
        Step::Send(before[1].clone()),
        Step::Pause(Duration::from_millis(10)),
        Step::Send(before[2].clone()),
        // The event that reaches the cap shares its chunk with one that must not pass.
        Step::Send([capping.clone(), text_delta("past the cap")].concat()),
        Step::AwaitClose(closed_tx),
    ]);

    let mut answer = messages(proxy.local_addr(), key.token(), &stream_request(HAIKU)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let got = answer.rest().await;
    let text = String::from_utf8_lossy(&got).into_owned();
    let forwarded = [before.concat(), capping].concat();
    assert!(got.starts_with(&forwarded), "{text}");
    let last = &text[forwarded.len()..];
    let data = last
        .strip_prefix("event: error\ndata: ")
        .and_then(|l| l.strip_suffix("\n\n"))
        .unwrap_or_else(|| panic!("no error event at the end: {last:?}"));
    let error: serde_json::Value =
        serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"));
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "permission_error");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Claude Ops stopped this session: "),
        "{message}"
    );
    assert!(
        message.contains("CLAUDEOPS_MAX_SESSION_COST_USD"),
        "{message}"
    );
    assert!(!text.contains("past the cap") && !text.contains("message_stop"));
    answer.connection_closed().await;

    within("the proxy dropping the upstream stream", closed)
        .await
        .unwrap_or_else(|_| panic!("the upstream script ended early"));
    within("capped()", key.capped()).await;
    assert!(key.is_capped());

    let later = messages(proxy.local_addr(), key.token(), &stream_request(HAIKU)).await;
    assert_eq!(later.status, StatusCode::FORBIDDEN);
    let body = later.json().await;
    assert_eq!(body["error"]["type"], "permission_error");
    assert_eq!(body["error"]["message"].as_str(), Some(message));
    assert_eq!(api.seen().len(), 1);

    let meter = key.meter();
    assert_eq!((meter.input_tokens, meter.output_tokens), (100, 300));
    assert!(close(meter.cost_usd, 0.0016), "{}", meter.cost_usd);
    assert_eq!((meter.requests, meter.refused), (1, 1));
}

#[tokio::test]
async fn the_cap_reached_by_one_stream_cuts_the_others_of_the_session() {
    let api = FakeApi::start().await;
    let proxy = proxy_for(&api).await;
    let key = proxy.open(grant(&["haiku"], Some(0.001)));
    let (a_closed_tx, a_closed) = oneshot::channel();
    let a_start = message_start(HAIKU, 10, 0, 0);
    api.reply(vec![
        Step::Head(200, "text/event-stream"),
        Step::Send(a_start.clone()),
        Step::AwaitClose(a_closed_tx),
    ]);
    let mut a = messages(proxy.local_addr(), key.token(), &stream_request(HAIKU)).await;
    let mut a_got = Vec::new();
    while a_got.len() < a_start.len() {
        let data = a.next_data().await.unwrap_or_else(|| panic!("a ended"));
        a_got.extend_from_slice(&data);
    }

    // A second stream of the same session goes over the cap.
    api.reply(vec![
        Step::Head(200, "text/event-stream"),
        Step::Send([message_start(HAIKU, 10, 0, 0), message_delta(1000)].concat()),
        Step::Send(message_stop()),
    ]);
    let b = messages(proxy.local_addr(), key.token(), &stream_request(HAIKU)).await;
    let b_text = b.text().await;
    assert!(
        b_text.contains("Claude Ops stopped this session"),
        "{b_text}"
    );
    assert!(!b_text.contains("message_stop"), "{b_text}");

    a_got.extend_from_slice(&a.rest().await);
    let a_text = String::from_utf8_lossy(&a_got[a_start.len()..]).into_owned();
    assert!(a_text.starts_with("event: error\ndata: "), "{a_text}");
    assert!(
        a_text.contains("Claude Ops stopped this session"),
        "{a_text}"
    );
    within("the first upstream stream being dropped", a_closed)
        .await
        .unwrap_or_else(|_| panic!("the upstream script ended early"));
    within("capped()", key.capped()).await;
}

#[tokio::test]
async fn ending_a_session_cuts_its_open_stream() {
    let api = FakeApi::start().await;
    let proxy = proxy_for(&api).await;
    let key = proxy.open(grant(&["haiku"], None));
    let (closed_tx, closed) = oneshot::channel();
    let start = message_start(HAIKU, 10, 0, 0);
    api.reply(vec![
        Step::Head(200, "text/event-stream"),
        Step::Send(start.clone()),
        Step::AwaitClose(closed_tx),
    ]);
    let mut answer = messages(proxy.local_addr(), key.token(), &stream_request(HAIKU)).await;
    let first = answer.next_data().await.unwrap_or_default();
    assert!(start.starts_with(&first) && !first.is_empty());
    drop(key);
    let mut got = first.to_vec();
    got.extend_from_slice(&answer.rest().await);
    let text = String::from_utf8_lossy(&got[start.len()..]).into_owned();
    assert!(text.starts_with("event: error\ndata: "), "{text}");
    assert!(text.contains("Claude Ops ended this session"), "{text}");
    within("the upstream stream being dropped", closed)
        .await
        .unwrap_or_else(|_| panic!("the upstream script ended early"));
}

#[tokio::test]
async fn a_client_that_goes_away_stops_the_upstream_read() {
    let api = FakeApi::start().await;
    let proxy = proxy_for(&api).await;
    let key = proxy.open(grant(&["haiku"], None));
    let (closed_tx, closed) = oneshot::channel();
    api.reply(vec![
        Step::Head(200, "text/event-stream"),
        Step::Send(message_start(HAIKU, 10, 0, 0)),
        Step::AwaitClose(closed_tx),
    ]);
    let mut answer = messages(proxy.local_addr(), key.token(), &stream_request(HAIKU)).await;
    assert!(answer.next_data().await.is_some());
    drop(answer);
    within("the upstream stream being dropped", closed)
        .await
        .unwrap_or_else(|_| panic!("the upstream script ended early"));
    assert_eq!(key.meter().input_tokens, 10);
}

#[tokio::test]
async fn a_session_already_at_its_cap_is_refused_before_forwarding() {
    let api = FakeApi::start().await;
    let proxy = proxy_for(&api).await;
    let key = proxy.open(grant(&["haiku"], Some(0.0)));
    let answer = messages(proxy.local_addr(), key.token(), &stream_request(HAIKU)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.json().await["error"]["type"], "permission_error");
    within("capped()", key.capped()).await;
    assert!(api.seen().is_empty());
}

#[tokio::test]
async fn the_meter_counts_streams_and_json_answers() {
    let api = FakeApi::start().await;
    let proxy = proxy_for(&api).await;
    let key = proxy.open(grant(&["sonnet", "haiku"], Some(10.0)));
    api.reply(vec![
        Step::Head(200, "text/event-stream"),
        Step::Send(message_start(SONNET, 10, 20, 30)),
        Step::Send(text_delta("ok")),
        Step::Send(message_delta(15)),
        Step::Send([message_delta(25), message_stop()].concat()),
    ]);
    let json = serde_json::json!({
        "id": "msg_02", "type": "message", "role": "assistant", "model": HAIKU,
        "content": [{"type": "text", "text": "ok"}],
        "usage": {"input_tokens": 100, "output_tokens": 40,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    })
    .to_string()
    .into_bytes();
    let (head, tail) = json.split_at(30);
    api.reply(vec![
        Step::Head(200, "application/json"),
        Step::Send(head.to_vec()),
        Step::Send(tail.to_vec()),
    ]);

    let first = stream_request(SONNET);
    let answer = messages(proxy.local_addr(), key.token(), &first).await;
    answer.text().await;
    let after_stream = key.meter();
    assert_eq!(after_stream.input_tokens, 10);
    assert_eq!(after_stream.cache_creation_input_tokens, 20);
    assert_eq!(after_stream.cache_read_input_tokens, 30);
    assert_eq!(after_stream.output_tokens, 25);
    let sonnet_cost = Price::of(SONNET).cost(&Usage {
        input_tokens: 10,
        output_tokens: 25,
        cache_creation_input_tokens: 20,
        cache_read_input_tokens: 30,
    });
    assert!(close(sonnet_cost, (30.0 + 75.0 + 9.0 + 375.0) / 1e6));
    assert!(
        close(after_stream.cost_usd, sonnet_cost),
        "{}",
        after_stream.cost_usd
    );

    let second = serde_json::json!({
        "model": HAIKU, "max_tokens": 64,
        "messages": [{"role": "user", "content": "a much longer question than the first one"}],
    })
    .to_string();
    let answer = messages(proxy.local_addr(), key.token(), &second).await;
    assert_eq!(answer.text().await.into_bytes(), json);

    let meter = key.meter();
    assert_eq!(meter.input_tokens, 110);
    assert_eq!(meter.output_tokens, 65);
    assert!(
        close(meter.cost_usd, sonnet_cost + 300.0 / 1e6),
        "{}",
        meter.cost_usd
    );
    assert_eq!(meter.requests, 2);
    assert_eq!(meter.refused, 0);
    assert_eq!(meter.models, vec![SONNET.to_owned(), HAIKU.to_owned()]);
    assert_eq!(
        meter.request_bytes_total,
        (first.len() + second.len()) as u64
    );
    assert_eq!(
        meter.request_bytes_max,
        first.len().max(second.len()) as u64
    );
    assert!(!key.is_capped());
}

#[tokio::test]
async fn upstream_errors_pass_through_unmetered() {
    let api = FakeApi::start().await;
    let proxy = proxy_for(&api).await;
    let key = proxy.open(grant(&["haiku"], None));
    let overloaded = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded","usage":{"input_tokens":5}}}"#;
    api.reply(vec![
        Step::Head(529, "application/json"),
        Step::Send(overloaded.to_vec()),
    ]);
    let answer = messages(proxy.local_addr(), key.token(), &stream_request(HAIKU)).await;
    assert_eq!(answer.status.as_u16(), 529);
    assert_eq!(answer.text().await.into_bytes(), overloaded.to_vec());
    let meter = key.meter();
    assert_eq!((meter.requests, meter.input_tokens), (1, 0));
}

#[tokio::test]
async fn other_paths_and_bad_bodies_are_refused() {
    let api = FakeApi::start().await;
    let proxy = proxy_for(&api).await;
    let key = proxy.open(grant(&["haiku"], None));
    for (method, path) in [
        ("GET", "/v1/models"),
        ("GET", "/v1/messages"),
        ("POST", "/v1/complete"),
        ("POST", "/v1/messages/batches"),
    ] {
        let answer = send(
            proxy.local_addr(),
            method,
            path,
            &[("x-api-key", key.token())],
            "{}",
        )
        .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
        let body = answer.json().await;
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "not_found_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(path)),
            "{body}"
        );
    }
    let answer = messages(proxy.local_addr(), key.token(), "not json").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.json().await["error"]["type"],
        "invalid_request_error"
    );

    let huge = vec![b' '; claudeops_model_proxy::MAX_REQUEST_BYTES + 1];
    let answer = send(
        proxy.local_addr(),
        "POST",
        "/v1/messages",
        &[("x-api-key", key.token())],
        huge,
    )
    .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.json().await["error"]["type"], "request_too_large");
    assert!(api.seen().is_empty());
    assert_eq!(key.meter().refused, 2);
}

#[tokio::test]
async fn an_unreachable_upstream_gives_502() {
    let free = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = free.local_addr().unwrap_or_else(|e| panic!("{e}"));
    drop(free);
    let proxy = proxy_at(format!("http://user:hunter2@{addr}")).await;
    let key = proxy.open(grant(&["haiku"], None));
    let answer = messages(proxy.local_addr(), key.token(), &stream_request(HAIKU)).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    let body = answer.json().await;
    assert_eq!(body["error"]["type"], "api_error");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "could not reach the Messages API at http://{addr}"
        )),
        "{message}"
    );
    assert!(message.to_lowercase().contains("connect"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert_no_secret(message, &key);
}

#[tokio::test]
async fn a_silent_upstream_gives_504() {
    let api = FakeApi::start().await;
    let (_never, gate) = oneshot::channel::<()>();
    api.reply(vec![Step::Wait(gate)]);
    let proxy = ModelProxy::start(Upstream {
        base_url: api.base_url(),
        api_key: Some(KEY.to_owned()),
        idle_timeout: Duration::from_millis(300),
        ..Upstream::default()
    })
    .await
    .unwrap_or_else(|e| panic!("start: {e}"));
    let key = proxy.open(grant(&["haiku"], None));
    let answer = messages(proxy.local_addr(), key.token(), &stream_request(HAIKU)).await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
    let body = answer.json().await;
    assert_eq!(body["error"]["type"], "api_error");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("did not answer in time"), "{message}");
    assert_no_secret(message, &key);
}

#[tokio::test]
async fn an_upstream_that_breaks_off_ends_the_stream_with_an_error_event() {
    let api = FakeApi::start().await;
    let proxy = proxy_for(&api).await;
    let key = proxy.open(grant(&["haiku"], None));
    let start = message_start(HAIKU, 7, 0, 0);
    api.reply(vec![
        Step::Head(200, "text/event-stream"),
        Step::Send(start.clone()),
        // A chunk that promises 0x64 bytes and sends 7, then the connection closes.
        Step::Raw(b"64\r\nevent: ".to_vec()),
        Step::Close,
    ]);
    let mut answer = messages(proxy.local_addr(), key.token(), &stream_request(HAIKU)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let got = answer.rest().await;
    assert!(got.starts_with(&start));
    let text = String::from_utf8_lossy(&got[start.len()..]).into_owned();
    // The partial event is ended before the error event starts.
    assert!(
        text.starts_with("event: \n\nevent: error\ndata: "),
        "{text}"
    );
    assert!(
        text.contains("\"api_error\"") && text.contains("broke off"),
        "{text}"
    );
    assert_no_secret(&text, &key);
    assert_eq!(key.meter().input_tokens, 7);
}

#[tokio::test]
async fn an_upstream_with_an_untrusted_certificate_never_gets_the_key() {
    use std::sync::Arc;
    use tokio::io::AsyncReadExt;

    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .unwrap_or_else(|e| panic!("{e}"));
    let key_der = rustls_pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap_or_else(|e| panic!("{e}"))
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key_der.into())
    .unwrap_or_else(|e| panic!("{e}"));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("{e}"))
        .port();
    let (outcome_tx, outcome) = oneshot::channel();
    tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let received = match acceptor.accept(stream).await {
            Ok(mut tls) => {
                let mut buf = vec![0u8; 65536];
                let n = tls.read(&mut buf).await.unwrap_or(0);
                Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
            }
            Err(e) => Err(e.to_string()),
        };
        let _ = outcome_tx.send(received);
    });

    let proxy = proxy_at(format!("https://localhost:{port}")).await;
    let key = proxy.open(grant(&["haiku"], None));
    let answer = messages(proxy.local_addr(), key.token(), &stream_request(HAIKU)).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    let message = answer.json().await["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("certificate"), "{message}");
    assert_no_secret(&message, &key);
    let server_saw = within("the TLS server's handshake", outcome)
        .await
        .unwrap_or_else(|_| panic!("the TLS server stopped early"));
    assert!(
        server_saw.is_err(),
        "the handshake succeeded: {server_saw:?}"
    );
}
