//! The probe kinds against real servers: HTTP and TLS servers made here on
//! loopback, and dnsmasq, PostgreSQL, Redis, MariaDB and Docker containers started
//! by the test support crate. A missing server program fails the test loudly.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use claudeops_probe::docker::Docker;
use claudeops_probe::{
    Attempt, ClientOptions, DnsQuery, Health, Probe, ProbeSpec, Prober, ServiceApi,
};
use claudeops_tests::docker::Container;
use claudeops_tests::postgres::PgServer;
use claudeops_tests::servers::{Dnsmasq, MariaDbServer, RedisServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn spec(name: &str, url: &str, conditions: &[&str]) -> ProbeSpec {
    ProbeSpec {
        name: name.into(),
        url: url.into(),
        conditions: conditions.iter().map(|c| (*c).to_owned()).collect(),
        ..ProbeSpec::default()
    }
}

fn compile(s: &ProbeSpec) -> Probe {
    Probe::compile(s).unwrap_or_else(|e| panic!("{e}"))
}

async fn run(s: &ProbeSpec) -> Attempt {
    compile(s).run().await
}

fn assert_ok(a: &Attempt) {
    assert!(
        a.ok,
        "{} failed: {}\nevidence:\n{}",
        a.probe, a.message, a.evidence
    );
}

fn assert_failed(a: &Attempt, needle: &str) {
    assert!(!a.ok, "{} passed: {}", a.probe, a.message);
    assert!(
        a.message.contains(needle),
        "{}: message {:?} lacks {needle:?}",
        a.probe,
        a.message
    );
}

// ---------------------------------------------------------------- HTTP

#[derive(Clone, Default)]
struct Web {
    up: Arc<AtomicBool>,
    arr_error: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

struct HttpServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    web: Web,
}

impl HttpServer {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn http_server() -> HttpServer {
    let web = Web::default();
    web.up.store(true, Ordering::SeqCst);
    let app = Router::new()
        .route(
            "/ok",
            get(|| async { axum::Json(serde_json::json!({"status": "UP", "items": [1, 2, 3], "db": {"ok": true}})) }),
        )
        .route("/fail", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "maintenance") }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route(
            "/echo",
            any(|method: axum::http::Method, headers: HeaderMap, body: String| async move {
                let token = headers
                    .get("x-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                axum::Json(serde_json::json!({"method": method.as_str(), "token": token, "body": body}))
            }),
        )
        .route(
            "/flip",
            get(|State(web): State<Web>| async move {
                if web.up.load(Ordering::SeqCst) {
                    (StatusCode::OK, "up")
                } else {
                    (StatusCode::BAD_GATEWAY, "down")
                }
            }),
        )
        .route(
            "/busy",
            get(|State(web): State<Web>| async move {
                let now = web.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                web.max_in_flight.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                web.in_flight.fetch_sub(1, Ordering::SeqCst);
                "done"
            }),
        )
        .route(
            "/sonarr/api/v3/health",
            get(|State(web): State<Web>, headers: HeaderMap| async move {
                if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("arr-key-123") {
                    return (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({"error": "Unauthorized"})));
                }
                let mut items = vec![serde_json::json!({"source": "IndexerLongTermStatusCheck", "type": "warning", "message": "Indexers unavailable due to failures for more than 6 hours: nzbgeek"})];
                if web.arr_error.load(Ordering::SeqCst) {
                    items.push(serde_json::json!({"source": "DownloadClientCheck", "type": "error", "message": "Unable to communicate with SABnzbd"}));
                }
                (StatusCode::OK, axum::Json(serde_json::Value::Array(items)))
            }),
        )
        .route("/jellyfin/health", get(|| async { "Healthy" }))
        .with_state(web.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let listener = listener.tap_io(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    HttpServer {
        addr,
        connections,
        web,
    }
}

#[tokio::test]
async fn http_conditions_on_status_body_and_json() {
    let server = http_server().await;
    let ok = spec(
        "ok",
        &server.url("/ok"),
        &[
            "[STATUS] == 200",
            "[RESPONSE_TIME] < 2000",
            "[BODY].status == UP",
            "[BODY].items[2] == 3",
            "len([BODY].items) == 3",
            "has([BODY].db.ok) == true",
            "[BODY] == pat(*\"UP\"*)",
            "[STATUS] == any(200, 204)",
            "[CONNECTED] == true",
            "[IP] == 127.0.0.1",
        ],
    );
    let a = run(&ok).await;
    assert_ok(&a);
    assert_eq!(a.message, "HTTP 200 OK");
    assert!(a.evidence.contains("\"items\":[1,2,3]"), "{}", a.evidence);

    let wrong = spec(
        "wrong",
        &server.url("/ok"),
        &["[BODY].status == DOWN", "len([BODY].items) < 2"],
    );
    let a = run(&wrong).await;
    assert_failed(
        &a,
        "failed: [BODY].status == DOWN ([BODY].status is UP); len([BODY].items) < 2 (len([BODY].items) is 3)",
    );

    let down = run(&spec("down", &server.url("/fail"), &[])).await;
    assert_failed(
        &down,
        "HTTP 503 Service Unavailable; failed: [STATUS] < 400 ([STATUS] is 503)",
    );
    assert!(down.evidence.contains("maintenance"), "{}", down.evidence);
}

#[tokio::test]
async fn http_opens_a_fresh_connection_per_attempt() {
    let server = http_server().await;
    let probe = compile(&spec("fresh", &server.url("/ok"), &[]));
    for _ in 0..3 {
        assert_ok(&probe.run().await);
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn http_timeout_and_refused_connection_fail() {
    let server = http_server().await;
    let mut slow = spec("slow", &server.url("/slow"), &[]);
    slow.timeout = Some(Duration::from_millis(300));
    let a = run(&slow).await;
    assert!(!a.ok);
    assert!(a.message.contains("timed out"), "{}", a.message);
    assert!(a.latency < Duration::from_secs(2), "{:?}", a.latency);

    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let a = run(&spec("refused", &format!("http://127.0.0.1:{port}/"), &[])).await;
    assert_failed(&a, "cannot connect");
    assert!(
        a.message
            .contains("failed: [STATUS] < 400 ([STATUS] has no value)"),
        "{}",
        a.message
    );
    // A probe that expects the port closed passes.
    let a = run(&spec(
        "closed",
        &format!("http://127.0.0.1:{port}/"),
        &["[CONNECTED] == false"],
    ))
    .await;
    assert_ok(&a);
}

#[tokio::test]
async fn http_method_headers_body_and_secret_scrubbing() {
    let server = http_server().await;
    let mut s = spec(
        "echo",
        &server.url("/echo"),
        &["[BODY].method == POST", "[BODY].body == ping"],
    );
    s.method = Some("post".into());
    s.body = Some("ping".into());
    s.headers = BTreeMap::from([("X-Token".into(), "${PROBE_TEST_TOKEN}".into())]);
    let env = |name: &str| (name == "PROBE_TEST_TOKEN").then(|| "very-secret-token".to_owned());
    let probe = Probe::compile_with(&s, &env).expect("compiles");
    let a = probe.run().await;
    assert_ok(&a);
    // The server echoed the token back; the evidence must not carry it.
    assert!(!a.evidence.contains("very-secret-token"), "{}", a.evidence);
    assert!(a.evidence.contains("\"token\":\"***\""), "{}", a.evidence);

    let missing = Probe::compile_with(&s, &|_| None).expect_err("variable missing");
    assert_eq!(missing.field, "headers.X-Token");
    assert!(
        missing.problem.contains("`PROBE_TEST_TOKEN` is not set"),
        "{missing}"
    );
}

#[tokio::test]
async fn service_api_health_lists() {
    let server = http_server().await;
    let mut s = spec("sonarr", &server.url("/sonarr"), &[]);
    s.service_api = Some(ServiceApi {
        app: "sonarr".into(),
        api_key_env: Some("SONARR_API_KEY".into()),
    });
    let good = |name: &str| (name == "SONARR_API_KEY").then(|| "arr-key-123".to_owned());
    let probe = Probe::compile_with(&s, &good).expect("compiles");
    let a = probe.run().await;
    assert_ok(&a);
    assert!(
        a.message
            .contains("sonarr: warnings: IndexerLongTermStatusCheck"),
        "{}",
        a.message
    );

    server.web.arr_error.store(true, Ordering::SeqCst);
    let a = probe.run().await;
    assert_failed(
        &a,
        "sonarr: health: DownloadClientCheck: Unable to communicate with SABnzbd",
    );

    let bad = |name: &str| (name == "SONARR_API_KEY").then(|| "wrong-key".to_owned());
    let a = Probe::compile_with(&s, &bad).expect("compiles").run().await;
    assert_failed(&a, "API key rejected (HTTP 401); check SONARR_API_KEY");
    assert!(!a.message.contains("wrong-key") && !a.evidence.contains("wrong-key"));

    let mut jf = spec("jellyfin", &server.url("/jellyfin/"), &[]);
    jf.service_api = Some(ServiceApi {
        app: "jellyfin".into(),
        api_key_env: None,
    });
    let a = run(&jf).await;
    assert_ok(&a);
    assert!(a.message.ends_with("jellyfin: Healthy"), "{}", a.message);
}

// ---------------------------------------------------------------- TLS

/// Days since 1970-01-01 to a civil (year, month, day), after Howard Hinnant.
fn civil(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

fn day(offset: i64) -> (i32, u8, u8) {
    let today = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
        / 86_400;
    civil(today + offset)
}

/// A self-signed certificate for `localhost` and 127.0.0.1, valid from
/// `from` to `until` days from today (midnight UTC).
fn certificate(
    from: i64,
    until: i64,
) -> (
    rustls_pki_types::CertificateDer<'static>,
    rustls_pki_types::PrivateKeyDer<'static>,
) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("params");
    let ((y0, m0, d0), (y1, m1, d1)) = (day(from), day(until));
    params.not_before = rcgen::date_time_ymd(y0, m0, d0);
    params.not_after = rcgen::date_time_ymd(y1, m1, d1);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "probe-test");
    let cert = params.self_signed(&key).expect("self-signed");
    (
        cert.der().clone(),
        rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
}

/// A TLS server answering every request with `200 ok` and closing.
async fn tls_server(valid_from: i64, valid_until: i64) -> SocketAddr {
    let (cert, key) = certificate(valid_from, valid_until);
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

fn insecure(mut s: ProbeSpec) -> ProbeSpec {
    s.client = Some(ClientOptions { insecure: true });
    s
}

#[tokio::test]
async fn tls_reports_certificate_expiry() {
    let long = tls_server(-1, 90).await;
    let soon = tls_server(-30, 2).await;
    let expired = tls_server(-30, -2).await;
    let cond = ["[CONNECTED] == true", "[CERTIFICATE_EXPIRATION] > 48h"];

    let a = run(&insecure(spec(
        "long",
        &format!("tls://127.0.0.1:{}", long.port()),
        &cond,
    )))
    .await;
    assert_ok(&a);
    assert!(
        a.message
            .contains("certificate of CN=probe-test expires in 89d"),
        "{}",
        a.message
    );
    assert!(
        a.evidence.contains("names: localhost, 127.0.0.1"),
        "{}",
        a.evidence
    );

    let a = run(&insecure(spec(
        "soon",
        &format!("tls://127.0.0.1:{}", soon.port()),
        &cond,
    )))
    .await;
    assert_failed(
        &a,
        "failed: [CERTIFICATE_EXPIRATION] > 48h ([CERTIFICATE_EXPIRATION] is 1d ",
    );

    let a = run(&insecure(spec(
        "expired",
        &format!("tls://localhost:{}", expired.port()),
        &["[CERTIFICATE_EXPIRATION] > 0"],
    )))
    .await;
    assert_failed(&a, "expired 2d");

    // Without `insecure` the untrusted certificate fails the handshake, and its
    // dates are still reported.
    let a = run(&spec(
        "untrusted",
        &format!("tls://localhost:{}", long.port()),
        &cond,
    ))
    .await;
    assert_failed(&a, "UnknownIssuer");
    assert!(
        a.message
            .contains("; certificate of CN=probe-test expires in 89d"),
        "{}",
        a.message
    );
    assert!(
        a.message
            .contains("failed: [CONNECTED] == true ([CONNECTED] is false)"),
        "{}",
        a.message
    );
    assert!(
        !a.message.contains("CERTIFICATE_EXPIRATION"),
        "{}",
        a.message
    );
    assert!(
        a.evidence.contains("subject: CN=probe-test"),
        "{}",
        a.evidence
    );

    // HTTPS reads the certificate too.
    let a = run(&insecure(spec(
        "https",
        &format!("https://localhost:{}/", soon.port()),
        &[
            "[STATUS] == 200",
            "[BODY] == ok",
            "[CERTIFICATE_EXPIRATION] > 48h",
        ],
    )))
    .await;
    assert_failed(
        &a,
        "[CERTIFICATE_EXPIRATION] > 48h ([CERTIFICATE_EXPIRATION] is 1d ",
    );
    assert!(!a.message.contains("[STATUS] == 200"), "{}", a.message);
    let a = run(&spec(
        "https-verified",
        &format!("https://localhost:{}/", long.port()),
        &[],
    ))
    .await;
    assert_failed(&a, "cannot connect");
}

#[tokio::test]
async fn tcp_connects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let a = run(&spec(
        "tcp",
        &format!("tcp://127.0.0.1:{port}"),
        &["[CONNECTED] == true", "[IP] == 127.0.0.1"],
    ))
    .await;
    assert_ok(&a);
    drop(listener);
    let a = run(&spec("tcp", &format!("tcp://127.0.0.1:{port}"), &[])).await;
    assert_failed(&a, "cannot connect to 127.0.0.1");
}

// ---------------------------------------------------------------- DNS

#[tokio::test]
async fn dns_against_dnsmasq() {
    let server = Dnsmasq::start(&[
        "--local=/test/",
        "--host-record=app.test,192.0.2.123,fd00::5",
        "--cname=www.app.test,app.test",
    ]);
    let query = |name: &str, qtype: &str, conditions: &[&str]| {
        let mut s = spec(&format!("dns-{name}-{qtype}"), &server.url(), conditions);
        s.dns = Some(DnsQuery {
            query_name: name.into(),
            query_type: qtype.into(),
        });
        s
    };
    let a = run(&query(
        "app.test",
        "A",
        &[
            "[DNS_RCODE] == NOERROR",
            "[BODY] == 192.0.2.123",
            "[IP] == 192.0.2.123",
        ],
    ))
    .await;
    assert_ok(&a);
    assert!(
        a.message.starts_with("NOERROR: app.test A -> 192.0.2.123"),
        "{}",
        a.message
    );

    let a = run(&query("app.test", "AAAA", &["[BODY] == fd00::5"])).await;
    assert_ok(&a);

    let a = run(&query("www.app.test", "CNAME", &["[BODY] == app.test"])).await;
    assert_ok(&a);

    let a = run(&query("app.test", "A", &["[BODY] == 198.51.100.9"])).await;
    assert_failed(&a, "[BODY] is 192.0.2.123");

    let a = run(&query("nothing.test", "A", &[])).await;
    assert_failed(
        &a,
        "failed: [DNS_RCODE] == NOERROR ([DNS_RCODE] is NXDOMAIN)",
    );

    // Nothing answers on a closed port: the probe times out.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let mut s = query("app.test", "A", &[]);
    s.url = format!("dns://127.0.0.1:{port}");
    s.timeout = Some(Duration::from_millis(500));
    let a = run(&s).await;
    assert!(!a.ok, "{}", a.message);
}

// ---------------------------------------------------------------- databases

#[tokio::test]
async fn postgres_select_one_and_stats() {
    let pg = PgServer::start();
    let a = run(&spec("pg", &pg.url(), &[])).await;
    assert_ok(&a);
    assert!(a.message.starts_with("PostgreSQL 1"), "{}", a.message);
    assert!(a.message.contains("; connections "), "{}", a.message);
    let a = run(&spec(
        "pg",
        &pg.url(),
        &["[BODY] == pat(1*)", "[RESPONSE_TIME] < 5s"],
    ))
    .await;
    assert_ok(&a);
    let missing = pg.url().replace("/claudeops?", "/no_such_db?");
    let a = run(&spec("pg-missing", &missing, &[])).await;
    assert_failed(&a, "no_such_db");
}

#[tokio::test]
async fn redis_ping_and_info() {
    let redis = RedisServer::start_with_password("redis-pw-42");
    let a = run(&spec(
        "redis",
        &redis.url(),
        &["[CONNECTED] == true", "[BODY] == pat(*role:master*)"],
    ))
    .await;
    assert_ok(&a);
    assert!(a.message.starts_with("PONG; Redis 7"), "{}", a.message);
    assert!(a.evidence.contains("connected_clients: "), "{}", a.evidence);

    let wrong = redis.url().replace("redis-pw-42", "not-the-pw");
    let a = run(&spec("redis-auth", &wrong, &[])).await;
    assert_failed(&a, "AUTH refused");
    assert!(!a.message.contains("not-the-pw"), "{}", a.message);

    let open = RedisServer::start();
    let a = run(&spec("redis-open", &open.url(), &[])).await;
    assert_ok(&a);
}

#[tokio::test]
async fn mariadb_select_one_and_stats() {
    let db = MariaDbServer::start();
    let url = db.url().replacen("mysql://", "mariadb://", 1);
    let a = run(&spec("mariadb", &url, &[])).await;
    assert_ok(&a);
    assert!(a.message.starts_with("MariaDB 10."), "{}", a.message);
    assert!(
        a.message.contains("connections ") && a.message.ends_with("/50"),
        "{}",
        a.message
    );
    let wrong = db.url().replace(MariaDbServer::PASSWORD, "nope-nope");
    let a = run(&spec("mariadb-auth", &wrong, &[])).await;
    assert_failed(&a, "Access denied");
    assert!(!a.message.contains("nope-nope"), "{}", a.message);
}

// ---------------------------------------------------------------- Docker

async fn wait_until(what: &str, timeout: Duration, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn docker_spec(c: &Container) -> ProbeSpec {
    spec(&c.name, &format!("docker://{}", c.name), &[])
}

#[tokio::test]
async fn docker_running_container_passes_and_is_listed() {
    let c = Container::run(
        "probe-ok",
        &["--label", "claudeops.test=probe", "-p", "127.0.0.1::8080"],
        &["sh", "-c", "echo started; exec sleep infinity"],
    );
    wait_until("the container to run", Duration::from_secs(30), || {
        c.inspect("{{.State.Status}}") == "running"
    })
    .await;
    let a = run(&docker_spec(&c)).await;
    assert_ok(&a);
    assert_eq!(
        a.message,
        format!("container {}: running, 0 restarts", c.name)
    );
    assert!(a.evidence.contains("logs:\nstarted"), "{}", a.evidence);

    let docker = Docker::from_env().expect("docker host");
    let list = docker.list_containers(false).await.expect("list");
    let mine = list.iter().find(|s| s.name == c.name).expect("listed");
    assert_eq!(mine.state, "running");
    assert_eq!(mine.image, claudeops_tests::docker::IMAGE);
    assert_eq!(
        mine.labels.get("claudeops.test").map(String::as_str),
        Some("probe")
    );
    assert!(
        mine.ports
            .iter()
            .any(|p| p.private == 8080 && p.public.is_some()),
        "{:?}",
        mine.ports
    );
    let details = docker.inspect(&c.name).await.expect("inspect");
    assert_eq!(details.id, mine.id);
    assert!(details.state.running);

    let a = run(&spec("gone", "docker://claudeops-no-such-container", &[])).await;
    assert_failed(&a, "container `claudeops-no-such-container` not found");
}

#[tokio::test]
async fn docker_exit_code_and_crash_loop_fail() {
    let exited = Container::run("probe-exit", &[], &["sh", "-c", "echo bye; exit 3"]);
    let looping = Container::run(
        "probe-loop",
        &["--restart=always"],
        &["sh", "-c", "echo boom; exit 3"],
    );
    wait_until("the container to exit", Duration::from_secs(30), || {
        exited.inspect("{{.State.Status}}") == "exited"
    })
    .await;
    let mut s = docker_spec(&exited);
    s.conditions = vec!["[RUNNING] == true".into()];
    let a = run(&s).await;
    assert_failed(&a, "exited, 0 restarts, exit code 3");
    s.conditions = vec!["[EXIT_CODE] == 3".into(), "[STATE] == exited".into()];
    assert_ok(&run(&s).await);

    wait_until("restarts", Duration::from_secs(60), || {
        looping.restart_count() >= 2
    })
    .await;
    let probe = compile(&docker_spec(&looping));
    // Caught between two restarts the container may look fine once; the evidence
    // shows what it printed either way.
    let a = probe.run().await;
    assert!(a.evidence.contains("boom"), "{}", a.evidence);
    assert!(a.evidence.contains("policy always"), "{}", a.evidence);
    // A restart count that keeps rising is a crash loop whatever the state shows.
    let before = looping.restart_count();
    wait_until("another restart", Duration::from_secs(60), || {
        looping.restart_count() > before
    })
    .await;
    let a = probe.run().await;
    assert_failed(&a, "crash-looping");
    assert!(
        a.message
            .contains("[CRASH_LOOP] == false ([CRASH_LOOP] is true)"),
        "{}",
        a.message
    );
}

#[tokio::test]
async fn docker_unhealthy_container_fails() {
    let c = Container::run(
        "probe-unhealthy",
        &[
            "--health-cmd",
            "false",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        &["sleep", "infinity"],
    );
    wait_until("unhealthy", Duration::from_secs(60), || {
        c.inspect("{{.State.Health.Status}}") == "unhealthy"
    })
    .await;
    let a = run(&docker_spec(&c)).await;
    assert_failed(&a, "running, unhealthy");
    assert!(
        a.message
            .contains("[HEALTH] != unhealthy ([HEALTH] is unhealthy)"),
        "{}",
        a.message
    );
}

#[tokio::test]
async fn docker_oom_kill_fails() {
    let c = Container::run(
        "probe-oom",
        &["--memory", "16m", "--memory-swap", "16m"],
        // The main process itself is the victim, so the Engine records the kill.
        &["tail", "/dev/zero"],
    );
    // The Engine sets OOMKilled from the kernel's event, which can land just after
    // the exit: wait for both before probing.
    wait_until("the oom kill", Duration::from_secs(60), || {
        c.inspect("{{.State.Status}} {{.State.OOMKilled}}") == "exited true"
    })
    .await;
    let a = run(&docker_spec(&c)).await;
    assert_failed(&a, "oom-killed");
    assert!(a.message.contains("exit code 137"), "{}", a.message);
    assert!(
        a.message
            .contains("[OOM_KILLED] == false ([OOM_KILLED] is true)"),
        "{}",
        a.message
    );
}

// ---------------------------------------------------------------- runner

#[tokio::test]
async fn prober_runs_due_probes_and_reports_transitions() {
    let server = http_server().await;
    let mut flip = spec("flip", &server.url("/flip"), &[]);
    flip.interval = Some(Duration::from_secs(10));
    let mut steady = spec("steady", &server.url("/ok"), &[]);
    steady.interval = Some(Duration::from_secs(60));
    let (mut prober, errors) = Prober::new(&[flip.clone(), steady.clone()]);
    assert!(errors.is_empty(), "{errors:?}");
    let t0 = tokio::time::Instant::now();

    let r = prober.run_due(t0).await;
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(
        r.transitions.len(),
        2,
        "first verdicts: {:?}",
        r.transitions
    );
    assert!(
        r.transitions
            .iter()
            .all(|t| t.from == Health::Unknown && t.to == Health::Up)
    );

    assert!(
        prober
            .run_due(t0 + Duration::from_secs(5))
            .await
            .attempts
            .is_empty()
    );

    server.web.up.store(false, Ordering::SeqCst);
    let mut downs = Vec::new();
    for cycle in 1..=3u64 {
        let r = prober.run_due(t0 + Duration::from_secs(10 * cycle)).await;
        let names: Vec<&str> = r.attempts.iter().map(|a| a.probe.as_str()).collect();
        assert_eq!(names, ["flip"], "only the due probe runs");
        downs.extend(r.transitions);
    }
    assert_eq!(downs.len(), 1, "{downs:?}");
    assert_eq!(
        (downs[0].from, downs[0].to, downs[0].failures),
        (Health::Up, Health::Down, 3)
    );
    assert!(
        downs[0].message.contains("HTTP 502"),
        "{}",
        downs[0].message
    );

    // A fix is verified at once; two successes bring it back.
    server.web.up.store(true, Ordering::SeqCst);
    let r = prober.run_now(&["flip"]).await;
    assert!(r.attempts[0].ok && r.transitions.is_empty());
    let r = prober.run_now(&["flip", "no-such-probe"]).await;
    assert_eq!(r.attempts.len(), 1);
    assert_eq!(r.transitions[0].to, Health::Up);

    // Rediscovery: `steady` is unchanged and keeps its state, `flip` changed.
    let mut changed = flip.clone();
    changed.conditions = vec!["[STATUS] == 200".into()];
    let mut broken = spec("broken", "tcp://nowhere", &[]);
    broken.service = "x".into();
    let errors = prober.replace(&[changed, steady.clone(), broken]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].probe, "broken");
    assert_eq!(prober.len(), 2);
    assert_eq!(prober.health("steady"), Some(Health::Up));
    assert_eq!(prober.health("flip"), Some(Health::Unknown));
    let r = prober.run_due(t0 + Duration::from_secs(45)).await;
    let names: Vec<&str> = r.attempts.iter().map(|a| a.probe.as_str()).collect();
    assert_eq!(names, ["flip"], "steady kept its schedule");
}

#[tokio::test]
async fn prober_caps_concurrency() {
    let server = http_server().await;
    let specs: Vec<ProbeSpec> = (0..12)
        .map(|i| spec(&format!("busy-{i}"), &server.url("/busy"), &[]))
        .collect();
    let (prober, errors) = Prober::new(&specs);
    assert!(errors.is_empty());
    let mut prober = prober.with_concurrency(3);
    let started = std::time::Instant::now();
    let r = prober.run_due(tokio::time::Instant::now()).await;
    assert_eq!(r.attempts.len(), 12);
    assert!(r.attempts.iter().all(|a| a.ok));
    assert_eq!(server.web.max_in_flight.load(Ordering::SeqCst), 3);
    // 12 attempts of 100 ms, 3 at a time: at least 4 rounds.
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}
