//! The body of an exec create (`POST /containers/{id}/exec`), checked and
//! rewritten before it is judged and forwarded.
//!
//! Why rewrite it: the Engine decodes JSON the Go way, matching field names
//! without regard to case and keeping the last of repeated keys, so
//! `{"Cmd":["echo"],"cmd":["sh"]}` or `{"env":[...]}` would run something
//! other than what a reader of the raw body sees. The filter therefore
//! forwards a body it wrote itself from the fields it understood, and the
//! Engine runs exactly the argv that was judged.
//!
//! What it must not do: let through environment variables (`BASH_ENV`,
//! `LD_PRELOAD` run code of the caller's choosing), another user, privileges,
//! a working directory, or any field it does not know.

use serde_json::{Map, Value};

use crate::route::REFUSED_BY;

/// An exec create that may be judged: its argv and the body to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedExec {
    /// The command the exec runs (`Cmd`), never empty.
    pub argv: Vec<String>,
    /// The JSON body to send to the Engine instead of the client's.
    pub body: Vec<u8>,
}

/// Fields copied as they are when they are booleans.
const FLAGS: [&str; 5] = [
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "Tty",
    "Detach",
];

/// Fields refused unless empty, with what to call them in the message.
const REFUSED: [(&str, &str); 5] = [
    ("Env", "environment variables (-e)"),
    ("User", "another user (-u)"),
    ("Privileged", "privileges (--privileged)"),
    ("WorkingDir", "a working directory (-w)"),
    ("DetachKeys", "detach keys (--detach-keys)"),
];

fn refused(why: &str) -> String {
    format!("{REFUSED_BY}: {why}")
}

/// Whether a refused field carries anything (`false`, `""`, `[]` and `null`
/// are what clients send when the option is not used).
fn is_set(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Number(_) | Value::Object(_) => true,
    }
}

