use std::collections::BTreeMap;

use super::*;
use crate::spec::{ClientOptions, DnsQuery, ServiceApi};

fn spec(name: &str, url: &str) -> ProbeSpec {
    ProbeSpec {
        name: name.into(),
        url: url.into(),
        ..ProbeSpec::default()
    }
}

fn env(name: &str) -> Option<String> {
    match name {
        "API_TOKEN" => Some("tok-123456".into()),
        "DB_PASSWORD" => Some("hunter22".into()),
        "HOST" => Some("app.lan".into()),
        _ => None,
    }
}

fn compile(s: &ProbeSpec) -> Result<Probe, SpecError> {
    Probe::compile_with(s, &env)
}

fn error_of(s: &ProbeSpec) -> SpecError {
    match compile(s) {
        Ok(p) => panic!("{} compiled: {:?}", s.name, p.kind()),
        Err(e) => e,
    }
}

#[test]
fn picks_the_kind_from_the_scheme() {
    let mut dns = spec("d", "dns://127.0.0.1:5353");
    dns.dns = Some(DnsQuery {
        query_name: "app.test".into(),
        query_type: "A".into(),
    });
    let cases = [
        (spec("h", "http://127.0.0.1:8080/health"), ProbeKind::Http),
        (spec("hs", "https://${HOST}/"), ProbeKind::Http),
        (spec("t", "tcp://db.lan:5432"), ProbeKind::Tcp),
        (spec("s", "tls://example.org:443"), ProbeKind::Tls),
        (dns, ProbeKind::Dns),
        (spec("c", "docker://web_1"), ProbeKind::Docker),
        (
            spec("p", "postgres://u:${DB_PASSWORD}@db/app"),
            ProbeKind::Postgres,
        ),
        (spec("m", "mysql://root@127.0.0.1:3306/x"), ProbeKind::Mysql),
        (spec("mdb", "mariadb://root@127.0.0.1/x"), ProbeKind::Mysql),
        (spec("r", "redis://127.0.0.1:6379/0"), ProbeKind::Redis),
    ];
    for (s, kind) in cases {
        let p = compile(&s).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        assert_eq!(p.kind(), kind, "{}", s.name);
        let defaults: Vec<&str> = p.conditions().collect();
        assert_eq!(defaults, kind.default_conditions(), "{}", s.name);
    }
}

#[test]
fn reports_what_is_wrong_and_where() {
    let mut with_dns = spec("x", "http://h/");
    with_dns.dns = Some(DnsQuery {
        query_name: "a".into(),
        query_type: "A".into(),
    });
    let mut bad_condition = spec("x", "http://h/");
    bad_condition.conditions = vec!["[STATUS] == 200".into(), "[STATUS] =! 2".into()];
    let mut wrong_placeholder = spec("x", "tcp://h:1");
    wrong_placeholder.conditions = vec!["[STATUS] == 200".into()];
    let mut cert_on_http = spec("x", "http://h/");
    cert_on_http.conditions = vec!["[CERTIFICATE_EXPIRATION] > 48h".into()];
    let mut method = spec("x", "http://h/");
    method.method = Some("GE T".into());
    let mut header = spec("x", "http://h/");
    header.headers = BTreeMap::from([("Authorization".into(), "Bearer ${NOPE}".into())]);
    let mut dns_type = spec("x", "dns://192.0.2.1");
    dns_type.dns = Some(DnsQuery {
        query_name: "a.lan".into(),
        query_type: "MX".into(),
    });
    let mut app = spec("x", "http://h/");
    app.service_api = Some(ServiceApi {
        app: "sonar".into(),
        api_key_env: None,
    });
    let mut keyless = spec("x", "http://h/");
    keyless.service_api = Some(ServiceApi {
        app: "sonarr".into(),
        api_key_env: None,
    });
    let mut zero = spec("x", "http://h/");
    zero.failure_threshold = Some(0);
    let mut insecure_tcp = spec("x", "tcp://h:1");
    insecure_tcp.client = Some(ClientOptions { insecure: true });
    let cases = [
        (spec("", "http://h/"), "name", "is empty"),
        (spec("x", ""), "url", "is empty"),
        (spec("x", "h:80"), "url", "has no scheme"),
        (
            spec("x", "icmp://h"),
            "url",
            "scheme `icmp` is not a probe kind",
        ),
        (spec("x", "tcp://h"), "url", "names no port"),
        (
            spec("x", "http://${MISSING}/"),
            "url",
            "`MISSING` is not set",
        ),
        (spec("x", "http://${MISSING/"), "url", "no closing"),
        (spec("x", "http://${1X}/"), "url", "not a variable name"),
        (spec("x", "dns://192.0.2.1"), "dns", "is missing"),
        (spec("x", "dns://ns.lan"), "url", "not an IP address"),
        (spec("x", "docker://a/b"), "url", "not a container name"),
        (spec("x", "rediss://h"), "url", "not supported"),
        (spec("x", "redis://h/x"), "url", "not a database number"),
        (with_dns, "dns", "dns:// probes only"),
        (bad_condition, "conditions[1]", "no operator"),
        (
            wrong_placeholder,
            "conditions[0]",
            "a tcp probe has no [STATUS]",
        ),
        (cert_on_http, "conditions[0]", "no [CERTIFICATE_EXPIRATION]"),
        (method, "method", "not an HTTP method"),
        (header, "headers.Authorization", "`NOPE` is not set"),
        (dns_type, "dns.query-type", "use A, AAAA or CNAME"),
        (app, "service-api.app", "not a known app"),
        (keyless, "service-api.api-key-env", "needs an API key"),
        (zero, "failure-threshold", "at least 1"),
        (insecure_tcp, "client", "HTTP and tls://"),
    ];
    for (s, field, problem) in cases {
        let e = error_of(&s);
        assert_eq!(e.field, field, "{}: {e}", s.url);
        assert!(e.problem.contains(problem), "{}: {e}", s.url);
        assert!(e.to_string().starts_with(&format!("probe `{}`", s.name)));
    }
}

