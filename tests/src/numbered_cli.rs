//! A stand-in for the `claude` CLI that prints numbered lines at a steady pace.
//!
//! Why not the real CLI: a completeness check under faults needs many lines
//! (hundreds) arriving at a known pace for long enough to inject a fault in
//! the middle, and each line must say which it is, so that a test can check
//! that exactly lines 1..N were stored, once each and in order. The real CLI
//! talking to the scripted model gives a handful of lines at an uncertain
//! pace. Tests of how processes behave (stop, timeouts, the sandbox, worker
//! death) keep the real CLI or their own small scripts; this one is for the
//! output path only.
//!
//! The worker runs it in place of `claude` (`CLAUDEOPS_CLAUDE_BIN`), inside
//! the session sandbox like the real CLI, so it is a bash script needing
//! nothing but `/bin/bash` and `sleep`. The CLI's environment is an allow-list
//! and its arguments are the worker's flags, so the line count and the pace
//! are written into the script. It prints the stream-json the worker expects:
//! a `system` init line, one `assistant` line per number, a `result` line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

/// What each numbered line's text starts with; the number follows.
const MARK: &str = "numbered line ";

/// The script in a temporary directory, removed on drop.
#[derive(Debug)]
pub struct NumberedCli {
    _dir: TempDir,
    path: PathBuf,
    lines: u32,
}

impl NumberedCli {
    /// Writes a CLI printing `lines` numbered lines, one every `pace`.
    pub fn write(lines: u32, pace: Duration) -> NumberedCli {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let path = dir.path().join("claude");
        std::fs::write(&path, script(lines, pace))
            .unwrap_or_else(|e| panic!("writing {path:?}: {e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {path:?}: {e}"));
        NumberedCli {
            _dir: dir,
            path,
            lines,
        }
    }

    /// The program to give the worker as `CLAUDEOPS_CLAUDE_BIN`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many numbered lines one run prints.
    pub fn lines(&self) -> u32 {
        self.lines
    }
}

fn script(lines: u32, pace: Duration) -> String {
    let pace = format!("{}.{:03}", pace.as_secs(), pace.subsec_millis());
    format!(
        r#"#!/bin/bash
# Stand-in for the claude CLI: {lines} numbered lines, one every {pace} s.
echo '{{"type":"system","subtype":"init","tools":[],"mcp_servers":[]}}'
for ((i = 1; i <= {lines}; i++)); do
  printf '{{"type":"assistant","message":{{"role":"assistant","content":[{{"type":"text","text":"{MARK}%d of {lines}"}}]}}}}\n' "$i"
  sleep {pace}
done
echo '{{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0,"duration_ms":1,"result":"printed {lines} lines"}}'
"#
    )
}

/// The numbers of the stand-in's lines found in `text` (raw lines, or a page
/// showing them), in the order they appear.
pub fn numbers_in(text: &str) -> Vec<u32> {
    text.match_indices(MARK)
        .filter_map(|(at, _)| {
            let rest = &text[at + MARK.len()..];
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..end].parse().ok()
        })
        .collect()
}

/// `Ok` when `numbers` is exactly 1..=`lines`; otherwise says what is wrong
/// first: a line repeated, missing or out of order, or lines past the last.
pub fn check_complete(numbers: &[u32], lines: u32) -> Result<(), String> {
    let printed = lines as usize;
    let first_wrong = numbers
        .iter()
        .zip(1..=lines)
        .position(|(got, want)| *got != want);
    let (at, what) = match first_wrong {
        Some(at) => {
            let (got, want) = (numbers[at], at + 1);
            let what = if (got as usize) < want {
                format!("line {got} again where line {want} belongs")
            } else {
                format!("line {got} where line {want} belongs (missing or out of order)")
            };
            (at, what)
        }
        None if numbers.len() < printed => (
            numbers.len(),
            format!("lines {}..={lines} missing", numbers.len() + 1),
        ),
        None if numbers.len() > printed => (printed, "lines past the last".to_owned()),
        None => return Ok(()),
    };
    let around = &numbers[at.saturating_sub(3)..(at + 4).min(numbers.len())];
    Err(format!(
        "{what} (position {at}, around {around:?}; {} numbered lines seen, {lines} printed)",
        numbers.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_prints_stream_json_with_every_number_once() {
        let cli = NumberedCli::write(25, Duration::from_millis(1));
        let out = std::process::Command::new(cli.path())
            .args(["--print", "--output-format", "stream-json"])
            .output()
            .unwrap_or_else(|e| panic!("running the stand-in: {e}"));
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect();
        assert_eq!(lines.len(), 27, "{text}");
        assert_eq!(lines[0]["type"], "system");
        assert_eq!(lines[1]["type"], "assistant");
        assert_eq!(lines[26]["type"], "result");
        assert_eq!(lines[26]["is_error"], false);
        assert_eq!(check_complete(&numbers_in(&text), cli.lines()), Ok(()));
    }

    #[test]
    fn finds_numbers_in_escaped_pages_too() {
        let page = "<code>{&quot;text&quot;:&quot;numbered line 1 of 3&quot;}</code>\
                    <code>numbered line 2 of 3</code>numbered line 3";
        assert_eq!(numbers_in(page), [1, 2, 3]);
    }

    #[test]
    fn says_what_is_wrong_with_the_numbers() {
        assert_eq!(check_complete(&[1, 2, 3], 3), Ok(()));
        let cases: [(&[u32], &str); 6] = [
            (&[1, 3], "line 3 where line 2 belongs"),
            (&[1, 3, 2], "line 3 where line 2 belongs"),
            (&[1, 2, 2, 3], "line 2 again where line 3 belongs"),
            (&[], "lines 1..=3 missing"),
            (&[1, 2], "lines 3..=3 missing"),
            (&[1, 2, 3, 4], "lines past the last"),
        ];
        for (numbers, want) in cases {
            let got = check_complete(numbers, 3).err().unwrap_or_default();
            assert!(got.starts_with(want), "{numbers:?}: {got}");
        }
    }
}
