//! Conformance with Gatus's condition language, as a table: each row is a
//! condition, what the attempt saw, and the result Gatus gives (or the load
//! error for what Gatus rejects). The rows follow Gatus's own semantics
//! (`config/endpoint/condition.go` for operators and number parsing,
//! `placeholder.go` for placeholders, `len()` and `has()`); where this crate
//! deliberately differs, the row says so and `docs/probes.md` explains why.

use std::time::Duration;

use super::*;

/// What an attempt saw, for a row.
#[derive(Clone, Copy)]
enum Seen {
    Http(u16, &'static str),
    NoBody,
    Dns(&'static str),
}

fn observe(seen: Seen) -> Observation {
    match seen {
        Seen::Http(status, body) => Observation {
            connected: true,
            status: Some(status),
            body: Some(body.to_owned()),
            response_time: Duration::from_millis(150),
            ..Observation::default()
        },
        Seen::NoBody => Observation {
            connected: true,
            status: Some(204),
            body: Some(String::new()),
            ..Observation::default()
        },
        Seen::Dns(rcode) => Observation {
            connected: true,
            dns_rcode: Some(rcode.to_owned()),
            ..Observation::default()
        },
    }
}

/// The expected outcome of a row.
enum Want {
    Holds,
    Fails,
    /// Refused when the probe loads, with these words in the error.
    Rejected(&'static str),
}

use Seen::*;
use Want::*;

const ARRAY: &str = r#"[{"id":1},{"id":2},{"id":3}]"#;
const OBJECT: &str =
    r#"{"status":"UP","items":[1,2],"meta":{"a":1,"b":2,"c":3},"name":"nas","n":0}"#;

/// (condition, what the attempt saw, what Gatus says)
const ROWS: &[(&str, Seen, Want)] = &[
    // Operators: the six of condition.go, and nothing else.
    ("[STATUS] == 200", Http(200, ""), Holds),
    ("[STATUS] != 200", Http(200, ""), Fails),
    ("[STATUS] < 300", Http(200, ""), Holds),
    ("[STATUS] <= 200", Http(200, ""), Holds),
    ("[STATUS] > 200", Http(200, ""), Fails),
    ("[STATUS] >= 200", Http(200, ""), Holds),
    (
        "[STATUS] === 200",
        Http(200, ""),
        Rejected("`===` is not an operator"),
    ),
    (
        "[STATUS] <> 200",
        Http(200, ""),
        Rejected("`<>` is not an operator"),
    ),
    (
        "[STATUS] =< 200",
        Http(200, ""),
        Rejected("`=<` is not an operator"),
    ),
    ("[STATUS] = 200", Http(200, ""), Rejected("no operator")),
    // Numbers: strconv.ParseInt with base 0, so 0x, 0o and 0b literals (with _).
    ("[STATUS] == 0xC8", Http(200, ""), Holds),
    ("[STATUS] == 0Xc8", Http(200, ""), Holds),
    ("[STATUS] == 0o310", Http(200, ""), Holds),
    ("[STATUS] == 0b11001000", Http(200, ""), Holds),
    ("[STATUS] < 0x12C", Http(200, ""), Holds),
    ("[STATUS] > 0b1_0000_0000", Http(200, ""), Fails),
    ("[BODY].n == 0x0", Http(200, OBJECT), Holds),
    ("[STATUS] == 0xZZ", Http(200, ""), Fails),
    // Constant conditions: evaluated as written.
    ("1 == 1", Http(200, ""), Holds),
    ("1 == 2", Http(200, ""), Fails),
    ("0x10 == 16", Http(200, ""), Holds),
    ("UP != DOWN", Http(200, ""), Holds),
    // Placeholders: read whatever their case.
    ("[status] == 200", Http(200, ""), Holds),
    ("[Body] == ok", Http(200, "ok"), Holds),
    ("[dns_rcode] == NOERROR", Dns("NOERROR"), Holds),
    // The body is compared without surrounding whitespace.
    ("[BODY] == OK", Http(200, "OK\n"), Holds),
    ("[BODY] == OK", Http(200, "  OK \r\n"), Holds),
    ("[BODY] == pat(OK)", Http(200, "OK\n"), Holds),
    ("[BODY] == pat(*UP*)", Http(200, OBJECT), Holds),
    ("[BODY] == pat(*DOWN*)", Http(200, OBJECT), Fails),
    // has(): an empty (or blank) body has nothing; a JSON path exists or not.
    ("has([BODY]) == false", NoBody, Holds),
    ("has([BODY]) == false", Http(200, " \n"), Holds),
    ("has([BODY]) == true", Http(200, "x"), Holds),
    ("has([BODY].status) == true", Http(200, OBJECT), Holds),
    ("has([BODY].missing) == false", Http(200, OBJECT), Holds),
    ("has([BODY].items[1]) == true", Http(200, OBJECT), Holds),
    ("has([BODY].items[2]) == true", Http(200, OBJECT), Fails),
    // len(): items of a JSON array or object body, else characters.
    ("len([BODY]) == 3", Http(200, ARRAY), Holds),
    ("len([BODY]) == 5", Http(200, OBJECT), Holds),
    ("len([BODY]) == 5", Http(200, "hello\n"), Holds),
    ("len([BODY].items) == 2", Http(200, OBJECT), Holds),
    ("len([BODY].meta) == 3", Http(200, OBJECT), Holds),
    ("len([BODY].name) == 3", Http(200, OBJECT), Holds),
    ("len([BODY].items) < 0x3", Http(200, OBJECT), Holds),
    // JSON paths.
    ("[BODY].status == UP", Http(200, OBJECT), Holds),
    ("[BODY][1].id == 2", Http(200, ARRAY), Holds),
    ("[BODY].meta.b > 1", Http(200, OBJECT), Holds),
    // any().
    ("[STATUS] == any(200, 204)", Http(204, ""), Holds),
    ("[STATUS] == any(500, 503)", Http(204, ""), Fails),
    // Durations on the other side of a millisecond value.
    ("[RESPONSE_TIME] < 1s", Http(200, ""), Holds),
    ("[RESPONSE_TIME] > 100ms", Http(200, ""), Holds),
    // Deliberate differences: Gatus turns an unreadable side of an ordering
    // into 0 and an unknown placeholder into text; here both are errors.
    ("[BODY].status > 5", Http(200, OBJECT), Fails),
    (
        "[STAUTS] == 200",
        Http(200, ""),
        Rejected("unknown placeholder"),
    ),
];

#[test]
fn conforms_to_gatus() {
    assert!(ROWS.len() >= 40);
    let mut wrong = Vec::new();
    for (text, seen, want) in ROWS {
        let parsed = Condition::parse(text);
        match (want, parsed) {
            (Rejected(words), Err(e)) if e.to_string().contains(words) => {}
            (Rejected(words), other) => {
                wrong.push(format!(
                    "{text}: want a load error with {words:?}, got {other:?}"
                ));
            }
            (_, Err(e)) => wrong.push(format!("{text}: refused at load: {e}")),
            (want, Ok(c)) => {
                let holds = c.evaluate(&observe(*seen)).is_ok();
                if holds != matches!(want, Holds) {
                    wrong.push(format!("{text}: holds = {holds}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn integers_read_as_go_reads_them_with_base_zero() {
    let cases = [
        ("200", Some(200.0)),
        ("-7", Some(-7.0)),
        ("+7", Some(7.0)),
        ("0x1F", Some(31.0)),
        ("0o17", Some(15.0)),
        ("0b101", Some(5.0)),
        ("1_000", Some(1000.0)),
        ("0x_1F", Some(31.0)),
        ("0x__1F", None),
        ("1__0", None),
        ("_1", None),
        ("0x", None),
        ("0b102", None),
        ("1.5", None),
        ("", None),
    ];
    for (text, want) in cases {
        assert_eq!(integer(text), want, "{text:?}");
    }
}