/// Checks an exec create body and writes the one to forward.
pub fn check_exec(body: &[u8]) -> Result<CheckedExec, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| refused(&format!("the exec request is not JSON ({e})")))?;
    let Value::Object(fields) = value else {
        return Err(refused("the exec request is not a JSON object"));
    };
    let mut out = Map::new();
    let mut argv = None;
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in &fields {
        let lower = key.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(refused(&format!(
                "the exec request names the field {key} twice"
            )));
        }
        seen.push(lower);
        if let Some(flag) = FLAGS.iter().find(|f| f.eq_ignore_ascii_case(key)) {
            match value {
                Value::Bool(b) => {
                    out.insert((*flag).to_owned(), Value::Bool(*b));
                }
                Value::Null => {}
                _ => return Err(refused(&format!("the exec field {key} is not a boolean"))),
            }
        } else if let Some((_, what)) = REFUSED.iter().find(|(f, _)| f.eq_ignore_ascii_case(key)) {
            if is_set(value) {
                return Err(refused(&format!(
                    "an exec with {what} is not allowed; run the command as it is"
                )));
            }
        } else if key.eq_ignore_ascii_case("ConsoleSize") {
            match value {
                Value::Null => {}
                Value::Array(size) if size.len() == 2 && size.iter().all(Value::is_u64) => {
                    out.insert("ConsoleSize".to_owned(), value.clone());
                }
                _ => return Err(refused("the exec field ConsoleSize is not [height, width]")),
            }
        } else if key.eq_ignore_ascii_case("Cmd") {
            let words: Option<Vec<String>> = value
                .as_array()
                .and_then(|a| a.iter().map(|w| w.as_str().map(str::to_owned)).collect());
            argv = words;
        } else if key.eq_ignore_ascii_case("Container") {
            // docker-py repeats the container's name here; the Engine ignores it.
        } else {
            return Err(refused(&format!(
                "the exec request has a field this filter does not know: {key}"
            )));
        }
    }
    let argv = match argv {
        Some(argv) if !argv.is_empty() => argv,
        _ => return Err(refused("the exec request has no command (Cmd)")),
    };
    out.insert(
        "Cmd".to_owned(),
        Value::Array(argv.iter().cloned().map(Value::String).collect()),
    );
    let body = serde_json::to_vec(&Value::Object(out))
        .map_err(|e| refused(&format!("the exec request cannot be written again ({e})")))?;
    Ok(CheckedExec { argv, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn what_the_docker_cli_and_docker_py_send_is_accepted_and_rewritten() {
        let cli = br#"{"User":"","Privileged":false,"Tty":false,"ConsoleSize":[24,80],"AttachStdin":true,"AttachStderr":true,"AttachStdout":true,"Detach":false,"DetachKeys":"","Env":null,"WorkingDir":"","Cmd":["echo","hi"]}"#;
        let checked = check_exec(cli).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(checked.argv, argv(&["echo", "hi"]));
        let forwarded: Value =
            serde_json::from_slice(&checked.body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            forwarded,
            serde_json::json!({
                "Tty": false, "ConsoleSize": [24, 80], "AttachStdin": true,
                "AttachStderr": true, "AttachStdout": true, "Detach": false,
                "Cmd": ["echo", "hi"],
            })
        );
        let py = br#"{"Container":"web","User":"","Privileged":false,"Tty":false,"AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Cmd":["sh","-c","echo hi"],"Env":[]}"#;
        let checked = check_exec(py).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(checked.argv, argv(&["sh", "-c", "echo hi"]));
        assert!(!String::from_utf8_lossy(&checked.body).contains("Container"));
    }

    #[test]
    fn options_that_change_what_runs_are_refused() {
        for body in [
            &br#"{"Cmd":["sh"],"Env":["BASH_ENV=/dev/stdin"]}"#[..],
            br#"{"Cmd":["sh"],"env":["LD_PRELOAD=/tmp/x.so"]}"#,
            br#"{"Cmd":["sh"],"ENV":["X=1"]}"#,
            br#"{"Cmd":["sh"],"User":"0"}"#,
            br#"{"Cmd":["sh"],"user":"root"}"#,
            br#"{"Cmd":["sh"],"Privileged":true}"#,
            br#"{"Cmd":["sh"],"privileged":1}"#,
            br#"{"Cmd":["sh"],"WorkingDir":"/tmp"}"#,
            br#"{"Cmd":["sh"],"DetachKeys":"ctrl-x"}"#,
        ] {
            let why = check_exec(body).err().unwrap_or_else(|| {
                panic!("accepted {}", String::from_utf8_lossy(body));
            });
            assert!(why.starts_with(REFUSED_BY), "{why}");
        }
    }

    #[test]
    fn bodies_the_engine_would_read_differently_are_refused() {
        for body in [
            // Go keeps the last of two keys that match the same field.
            &br#"{"Cmd":["echo"],"cmd":["sh","-c","reboot"]}"#[..],
            br#"{"Cmd":["echo"],"CMD":["sh"]}"#,
            br#"{"Tty":false,"tty":true,"Cmd":["echo"]}"#,
            // Go folds some non-ASCII letters to ASCII ones ("ſ" to "s").
            "{\"Cmd\":[\"echo\"],\"Uſer\":\"0\"}".as_bytes(),
            br#"{"Cmd":["echo"],"Entrypoint":["sh"]}"#,
            br#"{"Cmd":["echo"],"AttachStdin":"yes"}"#,
            br#"{"Cmd":["echo"],"ConsoleSize":[1,2,3]}"#,
            br#"{"Cmd":[]}"#,
            br#"{"Cmd":"echo hi"}"#,
            br#"{"Cmd":["sh",1]}"#,
            br#"{"Env":[]}"#,
            br#"[1]"#,
            b"not json",
        ] {
            assert!(
                check_exec(body).is_err(),
                "accepted {}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_lower_case_cmd_is_forwarded_under_its_own_name() {
        let checked = check_exec(br#"{"cmd":["echo","x"]}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(checked.argv, argv(&["echo", "x"]));
        assert_eq!(checked.body, br#"{"Cmd":["echo","x"]}"#.to_vec());
    }
}