#[test]
fn keeps_secrets_out_of_errors() {
    let mut s = spec("x", "http://h/");
    s.headers = BTreeMap::from([("X-Token".into(), "${API_TOKEN}\n".into())]);
    let e = error_of(&s);
    assert!(!e.to_string().contains("tok-123456"), "{e}");
    // A parser that quotes its input has the secret scrubbed.
    let e = error_of(&spec("x", "postgres://u@db/app?sslmode=${DB_PASSWORD}"));
    assert_eq!(e.field, "url");
    assert!(!e.problem.contains("hunter22"), "{e}");
    assert!(e.problem.contains("***"), "{e}");
}

#[tokio::test]
async fn scrubs_secrets_from_attempts() {
    // Nothing listens on port 1: the attempt fails and names the url's host only.
    let s = spec("x", "postgres://u:${DB_PASSWORD}@127.0.0.1:1/app");
    let p = compile(&s).expect("compiles");
    let a = p.run().await;
    assert!(!a.ok);
    assert!(!a.message.contains("hunter22"), "{}", a.message);
    assert!(a.message.contains("127.0.0.1:1"), "{}", a.message);
    let text = crate::attempt::redact("pw hunter22 and tok-123456", &p.secrets);
    assert_eq!(text, "pw *** and tok-123456");
}

#[test]
fn same_spec_is_the_same_probe() {
    let a = compile(&spec("x", "http://h/")).expect("compiles");
    let mut moved = spec("x", "http://h/");
    moved.source = crate::spec::Source::File {
        path: "p.yaml".into(),
        line: 9,
    };
    let b = compile(&moved).expect("compiles");
    assert!(a.same_as(&b));
    let c = compile(&spec("x", "http://h/other")).expect("compiles");
    assert!(!a.same_as(&c));
    let other_env = Probe::compile_with(&spec("x", "http://${HOST}/"), &|_| Some("b.lan".into()))
        .expect("compiles");
    let this_env = compile(&spec("x", "http://${HOST}/")).expect("compiles");
    assert!(
        !this_env.same_as(&other_env),
        "a changed variable is a changed probe"
    );
}

#[test]
fn service_defaults_to_the_name() {
    let p = compile(&spec("web", "http://h/")).expect("compiles");
    assert_eq!(p.service(), "web");
    let mut s = spec("web-health", "http://h/");
    s.service = "web".into();
    assert_eq!(compile(&s).expect("compiles").service(), "web");
}

#[test]
fn deserialises_gatus_style_yaml_fields() {
    let json = serde_json::json!({
        "name": "nas",
        "url": "https://nas.lan:5001/",
        "client": {"insecure": true},
        "conditions": ["[STATUS] == 200", "[CERTIFICATE_EXPIRATION] > 48h"],
        "interval": "1m",
        "failure-threshold": 5
    });
    let s: ProbeSpec = serde_json::from_value(json).expect("parses");
    assert_eq!(s.client, Some(ClientOptions { insecure: true }));
    let p = compile(&s).expect("compiles");
    assert_eq!(p.interval(), std::time::Duration::from_secs(60));
}
