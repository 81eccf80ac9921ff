use std::time::Duration;

use super::*;
use crate::observation::ContainerFacts;

fn http(status: u16, body: &str) -> Observation {
    Observation {
        connected: true,
        status: Some(status),
        body: Some(body.to_owned()),
        response_time: Duration::from_millis(120),
        ..Observation::default()
    }
}

fn check(cond: &str, obs: &Observation) -> bool {
    let c = Condition::parse(cond).unwrap_or_else(|e| panic!("{cond}: {e}"));
    c.evaluate(obs).is_ok()
}

#[test]
fn evaluates_gatus_conditions() {
    let body =
        r#"{"status":"UP","data":[{"id":1,"name":"a"},{"id":7}],"up":true,"n":3.5,"tags":["x"]}"#;
    let obs = http(200, body);
    let cases = [
        ("[STATUS] == 200", true),
        ("[STATUS] != 200", false),
        ("[STATUS] < 300", true),
        ("[STATUS] >= 400", false),
        ("200 == [STATUS]", true),
        ("[STATUS] == any(200, 204)", true),
        ("[STATUS] == any(500, 503)", false),
        ("[RESPONSE_TIME] < 500", true),
        ("[RESPONSE_TIME] < 100", false),
        ("[RESPONSE_TIME] < 1s", true),
        ("[BODY].status == UP", true),
        ("[BODY].status == DOWN", false),
        ("[BODY].data[1].id == 7", true),
        ("[BODY].data[1].id > 6", true),
        ("[BODY].data[0].name == a", true),
        ("[BODY].data.[0].name == a", true),
        ("[BODY].up == true", true),
        ("[BODY].n >= 3.5", true),
        ("len([BODY].data) == 2", true),
        ("len([BODY].data) < 2", false),
        ("len([BODY].tags[0]) == 1", true),
        ("has([BODY].status) == true", true),
        ("has([BODY].errors) == false", true),
        ("has([BODY].errors) == true", false),
        ("[BODY] == pat(*\"UP\"*)", true),
        ("[BODY] == pat(*DOWN*)", false),
        ("[BODY] != pat(*DOWN*)", true),
        ("[BODY].status == pat(U*)", true),
        ("[BODY].missing == 1", false),
        ("[CONNECTED] == true", true),
        ("len([BODY]) == 5", true),
    ];
    for (cond, want) in cases {
        assert_eq!(check(cond, &obs), want, "{cond}");
    }
}

#[test]
fn compares_certificate_expiration_with_durations() {
    let mut obs = http(200, "");
    obs.certificate_expiration_ms = Some(24.0 * 3600.0 * 1000.0);
    assert!(!check("[CERTIFICATE_EXPIRATION] > 48h", &obs));
    assert!(check("[CERTIFICATE_EXPIRATION] > 12h", &obs));
    assert!(check("[CERTIFICATE_EXPIRATION] > 3600000", &obs));
    obs.certificate_expiration_ms = None;
    assert!(!check("[CERTIFICATE_EXPIRATION] > 1h", &obs));
}

#[test]
fn evaluates_dns_and_container_placeholders() {
    let obs = Observation {
        connected: true,
        dns_rcode: Some("NXDOMAIN".into()),
        ip: Some("10.1.2.3".into()),
        container: Some(ContainerFacts {
            running: false,
            state: "exited".into(),
            health: "none".into(),
            restart_count: 4,
            oom_killed: true,
            exit_code: 137,
            crash_loop: false,
        }),
        ..Observation::default()
    };
    for (cond, want) in [
        ("[DNS_RCODE] == NXDOMAIN", true),
        ("[DNS_RCODE] == NOERROR", false),
        ("[IP] == 10.1.2.3", true),
        ("[IP] == pat(10.*)", true),
        ("[RUNNING] == true", false),
        ("[STATE] == exited", true),
        ("[HEALTH] != unhealthy", true),
        ("[RESTART_COUNT] < 3", false),
        ("[OOM_KILLED] == false", false),
        ("[EXIT_CODE] == 137", true),
        ("[CRASH_LOOP] == false", true),
        ("[STATUS] == 200", false),
    ] {
        assert_eq!(check(cond, &obs), want, "{cond}");
    }
}

#[test]
fn explains_a_miss() {
    let c = Condition::parse("[STATUS] < 400").expect("parses");
    assert_eq!(
        c.evaluate(&http(503, "")),
        Err("[STATUS] is 503".to_owned())
    );
    let mut down = Observation {
        error: Some("connection refused".into()),
        ..Observation::default()
    };
    down.connected = false;
    assert_eq!(c.evaluate(&down), Err("[STATUS] has no value".to_owned()));
    let c = Condition::parse("[BODY].a.b == 1").expect("parses");
    assert_eq!(
        c.evaluate(&http(200, r#"{"a":{}}"#)),
        Err("[BODY].a.b is not in the body".to_owned())
    );
    assert_eq!(
        c.evaluate(&http(200, "<html>")),
        Err("[BODY] is not JSON".to_owned())
    );
}

#[test]
fn rejects_malformed_conditions() {
    let cases = [
        ("", "empty"),
        ("[STATUS] 200", "no operator"),
        ("[STATUS] ==", "right-hand side is empty"),
        ("[STAUTS] == 200", "unknown placeholder `[STAUTS]`"),
        ("[STATUS == 200", "closing `]`"),
        ("len([BODY] == 2", "closing parenthesis"),
        ("[STATUS].a == 1", "only [BODY] takes a JSON path"),
        ("[BODY].a[x] == 1", "array index"),
        ("[BODY]..a == 1", "empty key"),
        ("[STATUS] < pat(2*)", "== and != only"),
        ("[STATUS] === 200", "`===` is not an operator"),
        ("[STATUS] <> 200", "`<>` is not an operator"),
        ("[STATUS] => 200", "`=>` is not an operator"),
        ("[STATUS] !== 200", "`!==` is not an operator"),
        ("len(3) == 1", "takes a placeholder"),
        ("[BODY]x == 1", "unexpected `x`"),
    ];
    for (cond, want) in cases {
        match Condition::parse(cond) {
            Ok(c) => panic!("{cond:?} parsed as {c:?}"),
            Err(e) => assert!(e.to_string().contains(want), "{cond:?}: {e}"),
        }
    }
}

#[test]
fn ordering_non_numbers_is_an_error() {
    let c = Condition::parse("[BODY] > 3").expect("parses");
    let e = c.evaluate(&http(200, "abc")).expect_err("cannot order");
    assert!(e.contains("both must be numbers"), "{e}");
}

#[test]
fn matches_wildcards() {
    for (p, t, want) in [
        ("*", "", true),
        ("a*", "abc", true),
        ("*c", "abc", true),
        ("a*c", "abc", true),
        ("a*c", "ab", false),
        ("*b*", "abc", true),
        ("*x*", "abc", false),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "acb", false),
        ("ab", "ab", true),
        ("aa*aa", "aaa", false),
    ] {
        assert_eq!(wildcard(p, t), want, "{p} ~ {t}");
    }
}

proptest::proptest! {
    #[test]
    fn parsing_never_panics(text in "\\PC{0,40}") {
        let _ = Condition::parse(&text);
    }

    #[test]
    fn parsed_conditions_evaluate_without_panicking(
        left in "(\\[(STATUS|BODY|IP)\\](\\.[a-z]{1,3}|\\[[0-9]\\])?|len\\(\\[BODY\\]\\.a\\))",
        op in "(==|!=|<|<=|>|>=)",
        right in "[a-z0-9*]{0,6}",
        body in "\\PC{0,30}",
    ) {
        let text = format!("{left} {op} {right}");
        if let Ok(c) = Condition::parse(&text) {
            let _ = c.evaluate(&http(200, &body));
        }
    }

    #[test]
    fn a_starred_pattern_finds_any_substring(
        prefix in "[a-z]{0,5}", needle in "[a-z]{0,5}", suffix in "[a-z]{0,5}",
    ) {
        let text = format!("{prefix}{needle}{suffix}");
        let pattern = format!("*{needle}*");
        proptest::prop_assert!(wildcard(&pattern, &text));
        proptest::prop_assert!(wildcard(&text, &text));
    }
}
